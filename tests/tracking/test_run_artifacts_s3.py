"""Run artifacts on S3-compatible storage, configured the way a user would (LOOPML_* + AWS_*)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from loopml.client import Client
from loopml.config import load_settings
from loopml.errors import ArtifactCorrupted


@pytest.mark.s3
def test_artifacts_on_seaweedfs(
    seaweed_s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = seaweed_s3.new_bucket(f"runs-{uuid.uuid4().hex[:10]}")
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LOOPML_ARTIFACTS", f"{bucket}/loopml")
    monkeypatch.setenv("LOOPML_S3_ENDPOINT_URL", seaweed_s3.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed_s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed_s3.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = Client(load_settings())
    run_id = client.create_run().info.run_id
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"\x00\x01" * 5000)
    (tmp_path / "model" / "config.json").write_text('{"layers": 3}')
    client.log_artifacts(run_id, tmp_path / "model", artifact_path="model")
    client.log_text(run_id, "same", "a.txt")
    client.log_text(run_id, "same", "b.txt")  # deduplicated: one blob, two paths
    assert [a.path for a in client.list_artifacts(run_id, "model")] == [
        "model/config.json",
        "model/weights.bin",
    ]
    local = client.download_artifacts(run_id, "model", tmp_path / "dl")
    assert (local / "weights.bin").read_bytes() == b"\x00\x01" * 5000
    blobs = client.service.blobs
    keys = [k for k in blobs.fs.find(f"{bucket.removeprefix('s3://')}/loopml")]
    assert len(keys) == 3  # weights, config, "same"
    # Tamper with the object behind config.json directly in the bucket.
    sha = next(a.sha256 for a in client.list_artifacts(run_id, "model") if a.path.endswith("json"))
    assert sha is not None
    with blobs.fs.open(blobs.blob_path(sha), "wb") as fh:
        fh.write(b'{"layers": 300}')
    with pytest.raises(ArtifactCorrupted):
        client.read_artifact(run_id, "model/config.json")
