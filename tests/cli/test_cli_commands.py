"""Every command: its --help has an example, --json is parseable, errors exit with codes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import loopml
from loopml.cli import app
from loopml.client import Client, set_client

Invoke = Any

COMMANDS = [
    ["demo"],
    ["experiments", "list"],
    ["experiments", "create"],
    ["experiments", "delete"],
    ["runs", "list"],
    ["runs", "show"],
    ["runs", "compare"],
    ["runs", "delete"],
    ["db", "upgrade"],
    ["data", "add"],
    ["data", "list"],
    ["data", "show"],
    ["data", "diff"],
    ["data", "validate"],
    ["data", "profile"],
    ["pipeline", "run"],
    ["pipeline", "list"],
    ["pipeline", "show"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_an_example_and_json(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and "--json" in result.output


def _seed_runs(home: Path) -> list[str]:
    set_client(Client())
    ids = []
    for i, model in enumerate(["rf", "xgb", "rf"]):
        with loopml.start_run(experiment="cli", run_name=f"run{i}") as run:
            loopml.log_params({"model": model, "depth": i})
            loopml.log_metric("auc", 0.8 + i / 10)
            loopml.log_text("hi", "notes.txt")
        ids.append(run.run_id)
    set_client(None)
    return ids


def test_experiments(cli: Invoke) -> None:
    created = cli("experiments", "create", "churn", "--tag", "team=growth", "--json", json_out=True)
    assert created["name"] == "churn"
    listed = cli("experiments", "list", "--json", json_out=True)
    assert {e["name"]: e["run_count"] for e in listed} == {"Default": 0, "churn": 0}
    assert next(e for e in listed if e["name"] == "churn")["tags"] == {"team": "growth"}
    cli("experiments", "create", "churn", code=4)
    cli("experiments", "create", "x", "--tag", "novalue", code=2)
    cli("experiments", "delete", "churn", "--json", json_out=True)
    assert [e["name"] for e in cli("experiments", "list", "--json", json_out=True)] == ["Default"]
    assert "deleted" in cli("experiments", "list", "--all").output
    cli("experiments", "delete", "nope", code=3)


def test_runs_list_show_compare_delete(cli: Invoke, home: Path) -> None:
    ids = _seed_runs(home)
    listed = cli(
        "runs",
        "list",
        "-e",
        "cli",
        "-f",
        "metrics.auc > 0.85 or params.model = 'xgb'",
        "-o",
        "metrics.auc DESC",
        "--json",
        json_out=True,
    )
    assert [r["info"]["run_name"] for r in listed["runs"]] == ["run2", "run1"]
    table = cli("runs", "list", "-e", "cli").output
    assert "run0" in table and "FINISHED" in table
    shown = cli("runs", "show", ids[0], "--json", json_out=True)
    assert shown["data"]["params"] == {"model": "rf", "depth": "0"}
    assert {a["path"] for a in shown["artifacts"]} >= {"notes.txt", "_loopml"}
    assert "auc" in cli("runs", "show", ids[0]).output
    compared = cli("runs", "compare", ids[0], ids[2], "--json", json_out=True)
    assert compared["metric_deltas"]["auc"] == pytest.approx([0.0, 0.2])
    assert compared["params_differ"] == ["depth"]
    assert "+0.2" in cli("runs", "compare", ids[0], ids[2]).output
    cli("runs", "compare", ids[0], code=2)
    cli("runs", "delete", ids[1], "--json", json_out=True)
    assert len(cli("runs", "list", "-e", "cli", "--json", json_out=True)["runs"]) == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["runs", "show", "0" * 32], 3, "does not exist"),
        (["runs", "list", "-e", "missing"], 3, "no experiment"),
        (["runs", "list", "-f", "metrics.auc >"], 2, "column"),
        (["runs", "list", "-f", "attributes.colour = 'x'"], 2, "unknown attribute"),
        (["runs", "list", "--max-results", "0"], 2, "max_results"),
    ],
)
def test_errors_exit_with_their_code(cli: Invoke, args: list[str], code: int, message: str) -> None:
    result = cli(*args, code=code)
    assert message in result.stderr


def test_db_upgrade(cli: Invoke) -> None:
    if os.environ.get("LOOPML_TRACKING_URI"):
        assert "give --db-url" in cli("db", "upgrade", code=2).stderr
        return
    first = cli("db", "upgrade", "--json", json_out=True)
    assert first["to"] == first["head"]
    again = cli("db", "upgrade", "--json", json_out=True)
    assert again["from"] == again["to"] == again["head"]
    assert "up to date" in cli("db", "upgrade").output


def test_data_commands(cli: Invoke, tmp_path: Path) -> None:
    rows = "age,plan\n" + "".join(f"{20 + i},{'basic' if i % 2 else 'pro'}\n" for i in range(40))
    (tmp_path / "v1.csv").write_text(rows)
    (tmp_path / "v2.csv").write_text(rows + "99,team\n")
    (tmp_path / "bad.csv").write_text(rows + ",basic\n")
    first = cli("data", "add", "people", str(tmp_path / "v1.csv"), "--json", json_out=True)
    assert (first["ref"], first["num_rows"]) == ("people@1", 40)
    second = cli("data", "add", "people", str(tmp_path / "v2.csv"), "--json", json_out=True)
    assert second["ref"] == "people@2"
    assert [d["ref"] for d in cli("data", "list", "--json", json_out=True)] == ["people@2"]
    shown = cli("data", "show", "people@1", "--json", json_out=True)
    assert shown["hash"] == first["hash"] and "age" in shown["profile"]["columns"]
    assert "age" in cli("data", "show", "people", "--schema").stdout
    diff = cli("data", "diff", "people@1", "people@2", "--json", json_out=True)
    assert diff["rows"]["delta"] == 1 and not diff["same_content"]
    report = tmp_path / "report.html"
    failed = cli("data", "validate", "people", str(tmp_path / "bad.csv"), "--report",
                 str(report), code=2)  # fmt: skip
    assert "VALIDATION_FAILED" in failed.stderr and "<svg" in report.read_text()
    ok = cli("data", "validate", "people", str(tmp_path / "v2.csv"), "--json", json_out=True)
    assert ok["checks"] == [] or all(c["failed"] == 0 for c in ok["checks"])
    profile = cli("data", "profile", str(tmp_path / "v1.csv"), "--json", json_out=True)
    assert profile["num_rows"] == 40
    cli("data", "show", "nope@1", code=3)
    quarantined = cli("data", "add", "people", str(tmp_path / "bad.csv"), "--on-invalid",
                      "quarantine", "--json", json_out=True)  # fmt: skip
    assert quarantined["quarantine_rows"] == 1
