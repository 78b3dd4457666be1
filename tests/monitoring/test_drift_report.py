"""The report: rows, JSON form, and an HTML page with a chart per feature."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.errors import NotFound
from loopml.monitoring import Chart, DriftReport, FeatureDrift, detect_drift


def _report() -> DriftReport:
    rng = np.random.default_rng(0)
    n = 3_000
    ref = pd.DataFrame({
        "age": rng.normal(40, 10, n),
        "<b>plan</b>": rng.choice(["basic", "pro", "<script>x</script>"], n),
        "empty": np.full(n, np.nan),  # only in the reference
        "score": rng.uniform(0, 1, n),
    })  # fmt: skip
    cur = ref.assign(age=ref["age"] + 8, score=ref["score"] ** 2, empty=1.0)
    return detect_drift(ref, cur, prediction="score")


def test_rows_carry_method_score_threshold_and_verdict() -> None:
    report = _report()
    age = report["age"]
    assert isinstance(age, FeatureDrift) and age.role == "feature"
    assert (age.method, age.drifted) == ("wasserstein", True)
    assert age.score is not None and age.threshold is not None and age.score >= age.threshold
    assert report.drifted_features == ["age", "empty"]
    assert report["score"].role == "prediction" and report.prediction_drift
    with pytest.raises(NotFound, match="no column 'nope'"):
        report["nope"]


def test_to_dict_is_json_ready_and_complete() -> None:
    report = _report()
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert d["dataset_drift"] is report.dataset_drift and d["drift_share"] == 0.5
    assert d["drifted_features"] == ["age", "empty"] and d["prediction_drift"] is True
    assert [f["feature"] for f in d["features"]] == ["age", "<b>plan</b>", "empty"]
    age = d["features"][0]
    assert {
        "method",
        "score",
        "threshold",
        "drifted",
        "p_value",
        "null_threshold",
        "missing_reference",
        "missing_current",
        "unseen",
        "notes",
        "chart",
    } <= set(age)
    assert len(age["chart"]["labels"]) == len(age["chart"]["reference"]) == 20
    assert sum(age["chart"]["current"]) == pytest.approx(1.0)
    assert d["features"][2]["score"] is None and d["features"][2]["chart"] is None
    assert d["predictions"][0]["feature"] == "score"


def test_to_html_writes_a_chart_per_feature_and_escapes_names(tmp_path: Path) -> None:
    report = _report()
    path = report.to_html(tmp_path / "drift.html", title="Churn <weekly>")
    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "drift.html" and text.startswith("<!DOCTYPE html>")
    charts = re.findall(r'<svg [^>]*aria-label="([^"]*): reference and current', text)
    assert charts == ["age", "&lt;b&gt;plan&lt;/b&gt;", "score"]  # "empty" has no values
    assert "No chart: every value is missing in the current window" not in text
    assert "No chart: every value is missing in the reference" in text
    assert "<script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text
    assert "Churn &lt;weekly&gt;" in text and "Model outputs" in text
    assert "http" not in text.replace("http://www.w3.org/2000/svg", "")  # loads nothing


def test_chart_shares_compare_the_samples() -> None:
    chart = _report()["<b>plan</b>"].chart
    assert isinstance(chart, Chart)
    assert set(chart.labels) == {"basic", "pro", "<script>x</script>"}
    assert chart.reference == pytest.approx(chart.current)  # the column did not change
