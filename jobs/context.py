"""The worker process's Flask app: built once per process, its database pool renewed after a fork."""
from __future__ import annotations

import os
from contextlib import nullcontext

from flask import Flask, has_app_context

_app: Flask | None = None
_app_pid: int | None = None


def get_app() -> Flask:
    """The process's Flask app, built once; after a fork the DB pool is not shared."""
    global _app, _app_pid
    if _app is None:
        from app import create_app
        _app, _app_pid = create_app(), os.getpid()
    elif _app_pid != os.getpid():
        from app.extensions import db
        with _app.app_context():
            db.engine.dispose(close=False)  # the parent's connections stay the parent's
        _app_pid = os.getpid()
    return _app


def app_context():
    """The current app context when there is one (tests, the web), else the process's app's."""
    return nullcontext() if has_app_context() else get_app().app_context()
