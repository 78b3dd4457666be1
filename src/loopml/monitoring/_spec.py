"""The monitor spec: what to watch on an endpoint, how often, when to alert and whom to tell.

Example (``monitor.yaml``)::

    name: fraud
    endpoint: fraud
    reference: fraud-train@3          # the dataset version the model was trained on
    features: [amount, country]       # default: every f.<feature> the endpoint logs
    window: 1h                        # each run judges the last hour
    every: 5m                         # how often ``loopml server`` runs it
    drift: {share: 0.5}               # drift when at least half of the features drifted
    performance: {metric: f1, min: 0.85, min_labelled: 30, label_delay: 0s}
    operational: {max_error_rate: 0.05, max_latency_p95_ms: 250}
    alerts: [log, "webhook:https://hooks.example.com/loopml"]
    retrain: {pipeline: "flows:churn", policy: gates, cooldown: 6h}
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from loopml.errors import InvalidInput, LoopMLError, NotFound
from loopml.monitoring._durations import parse_duration
from loopml.monitoring._metrics import (
    CLASSIFICATION_METRICS,
    LOWER_IS_BETTER,
    REGRESSION_METRICS,
)

__all__ = [
    "AlertSinkSpec",
    "DriftSpec",
    "Monitor",
    "OperationalSpec",
    "PerformanceSpec",
    "RetrainSpec",
    "load_monitor_spec",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}@[A-Za-z0-9]+$")
_METHODS = ("auto", "ks", "chisquare", "psi", "wasserstein", "jensenshannon")


def _duration(value: Any, what: str, *, allow_zero: bool = False) -> str:
    try:
        parse_duration(value, what=what, allow_zero=allow_zero)
    except LoopMLError as exc:  # the field's name is in the error's location already
        raise ValueError(exc.message.removeprefix(f"{what}: ")) from None
    return value if isinstance(value, str) else f"{parse_duration(value).total_seconds():g}s"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriftSpec(_Strict):
    """When the inputs count as drifted (see :func:`~loopml.monitoring.detect_drift`).

    ``share``: the window drifted when at least this share of the compared features did
    (``--drift-threshold``); ``method``: a drift method for every feature (``auto`` picks by
    type and size); ``thresholds``: per method or feature; ``alpha``: the tests' level.
    """

    share: float = Field(default=0.5, gt=0, le=1, allow_inf_nan=False)
    method: str = "auto"
    thresholds: dict[str, float] = Field(default_factory=dict)
    alpha: float = Field(default=0.05, gt=0, lt=1, allow_inf_nan=False)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value not in _METHODS:
            raise ValueError(f"{value!r} is not a drift method: use one of {', '.join(_METHODS)}")
        return value


class PerformanceSpec(_Strict):
    """The performance figure a monitor holds the model to, over labelled predictions.

    ``min`` bounds scores (f1, accuracy, roc_auc, r2...), ``max`` errors (rmse, mae,
    log_loss). A window with fewer than ``min_labelled`` labelled rows is not judged.
    ``label_delay`` shifts the judged window back (labels that take a day to arrive: 1d).
    """

    metric: str
    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)
    min_labelled: int = Field(default=30, ge=1)
    label_delay: str = "0s"
    classes: list[str | int | float | bool] | None = None
    positive_label: str | int | float | bool | None = None
    average: Literal["macro", "weighted", "micro"] = "macro"

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        known = CLASSIFICATION_METRICS + REGRESSION_METRICS
        if value not in known:
            raise ValueError(f"{value!r} is not a metric: use one of {', '.join(known)}")
        return value

    @field_validator("label_delay")
    @classmethod
    def _delay(cls, value: str) -> str:
        return _duration(value, "label_delay", allow_zero=True)

    @model_validator(mode="after")
    def _bound(self) -> PerformanceSpec:
        if self.min is None and self.max is None:
            side = "max" if self.metric in LOWER_IS_BETTER else "min"
            raise ValueError(f"give a bound for {self.metric}: {side} (e.g. {side}: 0.85)")
        return self


class OperationalSpec(_Strict):
    """Limits on what the endpoint does (None: not checked)."""

    max_error_rate: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    max_latency_p95_ms: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_latency_p99_ms: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class AlertSinkSpec(_Strict):
    """Where alerts go: ``log`` (the ``loopml.monitoring`` logger) or a ``webhook`` (a JSON
    POST, retried with exponential backoff on timeouts, connection errors and 5xx)."""

    kind: Literal["log", "webhook"]
    url: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=300, allow_inf_nan=False)
    retries: int = Field(default=4, ge=0, le=20)
    backoff_s: float = Field(default=0.5, ge=0, le=600, allow_inf_nan=False)
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        if isinstance(value, str):  # "log" or "webhook:https://..."
            kind, _, url = value.partition(":")
            return {"kind": kind.strip(), **({"url": url.strip()} if url else {})}
        return value

    @model_validator(mode="after")
    def _url(self) -> AlertSinkSpec:
        if self.kind == "webhook" and not (self.url or "").startswith(("http://", "https://")):
            raise ValueError(f"a webhook needs an http(s) url, not {self.url!r}")
        if self.kind == "log" and self.url:
            raise ValueError("the log sink takes no url")
        return self

    @property
    def label(self) -> str:
        """How deliveries name this sink: ``log`` or ``webhook:<url without query>``."""
        if self.kind == "log":
            return "log"
        url = (self.url or "").split("?", 1)[0].split("#", 1)[0]
        return "webhook:" + re.sub(r"//[^/@]*@", "//", url)  # no credentials in records


class RetrainSpec(_Strict):
    """What the retrain hook is told to run (see :func:`~loopml.monitoring.set_retrain_handler`).

    ``pipeline``: ``module:attribute`` or a path; ``policy``: how the candidate is promoted
    (``gates``, ``canary`` or ``approval``); ``cooldown``: no second trigger sooner;
    ``every``: also retrain on this schedule, drift or not (the clock starts at the first run);
    ``params``: passed on as they are.
    """

    pipeline: str = Field(min_length=1, max_length=1000)
    policy: Literal["gates", "canary", "approval"] = "gates"
    cooldown: str = "1h"
    every: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, value: str) -> str:
        return _duration(value, "cooldown", allow_zero=True)

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        return None if value is None else _duration(value, "retrain.every")


class Monitor(_Strict):
    """A monitor on one endpoint (see the module docstring for every field)."""

    name: str
    endpoint: str
    reference: str
    features: list[str] | None = None
    reference_prediction: str | None = None
    task: Literal["classification", "regression"] | None = None
    window: str = "1h"
    every: str = "5m"
    enabled: bool = True
    drift: DriftSpec = Field(default_factory=DriftSpec)
    performance: PerformanceSpec | None = None
    operational: OperationalSpec = Field(default_factory=OperationalSpec)
    alerts: list[AlertSinkSpec] = Field(default_factory=lambda: [AlertSinkSpec(kind="log")])
    retrain: RetrainSpec | None = None

    @field_validator("name", "endpoint")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value[:80]!r} is not a name: 1-128 letters, digits, '.', '_' "
                "or '-', starting with a letter or digit"
            )
        return value

    @field_validator("reference")
    @classmethod
    def _reference(cls, value: str) -> str:
        if not _REF.match(value):
            raise ValueError(
                f"{value[:80]!r} is not a dataset version: name@3, name@latest "
                "or name@<hash prefix>"
            )
        return value

    @field_validator("features")
    @classmethod
    def _features(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("an empty list: leave features out to compare every feature")
            twice = sorted({f for f in value if value.count(f) > 1})
            if twice:
                raise ValueError(f"listed twice: {twice}")
            prefixed = [f for f in value if f.startswith("f.")]
            if prefixed:
                raise ValueError(f"name the features without the log's 'f.' prefix: {prefixed}")
        return value

    @field_validator("window", "every")
    @classmethod
    def _durations(cls, value: str, info: Any) -> str:
        return _duration(value, info.field_name)

    @model_validator(mode="after")
    def _consistent(self) -> Monitor:
        perf = self.performance
        if perf is not None and self.task is not None:
            allowed = (
                CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS
            )
            if perf.metric not in allowed:
                raise ValueError(
                    f"performance.metric {perf.metric!r} does not fit a {self.task} "
                    f"task (use one of {', '.join(allowed)})"
                )
        if self.reference_prediction and self.reference_prediction in (self.features or []):
            raise ValueError(
                f"{self.reference_prediction!r} is both a feature and the reference_prediction"
            )
        labels = [a.label for a in self.alerts]
        if len(set(labels)) != len(labels):
            raise ValueError(f"alerts: a sink is listed twice ({labels})")
        return self

    @property
    def window_delta(self) -> timedelta:
        """``window`` as a timedelta."""
        return parse_duration(self.window)

    @property
    def every_delta(self) -> timedelta:
        """``every`` as a timedelta."""
        return parse_duration(self.every)

    @classmethod
    def parse(cls, raw: Any) -> Monitor:
        """A spec from a dict (YAML, JSON), with one clear error naming each bad field.

        Raises:
            InvalidInput: the fields and what is wrong with each.
        """
        if isinstance(raw, Monitor):
            return raw
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise InvalidInput.from_validation(exc, "monitor") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without the fields left at None."""
        return self.model_dump(mode="json", exclude_none=True)


def load_monitor_spec(path: str | os.PathLike[str], **overrides: Any) -> Monitor:
    """A monitor spec from a YAML (or JSON) file; ``overrides`` replace top-level keys
    (None values are ignored).

    Raises:
        NotFound: no such file.  InvalidInput: not YAML, or an invalid spec.
    """
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"no monitor file at {file}")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{file} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{file} must hold a mapping (name, endpoint, reference, ...)")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    raw.setdefault("name", raw.get("endpoint"))
    return Monitor.parse(raw)
