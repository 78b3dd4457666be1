"""Prometheus metrics of a serving process, on a registry of its own (not the global one).

Each model version binds its label values once (:meth:`ServingMetrics.bind`), so the hot
path does no label lookups. With ``--workers N`` every worker process keeps its own
values; ``loopml serve`` then points ``PROMETHEUS_MULTIPROC_DIR`` at a directory it made
before the workers start, prometheus-client keeps each value in a file there, and
:meth:`ServingMetrics.render` answers the sum over the workers, whichever one is asked.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["MULTIPROC_ENV", "PROMETHEUS_CONTENT_TYPE", "ModelMetrics", "ServingMetrics"]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)
_PROTOCOLS = ("v2", "invocations")
_LABELS = ("endpoint", "model", "version")


class ServingMetrics:
    """The metric families of one serving app.

    Per model version (labels endpoint, model, version):
    ``loopml_serving_requests_total`` (and protocol, status),
    ``loopml_serving_request_duration_seconds`` (and protocol),
    ``loopml_serving_in_flight_requests``, ``loopml_serving_batch_rows`` and
    ``loopml_serving_batch_requests`` (per predict call),
    ``loopml_serving_predict_duration_seconds``, ``loopml_serving_model_load_seconds``,
    ``loopml_serving_shadow_requests_total`` (and outcome: ok, error, dropped).
    Per endpoint: ``loopml_serving_swaps_total`` (outcome: ok, failed),
    ``loopml_serving_feedback_labels_total``. Per log (predictions, feedback):
    ``loopml_serving_log_queue_rows``, ``loopml_serving_log_written_rows_total``,
    ``loopml_serving_log_dropped_rows_total``, ``loopml_serving_log_failed_flushes_total``.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "loopml_serving_requests",
            "Prediction requests answered, by model version, protocol and HTTP status.",
            (*_LABELS, "protocol", "status"),
            registry=r,
        )
        self.latency = Histogram(
            "loopml_serving_request_duration_seconds",
            "Time from reading a prediction request to its answer.",
            (*_LABELS, "protocol"),
            buckets=_LATENCY,
            registry=r,
        )
        self.in_flight = Gauge(
            "loopml_serving_in_flight_requests",
            "Prediction requests (and shadow calls) being handled now.",
            _LABELS,
            registry=r,
            multiprocess_mode="livesum",
        )
        self.batch_rows = Histogram(
            "loopml_serving_batch_rows", "Rows per predict call.", _LABELS, buckets=_SIZES,
            registry=r,
        )  # fmt: skip
        self.batch_requests = Histogram(
            "loopml_serving_batch_requests",
            "Requests coalesced into one predict call.",
            _LABELS,
            buckets=_SIZES,
            registry=r,
        )
        self.predict_seconds = Histogram(
            "loopml_serving_predict_duration_seconds",
            "Time of one predict call (a whole batch).",
            _LABELS,
            buckets=_LATENCY,
            registry=r,
        )
        self.load_seconds = Gauge(
            "loopml_serving_model_load_seconds",
            "How long loading the model version (fetch, load, warm-up) took.",
            _LABELS,
            registry=r,
            multiprocess_mode="max",
        )
        self.shadows = Counter(
            "loopml_serving_shadow_requests",
            "Mirrored calls to shadow routes, by outcome (ok, error, dropped: queue full).",
            (*_LABELS, "outcome"),
            registry=r,
        )
        self.swaps = Counter(
            "loopml_serving_swaps",
            "Hot swaps of an endpoint's routes, by outcome (ok, failed: old routes kept).",
            ("endpoint", "outcome"),
            registry=r,
        )
        self.feedback = Counter(
            "loopml_serving_feedback_labels",
            "Labels received by POST /feedback.",
            ("endpoint",),
            registry=r,
        )
        self.log_depth = Gauge(
            "loopml_serving_log_queue_rows",
            "Log rows buffered, waiting for the next flush.",
            ("log",),
            registry=r,
            multiprocess_mode="livesum",
        )
        self.log_written = Counter(
            "loopml_serving_log_written_rows", "Log rows written.", ("log",), registry=r
        )
        self.log_dropped = Counter(
            "loopml_serving_log_dropped_rows",
            "Log rows dropped because the buffer was full (the store unreachable for long).",
            ("log",),
            registry=r,
        )
        self.log_failures = Counter(
            "loopml_serving_log_failed_flushes",
            "Flushes that could not write (retried at the next one).",
            ("log",),
            registry=r,
        )
        self._seen: dict[tuple[str, str], int] = {}
        self._sync_lock = threading.Lock()

    def bind(
        self, model: str, version: str | None, *, load_seconds: float, endpoint: str | None = None
    ) -> ModelMetrics:
        """The metrics of one model version, labels bound (``endpoint`` defaults to the
        model's name)."""
        return ModelMetrics(self, endpoint or model, model, version or "", load_seconds)

    def sync_log(self, kind: str, log: Any) -> None:
        """Bring the log families up to ``log``'s counters (called after each flush and on
        each scrape; counters only move forward, so the difference since the last call is
        added)."""
        with self._sync_lock:
            self.log_depth.labels(kind).set(log.depth)
            for family, name in (
                (self.log_written, "written"),
                (self.log_dropped, "dropped"),
                (self.log_failures, "failed_flushes"),
            ):
                value = int(getattr(log, name))
                delta = value - self._seen.get((kind, name), 0)
                if delta > 0:
                    family.labels(kind).inc(delta)
                self._seen[(kind, name)] = value

    def render(self) -> bytes:
        """The text exposition format, for ``GET /metrics``: this process's values, or every
        worker's in multiprocess mode."""
        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)
            return generate_latest(registry)
        return generate_latest(self.registry)


class ModelMetrics:
    """One model version's children of each family; thread-safe (prometheus-client locks)."""

    def __init__(
        self, family: ServingMetrics, endpoint: str, model: str, version: str, load: float
    ) -> None:
        self._family = family
        self._labels = (endpoint, model, version)
        self._latency = {p: family.latency.labels(*self._labels, p) for p in _PROTOCOLS}
        self._counts: dict[tuple[str, int], Counter] = {}
        self.in_flight = family.in_flight.labels(*self._labels)
        self._rows = family.batch_rows.labels(*self._labels)
        self._requests = family.batch_requests.labels(*self._labels)
        self._predict = family.predict_seconds.labels(*self._labels)
        family.load_seconds.labels(*self._labels).set(load)

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

    def shadow(self, outcome: str) -> None:
        """One mirrored call to this (shadow) version: ok, error or dropped."""
        self._family.shadows.labels(*self._labels, outcome).inc()

    def batch(self, rows: int, requests: int, seconds: float) -> None:
        """One predict call."""
        self._rows.observe(rows)
        self._requests.observe(requests)
        self._predict.observe(seconds)
