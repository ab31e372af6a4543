"""Per-upload pipeline options: one validated object, built from what the upload stored."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from .features import SCALINGS
from .names import MODES, Mode
from .outliers import METHODS

OUTLIER_CHOICES = ("off", "flag", "clip", "null")  # what a user picks at upload; flag changes no value
ROLE_CHOICES = ("id", "code", "numeric", "coordinate", "boolean", "datetime", "time", "categorical", "text")


@dataclass(frozen=True)
class PipelineOptions:
    """Per-upload choices. `roles` overrides detected column roles; `na_values` adds missing tokens."""

    mode: str = Mode.FAST
    target: str | None = None
    drop_threshold: float = 0.7
    parse_threshold: float = 0.95
    missing_indicators: bool = False
    outliers: str = "flag"
    outlier_method: str = "iqr"
    outlier_columns: bool = False
    features: bool = True
    scaling: str = "standard"
    roles: dict[str, str] = field(default_factory=dict)
    na_values: tuple[str, ...] = ()
    plan: dict | None = None  # a cleaning plan to apply (cleaning_plan.py) instead of deciding afresh
    strict: bool = False  # with a plan: fail when the batch breaks its expectations or skips a decision

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {self.mode!r}")
        for name in ("drop_threshold", "parse_threshold"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1]; got {value!r}")
        for name, allowed in (("outliers", OUTLIER_CHOICES), ("outlier_method", METHODS),
                              ("scaling", SCALINGS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        bad = {c: r for c, r in self.roles.items() if r not in ROLE_CHOICES}
        if bad:
            raise ValueError(f"roles must be one of {', '.join(ROLE_CHOICES)}; got {bad!r}")

    @classmethod
    def from_stored(cls, mode: str, target: str | None, stored: dict | None) -> PipelineOptions:
        """The options an upload stored (JSON: lists, not tuples); keys that are not fields are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in (stored or {}).items() if k in known}
        if "na_values" in values:
            values["na_values"] = tuple(values["na_values"])
        return cls(mode=mode, target=target, **values)
