"""The application factory: config, extensions, storage, Redis, blueprints, errors, security headers, CLI."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, Response, g, request
from redis import Redis
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter

from .config import ROOT, Config
from .extensions import db, migrate


class DatasetId(BaseConverter):
    """A dataset id in a path: 32 lowercase hex digits, so /dataset/upload is never a dataset's address."""
    regex = "[0-9a-f]{32}"


def create_app(config: Config | None = None) -> Flask:
    config = config or Config()
    app = Flask("app")  # the package: its name and folder (templates, static), as before the factory moved here
    app.config.from_object(config)
    if app.config["PROXY_HOPS"]:  # https at the router must count as https here (Secure cookies, URLs)
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    from .logs import configure_logging
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    from .auth import AUTH_MODES
    if app.config["AUTH_MODE"] not in AUTH_MODES:
        raise ValueError(f"AUTH_MODE must be one of {AUTH_MODES}; got {app.config['AUTH_MODE']!r}")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    from .storage import create_storage
    app.extensions["storage"] = create_storage(app.config)
    # Short timeouts: an upload must not hang when Redis is down (the row is kept regardless).
    app.extensions["redis"] = Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=10)
    from .limits import init_limiter
    init_limiter(app)  # the per-user upload rate limit, counted in the same Redis

    from . import models  # noqa: F401  (register tables with the metadata)
    from .api import changes, datasets, direct, docs, events, graphs, health, metrics, pages, plans, runs
    app.url_map.converters["dataset"] = DatasetId
    for blueprint in (changes.bp, datasets.bp, direct.bp, docs.bp, events.bp, graphs.bp, health.bp, metrics.bp,
                      pages.bp, plans.bp, runs.bp):
        app.register_blueprint(blueprint)
    from .errors import register_error_handlers
    register_error_handlers(app)
    from .auth import SessionCookies, authenticate_request, guard_request
    app.session_interface = SessionCookies()
    app.before_request(_start_request)  # first: even a refused request has its id
    app.teardown_request(_end_request)
    app.before_request(guard_request)
    app.before_request(authenticate_request)
    app.after_request(lambda response: _add_security_headers(app, response))
    app.after_request(_echo_request_id)
    _say_how_it_runs(app)
    from .cli import register_cli
    register_cli(app)
    return app


def _start_request() -> None:
    """The request's id (the caller's X-Request-ID when sane), bound for every log line the request writes."""
    from .logs import bind, request_id_from
    g.request_id = request_id_from(request.headers.get("X-Request-ID"))
    g.log_context = bind(request_id=g.request_id)


def _end_request(_exc: BaseException | None) -> None:
    from .logs import unbind
    if "log_context" in g:
        unbind(g.pop("log_context"))


def _echo_request_id(response: Response) -> Response:
    if "request_id" in g:
        response.headers["X-Request-ID"] = g.request_id
    return response


def _add_security_headers(app: Flask, response: Response) -> Response:
    """On every response, JSON too; a route may set its own Content-Security-Policy first."""
    if "csp" not in app.extensions:  # once per process: plots may come from the S3 endpoint by redirect
        app.extensions["csp"] = ("default-src 'self'; img-src " + _image_sources(app) + "; object-src 'none'; "
                                 "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    headers = response.headers
    headers.setdefault("Content-Security-Policy", app.extensions["csp"])
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")  # ids in URLs stay here; our Origin checks still work
    return response


def _image_sources(app: Flask) -> str:
    """'self', plus the origin of presigned URLs when plots are served by redirect to S3."""
    from .storage import StorageError
    try:
        url = app.extensions["storage"].url("csp/probe.png")
    except StorageError:  # no credentials to presign with yet: any https origin rather than broken plots
        return "'self' https:"
    parts = urlsplit(url or "")
    return f"'self' {parts.scheme}://{parts.netloc}" if parts.netloc else "'self'"


def _say_how_it_runs(app: Flask) -> None:
    """Warn at start about settings that are fine on a laptop and wrong in production."""
    log = logging.getLogger("wrangler")
    if app.config["AUTH_MODE"] == "open":
        log.warning("AUTH_MODE=open: requests name their own user_id and nothing is authenticated; "
                    "set AUTH_MODE=token (and create tokens with `flask tokens create`) outside a trusted network")
    elif not app.config["SECRET_KEY"]:
        log.warning("SECRET_KEY is unset: the HTML pages cannot sign in (bearer tokens still work); set it to a "
                    "long random value, the same for every web process")
    if app.config["STORAGE_BACKEND"] == "local" and app.config["DYNO"]:
        log.warning("STORAGE_BACKEND=local on a dyno (DYNO=%s): web and worker dynos do not share a disk, "
                    "so workers will not find uploads; set STORAGE_BACKEND=s3", app.config["DYNO"])
