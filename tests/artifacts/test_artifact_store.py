"""The content-addressed blob store, on a local directory and on a real SeaweedFS S3 server."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.artifacts import ArtifactStore, normalize_artifact_path
from loopml.errors import ArtifactCorrupted, InvalidInput, NotFound


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return ArtifactStore(str(tmp_path / "blobs"))
    s3: Any = request.getfixturevalue("seaweed_s3")
    bucket = s3.new_bucket(f"t-{uuid.uuid4().hex[:12]}")
    return ArtifactStore(f"{bucket}/artifacts", storage_options=s3.storage_options)


def _tamper(blobs: ArtifactStore, sha: str, data: bytes) -> None:
    with blobs.fs.open(blobs.blob_path(sha), "wb") as fh:
        fh.write(data)


def test_put_get_and_dedup(blobs: ArtifactStore, tmp_path: Path) -> None:
    data = b"model weights" * 1000
    blob = blobs.put_bytes(data)
    assert blob.sha256 == hashlib.sha256(data).hexdigest() and blob.size == len(data)
    assert blobs.get_bytes(blob.sha256) == data
    src = tmp_path / "w.bin"
    src.write_bytes(data)
    assert blobs.put_file(src) == blob  # same content, same blob: stored once
    matches = blobs.fs.find(blobs.blob_path(blob.sha256).rsplit("/", 3)[0])
    assert len([m for m in matches if m.endswith(blob.sha256)]) == 1
    out = blobs.download(blob.sha256, tmp_path / "out" / "w.bin")
    assert out.read_bytes() == data


def test_tampered_blob_is_refused(blobs: ArtifactStore, tmp_path: Path) -> None:
    blob = blobs.put_bytes(b"the real model")
    _tamper(blobs, blob.sha256, b"the evil model")
    with pytest.raises(ArtifactCorrupted, match="does not match its sha256"):
        blobs.get_bytes(blob.sha256)
    dest = tmp_path / "model.bin"
    with pytest.raises(ArtifactCorrupted):
        blobs.download(blob.sha256, dest)
    assert not dest.exists() and not list(tmp_path.glob(".model.bin*"))
    assert blobs.verify(blob.sha256) is False
    # Logging the real content again repairs nothing silently: the blob is still corrupt.
    # (put_* trusts an existing name; a repair is an explicit delete + put.)
    blobs.delete(blob.sha256)
    blobs.put_bytes(b"the real model")
    assert blobs.get_bytes(blob.sha256) == b"the real model"


def test_missing_blob(blobs: ArtifactStore) -> None:
    with pytest.raises(NotFound):
        blobs.get_bytes("0" * 64)
    with pytest.raises(InvalidInput):
        blobs.get_bytes("../../etc/passwd")


def test_missing_source_file(blobs: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        blobs.put_file(tmp_path / "nope")


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "a/../../b",
        "/etc/passwd",
        "..\\..\\x",
        "C:\\x",
        "c:/x",
        "%2e%2e%2fsecret",
        "%252e%252e%252f",
        "x\x00y",
        "..",
        "a/..",
        "",
    ],
)
def test_artifact_paths_cannot_escape(path: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_artifact_path(path)


@pytest.mark.parametrize(
    ("path", "clean"),
    [("a/b.txt", "a/b.txt"), ("./a//b/", "a/b"), ("plots/loss curve.png", "plots/loss curve.png")],
)
def test_artifact_paths_are_normalised(path: str, clean: str) -> None:
    assert normalize_artifact_path(path) == clean


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab./\\%2eE5cC:~ \x00")), max_size=30))
def test_normalised_paths_stay_inside_any_root(path: str) -> None:
    root = Path("/srv/root").resolve()
    try:
        clean = normalize_artifact_path(path, allow_empty=True)
    except InvalidInput:
        return
    resolved = (root / clean).resolve()
    assert resolved == root or root in resolved.parents
