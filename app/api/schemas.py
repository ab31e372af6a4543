"""Pydantic models of the API's requests and responses: the source of the OpenAPI document (app/api/openapi.py)."""
from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from jobs.pipeline.cleaning_plan import MAX_RULES, PLAN_VERSION
from jobs.pipeline.decide import ALLOWED
from jobs.pipeline.expectations import KINDS, SHOWN_ROWS
from jobs.pipeline.export import formula_like
from jobs.pipeline.features import DATE_PARTS, ROLES, SCALINGS
from jobs.pipeline.options import OUTLIER_CHOICES, ROLE_CHOICES
from jobs.pipeline.outliers import METHODS

from ..auth import NAME_PATTERN
from ..models import LOG_STEPS, Mode, Stage, Status
from ..options import BOOLEANS, MAX_NA_LENGTH, MAX_NA_TOKENS, NA_VALUES_RULE

# Values are matched case-insensitively and trimmed; the enums name the canonical spellings.
OPTIONAL_NAME = "^$|" + NAME_PATTERN
DATE_FIELD = r"(?<!%)%-?[YymdbBHIMSpj]"  # a plan's date format writes some field of the date  # an empty value counts as not given (HTML forms send empty fields)
ModeName = Literal[tuple(m.value for m in Mode)]
StatusName = Literal[tuple(s.value for s in Status)]
StageName = Literal[tuple(s.value for s in Stage)]
Outliers = Literal[OUTLIER_CHOICES]
Boolean = Literal[BOOLEANS] | bool | Literal[0, 1]  # text in forms; JSON bodies may also send true, false, 0, 1
Role = Literal[ROLE_CHOICES]
Kind = Literal[KINDS]
PlanRole = Literal[ROLES]  # what detection may find: a user's roles, and "constant"
# Bounds on a plan from anybody, loose enough for any plan of ours (500 columns, their indicator and flag
# columns, values as long as a cell may be); MAX_PLAN_BYTES bounds the whole.
MAX_PLAN_NAME, MAX_PLAN_TEXT, MAX_PLAN_COLUMNS, MAX_PLAN_ALLOWED, MAX_PLAN_DECISIONS = 4096, 4096, 5000, 1000, 100_000


class Model(BaseModel):
    """Responses may gain fields in later versions: clients must ignore what they do not know."""
    model_config = ConfigDict(extra="allow")


# --- errors ---------------------------------------------------------------------------------------------------

class ErrorBody(Model):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, not_ready, invalid_parameter.",
                      examples=["not_ready"])
    message: str = Field(examples=["The dataset is processing; the cleaned file is not ready."])
    details: dict[str, Any] = Field(description="What the code needs explained: the field, the allowed values, "
                                    "the limit, the dataset's status.", examples=[{"status": "processing"}])
    request_id: str | None = Field(None, description="The request's id (X-Request-ID): quote it to find its logs.")


class ErrorEnvelope(Model):
    """Every error, whatever the route: an `error` object with a code, a message and details."""
    error: ErrorBody


# --- requests -------------------------------------------------------------------------------------------------

class Who(BaseModel):
    """Open mode names the asking user in the request; token mode takes it from the token (then user_id only
    narrows a listing, and must match the token's user on upload)."""
    user_id: str | None = Field(None, pattern=OPTIONAL_NAME, examples=["alice"])
    collaboration_id: str | None = Field(None, pattern=OPTIONAL_NAME, description="A collaboration the dataset is shared with; in open mode it "
                                         "also lets a member see a colleague's dataset.", examples=["lab-7"])


class UploadOptions(Who):
    mode: ModeName | None = Field(None, description="fast (default) and smart run on queue eda_fast, deep on "
                                  "eda_deep; smart and deep ask the LLM advisor.")
    target: str | None = Field(None, description="The column to predict: never repaired, the output feature.",
                               examples=["price"])
    na_values: Annotated[list[Annotated[str, StringConstraints(max_length=MAX_NA_LENGTH)]],
                         Field(max_length=MAX_NA_TOKENS)] | str | None = Field(
        None, description=f"Extra missing-value tokens: {NA_VALUES_RULE}, printable (no control characters).",
        examples=[["n/a", "-"]])
    roles: dict[str, Role] | str | None = Field(None, description="Column to role, a JSON object (or its text): "
                                                "code and id columns are never treated as numbers, text is never "
                                                "typo-repaired.", examples=[{"zip": "code", "notes": "text"}])
    outliers: Outliers | None = Field(None, description="What to do with outliers (default flag).")
    outlier_columns: Boolean | None = Field(None, description="Add an is_outlier column per numeric column "
                                                   "(default false).")
    missing_indicators: Boolean | None = Field(None, description="Add a was_missing column per imputed "
                                                      "column (default false).")
    features: Boolean | None = Field(None, description="Engineer a feature table (default true).")
    plan_from: str | None = Field(None, pattern="^$|^[0-9a-f]{32}$", description="Apply the cleaning plan of this "
                                  "completed dataset (one you may see) instead of deciding afresh: no advisor is "
                                  "asked, and the file is checked against the plan's expectations.")
    plan: dict[str, Any] | str | None = Field(None, description="A cleaning plan to apply (a JSON object, or its "
                                              "text; in a form also a file part): as GET /dataset/{id}/plan "
                                              "returns it, possibly edited.")
    plan_name: str | None = Field(None, pattern=OPTIONAL_NAME, description="Apply this saved plan (POST /plans) "
                                  "instead: its newest version, or plan_version.")
    plan_version: int | None = Field(None, ge=1, le=10**9, description="The saved plan's version to apply "
                                     "(with plan_name; default its newest).")
    strict: Boolean | None = Field(None, description="With a plan: fail the run when the file breaks an "
                                   "expectation or a decision cannot apply (default false: complete with "
                                   "warnings).")
    callback_url: str | None = Field(None, description="Where to POST a signed event when the run completes, "
                                     "fails or is cancelled (http or https, a public address); the token's "
                                     "default when not given.", examples=["https://example.org/hooks/wrangler"])


class UploadForm(UploadOptions):
    """A multipart upload of a file and its cleaning options. Choices are read case-insensitively; na_values may
    also be one comma-separated field. (A form with a dataset_url field instead of the file is taken too, as
    older clients send it; the JSON body is the documented way to give a URL.)"""
    file: bytes = Field(json_schema_extra={"format": "binary"},
                        description="CSV, TSV, JSON, JSON lines, Excel or Parquet, at most MAX_UPLOAD_MB.")


class UploadJSON(UploadOptions):
    """A URL for a worker to download (http or https, public addresses only) and the cleaning options."""
    dataset_url: str = Field(examples=["https://example.org/data.csv"])


class ReprocessOptions(UploadOptions):
    """What the new run changes; a field not given keeps the previous run's value (the target too: give an
    empty target to clear it)."""


class UploadURLRequest(UploadOptions):
    """The file a direct upload will send (its name decides the format) and its cleaning options."""
    filename: str = Field(examples=["sales-2026.csv"])
    size: int = Field(ge=1, description="The file's size in bytes: the most the form accepts.", examples=[734003200])


class UploadURLForm(UploadURLRequest):
    """The same as a form (its fields are text: no nulls)."""


class ReservedFile(BaseModel):
    """The reservation's upload form (local storage): its fields, then the file."""
    upload_secret: str
    file: bytes = Field(json_schema_extra={"format": "binary"})


class ReprocessForm(ReprocessOptions):
    """The same as a form (its fields are text: no nulls)."""


class Listing(Who):
    limit: int | None = Field(None, ge=1, le=200, description="At most this many (default 50).")
    status: StatusName | None = None
    cursor: str | None = Field(None, description="next_cursor of the previous page.")
    offset: int | None = Field(None, ge=0, le=10**9, description="Skip this many instead of a cursor.")


class StatusListing(Who):
    limit: int | None = Field(None, ge=1, le=200, description="At most this many (default 100).")


class TableDownload(Who):
    format: Literal["csv", "parquet"] | None = Field(None, description="csv (default) or parquet (typed).")
    formulas: Literal["escape", "keep"] | None = Field(
        None, description="escape (default): cells starting with = + - @ are prefixed with ' so spreadsheets "
        "do not run them; keep: the bytes as cleaned.")


class CsvDownload(Who):
    formulas: Literal["escape", "keep"] | None = TableDownload.model_fields["formulas"]


# --- responses ------------------------------------------------------------------------------------------------

class Links(Model):
    status: str
    raw: str
    cleaned: str
    cleaned_parquet: str
    imputed: str
    runs: str
    cancel: str
    reprocess: str
    plan: str
    plan_script: str | None = Field(None, description="The plan as a standalone pandas script (CSV and TSV files).")
    diff: str = Field(description="Every changed or filled cell, a page at a time.")
    logs: dict[str, str] = Field(description=f"One per step: {', '.join(LOG_STEPS)}.")
    features: str | None = Field(None, description="Absent when the upload switched features off.")
    features_csv: str | None = None
    report: str | None = Field(None, description="Deep mode only.")


class Advisor(Model):
    used: bool
    reason: str | None
    model: str | None
    columns: list[Any]


class Dataset(Model):
    dataset_id: str = Field(examples=["3f0c8a9d2b7e4c1fa6d5e0b9c8a7f6e5"])
    status: StatusName
    mode: ModeName
    database_name: str
    filename: str | None
    user_id: str
    collaboration_id: str | None
    target: str | None
    progress: int | float | None = Field(description="0–100.")
    stage: StageName | None
    progress_info: str | None
    rows: int | None = Field(description="None until a URL upload has been downloaded.")
    columns: int | None
    cleaned_rows: int | None
    cleaned_columns: int | None
    run: int = Field(description="The latest run's number (1: the upload; each reprocess adds one).")
    attempts: int | None = Field(description="Attempts of the latest run.")
    error: str | None
    created_at: str | None
    updated_at: str | None
    started_at: str | None
    completed_at: str | None = Field(description="When the run whose outputs are served completed.")
    options: dict[str, Any] | None
    advisor: Advisor | None = Field(description="Smart and deep mode: whether the LLM advisor decided anything.")
    summary: dict[str, Any] | None = Field(description="What the cleaning did, counted (once completed).")
    links: Links


class Cancelled(Dataset):
    quota_refunded: bool = Field(description="True when the run had not started: its smart or deep quota use "
                                 "is given back.")


class DirectUploadForm(Model):
    method: Literal["POST"]
    url: str = Field(description="Where to POST the form: the bucket (S3 storage) or this API (local).")
    fields: dict[str, str] = Field(description="Form fields to send, as given, before the file.")
    file_field: str = Field(examples=["file"])
    max_bytes: int
    expires_at: str


class UploadReserved(Dataset):
    upload: DirectUploadForm


class Reprocessing(Dataset):
    enqueued: bool = Field(description="False when Redis was down: the run is kept and enqueued later.")


class Attempt(Model):
    attempt: int
    worker: str | None
    started_at: str | None
    ended_at: str | None
    outcome: str | None = Field(description="completed, failed, retrying, interrupted (a crash or a shutdown "
                                "put it back), crashed, cancelled; None while it runs.")
    error: str | None


class Delivery(Model):
    delivery: str = Field(description="The event's id (X-Wrangler-Delivery), the same on every retry.")
    event: str = Field(examples=["dataset.completed"])
    attempt: int
    at: str
    status_code: int | None
    error: str | None
    outcome: Literal["delivered", "retrying", "failed"]


class RunInfo(Model):
    run: int = Field(description="1 is the upload; each reprocess adds one.")
    trigger: Literal["upload", "reprocess"]
    mode: ModeName
    queue: str
    target: str | None
    options: dict[str, Any] | None
    outcome: str | None = Field(description="completed, failed, cancelled; queued or processing while it runs.")
    error: str | None
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    duration_s: float | None
    served: bool = Field(description="The downloads serve this run's outputs.")
    attempts: list[Attempt]
    callback_url: str | None
    deliveries: list[Delivery] = Field(description="Every POST of the run's webhook event.")


class Runs(Model):
    dataset_id: str
    run: int = Field(description="The latest run's number.")
    served_run: int | None = Field(description="The run whose outputs are served; None before one completed.")
    runs: list[RunInfo]


class DatasetStatus(Model):
    dataset_id: str
    status: StatusName
    mode: ModeName
    database_name: str
    progress: int | float | None
    stage: StageName | None
    progress_info: str | None
    error: str | None
    attempts: int | None
    advisor: Advisor | None
    updated_at: str | None


class UploadAccepted(Model):
    dataset_id: str
    rows: int | None = Field(description="None for a URL upload: the worker downloads and counts it.")
    columns: int | None
    status: StatusName
    mode: ModeName
    job_id: str | None
    database_name: str
    target: str | None
    options: dict[str, Any] | None
    enqueued: bool = Field(description="False when Redis was down: the dataset is kept and enqueued later.")
    links: Links


class DatasetStatuses(Model):
    datasets: list[DatasetStatus]


class DatasetPage(Model):
    datasets: list[Dataset]
    next_cursor: str | None
    count: int


class Report(Model):
    dataset_id: str
    mode: ModeName
    source: str | None
    reasoning: Any
    summary: Any
    recommendations: Any
    changed: Any
    flagged: Any
    left_alone: Any
    created_at: str | None


class FeatureLinks(Model):
    csv: str
    parquet: str


class Features(Model):
    dataset_id: str
    target: str | None
    count: int
    input_features: list[dict[str, Any]]
    output_feature: dict[str, Any] | None
    links: FeatureLinks


class LogEntry(Model):
    seq: int
    column: str | None
    action: str
    count: int | None
    params: Any
    source: str | None
    before: Any
    after: Any
    message: str | None


class StepLogs(Model):
    dataset_id: str
    step: str
    status: StatusName
    entries: list[LogEntry]


class GraphInfo(Model):
    graph_id: int
    dataset_id: str
    kind: str
    column: str | None
    title: str | None
    width: int | None
    height: int | None
    url: str


class Graphs(Model):
    dataset_id: str
    status: StatusName
    count: int
    graphs: list[GraphInfo]
    statistics: dict[str, Any] | None = Field(description="Per-column statistics and the correlation analysis.")


class CorrelationPair(Model):
    columns: list[str]
    measure: str = Field(examples=["spearman"])
    value: float
    strength: str
    n: int
    p_value: float | None


class Correlations(Model):
    dataset_id: str
    status: StatusName
    pairs: list[CorrelationPair]
    pairs_measured: int
    numeric_columns: list[str]
    categorical_columns: list[str]
    rule: str = Field(description="How the pairs were chosen and measured, in words.")


class CollaborationGraph(GraphInfo):
    database_name: str


class CollaborationGraphs(Model):
    collaboration_id: str
    count: int
    graphs: list[CollaborationGraph]


class CleanedLinks(Model):
    csv: str
    parquet: str
    features_csv: str
    view: str


class CleanedDataset(Model):
    dataset_id: str
    database_name: str
    user_id: str
    mode: ModeName
    rows: int | None
    columns: int | None
    completed_at: str | None
    links: CleanedLinks


class CollaborationCleaned(Model):
    collaboration_id: str
    count: int
    datasets: list[CleanedDataset]


class Check(Model):
    ok: bool
    error: str | None = None


class Health(Model):
    status: Literal["ok", "unavailable"]
    failing: list[str]
    database: Check | None = None
    redis: Check | None = None
    workers: Check | None = None


# --- cleaning plans (jobs/pipeline/cleaning_plan.py) ---------------------------------------------------------

Name = Annotated[str, StringConstraints(max_length=MAX_PLAN_NAME)]
Scalar = bool | int | float | Annotated[str, StringConstraints(max_length=MAX_PLAN_TEXT)] | None


class Strict(BaseModel):
    """A plan may come from anybody: unknown fields are refused, sizes bounded."""
    model_config = ConfigDict(extra="forbid")


class PlanOptions(Strict):
    target: Name | None = None
    drop_threshold: float = Field(0.7, gt=0, le=1)
    parse_threshold: float = Field(0.95, gt=0, le=1)
    missing_indicators: bool = False
    outliers: Outliers = "flag"
    outlier_method: Literal[METHODS] = "iqr"
    outlier_columns: bool = False
    features: bool = True
    scaling: Literal[SCALINGS] = "standard"
    na_values: Annotated[list[Annotated[str, StringConstraints(max_length=MAX_NA_LENGTH)]],
                         Field(max_length=MAX_NA_TOKENS)] = []


class Categories(Strict):
    """A text column's category decisions: applied as they are to the next batch."""
    typos: Annotated[dict[Name, Name], Field(max_length=MAX_PLAN_ALLOWED)] = Field(
        {}, description="Misspelling → the value it meant.")
    spellings: Annotated[list[Name], Field(max_length=MAX_PLAN_ALLOWED)] | None = Field(
        None, description="Canonical spellings: a value differing only in case or spacing is mapped to one.")

    @model_validator(mode="after")
    def _no_formulas(self):  # what a value is replaced by: never text a spreadsheet would run
        if any(formula_like(v) for v in [*self.typos.values(), *(self.spellings or [])]):
            raise ValueError("a category may not be replaced by text that starts like a spreadsheet formula")
        return self


class PlanColumn(Strict):
    role: PlanRole | None = None
    type: Kind | None = None
    decided_by: Literal["heuristic", "advisor", "user", "plan"] | None = None
    parse: dict[str, dict[str, Any]] | None = Field(None, description="How the text was read: the conversion and "
                                                    "its learned parameters (date format, unit...). A date's "
                                                    "`dayfirst` and `format` are applied to the next batch.")
    categories: Categories | None = None

    @model_validator(mode="after")
    def _date_reading(self):  # what a replay applies: a day/month order and a strftime pattern that writes
        dates = (self.parse or {}).get("datetime") or {}
        if "dayfirst" in dates and not isinstance(dates["dayfirst"], bool):
            raise ValueError("parse.datetime.dayfirst must be true or false")
        pattern = dates.get("format")
        if pattern is not None:
            try:
                ok = isinstance(pattern, str) and len(pattern) <= 64 and re.search(DATE_FIELD, pattern) is not None \
                    and bool(pd.Timestamp("2024-01-31 13:45:30").strftime(pattern))
            except ValueError:
                ok = False
            if not ok or formula_like(pattern):
                raise ValueError("parse.datetime.format must be a strftime pattern such as %d/%m/%Y")
        return self


class RegressionFit(Strict):
    predictors: Annotated[list[Name], Field(max_length=5)]
    terms: Annotated[list[tuple[Name, Name | None]], Field(max_length=60)] = Field(
        description="Each predictor as a number ([column, null]) or one of its levels ([column, level]).")
    coefficients: Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(max_length=61)] = Field(
        description="The intercept, then one per term.")

    @model_validator(mode="after")
    def _one_per_term(self):
        if len(self.coefficients) != len(self.terms) + 1 or any(t[0] not in self.predictors for t in self.terms):
            raise ValueError("a fit has an intercept and one coefficient per term, each term one of its predictors")
        return self


class RegressionModel(Strict):
    """What a regression fill learned: applied to the next batch as it is, nothing fitted again."""
    fits: Annotated[list[RegressionFit], Field(max_length=32)] = Field(
        description="One fit per pattern of missing predictors.")
    range: tuple[Annotated[float, Field(allow_inf_nan=False)], Annotated[float, Field(allow_inf_nan=False)]]
    decimals: int = Field(ge=0, le=6)
    fallback: float = Field(allow_inf_nan=False, description="For rows no fit covers: the median learned.")

    @model_validator(mode="after")
    def _ordered(self):
        if self.range[0] > self.range[1]:
            raise ValueError("a regression's range must be ordered")
        return self


class GapDecision(Strict):
    action: Literal[tuple(sorted({a for actions in ALLOWED.values() for a in actions}))]
    params: dict[Name, Scalar | Annotated[list[Name], Field(max_length=20)]] = {}
    source: Name | None = None
    reasoning: Annotated[str, StringConstraints(max_length=1000)] | None = None
    model: RegressionModel | None = None


class ColumnExpectation(Strict):
    type: Kind | None = None
    role: PlanRole | None = None
    max_missing: float | None = Field(None, ge=0, le=1)
    allowed: Annotated[list[Scalar], Field(max_length=MAX_PLAN_ALLOWED)] | None = None
    range: Annotated[list[int | float | Annotated[str, StringConstraints(max_length=40)]],
                     Field(min_length=2, max_length=2)] | None = Field(None, description="[low, high]: numbers, or "
                                                                        "ISO dates for a date column.")
    unique: bool | None = None

    @model_validator(mode="after")
    def _ordered_range(self):
        if self.range is None:
            return self
        low, high = self.range
        if all(_finite(b) for b in self.range):
            ordered = low <= high
        elif all(isinstance(b, str) for b in self.range):
            moments = [pd.to_datetime(b, errors="coerce") for b in self.range]
            ordered = all(pd.notna(m) for m in moments) and (moments[0].tzinfo is None) == (
                moments[1].tzinfo is None) and moments[0] <= moments[1]
        else:
            ordered = False
        if not ordered:
            raise ValueError("range must be [low, high] with low <= high: two finite numbers or two ISO dates")
        return self


class Dependency(Strict):
    determinant: Name
    dependent: Name
    max_broken: float = Field(0.0, ge=0, le=1, description="The share of rows that may disagree with their "
                              "determinant's commonest value.")

    @model_validator(mode="after")
    def _two_columns(self):
        if self.determinant == self.dependent:
            raise ValueError("a dependency joins two different columns")
        return self


class Expectations(Strict):
    columns: Annotated[dict[Name, ColumnExpectation], Field(max_length=MAX_PLAN_COLUMNS)] = {}
    dependencies: Annotated[list[Dependency], Field(max_length=MAX_PLAN_COLUMNS)] = []


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _feature_params_problem(transform: str, params: dict) -> str | None:
    """What is wrong with a feature's parameters for its transform (they reach numpy as they are), or None."""
    numbers = [k for k in ("mean", "std", "min", "max") if k in params]
    if any(params[k] is not None and not _finite(params[k]) for k in numbers):
        return "mean, std, min and max must be finite numbers"
    if transform == "one_hot" and not (isinstance(params.get("level"), str) and isinstance(params.get("levels"), list)
                                       and all(isinstance(v, str) for v in params["levels"])):
        return "one_hot needs a text level and a list of text levels"
    if transform == "frequency" and not params.get("truncated") and not (
            isinstance(params.get("frequencies"), dict) and all(_finite(v) for v in params["frequencies"].values())):
        return "frequency needs a table of level → finite share"
    if transform == "date_part" and params.get("part") not in DATE_PARTS:
        return f"date_part's part must be one of {', '.join(DATE_PARTS)}"
    if transform == "bool_int" and params.get("mapping") is not None and not (
            isinstance(params["mapping"], dict) and all(v in (0, 1) and not isinstance(v, float)
                                                        for v in params["mapping"].values())):
        return "bool_int's mapping must map text to 0 or 1"
    return None


class FeatureSpec(Strict):
    """One column of the feature table: its input column, transform and learned parameters."""
    name: Name
    kind: Literal["input", "output"] = "input"
    source: Annotated[list[Name], Field(min_length=1, max_length=1)]
    transform: Literal["one_hot", "frequency", "date_part", "bool_int", "length", "identity", "log1p",
                       "standard_scale", "minmax_scale", "log1p+standard_scale", "log1p+minmax_scale", "minutes",
                       "minutes+standard_scale", "minutes+minmax_scale"]
    description: Annotated[str, StringConstraints(max_length=MAX_PLAN_TEXT)] = ""
    params: dict[Name, Scalar | dict[Name, Scalar] | Annotated[list[Scalar], Field(max_length=MAX_PLAN_ALLOWED)]] = {}

    @model_validator(mode="after")
    def _params_fit(self):
        problem = _feature_params_problem(self.transform, self.params)
        if problem:
            raise ValueError(problem)
        return self


class Fence(Strict):
    lower: float = Field(allow_inf_nan=False)
    upper: float = Field(allow_inf_nan=False)
    zeros_kept: bool = Field(False, description="Zeros are a state of the column (dry days), never outliers.")

    @model_validator(mode="after")
    def _ordered(self):
        if self.lower > self.upper:
            raise ValueError("a fence's lower bound must not exceed its upper bound")
        return self


class DependencyRule(Strict):
    """A column determined by another (store → city): each group's majority repairs and fills its rows."""
    determinant: Name
    dependent: Name
    overrules: bool = Field(description="Whether a group's majority may overrule a present value (else it only "
                            "fills gaps).")
    confidence: float = Field(ge=0, le=1)
    lift: float = Field(0.0, ge=-1e6, le=1)
    repeated_minority: float = Field(0.0, ge=0, le=1)
    agreement: float = Field(0.0, ge=0, le=1)
    support_rows: int = Field(0, ge=0)
    groups: int = Field(0, ge=0)


class OutlierPlan(Strict):
    """What the outlier step learned; how it treats outliers is the plan's `options.outliers`."""
    fences: Annotated[dict[Name, Fence], Field(max_length=MAX_PLAN_COLUMNS)] = Field(
        {}, description="Per numeric column, the fences learned: the next batch is judged by them (tighten to "
        "catch more).")


class PlanDocument(Strict):
    """A cleaning plan: what a run decided (import, options, each column's role and parse rule, each gap's
    fill as learned, every step's decision with its evidence) and what it learned to expect of the next batch.
    Applied with plan_from or plan at upload; edit `expectations` to tighten what a batch is checked on."""
    plan_version: Literal[PLAN_VERSION]
    origin: dict[Name, Scalar] | None = None
    import_: dict[Name, Scalar | list[Name]] | None = Field(None, alias="import")
    options: PlanOptions = PlanOptions()
    columns: Annotated[dict[Name, PlanColumn], Field(max_length=MAX_PLAN_COLUMNS)] = {}
    missing: Annotated[dict[Name, GapDecision], Field(max_length=MAX_PLAN_COLUMNS)] = {}
    stand_ins: Annotated[dict[Name, Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(
        max_length=20)]], Field(max_length=MAX_PLAN_COLUMNS)] | None = Field(
        None, description="Per numeric column, the numbers that stand for a missing value (-999): set missing in "
        "the next batch, and no others looked for. Absent (an older plan): looked for afresh.")
    dependencies: Annotated[list[DependencyRule], Field(max_length=MAX_RULES)] | None = Field(
        None, description="The rules entity consistency applies to the next batch (none are looked for afresh). "
        "Absent (an older plan): looked for afresh.")
    outliers: OutlierPlan = OutlierPlan()
    expectations: Expectations = Expectations()
    features: Annotated[list[FeatureSpec], Field(max_length=20_000)] = Field(
        [], description="The feature table's columns as built: a plan builds the same ones on the next batch.")
    decisions: Annotated[list[dict[str, Any]], Field(max_length=MAX_PLAN_DECISIONS)] = Field(
        [], description="Every step's log entry (who decided, the evidence): shown, not applied.")


class Violation(Model):
    rule: str = Field(description="column_present, known_column, type, max_missing, allowed_values, range, unique "
                      "or dependency.")
    column: str | None
    message: str
    count: int
    table: Literal["raw", "cleaned"] | None = Field(None, description="Whose 1-based data rows `rows` are.")
    rows: list[int] = Field([], description=f"The first offending rows (at most {SHOWN_ROWS}).")
    ids: list[Any] | None = Field(None, description="Their values in the plan's identifier column, if it has one.")


class Validation(Model):
    dataset_id: str
    plan: dict[str, Any] | None = Field(description="Where the applied plan came from.")
    passed: bool
    violations: list[Violation]
    skipped: list[dict[str, Any]] = Field(description="Decisions of the plan that could not apply, and why.")


class DiffQuery(Who):
    format: Literal["json", "csv"] | None = Field(None, description="json (default) or csv (the same page).")
    offset: int | None = Field(None, ge=0, le=10**9, description="Skip this many changed cells (default 0).")
    limit: int | None = Field(None, ge=1, le=10_000, description="At most this many (default 500).")
    column: str | None = Field(None, description="Only this column's cells.")
    kind: Literal["filled", "changed", "cleared"] | None = Field(None, description="Only cells filled in, changed, "
                                                                  "or set missing.")
    formulas: Literal["escape", "keep"] | None = TableDownload.model_fields["formulas"]


class ChangedCell(Model):
    row: int = Field(description="1-based data row of the original file.")
    cleaned_row: int = Field(description="1-based data row of the cleaned table.")
    column: str
    before: str | None = Field(description="The value as read (missing tokens already missing).")
    after: str | None = Field(description="The value in the cleaned table, written as its CSV writes it.")
    kind: Literal["filled", "changed", "cleared"]
    step: str = Field(description="The pipeline stage that last changed the cell: types, disguised_missing, "
                      "dependencies, gross_errors, missing_values, outliers.")
    rule: str = Field(description="The step's action (the log's), e.g. impute_median, repair_typos.")
    why: str = Field(description="The step's own explanation, as its log entry gives it.")


class Diff(Model):
    dataset_id: str
    run: int | None = Field(description="The served run the cells belong to.")
    total: int = Field(description="Cells matching the filters in the stored list.")
    cells_changed: int | None = Field(description="Cells the run changed in all (the list keeps the first "
                                      "million).")
    offset: int
    limit: int
    cells: list[ChangedCell]
    next: str | None = Field(description="The next page, while there is one.")


class SavePlan(Who):
    """A name and what to save under it: a dataset's plan or a plan document."""
    name: str = Field(pattern=NAME_PATTERN, examples=["weekly-orders"])
    dataset_id: str | None = Field(None, pattern="^$|^[0-9a-f]{32}$", description="Save this dataset's plan.")
    plan: dict[str, Any] | str | None = Field(None, description="Or save this plan document (JSON, or its text).")


class SavePlanForm(SavePlan):
    """The same as a form (the plan as text or a file part)."""


class SavedPlanInfo(Model):
    name: str
    version: int
    user_id: str
    collaboration_id: str | None
    source_dataset_id: str | None = Field(description="The dataset whose plan it is, if saved from one.")
    created_at: str
    columns: int
    versions: int | None = Field(None, description="How many versions the name has (in listings).")
    links: dict[str, str]


class SavedPlans(Model):
    plans: list[SavedPlanInfo]

