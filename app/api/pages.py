"""HTML pages: the index with an upload form, and a dataset's page."""
from __future__ import annotations

from flask import Blueprint, current_app, make_response, redirect, render_template, request, session, url_for

from jobs.pipeline.cleaning_plan import VALIDATION_FILE

from ..auth import LEGACY_COOKIE, SESSION_KEY, LoginRequired, check_name, load_visible_dataset, principal
from ..errors import APIError
from ..options import OUTLIER_CHOICES
from ..changes import preview
from ..control import cancel_dataset
from ..models import FINAL_STATUSES, LOG_STEPS, MODES, CleaningReport, Dataset, Graph, Status
from ..plans import stored_plan
from ..services import describe, log_entries
from ..tokens import session_reference
from ..uploads import accept_upload

bp = Blueprint("pages", __name__)
RECENT = 20


def _recent(user_id: str) -> list[dict]:
    rows = Dataset.query.filter_by(user_id=user_id).order_by(Dataset.created_at.desc()).limit(RECENT).all()
    return [describe(d) for d in rows]


def _index(user_id: str, error: APIError | None = None, status: int = 200):
    who = principal()
    user_id = who.user_id if who else user_id
    return render_template("index.html", user_id=user_id, datasets=_recent(user_id), error=error,
                           modes=MODES, outlier_choices=OUTLIER_CHOICES, form=request.form,
                           signed_in=who is not None), status


def login_page(message: str | None = None, status: int = 401):
    """Token mode, no valid token: the pages ask for one instead of answering with JSON."""
    return render_template("login.html", message=message), status


@bp.app_errorhandler(LoginRequired)
def _sign_in(exc: LoginRequired):
    return login_page(str(exc))


@bp.get("/")
def index():
    user_id = check_name(request.args.get("user_id"), "user_id") or "anonymous"
    return _index(user_id)


@bp.post("/login")
def login():
    if not current_app.secret_key:
        return login_page("Signing in to the pages needs SECRET_KEY set on the server; "
                          "API calls with a bearer token work without it.", 503)
    reference = session_reference((request.form.get("token") or "").strip())
    if reference is None:
        return login_page("That token is unknown or revoked.")
    # A signed, HttpOnly, SameSite=Strict session naming the token, not the token; revoking it ends the session.
    session.clear()
    session[SESSION_KEY] = reference
    session.permanent = True  # expires after LOGIN_COOKIE_DAYS, checked when the signature is
    response = make_response(redirect(url_for("pages.index"), code=303))
    response.delete_cookie(LEGACY_COOKIE)
    return response


@bp.post("/logout")
def logout():
    if current_app.secret_key:
        session.clear()
    return redirect(url_for("pages.index"), code=303)


@bp.post("/upload")
def upload_form():
    """The form's target: the same intake as the API, then on to the dataset's page."""
    try:
        dataset, _enqueued = accept_upload()
    except APIError as exc:
        return _index((request.form.get("user_id") or "anonymous")[:128], exc, exc.status)
    return redirect(url_for("pages.view", dataset_id=dataset.id, user_id=dataset.user_id), code=303)


@bp.get("/dataset/<dataset:dataset_id>/view")
def view(dataset_id: str):
    dataset = load_visible_dataset(dataset_id)
    done = dataset.status == Status.COMPLETED.value
    report = CleaningReport.query.filter_by(dataset_id=dataset.id).one_or_none() if done else None
    graphs = Graph.query.filter_by(dataset_id=dataset.id).order_by(Graph.id).all() if done else []
    logs = {step: log_entries(dataset, step) for step in LOG_STEPS} if done else {}
    applied = done and (dataset.options or {}).get("plan")
    validation = stored_plan(dataset, VALIDATION_FILE) if applied else None
    header, rows, marks, changed = preview(dataset) if done else ([], [], {}, {})
    violated = {(row - 1, v["column"]): v["message"] for v in (validation or {}).get("violations", [])
                if v.get("table") == "cleaned" for row in v.get("rows", [])}
    thumbnails = {}
    for graph in graphs:  # each column's first plot, shown beside its statistics
        thumbnails.setdefault(graph.column, graph)
    return render_template("dataset.html", d=describe(dataset), report=report, graphs=graphs,
                           logs=logs, statistics=dataset.statistics or {}, features=dataset.features or [],
                           finished=dataset.status in FINAL_STATUSES, validation=validation,
                           preview_header=header, preview_rows=rows, marks=marks, violated=violated,
                           thumbnails=thumbnails,
                           changed=changed)


@bp.post("/dataset/<dataset:dataset_id>/view/cancel")
def cancel_form(dataset_id: str):
    """The page's Cancel button (works without JavaScript): the API's cancel, then back to the page."""
    dataset = load_visible_dataset(dataset_id)
    try:
        cancel_dataset(dataset)
    except APIError as exc:
        if exc.status != 409:  # finished meanwhile: the page shows how
            raise
    return redirect(url_for("pages.view", dataset_id=dataset.id, user_id=dataset.user_id), code=303)
