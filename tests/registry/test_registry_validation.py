"""Bad names and bad sources are refused with InvalidInput naming the problem; good sources
are stored in their canonical form (the form that was checked)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loopml.artifacts import ArtifactStore
from loopml.errors import InvalidInput
from loopml.registry import ModelRegistry
from loopml.store import Store
from loopml.tracking import Run, TrackingService


@pytest.fixture
def setup(sqlite_store: Store, tmp_path: Path) -> tuple[ModelRegistry, TrackingService, Run]:
    tracking = TrackingService(sqlite_store, ArtifactStore(str(tmp_path / "artifacts")))
    run = tracking.runs.create(tracking.experiments.create("exp"))
    registry = ModelRegistry(sqlite_store, user="alice")
    registry.create_model("m")
    return registry, tracking, run


BAD_NAMES: list[tuple[object, str]] = [
    ("", "non-empty"),
    ("   ", "non-empty"),
    (None, "non-empty"),
    (3, "non-empty"),
    ("a/b", "'/'"),
    ("a:b", "':'"),
    ("a@b", "'@'"),
    ("m%2e", "'%'"),
    ("a\\b", "'\\\\\\\\'"),
    ("a#b", "'#'"),
    ("a?b", "'\\?'"),
    ("m\x00", "control"),
    ("m\n", "control"),
    ("a\u200bb", "invisible"),
    (".", "relative"),
    ("..", "relative"),
    (" m", "whitespace"),
    ("m ", "whitespace"),
    ("x" * 257, "limit is 256"),
    ("e\u0301", "NFC"),
]


def test_bad_model_names_are_refused(setup: tuple[ModelRegistry, TrackingService, Run]) -> None:
    registry, _, _ = setup
    for name, problem in BAD_NAMES:
        with pytest.raises(InvalidInput, match=problem):
            registry.create_model(name)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="'/'"):
        registry.rename_model("m", "a/b")
    assert [m.name for m in registry.search_models().models] == ["m"]
    registry.create_model("Churn model v2_final-1.0 (ünïcode)")  # what IS allowed


def test_bad_sources_are_refused(setup: tuple[ModelRegistry, TrackingService, Run]) -> None:
    registry, tracking, run = setup
    rid = run.info.run_id
    other = tracking.runs.create(run.info.experiment_id).info.run_id
    exp = run.info.experiment_id
    bad: list[tuple[str, dict[str, object], str]] = [
        ("file:///etc", {}, "scheme 'file'"),
        ("/etc", {}, "local path"),
        ("//proc/self/root", {}, "local path"),
        ("file:%2F%2F%2Fetc", {}, "percent-encoded"),
        ("file:///tmp/x#/../../etc", {}, "fragment"),
        ("s3://b/x/../../y", {}, "scheme 's3'"),
        ("s3://bucket/model", {}, "scheme 's3'"),
        ("mlflow-artifacts://other-host/..", {}, "names a host"),
        ("mlflow-artifacts://other-host/x", {}, "names a host"),
        ("http://127.0.0.1:5000/a/../..", {}, "scheme 'http'"),
        ("https://example.com/model", {}, "scheme 'https'"),
        ("dbfs:/mnt/x", {}, "scheme 'dbfs'"),
        ("C:\\x", {}, "backslash"),
        ("..", {}, "local path"),
        ("model", {}, "local path"),
        ("models:/m/1", {}, "scheme 'models'"),
        ("models:/m-" + "0" * 32, {}, "scheme 'models'"),
        (f"runs:/{other}/m", {"run_id": rid}, f"not to run_id '{rid}'"),
        (f"runs:/{rid}/../../etc", {}, "'..'"),
        (f"runs:/{rid}/m%2e%2e/x", {}, "percent-encoded"),
        (f"runs:/{rid}/m%252e%252e", {}, "percent-encoded"),
        (f"runs:/{rid}/x;/../..", {}, "path parameters"),
        (f"runs:/{rid}/x?a=1", {}, "query"),
        (f"runs:/{rid}/m\x00", {}, "control"),
        (f"runs:/{rid}", {}, "runs:/<32 hex run id>/<path>"),
        ("runs:/not-a-run/m", {}, "runs:/<32 hex run id>/<path>"),
        ("runs:/" + "a" * 32 + "/m", {}, "does not exist"),
        (f"runs://{rid}/m", {}, "names a host"),
        (f"mlflow-artifacts:/{exp}/{rid}/artifacts/../../x", {}, "'..'"),
        (f"mlflow-artifacts:/999/{rid}/artifacts/m", {}, "artifact root"),
        (f"mlflow-artifacts:/{exp}/{rid}/other", {}, "artifact root"),
        (f"mlflow-artifacts:/{exp}/{other}/artifacts/m", {"run_id": rid}, "not to run_id"),
        ("x" * 5000, {}, "limit is 4096"),
        ("", {}, "non-empty"),
    ]
    for source, kwargs, problem in bad:
        with pytest.raises(InvalidInput, match=re.escape(problem)):
            registry.create_version("m", source, **kwargs)  # type: ignore[arg-type]
    # A prompt tag does not skip the check (MLflow CVE-2026-2614).
    with pytest.raises(InvalidInput, match="scheme 'file'"):
        registry.create_version("m", "file:///etc", tags={"mlflow.prompt.is_prompt": "true"})
    with pytest.raises(InvalidInput, match="32-character hex"):
        registry.create_version("m", f"runs:/{rid}/m", run_id="../x")
    assert registry.search_versions().versions == []


def test_good_sources_are_stored_canonical(
    setup: tuple[ModelRegistry, TrackingService, Run],
) -> None:
    registry, tracking, run = setup
    rid, exp = run.info.run_id, run.info.experiment_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp}/{rid}/artifacts"
    cases = [
        (f"runs:/{rid}/model", None, f"runs:/{rid}/model"),
        (f"RUNS:/{rid}//model/./sub/", None, f"runs:/{rid}/model/sub"),
        (f"{run.info.artifact_uri}/model", rid, f"{run.info.artifact_uri}/model"),
        (
            f"mlflow-artifacts:/{exp}/{rid}/artifacts/./model",
            None,
            f"{run.info.artifact_uri}/model",
        ),
    ]
    for source, run_id, canonical in cases:
        v = registry.create_version("m", source, run_id=run_id)
        assert (v.source, v.run_id) == (canonical, rid)
        assert registry.get_version("m", v.version).source == canonical
    logged = tracking.logged_models.create(exp, name="model", source_run_id=rid)
    v = registry.create_version("m", logged.artifact_location)
    assert (v.source, v.run_id) == (logged.artifact_location, rid)
    assert logged.artifact_location.startswith(f"mlflow-artifacts:/{exp}/models/m-")
    other = tracking.runs.create(exp).info.run_id
    with pytest.raises(InvalidInput, match="not to run_id"):
        registry.create_version("m", logged.artifact_location, run_id=other)


def test_bad_versions_tags_metrics_and_datasets(
    setup: tuple[ModelRegistry, TrackingService, Run],
) -> None:
    registry, _, run = setup
    src = f"runs:/{run.info.run_id}/model"
    for version in (0, -1, "x", "1.5", True, 2**40):
        with pytest.raises(InvalidInput, match="positive integer"):
            registry.get_version("m", version)
    bad: list[tuple[dict[str, object], str]] = [
        ({"tags": {"../x": "v"}}, "registry tag key"),
        ({"tags": {"k": "\x00"}}, "NUL"),
        ({"metrics": {"auc": "high"}}, "must be a number"),
        ({"metrics": {"auc": float("nan")}}, "finite"),
        ({"datasets": ["churn"]}, "name@N"),
        ({"datasets": "churn@1"}, "list"),
        ({"description": "\x00"}, "NUL"),
    ]
    for kwargs, problem in bad:
        with pytest.raises(InvalidInput, match=problem):
            registry.create_version("m", src, **kwargs)  # type: ignore[arg-type]
