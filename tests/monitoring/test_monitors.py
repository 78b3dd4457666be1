"""Monitors in the store (SQLite and PostgreSQL) over real prediction and feedback logs:
create / update / delete, runs with their figures and reports, bad inputs reported in the
run, one alert per episode, prediction baselines, leases and the scheduler."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from _monitor_world import HOUR, NOW, World
from sqlalchemy import update

from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from loopml.monitoring import MonitorScheduler, RetrainTrigger
from loopml.serving import EndpointStore
from loopml.store import MonitorRow

SPEC: dict[str, Any] = {
    "name": "fraud",
    "endpoint": "fraud",
    "reference": "train@1",
    "performance": {"metric": "f1", "min": 0.85, "min_labelled": 20},
}


def test_create_update_delete_and_bad_references(world: World) -> None:
    world.traffic.predict(NOW - HOUR, 5)  # the endpoint has a log: it exists
    service = world.service(user="ana")
    made = service.create(SPEC)
    assert made.name == "fraud" and made.created_by == "ana" and made.next_run_at > 0
    assert [m.name for m in service.list()] == ["fraud"]
    with pytest.raises(AlreadyExists):
        service.create(SPEC)
    changed = service.update({**SPEC, "every": "10m", "features": ["amount"]})
    assert changed.spec.every == "10m" and changed.spec.features == ["amount"]
    with pytest.raises(NotFound, match="endpoint 'nowhere'"):
        service.create({**SPEC, "name": "x", "endpoint": "nowhere"})
    with pytest.raises(NotFound, match="train@7"):
        service.create({**SPEC, "name": "x", "reference": "train@7"})
    with pytest.raises(InvalidInput, match=r"no column \['device'\]"):
        service.create({**SPEC, "name": "x", "features": ["amount", "device"]})
    with pytest.raises(NotFound):
        service.update({**SPEC, "name": "ghost"})
    # A stored endpoint that has served nothing yet is fine too.
    EndpointStore(world.store).create({"name": "quiet", "routes": [{"model": "models:/m@a"}]})
    assert service.create({**SPEC, "name": "q", "endpoint": "quiet"}).spec.endpoint == "quiet"
    service.delete("fraud")
    with pytest.raises(NotFound):
        service.get("fraud")
    with pytest.raises(NotFound):
        service.delete("fraud")


def test_a_run_finds_drift_and_a_performance_drop(world: World) -> None:
    ids = world.traffic.predict(NOW - HOUR, 200, shift=1.0)
    world.traffic.label(ids, accuracy=0.6)
    service = world.service()
    service.create({**SPEC, "alerts": ["log"]})
    run = service.run("fraud", now=NOW)

    assert (run.status, run.verdict, run.rows, run.labelled) == ("ok", "fail", 200, 200)
    assert run.checks["drift"]["status"] == "fail" and "amount" in run.checks["drift"]["message"]
    drift = run.figures["drift"]
    assert drift["drifted_features"] == ["amount"]
    assert drift["features"]["country"]["drifted"] is False
    assert run.checks["performance"]["status"] == "fail"
    assert run.checks["performance"]["message"].startswith("f1 ")
    assert run.figures["performance"]["n_labelled"] == 200
    assert run.checks["operational"]["status"] == "skipped"  # no limits set
    assert run.figures["operational"]["requests"] == 200
    assert [a.kind for a in run.alerts] == ["drift", "performance"]
    assert all(a.deliveries["log"]["status"] == "delivered" for a in run.alerts)
    assert {a.kind for a in service.alerts("fraud")} == {"drift", "performance"}

    html = service.report_html(run.run_id)
    for part in (
        "Drift",
        "amount",
        "<svg",
        "latency over time",
        "f1 over time",
        "Problems" if run.problems else "Operations",
    ):
        assert part in html
    assert run.report_path and Path(run.report_path).read_text(encoding="utf-8") == html
    detail = service.report_json(run.run_id)
    assert detail["drift_report"]["drifted_features"] == ["amount"]
    assert detail["spec"]["name"] == "fraud"
    (stored,) = service.runs("fraud")
    assert stored.run_id == run.run_id and stored.checks == run.checks
    assert service.get_run(run.run_id).figures == orjson.loads(orjson.dumps(run.figures))
    assert [r.run_id for r in service.latest_runs()] == [run.run_id]


def test_bad_inputs_are_reported_in_the_run(lite: World) -> None:
    service = lite.service()
    ids = lite.traffic.predict(NOW - HOUR, 150, extra=True)
    lite.traffic.label(ids, accuracy=1.0, unknown=4)
    service.create(SPEC)
    run = service.run("fraud", now=NOW)
    # The reference has no 'device': named, and the other features are still compared.
    assert run.status == "ok" and run.checks["drift"]["status"] == "pass"
    assert set(run.figures["drift"]["features"]) == {"amount", "country"}
    assert any("'device'" in p and "train@1 has no such column" in p for p in run.problems)
    # Labels for request ids that were never served: counted, never a crash.
    assert run.figures["performance"]["unmatched_labels"] == 4
    assert any("4 labels" in p and "ghost-" in p for p in run.problems)
    assert run.checks["performance"]["status"] == "pass"

    empty = service.run("fraud", now=NOW - 5 * HOUR)  # nothing was served then
    assert (empty.status, empty.verdict, empty.rows) == ("no data", "skipped", 0)
    assert empty.checks["drift"] == {
        "status": "skipped",
        "message": "no served predictions in the window",
    }
    assert "labelled rows, fewer than min_labelled" in empty.checks["performance"]["message"]
    assert service.report_html(empty.run_id).startswith("<!DOCTYPE html>")

    # A drift method that does not fit a column: the run is stored with why.
    service.update({**SPEC, "drift": {"method": "ks"}})
    failed = service.run("fraud", now=NOW)
    assert (failed.status, failed.verdict) == ("error", "error")
    assert "country" in (failed.error or "") and service.get_run(failed.run_id).error
    assert failed.alerts == ()


def test_one_alert_per_drift_episode(lite: World) -> None:
    start = NOW - 4 * HOUR
    for hour, shift in enumerate([1.5, 1.5, 0.0, 1.5]):
        lite.traffic.predict(start + hour * HOUR, 150, shift=shift)
    service = lite.service()
    service.create({**SPEC, "performance": None, "reference_prediction": "prediction"})
    kinds = []
    for hour in range(1, 5):
        run = service.run("fraud", now=start + hour * HOUR)
        kinds.append([a.kind for a in run.alerts])
        assert run.checks["drift"]["status"] == ("pass" if hour == 3 else "fail")
    # Drifting, still drifting (no second alert), recovered, drifting again (a new episode).
    assert kinds == [["drift"], [], [], ["drift"]]
    assert set(service.get("fraud").state["episodes"]) == {"drift"}
    assert len(service.alerts("fraud", kind="drift")) == 2
    trend = service.runs("fraud")
    assert [r.window_end for r in trend] == [
        int((start + h * HOUR).timestamp() * 1000) for h in (4, 3, 2, 1)
    ]
    assert [r.verdict for r in trend] == ["fail", "pass", "fail", "fail"]


def test_prediction_drift_against_the_first_window_or_the_reference(lite: World) -> None:
    start = NOW - 2 * HOUR
    lite.traffic.predict(start, 300)
    lite.traffic.predict(start + HOUR, 300, shift=1.5)
    service = lite.service()
    service.create({**SPEC, "performance": None})
    first = service.run("fraud", now=start + HOUR)
    assert first.figures["prediction_baseline"] == "set by this run"
    assert first.figures["drift"]["prediction_drift"] is None
    assert service.get("fraud").baseline_start == int((start.timestamp()) * 1000)
    second = service.run("fraud", now=start + 2 * HOUR)
    assert second.figures["drift"]["prediction_drift"] is True
    assert "the predictions drifted" in second.checks["drift"]["message"]
    # With a reference column of predictions, the reference is the baseline.
    service.update({**SPEC, "performance": None, "reference_prediction": "prediction"})
    steady = service.run("fraud", now=start + HOUR)
    assert set(steady.figures["drift"]["predictions"]) == {"prediction"}
    assert steady.figures["drift"]["prediction_drift"] is False


def test_runs_of_one_monitor_never_overlap(world: World) -> None:
    world.traffic.predict(NOW - HOUR, 150, shift=1.5)
    inside, release = threading.Event(), threading.Event()

    def slow_retrain(trigger: RetrainTrigger) -> dict[str, Any]:
        inside.set()
        release.wait(30)
        return {"job": "j-1"}

    first = world.service(retrain_handler=slow_retrain)
    other_server = world.service(own_store=True)  # another server on the same database
    first.create({**SPEC, "retrain": {"pipeline": "flows:fraud"}})
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(first.run("fraud", now=NOW)))
    worker.start()
    try:
        assert inside.wait(30)
        with pytest.raises(Conflict, match="runs of one monitor never overlap"):
            first.run("fraud", now=NOW)
        with pytest.raises(Conflict):
            other_server.run("fraud", now=NOW)
        assert other_server.run_due(NOW + HOUR) == []  # the scheduler skips it too
        assert other_server.get("fraud").lease_owner is not None
    finally:
        release.set()
        worker.join(30)
    (run,) = results
    (event,) = [a for a in run.alerts if a.kind == "retrain"]
    assert event.figures["outcome"] == {"status": "ok", "result": {"job": "j-1"}}
    assert other_server.get("fraud").lease_owner is None
    assert other_server.run("fraud", now=NOW).status == "ok"  # free again
    # A lease left by a runner that died expires; the next run takes it over.
    with world.store.write() as conn:
        conn.execute(update(MonitorRow).values(lease_owner="dead", lease_until=1))
    assert other_server.run("fraud", now=NOW).status == "ok"


def test_the_scheduler_runs_each_due_monitor_once(world: World) -> None:
    world.traffic.predict(NOW - HOUR, 50)
    a, b = world.service(), world.service()
    a.create({**SPEC, "every": "1h"})
    a.create({**SPEC, "name": "off", "enabled": False})
    seen: list[str] = []
    scheduler = MonitorScheduler(a, poll_s=60, on_run=lambda r: seen.append(r.monitor))
    assert [m.name for m in a.due()] == ["fraud"]
    runs = scheduler.run_due()
    assert [r.monitor for r in runs] == seen == ["fraud"]
    assert b.run_due() == []  # claimed: next due in an hour
    assert a.get("fraud").next_run_at > runs[0].started
    assert a.runs("off") == []
