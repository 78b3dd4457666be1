"""The retrain hook: what a monitor hands to whoever retrains when a run says it is due.

A monitor with a ``retrain`` block calls a handler when one of its runs fails the drift or
the performance check, no retrain was started yet in that episode (a check that keeps
failing does not retrain again until it has passed once; a handler that failed did not
start one) and the block's ``cooldown`` has passed since the last trigger
(measured on the runs' clock, the end of their windows). The handler gets a
:class:`RetrainTrigger`; what it returns (a dict, a string, None) is recorded as the outcome
of an alert event of kind ``retrain``, as is an exception it raises (the run is stored
either way). With no handler, the event says ``no handler``, and the cooldown still starts.

The handler runs synchronously in the monitor run, while the run holds the monitor's lease,
so two servers never trigger the same retrain; a long job should be started, not waited
for, and its id returned as the outcome.

Example::

    from loopml.monitoring import RetrainTrigger, set_retrain_handler

    def retrain(trigger: RetrainTrigger) -> dict:
        run = start_pipeline(trigger.retrain.pipeline, **trigger.retrain.params)
        return {"pipeline_run": run.id}

    set_retrain_handler(retrain)                    # every policy
    set_retrain_handler(canary_retrain, policy="canary")
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loopml.errors import InvalidInput
from loopml.monitoring._spec import RetrainSpec

__all__ = [
    "RetrainHandler",
    "RetrainTrigger",
    "get_retrain_handler",
    "named_retrain_handler",
    "set_retrain_handler",
]


@dataclass(frozen=True)
class RetrainTrigger:
    """Why and when a monitor asks for a retrain.

    Attributes:
        monitor: the monitor's name. endpoint: the endpoint it watches.
        reference: the reference dataset version (``name@version``).
        run_id: the monitor run that found retraining due.
        reasons: ``drift`` and / or ``performance``: the checks that failed.
        messages: each failed check's message (``{"drift": "3 of 4 features drifted"}``).
        retrain: the monitor's ``retrain`` block (pipeline, policy, cooldown, params).
        window_start, window_end: the run's window (UTC); the data that raised it.
        figures: the run's figures (drift scores, performance, operations), JSON-ready.
    """

    monitor: str
    endpoint: str
    reference: str
    run_id: str
    reasons: tuple[str, ...]
    messages: dict[str, str]
    retrain: RetrainSpec
    window_start: datetime
    window_end: datetime
    figures: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what the ``retrain`` alert event records, figures aside)."""
        return {
            "monitor": self.monitor,
            "endpoint": self.endpoint,
            "reference": self.reference,
            "run_id": self.run_id,
            "reasons": list(self.reasons),
            "messages": dict(self.messages),
            "retrain": self.retrain.model_dump(mode="json"),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
        }


#: A handler: takes the trigger, returns the outcome to record (JSON-able) or raises.
RetrainHandler = Callable[[RetrainTrigger], Any]

_lock = threading.Lock()
_handlers: dict[str | None, RetrainHandler] = {}
_POLICIES = ("gates", "canary", "approval")


def set_retrain_handler(handler: RetrainHandler | None, *, policy: str | None = None) -> None:
    """Install (or, with None, remove) the process-wide retrain handler, for every policy or
    for one (``gates``, ``canary``, ``approval``); a policy's own handler wins. A
    :class:`~loopml.monitoring.MonitorService` given ``retrain_handler=`` uses that instead.

    Raises:
        InvalidInput: an unknown policy, or a handler that is not callable.
    """
    if policy is not None and policy not in _POLICIES:
        raise InvalidInput(f"unknown retrain policy {policy!r}: use one of {', '.join(_POLICIES)}")
    if handler is not None and not callable(handler):
        raise InvalidInput(f"a retrain handler must be callable, not {type(handler).__name__}")
    with _lock:
        if handler is None:
            _handlers.pop(policy, None)
        else:
            _handlers[policy] = handler


def named_retrain_handler(target: str) -> RetrainHandler:
    """The handler ``module:function`` names, imported when first called: how a server
    that must not import the code above it (``LOOPML_MONITORS_RETRAIN_HANDLER``, by default
    ``loopml.client:pipeline_retrain_handler``) still runs it.

    Raises:
        InvalidInput: ``target`` is not ``module:function`` (at once); it cannot be imported
            or is not callable (at the first trigger, recorded as the handler's failure).
    """
    module, colon, attr = target.partition(":")
    if not colon or not module or not attr:
        raise InvalidInput(f"a retrain handler is named module:function, not {target!r}")
    found: list[RetrainHandler] = []

    def handler(trigger: RetrainTrigger) -> Any:
        if not found:
            import importlib

            try:
                fn = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise InvalidInput(f"cannot import retrain handler {target!r}: {exc}") from None
            if not callable(fn):
                raise InvalidInput(f"retrain handler {target!r} is not callable")
            found.append(fn)
        return found[0](trigger)

    return handler


def get_retrain_handler(policy: str | None = None) -> RetrainHandler | None:
    """The handler that a trigger under ``policy`` goes to (None: none installed)."""
    with _lock:
        return _handlers.get(policy) or _handlers.get(None)
