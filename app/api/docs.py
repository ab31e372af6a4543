"""The API's description: /openapi.json, Swagger UI at /docs and ReDoc at /redoc, from packaged assets (no CDN)."""
from __future__ import annotations

from importlib import resources

import offapi
from flask import Blueprint, abort, current_app, jsonify, render_template, send_file

from .openapi import build_document

bp = Blueprint("docs", __name__)
# Swagger UI (Apache-2.0) and ReDoc (MIT) as the offapi package ships them, under the names their docs use.
ASSETS = {"swagger-ui.css": "swagger_style.css", "swagger-ui-bundle.js": "swagger_bundle.js",
          "swagger-ui-standalone-preset.js": "swagger_preset.js", "redoc.standalone.js": "redoc.js"}
ASSET_SECONDS = 24 * 3600
# Both renderers set inline styles, Swagger UI draws icons as data: images, ReDoc searches in a blob: worker.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
       "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@bp.get("/openapi.json")
def openapi():
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = build_document(current_app)
    return jsonify(current_app.extensions["openapi"])


def _page(template: str):
    response = current_app.make_response(render_template(template))
    response.headers["Content-Security-Policy"] = CSP
    return response


@bp.get("/docs")
def swagger():
    return _page("docs/swagger.html")


@bp.get("/redoc")
def redoc():
    return _page("docs/redoc.html")


@bp.get("/docs/assets/<name>")
def asset(name: str):
    if name not in ASSETS:
        abort(404)
    return send_file(resources.files(offapi) / ASSETS[name], max_age=ASSET_SECONDS,
                     mimetype="text/css" if name.endswith(".css") else "text/javascript")
