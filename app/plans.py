"""Cleaning plans on the web side: one sent with an upload (plan_from, plan or plan_name), validated; a run's
stored plan; named, versioned plans owned like datasets."""
from __future__ import annotations

import json
import logging
import re

from flask import current_app, request
from pydantic import ValidationError
from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError

from jobs.pipeline.cleaning_plan import CARRIED, PLAN_FILE, REPAIRS_FILE

from .api.schemas import PlanDocument
from .auth import check_name, load_visible_dataset, owner_for_upload, principal, request_raw, request_value, \
    requesting_user
from .errors import APIError
from .extensions import db
from .layout import beside
from .models import Dataset, SavedPlan, Status, iso, served_run, utcnow
from .options import parse_boolean

log = logging.getLogger(__name__)
DATASET_ID = re.compile(r"[0-9a-f]{32}")
MAX_PLAN_BYTES = 2 * 2**20  # a plan is kilobytes; this bounds what a request can make us parse
APPLIED_WITHOUT = ("decisions",)  # shown in GET /plan, not needed to apply it: not stored with each upload


def run_file(dataset: Dataset, name: str) -> str | None:
    """The storage key of a file beside the served run's cleaned CSV (None before the first completed run)."""
    return beside(dataset.cleaned_key, name) if dataset.cleaned_key else None


def stored_plan(dataset: Dataset, name: str = PLAN_FILE) -> dict:
    """The served run's plan (or validation report); 409 when the dataset has none."""
    key = run_file(dataset, name)
    storage = current_app.extensions["storage"]
    if dataset.status != Status.COMPLETED.value and key is None:
        raise APIError(409, "not_ready", f"The dataset is {dataset.status}; its plan is not ready.",
                       {"status": dataset.status})
    if key is None or not storage.exists(key):
        what = {PLAN_FILE: "plan", REPAIRS_FILE: "record of the cells it repaired one by one (it was cleaned "
                "before plans could be exported: reprocess it)"}.get(name, "validation report (no plan was applied "
                                                                       "to it)")
        raise APIError(404, "not_found", f"The dataset has no {what}.", {"status": dataset.status})
    with storage.open(key) as handle:
        return json.load(handle)


def _plan_text() -> str | None:
    part = request.files.get("plan")
    if part is not None and part.filename:
        data = part.stream.read(MAX_PLAN_BYTES + 1)
        if len(data) > MAX_PLAN_BYTES:
            raise _too_large()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise APIError(400, "invalid_plan", "The plan file is not UTF-8 text.", {"field": "plan"}) from None
    raw = request_raw("plan")
    if raw is None or isinstance(raw, dict):
        return None if raw is None else json.dumps(raw)
    if not isinstance(raw, str):
        raise APIError(400, "invalid_plan", "plan must be a JSON object or its text.", {"field": "plan"})
    return raw if raw.strip() else None


def _too_large() -> APIError:
    return APIError(413, "too_large", f"The plan is larger than {MAX_PLAN_BYTES // 2**20} MB.",
                    {"field": "plan", "limit_bytes": MAX_PLAN_BYTES})


def checked_plan(document: object) -> dict:
    """A plan from anybody, validated (422 naming the first problems) and returned as plain JSON data."""
    try:
        plan = PlanDocument.model_validate(document)
    except ValidationError as exc:
        problems = [{"at": ".".join(map(str, e["loc"]))[:200], "problem": e["msg"]} for e in exc.errors()[:10]]
        raise APIError(422, "invalid_plan", f"The plan is not valid: {problems[0]['at']}: {problems[0]['problem']}.",
                       {"field": "plan", "problems": problems}) from None
    return plan.model_dump(by_alias=True, exclude=set(APPLIED_WITHOUT), exclude_none=True)


def _document(text: str) -> dict:
    if len(text.encode("utf-8")) > MAX_PLAN_BYTES:
        raise _too_large()
    try:
        document = json.loads(text)
    except ValueError:
        raise APIError(400, "invalid_plan", "plan is not valid JSON.", {"field": "plan"}) from None
    return checked_plan(document)


def _dataset_id(field: str) -> str:
    value = (request_value(field) or "").strip()
    if value and not DATASET_ID.fullmatch(value):
        raise APIError(400, "invalid_parameter", f"{field} must be a dataset id (32 hexadecimal digits).",
                       {"field": field})
    return value


def dataset_plan(dataset_id: str) -> dict:
    """The plan of a dataset the asking user may see, checked, with where it came from."""
    dataset = load_visible_dataset(dataset_id)
    plan = checked_plan(stored_plan(dataset))
    plan["origin"] = {"dataset_id": dataset.id, "run": served_run(dataset)}
    return plan


def plan_options(options: dict, target: str | None, previous: dict | None = None) -> tuple[dict, str | None]:
    """The options and target of a run that applies the plan the request asks for (see read_plan), or the one
    a previous run's stored options applied (a reprocess keeps it unless given another)."""
    plan, strict = read_plan()
    if plan is None and (previous or {}).get("plan"):
        plan, strict = previous["plan"], parse_boolean("strict", request_raw("strict"), previous.get("strict", False))
    return with_plan(options, target, plan, strict)


def read_plan() -> tuple[dict | None, bool]:
    """The plan an upload asks to apply (plan_from a visible completed dataset, a plan document, or plan_name
    and optionally plan_version of a saved plan), and strict."""
    source, text = _dataset_id("plan_from"), _plan_text()
    name = check_name((request_value("plan_name") or "").strip(), "plan_name")
    strict = parse_boolean("strict", request_raw("strict"), False)
    if sum(map(bool, (source, text, name))) > 1:
        raise APIError(400, "bad_request", "Send one of plan_from, plan or plan_name.", {"field": "plan"})
    version = _version(request_raw("plan_version"))
    if version is not None and not name:
        raise APIError(400, "invalid_parameter", "plan_version needs plan_name.", {"field": "plan_version"})
    if source:
        plan = dataset_plan(source)
    elif text:
        plan = _document(text)
        plan["origin"] = {"uploaded": True}
    elif name:
        saved = find_plan(name, version)
        plan = {**saved.document, "origin": {"plan_name": saved.name, "plan_version": saved.version}}
    else:
        return None, strict
    return plan, strict


def with_plan(options: dict, target: str | None, plan: dict | None, strict: bool) -> tuple[dict, str | None]:
    """The stored options and target of an upload applying `plan`: the plan's own (the cleaning must not depend
    on the new upload's form), the plan itself and `strict`. 400 for strict without a plan, or for a target
    other than the plan's (its features were built around that output)."""
    if plan is None:
        if strict:
            raise APIError(400, "invalid_parameter", "strict needs a plan (plan_from, plan or plan_name).",
                           {"field": "strict"})
        return options, target
    planned = plan["options"].get("target")
    if target is not None and target != planned:
        raise APIError(400, "invalid_parameter", f"The plan's target is {planned!r}; an upload applying it cannot "
                       f"choose another.", {"field": "target", "plan_target": planned})
    carried = {k: plan["options"][k] for k in CARRIED if k != "target"}
    return {**options, **carried, "plan": plan, "strict": strict}, planned


def _version(raw) -> int | None:
    """plan_version: a whole number from 1 (text in a form, a number in JSON); None when not given."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        version = 0
    else:
        try:
            version = int(raw.strip()) if isinstance(raw, str) else raw
        except ValueError:
            version = 0
    if not 1 <= version <= 10**9:
        raise APIError(400, "invalid_parameter", "plan_version must be a whole number from 1.",
                       {"field": "plan_version"})
    return version


def _visible_plans(name: str | None = None, default_user: str | None = None):
    """Saved plans the asking user may see: their own and their collaborations' (open mode: the user_id or
    collaboration_id the request names, else `default_user`)."""
    query = SavedPlan.query.filter(SavedPlan.deleted_at.is_(None))
    who = principal()
    user = requesting_user() or (default_user if who is None else None)
    collab = check_name(request_value("collaboration_id"), "collaboration_id")
    if who is not None:  # the token decides; user_id and collaboration_id only narrow
        shared = SavedPlan.collaboration_id.in_(sorted(who.collaborations)) if who.collaborations else None
        query = query.filter(or_(SavedPlan.user_id == who.user_id, shared) if shared is not None
                             else SavedPlan.user_id == who.user_id)
        query = query.filter(SavedPlan.user_id == user) if user else query
        query = query.filter(SavedPlan.collaboration_id == collab) if collab else query
    else:
        if user is None and collab is None:
            raise APIError(400, "missing_parameter", "Give user_id or collaboration_id: plans are named per owner.")
        query = query.filter(or_(SavedPlan.user_id == user, SavedPlan.collaboration_id == collab) if user and collab
                             else SavedPlan.user_id == user if user else SavedPlan.collaboration_id == collab)
    return query if name is None else query.filter(SavedPlan.name == name)


def find_plan(name: str, version: int | None = None) -> SavedPlan:
    """A visible saved plan's version (the newest when None); the asking user's own before a colleague's. In
    open mode a request naming no user is the anonymous uploader's, whose plans POST /plans saved."""
    query = _visible_plans(name, default_user="anonymous")  # what owner_for_upload records, unnamed
    if version is not None:
        query = query.filter(SavedPlan.version == version)
    who = principal()
    me = who.user_id if who is not None else requesting_user()
    found = sorted(query.all(), key=lambda p: (p.user_id != me, -p.version))
    if not found:
        shown = f"{name!r}" + (f" version {version}" if version else "")
        raise APIError(404, "not_found", f"No plan {shown}.", {"plan_name": name, "plan_version": version})
    return found[0]


def save_plan(name: str, document: dict, source: str | None) -> SavedPlan:
    """The plan saved under `name` as its next version, owned by the asking user (and collaboration)."""
    user_id, collaboration_id = owner_for_upload()
    for _ in range(3):  # two saves of one name at once: the unique constraint decides, the loser tries again
        latest = db.session.query(func.max(SavedPlan.version)).filter_by(user_id=user_id, name=name).scalar()
        saved = SavedPlan(name=name, version=(latest or 0) + 1, user_id=user_id, collaboration_id=collaboration_id,
                          source_dataset_id=source, document={k: v for k, v in document.items() if k != "origin"})
        db.session.add(saved)
        try:
            db.session.commit()
            return saved
        except IntegrityError:
            db.session.rollback()
    raise APIError(409, "busy", f"Plan {name!r} is being saved by another request; try again.")


def delete_plans(name: str, version: int | None = None) -> int:
    """Delete a saved plan's version (every version when None): the owner's only. The rows stay, emptied, so a
    later save of the name takes the next number; datasets that applied a version keep the document they used."""
    query = _visible_plans(name, default_user="anonymous")
    if version is not None:
        query = query.filter(SavedPlan.version == version)
    found = query.all()
    if not found:
        raise APIError(404, "not_found", f"No plan {name!r}" + (f" version {version}." if version else "."),
                       {"plan_name": name, "plan_version": version})
    owner = owner_for_upload()[0]
    if any(p.user_id != owner for p in found):
        raise APIError(403, "forbidden", "Only the plan's owner may delete it.", {"plan_name": name})
    for saved in found:
        saved.deleted_at, saved.document = utcnow(), {}
    db.session.commit()
    log.info("plan %r of %s deleted (%d version%s)", name, owner, len(found), "" if len(found) == 1 else "s")
    return len(found)


def plan_from_request() -> tuple[dict, str | None]:
    """What POST /plans saves: the plan of a dataset (dataset_id) or a plan document (plan)."""
    source, text = _dataset_id("dataset_id"), _plan_text()
    if bool(source) == bool(text):
        raise APIError(400, "bad_request", "Send either dataset_id (save its plan) or plan (a plan document).",
                       {"field": "plan"})
    return (dataset_plan(source), source) if source else (_document(text), None)


def describe_plan(saved: SavedPlan, versions: int | None = None) -> dict:
    out = {"name": saved.name, "version": saved.version, "user_id": saved.user_id,
           "collaboration_id": saved.collaboration_id, "source_dataset_id": saved.source_dataset_id,
           "created_at": iso(saved.created_at), "columns": len(saved.document.get("columns", {})),
           "links": {"self": f"/plans/{saved.name}/versions/{saved.version}"}}
    if versions is not None:
        out["versions"] = versions
    return out


def latest_plans() -> list[dict]:
    """Every visible plan name with its newest version and how many versions it has."""
    rows = _visible_plans().order_by(SavedPlan.name, SavedPlan.version.desc()).all()
    newest: dict[tuple[str, str], list[SavedPlan]] = {}
    for row in rows:
        newest.setdefault((row.user_id, row.name), []).append(row)
    return [describe_plan(found[0], len(found)) for found in newest.values()]

