"""What cleaning changed: every changed or filled cell of the served run, as JSON or CSV, a page at a time."""
from __future__ import annotations

import io

import pyarrow.csv as pacsv
from flask import Blueprint, Response, jsonify, request, url_for

from jobs.pipeline.export import neutralised

from ..auth import load_visible_dataset
from ..changes import changes_page
from ..errors import APIError
from ..models import served_run
from . import schemas as s
from .datasets import completed, int_arg
from .openapi import NOT_FOUND, NOT_READY, documented

bp = Blueprint("changes", __name__)
PASSED_ON = ("format", "limit", "column", "kind", "formulas", "user_id", "collaboration_id")  # into the next link


@bp.get("/dataset/<dataset:dataset_id>/diff")
@documented("downloads", {200: s.Diff}, {400: "invalid_parameter: format, offset, limit, kind or formulas",
                                         404: NOT_FOUND + "; or a dataset cleaned before changes were recorded",
                                         409: NOT_READY},
            files={"200": ["application/json", "text/csv"]}, query=s.DiffQuery)
def diff(dataset_id: str):
    """Every cell the served run changed, filled in or set missing: its row in the original file and in the
    cleaned table, the column, the value before and after, and the step and rule that did it, with the step's
    reason. Cells come in the cleaned table's column order, then by row; `next` (JSON) or the `Link` header
    (CSV) gives the next page, `X-Total-Count` how many match."""
    dataset = load_visible_dataset(dataset_id)
    completed(dataset, "list of changes")
    shape = request.args.get("format", "json").lower()
    formulas = request.args.get("formulas", "escape").lower()
    for name, value, allowed in (("format", shape, ("json", "csv")), ("formulas", formulas, ("escape", "keep"))):
        if value not in allowed:
            raise APIError(400, "invalid_parameter", f"{name} must be one of {', '.join(allowed)}.",
                           {"field": name, "allowed": list(allowed)})
    offset, limit = int_arg("offset", 0, 0, 10**9), int_arg("limit", 500, 1, 10_000)
    column, kind = request.args.get("column") or None, request.args.get("kind") or None
    cells, total = changes_page(dataset, offset, limit, column, kind)
    following = None
    if offset + cells.num_rows < total:
        kept = {k: v for k, v in request.args.items() if k in PASSED_ON}
        following = url_for("changes.diff", dataset_id=dataset.id, **kept, offset=offset + limit)
    headers = {"X-Total-Count": str(total)}
    if shape == "csv":
        if formulas == "escape":  # `before` holds the file's own text, which may start like a formula
            cells, _ = neutralised(cells)
        body = io.BytesIO()
        pacsv.write_csv(cells, body)
        if following:
            headers["Link"] = f'<{following}>; rel="next"'
        return Response(body.getvalue(), mimetype="text/csv", headers=headers)
    response = jsonify({"dataset_id": dataset.id, "run": served_run(dataset), "total": total,
                        "cells_changed": (dataset.summary or {}).get("cells_changed"), "offset": offset,
                        "limit": limit, "cells": cells.to_pylist(), "next": following})
    response.headers.update(headers)
    return response
