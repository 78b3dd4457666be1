"""The public surface is pinned: a change to it is a decision, not an accident."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "loopml": [
        "ActiveRun",
        "AlreadyExists",
        "Client",
        "Conflict",
        "Experiment",
        "InvalidInput",
        "LoopMLError",
        "Metric",
        "NotFound",
        "Pipeline",
        "Run",
        "RunStatus",
        "ViewType",
        "__version__",
        "active_run",
        "data",
        "end_run",
        "flush",
        "get_metric_history",
        "get_run",
        "load_model",
        "log_artifact",
        "log_artifacts",
        "log_dict",
        "log_figure",
        "log_input",
        "log_metric",
        "log_metrics",
        "log_model",
        "log_param",
        "log_params",
        "log_text",
        "model_registry",
        "register_model",
        "search_runs",
        "seed_everything",
        "set_experiment",
        "set_model_alias",
        "set_tag",
        "set_tags",
        "start_run",
        "step",
    ],
    "loopml.errors": [
        "AlreadyExists",
        "ArtifactCorrupted",
        "Conflict",
        "Forbidden",
        "InvalidInput",
        "LoopMLError",
        "NotFound",
        "PayloadTooLarge",
        "PredictionFailed",
        "Unauthorized",
        "Unavailable",
        "UnsupportedMediaType",
        "error_from_code",
    ],
    "loopml.serving": [
        "BatchPolicy",
        "Call",
        "DATATYPES",
        "Endpoint",
        "EndpointSpec",
        "EndpointStore",
        "FeedbackImport",
        "FeedbackLog",
        "Fetched",
        "InputSchema",
        "Labels",
        "MULTIPROC_ENV",
        "ModelInput",
        "ModelPool",
        "ModelRoute",
        "NanPolicy",
        "OutputSpec",
        "PROMETHEUS_CONTENT_TYPE",
        "PredictionLog",
        "RouteTable",
        "SCORING_FORMATS",
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
    ],
    "loopml.server.serving": ["create_serving_app"],
    "loopml.config": ["Settings", "load_settings"],
    "loopml.artifacts": ["ArtifactStore", "Blob", "normalize_artifact_path"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert hasattr(mod, name), name


@pytest.mark.parametrize(
    "module", ["loopml.store", "loopml.tracking", "loopml.data", "loopml.client", "loopml.cli"]
)
def test_subsystems_declare_their_surface(module: str) -> None:
    mod = importlib.import_module(module)
    assert mod.__all__ and all(hasattr(mod, n) for n in mod.__all__)


def test_errors_map_to_statuses_and_exit_codes() -> None:
    from loopml import errors

    table = {
        errors.InvalidInput: (400, "INVALID_PARAMETER_VALUE", 2),
        errors.PayloadTooLarge: (413, "INVALID_PARAMETER_VALUE", 2),
        errors.UnsupportedMediaType: (415, "BAD_REQUEST", 2),
        errors.PredictionFailed: (500, "INTERNAL_ERROR", 1),
        errors.NotFound: (404, "RESOURCE_DOES_NOT_EXIST", 3),
        errors.AlreadyExists: (409, "RESOURCE_ALREADY_EXISTS", 4),
        errors.Conflict: (409, "INVALID_STATE", 5),
        errors.Unauthorized: (401, "UNAUTHENTICATED", 6),
        errors.Forbidden: (403, "PERMISSION_DENIED", 6),
        errors.Unavailable: (503, "TEMPORARILY_UNAVAILABLE", 7),
    }
    for cls, (status, mlflow_code, exit_code) in table.items():
        assert (cls.http_status, cls.mlflow_code, cls.exit_code) == (status, mlflow_code, exit_code)
        rebuilt = errors.error_from_code(cls.code, "msg", {"k": 1})
        assert type(rebuilt) is cls and rebuilt.details == {"k": 1}
    assert isinstance(errors.NotFound("x"), LookupError)
    assert isinstance(errors.InvalidInput("x"), ValueError)
    assert type(errors.error_from_code("NO_SUCH_CODE", "m")) is errors.LoopMLError
