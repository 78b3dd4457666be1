"""The retry rule of ``create_version``: an identical create within the window, while the
version it would duplicate is the model's newest and exists, answers that version."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import update

from loopml.errors import InvalidInput
from loopml.ids import now_ms
from loopml.registry import RETRY_WINDOW_MS, ModelRegistry
from loopml.registry._retries import mlflow_retry_span_ms
from loopml.store import ModelVersionRow, Store
from loopml.tracking import Run, TrackingService

W = RETRY_WINDOW_MS


def _created(registry: ModelRegistry) -> list[int]:
    return sorted(
        e.version or 0 for e in registry.audit("m", limit=1000) if e.action == "create_version"
    )


def test_an_identical_create_within_the_window_is_answered_with_the_first_version(
    registry: ModelRegistry, run: Run, tracking: TrackingService
) -> None:
    registry.create_model("m")
    src, rid = f"runs:/{run.info.run_id}/model", run.info.run_id
    request: dict[str, Any] = {
        "description": "d", "tags": {"k": "v"}, "metrics": {"auc": 0.9},
        "datasets": ["churn@1"], "signature": "{}",
    }  # fmt: skip
    first = registry.create_version("m", src, **request, retry_window_ms=W)
    assert first.version == 1
    again = registry.create_version("m", src, run_id=rid, **request, retry_window_ms=W)
    assert again == first  # run_id given or inferred: the same request
    assert _created(registry) == [1]  # nothing registered, nothing audited

    # Anything that differs is another version (each one then the newest).
    other = tracking.runs.create(tracking.experiments.create("other"))
    variants: list[tuple[str, dict[str, Any]]] = [
        (src, {**request, "tags": {"k": "w"}}),
        (src, {**request, "tags": {}}),
        (src, {**request, "description": "e"}),
        (f"runs:/{rid}/other-model", request),
        (f"runs:/{other.info.run_id}/model", request),
        (src, {**request, "metrics": {"auc": 0.91}}),
        (src, {**request, "datasets": ["churn@2"]}),
        (src, {**request, "signature": ""}),
        (src, {**request, "user": "bob"}),
    ]
    for number, (source, kwargs) in enumerate(variants, start=2):
        made = registry.create_version("m", source, **kwargs, retry_window_ms=W)
        assert made.version == number, (source, kwargs)
        # ... and its own retry is answered with it.
        assert registry.create_version("m", source, **kwargs, retry_window_ms=W) == made
    assert _created(registry) == list(range(1, len(variants) + 2))


def test_only_the_newest_existing_version_within_the_window_answers(
    registry: ModelRegistry, run: Run, store: Store
) -> None:
    registry.create_model("m")
    a, b = f"runs:/{run.info.run_id}/a", f"runs:/{run.info.run_id}/b"
    assert registry.create_version("m", a, retry_window_ms=W).version == 1
    assert registry.create_version("m", b, retry_window_ms=W).version == 2
    # v1 is no longer the newest: registering a again is deliberate, not a retry.
    assert registry.create_version("m", a, retry_window_ms=W).version == 3
    # After the newest is deleted, an identical create makes a new version, never the
    # deleted one's number; nor does an older version answer for it.
    registry.delete_version("m", 3)
    assert registry.create_version("m", a, retry_window_ms=W).version == 4
    registry.create_version("m", b, retry_window_ms=W)  # v5
    registry.delete_version("m", 5)
    assert registry.create_version("m", b, retry_window_ms=W).version == 6

    # Outside the window: a new version. At its edge: still the retry.
    with store.write() as conn:
        conn.execute(
            update(ModelVersionRow)
            .where(ModelVersionRow.version == 6)
            .values(creation_timestamp=now_ms() - W + 60_000)
        )
    assert registry.create_version("m", b, retry_window_ms=W).version == 6
    with store.write() as conn:
        conn.execute(
            update(ModelVersionRow)
            .where(ModelVersionRow.version == 6)
            .values(creation_timestamp=now_ms() - W - 1)
        )
    assert registry.create_version("m", b, retry_window_ms=W).version == 7

    # A version changed since (a tag set by someone else) is no longer what the retry asks.
    registry.set_version_tag("m", 7, "reviewed", "yes")
    assert registry.create_version("m", b, retry_window_ms=W).version == 8


def test_without_a_window_every_create_is_a_new_version(registry: ModelRegistry, run: Run) -> None:
    registry.create_model("m")
    src = f"runs:/{run.info.run_id}/model"
    assert [registry.create_version("m", src).version for _ in range(3)] == [1, 2, 3]
    assert registry.create_version("m", src, retry_window_ms=0).version == 4
    for bad in (-1, True, "60000", 1.5):
        with pytest.raises(InvalidInput, match="retry_window_ms"):
            registry.create_version("m", src, retry_window_ms=bad)  # type: ignore[arg-type]
    assert _created(registry) == [1, 2, 3, 4]


def test_concurrent_identical_creates_make_one_version(store: Store, run: Run) -> None:
    # As retries racing the attempt they repeat, through two Stores (as two processes would).
    second = Store(store.url)
    registries = [ModelRegistry(store, user="a"), ModelRegistry(second, user="a")]
    registries[0].create_model("m")
    src = f"runs:/{run.info.run_id}/model"

    def create(i: int) -> int:
        return registries[i % 2].create_version("m", src, retry_window_ms=W).version

    try:
        with ThreadPoolExecutor(6) as pool:
            numbers = list(pool.map(create, range(24)))
        assert numbers == [1] * 24
        assert [v.version for v in registries[0].list_versions("m")] == [1]
        assert _created(registries[0]) == [1]
    finally:
        second.dispose()


def test_the_window_covers_the_installed_mlflow_clients_retries() -> None:
    import urllib3
    from mlflow import environment_variables as env

    retries = env.MLFLOW_HTTP_REQUEST_MAX_RETRIES.default
    factor = env.MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.default
    jitter = env.MLFLOW_HTTP_REQUEST_BACKOFF_JITTER.default
    timeout = env.MLFLOW_HTTP_REQUEST_TIMEOUT.default
    backoff_max = urllib3.util.Retry.DEFAULT_BACKOFF_MAX
    span = mlflow_retry_span_ms(max_retries=retries, backoff_factor=factor,
                                backoff_jitter=jitter, timeout_s=timeout,
                                backoff_max_s=backoff_max)  # fmt: skip
    # The defaults the module documents are the installed client's.
    assert span == mlflow_retry_span_ms() == 1_089_000
    assert span < RETRY_WINDOW_MS
