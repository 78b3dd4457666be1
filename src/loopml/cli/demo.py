"""``loopml demo``: the loop on the embedded store (for now: train, track, compare)."""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

import loopml
from loopml.cli._output import console, print_json

__all__ = ["demo_cmd"]


def _models(seed: int) -> dict[str, Any]:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500)),
        "random_forest": RandomForestClassifier(n_estimators=150, random_state=seed, n_jobs=1),
        "gradient_boosting": GradientBoostingClassifier(
            n_estimators=120, learning_rate=0.1, max_depth=2, random_state=seed
        ),
        "sgd": SGDClassifier(loss="log_loss", alpha=1e-3, random_state=seed),
        "knn": make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=7)),
    }


def _fit_with_curve(name: str, model: Any, x_tr: Any, y_tr: Any, x_va: Any, y_va: Any) -> None:
    """Fit ``model`` and log a learning curve (validation log loss per step) where it has one."""
    from sklearn.metrics import log_loss
    from sklearn.preprocessing import StandardScaler

    if name == "sgd":
        scaler = StandardScaler().fit(x_tr)
        xs_tr, xs_va = scaler.transform(x_tr), scaler.transform(x_va)
        classes = np.unique(y_tr)
        for epoch in range(40):
            model.partial_fit(xs_tr, y_tr, classes=classes)
            loopml.log_metric(
                "val_log_loss", log_loss(y_va, model.predict_proba(xs_va)), step=epoch
            )
        model.scaler_ = scaler
        return
    model.fit(x_tr, y_tr)
    if name == "gradient_boosting":
        for step, proba in enumerate(model.staged_predict_proba(x_va)):
            loopml.log_metric("val_log_loss", log_loss(y_va, proba), step=step)


def demo_cmd(
    experiment: Annotated[
        str, typer.Option(help="Experiment to track the runs in.")
    ] = "loopml-demo",
    seed: Annotated[int, typer.Option(help="Seed for the split and the models.")] = 42,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Run the loop on the embedded store: train five models on scikit-learn's bundled
    breast-cancer data, track every run (params, learning curves, metrics, environment,
    seed, data digest) and compare them.

    Example: [bold]LOOPML_HOME=/tmp/ml loopml demo && loopml runs list -e loopml-demo[/]
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split

    loopml.seed_everything(seed)
    data = load_breast_cancer(as_frame=True)
    frame = data.frame
    digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
    x_tr, x_te, y_tr, y_te = train_test_split(
        data.data, data.target, test_size=0.25, random_state=seed, stratify=data.target
    )
    x_fit, x_va, y_fit, y_va = train_test_split(
        x_tr, y_tr, test_size=0.2, random_state=seed, stratify=y_tr
    )
    experiment_id = loopml.set_experiment(experiment).experiment_id
    models = _models(seed)
    started = time.time_ns() // 1_000_000
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("training", total=len(models))
        for name, model in models.items():
            progress.update(task, description=f"training [bold]{name}[/]")
            with loopml.start_run(run_name=name, tags={"loopml.demo": "true"}):
                params = {
                    k: v
                    for k, v in model.get_params().items()
                    if isinstance(v, int | float | str | bool)
                }
                loopml.log_params({"model": name, **dict(list(params.items())[:30])})
                loopml.set_tags(
                    {"loopml.data.name": "sklearn.breast_cancer", "loopml.data.digest": digest}
                )
                t0 = time.perf_counter()
                _fit_with_curve(name, model, x_fit, y_fit, x_va, y_va)
                fit_s = time.perf_counter() - t0
                x_eval = model.scaler_.transform(x_te) if hasattr(model, "scaler_") else x_te
                proba = model.predict_proba(x_eval)[:, 1]
                pred = (proba >= 0.5).astype(int)
                loopml.log_metrics(
                    {
                        "accuracy": accuracy_score(y_te, pred),
                        "f1": f1_score(y_te, pred),
                        "roc_auc": roc_auc_score(y_te, proba),
                        "log_loss": log_loss(y_te, proba),
                        "fit_seconds": fit_s,
                    }
                )
                loopml.log_dict(
                    {"test_rows": len(y_te), "positives": int(y_te.sum()), "threshold": 0.5},
                    "evaluation.json",
                )
            progress.advance(task)
    runs = loopml.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"attributes.start_time >= {started} and tags.`loopml.demo` = 'true'",
        order_by=["metrics.roc_auc DESC"],
        output_format="list",
    )
    rows: list[dict[str, Any]] = [
        {
            "run_id": r.info.run_id,
            "model": r.data.params.get("model"),
            **{
                k: r.data.metrics.get(k)
                for k in ("roc_auc", "accuracy", "f1", "log_loss", "fit_seconds")
            },
        }
        for r in runs
    ]
    if as_json:
        print_json({"experiment": experiment, "experiment_id": experiment_id, "runs": rows})
        return
    table = Table(
        "rank",
        "model",
        "roc_auc",
        "accuracy",
        "f1",
        "log_loss",
        "fit s",
        "run id",
        title=f"loopml demo: {len(rows)} runs in experiment '{experiment}'",
    )
    for rank, row in enumerate(rows, 1):
        table.add_row(
            str(rank),
            row["model"],
            *(f"{row[k]:.4f}" for k in ("roc_auc", "accuracy", "f1", "log_loss")),
            f"{row['fit_seconds']:.2f}",
            row["run_id"][:8],
            style="bold green" if rank == 1 else None,
        )
    console.print(table)
    console.print(
        f"Next: [bold]loopml runs show {rows[0]['run_id']}[/] or "
        f"[bold]loopml runs compare {' '.join(r['run_id'][:32] for r in rows[:2])}[/]"
    )
