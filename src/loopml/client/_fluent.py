"""The module-level tracking API (``loopml.start_run``, ``loopml.log_metric``, ...).

One process-wide stack of active runs, as in MLflow: ``start_run`` pushes, leaving the
``with`` block (or ``end_run``) pops. A run ended by an exception is FAILED, by Ctrl-C
KILLED, otherwise FINISHED. Interpreter exit and SIGTERM end the remaining runs and make
every queued metric durable.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from loopml.client._client import Client
from loopml.client._seed import current_seed
from loopml.config import Settings
from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from loopml.tracking import (
    DEFAULT_EXPERIMENT_ID,
    Experiment,
    Run,
    RunStatus,
    capture_environment,
)

if TYPE_CHECKING:
    from loopml.data import DatasetVersion

__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "flush",
    "get_client",
    "set_client",
    "set_experiment",
    "start_run",
]

_lock = threading.RLock()
_client: Client | None = None
_stack: list[ActiveRun] = []
_experiment_id: str | None = None
_hooks_installed = False


def get_client() -> Client:
    """The process-wide client that the module-level functions use (built on first use)."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = Client()
    return _client


def set_client(client: Client | Settings | None) -> Client | None:
    """Replace the process-wide client (``None`` re-reads ``LOOPML_*`` on next use).

    Queued metrics of the old client are flushed first; active runs are forgotten.
    """
    global _client, _experiment_id
    with _lock:
        if _client is not None:
            _client.flush()
        _stack.clear()
        _experiment_id = None
        _client = Client(client) if isinstance(client, Settings) else client
    return _client


class ActiveRun:
    """A started run; use it as a context manager. ``info`` and ``data`` are as at start."""

    def __init__(self, run: Run, client: Client) -> None:
        self.info = run.info
        self.data = run.data
        self._client = client
        self._ended = False

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.info.run_id

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> Literal[False]:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        self.end(status, _raise=exc_type is None)
        return False

    def end(self, status: RunStatus | str = RunStatus.FINISHED, *, _raise: bool = True) -> None:
        """Flush this run's metrics and record its final status (idempotent)."""
        with _lock:
            if self in _stack:
                _stack.remove(self)
            if self._ended:
                return
            self._ended = True
        try:
            self._client.set_terminated(self.run_id, status)
        except Exception:
            if _raise:
                raise

    # Convenience methods so that ``run.log_metric(...)`` works on the handle itself.
    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Log a metric to this run."""
        if self._ended:
            raise Conflict(f"run {self.run_id} has ended; start a new run to log more")
        self._client.log_metric(self.run_id, key, value, step, timestamp)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log several metrics at one step."""
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def log_param(self, key: str, value: Any) -> Any:
        """Log a param to this run."""
        return self._client.log_param(self.run_id, key, value)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log several params in one transaction."""
        self._client.log_batch(self.run_id, params=params)

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag on this run."""
        self._client.set_tag(self.run_id, key, value)

    def log_input(self, dataset: DatasetVersion, *, context: str = "training") -> None:
        """Record that this run used a dataset version (``loopml.data.register``'s answer)."""
        from loopml.client._logging import dataset_input

        self._client.log_inputs(self.run_id, [dataset_input(dataset, context)])

    def __repr__(self) -> str:
        return f"<ActiveRun {self.info.run_name} ({self.run_id})>"


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    if threading.current_thread() is threading.main_thread():
        try:
            previous = signal.getsignal(signal.SIGTERM)
        except (ValueError, OSError):  # pragma: no cover - exotic embedders
            return
        if previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)


def _end_all(status: RunStatus) -> None:
    while _stack:
        _stack[-1].end(status, _raise=False)
    if _client is not None:
        # At exit nobody is left to raise to; the runs are already ended.
        with contextlib.suppress(Exception):
            _client.flush()


def _at_exit() -> None:
    _end_all(RunStatus.FINISHED)


def _on_sigterm(signum: int, _frame: object) -> None:
    writer = _client._writer if _client is not None else None
    if writer is not None and writer.draining_in_this_thread():
        # The signal interrupted a write in this very thread: let it complete first.
        writer.call_after_drain(lambda: _terminate(signum))
        return
    _terminate(signum)


def _terminate(signum: int) -> None:
    _end_all(RunStatus.KILLED)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _on_seed(seed: int) -> None:
    if _stack:
        _stack[-1].set_tag("loopml.seed", str(seed))


def set_experiment(
    experiment_name: str | None = None, *, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment the default for new runs, creating it (by name) if needed."""
    global _experiment_id
    client = get_client()
    experiment: Experiment | None
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    elif experiment_name:
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is None:
            # Another process may create it at the same moment: then we read theirs.
            with contextlib.suppress(AlreadyExists):
                client.create_experiment(experiment_name)
            experiment = client.get_experiment_by_name(experiment_name)
            if experiment is None:
                raise NotFound(f"experiment {experiment_name!r} could not be created")
    else:
        raise InvalidInput("set_experiment needs an experiment name or experiment_id")
    if experiment.lifecycle_stage != "active":
        raise Conflict(f"experiment {experiment.name!r} is deleted; restore it first")
    _experiment_id = experiment.experiment_id
    return experiment


def _resolve_experiment(experiment: str | None, experiment_id: str | None) -> str:
    if experiment_id is not None:
        return str(experiment_id)
    if experiment is not None:
        return set_experiment(experiment).experiment_id
    if _experiment_id is not None:
        return _experiment_id
    env_name = os.environ.get("LOOPML_EXPERIMENT_NAME")
    if env_name:
        return set_experiment(env_name).experiment_id
    return DEFAULT_EXPERIMENT_ID


def start_run(
    *,
    experiment: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    description: str | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it the active run.

    Args:
        experiment: experiment name; created if it does not exist.
        experiment_id: experiment id, instead of a name.
        run_name: a readable name; one is generated when omitted.
        run_id: resume this existing run instead of starting a new one.
        tags: tags to set at start.
        nested: start a child of the active run (otherwise an active run is an error).
        description: stored as tag ``mlflow.note.content``.

    Returns:
        an :class:`ActiveRun`, usable as ``with loopml.start_run() as run:``.

    Raises:
        Conflict: a run is active and ``nested`` is False.
    """
    client = get_client()
    with _lock:
        if _stack and not nested:
            raise Conflict(
                f"run {_stack[-1].run_id} is already active: end it first, or pass nested=True "
                "to start a child run"
            )
        parent = _stack[-1].run_id if (_stack and nested) else None
        _install_hooks()
        if run_id is not None:
            run = client.resume_run(run_id, tags=tags)
        else:
            all_tags: dict[str, Any] = {}
            env = capture_environment() if client.settings.capture_environment else None
            if env is not None:
                all_tags.update(env.tags)
            seed = current_seed()
            if seed is not None:
                all_tags["loopml.seed"] = str(seed)
            if description:
                all_tags["mlflow.note.content"] = description
            all_tags.update(tags or {})
            run = client.create_run(
                _resolve_experiment(experiment, experiment_id),
                run_name=run_name,
                tags=all_tags,
                parent_run_id=parent,
                files=env.files if env is not None else None,
            )
        active = ActiveRun(run, client)
        _stack.append(active)
        return active


def active_run() -> ActiveRun | None:
    """The innermost active run, or None."""
    return _stack[-1] if _stack else None


def _current() -> ActiveRun:
    if _stack:
        return _stack[-1]
    return start_run()  # as MLflow does: logging without a run starts one


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the active run (no-op when none is active)."""
    if _stack:
        _stack[-1].end(status)


def flush() -> None:
    """Make every queued metric durable now; raise any error met while writing."""
    if _client is not None:
        _client.flush()
