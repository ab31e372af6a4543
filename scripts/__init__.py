"""Command-line tools, each run as `python -m scripts.NAME`: parse arguments, call a library function, print."""
