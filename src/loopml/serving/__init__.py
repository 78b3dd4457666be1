"""Serving: loaded model versions behind named endpoints (weighted, sticky and shadow
routes, hot-swapped when an alias or the stored endpoint moves), with checked inputs,
adaptive batching, a prediction and a feedback log, and Prometheus metrics. The HTTP
protocols live in ``loopml.server.serving``.

Example::

    from loopml.config import load_settings
    from loopml.serving import Call, ModelPool

    pool = ModelPool.load(["models:/fraud@production"], settings=load_settings())
    await pool.start()                                   # in an event loop: hot swaps
    call = Call(pool, pool.endpoint("fraud"), protocol="v2")

    async def rows(model):
        return model.schema.from_records([{"amount": 12.5, "country": "FR"}])

    outputs = await call.predict(rows, ["predict"])
    call.finish(200)                                     # metrics, log, shadows
"""

from loopml.serving._batcher import BatchPolicy
from loopml.serving._call import Call, check_request_id
from loopml.serving._endpoints import (
    EndpointSpec,
    EndpointStore,
    StoredEndpoint,
    load_endpoint_spec,
)
from loopml.serving._feedback import Labels, parse_feedback
from loopml.serving._feedback_file import FeedbackImport, import_feedback
from loopml.serving._input import ModelInput
from loopml.serving._k8s import k8s_manifests
from loopml.serving._loading import Fetched, StoreSource, load_served_model
from loopml.serving._metrics import MULTIPROC_ENV, PROMETHEUS_CONTENT_TYPE, ServingMetrics
from loopml.serving._model import OutputSpec, ServedModel
from loopml.serving._pool import ModelPool
from loopml.serving._predlog import FeedbackLog, PredictionLog, log_root, read_log
from loopml.serving._routing import Endpoint, ModelRoute, RouteTable, ShadowRoute, Sticky
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
    "MULTIPROC_ENV",
    "PROMETHEUS_CONTENT_TYPE",
    "SCORING_FORMATS",
    "BatchPolicy",
    "Call",
    "Endpoint",
    "EndpointSpec",
    "EndpointStore",
    "FeedbackImport",
    "FeedbackLog",
    "Fetched",
    "InputSchema",
    "Labels",
    "ModelInput",
    "ModelPool",
    "ModelRoute",
    "NanPolicy",
    "OutputSpec",
    "PredictionLog",
    "RouteTable",
    "ServedModel",
    "ServingMetrics",
    "ShadowRoute",
    "Sticky",
    "StoreSource",
    "StoredEndpoint",
    "check_request_id",
    "datatype_of",
    "encode_bytes",
    "import_feedback",
    "k8s_manifests",
    "load_endpoint_spec",
    "load_served_model",
    "log_root",
    "parse_feedback",
    "read_log",
    "scoring_csv",
    "scoring_json",
    "scoring_parquet",
    "tensor_from_bytes",
    "tensor_from_json",
]
