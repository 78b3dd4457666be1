"""Hot swaps under steady load: aliases moving, the endpoint updated and rolled back, zero
failed requests; a version that fails to load leaves the old one serving, and says so."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from _serving_process import endpoint_store
from prometheus_client.parser import text_string_to_metric_families
from sklearn.linear_model import LogisticRegression

import loopml
from loopml.client import get_client

ROW = [5.1, 3.5, 1.4, 0.2]
V2 = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}


class Load:
    """Clients sending requests back to back (both protocols) until stopped."""

    def __init__(self, url: str, clients: int = 4) -> None:
        self.url = url
        self.answers: Counter[str] = Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, i: int) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                try:
                    if i % 2:
                        r = client.post(self.url + "/invocations", json={"instances": [ROW]})
                    else:
                        r = client.post(self.url + "/v2/models/flowers-live/infer", json=V2)
                    ok = r.status_code == 200
                    seen = r.headers.get("x-loopml-model-version", "") if ok else r.text[:300]
                except httpx.HTTPError as exc:
                    ok, seen = False, repr(exc)
                with self._lock:
                    if ok:
                        self.answers[seen] += 1
                    else:
                        self.failures.append(seen)

    def total(self) -> int:
        with self._lock:
            return sum(self.answers.values()) + len(self.failures)


def _status(url: str) -> dict[str, Any]:
    endpoints: list[dict[str, Any]] = httpx.get(url + "/endpoints").json()["endpoints"]
    return endpoints[0]


def _wait(condition: Any) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def _serving(url: str, *versions: str) -> bool:
    return sorted(r["version"] for r in _status(url)["routes"]) == sorted(versions)


@pytest.mark.slow
def test_swaps_under_load_fail_no_request(registered: Any, serve_targets: Any) -> None:
    endpoints = endpoint_store()
    endpoints.create({"name": "flowers-live", "routes": [{"model": "models:/flowers@production"}]})
    served = serve_targets(["flowers-live"], serve_poll_s=0.1)
    url = served.url
    with Load(url) as load:
        _wait(lambda: load.total() > 20)
        for i in range(8):  # the alias moves between the two versions
            version = 1 if i % 2 == 0 else 2
            loopml.set_model_alias("flowers", "production", version, reason="swap test")
            _wait(lambda v=str(version): _serving(url, v))  # type: ignore[misc]
            time.sleep(0.3)
        # The endpoint changes: a canary route, new batching (every version reloaded)...
        endpoints.update({"name": "flowers-live", "batching": {"max_batch_size": 8},
                          "routes": [{"model": "models:/flowers@production", "weight": 1},
                                     {"model": "models:/flowers/2", "weight": 1}]})  # fmt: skip
        _wait(lambda: _status(url)["generation"] == 2)
        time.sleep(0.3)
        endpoints.rollback("flowers-live")  # ...and back
        _wait(lambda: _status(url)["generation"] == 3 and len(_status(url)["routes"]) == 1)
        time.sleep(0.3)
    assert load.failures == []
    assert set(load.answers) == {"flowers/1", "flowers/2"}
    assert load.total() > 100
    status = _status(url)
    assert status["swaps"] >= 10 and status["last_error"] is None
    # Every version swapped out was freed; the pool holds only what it serves.
    assert [m.version for m in served.pool.endpoint("flowers-live").models] == ["2"]


def _tamper(run_id: str, home: Path, tmp_path: Path) -> None:
    files = get_client().download_artifacts(run_id, "model", tmp_path / "v3")
    manifest = yaml.safe_load((Path(files) / "loopml-model.yaml").read_text())
    sha = manifest["sha256"]
    blob = home / "artifacts" / "sha256" / sha[:2] / sha[2:4] / sha
    blob.write_bytes(b"not the weights that were logged")


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(
    registered: Any, serve_targets: Any, home: Path, tmp_path: Path, iris: Any
) -> None:
    X, y = iris
    with loopml.start_run(experiment="flowers") as run:
        loopml.log_model(LogisticRegression(C=0.1, max_iter=500).fit(X, y), "model",
                         input_example=X.head(5))  # fmt: skip
    loopml.register_model(f"runs:/{run.run_id}/model", "flowers")  # version 3
    _tamper(run.run_id, home, tmp_path)
    endpoint_store().create(
        {"name": "flowers-live", "routes": [{"model": "models:/flowers@production"}]}
    )
    served = serve_targets(["flowers-live"], serve_poll_s=0.1)
    url = served.url
    loopml.set_model_alias("flowers", "production", 3, reason="a broken version")
    _wait(lambda: _status(url)["last_error"] is not None)
    error = _status(url)["last_error"]
    assert error["stage"] == "load" and "sha256" in error["message"]
    answer = httpx.post(url + "/invocations", json={"instances": [ROW]})
    assert answer.status_code == 200 and answer.headers["x-loopml-model-version"] == "flowers/2"
    text = httpx.get(url + "/metrics").text
    swaps = {
        s.labels["outcome"]: s.value
        for f in text_string_to_metric_families(text)
        if f.name == "loopml_serving_swaps"
        for s in f.samples
        if s.name.endswith("_total")
    }
    assert swaps == {"failed": 1.0}  # tried once, not at every poll
    loopml.set_model_alias("flowers", "production", 1, reason="back to a good one")
    _wait(lambda: _serving(url, "1"))
    assert _status(url)["last_error"] is None
