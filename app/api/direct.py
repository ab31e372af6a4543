"""Direct-upload routes: reserve an upload form, local storage's receiving end of it, complete the upload."""
from __future__ import annotations

from flask import Blueprint, jsonify, url_for

from ..auth import load_visible_dataset
from ..errors import APIError
from ..extensions import db
from ..models import Dataset
from ..direct import complete_upload, receive_file, reserve_upload
from ..services import describe
from . import schemas as s
from .datasets import accepted
from .openapi import NOT_FOUND, UPLOAD_ERRORS, documented

bp = Blueprint("direct", __name__)
AWAITING = "not_awaiting_file: the upload was completed already"


@bp.post("/dataset/upload-url")
@documented("datasets", {201: s.UploadReserved}, {
    **UPLOAD_ERRORS, 400: UPLOAD_ERRORS[400] + "; invalid_parameter: size", 413: "too_large: size over MAX_UPLOAD_MB",
    415: "unsupported_format: the filename's type is not one we read"}, form=s.UploadURLForm, json=s.UploadURLRequest)
def reserve():
    """Reserve a dataset for a large file and get a form to send it with, straight to storage.

    POST the file to `upload.url` as multipart form data: `upload.fields` first, then the file in
    `upload.file_field`, before `upload.expires_at`. With S3 storage that is a presigned POST to the bucket
    (the web process never sees the bytes); with local storage, this API. Then `POST links.complete`.
    Quota is reserved now and given back if the reservation expires."""
    dataset, upload = reserve_upload()
    shown = describe(dataset)
    response = jsonify({**shown, "upload": upload, "links": {**shown["links"], "complete": _complete_url(dataset.id)}})
    response.status_code = 201
    return response


def _complete_url(dataset_id: str) -> str:
    return url_for("direct.complete", dataset_id=dataset_id)


@bp.post("/dataset/<dataset:dataset_id>/file")
@documented("datasets", {204: None}, {400: "missing_file", 403: "forbidden: not this reservation's form",
                                      404: NOT_FOUND, 409: AWAITING, 410: "expired: the reservation expired",
                                      413: "too_large: more bytes than reserved"}, form=s.ReservedFile)
def receive(dataset_id: str):
    """Local storage only: where a reservation's upload form posts the file (S3 storage takes it itself).

    Like a presigned S3 form it needs no token: the form's upload_secret is the credential."""
    dataset = db.session.get(Dataset, dataset_id)
    if dataset is None:
        raise APIError(404, "not_found", f"No dataset {dataset_id!r}.")
    receive_file(dataset)
    return "", 204


@bp.post("/dataset/<dataset:dataset_id>/complete")
@documented("datasets", {202: s.Reprocessing}, {
    404: NOT_FOUND, 409: AWAITING + "; not_uploaded: no file was sent with the form yet",
    410: "expired: the reservation expired (its quota is given back)", 413: "too_large: more bytes than reserved",
    415: UPLOAD_ERRORS[415], 422: UPLOAD_ERRORS[422]}, query=s.Who)
def complete(dataset_id: str):
    """Check the uploaded file (format, encoding, rows and columns within limits, read streaming) and queue it.

    A file that fails a check answers as an upload would and leaves nothing behind (object, dataset, quota)."""
    dataset = load_visible_dataset(dataset_id)
    return accepted(dataset, complete_upload(dataset))
