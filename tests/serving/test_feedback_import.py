"""``loopml feedback import``: CSV and Parquet labels into the feedback log, every row
checked before any is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from loopml.cli import app
from loopml.config import load_settings
from loopml.serving import log_root, read_log


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["feedback", "import", *args])
    return result.exit_code, " ".join(result.output.split())


def _labels(endpoint: str) -> pd.DataFrame:
    return read_log(log_root(load_settings().resolved_artifacts()), "feedback", endpoint)


def test_csv_and_parquet_files(home: Path, tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("request_id,label,row\nr1,1,0\nr2,0,0\nr2,1,1\n")
    code, output = _run(str(csv), "--endpoint", "fraud", "--json")
    assert code == 0, output
    summary = json.loads(output)
    assert summary["rows"] == 3 and summary["endpoint"] == "fraud"
    frame = _labels("fraud").sort_values(["request_id", "row"])
    assert list(zip(frame["request_id"], frame["row"], frame["label"], strict=True)) == [
        ("r1", 0, 1), ("r2", 0, 0), ("r2", 1, 1),
    ]  # fmt: skip

    n = 200_000  # more than one chunk: streamed
    big = pd.DataFrame({"request_id": [f"q{i}" for i in range(n)],
                        "label": np.arange(n) % 2 == 0})  # fmt: skip
    big.to_parquet(tmp_path / "big.parquet")
    code, output = _run(str(tmp_path / "big.parquet"), "-e", "churn")
    assert code == 0 and "recorded 200,000 labels for churn" in output
    labels = _labels("churn")
    assert len(labels) == n and labels["request_id"].is_unique and set(labels["row"]) == {0}


def test_bad_files_write_nothing(home: Path, tmp_path: Path) -> None:
    cases: dict[str, Any] = {
        "no column(s) label": "request_id,truth\nr1,1\n",
        "data row 3: label is empty": "request_id,label\nr1,1\nr2,0\nr3,\n",
        "data row 2: request_id is empty": "request_id,label\nr1,1\n,0\n",
        "data row 1: row is negative": "request_id,label,row\nr1,1,-1\n",
    }
    for message, text in cases.items():
        path = tmp_path / "bad.csv"
        path.write_text(text)
        code, output = _run(str(path), "--endpoint", "fraud")
        assert code == 2 and message in output, output
    assert _labels("fraud").empty
    code, output = _run(str(tmp_path / "missing.csv"), "--endpoint", "fraud")
    assert code == 3 and "no file" in output
    (tmp_path / "labels.json").write_text("[]")
    code, output = _run(str(tmp_path / "labels.json"), "--endpoint", "fraud")
    assert code == 2 and ".csv or .parquet" in output
    code, output = _run(str(path), "--endpoint", "../etc")
    assert code == 2 and "not an endpoint name" in output
