"""Wrangler's web side. `create_app` (app.factory) builds the Flask application; importing the package loads no
web framework, so the Redis-only monitor and autoscaler may read app.config without Flask or SQLAlchemy."""
from __future__ import annotations


def create_app(config=None):
    from .factory import create_app as build
    return build(config)
