"""Cleaning-plan routes: a dataset's plan, the validation report of a run that applied one, saved plans."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from jobs.pipeline.cleaning_plan import REPAIRS_FILE, VALIDATION_FILE
from jobs.pipeline.script import ScriptError, plan_script

from ..auth import NAME, check_name, load_visible_dataset, request_value
from ..models import served_run
from ..errors import APIError
from ..plans import delete_plans, describe_plan, find_plan, latest_plans, plan_from_request, save_plan, stored_plan
from . import schemas as s
from .openapi import NOT_FOUND, NOT_READY, documented

bp = Blueprint("plans", __name__)


@bp.get("/dataset/<dataset:dataset_id>/plan")
@documented("plans", {200: s.PlanDocument}, {404: NOT_FOUND + "; or a dataset cleaned before plans existed",
                                             409: NOT_READY}, query=s.Who)
def plan(dataset_id: str):
    """The cleaning plan of the served run: every decision (who made it, its evidence) and the expectations
    learned. Send it back with an upload (`plan`, possibly edited) or name the dataset (`plan_from`) to clean
    a new batch the same way and check it."""
    dataset = load_visible_dataset(dataset_id)
    return jsonify({**stored_plan(dataset), "origin": {"dataset_id": dataset.id, "run": served_run(dataset)}})


@bp.get("/dataset/<dataset:dataset_id>/plan.py")
@documented("plans", {200: (None, "The script (text/x-python)")},
            {404: NOT_FOUND + "; or a dataset cleaned before plans could be exported (reprocess it)",
             409: NOT_READY + "; not_exportable: the file is not CSV or TSV"}, files={"200": ["text/x-python"]},
            query=s.Who)
def plan_py(dataset_id: str):
    """The served run's cleaning as a standalone pandas script, `python plan.py RAW_FILE OUT.csv`: the plan's
    decisions as literals, a comment per step saying why; it reproduces the cleaned table from the raw file."""
    dataset = load_visible_dataset(dataset_id)
    plan, repairs = stored_plan(dataset), stored_plan(dataset, REPAIRS_FILE)
    try:
        text = plan_script(plan, repairs, f" from dataset {dataset.id} (run {served_run(dataset)})")
    except ScriptError as exc:
        raise APIError(409, "not_exportable", str(exc), {"format": dataset.file_format}) from None
    return Response(text, mimetype="text/x-python",
                    headers={"Content-Disposition": f'attachment; filename="plan-{dataset.id}.py"'})


@bp.get("/dataset/<dataset:dataset_id>/validation")
@documented("plans", {200: s.Validation}, {404: NOT_FOUND + "; or no plan was applied to the dataset",
                                           409: NOT_READY}, query=s.Who)
def validation(dataset_id: str):
    """How the file held up against the plan it was cleaned with: each broken expectation with its rule, count
    and the first offending rows (and identifiers), and the plan's decisions that could not apply."""
    dataset = load_visible_dataset(dataset_id)
    report = stored_plan(dataset, VALIDATION_FILE)
    applied = (dataset.options or {}).get("plan") or {}
    return jsonify({"dataset_id": dataset.id, "plan": applied.get("origin"),
                    **report})


@bp.post("/plans")
@documented("plans", {201: s.SavedPlanInfo}, {
    400: "bad_request, invalid_parameter, invalid_plan: give a name and one of dataset_id or plan",
    403: "forbidden: user_id or collaboration_id the token may not use", 404: NOT_FOUND,
    409: "not_ready: the dataset has no completed run; busy", 413: "too_large: the plan", 422: "invalid_plan"},
    form=s.SavePlanForm, json=s.SavePlan)
def create_plan():
    """Save a plan under a name: the plan of a dataset (`dataset_id`) or a plan document (`plan`, possibly
    edited). Each save of a name is its next version; apply one at upload with `plan_name` (and
    `plan_version`, else the newest)."""
    name = check_name((request_value("name") or "").strip(), "name")
    if name is None:
        raise APIError(400, "invalid_parameter", "name is required: 1-128 letters, digits or _ . @ : - characters.",
                       {"field": "name"})
    document, source = plan_from_request()
    response = jsonify(describe_plan(save_plan(name, document, source)))
    response.status_code = 201
    return response


@bp.get("/plans")
@documented("plans", {200: s.SavedPlans}, {400: "missing_parameter (open mode: give user_id or collaboration_id)"},
            query=s.Who)
def list_plans():
    """The saved plans the asking user may see: each name's newest version and how many it has."""
    return jsonify({"plans": latest_plans()})


@bp.get("/plans/<name>/versions/<int:version>")
@documented("plans", {200: s.PlanDocument}, {400: "missing_parameter, invalid_parameter", 404: NOT_FOUND},
            query=s.Who)
def plan_version(name: str, version: int):
    """One version of a saved plan: the document an upload with `plan_name` and `plan_version` applies."""
    _plan_name(name)
    saved = find_plan(name, version)
    return jsonify({**saved.document, "origin": {"plan_name": saved.name, "plan_version": saved.version,
                                                 "source_dataset_id": saved.source_dataset_id}})



@bp.delete("/plans/<name>/versions/<int:version>")
@documented("plans", {204: None}, {400: "missing_parameter", 403: "forbidden: not the plan's owner", 404: NOT_FOUND},
            query=s.Who)
def delete_plan_version(name: str, version: int):
    """Delete one version of a saved plan (its owner only). Its number is not reused; datasets that applied it
    keep the document they were cleaned with."""
    delete_plans(_plan_name(name), version)
    return "", 204


@bp.delete("/plans/<name>")
@documented("plans", {204: None}, {400: "missing_parameter", 403: "forbidden: not the plan's owner", 404: NOT_FOUND},
            query=s.Who)
def delete_plan(name: str):
    """Delete every version of a saved plan (its owner only); a later save of the name takes the next number."""
    delete_plans(_plan_name(name))
    return "", 204


def _plan_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise APIError(404, "not_found", "No plan of that name: names are 1-128 letters, digits or _ . @ : -.")
    return name
