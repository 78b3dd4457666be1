"""Pipelines: the DAG, cache keys and reuse, outputs, failures and retries, run records and
the ``loopml pipeline`` commands (executors: test_executors.py, cache expiry: test_gc.py)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import _example_pipeline as ex
import cloudpickle
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from _example_pipeline import hashes, statuses
from typer.testing import CliRunner

from loopml.config import Settings
from loopml.errors import InvalidInput, LoopMLError
from loopml.pipeline import (
    PIPELINE_TAG,
    Pipeline,
    StepFailed,
    decode_output,
    encode_output,
    get_pipeline_run,
    list_pipeline_runs,
    step,
)
from loopml.tracking import RunStatus, TrackingService


def test_the_public_names_are_pinned() -> None:
    import loopml.pipeline

    assert sorted(loopml.pipeline.__all__) == sorted(
        ["PIPELINE_TAG", "CacheEntry", "CacheGcResult", "CacheIndex", "DaskExecutor",
         "EncodedOutput", "Executor", "LocalExecutor", "OutputManifest", "Pipeline",
         "PipelineResult", "PipelineRun", "ProcessExecutor", "Step", "StepEvent",
         "StepFailed", "StepResult", "TaskResult", "cache_key", "decode_output",
         "delete_cache_entries", "encode_output", "get_pipeline_run", "list_pipeline_runs",
         "make_executor", "step"]
    )  # fmt: skip
    assert all(hasattr(loopml.pipeline, name) for name in loopml.pipeline.__all__)


# -- the DAG -------------------------------------------------------------------------------
def test_the_dag_comes_from_parameter_names() -> None:
    assert ex.churn.upstream["train"] == ("clean", "features")
    assert ex.churn.step_params("train") == ("lr",)
    order = ex.churn.order
    assert order.index("load") < order.index("clean") < order.index("train")
    assert order.index("features") < order.index("train")
    assert set(ex.churn.downstream("load")) == {"clean", "features", "summary"}


def test_duplicate_step_names_are_refused() -> None:
    other = step(name="load")(lambda n: n)
    with pytest.raises(InvalidInput, match="two steps named 'load'"):
        Pipeline("dup", [ex.load, other])


def test_a_cycle_is_refused_and_named() -> None:
    @step
    def a(c: int) -> int:
        return c

    @step
    def b(a: int) -> int:
        return a

    @step
    def c(b: int) -> int:
        return b

    with pytest.raises(InvalidInput, match="cycle in pipeline 'loop'") as info:
        Pipeline("loop", [a, b, c])
    assert "a -> b -> c -> a" in str(info.value)  # in data-flow order
    assert info.value.details["cycle"] == ["a", "b", "c", "a"]

    @step
    def itself(itself: int) -> int:
        return itself

    with pytest.raises(InvalidInput, match="cycle in pipeline 'self': itself -> itself"):
        Pipeline("self", [itself])


def test_a_missing_param_names_the_step_and_the_param(settings: Settings) -> None:
    pipe = Pipeline("noparams", [ex.load, ex.features])
    with pytest.raises(InvalidInput, match=r"step 'load' .* needs param 'n'"):
        pipe.run(settings=settings)
    with pytest.raises(InvalidInput, match="no param 'learning_rate'"):
        ex.churn.run(params={"learning_rate": 1}, settings=settings)


def test_steps_stay_callable_and_reject_bad_arguments() -> None:
    assert ex.train(clean=pd.DataFrame({"x": [1.0]}), features=np.array([2.0]), lr=0.5) == {
        "lr": 0.5,
        "rows": 1.0,
        "score": 1.0,
    }
    with pytest.raises(InvalidInput, match="retries"):
        step(retries=-1)(lambda: 1)
    with pytest.raises(InvalidInput, match="plain named parameter"):
        step(lambda **kw: 1)


# -- cache keys and reuse --------------------------------------------------------------------
def test_rerun_param_change_and_code_change(any_settings: Settings) -> None:
    first = ex.churn.run(settings=any_settings)
    assert set(statuses(first).values()) == {"ran"}
    assert first.status == "FINISHED"

    again = ex.churn.run(settings=any_settings)
    assert set(statuses(again).values()) == {"cached"}
    assert hashes(again) == hashes(first)
    assert again.outputs["train"] == first.outputs["train"]
    pd.testing.assert_frame_equal(again.outputs["clean"], first.outputs["clean"])
    assert all(again.steps[n].cache_key == first.steps[n].cache_key for n in first.steps)

    new_lr = ex.churn.run(params={"lr": 0.2}, settings=any_settings)
    assert statuses(new_lr) == {
        "load": "cached",
        "clean": "cached",
        "features": "cached",
        "summary": "cached",
        "train": "ran",
    }
    assert new_lr.outputs["train"]["lr"] == 0.2

    # Back to the first value: the earlier entry is still in the cache (many per step).
    assert set(statuses(ex.churn.run(settings=any_settings)).values()) == {"cached"}

    # The same code under another function: clean and what depends on it rerun.
    @step(name="clean", retries=1)
    def clean_v2(load: pd.DataFrame, crash_dir: str = "") -> pd.DataFrame:
        return load[load["x"] > 0.5].reset_index(drop=True)

    edited = Pipeline("churn", [ex.load, clean_v2, ex.features, ex.summary, ex.train],
                      params={"n": 200, "lr": 0.1})  # fmt: skip
    assert statuses(edited.run(settings=any_settings)) == {
        "load": "cached",
        "clean": "ran",
        "features": "cached",
        "summary": "cached",
        "train": "ran",
    }


def test_the_cache_key_covers_code_params_inputs_and_extra_code() -> None:
    from loopml.pipeline import cache_key

    base = {"step": "s", "fingerprint": "f", "params": {"a": 1}, "inputs": {"u": "h"}}
    key = cache_key(**base)  # type: ignore[arg-type]
    assert key == cache_key(**base)  # type: ignore[arg-type]
    for change in ({"fingerprint": "g"}, {"params": {"a": 2}}, {"inputs": {"u": "i"}}):
        assert cache_key(**{**base, **change}) != key  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="param 'a' of step 's'"):
        cache_key(**{**base, "params": {"a": object()}})  # type: ignore[arg-type]

    plain = step(name="helped")(ex.load.fn)
    with_helper = step(name="helped", extra_code=[ex.features])(ex.load.fn)
    assert plain.fingerprint() != with_helper.fingerprint()
    # Changing only the decorator (retries) keeps the fingerprint: it is not the code.
    assert step(retries=5)(ex.load.fn).fingerprint() == ex.load.fingerprint()
    with pytest.raises(InvalidInput, match="extra_code"):
        step(extra_code=[42])(ex.load.fn).fingerprint()


def test_a_lost_blob_makes_the_step_run_again(settings: Settings) -> None:
    first = ex.churn.run(settings=settings)
    service = TrackingService.from_settings(settings)
    blob = first.steps["train"].output_blob
    assert blob is not None
    service.blobs.delete(blob)
    again = ex.churn.run(settings=settings)
    assert again.steps["train"].status == "ran" and again.steps["clean"].status == "cached"
    assert again.steps["train"].output_hash == first.steps["train"].output_hash


# -- outputs ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
        pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
        pa.table({"a": [1, 2]}),
        np.arange(6, dtype="float32").reshape(2, 3),
        {"b": [1, 2.5, None], "a": "text"},
        3,
    ],
    ids=["pandas", "polars", "arrow", "numpy", "dict", "int"],
)
def test_outputs_round_trip_with_stable_hashes(value: Any) -> None:
    out = encode_output(value, step="s")
    again = encode_output(value, step="s")
    assert (out.data, out.content_hash) == (again.data, again.content_hash)
    back = decode_output(out.kind, out.data)
    assert type(back) is type(value)
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value)
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(back, value)
    elif isinstance(value, pl.DataFrame | pa.Table):
        assert back.equals(value)
    else:
        assert back == value


def test_an_unstorable_output_names_the_step_and_the_type(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match=r"step 'odd' returned a builtins\.set"):
        encode_output({1, 2}, step="odd")
    with pytest.raises(InvalidInput, match="numpy arrays of Python objects"):
        encode_output(np.array([object()]), step="odd")

    @step
    def odd(n: int) -> Any:
        return {n}

    with pytest.raises(InvalidInput, match=r"step 'odd' returned a builtins\.set") as info:
        Pipeline("odd", [odd], params={"n": 1}).run(settings=settings)
    assert info.value.details["attempts"] == 1  # no retry can fix a type
    runs = list_pipeline_runs(pipeline="odd", settings=settings)
    assert [r.status for r in runs] == ["FAILED"]


# -- failures and retries ----------------------------------------------------------------------
def test_a_failing_step_stops_the_pipeline(settings: Settings) -> None:
    with pytest.raises(StepFailed) as info:
        ex.failing.run(settings=settings)
    error = info.value
    assert isinstance(error, LoopMLError)
    assert "step 'broken'" in error.message and "1 attempt" in error.message
    assert "ValueError: bad data: 10 rows" in error.message
    assert "Traceback" in error.details["traceback"] and "bad data" in error.details["traceback"]

    record = get_pipeline_run(error.details["run_id"], settings=settings)
    assert record.status == "FAILED"
    by_name = {s["name"]: s for s in record.steps}
    assert by_name["broken"]["status"] == "failed"
    assert by_name["load"]["status"] == "ran"
    assert "after_broken" not in by_name  # never started: no child run
    service = TrackingService.from_settings(settings)
    assert service.runs.get(by_name["broken"]["run_id"]).info.status == RunStatus.FAILED

    # Earlier outputs stay in the cache.
    with pytest.raises(StepFailed):
        ex.failing.run(settings=settings)
    again = list_pipeline_runs(pipeline="failing", settings=settings)[0]
    steps = {
        s["name"]: s["status"] for s in get_pipeline_run(again.run_id, settings=settings).steps
    }
    assert steps["load"] == "cached"


def test_skipped_steps_are_reported(settings: Settings) -> None:
    events: list[tuple[str, str]] = []
    with pytest.raises(StepFailed):
        ex.failing.run(settings=settings, on_event=lambda e: events.append((e.step, e.status)))
    assert ("after_broken", "skipped") in events and ("broken", "failed") in events


def test_a_flaky_step_is_retried(settings: Settings, tmp_path: Path) -> None:
    pipe = Pipeline("flaky", [ex.flaky], params={"n": 5, "fail_dir": str(tmp_path)})
    events: list[str] = []
    result = pipe.run(settings=settings, on_event=lambda e: events.append(e.status))
    assert result.steps["flaky"].attempts == 3 and result.outputs["flaky"] == 5
    assert events.count("retrying") == 2
    record = get_pipeline_run(result.run_id, settings=settings)
    assert record.steps[0]["attempts"] == 3

    @step(retries=1)
    def always(n: int) -> int:
        raise RuntimeError("nope")

    with pytest.raises(StepFailed, match="after 2 attempts: RuntimeError: nope"):
        Pipeline("always", [always], params={"n": 1}).run(settings=settings)


# -- run records -------------------------------------------------------------------------------
def test_parent_and_child_runs_are_recorded(settings: Settings) -> None:
    result = ex.churn.run(settings=settings)
    cached = ex.churn.run(settings=settings)
    service = TrackingService.from_settings(settings)
    parent = service.runs.get(result.run_id)
    assert parent.data.tags[PIPELINE_TAG] == "churn"
    assert parent.data.params == {"n": "200", "lr": "0.1"}
    assert parent.info.status == RunStatus.FINISHED
    assert service.experiments.get(parent.info.experiment_id).name == "churn"

    train = service.runs.get(result.steps["train"].run_id or "")
    assert train.info.parent_run_id == result.run_id
    assert train.data.params == {"lr": "0.1"}
    assert train.data.tags["loopml.pipeline.cache_key"] == result.steps["train"].cache_key
    inputs = json.loads(train.data.tags["loopml.pipeline.inputs"])
    assert inputs == {n: result.steps[n].output_hash for n in ("clean", "features")}
    assert train.data.tags["loopml.pipeline.output_hash"] == result.steps["train"].output_hash
    assert "duration_s" in train.data.metrics

    skipped = service.runs.get(cached.steps["train"].run_id or "")
    assert skipped.data.tags["loopml.pipeline.status"] == "cached"
    assert skipped.info.status == RunStatus.FINISHED

    listed = list_pipeline_runs(settings=settings)
    assert [r.run_id for r in listed] == [cached.run_id, result.run_id]
    assert listed[0].metrics["steps_cached"] == 5
    with pytest.raises(InvalidInput, match="not a pipeline run"):
        get_pipeline_run(result.steps["load"].run_id or "", settings=settings)


def test_steps_pickle_by_reference_or_by_value() -> None:
    assert pickle.loads(pickle.dumps(ex.train)) is ex.train

    @step
    def local(n: int) -> int:
        return n + 1

    assert cloudpickle.loads(cloudpickle.dumps(local))(n=1) == 2


# -- the CLI -----------------------------------------------------------------------------------
def test_the_pipeline_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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

    for command in ("run", "list", "show", "gc"):
        assert "Example:" in invoke(command, "--help").output

    ran = json.loads(invoke("run", "_example_pipeline:churn", "-p", "lr=0.3", "--json").stdout)
    assert ran["status"] == "FINISHED" and ran["params"]["lr"] == 0.3
    assert "cached" in invoke("run", "_example_pipeline:churn", "--param", "lr=0.3").output
    listed = json.loads(invoke("list", "--json").stdout)
    assert len(listed) == 2 and listed[1]["run_id"] == ran["run_id"]
    shown = json.loads(invoke("show", ran["run_id"], "--json").stdout)
    assert {s["name"] for s in shown["steps"]} == set(ex.churn.order)
    assert "train" in invoke("show", ran["run_id"]).output

    failed = invoke("run", "_example_pipeline:failing", code=1)
    assert "STEP_FAILED" in failed.output and "ValueError: bad data" in failed.output
    assert invoke("run", "no_such_module:x", code=2)
    assert invoke("run", "_example_pipeline:load", code=2)
    assert "unknown executor 'ray'" in invoke("run", "_example_pipeline:churn", "--executor",
                                              "ray", code=2).output  # fmt: skip
    unreachable = invoke("run", "_example_pipeline:churn", "--executor", "dask://127.0.0.1:1",
                         code=7)  # fmt: skip
    assert "UNAVAILABLE" in unreachable.output and "dask://127.0.0.1:1" in unreachable.output
