"""What the tests and the benchmarks both stand on: a running stack's processes, scratch databases, generated data."""
