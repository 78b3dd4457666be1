"""``Pipeline``: steps wired into a DAG by parameter names, checked and ordered."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.pipeline._step import Step

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.pipeline._executors import Executor
    from loopml.pipeline._run import PipelineResult, StepEvent

__all__ = ["Pipeline"]


class Pipeline:
    """A named DAG of steps. A step's parameter named like another step is that step's output.

    The constructor only checks the graph (duplicates, cycles); nothing runs or is stored
    until :meth:`run`.

    Attributes:
        module: the module the pipeline was built in (see :attr:`target`).

    Args:
        name: the pipeline's name; runs are recorded in the experiment of that name.
        steps: the steps, in any order.
        params: default values of the pipeline params (parameters that are no step's name).

    Raises:
        InvalidInput: two steps share a name, a step is not a :class:`Step`, or the steps
            form a cycle (the message names it).
    """

    def __init__(
        self, name: str, steps: Sequence[Step], *, params: Mapping[str, Any] | None = None
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput(f"pipeline name must be a non-empty string, got {name!r}")
        self.name = name
        self.params: dict[str, Any] = dict(params or {})
        # The defining module, so that a run can record how to load the pipeline again.
        self.module: str = sys._getframe(1).f_globals.get("__name__", "")
        self.steps: dict[str, Step] = {}
        for s in steps:
            if not isinstance(s, Step):
                raise InvalidInput(
                    f"pipeline {name!r}: {s!r} is not a step; decorate it with @loopml.step"
                )
            if s.name in self.steps:
                raise InvalidInput(f"pipeline {name!r} has two steps named {s.name!r}")
            self.steps[s.name] = s
        self.upstream: dict[str, tuple[str, ...]] = {
            s.name: tuple(p for p in s.parameters if p in self.steps and p != s.name)
            for s in self.steps.values()
        }
        for s in self.steps.values():
            if s.name in s.parameters:
                raise InvalidInput(f"cycle in pipeline {name!r}: {s.name} -> {s.name}")
        self.order: tuple[str, ...] = self._topological_order()

    def __repr__(self) -> str:
        return f"<Pipeline {self.name!r} steps={list(self.order)}>"

    @property
    def target(self) -> str | None:
        """``module:attribute`` that names this pipeline (what ``loopml pipeline run``
        takes), or None when it is no module-level attribute (built in a function)."""
        module = sys.modules.get(self.module)
        if module is None:
            return None
        for attr, value in list(vars(module).items()):
            if value is self:
                return f"{self.module}:{attr}"
        return None

    def downstream(self, name: str) -> tuple[str, ...]:
        """The steps that take ``name``'s output directly."""
        return tuple(n for n, ups in self.upstream.items() if name in ups)

    def step_params(self, name: str) -> tuple[str, ...]:
        """The pipeline params that step ``name`` takes."""
        return tuple(p for p in self.steps[name].parameters if p not in self.steps)

    def resolve_params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The pipeline's params with ``overrides`` applied, checked against every step.

        Raises:
            InvalidInput: a step needs a param that is neither given nor defaulted (the
                message names the step and the parameter), or an override names no
                parameter of any step.
        """
        values = {**self.params, **(overrides or {})}
        known = {p for n in self.steps for p in self.step_params(n)}
        unknown = sorted(set(overrides or {}) - known)
        if unknown:
            raise InvalidInput(
                f"pipeline {self.name!r} has no param {unknown[0]!r}; its params are "
                f"{', '.join(sorted(known)) or '(none)'}"
            )
        for n in self.order:
            s = self.steps[n]
            for p in self.step_params(n):
                if p not in values and p not in s.defaults:
                    raise InvalidInput(
                        f"step {n!r} of pipeline {self.name!r} needs param {p!r}: pass it in "
                        f"Pipeline(params=...) or run(params=...)",
                        details={"step": n, "param": p},
                    )
        return values

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        executor: str | Executor = "local",
        settings: Settings | None = None,
        on_event: Callable[[StepEvent], None] | None = None,
    ) -> PipelineResult:
        """Run the pipeline: cached steps are skipped, the rest run on ``executor``.

        Args:
            params: overrides of the pipeline's params.
            executor: ``local`` (threads in this process), ``process`` (a process pool),
                ``dask-local`` (a 2-worker ``LocalCluster``), ``dask://host:port`` or an
                :class:`~loopml.pipeline.Executor`.
            settings: the stores to use; default :func:`loopml.config.load_settings`.
            on_event: called in this thread whenever a step starts, is retried or ends.

        Returns:
            a :class:`PipelineResult` with each step's status and every output.

        Raises:
            StepFailed: a step still failed after its retries (parent run FAILED).
            InvalidInput: a param is missing or an output cannot be stored.
        """
        from loopml.pipeline._run import run_pipeline

        return run_pipeline(
            self, params=params, executor=executor, settings=settings, on_event=on_event
        )

    def _topological_order(self) -> tuple[str, ...]:
        # Depth-first with colours: a grey node met again closes a cycle, and the grey
        # path from it is the cycle to report. Steps keep their given order where free.
        order: list[str] = []
        colour: dict[str, int] = {}
        path: list[str] = []

        def visit(n: str) -> None:
            colour[n] = 1
            path.append(n)
            for up in self.upstream[n]:
                if colour.get(up) == 1:
                    cycle = [*path[path.index(up) :], up]
                    raise InvalidInput(
                        f"cycle in pipeline {self.name!r}: {' -> '.join(reversed(cycle))}",
                        details={"cycle": list(reversed(cycle))},
                    )
                if up not in colour:
                    visit(up)
            path.pop()
            colour[n] = 2
            order.append(n)

        for n in self.steps:
            if n not in colour:
                visit(n)
        return tuple(order)
