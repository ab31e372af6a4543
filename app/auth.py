"""Who is asking and what they may see: open mode (the request names its user) or bearer tokens; request guards."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import false, or_
from werkzeug.sansio.utils import host_is_trusted

from .errors import APIError
from .extensions import db
from .models import Dataset
from .logs import bind
from .tokens import Principal, authenticate, authenticate_session

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$"
NAME = re.compile(NAME_PATTERN)
AUTH_MODES = ("open", "token")
SESSION_KEY = "token"  # in the pages' signed session (set by POST /login): the token's id and hash prefix
LEGACY_COOKIE = "wrangler_token"  # older versions kept the raw token here; /login deletes it
PUBLIC = {"pages.login", "pages.logout", "docs.openapi", "docs.swagger", "docs.redoc", "docs.asset",
          "direct.receive"}  # a direct upload's form carries its own secret, as a presigned S3 form does
# ... plus static and health.*: platform probes carry no token; the API's description holds no data
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
OPEN_HOSTS = ("localhost", "127.0.0.1", "[::1]")  # ALLOWED_HOSTS when unset in open mode


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, Secure whenever the request came over https (also behind a proxy)."""

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure


def check_name(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not NAME.fullmatch(value):  # match() would take a trailing newline for the end
        raise APIError(400, "invalid_parameter",
                       f"{field} must be 1-128 letters, digits or _ . @ : - characters.", {"field": field})
    return value


def request_raw(name: str):
    """A parameter from the query string, the form or a JSON body, in that order; JSON values keep
    their type (a list stays a list), query and form values are strings, a repeated form field a list."""
    if name in request.args:
        return request.args.get(name)
    if request.form and name in request.form:
        values = request.form.getlist(name)
        return values if len(values) > 1 else values[0]
    body = json_body()
    return body.get(name) if body else None


def json_body() -> dict | None:
    """The request's JSON object, or None without a JSON body; 400 for a JSON body that does not parse or is
    not an object (silently ignoring it would run with defaults the caller did not ask for)."""
    if not request.is_json or not request.get_data(cache=True):
        return None
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise APIError(400, "invalid_json", "The body is not a JSON object.")
    return body


def request_value(name: str) -> str | None:
    """A text parameter (query string, form or JSON body): a JSON value must be a string."""
    value = request_raw(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and request.form and name in request.form:
        return str(value)  # a repeated form field: refused by the field's own check
    raise APIError(400, "invalid_parameter", f"{name} must be a string.", {"field": name})


def token_mode() -> bool:
    return current_app.config["AUTH_MODE"] == "token"


def cross_site() -> bool:
    """A browser says so for requests another site started (Sec-Fetch-Site, else Origin)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site:
        return site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return bool(origin) and urlsplit(origin).netloc != request.host


def allowed_hosts(config) -> tuple[str, ...]:
    """ALLOWED_HOSTS, or when unset: the loopback names in open mode, any host in token mode."""
    if config["ALLOWED_HOSTS"] is not None:
        return tuple(config["ALLOWED_HOSTS"])
    return OPEN_HOSTS if config["AUTH_MODE"] == "open" else ()


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """A well-formed Host header (port ignored) naming one of `allowed`; none or `*` allows any."""
    if not host_is_trusted(host):
        return False
    if not allowed or "*" in allowed:
        return True
    return urlsplit("//" + host).hostname in {urlsplit("//" + name).hostname for name in allowed}


def guard_request():
    """before_request in both modes: a Host we answer to (DNS rebinding) and, in open mode, where no
    credential could be withheld, no state-changing request that another site started."""
    if not host_allowed(request.host, allowed_hosts(current_app.config)):
        raise APIError(400, "bad_host", "This service does not answer to that Host header; see ALLOWED_HOSTS.",
                       {"host": request.host[:255]})
    if not token_mode() and request.method not in SAFE_METHODS and cross_site():
        raise APIError(403, "forbidden", "Cross-site request refused.")


class LoginRequired(Exception):
    """A page asked for without a valid token or session: the HTML layer renders its sign-in form (access rules
    never import that layer)."""


def authenticate_request():
    """before_request in token mode: a valid bearer token (or the pages' signed session) or 401."""
    endpoint = request.endpoint or ""
    if not token_mode() or endpoint.startswith("health.") or endpoint == "static":
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    by_cookie = scheme.lower() != "bearer"
    if by_cookie and request.method not in SAFE_METHODS and cross_site():
        # Cookies ride along on cross-site posts (login CSRF, forged uploads or deletes); bearer calls do not.
        raise APIError(403, "forbidden", "Cross-site request refused.")
    if endpoint in PUBLIC:
        return
    if by_cookie:
        reference = session.get(SESSION_KEY)
        principal = authenticate_session(reference)
        message = "Signed out: the token was revoked or the session expired." if reference else \
            "Send Authorization: Bearer <token>."
        if principal is None and reference:
            session.pop(SESSION_KEY)  # the browser drops the dead cookie
    else:
        principal = authenticate(token) if token else None
        message = "Unknown or revoked token." if token else "Send Authorization: Bearer <token>."
    if principal is None:
        if endpoint.startswith("pages."):
            raise LoginRequired(message)  # the pages blueprint answers with its sign-in page
        raise _unauthorized(message)
    g.principal = principal
    bind(user=principal.user_id)  # undone with the request's whole log context at teardown


def principal() -> Principal | None:
    """Token mode: the request's principal (never None: a route that forgot authentication fails closed)."""
    if not token_mode():
        return None
    who = g.get("principal")
    if who is None:
        raise _unauthorized("Send Authorization: Bearer <token>.")
    return who


def _unauthorized(message: str) -> APIError:
    return APIError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="wrangler"'})


def requesting_user() -> str | None:
    """Open mode: the request's user_id. Token mode: a user_id filter within what the token may see."""
    return check_name(request_value("user_id"), "user_id")


def owner_for_upload() -> tuple[str, str | None]:
    """(user_id, collaboration_id) a new dataset is recorded under; in token mode the token decides."""
    user = requesting_user()
    collab = check_name(request_value("collaboration_id"), "collaboration_id")
    who = principal()
    if who is None:
        return user or "anonymous", collab
    if user is not None and user != who.user_id:
        raise APIError(403, "forbidden", "user_id does not match the token's user.")
    if collab is not None and collab not in who.collaborations:
        raise APIError(403, "forbidden", f"The token's user is not a member of collaboration {collab!r}.")
    return who.user_id, collab


def may_see(dataset: Dataset, collab: str | None = None) -> bool:
    who = principal()
    if who is not None:
        return dataset.user_id == who.user_id or dataset.collaboration_id in who.collaborations
    user = requesting_user()  # open mode trusts the request; the 128-bit id is the secret
    return user is None or user == dataset.user_id or (collab is not None and collab == dataset.collaboration_id)


def load_visible_dataset(dataset_id: str) -> Dataset:
    """The dataset, or 404 when it does not exist or the asking user may not see it."""
    dataset = db.session.get(Dataset, dataset_id) if len(dataset_id) <= 32 else None
    collab = check_name(request_value("collaboration_id"), "collaboration_id")
    if dataset is None or not may_see(dataset, collab):
        raise APIError(404, "not_found", f"No dataset {dataset_id!r}.")
    return dataset


def visible_datasets(user_id: str | None, collaboration_id: str | None):
    """The query of datasets a listing may show, narrowed by the optional user and collaboration filters."""
    query = Dataset.query
    who = principal()
    if who is not None:
        query = query.filter(or_(Dataset.user_id == who.user_id,
                                 Dataset.collaboration_id.in_(sorted(who.collaborations)) if who.collaborations
                                 else false()))
    elif user_id is None and collaboration_id is None:
        raise APIError(400, "missing_parameter", "Give user_id or collaboration_id.")
    if user_id is not None:
        query = query.filter(Dataset.user_id == user_id)
    if collaboration_id is not None:
        query = query.filter(Dataset.collaboration_id == collaboration_id)
    return query


def check_collaboration(cid: str) -> str:
    checked = check_name(cid, "collaboration_id")
    if checked is None:
        raise APIError(400, "invalid_parameter", "collaboration_id is required.")
    who = principal()
    if who is not None and checked not in who.collaborations:
        raise APIError(404, "not_found", f"No collaboration {checked!r}.")
    return checked
