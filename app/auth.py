"""Who is asking and what they may see (open mode: the request names its user)."""
from __future__ import annotations

import re

from flask import current_app, request

from .errors import APIError
from .extensions import db
from .models import Dataset

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$")
AUTH_MODES = ("open",)


def check_name(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not _NAME.match(value):
        raise APIError(400, "invalid_parameter",
                       f"{field} must be 1-128 letters, digits or _ . @ : - characters.", {"field": field})
    return value


def request_value(name: str) -> str | None:
    """A parameter from the query string, the form or a JSON body, in that order."""
    if name in request.args:
        return request.args.get(name)
    if request.form and name in request.form:
        return request.form.get(name)
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict) and body.get(name) is not None:
        return str(body[name])
    return None


def requesting_user() -> str | None:
    if current_app.config["AUTH_MODE"] != "open":
        raise APIError(500, "auth_misconfigured", "Unsupported AUTH_MODE.")
    return check_name(request_value("user_id"), "user_id")


def load_visible_dataset(dataset_id: str) -> Dataset:
    """The dataset, or 404 when it does not exist or the asking user may not see it."""
    dataset = db.session.get(Dataset, dataset_id) if len(dataset_id) <= 32 else None
    user = requesting_user()
    collab = check_name(request_value("collaboration_id"), "collaboration_id")
    visible = dataset is not None and (
        user is None or user == dataset.user_id
        or (collab is not None and collab == dataset.collaboration_id))
    if not visible:
        raise APIError(404, "not_found", f"No dataset {dataset_id!r}.")
    return dataset
