"""Datasets read from and stored in S3-compatible storage (a real SeaweedFS)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from loopml.config import load_settings
from loopml.data import DataService
from loopml.errors import NotFound


@pytest.mark.s3
def test_register_from_s3_into_s3(
    seaweed_s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = seaweed_s3.new_bucket(f"data-{uuid.uuid4().hex[:10]}")
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LOOPML_ARTIFACTS", f"{bucket}/loopml")
    monkeypatch.setenv("LOOPML_S3_ENDPOINT_URL", seaweed_s3.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed_s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed_s3.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    service = DataService.from_settings(load_settings())
    frame = pd.DataFrame({"x": range(100), "label": ["a", "b"] * 50})
    with service.blobs.fs.open(f"{bucket.removeprefix('s3://')}/raw/train.csv", "w") as f:
        frame.to_csv(f, index=False)

    version = service.register("train", f"{bucket}/raw/train.csv")
    assert version.num_rows == 100 and version.source["uri"] == f"{bucket}/raw/train.csv"
    assert service.blobs.fs.exists(service.blobs.blob_path(version.blob_sha256))
    back = service.load("train@1").to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    missing = f"{bucket}/raw/nope.csv"
    with pytest.raises(NotFound, match="no file"):
        service.register("train", missing)
