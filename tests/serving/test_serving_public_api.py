"""The public surface of loopml.serving and loopml.server.serving is pinned.

loopml.serving grows with each slice of serving (stored endpoints, prediction logs...), each
adding its names: this test pins the serving core's names; tests/test_public_api.py is the
place for the exact list once the slices land."""

from __future__ import annotations

import loopml.server.serving
import loopml.serving


def test_serving_public_names() -> None:
    assert set(loopml.serving.__all__) >= set(
        [
            "DATATYPES",
            "PROMETHEUS_CONTENT_TYPE",
            "SCORING_FORMATS",
            "BatchPolicy",
            "Endpoint",
            "Fetched",
            "InputSchema",
            "ModelInput",
            "ModelPool",
            "ModelRoute",
            "NanPolicy",
            "OutputSpec",
            "PredictionFailed",
            "ServedModel",
            "ServingMetrics",
            "StoreSource",
            "UnsupportedMediaType",
            "datatype_of",
            "encode_bytes",
            "load_served_model",
            "scoring_csv",
            "scoring_json",
            "scoring_parquet",
            "tensor_from_bytes",
            "tensor_from_json",
        ]
    )
    assert len(set(loopml.serving.__all__)) == len(loopml.serving.__all__)
    for name in loopml.serving.__all__:
        assert getattr(loopml.serving, name) is not None
    assert loopml.server.serving.__all__ == ["create_serving_app"]
