"""Serving: loaded model versions behind named endpoints, with checked inputs, adaptive
batching and Prometheus metrics. The HTTP protocols live in ``loopml.server.serving``.

Example::

    from loopml.config import load_settings
    from loopml.serving import ModelPool

    pool = ModelPool.load(["models:/fraud@production"], settings=load_settings())
    model = pool.get("fraud")
    rows = model.schema.from_records([{"amount": 12.5, "country": "FR"}])
    outputs = await model.predict(rows, ["predict"])   # in an event loop
"""

from loopml.serving._batcher import BatchPolicy
from loopml.serving._endpoints import (
    EndpointSpec,
    EndpointStore,
    StoredEndpoint,
    load_endpoint_spec,
)
from loopml.serving._errors import PredictionFailed, UnsupportedMediaType
from loopml.serving._input import ModelInput
from loopml.serving._k8s import k8s_manifests
from loopml.serving._loading import Fetched, StoreSource, load_served_model
from loopml.serving._metrics import PROMETHEUS_CONTENT_TYPE, ServingMetrics
from loopml.serving._model import OutputSpec, ServedModel
from loopml.serving._pool import Endpoint, ModelPool, ModelRoute
from loopml.serving._predlog import FeedbackLog, PredictionLog, log_root, read_log
from loopml.serving._schema import InputSchema, NanPolicy
from loopml.serving._scoring import SCORING_FORMATS, scoring_csv, scoring_json, scoring_parquet
from loopml.serving._tensors import (
    DATATYPES,
    datatype_of,
    encode_bytes,
    tensor_from_bytes,
    tensor_from_json,
)

__all__ = [
    "DATATYPES",
    "PROMETHEUS_CONTENT_TYPE",
    "SCORING_FORMATS",
    "BatchPolicy",
    "Endpoint",
    "EndpointSpec",
    "EndpointStore",
    "FeedbackLog",
    "Fetched",
    "InputSchema",
    "ModelInput",
    "ModelPool",
    "ModelRoute",
    "NanPolicy",
    "OutputSpec",
    "PredictionFailed",
    "PredictionLog",
    "ServedModel",
    "ServingMetrics",
    "StoreSource",
    "StoredEndpoint",
    "UnsupportedMediaType",
    "datatype_of",
    "encode_bytes",
    "k8s_manifests",
    "load_endpoint_spec",
    "load_served_model",
    "log_root",
    "read_log",
    "scoring_csv",
    "scoring_json",
    "scoring_parquet",
    "tensor_from_bytes",
    "tensor_from_json",
]
