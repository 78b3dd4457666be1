"""``loopml server`` runs due monitors in the background (LOOPML_MONITORS_SCHEDULE) and
exposes their gauges on ``/metrics``, read from the store at each scrape."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _monitor_world import LiveApp, Traffic, reference_frame
from prometheus_client.parser import text_string_to_metric_families

from loopml.config import Settings
from loopml.data import DataService
from loopml.monitoring import MonitorService
from loopml.server import create_app
from loopml.serving import log_root


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(home=tmp_path / "home", capture_environment=False, **overrides)


def _world(settings: Settings) -> None:
    DataService.from_settings(settings).register("train", reference_frame())
    traffic = Traffic(log_root(settings.resolved_artifacts()))
    traffic.predict(
        datetime.now(UTC) - timedelta(minutes=30), 120, span=timedelta(minutes=10), shift=1.5
    )
    traffic.close()
    service = MonitorService.from_settings(settings)
    service.create({"name": "fraud", "endpoint": "fraud", "reference": "train@1"})
    service.close()


def test_the_server_runs_due_monitors_and_exposes_their_gauges(tmp_path: Path) -> None:
    settings = _settings(tmp_path, monitors_schedule=True, monitors_poll_s=0.05)
    _world(settings)
    app = create_app(settings)
    with LiveApp(app) as live:
        assert app.state.monitor_scheduler.running
        deadline = time.monotonic() + 60
        while not app.state.monitors.runs("fraud"):  # the first scheduled run
            assert time.monotonic() < deadline, "the scheduler never ran the monitor"
            time.sleep(0.05)
        response = httpx.get(f"{live.url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, s.labels.get("feature"), s.labels.get("check")): s.value
        for f in text_string_to_metric_families(response.text)
        for s in f.samples
    }
    assert samples[("loopml_monitor_feature_drifted", "amount", None)] == 1.0
    assert samples[("loopml_monitor_check_failed", None, "drift")] == 1.0
    assert ("loopml_monitor_drift_score", "country", None) in samples
    assert not app.state.monitor_scheduler.running  # stopped with the app


def test_runs_made_elsewhere_show_and_the_schedule_can_be_off(tmp_path: Path) -> None:
    settings = _settings(tmp_path, monitors_schedule=False)
    _world(settings)
    app = create_app(settings)
    with LiveApp(app) as live:
        assert app.state.monitor_scheduler is None
        assert "loopml_monitor_drift_score{" not in httpx.get(f"{live.url}/metrics").text
        other = MonitorService.from_settings(settings)  # e.g. `loopml monitors run`
        run = other.run("fraud")
        other.close()
        text = httpx.get(f"{live.url}/metrics").text
    assert run.figures["drift"]["drifted_features"] == ["amount"]
    assert 'loopml_monitor_feature_drifted{feature="amount",monitor="fraud"} 1.0' in text
