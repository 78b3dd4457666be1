"""Models: save, load and log model directories (loopml's own and MLflow's), safely.

A model is a directory holding ``loopml-model.yaml`` (flavor, signature, requirements,
metadata, the weights' sha256) and the weights. Each flavor is written in a format that
runs no code when read: scikit-learn estimators with skops (read back only with loopml's
allowlist), xgboost models in xgboost's UBJSON, LightGBM models in LightGBM's text format,
ONNX models as ``model.onnx``. Anything else with ``predict`` (``pyfunc``) is a cloudpickle
that is written and read only with ``allow_pickle=True``. A scikit-learn model may also
carry an ONNX export (``save_model(..., onnx=True)``, checked against the original), run
with ``load_model(..., backend="onnx")``.
"""

from loopml.models._api import (
    ArtifactDownloader,
    ArtifactLogger,
    ModelInfo,
    log_model,
    save_model,
)
from loopml.models._load import load_model
from loopml.models._manifest import OnnxExport
from loopml.models._predictor import LoadedModel
from loopml.models._serialize import TRUSTED_SKOPS_TYPES
from loopml.models._signature import ColumnSpec, Signature, TensorSpec, infer_signature

__all__ = [
    "TRUSTED_SKOPS_TYPES",
    "ArtifactDownloader",
    "ArtifactLogger",
    "ColumnSpec",
    "LoadedModel",
    "ModelInfo",
    "OnnxExport",
    "Signature",
    "TensorSpec",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
]
