"""Pipeline run records: what it takes to reproduce a run (git commit and dirty flag, the
pipeline's module:attribute, params, each step's code fingerprint), read back and shown."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import _example_pipeline as ex
import pytest
from typer.testing import CliRunner

from loopml.config import Settings
from loopml.pipeline import Pipeline, get_pipeline_run
from loopml.tracking import TrackingService


def git_repo(path: Path, content: str) -> str:
    """A repository at ``path`` with one committed file; returns the commit."""
    path.mkdir()

    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=path, capture_output=True, check=True, text=True,
        )  # fmt: skip
        return out.stdout.strip()

    git("init", "-q")
    (path / "flow.py").write_text(content)
    git("add", "flow.py")
    git("commit", "-q", "-m", "first")
    return git("rev-parse", "HEAD")


def test_a_run_records_its_code_version(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = git_repo(tmp_path / "clean", "x = 1\n")
    monkeypatch.chdir(tmp_path / "clean")
    ran = ex.churn.run(params={"lr": 0.3}, settings=settings)
    record = get_pipeline_run(ran.run_id, settings=settings)
    assert (record.git_commit, record.git_dirty) == (commit, False)
    assert record.target == "_example_pipeline:churn"
    assert record.params == {"n": "200", "lr": "0.3"}
    fingerprints = {n: ex.churn.steps[n].fingerprint() for n in ex.churn.order}
    assert {s["name"]: s["code"] for s in record.steps} == fingerprints

    # Uncommitted edits: the dirty flag, and the diff among the run's artifacts.
    dirty_commit = git_repo(tmp_path / "dirty", "x = 1\n")
    (tmp_path / "dirty" / "flow.py").write_text("x = 2\n")
    monkeypatch.chdir(tmp_path / "dirty")
    cached = ex.churn.run(params={"lr": 0.3}, settings=settings)
    record = get_pipeline_run(cached.run_id, settings=settings)
    assert (record.git_commit, record.git_dirty) == (dirty_commit, True)
    assert {s["status"] for s in record.steps} == {"cached"}
    assert {s["name"]: s["code"] for s in record.steps} == fingerprints  # cached steps too
    diff = TrackingService.from_settings(settings).artifacts.read_bytes(
        cached.run_id, "_loopml/git.diff"
    )
    assert b"+x = 2" in diff

    # Outside git, from a pipeline built in a function: nothing to claim.
    (tmp_path / "nogit").mkdir()
    monkeypatch.chdir(tmp_path / "nogit")
    made_here = Pipeline("adhoc", [ex.load], params={"n": 3})
    record = get_pipeline_run(made_here.run(settings=settings).run_id, settings=settings)
    assert (record.git_commit, record.git_dirty, record.target) == ("", None, "")


def test_show_prints_the_code_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopml.cli._app import new_app
    from loopml.cli.pipeline import pipeline_app

    commit = git_repo(tmp_path / "repo", "x = 1\n")
    monkeypatch.chdir(tmp_path / "repo")
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    result = ex.churn.run(settings=Settings(home=tmp_path / "home"))
    app = new_app("test")
    app.add_typer(pipeline_app, name="pipeline")
    shown = CliRunner().invoke(app, ["pipeline", "show", result.run_id])
    assert shown.exit_code == 0, shown.output
    assert f"code: git {commit}" in shown.output and "dirty" not in shown.output
    assert "pipeline: _example_pipeline:churn" in shown.output
    as_json = CliRunner().invoke(app, ["pipeline", "show", result.run_id, "--json"])
    data = json.loads(as_json.stdout)
    assert (data["git_commit"], data["git_dirty"]) == (commit, False)
    assert data["target"] == "_example_pipeline:churn"
    assert {s["name"]: s["code"] for s in data["steps"]}["train"] == ex.train.fingerprint()
