"""Application factory: config, extensions, storage, Redis, blueprints, errors, CLI."""
from __future__ import annotations

import logging

from flask import Flask
from redis import Redis
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import ROOT, Config
from .extensions import db, migrate


def create_app(config: Config | None = None) -> Flask:
    config = config or Config()
    app = Flask(__name__)
    app.config.from_object(config)
    if app.config["PROXY_HOPS"]:  # https at the router must count as https here (Secure cookies, URLs)
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .auth import AUTH_MODES
    if app.config["AUTH_MODE"] not in AUTH_MODES:
        raise ValueError(f"AUTH_MODE must be one of {AUTH_MODES}; got {app.config['AUTH_MODE']!r}")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    from .storage import create_storage
    app.extensions["storage"] = create_storage(app.config)
    # Short timeouts: an upload must not hang when Redis is down (the row is kept regardless).
    app.extensions["redis"] = Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=10)

    from . import models  # noqa: F401  (register tables with the metadata)
    from .api import datasets, graphs, health, metrics, pages
    for blueprint in (datasets.bp, graphs.bp, health.bp, metrics.bp, pages.bp):
        app.register_blueprint(blueprint)
    from .errors import register_error_handlers
    register_error_handlers(app)
    from .auth import authenticate_request
    app.before_request(authenticate_request)
    _say_how_it_runs(app)
    from .cli import register_cli
    register_cli(app)
    return app


def _say_how_it_runs(app: Flask) -> None:
    """Warn at start about settings that are fine on a laptop and wrong in production."""
    log = logging.getLogger("wrangler")
    if app.config["AUTH_MODE"] == "open":
        log.warning("AUTH_MODE=open: requests name their own user_id and nothing is authenticated; "
                    "set AUTH_MODE=token (and create tokens with `flask tokens create`) outside a trusted network")
    if app.config["STORAGE_BACKEND"] == "local" and app.config["DYNO"]:
        log.warning("STORAGE_BACKEND=local on a dyno (DYNO=%s): web and worker dynos do not share a disk, "
                    "so workers will not find uploads; set STORAGE_BACKEND=s3", app.config["DYNO"])
