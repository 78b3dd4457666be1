"""The wire form of tracking values for loopml's own remote API (client <-> server).

JSON with a few tagged objects, so that what crosses the wire comes back as the same
Python value: entities stay entities, tuples stay tuples, NaN stays NaN, bytes stay bytes.
Only the types registered here can be decoded, so a request can never make the server
build an arbitrary object.

Metric points travel as columns (keys, packed float64 values, timestamps, steps): a batch
of 20,000 points is four JSON arrays, not 20,000 objects, and every float keeps its bits.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from enum import Enum
from typing import Any

import numpy as np

from loopml.artifacts import Blob
from loopml.errors import InvalidInput
from loopml.tracking._entities import (
    ArtifactInfo,
    DatasetInput,
    Experiment,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunsPage,
    RunStatus,
    ViewType,
)
from loopml.tracking._model_entities import (
    LoggedModel,
    LoggedModelsPage,
    LoggedModelStatus,
    ModelMetric,
    ModelOrder,
    ModelOutput,
)
from loopml.tracking._writes import NewRun, RunBatch

__all__ = ["NATIVE_API", "decode", "encode", "register_type"]

NATIVE_API = "/api/loopml/v1"  # where loopml server mounts its own API

_DATACLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        ArtifactInfo,
        Blob,
        DatasetInput,
        Experiment,
        LoggedModel,
        LoggedModelsPage,
        ModelMetric,
        ModelOrder,
        ModelOutput,
        NewRun,
        Run,
        RunBatch,
        RunData,
        RunInfo,
        RunsPage,
    )
}
_ENUMS: dict[str, type[Enum]] = {
    cls.__name__: cls for cls in (LoggedModelStatus, RunStatus, ViewType)
}


def register_type(cls: type[Any]) -> type[Any]:
    """Let another service's dataclass or enum cross the wire (the data layer and the
    registry register their own)."""
    if isinstance(cls, type) and issubclass(cls, Enum):
        _ENUMS[cls.__name__] = cls
        return cls
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass or an enum")
    _DATACLASSES[cls.__name__] = cls
    return cls


_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _points(items: list[Any]) -> dict[str, Any]:
    keys, values, stamps, steps = zip(*items, strict=True)
    packed = np.asarray(values, dtype="<f8").tobytes()
    return {
        "$points": {
            "named": type(items[0]) is Metric,
            "k": list(keys),
            "v": base64.b64encode(packed).decode("ascii"),
            "t": list(stamps),
            "s": list(steps),
        }
    }


def _is_points(items: list[Any]) -> bool:
    first = items[0]
    if not (type(first) is Metric or (type(first) is tuple and len(first) == 4)):
        return False
    # Columns only for well-formed points; anything odd travels as is, for the server's
    # validation to name it.
    try:
        return all(
            type(k) is str
            and (type(v) is float or type(v) is int)
            and type(t) is int
            and type(s) is int
            for k, v, t, s in items
        )
    except (TypeError, ValueError):
        return False


def encode(obj: Any) -> Any:
    """``obj`` as JSON-ready values (see the module docstring)."""
    kind = type(obj)
    if obj is None or kind is str or kind is bool or kind is int:
        return obj
    if kind is float:
        return obj if math.isfinite(obj) else {"$float": repr(obj)}
    if kind is list:
        if obj and _is_points(obj):
            return _points(obj)
        return [encode(x) for x in obj]
    if kind is dict:
        if not all(type(k) is str for k in obj):
            return {"$items": [[encode(k), encode(v)] for k, v in obj.items()]}
        out = {k: encode(v) for k, v in obj.items()}
        # A user's key that looks like a tag must not be read back as one.
        return {"$dict": out} if any(k.startswith("$") for k in out) else out
    if kind is Metric:
        return {"$metric": [encode(x) for x in obj]}
    if kind is tuple:
        return {"$tuple": [encode(x) for x in obj]}
    if kind is bytes:
        return {"$bytes": base64.b64encode(obj).decode("ascii")}
    if isinstance(obj, Enum) and kind.__name__ in _ENUMS:
        return {"$enum": kind.__name__, "value": obj.value}
    if kind.__name__ in _DATACLASSES and dataclasses.is_dataclass(obj):
        fields = {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return {"$type": kind.__name__, "fields": fields}
    if isinstance(obj, float | int | str):  # numpy scalars, str subclasses
        return encode(obj.item() if hasattr(obj, "item") else type(obj).__mro__[1](obj))
    raise InvalidInput(
        f"a {kind.__name__} cannot be sent to the tracking server: "
        "use a number, string, bool, None, list or dict"
    )


def _decode_points(body: dict[str, Any]) -> list[Any]:
    values = np.frombuffer(base64.b64decode(body["v"]), dtype="<f8").tolist()
    rows = zip(body["k"], values, body["t"], body["s"], strict=True)
    return [Metric(*r) for r in rows] if body["named"] else [tuple(r) for r in rows]


def decode(obj: Any) -> Any:
    """The Python value that :func:`encode` turned into ``obj``."""
    if isinstance(obj, list):
        return [decode(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    try:
        if len(obj) <= 2 and obj:
            tag = next(iter(obj))
            if tag == "$float":
                return _FLOATS[obj["$float"]]
            if tag == "$points":
                return _decode_points(obj["$points"])
            if tag == "$dict":
                return {k: decode(v) for k, v in obj["$dict"].items()}
            if tag == "$items":
                return {decode(k): decode(v) for k, v in obj["$items"]}
            if tag == "$metric":
                return Metric(*(decode(x) for x in obj["$metric"]))
            if tag == "$tuple":
                return tuple(decode(x) for x in obj["$tuple"])
            if tag == "$bytes":
                return base64.b64decode(obj["$bytes"])
            if tag == "$enum":
                return _ENUMS[obj["$enum"]](obj["value"])
            if tag == "$type":
                cls = _DATACLASSES[obj["$type"]]
                return cls(**{k: decode(v) for k, v in obj["fields"].items()})
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"malformed tagged value {str(obj)[:200]!r}: {exc!r}") from None
    return {k: decode(v) for k, v in obj.items()}
