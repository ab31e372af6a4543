"""Plots and collaboration views: a dataset's graphs, a PNG, a collaboration's graphs and cleaned files."""
from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from ..auth import check_collaboration, load_visible_dataset
from ..errors import APIError
from ..extensions import db
from ..models import Dataset, Graph, Status
from ..services import iso
from . import schemas as s
from .datasets import completed, serve_file
from .openapi import NOT_FOUND, NOT_READY, REDIRECT, documented

bp = Blueprint("graphs", __name__)
GRAPH_CACHE_SECONDS = 7 * 24 * 3600  # a graph's key changes with every run, so its bytes never do


def describe_graph(graph: Graph) -> dict:
    return {"graph_id": graph.id, "dataset_id": graph.dataset_id, "kind": graph.kind, "column": graph.column,
            "title": graph.title, "width": graph.width, "height": graph.height,
            "url": url_for("graphs.graph", dataset_id=graph.dataset_id, graph_id=graph.id)}


@bp.get("/dataset/<dataset:dataset_id>/eda/graphs")
@documented("eda", {200: s.Graphs}, {404: NOT_FOUND}, query=s.Who)
def dataset_graphs(dataset_id: str):
    """The dataset's plots (each with its PNG's URL) and the EDA statistics."""
    dataset = load_visible_dataset(dataset_id)
    graphs = Graph.query.filter_by(dataset_id=dataset.id).order_by(Graph.id).all()
    return jsonify({"dataset_id": dataset.id, "status": dataset.status, "count": len(graphs),
                    "graphs": [describe_graph(g) for g in graphs], "statistics": dataset.statistics})


@bp.get("/dataset/<dataset:dataset_id>/correlations")
@documented("eda", {200: s.Correlations}, {404: NOT_FOUND + "; not_found when cleaned before correlations were "
            "analysed", 409: NOT_READY}, query=s.Who)
def dataset_correlations(dataset_id: str):
    """The EDA step's correlation analysis: the strongest pairs with measure, value, strength, n and p-value."""
    dataset = load_visible_dataset(dataset_id)
    completed(dataset, "correlation analysis")
    found = (dataset.statistics or {}).get("correlations")
    if found is None:
        raise APIError(404, "not_found", "This dataset was cleaned before correlations were analysed; upload it "
                       "again for them.")
    return jsonify({"dataset_id": dataset.id, "status": dataset.status, **found})


@bp.get("/dataset/<dataset:dataset_id>/graph/<int:graph_id>")
@documented("eda", {200: (None, "The plot"), 302: REDIRECT, 304: (None, "Not modified (If-None-Match)")},
            {404: NOT_FOUND + "; no such graph; file_missing"}, files={"200": ["image/png"]}, query=s.Who)
def graph(dataset_id: str, graph_id: int):
    """A plot as PNG; cacheable (its ETag never changes)."""
    dataset = load_visible_dataset(dataset_id)
    found = Graph.query.filter_by(id=graph_id, dataset_id=dataset.id).one_or_none()
    if found is None:
        raise APIError(404, "not_found", f"No graph {graph_id} for this dataset.")
    response = serve_file(found.storage_key, "image/png")
    if response.status_code == 302:
        return response
    response.set_etag(found.storage_key)
    response.cache_control.private = True
    response.cache_control.max_age = GRAPH_CACHE_SECONDS
    return response.make_conditional(request)


COLLABORATION_ERRORS = {400: "invalid_parameter: not a collaboration id",
                        404: "not_found: the token's user is not a member (token mode)"}


@bp.get("/collaboration/<cid>/graphs")
@documented("collaborations", {200: s.CollaborationGraphs}, COLLABORATION_ERRORS)
def collaboration_graphs(cid: str):
    """The plots of a collaboration's datasets, newest dataset first (at most 1000)."""
    cid = check_collaboration(cid)
    rows = (db.session.query(Graph, Dataset.database_name).join(Dataset, Dataset.id == Graph.dataset_id)
            .filter(Dataset.collaboration_id == cid)
            .order_by(Dataset.created_at.desc(), Graph.id).limit(1000).all())
    return jsonify({"collaboration_id": cid, "count": len(rows),
                    "graphs": [{**describe_graph(g), "database_name": name} for g, name in rows]})


@bp.get("/collaboration/<cid>/datasets/cleaned")
@documented("collaborations", {200: s.CollaborationCleaned}, COLLABORATION_ERRORS)
def collaboration_cleaned(cid: str):
    """A collaboration's completed datasets with their download links, newest first (at most 500)."""
    cid = check_collaboration(cid)
    rows = (Dataset.query.filter_by(collaboration_id=cid, status=Status.COMPLETED.value)
            .order_by(Dataset.completed_at.desc()).limit(500).all())
    return jsonify({"collaboration_id": cid, "count": len(rows), "datasets": [{
        "dataset_id": d.id, "database_name": d.database_name, "user_id": d.user_id, "mode": d.mode,
        "rows": d.cleaned_rows, "columns": d.cleaned_columns, "completed_at": iso(d.completed_at),
        "links": {"csv": url_for("datasets.cleaned", dataset_id=d.id),
                  "parquet": url_for("datasets.cleaned", dataset_id=d.id, format="parquet"),
                  "features_csv": url_for("datasets.features_table", dataset_id=d.id, fmt="csv"),
                  "view": url_for("pages.view", dataset_id=d.id)}} for d in rows]})
