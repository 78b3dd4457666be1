"""ServedModel: one loaded model version, its input checks, its batcher and its outputs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput, LoopMLError, PayloadTooLarge, PredictionFailed
from loopml.models import LoadedModel, TensorSpec
from loopml.serving._batcher import Batcher, BatchPolicy
from loopml.serving._input import ModelInput
from loopml.serving._metrics import ModelMetrics
from loopml.serving._schema import InputSchema, NanPolicy

__all__ = ["OutputSpec", "ServedModel"]

_PREDICT = "predict"
_PROBA = "predict_proba"


@dataclass(frozen=True)
class OutputSpec:
    """One output a model can give: ``predict`` or ``predict_proba``.

    Attributes:
        name: the output's name (also the method that computes it).
        dtype: a numpy dtype name, ``object`` when unknown.
        shape: with ``-1`` for the batch axis and any unknown size.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]


class ServedModel:
    """A model version ready to answer requests.

    Args:
        model: the loaded model.
        name: the name clients use (``/v2/models/{name}``).
        version: the registered version, or None for a model loaded from a directory.
        source: where it came from (a URI or a path), for logs and metadata.
        policy: how concurrent requests are batched.
        nan_policy: ``auto`` asks scikit-learn whether the estimator takes NaN (pyfunc
            models are let through), ``allow`` or ``reject``.
        allow_extra_columns: drop columns the signature does not name instead of refusing.
        max_rows: the most rows one request may hold.
        load_seconds: how long loading took (a metric).
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        name: str,
        version: str | None = None,
        source: str = "",
        policy: BatchPolicy | None = None,
        nan_policy: NanPolicy = "auto",
        allow_extra_columns: bool = False,
        max_rows: int = 100_000,
        load_seconds: float = 0.0,
    ) -> None:
        self.model = model
        self.name = name
        self.version = version
        self.source = source
        self.policy = policy or BatchPolicy()
        self.max_rows = max_rows
        self.load_seconds = load_seconds
        allow_nan = _allows_nan(model) if nan_policy == "auto" else nan_policy == "allow"
        self.schema = InputSchema(
            model.signature, allow_nan=allow_nan, allow_extra_columns=allow_extra_columns
        )
        self._methods = _methods(model)
        self.outputs = _output_specs(model, self._methods)
        self.metrics: ModelMetrics | None = None
        self._batcher = Batcher(self._run_batch, self.policy, name=name)
        # Requests (and shadow calls) holding this version; touched on the event loop only.
        self.in_use = 0
        self.retired = False
        self.closed = False

    def acquire(self) -> None:
        """A request starts using this version (it stays loaded until :meth:`release`)."""
        self.in_use += 1
        if self.metrics is not None:
            self.metrics.in_flight.inc()

    def release(self) -> None:
        """A request is done with this version; a retired version is freed with its last."""
        self.in_use -= 1
        if self.metrics is not None:
            self.metrics.in_flight.dec()
        if self.retired and self.in_use == 0:
            self.close()

    def retire(self) -> None:
        """No route serves this version any more: free it once no request holds it."""
        self.retired = True
        if self.in_use == 0:
            self.close()

    def warm_up(self) -> str | None:
        """One call of every output on a sample row built from the signature, in this
        thread (first calls pay for lazy initialisation, which no request should). Learns
        the width of ``predict_proba`` from it when the model did not say.

        Returns:
            None, or why the model could not be warmed up (a sample built from types alone
            may be refused by a model that checks values: not a reason to refuse it).
        """
        sample = _sample(self.schema)
        if sample is None:
            return "no signature to build a sample from"
        try:
            results = self._call(sample, frozenset(self._methods))
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc)[:500]}"
        proba = results.get(_PROBA)
        if isinstance(proba, np.ndarray) and proba.ndim == 2:
            self.outputs = tuple(
                OutputSpec(o.name, o.dtype, (-1, proba.shape[1])) if o.name == _PROBA else o
                for o in self.outputs
            )
        return None

    @property
    def label(self) -> str:
        """``name/version`` (or just the name), as the response header shows it."""
        return f"{self.name}/{self.version}" if self.version else self.name

    @property
    def platform(self) -> str:
        """The flavor (``sklearn``, ``pyfunc``...), as V2 model metadata's ``platform``."""
        return self.model.flavor

    def __repr__(self) -> str:
        return f"ServedModel({self.label!r}, source={self.source!r})"

    async def predict(
        self, data: ModelInput, outputs: Iterable[str] = (_PREDICT,)
    ) -> dict[str, Any]:
        """The named outputs for ``data``'s rows, computed in a (possibly shared) batch.

        Returns:
            Each output by name: an array (or DataFrame, list...) of ``data.rows`` rows.

        Raises:
            InvalidInput: an unknown output, or no rows.
            PayloadTooLarge: more rows than ``max_rows``.
            PredictionFailed: the model raised for these rows.
        """
        wanted = frozenset(outputs)
        unknown = wanted - self._methods.keys()
        if unknown:
            raise InvalidInput(
                f"model {self.name!r} has no output {', '.join(map(repr, sorted(unknown)))}; "
                f"it has {', '.join(self._methods)}",
                details={"outputs": sorted(self._methods)},
            )
        if data.rows == 0:
            raise InvalidInput("the request holds no rows")
        if data.rows > self.max_rows:
            raise PayloadTooLarge(
                f"the request holds {data.rows} rows; the limit is {self.max_rows} "
                "(LOOPML_SERVE_MAX_ROWS)",
                details={"rows": data.rows, "limit": self.max_rows},
            )
        result: dict[str, Any] = await self._batcher.submit(data, wanted)
        return result

    def close(self) -> None:
        """Stop the predict threads (calls running now still end)."""
        self.closed = True
        self._batcher.close()

    # --- in a predict thread ---

    def _run_batch(self, items: list[tuple[ModelInput, frozenset[str]]]) -> list[Any]:
        wanted = frozenset().union(*(outputs for _, outputs in items))
        batch = ModelInput.concat([data for data, _ in items])
        start = time.perf_counter()
        try:
            results = self._call(batch, wanted)
            out: list[Any] = []
            offset = 0
            for data, outputs in items:
                end = offset + data.rows
                out.append({k: _rows(results[k], offset, end, len(items)) for k in outputs})
                offset = end
        except Exception as exc:
            if len(items) == 1:
                out = [_failure(exc)]
            else:
                # One request's bad rows (or a model that cannot split its output) must not
                # fail its companions: each one runs again on its own.
                out = [self._run_batch([item])[0] for item in items]
        finally:
            if self.metrics is not None:
                self.metrics.batch(batch.rows, len(items), time.perf_counter() - start)
        return out

    def _call(self, batch: ModelInput, wanted: frozenset[str]) -> dict[str, Any]:
        frame = batch.to_model()
        results = {}
        for name in wanted:
            value = self._methods[name](frame)
            size = _length(value)
            if size is not None and size != batch.rows:
                raise PredictionFailed(
                    f"model {self.label} returned {size} rows of {name} for {batch.rows} rows"
                )
            results[name] = value
        return results


def _methods(model: LoadedModel) -> dict[str, Callable[[Any], Any]]:
    # LoadedModel's own methods: its input preparation is a no-op on the frames built here
    # (columns in order, dtypes already right), and it knows each flavor and backend.
    methods: dict[str, Callable[[Any], Any]] = {_PREDICT: model.predict}
    if model.has_predict_proba:
        methods[_PROBA] = model.predict_proba
    return methods


def _output_specs(model: LoadedModel, methods: dict[str, Any]) -> tuple[OutputSpec, ...]:
    signature = model.signature
    predicted = signature.outputs if signature is not None else None
    specs = [
        OutputSpec(_PREDICT, predicted.dtype, predicted.shape)
        if isinstance(predicted, TensorSpec)
        else OutputSpec(_PREDICT, "object", (-1,))
    ]
    if _PROBA in methods:
        # scikit-learn's classes_; a LightGBM Booster or an ONNX session has none, and the
        # width is then learnt by the warm-up call (see ServedModel.warm_up).
        classes = getattr(model.raw_model, "classes_", None)
        width = len(classes) if classes is not None else -1
        specs.append(OutputSpec(_PROBA, "float64", (-1, width)))
    return tuple(specs)


def _sample(schema: InputSchema) -> ModelInput | None:
    """One row of zeros (False, "") of the signature's types, checked as a request is."""
    signature = schema.signature
    if signature is None:
        return None
    inputs = signature.inputs
    try:
        if isinstance(inputs, TensorSpec):
            shape = tuple(1 if d < 0 else d for d in inputs.shape)
            return schema.from_rows(np.zeros(shape or (1,), dtype=_dtype(inputs.dtype)))
        return schema.from_columns({c.name: _zero(c.dtype) for c in inputs})
    except (LoopMLError, TypeError, ValueError):
        return None


def _dtype(name: str) -> np.dtype[Any]:
    try:
        return np.dtype(name)
    except TypeError:
        return np.dtype(object)


def _zero(dtype: str) -> np.ndarray:
    kind = _dtype(dtype)
    if kind.kind in "biufcmM":
        return np.zeros(1, dtype=kind)
    return np.array([""], dtype=object)  # text, categories: the model judges them


def _allows_nan(model: LoadedModel) -> bool:
    if model.flavor != "sklearn" or model.backend != "native":
        return True  # pyfunc, ONNX and others: the model decides, loopml cannot know
    return _sklearn_allows_nan(model.raw_model)


def _sklearn_allows_nan(estimator: Any) -> bool:
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list):
        # A pipeline takes NaN if every step up to its first imputer does.
        for _, step in steps:
            if type(step).__module__.startswith("sklearn.impute"):
                return True
            if step is None or isinstance(step, str):  # "passthrough"
                continue
            if not _sklearn_allows_nan(step):
                return False
        return True
    try:
        return bool(estimator.__sklearn_tags__().input_tags.allow_nan)
    except AttributeError:  # not a scikit-learn estimator after all
        return True


def _length(value: Any) -> int | None:
    if isinstance(value, np.ndarray):
        return int(value.shape[0]) if value.ndim else None
    if isinstance(value, pd.DataFrame | pd.Series | list | tuple):
        return len(value)
    return None


def _rows(value: Any, start: int, end: int, members: int) -> Any:
    if isinstance(value, np.ndarray) and value.ndim:
        return value[start:end]
    if isinstance(value, pd.DataFrame | pd.Series):
        return value.iloc[start:end]
    if isinstance(value, list | tuple):
        return value[start:end]
    if members == 1:
        return value  # a scalar or a mapping: fine for one request, not splittable
    raise PredictionFailed(f"cannot split a {type(value).__name__} output between requests")


def _failure(exc: Exception) -> LoopMLError:
    if isinstance(exc, LoopMLError):
        return exc
    message = str(exc).strip()[:2000] or "(no message)"
    return PredictionFailed(
        f"the model raised {type(exc).__name__}: {message}",
        details={"exception": type(exc).__name__},
    )
