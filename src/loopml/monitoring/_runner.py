"""One monitor run from end to end: figures, reports, the stored run, alerts, retrain.

Alerts follow episodes, not runs: a check that fails opens an episode and raises one alert;
the runs after it that still fail raise none; a run where the check passes closes the
episode (the monitor recovered), and the next failure raises an alert again. A check that is
skipped (no data, too few labels) leaves its episode as it is. Retraining is different: it
is due on every run where drift or performance fails, and the ``retrain.cooldown`` since the
last trigger decides (so a retrain that did not help is tried again after the cooldown).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import insert, update

from loopml.errors import LoopMLError
from loopml.ids import now_ms
from loopml.monitoring._alerts import AlertEvent
from loopml.monitoring._canary import CHALLENGER, conclude_canary_run
from loopml.monitoring._durations import from_ms, parse_duration, to_ms
from loopml.monitoring._entities import ERROR, FAIL, PASS, SKIPPED, MonitorRun, StoredMonitor
from loopml.monitoring._evaluate import Evaluation, evaluate
from loopml.monitoring._monitor_html import render_run_html
from loopml.monitoring._retrain import RetrainTrigger, get_retrain_handler
from loopml.monitoring._spec import Monitor
from loopml.store import AlertEventRow, MonitorRow, MonitorRunRow

if TYPE_CHECKING:
    from loopml.monitoring._service import MonitorService

__all__ = ["execute"]

_log = logging.getLogger("loopml.monitoring")
_KINDS = ("drift", "performance", "operational")


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _verdict(status: str, checks: dict[str, dict[str, Any]]) -> str:
    if status == ERROR:
        return ERROR
    states = {c["status"] for c in checks.values()}
    return FAIL if FAIL in states else PASS if PASS in states else SKIPPED


def execute(
    svc: MonitorService, stored: StoredMonitor, owner: str, now: datetime | None
) -> MonitorRun:
    """Run ``stored`` over the window ending at ``now``; the caller holds the lease."""
    spec = stored.spec
    now = now or datetime.now(UTC)
    if now.tzinfo is None:  # a naive moment is UTC, as everywhere in the logs
        now = now.replace(tzinfo=UTC)
    run_id, started, end = uuid.uuid4().hex, now_ms(), to_ms(now)
    baseline = None
    if stored.baseline_start is not None and stored.baseline_end is not None:
        baseline = (stored.baseline_start, stored.baseline_end)
    error = None
    try:
        ev = evaluate(spec, now=now, logs=svc.logs, data=svc.data, baseline=baseline)
    except LoopMLError as exc:
        error = exc.message
    except Exception as exc:  # a run that fails is stored with why, never lost
        _log.exception("monitor %s: the run failed", spec.name)
        error = f"{type(exc).__name__}: {exc}"
    if error is not None:
        start = end - int(spec.window_delta.total_seconds() * 1000)
        figures = {
            "endpoint": spec.endpoint,
            "reference": spec.reference,
            "window_start": start,
            "window_end": end,
            "problems": [],
        }
        ev = Evaluation(ERROR, {}, figures, [], 0, 0)
    run = MonitorRun(
        run_id=run_id,
        monitor=spec.name,
        endpoint=spec.endpoint,
        started=started,
        finished=now_ms(),
        window_start=ev.figures["window_start"],
        window_end=end,
        status=ev.status,
        verdict=_verdict(ev.status, ev.checks),
        checks=ev.checks,
        rows=ev.rows,
        labelled=ev.labelled,
        figures=ev.figures,
        problems=tuple(ev.problems),
        error=error,
        drift_report=ev.drift_report,
    )
    run = _store_reports(svc, spec, run)
    state = dict(stored.state)
    if spec.retrain is not None and spec.retrain.every is not None:
        state.setdefault("schedule_from_ms", run.window_end)  # a schedule starts here
    events = _episode_alerts(spec, run, state)
    _store_run(svc, spec, run, events, state, owner, ev.baseline)
    delivered = [_deliver(svc, spec, run, e) for e in events]
    if svc.metrics is not None:
        svc.metrics.observe(run)
    canary = _canary(svc, spec, run, state, owner)
    if canary is not None:
        delivered.append(canary)
    if state.get("canary_active"):  # one challenger at a time: the canary decides first
        return dataclasses.replace(run, alerts=tuple(delivered))
    retrain = _retrain(svc, spec, run, state, owner)
    if retrain is not None:
        delivered.append(retrain)
    return dataclasses.replace(run, alerts=tuple(delivered))


def _canary(
    svc: MonitorService, spec: Monitor, run: MonitorRun, state: dict[str, Any], owner: str
) -> AlertEvent | None:
    """Conclude a canary the window has enough labels for (see :mod:`._canary`)."""
    if spec.retrain is None or spec.retrain.policy != "canary" or run.status == ERROR:
        state.pop("canary_active", None)
        return None
    start, end = from_ms(run.window_start), from_ms(run.window_end)
    try:
        predictions = svc.logs.read("predictions", spec.endpoint, start, end)
        feedback = svc.logs.read("feedback", spec.endpoint, start, None)
        decision = conclude_canary_run(svc.store, spec, predictions, feedback, start=start,
                                       end=end)  # fmt: skip
    except Exception as exc:  # a canary that cannot be judged stays as it is, reported
        _log.exception("monitor %s: the canary could not be concluded", spec.name)
        decision = {"error": f"{type(exc).__name__}: {exc}"}
    if decision is None:
        state["canary_active"] = _canary_split(svc, spec)
        _save_state(svc, spec, state, owner)
        return None
    state["canary_active"] = "error" in decision
    if "error" in decision:
        message = f"canary not concluded: {decision['error']}"
    else:
        verdict = "promoted" if decision["promoted"] else "rolled back"
        scores = decision["scores"]
        message = (f"canary {verdict}: {decision['metric']} {scores['challenger']:.4g} "
                   f"(challenger) vs {scores['champion']:.4g} (champion)")  # fmt: skip
    event = _event(spec, run, "retrain", message, decision)
    with svc.store.write() as conn:
        _insert_event(conn, event)
    _save_state(svc, spec, state, owner)
    return _deliver(svc, spec, run, event)


def _canary_split(svc: MonitorService, spec: Monitor) -> bool:
    from loopml.serving import EndpointStore

    try:
        routes = EndpointStore(svc.store).get(spec.endpoint).spec.routes
    except LoopMLError:
        return False
    return any(r.model.endswith(f"@{CHALLENGER}") for r in routes)


def _save_state(svc: MonitorService, spec: Monitor, state: dict[str, Any], owner: str) -> None:
    with svc.store.write() as conn:
        conn.execute(
            update(MonitorRow)
            .where(MonitorRow.name == spec.name, MonitorRow.lease_owner == owner)
            .values(state_json=_json(state))
        )


def _store_reports(svc: MonitorService, spec: Monitor, run: MonitorRun) -> MonitorRun:
    history = svc.runs(spec.name, limit=50)
    html = render_run_html(run, spec, run.drift_report, history)
    detail = run.to_dict()
    detail["spec"] = spec.to_dict()
    detail["drift_report"] = run.drift_report.to_dict() if run.drift_report else None
    html_sha = svc.blobs.put_bytes(html.encode("utf-8")).sha256
    json_sha = svc.blobs.put_bytes(_json(detail).encode("utf-8")).sha256
    return dataclasses.replace(
        run, report_sha256=html_sha, json_sha256=json_sha, report_path=svc._report_path(html_sha)
    )


def _event(
    spec: Monitor, run: MonitorRun, kind: str, message: str, figures: dict[str, Any]
) -> AlertEvent:
    text = f"{spec.name} ({spec.endpoint}): {message}"
    deliveries = {s.label: {"status": "pending", "attempts": 0} for s in spec.alerts}
    return AlertEvent(
        uuid.uuid4().hex, spec.name, run.run_id, kind, text, figures, now_ms(), deliveries
    )


def _episode_alerts(spec: Monitor, run: MonitorRun, state: dict[str, Any]) -> list[AlertEvent]:
    """Alerts for the episodes this run opens; ``state`` is updated in place."""
    episodes = dict(state.get("episodes", {}))
    events = []
    for kind in _KINDS:
        status = run.checks.get(kind, {}).get("status")
        if status == FAIL and kind not in episodes:
            figures = {"check": run.checks[kind], kind: run.figures.get(kind)}
            events.append(_event(spec, run, kind, run.checks[kind]["message"], figures))
            episodes[kind] = {"since": run.window_end, "run_id": run.run_id}
        elif status == PASS:
            episodes.pop(kind, None)
    state["episodes"] = episodes
    return events


def _store_run(
    svc: MonitorService,
    spec: Monitor,
    run: MonitorRun,
    events: list[AlertEvent],
    state: dict[str, Any],
    owner: str,
    baseline: tuple[int, int] | None,
) -> None:
    values: dict[str, Any] = {"state_json": _json(state)}
    if baseline is not None:
        values.update(baseline_start=baseline[0], baseline_end=baseline[1])
    with svc.store.write() as conn:
        conn.execute(
            insert(MonitorRunRow).values(
                run_id=run.run_id,
                monitor=run.monitor,
                started=run.started,
                finished=run.finished,
                window_start=run.window_start,
                window_end=run.window_end,
                status=run.status,
                verdict=run.verdict,
                rows=run.rows,
                labelled=run.labelled,
                checks_json=_json(run.checks),
                figures_json=_json(run.figures),
                report_sha256=run.report_sha256,
                json_sha256=run.json_sha256,
                error=run.error,
            )
        )
        for event in events:
            _insert_event(conn, event)
        conn.execute(
            update(MonitorRow)
            .where(MonitorRow.name == spec.name, MonitorRow.lease_owner == owner)
            .values(**values)
        )


def _insert_event(conn: Any, event: AlertEvent) -> None:
    conn.execute(
        insert(AlertEventRow).values(
            alert_id=event.alert_id,
            monitor=event.monitor,
            run_id=event.run_id,
            kind=event.kind,
            message=event.message,
            figures_json=_json(event.figures),
            timestamp=event.timestamp,
            deliveries_json=_json(event.deliveries),
        )
    )


def _deliver(svc: MonitorService, spec: Monitor, run: MonitorRun, event: AlertEvent) -> AlertEvent:
    """Hand ``event`` to its sinks (the event row exists: deliveries are recorded on it)."""
    payload = {k: v for k, v in event.to_dict().items() if k != "deliveries"}
    payload.update(
        endpoint=spec.endpoint,
        verdict=run.verdict,
        window_start=run.window_start,
        window_end=run.window_end,
        report_sha256=run.report_sha256,
    )
    first = svc.dispatcher.deliver(event, spec.alerts, payload)
    for sink, delivery in first.items():
        if delivery["status"] != "pending":  # a webhook's outcome is recorded by its worker
            svc.record_delivery(event.alert_id, sink, delivery)
    deliveries = {**event.deliveries, **first}
    return dataclasses.replace(event, deliveries=deliveries)


def _retrain(
    svc: MonitorService, spec: Monitor, run: MonitorRun, state: dict[str, Any], owner: str
) -> AlertEvent | None:
    block = spec.retrain
    # One retrain per episode: a check that keeps failing after a retrain was started for it
    # does not retrain again until it has passed once (a new episode); the cooldown spaces
    # episodes. A handler that failed (or none) has not retrained: the next run tries again.
    episodes = state.get("episodes", {})
    reasons = tuple(
        k
        for k in ("drift", "performance")
        if run.checks.get(k, {}).get("status") == FAIL and not episodes.get(k, {}).get("retrained")
    )
    last = state.get("last_retrain_ms")
    if block is not None and block.every is not None:
        # A schedule: the clock starts at the first run (a new monitor does not retrain at
        # once) and restarts at every retrain, whatever triggered it.
        anchor = max(last or 0, state.get("schedule_from_ms", run.window_end))
        if run.window_end - anchor >= parse_duration(block.every).total_seconds() * 1000:
            reasons = (*reasons, "schedule")
    if block is None or not reasons:
        return None
    cooldown = parse_duration(block.cooldown, allow_zero=True).total_seconds() * 1000
    if last is not None and run.window_end - last < cooldown:
        return None
    trigger = RetrainTrigger(
        monitor=spec.name,
        endpoint=spec.endpoint,
        reference=spec.reference,
        run_id=run.run_id,
        reasons=reasons,
        messages={
            k: run.checks[k]["message"] if k in run.checks else f"every {block.every}"
            for k in reasons
        },
        retrain=block,
        window_start=from_ms(run.window_start),
        window_end=from_ms(run.window_end),
        figures=run.figures,
    )
    handler = svc.retrain_handler or get_retrain_handler(block.policy)
    if handler is None:
        outcome: dict[str, Any] = {"status": "no handler"}
    else:
        try:
            result = handler(trigger)
            outcome = {"status": "ok", "result": orjson.loads(_json(result))}
        except Exception as exc:  # the handler's failure is recorded, the run stands
            _log.exception("monitor %s: the retrain handler failed", spec.name)
            outcome = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    state["last_retrain_ms"] = run.window_end
    if outcome["status"] == "ok":
        for kind in reasons:
            if kind in episodes:
                episodes[kind]["retrained"] = True
    message = (
        f"retrain {block.pipeline} ({block.policy}) due on {', '.join(reasons)}: "
        f"handler {outcome['status']}"
    )
    event = _event(spec, run, "retrain", message, {**trigger.to_dict(), "outcome": outcome})
    with svc.store.write() as conn:
        _insert_event(conn, event)
        conn.execute(
            update(MonitorRow)
            .where(MonitorRow.name == spec.name, MonitorRow.lease_owner == owner)
            .values(state_json=_json(state))
        )
    return _deliver(svc, spec, run, event)
