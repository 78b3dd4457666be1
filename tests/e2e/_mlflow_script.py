"""Drives a tracking server with the unmodified MLflow client; prints what it saw as JSON.

Run in its own process (argv: tracking URI, id of a run that loopml logged), so that MLflow's
global state and warnings stay out of the test process.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def error_code(fn) -> str:  # type: ignore[no-untyped-def]
    try:
        fn()
    except MlflowException as exc:
        return str(exc.error_code)
    return "no error"


def main() -> None:
    uri, loopml_run = sys.argv[1], sys.argv[2]
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.set_experiment("mlflow-compat")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"depth": 3, "model": "rf"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8})
        mlflow.log_metric("weird", float("nan"))
        mlflow.set_tag("team", "ml")
        workdir = tempfile.mkdtemp()
        with open(os.path.join(workdir, "notes.txt"), "w") as fh:
            fh.write("hello from mlflow")
        os.makedirs(os.path.join(workdir, "tree", "sub"))
        with open(os.path.join(workdir, "tree", "sub", "w.bin"), "wb") as fh:
            fh.write(b"\x00\x01" * 1000)
        mlflow.log_artifact(os.path.join(workdir, "notes.txt"))
        mlflow.log_artifacts(os.path.join(workdir, "tree"), artifact_path="tree")
        frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
        dataset = mlflow.data.from_pandas(frame, source="/data/train.csv", name="toy", targets="y")
        mlflow.log_input(dataset, context="training")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("inner", 1.0)
    client = MlflowClient()
    mlflow.set_experiment_tag("owner", "loopml-test")
    tagged = client.search_experiments(filter_string="tags.owner = 'loopml-test'")
    by_name = client.search_experiments(
        filter_string="name LIKE '%compat%' OR name = 'Default'", order_by=["name DESC"]
    )
    history = client.get_metric_history(parent.info.run_id, "loss")
    got = client.get_run(parent.info.run_id)
    frame = mlflow.search_runs(
        experiment_names=["mlflow-compat"],
        filter_string="metrics.acc > 0.5",
        order_by=["metrics.acc DESC"],
    )
    either = mlflow.search_runs(
        experiment_ids=[experiment.experiment_id],
        filter_string="params.lr = '0.1' OR metrics.inner = 1",
    )
    first = client.search_runs(
        [experiment.experiment_id], max_results=1, order_by=["attributes.run_name"]
    )
    second = client.search_runs(
        [experiment.experiment_id],
        max_results=1,
        order_by=["attributes.run_name"],
        page_token=first.token,
    )
    foreign = client.get_run(loopml_run)
    inputs = [
        (i.dataset.name, i.dataset.digest, {t.key: t.value for t in i.tags})
        for i in client.get_run(parent.info.run_id).inputs.dataset_inputs
    ]
    listing = sorted(f.path for f in client.list_artifacts(parent.info.run_id))
    nested = sorted(f.path for f in client.list_artifacts(parent.info.run_id, "tree/sub"))
    local = mlflow.artifacts.download_artifacts(
        run_id=parent.info.run_id, dst_path=tempfile.mkdtemp()
    )
    with open(os.path.join(local, "notes.txt")) as fh:
        notes = fh.read()
    with open(os.path.join(local, "tree", "sub", "w.bin"), "rb") as fh:
        weights_ok = fh.read() == b"\x00\x01" * 1000
    print(
        json.dumps(
            {
                "experiment_id": experiment.experiment_id,
                "parent": parent.info.run_id,
                "child": child.info.run_id,
                "child_parent_tag": client.get_run(child.info.run_id).data.tags.get(
                    "mlflow.parentRunId"
                ),
                "status": got.info.status,
                "params": got.data.params,
                "metrics": {k: (v if v == v else "nan") for k, v in got.data.metrics.items()},
                "tags_team": got.data.tags.get("team"),
                "history": [[m.step, m.value] for m in history],
                "search_rows": len(frame),
                "search_columns": sorted(c for c in frame.columns if c.startswith("metrics.")),
                "either_rows": len(either),
                "pages": [[r.info.run_name for r in first], [r.info.run_name for r in second]],
                "foreign_metrics": foreign.data.metrics,
                "artifacts": listing,
                "inputs": inputs,
                "digest": dataset.digest,
                "nested": nested,
                "notes": notes,
                "weights_ok": weights_ok,
                "foreign_params": foreign.data.params,
                "experiments_tagged": [e.name for e in tagged],
                "experiments_by_name": [e.name for e in by_name],
                "errors": {
                    "missing_run": error_code(lambda: client.get_run("0" * 32)),
                    "duplicate_experiment": error_code(
                        lambda: client.create_experiment("mlflow-compat")
                    ),
                    "param_changed": error_code(
                        lambda: client.log_param(parent.info.run_id, "lr", 0.2)
                    ),
                    "bad_filter": error_code(
                        lambda: client.search_runs([experiment.experiment_id], "metrics.acc >")
                    ),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
