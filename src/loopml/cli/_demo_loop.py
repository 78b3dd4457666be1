"""The steps of ``loopml demo``: the whole loop, on the embedded store, over real HTTP.

data → train → register → promote → serve → traffic (the world drifts, labels arrive late)
→ monitor (drift + performance) → retrain → evaluate → promote → hot swap → traffic again.
Each step is a real component: the dataset service, tracking, the registry and its gates,
``loopml serve``'s app under uvicorn on 127.0.0.1, the prediction and feedback logs, a
stored monitor and its retrain hook. Deterministic given the seed (figures, versions,
verdicts; not the timings).
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

import loopml
from loopml.cli._demo_world import FEATURES, TARGET, transactions
from loopml.client import get_client, pipeline_retrain_handler
from loopml.config import Settings

__all__ = ["DemoResult", "run_demo"]

MODEL = ENDPOINT = "demo-fraud"
DATASET = "demo-transactions"
BATCH = 10  # rows per request: a small batch, as a payment service would send
Step = Callable[[str], None]


@dataclass
class DemoResult:
    """What the loop did, for the summary table and ``--json``."""

    phases: list[dict[str, Any]] = field(default_factory=list)
    drift: dict[str, Any] = field(default_factory=dict)
    retrain: dict[str, Any] = field(default_factory=dict)
    quarantined: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    report: str = ""
    url: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"phases": self.phases, "drift": self.drift, "retrain": self.retrain,
                "quarantined": self.quarantined, "timings": self.timings,
                "report": self.report}  # fmt: skip


def _model(seed: int) -> Any:
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    columns = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["country", "channel"]),
        remainder="passthrough",
    )
    forest = RandomForestClassifier(n_estimators=60, max_depth=10, min_samples_leaf=3,
                                    class_weight="balanced_subsample", random_state=seed,
                                    n_jobs=1)  # fmt: skip
    return make_pipeline(columns, forest)


def fit_model(X: pd.DataFrame, y: pd.Series) -> Any:
    """The demo's training function: what the monitor's retrain block names."""
    from loopml.client import current_seed

    return _model(current_seed() or 0).fit(X, y)


def _f1(y: Any, predicted: Any) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, predicted))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serving(settings: Settings) -> Iterator[str]:
    """``loopml serve demo-fraud`` in this process: uvicorn on a free port of 127.0.0.1."""
    import uvicorn

    from loopml.server.serving import create_serving_app

    app = create_serving_app(settings=settings, targets=[ENDPOINT])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))  # fmt: skip
    thread = threading.Thread(target=server.run, name="loopml-demo-serve", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo's serving process did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True  # lifespan shutdown flushes the logs
        thread.join(timeout=30)


def _replay(http: httpx.Client, frame: pd.DataFrame, phase: str) -> dict[str, Any]:
    """Send ``frame``'s features as requests of BATCH rows, then its labels as feedback
    (late: after the traffic, as labels arrive in production)."""
    versions: dict[str, int] = {}
    labels: list[dict[str, Any]] = []
    predicted: list[Any] = []
    for start in range(0, len(frame), BATCH):
        rows = frame.iloc[start : start + BATCH]
        request_id = f"{phase}-{start // BATCH:05d}"
        body = {"dataframe_split": {"columns": FEATURES,
                                    "data": rows[FEATURES].to_numpy().tolist()}}  # fmt: skip
        answer = http.post("/invocations", json=body, headers={"X-Request-Id": request_id})
        answer.raise_for_status()
        version = answer.headers.get("X-Loopml-Model-Version", "?")
        versions[version] = versions.get(version, 0) + 1
        predicted.extend(answer.json()["predictions"])
        labels.extend({"request_id": request_id, "row": i, "label": int(label)}
                      for i, label in enumerate(rows[TARGET]))  # fmt: skip
    for start in range(0, len(labels), 500):
        http.post("/feedback", json={"feedback": labels[start : start + 500]}).raise_for_status()
    return {"phase": phase, "rows": len(frame), "requests": -(-len(frame) // BATCH),
            "versions": versions, "f1": _f1(frame[TARGET], np.asarray(predicted)),
            "fraud_rate": float(frame[TARGET].mean())}  # fmt: skip


def _wait_for_version(http: httpx.Client, wanted: str, timeout_s: float = 30) -> float:
    """Seconds until the endpoint answers with ``wanted`` (the hot swap's delay)."""
    started = time.monotonic()
    probe = {"dataframe_split": {"columns": FEATURES,
                                 "data": transactions(1, seed=0, drifted=True)[FEATURES]
                                 .to_numpy().tolist()}}  # fmt: skip
    while time.monotonic() - started < timeout_s:
        answer = http.post("/invocations", json=probe)
        if answer.headers.get("X-Loopml-Model-Version", "").endswith(f"/{wanted}"):
            return time.monotonic() - started
        time.sleep(0.1)
    raise RuntimeError(f"the endpoint still does not answer with version {wanted}")


def run_demo(settings: Settings, *, seed: int, step: Step) -> DemoResult:
    """The loop (see the module docstring); ``step`` is told each step's name."""
    from loopml.monitoring import MonitorService, RetrainTrigger
    from loopml.registry import promote
    from loopml.serving import EndpointStore

    result, clock = DemoResult(), time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        result.timings[name] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()

    loopml.seed_everything(seed)
    step("register and validate the reference data")
    reference = transactions(5000, seed=seed, drifted=False)
    ref_version = loopml.data.register(DATASET, reference)
    batch = transactions(600, seed=seed + 1, drifted=False)
    batch.loc[batch.index[:4], "country"] = None  # a feed that broke for a moment
    fresh = loopml.data.register(DATASET, batch, on_invalid="quarantine")
    result.quarantined = fresh.quarantine_rows
    lap("data")

    step("train, register and promote the champion")
    holdout = transactions(1500, seed=seed + 2, drifted=False)
    with loopml.start_run(experiment="loopml-demo", run_name="champion"):
        loopml.log_input(ref_version)
        champion = _model(seed).fit(reference[FEATURES], reference[TARGET])
        loopml.log_metric("f1", _f1(holdout[TARGET], champion.predict(holdout[FEATURES])))
        loopml.log_model(champion, "model", input_example=reference[FEATURES].head(5),
                         registered_model_name=MODEL)  # fmt: skip
    registry = loopml.model_registry()
    promote(registry, MODEL, 1, "production", policy={"metrics": {"f1": {"min": 0.4}}},
            reason="first model")  # fmt: skip
    store = get_client().service.store  # type: ignore[union-attr]
    EndpointStore(store).create({"name": ENDPOINT,
                                 "routes": [{"model": f"models:/{MODEL}@production"}]})  # fmt: skip
    lap("train")

    step("serve it over HTTP and replay production traffic")
    with _serving(settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        result.url = url
        result.phases.append(_replay(http, transactions(1500, seed=seed + 3, drifted=False),
                                     "before drift"))  # fmt: skip
        lap("traffic before")
        step("the world drifts: replay traffic, labels arrive late")
        window_start = datetime.now(UTC)
        drifted = transactions(3000, seed=seed + 4, drifted=True)
        result.phases.append(_replay(http, drifted, "after drift"))
        time.sleep(settings.serve_log_flush_s + 0.5)  # the logs reach the store
        # The monitor's window is exactly the drifted traffic: it starts where that began
        # (whole seconds), so no request from before the drift leaks in, whatever the timing.
        seconds = math.ceil((datetime.now(UTC) - window_start).total_seconds()) + 1
        window_end = window_start + timedelta(seconds=seconds)
        lap("traffic after drift")

        step("monitor: drift and performance, then retrain")
        outcomes: list[dict[str, Any]] = []

        def retrain_handler(trigger: RetrainTrigger) -> dict[str, Any]:
            # loopml's own handler: reference + the labelled window from the serving logs.
            outcomes.append(pipeline_retrain_handler(trigger))
            return outcomes[-1]

        monitors = MonitorService.from_settings(settings, store=store,
                                                retrain_handler=retrain_handler)  # fmt: skip
        monitors.create({
            "name": ENDPOINT, "endpoint": ENDPOINT, "reference": ref_version.ref,
            "features": FEATURES, "window": f"{seconds}s", "every": "5m",
            "performance": {"metric": "f1", "min": 0.55, "positive_label": 1},
            "retrain": {"pipeline": "loopml.cli._demo_loop:fit_model", "policy": "gates",
                        "cooldown": "1h", "params": {"target": TARGET, "metric": "f1",
                                                     "by": 0.02, "holdout": 0.3, "seed": seed}},
        })  # fmt: skip
        run = monitors.run(ENDPOINT, now=window_end)
        report = Path(settings.home) / "reports" / "demo-monitor.html"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(monitors.report_html(run.run_id), encoding="utf-8")
        result.report = str(report)
        drifted_features = run.drift_report.drifted_features if run.drift_report else []
        result.drift = {"verdict": run.verdict, "drifted": list(drifted_features),
                        "share": run.drift_report.share_drifted if run.drift_report else None,
                        "checks": {k: v.get("status") for k, v in run.checks.items()}}  # fmt: skip
        if not outcomes:
            raise RuntimeError(f"the monitor did not ask for a retrain: {run.checks}")
        result.retrain = outcomes[0]
        monitors.close()
        lap("monitor + retrain")

        step("hot swap: the endpoint picks up the promoted version")
        result.timings["swap seconds"] = round(
            _wait_for_version(http, str(outcomes[0]["version"])), 2
        )
        result.phases.append(_replay(http, transactions(1500, seed=seed + 5, drifted=True),
                                     "after retrain"))  # fmt: skip
        lap("traffic after retrain")
    return result
