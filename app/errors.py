"""APIError and the handlers that turn every error into JSON."""
from __future__ import annotations

import logging

from flask import Flask, g, has_request_context, jsonify
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "not_ready", 410: "gone", 413: "too_large", 415: "unsupported_format",
    422: "unprocessable", 429: "quota_exceeded", 503: "unavailable",
}


class APIError(Exception):
    """An error with an HTTP status, a stable code and details for the client."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, details: dict | None = None, headers: dict | None = None):
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    if has_request_context() and "request_id" in g:  # quote it to support: it finds the request's log lines
        body["error"]["request_id"] = g.request_id
    return jsonify(body), status, headers or {}


def register_error_handlers(app: Flask) -> None:
    from .storage import MissingObject, StorageError

    @app.errorhandler(APIError)
    def _api_error(exc: APIError):
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(StorageError)
    def _storage(exc: StorageError):
        if isinstance(exc, MissingObject):
            log.error("a recorded file is missing: %s", exc)
            return error_response(404, "file_missing", "The file is missing from storage.")
        log.error("storage failed: %s", exc)
        return error_response(503, "storage_unavailable", "File storage is unavailable; try again shortly.")

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_down(exc):
        # The database is gone or refused us: nothing half-written survives the rollback.
        from .extensions import db
        try:
            db.session.rollback()
        except SQLAlchemyError:
            pass
        log.error("database unavailable: %s", exc.orig if hasattr(exc, "orig") else exc)
        return error_response(503, "database_unavailable", "The database is unavailable; try again shortly.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        details = {}
        if status == 413:
            details = {"max_upload_mb": app.config["MAX_UPLOAD_MB"]}
        # Keep what the exception says in headers (Allow on a 405, RFC 9110), not its HTML content type.
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return error_response(status, _HTTP_CODES.get(status, "http_error"), exc.description or exc.name, details,
                              headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Internal server error.")

