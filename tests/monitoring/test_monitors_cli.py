"""``loopml monitors``: every command from the command line, with YAML files, --json, the
trend, reports, exit codes for bad input, and ``serve --once``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _monitor_world import HOUR, NOW, Traffic, reference_frame
from typer.testing import CliRunner

from loopml.cli import app
from loopml.config import Settings
from loopml.data import DataService
from loopml.serving import log_root

COMMANDS = ["create", "update", "show", "list", "delete", "run", "serve"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example_and_json(command: str) -> None:
    result = CliRunner().invoke(app, ["monitors", command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and "--json" in result.output


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Traffic:
    """A home with the reference ``train@1`` and an hour of drifted, labelled traffic."""
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("LOOPML_TRACKING_URI", "LOOPML_DB_URL", "LOOPML_ARTIFACTS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(home=tmp_path / "home")
    DataService.from_settings(settings).register("train", reference_frame())
    traffic = Traffic(log_root(settings.resolved_artifacts()))
    ids = traffic.predict(NOW - HOUR, 150, shift=1.5)
    traffic.label(ids, accuracy=0.7)
    yield traffic
    traffic.close()


def _cli(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, ["monitors", *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_create_run_show_update_list_delete(home: Traffic, tmp_path: Path) -> None:
    made = json.loads(
        _cli(
            "create",
            "fraud",
            "--reference",
            "train@1",
            "--features",
            "amount,country",
            "--metric",
            "f1",
            "--min",
            "0.9",
            "--window",
            "1h",
            "--every",
            "5m",
            "--alert",
            "log",
            "--retrain",
            "flows:fraud",
            "--drift-threshold",
            "0.4",
            "--json",
        ).stdout
    )
    assert made["name"] == "fraud" and made["spec"]["drift"]["share"] == 0.4
    assert made["spec"]["retrain"]["pipeline"] == "flows:fraud" and made["runs"] == []
    assert "no runs yet" in _cli("show", "fraud").stdout

    at = (NOW).strftime("%Y-%m-%dT%H:%M:%S")
    out = _cli("run", "fraud", "--now", at).stdout
    assert "fail" in out and "amount" in out and "performance: accuracy" in out
    assert "alert drift" in out and "alert retrain" in out and "report: /" in out
    run = json.loads(_cli("run", "fraud", "--now", at, "--json").stdout)
    assert run["verdict"] == "fail" and run["checks"]["performance"]["status"] == "fail"
    assert run["alerts"] == []  # the same episode: no second alert; the cooldown holds
    assert Path(run["report_path"]).read_text().startswith("<!DOCTYPE html>")

    shown = _cli("show", "fraud", "--html", str(tmp_path / "r.html")).stdout
    assert "2 recent runs" in shown and "drift share" in shown and "f1" in shown
    assert any(block in shown for block in "▁▂▃▄▅▆▇█")
    assert "Drift" in (tmp_path / "r.html").read_text()
    detail = json.loads(_cli("show", "fraud", "--runs", "1", "--json").stdout)
    assert len(detail["runs"]) == 1 and detail["runs"][0]["run_id"] == run["run_id"]

    updated = json.loads(
        _cli("update", "fraud", "--min", "0.5", "--every", "10m", "--disable", "--json").stdout
    )
    spec = updated["spec"]
    assert spec["performance"] == {**made["spec"]["performance"], "min": 0.5}
    assert (spec["every"], spec["enabled"], spec["features"]) == (
        "10m",
        False,
        ["amount", "country"],
    )
    listed = json.loads(_cli("list", "--json").stdout)
    assert [m["name"] for m in listed] == ["fraud"]
    assert listed[0]["latest_run"]["run_id"] == run["run_id"]
    assert "disabled" in _cli("list").stdout
    assert json.loads(_cli("delete", "fraud", "--json").stdout) == {"deleted": "fraud"}
    _cli("show", "fraud", code=3)


def test_yaml_files_bad_input_and_serve_once(home: Traffic, tmp_path: Path) -> None:
    good = tmp_path / "monitor.yaml"
    good.write_text(
        "name: fraud-yaml\nendpoint: fraud\nreference: train@1\nevery: 1h\n"
        "performance: {metric: accuracy, min: 0.95, min_labelled: 10}\n"
    )
    made = json.loads(_cli("create", "-f", str(good), "--window", "2h", "--json").stdout)
    assert (made["name"], made["spec"]["window"]) == ("fraud-yaml", "2h")

    bad = tmp_path / "bad.yaml"
    bad.write_text("endpoint: fraud\nreference: train@1\nperformance: {metric: f1}\nevery: x\n")
    result = _cli("create", "-f", str(bad), code=2)
    assert "performance: give a bound for f1" in result.output and "every:" in result.output
    result = _cli("create", "nowhere", "--reference", "train@1", code=3)
    assert "endpoint 'nowhere'" in result.output
    assert "train@9" in _cli("create", "fraud", "--reference", "train@9", code=3).output
    assert "reference: Field required" in _cli("create", "fraud", code=2).output
    _cli("run", "ghost", code=3)

    # Due at once: serve --once runs it (and nothing else), then exits.
    served = _cli("serve", "--once", "--json").stdout
    assert '"monitor": "fraud-yaml"' in served
    assert json.loads(_cli("show", "fraud-yaml", "--json").stdout)["runs"][0]["status"] == "ok"
