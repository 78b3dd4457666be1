"""One of many concurrent MLflow client processes (argv: tracking URI, worker index)."""

from __future__ import annotations

import sys
import time

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric


def main() -> None:
    uri, index = sys.argv[1], int(sys.argv[2])
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("load")
    with mlflow.start_run(run_name=f"worker-{index}") as run:
        mlflow.log_params({f"p{k}": f"{index}-{k}" for k in range(10)})
        for step in range(100):
            mlflow.log_metric("m", float(step), step=step)
        now = int(time.time() * 1000)
        points = [Metric("b", float(s), now, s) for s in range(1000)]
        MlflowClient().log_batch(run.info.run_id, metrics=points)
        mlflow.set_tag("worker", str(index))
    print(run.info.run_id, flush=True)


if __name__ == "__main__":
    main()
