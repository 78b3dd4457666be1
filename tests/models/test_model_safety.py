"""What load_model refuses: missing paths, tampered weights, untrusted types, traversal."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import skops.io as sio
import yaml
from _pyfunc_models import Shift, Thresholder
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from loopml.errors import ArtifactCorrupted, InvalidInput, NotFound
from loopml.models import load_model, save_model
from loopml.models._manifest import sha256_file


def _edit_manifest(model_dir: Path, **changes: Any) -> None:
    path = model_dir / "loopml-model.yaml"
    raw = yaml.safe_load(path.read_text())
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw))


class Canary:
    """Unpickling this runs code: it appends to a file named in the pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "pwned"))


def test_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"does not exist"):
        load_model(tmp_path / "nope")


def test_directory_without_a_model_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match=r"neither loopml-model.yaml nor MLmodel"):
        load_model(tmp_path / "empty")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput, match=r"is a file"):
        load_model(tmp_path / "file")


def test_tampered_pickle_is_refused_before_unpickling(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    save_model(Thresholder(), tmp_path / "p", allow_pickle=True)
    marker = tmp_path / "canary"
    (tmp_path / "p" / "model.pkl").write_bytes(pickle.dumps(Canary(marker)))
    with pytest.raises(ArtifactCorrupted, match=r"model.pkl") as err:
        load_model(tmp_path / "p", allow_pickle=True)
    assert err.value.details["file"] == "model.pkl"
    assert not marker.exists()  # the bytes were never unpickled
    # and without allow_pickle it is refused before even hashing
    with pytest.raises(InvalidInput, match=r"allow_pickle=True"):
        load_model(tmp_path / "p")


def test_tampered_skops_file_is_refused(tmp_path: Path, iris_clf: Any) -> None:
    save_model(iris_clf, tmp_path / "m")
    sio.dump(LogisticRegression(C=0.5), tmp_path / "m" / "model.skops")
    with pytest.raises(ArtifactCorrupted, match=r"model.skops"):
        load_model(tmp_path / "m")


def test_skops_with_untrusted_types_is_refused_and_self_trust_ignored(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any
) -> None:
    X, y = iris
    pipe = make_pipeline(Shift(), LogisticRegression(max_iter=500)).fit(X, y)
    save_model(iris_clf, tmp_path / "m")
    weights = tmp_path / "m" / "model.skops"
    sio.dump(pipe, weights)
    # A crafted directory: a matching hash, and a trust list of its own, as MLflow reads one.
    _edit_manifest(
        tmp_path / "m",
        sha256=sha256_file(weights),
        trusted_types=["_pyfunc_models.Shift"],
        skops_trusted_types=["_pyfunc_models.Shift"],
    )
    with pytest.raises(InvalidInput, match=r"_pyfunc_models.Shift") as err:
        load_model(tmp_path / "m")
    assert err.value.details["untrusted_types"] == ["_pyfunc_models.Shift"]
    # the caller (not the model) may extend the allowlist
    got = load_model(tmp_path / "m", trusted_types=["_pyfunc_models.Shift"]).predict(X)
    assert (got == pipe.predict(X)).all()


@pytest.mark.parametrize(
    "weights", ["../../etc/passwd", "/etc/passwd", "sub/../../x", "..\\x", "%2e%2e/x"]
)
def test_traversal_in_manifest_paths_is_refused(
    tmp_path: Path, iris_clf: Any, weights: str
) -> None:
    save_model(iris_clf, tmp_path / "m")
    _edit_manifest(tmp_path / "m", weights=weights)
    with pytest.raises(InvalidInput, match=r"is refused"):
        load_model(tmp_path / "m")


def test_symlink_out_of_the_model_directory_is_refused(tmp_path: Path, iris_clf: Any) -> None:
    save_model(iris_clf, tmp_path / "m")
    outside = tmp_path / "outside.skops"
    (tmp_path / "m" / "model.skops").rename(outside)
    (tmp_path / "m" / "model.skops").symlink_to(outside)
    with pytest.raises(InvalidInput, match=r"outside the model directory"):
        load_model(tmp_path / "m")


def test_missing_weights_and_malformed_manifests(tmp_path: Path, iris_clf: Any) -> None:
    save_model(iris_clf, tmp_path / "m")
    (tmp_path / "m" / "model.skops").unlink()
    with pytest.raises(NotFound, match=r"model.skops"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "loopml-model.yaml").write_text("flavor: [unclosed")
    with pytest.raises(InvalidInput, match=r"not valid YAML"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "loopml-model.yaml").write_text("flavor: sklearn\n")
    with pytest.raises(InvalidInput, match=r"misses serialization, weights, sha256"):
        load_model(tmp_path / "m")
    # yaml.safe_load: a Python-object tag is an error, not an object
    (tmp_path / "m" / "loopml-model.yaml").write_text(
        "flavor: !!python/object/apply:os.getcwd []\n"
    )
    with pytest.raises(InvalidInput, match=r"not valid YAML"):
        load_model(tmp_path / "m")


def test_uris_loopml_cannot_load_yet(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"models:/churn@champion.*registry"):
        load_model("models:/churn@champion")
    with pytest.raises(InvalidInput, match=r"need a download function"):
        load_model("runs:/abc/model")
    with pytest.raises(InvalidInput, match=r"give a local path or a runs:/ URI"):
        load_model("s3://bucket/model")
