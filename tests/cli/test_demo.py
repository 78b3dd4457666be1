"""``loopml demo``: the whole loop on the embedded default (SQLite + files), over real HTTP,
deterministic given its seed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from loopml.cli import app
from loopml.client import set_client


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    for name in ("LOOPML_DB_URL", "LOOPML_TRACKING_URI", "LOOPML_ARTIFACTS"):
        monkeypatch.delenv(name, raising=False)
    set_client(None)
    yield tmp_path / "home"
    set_client(None)


def cli(*args: str, json_out: bool = False, code: int = 0) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return json.loads(result.stdout) if json_out else result


@pytest.mark.slow
def test_demo_closes_the_loop(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = cli("demo", "--seed", "7", "--json", json_out=True)
    before, drifted, after = out["phases"]
    # The world drifted: the champion got worse, the monitor saw it, the challenger won.
    assert before["versions"] == {"demo-fraud/1": 150} and drifted["versions"] == {
        "demo-fraud/1": 300
    }
    assert drifted["f1"] < before["f1"] - 0.1
    assert out["drift"]["verdict"] == "fail"
    assert out["drift"]["checks"]["drift"] == "fail"  # each check's own verdict, by name
    assert out["drift"]["checks"]["performance"] == "fail"
    assert {"amount", "channel", "country"} <= set(out["drift"]["drifted"])
    assert "hour" not in out["drift"]["drifted"]  # its distribution never changed
    retrain = out["retrain"]
    assert (retrain["status"], retrain["version"], retrain["champion_version"]) == (
        "promoted",
        2,
        1,
    )
    assert retrain["figures"]["challenger"] > retrain["figures"]["champion"]
    # The hot swap: traffic after the promotion is answered by the new version only.
    assert after["versions"] == {"demo-fraud/2": 150} and after["f1"] > drifted["f1"] + 0.1
    assert out["quarantined"] == 4
    report = Path(out["report"])
    assert report.is_file() and "<svg" in report.read_text()
    # Every step is on record: the promoted version's lineage and the registry's audit.
    lineage = cli("models", "lineage", "demo-fraud@production", "--json", json_out=True)
    assert lineage["version"] == 2 and lineage["datasets"]
    audit = cli("models", "audit", "demo-fraud", "--json", json_out=True)
    assert any(e["action"] == "move_alias" and e["alias"] == "production" for e in audit)

    # Deterministic given the seed: the same figures from a fresh home.
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "again"))
    set_client(None)
    again = cli("demo", "--seed", "7", "--json", json_out=True)
    assert again["phases"] == out["phases"] and again["drift"] == out["drift"]
    assert again["retrain"]["figures"] == retrain["figures"]


def test_demo_refuses_a_remote_store(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPML_TRACKING_URI", "http://127.0.0.1:9")
    set_client(None)
    assert "embedded" in cli("demo", code=2).output
