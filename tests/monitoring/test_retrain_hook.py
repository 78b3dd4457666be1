"""The retrain hook: who is called with what, the cooldown, and what is recorded when the
handler answers, fails, or is missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _monitor_world import HOUR, NOW, World

from loopml.errors import InvalidInput
from loopml.monitoring import RetrainTrigger, get_retrain_handler, set_retrain_handler

START = NOW - 3 * HOUR
SPEC: dict[str, Any] = {
    "name": "fraud",
    "endpoint": "fraud",
    "reference": "train@1",
    "retrain": {
        "pipeline": "flows:fraud",
        "policy": "canary",
        "cooldown": "90m",
        "params": {"epochs": 3},
    },
}


@pytest.fixture
def drifting(lite: World) -> Iterator[World]:
    for hour in range(3):
        lite.traffic.predict(START + hour * HOUR, 120, shift=1.5)
    yield lite
    for policy in (None, "gates", "canary", "approval"):
        set_retrain_handler(None, policy=policy)


def _retrains(run: Any) -> list[dict[str, Any]]:
    return [a.figures for a in run.alerts if a.kind == "retrain"]


def test_the_handler_gets_the_trigger_and_the_cooldown_holds(drifting: World) -> None:
    calls: list[RetrainTrigger] = []

    def handler(trigger: RetrainTrigger) -> dict[str, Any]:
        calls.append(trigger)
        return {"pipeline_run": f"p{len(calls)}"}

    service = drifting.service(retrain_handler=handler)
    service.create(SPEC)
    first = service.run("fraud", now=START + HOUR)
    (trigger,) = calls
    assert (trigger.monitor, trigger.endpoint, trigger.reference) == ("fraud", "fraud", "train@1")
    assert trigger.reasons == ("drift",) and "amount" in trigger.messages["drift"]
    assert (trigger.window_start, trigger.window_end) == (START, START + HOUR)
    assert trigger.retrain.pipeline == "flows:fraud" and trigger.retrain.params == {"epochs": 3}
    assert trigger.run_id == first.run_id and trigger.figures["drift"]["num_drifted"] >= 1
    (recorded,) = _retrains(first)
    assert recorded["outcome"] == {"status": "ok", "result": {"pipeline_run": "p1"}}
    assert recorded["reasons"] == ["drift"] and recorded["retrain"]["policy"] == "canary"
    # The drift persists for two more hours, past the 90-minute cooldown: still one
    # episode, so still one retrain (a new episode is tested in test_canary_and_schedule).
    assert _retrains(service.run("fraud", now=START + 2 * HOUR)) == []
    assert _retrains(service.run("fraud", now=START + 3 * HOUR)) == []
    assert len(calls) == 1
    assert [e.figures["outcome"]["status"] for e in service.alerts("fraud", kind="retrain")] == [
        "ok"
    ]


def test_a_failing_or_missing_handler_is_recorded(drifting: World) -> None:
    def broken(trigger: RetrainTrigger) -> None:
        raise RuntimeError("the cluster is down")

    service = drifting.service(retrain_handler=broken)
    service.create({**SPEC, "retrain": {**SPEC["retrain"], "cooldown": "0s"}})
    run = service.run("fraud", now=START + HOUR)
    (event,) = [a for a in run.alerts if a.kind == "retrain"]
    assert event.figures["outcome"] == {
        "status": "failed",
        "error": "RuntimeError: the cluster is down",
    }
    assert "handler failed" in event.message and run.status == "ok"
    bare = drifting.service()  # no handler here, none installed
    (missing,) = _retrains(bare.run("fraud", now=START + 2 * HOUR))
    assert missing["outcome"] == {"status": "no handler"}


def test_process_wide_handlers_by_policy(drifting: World) -> None:
    seen: list[str] = []
    set_retrain_handler(lambda t: seen.append("any") or "queued")
    set_retrain_handler(lambda t: seen.append("canary") or {"canary": 0.1}, policy="canary")
    assert get_retrain_handler("gates") is get_retrain_handler(None)
    service = drifting.service()
    service.create(SPEC)
    (canary,) = _retrains(service.run("fraud", now=START + HOUR))
    assert seen == ["canary"] and canary["outcome"]["result"] == {"canary": 0.1}
    service.create({**SPEC, "name": "fraud-gates",
                    "retrain": {**SPEC["retrain"], "policy": "gates"}})  # fmt: skip
    (gates,) = _retrains(service.run("fraud-gates", now=START + 3 * HOUR))
    assert seen == ["canary", "any"] and gates["outcome"]["result"] == "queued"
    with pytest.raises(InvalidInput, match="unknown retrain policy"):
        set_retrain_handler(print, policy="yolo")
    with pytest.raises(InvalidInput, match="callable"):
        set_retrain_handler("flows:retrain")  # type: ignore[arg-type]


def seen_by_name(trigger: RetrainTrigger) -> str:
    """A handler that a setting names (``tests``' modules are importable by name)."""
    return f"named handler saw {trigger.monitor}"


def test_a_handler_named_by_a_setting_is_imported_at_its_first_trigger(drifting: World) -> None:
    from loopml.monitoring import named_retrain_handler

    with pytest.raises(InvalidInput, match="module:function"):
        named_retrain_handler("no colon")
    service = drifting.service(retrain_handler=named_retrain_handler(f"{__name__}:seen_by_name"))
    service.create({**SPEC, "retrain": {**SPEC["retrain"], "cooldown": "0s"}})
    (event,) = [a for a in service.run("fraud", now=START + HOUR).alerts if a.kind == "retrain"]
    assert event.figures["outcome"] == {"status": "ok", "result": "named handler saw fraud"}
    broken = drifting.service(retrain_handler=named_retrain_handler("loopml:nothing_here"))
    broken.create({**SPEC, "name": "other", "retrain": {**SPEC["retrain"], "cooldown": "0s"}})
    (failed,) = [a for a in broken.run("other", now=START + HOUR).alerts if a.kind == "retrain"]
    assert failed.figures["outcome"]["status"] == "failed"
    assert "cannot import retrain handler" in failed.figures["outcome"]["error"]
