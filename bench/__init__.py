"""Benchmarks and their data generators."""
