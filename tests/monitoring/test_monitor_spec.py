"""The monitor spec: YAML in, clear errors naming each bad field out."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.monitoring import Monitor, load_monitor_spec

GOOD = """
endpoint: fraud
reference: fraud-train@3
features: [amount, country]
window: 1h
every: 5m
drift: {share: 0.3}
performance: {metric: f1, min: 0.85, label_delay: 1d}
operational: {max_error_rate: 0.05, max_latency_p95_ms: 250}
alerts: [log, "webhook:https://user:secret@hooks.example.com/x?token=abc"]
retrain: {pipeline: "flows:churn", policy: canary, cooldown: 6h, params: {n: 5}}
"""


def test_a_yaml_file_round_trips(tmp_path: Path) -> None:
    file = tmp_path / "monitor.yaml"
    file.write_text(GOOD)
    spec = load_monitor_spec(file)
    assert spec.name == "fraud"  # defaults to the endpoint
    assert spec.window_delta.total_seconds() == 3600 and spec.every_delta.total_seconds() == 300
    assert [a.kind for a in spec.alerts] == ["log", "webhook"]
    # Deliveries are recorded under a label that keeps no credentials and no query.
    assert spec.alerts[1].label == "webhook:https://hooks.example.com/x"
    assert spec.retrain is not None and spec.retrain.params == {"n": 5}
    assert Monitor.parse(spec.to_dict()) == spec
    assert load_monitor_spec(file, name="other", every=None).name == "other"


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"window": "soon"}, "window", "not a duration"),
        ({"every": "0s"}, "every", "positive"),
        ({"reference": "fraud-train"}, "reference", "name@3"),
        ({"performance": {"metric": "f2", "min": 1}}, "performance.metric", "not a metric"),
        ({"performance": {"metric": "rmse"}}, "performance", "give a bound for rmse: max"),
        ({"alerts": ["webhook:"]}, "alerts.0", "needs an http(s) url"),
        ({"alerts": ["pager"]}, "alerts.0.kind", "'log' or 'webhook'"),
        ({"drift": {"share": 0}}, "drift.share", "greater than 0"),
        ({"drift": {"method": "magic"}}, "drift.method", "not a drift method"),
        ({"features": ["f.amount"]}, "features", "without the log's 'f.' prefix"),
        ({"retrain": {"pipeline": "x", "policy": "yolo"}}, "retrain.policy", "gates"),
        (
            {"task": "regression", "performance": {"metric": "f1", "min": 0.5}},
            "monitor",
            "does not fit a regression task",
        ),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_bad_fields_are_named(change: dict, field: str, says: str) -> None:
    raw = {"name": "m", "endpoint": "fraud", "reference": "train@1", **change}
    with pytest.raises(InvalidInput) as caught:
        Monitor.parse(raw)
    assert f"{field}:" in caught.value.message or field == "monitor"
    assert says in caught.value.message
    assert caught.value.details["problems"]


def test_files_that_are_not_specs(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_monitor_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("endpoint: [unclosed")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_monitor_spec(bad)
    bad.write_text("- a list\n- not a mapping\n")
    with pytest.raises(InvalidInput, match="mapping"):
        load_monitor_spec(bad)
