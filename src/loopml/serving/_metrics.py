"""Prometheus metrics of a serving process, on a registry of its own (not the global one).

Each model version binds its label values once (:meth:`ServingMetrics.bind`), so the hot
path does no label lookups.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["PROMETHEUS_CONTENT_TYPE", "ModelMetrics", "ServingMetrics"]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)
_PROTOCOLS = ("v2", "invocations")


class ServingMetrics:
    """The metric families of one serving app.

    Families: ``loopml_serving_requests_total`` (model, version, protocol, status),
    ``loopml_serving_request_duration_seconds`` (model, version, protocol),
    ``loopml_serving_in_flight_requests`` (model, version),
    ``loopml_serving_batch_rows`` and ``loopml_serving_batch_requests`` (rows and requests
    per predict call), ``loopml_serving_predict_duration_seconds`` and
    ``loopml_serving_model_load_seconds``.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("model", "version")
        self.requests = Counter(
            "loopml_serving_requests",
            "Prediction requests answered, by model version, protocol and HTTP status.",
            (*labels, "protocol", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "loopml_serving_request_duration_seconds",
            "Time from reading a prediction request to its answer.",
            (*labels, "protocol"),
            buckets=_LATENCY,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "loopml_serving_in_flight_requests",
            "Prediction requests being handled now.",
            labels,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "loopml_serving_batch_rows",
            "Rows per predict call.",
            labels,
            buckets=_SIZES,
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "loopml_serving_batch_requests",
            "Requests coalesced into one predict call.",
            labels,
            buckets=_SIZES,
            registry=self.registry,
        )
        self.predict_seconds = Histogram(
            "loopml_serving_predict_duration_seconds",
            "Time of one predict call (a whole batch).",
            labels,
            buckets=_LATENCY,
            registry=self.registry,
        )
        self.load_seconds = Gauge(
            "loopml_serving_model_load_seconds",
            "How long loading the model version took.",
            labels,
            registry=self.registry,
        )

    def bind(self, model: str, version: str | None, *, load_seconds: float) -> ModelMetrics:
        """The metrics of one model version, labels bound."""
        return ModelMetrics(self, model, version or "", load_seconds)

    def render(self) -> bytes:
        """The text exposition format, for ``GET /metrics``."""
        return generate_latest(self.registry)


class ModelMetrics:
    """One model version's children of each family; thread-safe (prometheus-client locks)."""

    def __init__(self, family: ServingMetrics, model: str, version: str, load: float) -> None:
        self._family = family
        self._labels = (model, version)
        self._latency = {p: family.latency.labels(model, version, p) for p in _PROTOCOLS}
        self._counts: dict[tuple[str, int], Counter] = {}
        self.in_flight = family.in_flight.labels(model, version)
        self._rows = family.batch_rows.labels(model, version)
        self._requests = family.batch_requests.labels(model, version)
        self._predict = family.predict_seconds.labels(model, version)
        family.load_seconds.labels(model, version).set(load)

    def request(self, protocol: str, status: int, seconds: float) -> None:
        """One answered request."""
        counter = self._counts.get((protocol, status))
        if counter is None:
            counter = self._family.requests.labels(*self._labels, protocol, str(status))
            self._counts[(protocol, status)] = counter
        counter.inc()
        latency = self._latency.get(protocol)
        if latency is None:
            latency = self._family.latency.labels(*self._labels, protocol)
            self._latency[protocol] = latency
        latency.observe(seconds)

    def batch(self, rows: int, requests: int, seconds: float) -> None:
        """One predict call."""
        self._rows.observe(rows)
        self._requests.observe(requests)
        self._predict.observe(seconds)
