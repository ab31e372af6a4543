"""HTTP blueprints: datasets, health."""
