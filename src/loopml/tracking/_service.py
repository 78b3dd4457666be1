"""The tracking service: the one place every adapter (client, CLI, server) goes through."""

from __future__ import annotations

from typing import Any

from loopml.artifacts import ArtifactStore
from loopml.config import Settings
from loopml.store import Store, open_store
from loopml.tracking._experiments import Experiments
from loopml.tracking._inputs import RunInputs
from loopml.tracking._logged_models import LoggedModels
from loopml.tracking._model_artifacts import ModelArtifacts
from loopml.tracking._run_artifacts import RunArtifacts
from loopml.tracking._runs import Runs

__all__ = ["ARTIFACT_ROOT", "TrackingService", "artifact_store_from_settings"]

# Runs' artifact URIs are logical, in MLflow's proxied form: the bytes live in the
# content-addressed store and the metadata store maps each path to its sha256.
ARTIFACT_ROOT = "mlflow-artifacts:"


def artifact_store_from_settings(settings: Settings) -> ArtifactStore:
    """The artifact store that ``settings`` point at (S3 endpoint included)."""
    location = settings.resolved_artifacts()
    options: dict[str, Any] = {}
    if location.startswith("s3://") and settings.s3_endpoint_url:
        options["client_kwargs"] = {"endpoint_url": settings.s3_endpoint_url}
    return ArtifactStore(location, storage_options=options)


class TrackingService:
    """Experiments, runs and run artifacts over one metadata store and one artifact store.

    Attributes:
        experiments: create / get / search / delete experiments.
        runs: create / get / update / log / search runs.
        artifacts: log / list / read / download run artifacts.
        inputs: the datasets runs used.
        logged_models: models logged apart from runs (MLflow 3), and runs' links to them.
        model_artifacts: the files of logged models.
    """

    def __init__(self, store: Store, blobs: ArtifactStore) -> None:
        self.store = store
        self.blobs = blobs
        self.experiments = Experiments(store, artifact_root=ARTIFACT_ROOT)
        self.runs = Runs(store, self.experiments)
        self.artifacts = RunArtifacts(store, blobs, self.runs)
        self.inputs = RunInputs(store)
        self.logged_models = LoggedModels(store, self.experiments)
        self.model_artifacts = ModelArtifacts(store, blobs, self.logged_models)

    @classmethod
    def from_settings(cls, settings: Settings) -> TrackingService:
        """Open (and migrate) the stores that ``settings`` name."""
        store = open_store(
            settings.resolved_db_url(), sqlite_synchronous=settings.sqlite_synchronous
        )
        return cls(store, artifact_store_from_settings(settings))
