"""Cache expiry: ``delete_cache_entries`` / ``loopml pipeline gc`` drop the entries that no run
has used since a cutoff, never a blob, and a rerun recomputes what was dropped."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import _example_pipeline as ex
import pytest
from _example_pipeline import hashes, statuses
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from loopml.config import Settings
from loopml.errors import InvalidInput
from loopml.ids import now_ms
from loopml.pipeline import CacheIndex, Pipeline, delete_cache_entries, step
from loopml.pipeline._gc import parse_age
from loopml.store import PipelineCacheRow
from loopml.tracking import RunBatch, TrackingService, new_run

DAY_MS = 86_400_000


def backdate(settings: Settings, *, days: int) -> None:
    """Make every cache entry look last used ``days`` ago (tests cannot wait a month)."""
    service = TrackingService.from_settings(settings)
    with service.store.write() as conn:
        conn.execute(update(PipelineCacheRow).values(last_used=now_ms() - days * DAY_MS))


def entry_count(settings: Settings) -> int:
    service = TrackingService.from_settings(settings)
    with service.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(PipelineCacheRow)).scalar_one())


def test_entries_unused_since_the_cutoff_go_and_a_rerun_recomputes_them(
    any_settings: Settings,
) -> None:
    first = ex.churn.run(settings=any_settings)
    backdate(any_settings, days=40)
    # Another lr reuses (and so refreshes) every entry but train's.
    second = ex.churn.run(params={"lr": 0.2}, settings=any_settings)
    assert statuses(second)["train"] == "ran" and statuses(second)["load"] == "cached"
    service = TrackingService.from_settings(any_settings)
    index = CacheIndex(service.store, service.blobs)
    old_train = first.steps["train"]
    assert old_train.cache_key and old_train.output_blob

    dry = delete_cache_entries(older_than="30d", dry_run=True, settings=any_settings)
    assert [e.cache_key for e in dry.entries] == [old_train.cache_key]
    assert dry.entries[0].step == "train" and dry.entries[0].pipeline == "churn"
    assert dry.entries[0].blob == old_train.output_blob
    blob_size = len(service.blobs.get_bytes(old_train.output_blob))
    assert (dry.reclaimable_blobs, dry.reclaimable_bytes) == (1, blob_size)
    assert index.get(old_train.cache_key) is not None  # a dry run removes nothing

    done = delete_cache_entries(older_than=timedelta(days=30), settings=any_settings)
    assert [e.cache_key for e in done.entries] == [old_train.cache_key]
    assert not done.dry_run and done.reclaimable_bytes == blob_size
    assert index.get(old_train.cache_key) is None
    assert service.blobs.exists(old_train.output_blob)  # reported, never deleted
    assert entry_count(any_settings) == 5
    assert delete_cache_entries(older_than="30d", settings=any_settings).entries == []

    rerun = ex.churn.run(settings=any_settings)
    assert statuses(rerun) == {**dict.fromkeys(ex.churn.order, "cached"), "train": "ran"}
    assert hashes(rerun) == hashes(first)
    assert rerun.outputs["train"] == first.outputs["train"]


def test_blobs_that_something_else_holds_are_not_reclaimable(settings: Settings) -> None:
    @step
    def constant(k: int) -> int:
        return 7  # the same output (and blob) for every k

    @step
    def double(k: int) -> int:
        return 2 * k

    pipe = Pipeline("shared", [constant, double])
    first = pipe.run(params={"k": 1}, settings=settings)
    backdate(settings, days=2)
    pipe.run(params={"k": 2}, settings=settings)  # constant@2 holds constant@1's blob
    # double@1's bytes are also a run artifact somewhere else.
    service = TrackingService.from_settings(settings)
    other = new_run(0, run_name="holder")
    service.runs.write(other.run_id, RunBatch(create=other))
    blob = first.steps["double"].output_blob
    assert blob is not None
    service.artifacts.log_bytes(other.run_id, service.blobs.get_bytes(blob), "copy.json")

    result = delete_cache_entries(older_than="1d", settings=settings)
    assert sorted(e.step for e in result.entries) == ["constant", "double"]
    assert (result.reclaimable_blobs, result.reclaimable_bytes) == (0, 0)


def test_only_the_named_pipeline_is_expired(settings: Settings) -> None:
    ex.churn.run(settings=settings)
    Pipeline("other", [ex.load], params={"n": 7}).run(settings=settings)
    backdate(settings, days=2)
    result = delete_cache_entries(older_than="1d", pipeline="other", settings=settings)
    assert [(e.step, e.pipeline) for e in result.entries] == [("load", "other")]
    assert entry_count(settings) == 5  # churn's are all still there
    assert delete_cache_entries(older_than="1d", pipeline="nope", settings=settings).entries == []


@pytest.mark.parametrize(
    ("text", "age"),
    [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90)),
     ("45s", timedelta(seconds=45)), ("2w", timedelta(weeks=2)), ("1.5d", timedelta(hours=36)),
     ("0s", timedelta(0))],
)  # fmt: skip
def test_ages(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


def test_a_bad_age_is_refused(settings: Settings) -> None:
    for bad in ("banana", "30", "d", "-1d", "30 days", ""):
        with pytest.raises(InvalidInput, match="is not an age"):
            delete_cache_entries(older_than=bad, settings=settings)
    with pytest.raises(InvalidInput, match="must not be negative"):
        delete_cache_entries(older_than=timedelta(days=-1), settings=settings)


def test_the_gc_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopml.cli._app import new_app
    from loopml.cli.pipeline import pipeline_app

    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    app = new_app("test")
    app.add_typer(pipeline_app, name="pipeline")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, ["pipeline", *args])
        assert result.exit_code == code, (result.output, result.exception)
        return result

    helped = invoke("gc", "--help").output
    assert "Example:" in helped and "artifact store" in helped

    bad = invoke("gc", "--older-than", "banana", code=2)
    assert "INVALID_INPUT" in bad.output and "'banana' is not an age" in bad.output

    ex.churn.run(settings=Settings(home=tmp_path / "home"))
    backdate(Settings(home=tmp_path / "home"), days=3)
    dry = json.loads(invoke("gc", "--older-than", "2d", "--dry-run", "--json").stdout)
    assert dry["dry_run"] is True and len(dry["entries"]) == 5
    assert {e["step"] for e in dry["entries"]} == set(ex.churn.order)
    assert dry["reclaimable_blobs"] == 5 and dry["reclaimable_bytes"] > 0
    assert "would remove 5 cache entries" in invoke("gc", "--older-than", "2d", "--dry-run").output
    removed = invoke("gc", "--older-than", "2d", "--pipeline", "churn").output
    assert "removed 5 cache entries" in removed and "blobs are kept" in removed
    assert json.loads(invoke("gc", "--json").stdout)["entries"] == []
