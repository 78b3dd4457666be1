"""Reading MLflow-format model directories (``MLmodel``) with loopml's loading rules."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from loopml.errors import InvalidInput
from loopml.models._manifest import resolve_inside
from loopml.models._predictor import LoadedModel
from loopml.models._serialize import load_cloudpickle, load_skops
from loopml.models._signature import ColumnSpec, Signature, TensorSpec

__all__ = ["MLMODEL", "load_mlflow_dir"]

MLMODEL = "MLmodel"

# MLflow column types -> numpy dtype names; anything else is left unchecked ("object").
_MLFLOW_TYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "object",
}


def load_mlflow_dir(
    directory: Path, *, allow_pickle: bool, trusted_types: Iterable[str], source: str
) -> LoadedModel:
    """Load an MLflow scikit-learn model directory.

    MLflow's ``skops_trusted_types`` is ignored on purpose: it is read from the model's own
    directory, so honouring it would let a model whitelist itself.

    Raises:
        InvalidInput: unreadable ``MLmodel``, a flavor loopml cannot load, a pickle without
            ``allow_pickle``, or untrusted skops types.
    """
    path = directory / MLMODEL
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from exc
    flavors = raw.get("flavors") if isinstance(raw, dict) else None
    if not isinstance(flavors, dict):
        raise InvalidInput(f"{path} has no 'flavors' mapping")
    sk = flavors.get("sklearn")
    pyfunc = flavors.get("python_function")
    if isinstance(sk, dict) and sk.get("pickled_model"):
        weights = str(sk["pickled_model"])
        fmt = str(sk.get("serialization_format") or "cloudpickle")
    elif isinstance(pyfunc, dict) and pyfunc.get("loader_module") == "mlflow.sklearn":
        weights = str(pyfunc.get("model_path", ""))
        fmt = "skops" if weights.endswith(".skops") else "cloudpickle"
    else:
        raise InvalidInput(
            f"{path} has flavor(s) {', '.join(map(str, flavors))}; loopml loads MLflow "
            f"'sklearn' models (and 'python_function' ones backed by mlflow.sklearn)",
            details={"flavors": [str(f) for f in flavors]},
        )
    file = resolve_inside(directory, weights)
    if fmt == "skops":
        model = load_skops(file, sha256=None, extra_trusted=trusted_types)
    elif fmt in ("cloudpickle", "pickle"):
        model = load_cloudpickle(file, sha256=None, allow_pickle=allow_pickle)
    else:
        raise InvalidInput(f"{path}: unknown sklearn serialization_format {fmt!r}")
    meta = raw.get("metadata")
    return LoadedModel(
        model,
        flavor="sklearn",
        signature=_signature(raw.get("signature"), path),
        metadata=dict(meta) if isinstance(meta, dict) else {},
        source=source,
    )


def _signature(raw: Any, path: Path) -> Signature | None:
    if not isinstance(raw, dict) or not raw.get("inputs"):
        return None
    try:
        inputs = json.loads(raw["inputs"])
        outputs = json.loads(raw["outputs"]) if raw.get("outputs") else []
        ins: tuple[ColumnSpec, ...] | TensorSpec
        if inputs and inputs[0].get("type") == "tensor":
            ins = _tensor(inputs[0])
        elif all("name" in c for c in inputs):
            ins = tuple(
                ColumnSpec(str(c["name"]), _MLFLOW_TYPES.get(str(c.get("type")), "object"))
                for c in inputs
            )
        else:
            return None  # unnamed columns: nothing loopml can check by name
        outs = None
        if outputs:
            first = outputs[0]
            outs = (
                _tensor(first)
                if first.get("type") == "tensor"
                else TensorSpec(_MLFLOW_TYPES.get(str(first.get("type")), "object"), (-1,))
            )
        return Signature(ins, outs)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidInput(f"{path} has a malformed signature: {exc}") from exc


def _tensor(raw: dict[str, Any]) -> TensorSpec:
    spec = raw["tensor-spec"]
    return TensorSpec(str(spec["dtype"]), tuple(int(d) for d in spec["shape"]))
