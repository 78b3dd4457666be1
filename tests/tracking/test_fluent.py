"""The module-level API as MLflow users write it: runs as context managers, logging, search."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import loopml
from loopml.client import Client, open_service
from loopml.config import Settings
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.tracking import RunStatus, capture_environment


def test_context_manager_finishes_the_run(client: Client) -> None:
    with loopml.start_run(experiment="fluent", run_name="ok", tags={"k": "v"}) as run:
        assert loopml.active_run() is run
        loopml.log_param("lr", 0.01)
        loopml.log_params({"depth": 3, "model": "rf"})
        for step in range(100):
            loopml.log_metric("loss", 1.0 / (step + 1), step=step)
        loopml.log_metrics({"acc": 0.9, "f1": 0.8})
        loopml.set_tag("stage", "dev")
        loopml.set_tags({"a": "1", "b": "2"})
    assert loopml.active_run() is None
    got = loopml.get_run(run.run_id)
    assert got.info.status == RunStatus.FINISHED and got.info.end_time is not None
    assert got.data.params == {"lr": "0.01", "depth": "3", "model": "rf"}
    assert got.data.metrics == {"loss": 0.01, "acc": 0.9, "f1": 0.8}
    assert {"k": "v", "stage": "dev", "a": "1", "b": "2"}.items() <= got.data.tags.items()
    history = loopml.get_metric_history(run.run_id, "loss")
    assert [m.step for m in history] == list(range(100))
    assert history[-1].value == pytest.approx(0.01)


def test_exception_fails_the_run_and_ctrl_c_kills_it(client: Client) -> None:
    with pytest.raises(RuntimeError), loopml.start_run() as failed:
        loopml.log_metric("m", 1.0)
        raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt), loopml.start_run() as killed:
        raise KeyboardInterrupt
    assert loopml.get_run(failed.run_id).info.status == RunStatus.FAILED
    assert loopml.get_run(failed.run_id).data.metrics == {"m": 1.0}  # flushed before failing
    assert loopml.get_run(killed.run_id).info.status == RunStatus.KILLED


def test_nested_runs(client: Client) -> None:
    with loopml.start_run(run_name="parent") as parent:
        with pytest.raises(Conflict, match="nested=True"):
            loopml.start_run()
        with loopml.start_run(run_name="child", nested=True) as child:
            loopml.log_metric("inner", 1.0)
        loopml.log_metric("outer", 2.0)
    assert loopml.get_run(child.run_id).info.parent_run_id == parent.run_id
    assert loopml.get_run(child.run_id).data.metrics == {"inner": 1.0}
    assert loopml.get_run(parent.run_id).data.metrics == {"outer": 2.0}


def test_logging_without_a_run_starts_one(client: Client) -> None:
    loopml.log_metric("auto", 3.0)
    run = loopml.active_run()
    assert run is not None
    loopml.end_run()
    assert loopml.get_run(run.run_id).data.metrics == {"auto": 3.0}


def test_logging_to_an_ended_or_unknown_run(client: Client) -> None:
    with loopml.start_run() as run:
        pass
    with pytest.raises(Conflict, match="ended"):
        run.log_metric("late", 1.0)
    with pytest.raises(Conflict, match="FINISHED"):
        loopml.log_metric("late", 1.0, run_id=run.run_id)
    with pytest.raises(Conflict, match="FINISHED"):
        loopml.log_param("late", 1, run_id=run.run_id)
    with pytest.raises(NotFound):
        loopml.log_metric("x", 1.0, run_id="0" * 32)


@pytest.mark.parametrize("value", ["0.5", None, [1], True])
def test_non_numeric_metrics_fail_at_the_call(client: Client, value: object) -> None:
    with loopml.start_run(), pytest.raises(InvalidInput, match="number"):
        loopml.log_metric("m", value)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["", "x" * 251, "a/../b", 7])
def test_bad_metric_keys_fail_at_the_call(client: Client, key: object) -> None:
    with loopml.start_run(), pytest.raises(InvalidInput, match="key"):
        loopml.log_metric(key, 1.0)  # type: ignore[arg-type]


def test_param_conflicts_are_immediate(client: Client) -> None:
    with loopml.start_run():
        loopml.log_param("lr", 0.1)
        with pytest.raises(InvalidInput, match="immutable"):
            loopml.log_param("lr", 0.2)


def test_special_values_and_numpy_numbers(client: Client) -> None:
    import numpy as np

    with loopml.start_run() as run:
        loopml.log_metric("nan", math.nan)
        loopml.log_metric("inf", math.inf)
        loopml.log_metric("np", np.float32(0.25))
        loopml.log_metric("int", 3, step=np.int64(4))
    metrics = loopml.get_run(run.run_id).data.metrics
    assert math.isnan(metrics["nan"]) and metrics["inf"] == math.inf
    assert metrics["np"] == 0.25 and metrics["int"] == 3.0
    assert loopml.get_metric_history(run.run_id, "int")[0].step == 4


def test_environment_is_captured(client: Client) -> None:
    loopml.seed_everything(1234)
    with loopml.start_run() as run:
        pass
    tags = loopml.get_run(run.run_id).data.tags
    assert tags["loopml.seed"] == "1234"
    assert tags["loopml.python"].count(".") == 2
    assert tags["loopml.platform"] and tags["loopml.command"] and tags["mlflow.source.name"]
    packages = client.read_artifact(run.run_id, "_loopml/packages.txt").decode()
    assert "loopml==" in packages and "numpy==" in packages


def test_seed_tags_the_active_run_and_seeds_numpy(client: Client) -> None:
    import numpy as np

    with loopml.start_run() as run:
        loopml.seed_everything(7)
        first = np.random.rand()
    loopml.seed_everything(7)
    assert np.random.rand() == first
    assert loopml.get_run(run.run_id).data.tags["loopml.seed"] == "7"
    with pytest.raises(InvalidInput):
        loopml.seed_everything(-1)


def test_git_state_and_diff_are_captured(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    git("init", "-q")
    (repo / "train.py").write_text("print('v1')\n")
    git("add", "train.py")
    git("commit", "-qm", "v1")
    commit = git("rev-parse", "HEAD").strip()
    clean = capture_environment(str(repo))
    assert clean.tags["loopml.git.commit"] == commit == clean.tags["mlflow.source.git.commit"]
    assert clean.tags["loopml.git.dirty"] == "false" and "_loopml/git.diff" not in clean.files
    (repo / "train.py").write_text("print('v2')\n")
    capture_environment.cache_clear()
    dirty = capture_environment(str(repo))
    assert dirty.tags["loopml.git.dirty"] == "true"
    assert b"+print('v2')" in dirty.files["_loopml/git.diff"]
    capture_environment.cache_clear()


def test_artifacts(client: Client, tmp_path: Path) -> None:
    (tmp_path / "report.txt").write_text("hello")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("A")
    (tree / "sub" / "b.txt").write_text("B")
    with loopml.start_run() as run:
        loopml.log_artifact(tmp_path / "report.txt")
        loopml.log_artifact(tmp_path / "report.txt", artifact_path="copies")
        loopml.log_artifacts(tree, artifact_path="tree")
        loopml.log_text("some text", "notes/readme.md")
        loopml.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        loopml.log_dict({"a": 1}, "config.yaml")
        with pytest.raises(InvalidInput):
            loopml.log_text("x", "../escape.txt")
    listing = {a.path: a.is_dir for a in client.list_artifacts(run.run_id)}
    assert listing["report.txt"] is False and listing["tree"] is True and listing["copies"] is True
    assert [a.path for a in client.list_artifacts(run.run_id, "tree")] == ["tree/a.txt", "tree/sub"]
    assert json.loads(client.read_artifact(run.run_id, "config.json")) == {"a": 1, "b": [1, 2]}
    assert client.read_artifact(run.run_id, "config.yaml") == b"a: 1\n"
    local = client.download_artifacts(run.run_id, "tree", tmp_path / "dl")
    assert (local / "sub" / "b.txt").read_text() == "B"
    with pytest.raises(NotFound):
        client.read_artifact(run.run_id, "nope.txt")


def test_log_figure(client: Client) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with loopml.start_run() as run:
        loopml.log_figure(fig, "plots/curve.png")
        with pytest.raises(InvalidInput, match="Figure"):
            loopml.log_figure("not a figure", "x.png")
    plt.close(fig)
    assert client.read_artifact(run.run_id, "plots/curve.png")[:8] == b"\x89PNG\r\n\x1a\n"


def test_search_runs_dataframe_and_list(client: Client) -> None:
    for i, model in enumerate(["rf", "rf", "xgb"]):
        with loopml.start_run(experiment="s", run_name=f"r{i}"):
            loopml.log_param("model", model)
            loopml.log_metric("acc", 0.8 + i / 100)
            loopml.set_tag("team", "ml-core")
    frame = loopml.search_runs(
        experiment_names=["s"],
        filter_string="metrics.acc > 0.805 and params.model = 'rf' and tags.team LIKE 'ml%'",
        order_by=["metrics.acc DESC"],
    )
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["tags.mlflow.runName"]) == ["r1"]
    assert {"run_id", "status", "start_time", "metrics.acc", "params.model"} <= set(frame.columns)
    runs = loopml.search_runs(
        experiment_names=["s"],
        filter_string="params.model = 'xgb' or metrics.acc < 0.805",
        order_by=["metrics.acc"],
        output_format="list",
    )
    assert [r.info.run_name for r in runs] == ["r0", "r2"]
    assert len(loopml.search_runs(experiment_names=["s"], max_results=2)) == 2
    with pytest.raises(NotFound):
        loopml.search_runs(experiment_names=["missing"])
    empty = loopml.search_runs(experiment_names=["s"], filter_string="metrics.acc > 5")
    assert empty.empty and "run_id" in empty.columns


def test_synchronous_mode_writes_each_call(settings: Settings) -> None:
    sync = Client(settings.model_copy(update={"async_logging": False}))
    run = sync.create_run()
    sync.log_metric(run.info.run_id, "m", 1.5)
    # No flush: another reader sees the point at once.
    other = open_service(settings)
    assert other.runs.get(run.info.run_id).data.metrics == {"m": 1.5}
    assert sync._writer is None


def test_resuming_a_run(client: Client) -> None:
    with loopml.start_run(experiment="resume", run_name="long") as first:
        loopml.log_param("lr", 0.1)
        loopml.log_metric("loss", 1.0, step=0)
    with loopml.start_run(run_id=first.run_id, tags={"resumed": "yes"}) as again:
        assert again.run_id == first.run_id
        assert loopml.get_run(first.run_id).info.status == RunStatus.RUNNING
        loopml.log_metric("loss", 0.5, step=1)
        with pytest.raises(InvalidInput, match="immutable"):
            loopml.log_param("lr", 0.2)
    run = loopml.get_run(first.run_id)
    assert run.info.status == RunStatus.FINISHED and run.data.tags["resumed"] == "yes"
    assert [m.value for m in loopml.get_metric_history(first.run_id, "loss")] == [1.0, 0.5]
