"""The ``@step`` decorator: a plain function plus a name, retries and a code fingerprint."""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import textwrap
import types
from collections.abc import Callable, Sequence
from typing import Any, overload

from loopml.errors import InvalidInput

__all__ = ["Step", "step"]

_NO_DEFAULT = inspect.Parameter.empty


class Step:
    """A pipeline step: a function whose parameters name its inputs.

    A parameter named like another step of the pipeline receives that step's output; every
    other parameter is a pipeline param. Calling a ``Step`` calls the function.

    Attributes:
        fn: the decorated function.
        name: the step's name (the function's name unless given).
        retries: how many times a failing execution is retried.
        extra_code: modules, functions or classes whose source is part of the fingerprint.
        schema: the pandera schema the step's DataFrame output must satisfy, or None.
        dataset: the dataset each output is registered as a version of, or None.
        parameters: the function's parameter names, in order.
        defaults: parameter defaults (used when the pipeline has no such param).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        retries: int = 0,
        extra_code: Sequence[Any] = (),
        schema: Any = None,
        dataset: str | None = None,
    ) -> None:
        from loopml.pipeline._boundaries import load_schema

        if not callable(fn):
            raise InvalidInput(f"@step decorates functions, got {type(fn).__name__}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInput(f"step retries must be an integer >= 0, got {retries!r}")
        self.fn = fn
        self.name = name or fn.__name__
        self.retries = retries
        self.extra_code = tuple(extra_code)
        self.schema = load_schema(schema, step=self.name)
        if dataset is not None and (not isinstance(dataset, str) or not dataset):
            raise InvalidInput(f"step {self.name!r}: dataset must be a dataset name")
        self.dataset = dataset
        signature = inspect.signature(fn)
        for p in signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
                raise InvalidInput(
                    f"step {self.name!r}: parameter {p.name!r} must be a plain named parameter "
                    "(inputs and params are passed by name)"
                )
        self.parameters: tuple[str, ...] = tuple(signature.parameters)
        self.defaults: dict[str, Any] = {
            p.name: p.default for p in signature.parameters.values() if p.default is not _NO_DEFAULT
        }
        self._fingerprint: str | None = None
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function itself (steps stay ordinary, testable functions)."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Step {self.name!r} ({', '.join(self.parameters)})>"

    def fingerprint(self) -> str:
        """sha256 of the step's normalised source and of its ``extra_code``.

        Raises:
            InvalidInput: some source cannot be read; a partial fingerprint would make stale
                cache hits, so there is no fallback.
        """
        if self._fingerprint is None:
            digest = hashlib.sha256()
            digest.update(_normalised_source(self.fn, self.name).encode())
            for extra in self.extra_code:
                digest.update(b"\0")
                digest.update(_normalised_source(extra, self.name).encode())
            if self.schema is not None:  # a new schema may reject what the cache holds
                from loopml.pipeline._boundaries import schema_text

                digest.update(b"\0schema\0" + schema_text(self.schema).encode())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def __reduce__(self) -> tuple[Any, ...]:
        # A module-level step pickles by reference (the worker imports it: nothing but a
        # name travels); any other one carries its function, which cloudpickle can ship by
        # value. Plain pickle of ``fn`` would fail: its module attribute is this Step.
        module, qualname = self.fn.__module__, self.fn.__qualname__
        if (
            module != "__main__"
            and "<locals>" not in qualname
            and _lookup(module, qualname) is self
        ):
            return (_import_step, (module, qualname))
        return (
            _rebuild_step,
            (self.fn, self.name, self.retries, self.extra_code, self.schema, self.dataset),
        )


def _lookup(module: str, qualname: str) -> Any:
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj


def _import_step(module: str, qualname: str) -> Step:
    found = _lookup(module, qualname)
    if not isinstance(found, Step):
        raise InvalidInput(f"{module}:{qualname} is not a loopml step in this process")
    return found


def _rebuild_step(
    fn: Callable[..., Any],
    name: str,
    retries: int,
    extra_code: Sequence[Any],
    schema: Any = None,
    dataset: str | None = None,
) -> Step:
    return Step(
        fn, name=name, retries=retries, extra_code=extra_code, schema=schema, dataset=dataset
    )


def _normalised_source(obj: Any, step_name: str) -> str:
    """Source text without indentation, decorators, blank lines or trailing spaces.

    Decorator lines are dropped so that changing ``retries`` does not invalidate the cache;
    comments stay (a cheap, predictable rule: any edit of the body is a new version).
    """
    target = obj.fn if isinstance(obj, Step) else obj
    if not isinstance(target, types.ModuleType | type) and not callable(target):
        raise InvalidInput(
            f"step {step_name!r}: extra_code entries must be modules, functions or classes, "
            f"got {type(obj).__name__}"
        )
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError) as exc:
        raise InvalidInput(
            f"step {step_name!r}: cannot read the source of {target!r} for the cache key "
            f"({exc}); define it in a file"
        ) from exc
    lines = [line.rstrip() for line in textwrap.dedent(source).splitlines()]
    lines = [line for line in lines if line]
    if not isinstance(target, types.ModuleType):
        while lines and lines[0].startswith("@"):
            lines.pop(0)
    return "\n".join(lines)


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(
    *,
    name: str | None = None,
    retries: int = 0,
    extra_code: Sequence[Any] = (),
    schema: Any = None,
    dataset: str | None = None,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int = 0,
    extra_code: Sequence[Any] = (),
    schema: Any = None,
    dataset: str | None = None,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Make a function a pipeline step; use as ``@step`` or ``@step(retries=2)``.

    Args:
        fn: the function (when used without arguments).
        name: the step's name; default the function's name. Other steps name it as a parameter
            to receive its output.
        retries: how many times to rerun the step after it raises (0: run once).
        extra_code: modules, functions or classes the step depends on; their source is part
            of the cache key, so editing a helper reruns the step.
        schema: a pandera ``DataFrameSchema``, or the path or text of its YAML, that the
            step's DataFrame output must satisfy: it is checked where the step ran, and an
            output that breaks it fails the step (without retries) with every failure named.
            The schema is part of the cache key.
        dataset: register each output as a version of this dataset, with the step and its
            run as the producer (a cached rerun answers the same version).

    Returns:
        a :class:`Step` (or a decorator that makes one).

    Raises:
        InvalidInput: ``retries`` is negative, the function takes ``*args``/``**kwargs``, or
            ``schema`` is not a schema.
    """

    def wrap(f: Callable[..., Any]) -> Step:
        return Step(
            f, name=name, retries=retries, extra_code=extra_code, schema=schema, dataset=dataset
        )

    return wrap(fn) if fn is not None else wrap
