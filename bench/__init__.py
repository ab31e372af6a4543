"""The benchmarks: `make bench` (speed, throughput, the autoscaler) and `make bench-quality`."""
