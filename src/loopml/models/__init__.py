"""Models: save, load and log model directories (loopml's own and MLflow's), safely.

A model is a directory holding ``loopml-model.yaml`` (flavor, signature, requirements,
metadata, the weights' sha256) and the weights. scikit-learn estimators are written with
skops and read back only with loopml's allowlist; anything else (``pyfunc``) is a
cloudpickle that is written and read only with ``allow_pickle=True``.
"""

from loopml.models._api import (
    ArtifactDownloader,
    ArtifactLogger,
    ModelInfo,
    load_model,
    log_model,
    save_model,
)
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
    "Signature",
    "TensorSpec",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
]
