"""Alert delivery against real HTTP servers on 127.0.0.1 (a 500 then a 200, one that hangs,
a 404, a closed port), the log sink, and the Prometheus gauges of monitor runs."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from _monitor_world import HOUR, NOW, Hook, World
from prometheus_client.parser import text_string_to_metric_families

from loopml.monitoring import AlertDispatcher, AlertEvent, MonitorMetrics, MonitorService
from loopml.monitoring._spec import AlertSinkSpec

SPEC: dict[str, Any] = {"name": "fraud", "endpoint": "fraud", "reference": "train@1"}
FINAL = ("delivered", "failed", "dropped")


def _webhook(url: str, **options: Any) -> dict[str, Any]:
    return {"kind": "webhook", "url": url, "backoff_s": 0.01, **options}


def _settled(service: MonitorService, sinks: list[str]) -> dict[str, Any]:
    """The stored deliveries of the monitor's first alert, once ``sinks`` are final (the
    deliveries run on background threads: wait for the outcome, whatever it takes)."""
    deadline = time.monotonic() + 60
    while True:
        (event, *_) = service.alerts("fraud", kind="drift")
        if all(event.deliveries[s]["status"] in FINAL for s in sinks):
            return event.deliveries
        assert time.monotonic() < deadline, event.deliveries
        time.sleep(0.02)


def test_a_webhook_answering_500_is_retried_until_delivered(
    lite: World, hooks: list[Hook], caplog: pytest.LogCaptureFixture
) -> None:
    hook = Hook([500])
    hooks.append(hook)
    lite.traffic.predict(NOW - HOUR, 150, shift=1.5)
    service = lite.service()
    service.create({**SPEC, "alerts": ["log", _webhook(hook.url, retries=3)]})
    with caplog.at_level(logging.WARNING, logger="loopml.monitoring.alerts"):
        run = service.run("fraud", now=NOW)
    (alert,) = run.alerts
    label = f"webhook:{hook.url}"
    assert alert.kind == "drift" and alert.deliveries["log"]["status"] == "delivered"
    assert alert.deliveries[label]["status"] == "pending"  # the run did not wait for it
    assert any("[drift] monitor fraud" in r.getMessage() for r in caplog.records)
    deliveries = _settled(service, [label])
    assert deliveries[label]["status"] == "delivered"
    assert deliveries[label]["attempts"] == 2 and deliveries[label]["http_status"] == 200
    assert len(hook.bodies) == 2 and hook.bodies[0] == hook.bodies[1]
    body = hook.bodies[0]
    assert (body["kind"], body["monitor"], body["run_id"]) == ("drift", "fraud", run.run_id)
    assert body["endpoint"] == "fraud" and body["figures"]["drift"]["drifted_features"]
    assert body["report_sha256"] == run.report_sha256


def test_hanging_and_failing_webhooks_never_block_the_run(lite: World, hooks: list[Hook]) -> None:
    slow, failing = Hook(hang=True), Hook([500] * 10)
    hooks += [slow, failing]
    lite.traffic.predict(NOW - HOUR, 150, shift=1.5)
    service = lite.service()
    service.create(
        {
            **SPEC,
            "alerts": [
                _webhook(slow.url + "/slow", timeout_s=60, retries=0),
                _webhook(slow.url + "/timeout", timeout_s=0.2, retries=1),
                _webhook(failing.url, retries=2),
            ],
        }
    )
    held, timing_out, erroring = (
        f"webhook:{slow.url}/slow",
        f"webhook:{slow.url}/timeout",
        f"webhook:{failing.url}",
    )
    run = service.run("fraud", now=NOW)
    # The run is stored and returned while a webhook still holds its request.
    assert {d["status"] for d in run.alerts[0].deliveries.values()} == {"pending"}
    assert service.get_run(run.run_id).verdict == "fail"
    deliveries = _settled(service, [timing_out, erroring])
    assert deliveries[held]["status"] == "pending"  # still held by the server
    assert deliveries[timing_out] | {"updated": 0} == {
        "status": "failed",
        "attempts": 2,
        "error": "timed out after 0.2s",
        "http_status": None,
        "updated": 0,
    }
    assert deliveries[erroring]["status"] == "failed" and deliveries[erroring]["attempts"] == 3
    assert (deliveries[erroring]["error"], deliveries[erroring]["http_status"]) == ("HTTP 500", 500)
    slow.release.set()  # the server drops the request without answering
    deliveries = _settled(service, [held])
    assert deliveries[held]["status"] == "failed" and deliveries[held]["attempts"] == 1


def test_the_dispatcher_drops_when_full_and_does_not_retry_a_404(hooks: list[Hook]) -> None:
    hold, missing = Hook(hang=True), Hook([404])
    hooks += [hold, missing]
    results: list[tuple[str, str, dict[str, Any]]] = []
    dispatcher = AlertDispatcher(on_result=lambda *r: results.append(r), capacity=1, workers=1)

    def event(i: int) -> AlertEvent:
        return AlertEvent(f"a{i}", "m", None, "drift", "msg", {}, 0)

    held = AlertSinkSpec.model_validate(_webhook(hold.url, timeout_s=60, retries=0))
    first = [dispatcher.deliver(event(i), [held], {"i": i})[held.label]["status"] for i in range(3)]
    # One worker and room for one waiting delivery: the third cannot be queued.
    assert first[0] == "pending" and first[2] == "dropped"
    hold.release.set()
    assert dispatcher.wait_idle(60)
    gone = AlertSinkSpec.model_validate(_webhook(missing.url, retries=5))
    closed = AlertSinkSpec.model_validate(_webhook("http://127.0.0.1:9/x", retries=1))
    for sink in (gone, closed):  # one at a time: the queue holds one
        dispatcher.deliver(event(9), [sink], {})
        assert dispatcher.wait_idle(60)
    outcome = {(a, s): d for a, s, d in results}
    assert outcome[("a9", gone.label)]["attempts"] == 1  # a 4xx is final
    assert outcome[("a9", gone.label)]["error"] == "HTTP 404"
    assert outcome[("a9", closed.label)]["attempts"] == 2
    assert outcome[("a9", closed.label)]["error"].startswith("ConnectError")
    dispatcher.close(timeout=5)
    after = dispatcher.deliver(event(10), [gone], {})
    assert after[gone.label]["status"] == "dropped"


def _gauges(metrics: MonitorMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_prometheus_gauges_follow_the_latest_run(lite: World) -> None:
    ids = lite.traffic.predict(NOW - 2 * HOUR, 150, shift=1.5)
    lite.traffic.label(ids, accuracy=0.7)
    lite.traffic.predict(NOW - HOUR, 150, extra=True)
    metrics = MonitorMetrics()
    service = lite.service(metrics=metrics)
    service.create({**SPEC, "performance": {"metric": "f1", "min": 0.9, "min_labelled": 10}})
    run = service.run("fraud", now=NOW - HOUR)
    gauges = _gauges(metrics)
    amount = (("feature", "amount"), ("monitor", "fraud"))
    assert gauges[("loopml_monitor_drift_score", amount)] == pytest.approx(
        run.figures["drift"]["features"]["amount"]["score"]
    )
    assert gauges[("loopml_monitor_feature_drifted", amount)] == 1.0
    assert gauges[("loopml_monitor_performance", (("metric", "f1"), ("monitor", "fraud")))] == (
        pytest.approx(run.figures["performance"]["metrics"]["f1"])
    )
    assert gauges[("loopml_monitor_check_failed", (("check", "drift"), ("monitor", "fraud")))] == 1
    assert gauges[("loopml_monitor_labelled_rows", (("monitor", "fraud"),))] == 150
    # The next window has no labels: its performance series are gone, not stale.
    service.run("fraud", now=NOW)
    gauges = _gauges(metrics)
    assert gauges[("loopml_monitor_feature_drifted", amount)] == 0.0
    assert not any(name == "loopml_monitor_performance" for name, _ in gauges)
    service.delete("fraud")
    assert not any(dict(labels).get("monitor") == "fraud" for _, labels in _gauges(metrics))
