"""source_location: every spelling of a version's source, to whose artifacts and which path."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInput
from loopml.registry import SourceLocation, source_location

RUN = "0123456789abcdef0123456789abcdef"
MODEL = "m-" + "f" * 32


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (f"runs:/{RUN}/model", SourceLocation("run", RUN, "model")),
        (f"runs:/{RUN}/nested/model", SourceLocation("run", RUN, "nested/model")),
        (f"runs:/{RUN}", SourceLocation("run", RUN, "")),
        (f"models:/{MODEL}", SourceLocation("logged_model", MODEL, "")),
        (f"mlflow-artifacts:/1/{RUN}/artifacts/model", SourceLocation("run", RUN, "model")),
        (
            f"mlflow-artifacts:/1/models/{MODEL}/artifacts/sub",
            SourceLocation("logged_model", MODEL, "sub"),
        ),
        (
            f"mlflow-artifacts:/1/models/{MODEL}/artifacts",
            SourceLocation("logged_model", MODEL, ""),
        ),
    ],
)
def test_sources_parse(source: str, expected: SourceLocation) -> None:
    assert source_location(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "/tmp/model",
        "s3://bucket/model",
        "runs:/",
        f"runs:/{RUN}/../other",
        f"models:/{MODEL}/x",
        "mlflow-artifacts:/1/2",
        "models:/fraud/3",
    ],
)
def test_other_sources_are_refused(source: str) -> None:
    with pytest.raises(InvalidInput):
        source_location(source)
