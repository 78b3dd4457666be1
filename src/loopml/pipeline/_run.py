"""Running a pipeline: cache look-ups, scheduling on an executor, retries, and the run record.

The driver (this module, in the calling process) owns every store write: it looks steps up
in the cache, submits the others to the executor as soon as their inputs exist, stores the
outputs that come back, and records a parent run with one child run per step. The parent run
holds what it takes to reproduce the run (git commit and dirty flag with the diff, Python,
packages and command, as every tracked run does; the pipeline's ``module:attribute`` and
params); each child its step's code fingerprint.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from loopml.artifacts import Blob
from loopml.errors import InvalidInput, LoopMLError, NotFound
from loopml.pipeline._boundaries import register_output
from loopml.pipeline._cache import OutputManifest, cache_key
from loopml.pipeline._executors import Executor, TaskResult, make_executor
from loopml.pipeline._outputs import decode_output
from loopml.pipeline._results import (
    PIPELINE_TAG,
    STEP_TAG,
    PipelineResult,
    StepEvent,
    StepFailed,
    StepResult,
)
from loopml.pipeline._stores import PipelineStores, open_stores
from loopml.tracking import (
    Metric,
    NewRun,
    RunBatch,
    RunStatus,
    TrackingService,
    capture_environment,
    check_param_value,
    final_status,
    new_run,
)

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.pipeline._pipeline import Pipeline
    from loopml.pipeline._step import Step

__all__ = ["run_pipeline"]


def run_pipeline(
    pipe: Pipeline,
    *,
    params: Mapping[str, Any] | None = None,
    executor: str | Executor = "local",
    settings: Settings | None = None,
    on_event: Callable[[StepEvent], None] | None = None,
) -> PipelineResult:
    """Run ``pipe``; see :meth:`Pipeline.run`."""
    if settings is None:
        from loopml.config import load_settings

        settings = load_settings()
    values = pipe.resolve_params(params)
    exe = make_executor(executor)
    driver = _Driver(
        pipe, values, exe, open_stores(settings), on_event or (lambda _e: None),
        capture=settings.capture_environment,
    )  # fmt: skip
    exe.start()
    try:
        return driver.run()
    finally:
        exe.close()


def _experiment_id(service: TrackingService, name: str) -> str:
    try:
        return service.experiments.get_by_name(name).experiment_id
    except NotFound:
        pass
    try:
        return service.experiments.create(name, tags={PIPELINE_TAG: name})
    except LoopMLError:  # created concurrently by another run
        return service.experiments.get_by_name(name).experiment_id


def _str_param(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


class _Driver:
    """One pipeline run's scheduling state."""

    def __init__(
        self,
        pipe: Pipeline,
        params: dict[str, Any],
        exe: Executor,
        stores: PipelineStores,
        emit: Callable[[StepEvent], None],
        *,
        capture: bool,
    ) -> None:
        self.pipe, self.params, self.exe, self.emit = pipe, params, exe, emit
        self.service: TrackingService = stores.service
        self.index, self.data = stores.cache, stores.data
        self.capture = capture  # record git state, packages and command on the parent run
        self.results = {n: StepResult(n) for n in pipe.order}
        self.values: dict[str, Any] = {}
        self.pending: dict[cf.Future[TaskResult], tuple[str, dict[str, Any]]] = {}
        self.lost = dict.fromkeys(pipe.order, 0)  # lost executions resubmitted for free
        self.hits: list[str] = []  # cache keys reused, marked as used when the run ends
        self.failure: LoopMLError | None = None
        self.experiment_id = ""
        self.parent_id = ""

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> PipelineResult:
        started = time.perf_counter()
        self.experiment_id = _experiment_id(self.service, self.pipe.name)
        parent = self._new_parent()
        self.parent_id = parent.run_id
        self.service.runs.write(
            parent.run_id, RunBatch(create=parent, params=self._params_of(self.params))
        )
        try:
            self._loop()
        except BaseException:
            self.service.runs.update(self.parent_id, status=RunStatus.FAILED)
            raise
        finally:
            self.index.touch(self.hits)
        status = RunStatus.FAILED if self.failure else RunStatus.FINISHED
        counts = {s: sum(r.status == s for r in self.results.values())
                  for s in ("ran", "cached", "failed", "skipped")}  # fmt: skip
        self.service.runs.write(
            self.parent_id,
            RunBatch(
                metrics=[Metric("duration_s", time.perf_counter() - started, _now_ms(), 0)]
                + [Metric(f"steps_{k}", float(v), _now_ms(), 0) for k, v in counts.items()],
                finish=final_status(status),
            ),
        )
        if self.failure is not None:
            raise self.failure
        return PipelineResult(
            pipeline=self.pipe.name,
            run_id=self.parent_id,
            status=status.value,
            executor=self.exe.name,
            params=self.params,
            steps=self.results,
            outputs=self.values,
            seconds=time.perf_counter() - started,
        )

    def _new_parent(self) -> NewRun:
        tags = {PIPELINE_TAG: self.pipe.name, f"{PIPELINE_TAG}.executor": self.exe.name}
        target = self.pipe.target
        if target:
            tags[f"{PIPELINE_TAG}.target"] = target
        files: dict[str, Blob] = {}
        if self.capture:
            # The same capture as every tracked run (commit, dirty flag and diff, packages,
            # command), for the directory the pipeline runs from.
            env = capture_environment(os.getcwd())
            tags = {**env.tags, **tags}
            files = {path: self.service.blobs.put_bytes(data) for path, data in env.files.items()}
        return new_run(
            int(self.experiment_id),
            run_name=self.pipe.name,
            tags=tags,
            user_id=tags.get("mlflow.user", ""),
            artifacts=files,
        )

    def _loop(self) -> None:
        while True:
            if self.failure is None:
                self._schedule_ready()
            if not self.pending:
                break
            done, _ = cf.wait(list(self.pending), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                name, kwargs = self.pending.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # the execution was lost, not failed by the step
                    self._lost(name, kwargs, exc)
                    continue
                self._finished(name, kwargs, result)
        for r in self.results.values():
            if r.status == "skipped":
                self.emit(StepEvent(r.name, "skipped"))

    def _ready(self) -> list[str]:
        return [
            n
            for n in self.pipe.order
            if self.results[n].cache_key is None
            and all(self.results[u].status in ("ran", "cached") for u in self.pipe.upstream[n])
        ]

    def _schedule_ready(self) -> None:
        # Cached steps complete at once and may make more steps ready: repeat until stable.
        while ready := self._ready():
            for name in ready:
                self._start(name)

    def _start(self, name: str) -> None:
        step, r = self.pipe.steps[name], self.results[name]
        step_params = {
            p: self.params[p] if p in self.params else step.defaults[p]
            for p in self.pipe.step_params(name)
        }
        inputs = {u: self.results[u].output_hash or "" for u in self.pipe.upstream[name]}
        r.cache_key = cache_key(
            step=name, fingerprint=step.fingerprint(), params=step_params, inputs=inputs
        )
        tags = {
            STEP_TAG: name,
            f"{PIPELINE_TAG}.code": step.fingerprint(),
            f"{PIPELINE_TAG}.cache_key": r.cache_key,
            f"{PIPELINE_TAG}.inputs": json.dumps(inputs, sort_keys=True),
        }
        manifest = self.index.get(r.cache_key)
        if manifest is not None:
            self.values[name] = decode_output(
                manifest.kind, self.service.blobs.get_bytes(manifest.blob)
            )
            self._set_output(r, manifest)
            r.status = "cached"
            self.hits.append(r.cache_key)
            created = new_run(
                int(self.experiment_id), run_name=name, parent_run_id=self.parent_id,
                tags={**tags, **self._output_tags(r, "cached")},
            )  # fmt: skip
            r.run_id = created.run_id
            error = self._publish(step, r)
            if error is not None:
                self.service.runs.write(created.run_id, RunBatch(create=created))
                self._finished(
                    name,
                    {},
                    TaskResult(
                        False, error_type="InvalidInput", error_message=error, retryable=False
                    ),
                )
                return  # fmt: skip
            # One transaction per cached step: a no-change rerun is mostly these writes.
            self.service.runs.write(
                created.run_id,
                RunBatch(
                    tags={f"{PIPELINE_TAG}.dataset": r.dataset} if r.dataset else {},
                    create=created,
                    params=self._params_of(step_params),
                    metrics=[Metric("duration_s", 0.0, _now_ms(), 0)],
                    finish=final_status(RunStatus.FINISHED),
                ),
            )
            self.emit(StepEvent(name, "cached"))
            return
        created = new_run(
            int(self.experiment_id), run_name=name, parent_run_id=self.parent_id, tags=tags
        )
        r.run_id = created.run_id
        self.service.runs.write(
            created.run_id, RunBatch(create=created, params=self._params_of(step_params))
        )
        kwargs = {**step_params, **{u: self.values[u] for u in self.pipe.upstream[name]}}
        self._submit(name, kwargs)

    def _submit(self, name: str, kwargs: dict[str, Any]) -> None:
        r = self.results[name]
        r.attempts += 1
        r.status = "running"
        self.emit(StepEvent(name, "running", r.attempts))
        self.pending[self.exe.submit(self.pipe.steps[name], kwargs)] = (name, kwargs)

    def _lost(self, name: str, kwargs: dict[str, Any], exc: Exception) -> None:
        # A lost execution is the worker's fault, not the step's: it does not use up the
        # step's retries, only the executor's own budget for lost executions.
        error = TaskResult(
            False, error_type=type(exc).__name__, error_message=f"execution lost: {exc}"
        )
        if self.lost[name] < self.exe.lost_retries and self.failure is None:
            self.lost[name] += 1
            self.emit(StepEvent(name, "retrying", self.results[name].attempts, error.error_message))
            self._submit(name, kwargs)
            return
        self._finished(name, kwargs, error)

    def _finished(self, name: str, kwargs: dict[str, Any], result: TaskResult) -> None:
        step, r = self.pipe.steps[name], self.results[name]
        r.seconds += result.seconds
        assert r.run_id is not None and r.cache_key is not None
        if result.ok:
            blob = self.service.blobs.put_bytes(result.data)
            manifest = OutputManifest(result.kind, blob.sha256, result.content_hash, blob.size)
            self.index.put(r.cache_key, step=name, manifest=manifest, run_id=r.run_id)
            # Downstream steps get the value decoded from the stored bytes, exactly what a
            # later cached run will load: a ran and a cached run see the same inputs.
            self.values[name] = decode_output(result.kind, result.data)
            self._set_output(r, manifest)
            error = self._publish(step, r)
            if error is None:
                r.status = "ran"
                self._close_child(r, RunStatus.FINISHED)
                self.emit(StepEvent(name, "ran", r.attempts))
                return
            result = TaskResult(
                False, error_type="InvalidInput", error_message=error, retryable=False
            )
        r.error = f"{result.error_type}: {result.error_message}"
        failed_attempts = r.attempts - self.lost[name]
        if result.retryable and failed_attempts <= step.retries and self.failure is None:
            self.emit(StepEvent(name, "retrying", r.attempts, r.error))
            self._submit(name, kwargs)
            return
        r.status = "failed"
        self._close_child(r, RunStatus.FAILED, traceback=result.traceback)
        self.emit(StepEvent(name, "failed", r.attempts, r.error))
        if self.failure is not None:
            return
        details = {
            "step": name,
            "attempts": r.attempts,
            "error_type": result.error_type,
            "error_message": result.error_message,
            "traceback": result.traceback,
            "run_id": self.parent_id,
            "step_run_id": r.run_id,
        }
        if not result.retryable:
            self.failure = InvalidInput(result.error_message, details=details)
        else:
            self.failure = StepFailed(
                f"step {name!r} of pipeline {self.pipe.name!r} failed after {r.attempts} "
                f"attempt{'s' if r.attempts != 1 else ''}: {r.error}",
                details=details,
            )

    # -- records -------------------------------------------------------------------------
    def _close_child(self, r: StepResult, status: RunStatus, *, traceback: str = "") -> None:
        assert r.run_id is not None
        tags = self._output_tags(r, r.status)
        tags[f"{PIPELINE_TAG}.attempts"] = str(r.attempts)
        if r.error:
            tags[f"{PIPELINE_TAG}.error"] = r.error[:7000]
        if traceback:
            tags[f"{PIPELINE_TAG}.traceback"] = traceback[-7000:]
        self.service.runs.write(
            r.run_id,
            RunBatch(
                tags=tags,
                metrics=[Metric("duration_s", r.seconds, _now_ms(), 0),
                         Metric("attempts", float(r.attempts), _now_ms(), 0)],
                finish=final_status(status),
            ),
        )  # fmt: skip

    def _publish(self, step: Step, r: StepResult) -> str | None:
        """Register the output of a step declared with ``dataset=``; the error, if any."""
        if step.dataset is None:
            return None
        try:
            version = register_output(
                self.data, step, self.values[step.name], run_id=r.run_id or ""
            )
        except LoopMLError as exc:
            return f"step {step.name!r}: its output cannot be dataset {step.dataset!r}: {exc}"
        r.dataset = version.ref if version is not None else None
        return None

    @staticmethod
    def _output_tags(r: StepResult, status: str) -> dict[str, str]:
        tags = {f"{PIPELINE_TAG}.status": status}
        if r.dataset:
            tags[f"{PIPELINE_TAG}.dataset"] = r.dataset
        if r.output_hash:
            tags[f"{PIPELINE_TAG}.output_hash"] = r.output_hash
            tags[f"{PIPELINE_TAG}.output_blob"] = r.output_blob or ""
            tags[f"{PIPELINE_TAG}.output_kind"] = r.output_kind or ""
        return tags

    @staticmethod
    def _set_output(r: StepResult, manifest: OutputManifest) -> None:
        r.output_hash, r.output_blob, r.output_kind = (
            manifest.content_hash,
            manifest.blob,
            manifest.kind,
        )

    @staticmethod
    def _params_of(values: Mapping[str, Any]) -> dict[str, str]:
        return {k: check_param_value(k, _str_param(v)) for k, v in values.items()}


def _now_ms() -> int:
    return int(time.time() * 1000)
