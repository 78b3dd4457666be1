"""What a pipeline run returns and raises: per-step results, progress events, ``StepFailed``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from loopml.errors import LoopMLError

__all__ = [
    "PIPELINE_TAG",
    "STEP_TAG",
    "PipelineResult",
    "StepEvent",
    "StepFailed",
    "StepResult",
]

PIPELINE_TAG = "loopml.pipeline"
STEP_TAG = "loopml.pipeline.step"


class StepFailed(LoopMLError):
    """A pipeline step still raised after its retries; ``details`` has the traceback."""

    code = "STEP_FAILED"


@dataclass(slots=True)
class StepResult:
    """What happened to one step in one pipeline run.

    Attributes:
        status: ``ran``, ``cached``, ``failed`` or ``skipped`` (not reached after a failure).
        run_id: the step's child run (None when skipped).
        cache_key: the step's cache key (None when skipped).
        output_hash: content hash of the output; ``output_blob`` its blob in the artifact store.
        seconds: time spent in the step's function (0 when cached).
        attempts: executions, retries included (0 when cached).
        error: ``Type: message`` of the last failure.
        dataset: ``name@version`` the output was registered as (steps with ``dataset=``).
    """

    name: str
    status: str = "skipped"
    run_id: str | None = None
    cache_key: str | None = None
    output_hash: str | None = None
    output_blob: str | None = None
    output_kind: str | None = None
    seconds: float = 0.0
    attempts: int = 0
    error: str | None = None
    dataset: str | None = None


@dataclass(slots=True)
class PipelineResult:
    """The outcome of :meth:`Pipeline.run`.

    Attributes:
        run_id: the parent run.
        status: ``FINISHED`` or ``FAILED``.
        steps: step name -> :class:`StepResult`, in topological order.
        outputs: step name -> output value (steps that ran or were cached).
        params: the params the run used.
    """

    pipeline: str
    run_id: str
    status: str
    executor: str
    params: dict[str, Any]
    steps: dict[str, StepResult]
    outputs: dict[str, Any] = field(default_factory=dict, repr=False)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Everything but the output values, as JSON-able data."""
        return {
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "status": self.status,
            "executor": self.executor,
            "params": self.params,
            "seconds": self.seconds,
            "steps": {n: asdict(s) for n, s in self.steps.items()},
        }


@dataclass(frozen=True, slots=True)
class StepEvent:
    """A progress event: ``status`` is running, retrying, ran, cached, failed or skipped."""

    step: str
    status: str
    attempt: int = 0
    message: str = ""
