"""Autoscaling: the pure policy, queue statistics and worker backends."""
