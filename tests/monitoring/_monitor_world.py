"""Helpers of the monitor tests: real prediction and feedback traffic written through
``PredictionLog`` and ``FeedbackLog``, a reference frame, the world a monitor service runs in,
and a real HTTP server that receives webhooks."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pandas as pd

from loopml.artifacts import ArtifactStore
from loopml.data import DataService, DatasetCatalog
from loopml.monitoring import LogReader, MonitorService
from loopml.serving import FeedbackLog, PredictionLog
from loopml.store import Store

HOUR = timedelta(hours=1)
_COUNTRIES = ["FR"] * 5 + ["DE"] * 3 + ["ES"] * 2


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


#: The end of the most recent whole hour: windows before it are in the past, so labels
#: written now (the feedback log stamps them with the wall clock) arrive after them.
NOW = hour_floor(datetime.now(UTC))


def reference_frame(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.normal(50, 10, n)
    return pd.DataFrame(
        {
            "amount": amount,
            "country": rng.choice(["FR", "DE", "ES"], n, p=[0.5, 0.3, 0.2]),
            "prediction": (amount > 55).astype(int),
        }
    )


@dataclass
class Traffic:
    """Writes prediction and feedback rows through the real logs."""

    root: str
    endpoint: str = "fraud"
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(1))

    def __post_init__(self) -> None:
        self.predictions = PredictionLog(self.root, flush_every_s=3600)
        self.feedback = FeedbackLog(self.root, flush_every_s=3600)
        self._n = 0

    def predict(
        self,
        start: datetime,
        n: int = 200,
        *,
        span: timedelta = HOUR,
        shift: float = 0.0,
        extra: bool = False,
        status: int = 200,
        latency: float | None = None,
    ) -> list[str]:
        """``n`` single-row requests spread over ``[start, start + span)``; ``shift`` moves
        the amounts by that many standard deviations; ``extra`` logs a feature the
        reference lacks."""
        ids, step = [], span.total_seconds() * 1000 / n
        t0 = int(start.timestamp() * 1000)
        for i in range(n):
            self._n += 1
            rid = f"{self.endpoint}-{self._n}"
            amount = self.rng.normal(50 + 10 * shift, 10)
            p = float(1 / (1 + np.exp(-(amount - 55) / 3)))
            # Countries in the reference's exact shares: never a false alarm on them.
            frame = {"amount": [amount], "country": [_COUNTRIES[self._n % 10]]}
            if extra:
                frame["device"] = [float(self.rng.integers(0, 3))]
            self.predictions.record(
                request_id=rid,
                endpoint=self.endpoint,
                model="fraud",
                version="1",
                status=status,
                latency_ms=latency if latency is not None else float(self.rng.gamma(2.0, 5.0)),
                inputs=pd.DataFrame(frame),
                outputs=[int(p > 0.5)],
                proba=[[1 - p, p]],
                timestamp_ms=t0 + int(i * step),
            )
            ids.append(rid)
        self.predictions.flush()
        return ids

    def label(self, ids: list[str], *, accuracy: float = 1.0, unknown: int = 0) -> None:
        """Labels for ``ids``: the logged prediction with probability ``accuracy``, else its
        opposite; plus ``unknown`` labels for request ids nobody served."""
        frame = self._logged(ids)
        items = []
        for rid, pred in zip(frame["request_id"], frame["prediction"], strict=True):
            right = self.rng.random() < accuracy
            items.append({"request_id": rid, "label": int(pred) if right else 1 - int(pred)})
        items += [{"request_id": f"ghost-{i}", "label": 1} for i in range(unknown)]
        self.feedback.record(self.endpoint, items)
        self.feedback.flush()

    def _logged(self, ids: list[str]) -> pd.DataFrame:
        from loopml.serving import read_log

        frame = read_log(self.root, "predictions", self.endpoint)
        return frame[frame["request_id"].isin(ids)]

    def close(self) -> None:
        self.predictions.close()
        self.feedback.close()


@dataclass
class World:
    store: Store
    blobs: ArtifactStore
    data: DataService
    logs: LogReader
    traffic: Traffic
    services: list[MonitorService] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)

    def service(self, *, own_store: bool = False, **kwargs: Any) -> MonitorService:
        """A monitor service; ``own_store``: with its own engines on the same database, as
        another process or server would have."""
        store = self.store
        if own_store:
            store = Store(self.store.url)
            self.stores.append(store)
        data = DataService(DatasetCatalog(store), self.blobs)
        made = MonitorService(store, data=data, blobs=self.blobs, logs=self.logs, **kwargs)
        self.services.append(made)
        return made

    def close(self) -> None:
        for service in self.services:
            service.close(timeout=5)
        for store in self.stores:
            store.dispose()
        self.traffic.close()


# ------------------------------------------------------------------ webhook receivers
class Hook:
    """A real HTTP server on 127.0.0.1 that answers POSTs with the given statuses in turn
    (then 200), or holds every request until closed (``hang``)."""

    def __init__(self, statuses: list[int] | None = None, *, hang: bool = False) -> None:
        self.statuses = list(statuses or [])
        self.hang = hang
        self.bodies: list[dict[str, Any]] = []
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                if hook.hang:
                    hook.release.wait(30)
                    return
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class LiveApp:
    """An ASGI app served by uvicorn on 127.0.0.1 from a thread, with its lifespan (start-up
    and shutdown) run, as ``loopml server`` runs it."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", ws="none"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> LiveApp:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "no start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
