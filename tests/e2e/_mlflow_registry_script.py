"""Drives the model registry with the unmodified MLflow 3 client; prints what it saw.

Run in its own process (argv: tracking URI), so that MLflow's global state, its warnings and
its logging stay out of the test process.
"""

from __future__ import annotations

import json
import sys
import warnings

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def error_code(fn) -> str:  # type: ignore[no-untyped-def]
    try:
        fn()
    except MlflowException as exc:
        return str(exc.error_code)
    return "no error"


def main() -> None:
    warnings.simplefilter("ignore")
    mlflow.set_tracking_uri(sys.argv[1])
    mlflow.set_experiment("registry")
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    rows = X[::25]  # two of each class
    with mlflow.start_run() as run:
        # MLflow 3: registers version 1 with source "models:/m-<id>" and model_id.
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name="iris")
    run_id = run.info.run_id
    # The client finds the run's logged model and registers it again: version 2.
    # (tagged: an identical create this soon after would be answered as a retry of v1)
    v2 = mlflow.register_model(f"runs:/{run_id}/model", "iris", tags={"via": "register_model"})
    client = MlflowClient()
    # Version 3 keeps a runs:/ source: the client resolves it itself on download.
    v3 = client.create_model_version("iris", f"runs:/{run_id}/model", run_id=run_id)

    client.set_registered_model_tag("iris", "team", "ml")
    client.update_registered_model("iris", description="iris classifier")
    client.set_model_version_tag("iris", "2", "validated", "yes")
    client.set_model_version_tag("iris", "2", "scratch", "x")
    client.delete_model_version_tag("iris", "2", "scratch")
    client.update_model_version("iris", "2", description="second")
    client.set_registered_model_alias("iris", "champion", "1")
    client.set_registered_model_alias("iris", "champion", "2")  # moves the alias
    client.set_registered_model_alias("iris", "challenger", "1")
    by_alias = client.get_model_version_by_alias("iris", "champion")
    client.transition_model_version_stage("iris", "1", "Production")
    moved = client.transition_model_version_stage(
        "iris", "2", "Production", archive_existing_versions=True
    )
    v1 = client.get_model_version("iris", "1")
    production = client.get_latest_versions("iris", stages=["Production"])
    versions = client.search_model_versions("name = 'iris'", order_by=["version_number ASC"])
    by_run = client.search_model_versions(f"run_id = '{run_id}'")
    found = client.search_registered_models(filter_string="name LIKE 'ir%'")
    registered = client.get_registered_model("iris")
    predictions = {
        "alias": mlflow.pyfunc.load_model("models:/iris@champion").predict(rows).tolist(),
        "stage": mlflow.pyfunc.load_model("models:/iris/Production").predict(rows).tolist(),
        "latest": mlflow.pyfunc.load_model("models:/iris/latest").predict(rows).tolist(),
        "v1": mlflow.pyfunc.load_model("models:/iris/1").predict(rows).tolist(),
    }
    download = client.get_model_version_download_uri("iris", "1")
    client.delete_registered_model_alias("iris", "challenger")
    after_alias_delete = client.get_registered_model("iris").aliases
    client.rename_registered_model("iris", "iris-renamed")
    renamed = client.get_registered_model("iris-renamed")
    predictions["renamed"] = (
        mlflow.pyfunc.load_model("models:/iris-renamed@champion").predict(rows).tolist()
    )
    errors = {
        "unknown_alias": error_code(
            lambda: client.get_model_version_by_alias("iris-renamed", "nope")
        ),
        "old_name": error_code(lambda: client.get_registered_model("iris")),
        "duplicate": error_code(lambda: client.create_registered_model("iris-renamed")),
        "unknown_version": error_code(lambda: client.get_model_version("iris-renamed", "99")),
        "reserved_alias": error_code(
            lambda: client.set_registered_model_alias("iris-renamed", "latest", "1")
        ),
        "bad_stage": error_code(
            lambda: client.transition_model_version_stage("iris-renamed", "1", "Prod")
        ),
        "bad_source": error_code(
            lambda: client.create_model_version("iris-renamed", "file:///etc", run_id=run_id)
        ),
    }
    client.delete_model_version("iris-renamed", "2")
    left = [v.version for v in client.search_model_versions("name = 'iris-renamed'")]
    aliases_left = client.get_registered_model("iris-renamed").aliases
    client.delete_registered_model("iris-renamed")
    errors["deleted"] = error_code(lambda: client.get_registered_model("iris-renamed"))
    print(
        json.dumps(
            {
                "run_id": run_id,
                "model_id": info.model_id,
                "registered_version": info.registered_model_version,
                "v2": [v2.version, v2.source, v2.run_id, v2.status],
                "v3": [v3.version, v3.source, v3.run_id],
                "by_alias": [by_alias.version, list(by_alias.aliases), by_alias.description],
                "v2_tags": by_alias.tags,
                "moved": [moved.version, moved.current_stage],
                "v1": [v1.current_stage, v1.source, v1.run_id, sorted(v1.aliases), v1.status],
                "v1_times": [v1.creation_timestamp, v1.last_updated_timestamp],
                "production": [v.version for v in production],
                "versions": [v.version for v in versions],
                "by_run": sorted(v.version for v in by_run),
                "found": [m.name for m in found],
                "registered": {
                    "description": registered.description,
                    "tags": registered.tags,
                    "aliases": registered.aliases,
                    "latest": sorted(
                        (v.version, v.current_stage) for v in registered.latest_versions
                    ),
                },
                "expected": model.predict(rows).tolist(),
                "predictions": predictions,
                "download": download,
                "after_alias_delete": after_alias_delete,
                "renamed": renamed.name,
                "left": left,
                "aliases_left": aliases_left,
                "errors": errors,
            }
        )
    )


if __name__ == "__main__":
    main()
