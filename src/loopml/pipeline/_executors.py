"""Where steps execute: threads in this process, a process pool, or a Dask cluster.

Every executor runs the same task function, :func:`execute_step`, which calls the step and
serialises its output where it ran. Only bytes travel back; the driver stores them in the
artifact store and the cache index. So workers need no access to the stores (a Dask worker
on another machine needs only the step's code), and the output hash is the same on every
executor because it is computed by the same code from the same bytes.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import socket
import time
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from loopml.errors import InvalidInput, Unavailable
from loopml.pipeline._boundaries import check_output
from loopml.pipeline._outputs import encode_output
from loopml.pipeline._step import Step

__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "ProcessExecutor",
    "TaskResult",
    "execute_step",
    "make_executor",
]


@dataclass(frozen=True, slots=True)
class TaskResult:
    """What one execution of a step sends back to the driver.

    Attributes:
        ok: the step returned and its output was serialised.
        kind, data, content_hash: the serialised output (see ``EncodedOutput``).
        seconds: wall time of the function call.
        error_type, error_message, traceback: the exception, as text (exception objects of
            user code may not unpickle in the driver).
        retryable: False when retrying cannot help (the output type is not storable).
    """

    ok: bool
    kind: str = ""
    data: bytes = b""
    content_hash: str = ""
    seconds: float = 0.0
    error_type: str = ""
    error_message: str = ""
    traceback: str = ""
    retryable: bool = True


def execute_step(step: Step, kwargs: dict[str, Any]) -> TaskResult:
    """Call ``step`` with ``kwargs`` and serialise its output; never raises for step errors."""
    started = time.perf_counter()
    try:
        value = step.fn(**kwargs)
    except Exception as exc:
        return _failure(exc, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    try:
        check_output(step, value)  # the step boundary: a broken output is never stored
        out = encode_output(value, step=step.name)
    except InvalidInput as exc:
        return _failure(exc, seconds, retryable=False)
    return TaskResult(True, out.kind, out.data, out.content_hash, seconds)


def _failure(exc: BaseException, seconds: float, *, retryable: bool = True) -> TaskResult:
    return TaskResult(
        False,
        seconds=seconds,
        error_type=f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
        error_message=str(exc),
        traceback="".join(traceback.format_exception(exc)),
        retryable=retryable,
    )


def _execute_pickled(payload: bytes) -> TaskResult:
    # The process pool's task: cloudpickle ships steps that plain pickle cannot (closures).
    import cloudpickle

    step, kwargs = cloudpickle.loads(payload)
    return execute_step(step, kwargs)


class Executor(ABC):
    """Runs step executions; may run several at once.

    ``start`` and ``close`` bracket one pipeline run; ``submit`` returns a standard
    :class:`concurrent.futures.Future` whatever the backend. A future that raises (rather
    than returning a failed :class:`TaskResult`) means the execution was lost (a worker
    died): the driver submits it again up to ``lost_retries`` times without counting it
    against the step's ``retries`` (the step did not fail, its worker went away), and after
    that counts it as a failed attempt.
    """

    name: str = "executor"
    lost_retries: int = 0

    def start(self) -> None:  # noqa: B027 - optional hook
        """Acquire resources (pools, clusters)."""

    @abstractmethod
    def submit(self, step: Step, kwargs: dict[str, Any]) -> cf.Future[TaskResult]:
        """Start one execution of ``step``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`start` acquired."""


class LocalExecutor(Executor):
    """Threads in this process (the default): no start-up cost, independent steps overlap
    wherever they release the GIL (I/O, numpy, pandas, Arrow)."""

    name = "local"

    def __init__(self, *, max_workers: int | None = None) -> None:
        self.max_workers = max_workers or min(8, os.cpu_count() or 2)
        self._pool: cf.ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Start the thread pool."""
        self._pool = cf.ThreadPoolExecutor(self.max_workers, thread_name_prefix="loopml-step")

    def submit(self, step: Step, kwargs: dict[str, Any]) -> cf.Future[TaskResult]:
        """Run the step on a thread."""
        assert self._pool is not None, "start() the executor first"
        return self._pool.submit(execute_step, step, kwargs)

    def close(self) -> None:
        """Wait for the threads and stop them."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class ProcessExecutor(Executor):
    """A pool of fresh (spawned) Python processes: CPU-bound steps run in parallel.

    Spawned rather than forked: forking a process that holds database connections and
    threads is unsafe. Step modules must be importable in the children (``PYTHONPATH``).

    When one worker dies the standard library's pool breaks and fails *every* execution
    in flight, the innocent ones too; the next ``submit`` starts a fresh pool. So lost
    executions are resubmitted (``lost_retries``) rather than charged to the steps.
    """

    name = "process"
    lost_retries = 3

    def __init__(self, *, max_workers: int | None = None) -> None:
        self.max_workers = max_workers or min(4, os.cpu_count() or 2)
        self._pool: cf.ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the process pool (processes start lazily on first submit)."""
        self._pool = cf.ProcessPoolExecutor(
            self.max_workers, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, step: Step, kwargs: dict[str, Any]) -> cf.Future[TaskResult]:
        """Run the step in a worker process; a broken pool (a worker died) is replaced."""
        import cloudpickle

        assert self._pool is not None, "start() the executor first"
        payload = cloudpickle.dumps((step, kwargs))
        try:
            future = self._pool.submit(_execute_pickled, payload)
        except cf.BrokenExecutor:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self.start()
            assert self._pool is not None
            future = self._pool.submit(_execute_pickled, payload)
        _watch_all_workers(self._pool)
        return future

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _watch_all_workers(pool: cf.ProcessPoolExecutor) -> None:
    # CPython's pool wakes its manager thread *before* it spawns the worker for a submit, so
    # the manager may go back to waiting without watching the new worker: if that worker
    # dies, nothing notices until another task ends (or ever, if none is running). Waking
    # the manager once more, as ``submit`` does (under the same lock), makes it watch every
    # worker. Private names, so looked up defensively: without them this does nothing.
    wakeup = getattr(pool, "_executor_manager_thread_wakeup", None)
    lock = getattr(pool, "_shutdown_lock", None)
    if wakeup is not None and lock is not None:
        with lock:
            wakeup.wakeup()


class DaskExecutor(Executor):
    """Steps as tasks on a Dask distributed cluster.

    A task on a worker that dies is rescheduled by the Dask scheduler itself (up to its
    ``allowed-failures``), so a Dask future that raises has already been retried:
    ``lost_retries`` is 0.

    Args:
        address: ``tcp://host:port`` of a running scheduler, or None to start a
            ``LocalCluster`` of ``n_workers`` worker processes for the run.
        n_workers: workers of the local cluster.
        task_retries: Dask's own retries of a task (on top of the step's ``retries``,
            which the driver applies).
        connect_timeout: seconds to wait for the scheduler at ``address``.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        n_workers: int = 2,
        task_retries: int = 1,
        connect_timeout: float = 10.0,
    ) -> None:
        self.address = address
        self.n_workers = n_workers
        self.task_retries = task_retries
        self.connect_timeout = connect_timeout
        self.name = f"dask://{address.removeprefix('tcp://')}" if address else "dask-local"
        self._client: Any = None
        self._cluster: Any = None

    def start(self) -> None:
        """Connect to the scheduler, or start the local cluster.

        Raises:
            Unavailable: nothing answers at ``address`` within ``connect_timeout``.
        """
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dask is a dependency
            raise InvalidInput("the dask executor needs dask[distributed] installed") from exc
        if self.address:
            self._client = self._connect(Client, self.address)
            return
        self._cluster = LocalCluster(
            n_workers=self.n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        self._client = Client(self._cluster)

    def _connect(self, client_class: Any, address: str) -> Any:
        # Dask's client retries a refused connection until its timeout runs out; a plain
        # TCP connect first turns "nothing listens there" into an error at once.
        unreachable = f"cannot reach the Dask scheduler at {self.name}"
        hint = "start one (dask scheduler) or check the address"
        parts = urlsplit(address)
        try:
            host, port = parts.hostname, parts.port
        except ValueError:  # not a number: let Dask's own parser say what is wrong
            host, port = None, None
        if parts.scheme == "tcp" and host and port:
            try:
                with socket.create_connection((host, port), timeout=self.connect_timeout):
                    pass
            except OSError as exc:
                raise Unavailable(
                    f"{unreachable} ({exc.strerror or exc}): {hint}",
                    details={"address": self.name},
                ) from None
        try:
            return client_class(address, timeout=self.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise Unavailable(
                f"{unreachable}: {exc}; {hint}", details={"address": self.name}
            ) from None

    def submit(self, step: Step, kwargs: dict[str, Any]) -> cf.Future[TaskResult]:
        """Submit the step as a task; the returned future completes when the task does."""
        assert self._client is not None, "start() the executor first"
        task = self._client.submit(
            execute_step, step, kwargs, pure=False, retries=self.task_retries
        )
        future: cf.Future[TaskResult] = cf.Future()
        # Keep the Dask future alive as long as ours: a released Dask future cancels its task.
        future.dask_future = task  # type: ignore[attr-defined]

        def done(t: Any) -> None:
            try:
                future.set_result(t.result())
            except BaseException as exc:  # a lost worker, a cancelled task, ...
                future.set_exception(exc)

        task.add_done_callback(done)
        return future

    def close(self) -> None:
        """Disconnect, and stop the local cluster if this executor started one."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_executor(spec: str | Executor) -> Executor:
    """The executor that ``spec`` names.

    Args:
        spec: ``local``, ``process``, ``dask-local``, ``dask://host:port``
            (``tcp://host:port`` also works) or an :class:`Executor`.

    Raises:
        InvalidInput: an unknown name, or a Dask address without a host and a port.
    """
    if isinstance(spec, Executor):
        return spec
    if spec == "local":
        return LocalExecutor()
    if spec == "process":
        return ProcessExecutor()
    if spec == "dask-local":
        return DaskExecutor()
    if spec.startswith(("dask://", "tcp://")):
        location = spec.split("://", 1)[1]
        try:
            parts = urlsplit(f"tcp://{location}")
            valid = bool(parts.hostname) and parts.port is not None and location == parts.netloc
        except ValueError:  # a port that is no number or out of range
            valid = False
        if not valid:
            raise InvalidInput(
                f"executor {spec!r} is not dask://host:port (e.g. dask://10.0.0.5:8786)",
                details={"executor": spec},
            )
        return DaskExecutor(f"tcp://{location}")
    raise InvalidInput(
        f"unknown executor {spec!r}: use local, process, dask-local or dask://host:port"
    )
