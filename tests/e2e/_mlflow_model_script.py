"""Logs and loads an sklearn model with the unmodified MLflow 3 client; prints what it saw.

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
    experiment = mlflow.set_experiment("models")
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        mlflow.log_metric("accuracy", float(model.score(X, y)))
        info = mlflow.sklearn.log_model(model, name="model", input_example=X[:3])
    run_id = run.info.run_id
    rows = X[::25]  # two of each class
    by_run = mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(rows)
    by_id = mlflow.pyfunc.load_model(info.model_uri).predict(rows)
    sk = mlflow.sklearn.load_model(info.model_uri).predict(rows)

    client = MlflowClient()
    got = client.get_logged_model(info.model_id)
    client.set_logged_model_tags(info.model_id, {"stage": "candidate", "owner": "ml"})
    client.delete_logged_model_tag(info.model_id, "owner")
    client.log_model_params(info.model_id, {"extra": "1"})
    tagged = client.get_logged_model(info.model_id)
    # A second model in the same run, FAILED, to search and order by.
    other = mlflow.create_external_model(name="other", source_run_id=run_id)
    client.finalize_logged_model(other.model_id, "FAILED")
    eid = experiment.experiment_id
    everything = client.search_logged_models([eid])
    named = client.search_logged_models([eid], filter_string="name = 'model'")
    ready = client.search_logged_models([eid], filter_string="status = 'READY'")
    by_param = client.search_logged_models(
        [eid], filter_string="params.C = '1.0' AND tags.stage = 'candidate'"
    )
    first = client.search_logged_models(
        [eid], max_results=1, order_by=[{"field_name": "name", "ascending": True}]
    )
    second = client.search_logged_models(
        [eid],
        max_results=1,
        order_by=[{"field_name": "name", "ascending": True}],
        page_token=first.token,
    )
    by_metric = client.search_logged_models([eid], filter_string="metrics.accuracy > 0.5")
    outputs = [o.model_id for o in client.get_run(run_id).outputs.model_outputs]
    accuracy_points = len(client.get_metric_history(run_id, "accuracy"))
    files = sorted(f.path for f in client.list_logged_model_artifacts(info.model_id))
    client.delete_logged_model(other.model_id)
    after_delete = [m.name for m in client.search_logged_models([eid])]
    print(
        json.dumps(
            {
                "run_id": run_id,
                "model_id": info.model_id,
                "model_uri": info.model_uri,
                "expected": model.predict(rows).tolist(),
                "by_run": by_run.tolist(),
                "by_id": by_id.tolist(),
                "sklearn": sk.tolist(),
                "name": got.name,
                "status": str(got.status),
                "source_run_id": got.source_run_id,
                "experiment_id": got.experiment_id,
                "artifact_location": got.artifact_location,
                "params": got.params,
                "metrics": {m.key: m.value for m in got.metrics},
                "tags": tagged.tags,
                "tagged_params": tagged.params,
                "everything": sorted(m.name for m in everything),
                "named": [m.model_id for m in named],
                "ready": [m.name for m in ready],
                "by_param": [m.name for m in by_param],
                "pages": [[m.name for m in first], [m.name for m in second], second.token],
                "by_metric": [m.name for m in by_metric],
                "outputs": outputs,
                "accuracy_points": accuracy_points,
                "files": files,
                "after_delete": after_delete,
                "errors": {
                    "missing_model": error_code(lambda: client.get_logged_model("m-" + "0" * 32)),
                    "deleted_model": error_code(lambda: client.get_logged_model(other.model_id)),
                    "bad_filter": error_code(
                        lambda: client.search_logged_models([eid], filter_string="name =")
                    ),
                    "bad_name": error_code(lambda: client.create_logged_model(eid, name="a/b")),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
