"""Model loading benchmark: mlflow.pyfunc vs loopml.load_model (native, and its ONNX export).

    .venv/bin/python bench/models.py [--quick] [--cold N] [--calls N] [--markdown PATH]

One scikit-learn model, a 100-tree RandomForestClassifier fitted on load_breast_cancer
(569 rows x 30 float columns), is saved once with ``mlflow.sklearn.save_model`` (MLflow's
default skops format, trusting the tree type as MLflow requires) and once with
``loopml.models.save_model(..., onnx=True)``. Three ways of running it are then measured:
MLflow pyfunc, loopml native (skops), loopml ONNX (onnxruntime, 1 thread).

- cold: N fresh subprocesses per way, each timing the import of the library, the load and
  the first prediction (one row); medians. This is what a new serving worker pays.
- warm: in one process per way, after a first load: K more loads (median), then single-row
  predictions (median and p99 over --calls calls, rows taken in turn from the dataset) and
  whole-dataset predictions (median of 20).

Every way gets its own subprocesses and the same DataFrame rows. Timings are reported,
never asserted; the ratio is MLflow's time over loopml's (above 1: loopml is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import tracking as base  # bench/tracking.py, for machine_line / times / emit

HEADING = "## Models (bench/models.py)"
PREFIX = base.PREFIX
WAYS = ("mlflow", "loopml", "loopml-onnx")
LABELS = {"mlflow": "MLflow pyfunc", "loopml": "loopml native", "loopml-onnx": "loopml ONNX"}
TREE = "sklearn.tree._tree.Tree"
BATCHES = 20


# -- workers (each in its own process) ---------------------------------------------------------
def worker_prepare(tmp: Path) -> None:
    """Fit the model, save it both ways, and write the rows the other workers predict on."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1).fit(X, y)
    np.save(tmp / "X.npy", X.to_numpy())
    (tmp / "columns.json").write_text(json.dumps(list(X.columns)))
    (tmp / "expected.json").write_text(json.dumps(model.predict(X).tolist()))

    import mlflow.sklearn

    start = time.perf_counter()
    mlflow.sklearn.save_model(
        model, tmp / "mlflow", input_example=X.head(5), skops_trusted_types=[TREE]
    )
    mlflow_s = time.perf_counter() - start
    from loopml.models import save_model

    start = time.perf_counter()
    info = save_model(model, tmp / "loopml", input_example=X.head(5), onnx=True, onnx_sample=X)
    loopml_s = time.perf_counter() - start
    assert info.onnx is not None
    base.emit(
        result="prepare",
        mlflow_save=mlflow_s,
        loopml_save=loopml_s,
        max_abs_diff=info.onnx.max_abs_diff,
        sizes={way: _size(tmp / way) for way in ("mlflow", "loopml")},
        onnx_size=(tmp / "loopml" / "model.onnx").stat().st_size,
        skops_size=(tmp / "loopml" / "model.skops").stat().st_size,
    )


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def _rows(tmp: Path) -> Any:
    import numpy as np
    import pandas as pd

    columns = json.loads((tmp / "columns.json").read_text())
    return pd.DataFrame(np.load(tmp / "X.npy"), columns=columns)


def _importer(way: str) -> Any:
    """Import the library (timed by the caller); returns a function loading the model."""
    if way == "mlflow":
        import mlflow.pyfunc

        return lambda tmp: mlflow.pyfunc.load_model(str(tmp / "mlflow"))
    from loopml.models import load_model

    backend = "onnx" if way == "loopml-onnx" else "native"
    return lambda tmp: load_model(tmp / "loopml", backend=backend)


def worker_cold(tmp: Path, way: str) -> None:
    start = time.perf_counter()
    load = _importer(way)
    imported = time.perf_counter()
    model = load(tmp)
    loaded = time.perf_counter()
    row = _rows(tmp).iloc[[0]]  # untimed: reading the benchmark's own data
    before = time.perf_counter()
    model.predict(row)
    first = time.perf_counter() - before
    base.emit(result="cold", imp=imported - start, load=loaded - imported, first=first)


def worker_warm(tmp: Path, way: str, loads: int, calls: int) -> None:
    import numpy as np

    load = _importer(way)
    model = load(tmp)  # the first load pays for lazy imports: not counted here
    samples = []
    for _ in range(loads):
        start = time.perf_counter()
        model = load(tmp)
        samples.append(time.perf_counter() - start)
    frame = _rows(tmp)
    rows = [frame.iloc[[i]] for i in range(len(frame))]
    model.predict(rows[0])
    latencies = []
    for i in range(calls):
        row = rows[i % len(rows)]
        start = time.perf_counter()
        model.predict(row)
        latencies.append(time.perf_counter() - start)
    batch = []
    for _ in range(BATCHES):
        start = time.perf_counter()
        predicted = model.predict(frame)
        batch.append(time.perf_counter() - start)
    expected = np.asarray(json.loads((tmp / "expected.json").read_text()))
    agree = int(np.sum(np.asarray(predicted).ravel() == expected))
    base.emit(
        result="warm",
        load=statistics.median(samples),
        median=statistics.median(latencies),
        p99=float(np.percentile(latencies, 99)),
        batch=statistics.median(batch),
        agree=agree,
        rows=len(expected),
    )


# -- driver -----------------------------------------------------------------------------------
def run(args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        sys.exit(f"worker {args} failed:\n{out.stderr[-4000:]}")
    for line in out.stdout.splitlines():
        if line.startswith(PREFIX):
            event = dict(json.loads(line[len(PREFIX) :]))
            event.pop("result")
            return event
    sys.exit(f"worker {args} printed no result:\n{out.stdout[-2000:]}")


def fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def build_rows(cold: dict[str, dict[str, float]], warm: dict[str, dict[str, Any]]) -> list[tuple]:
    def total(way: str) -> float:
        return cold[way]["imp"] + cold[way]["load"] + cold[way]["first"]

    figures = [
        ("cold: import the library", {w: cold[w]["imp"] for w in WAYS}),
        ("cold: load the model", {w: cold[w]["load"] for w in WAYS}),
        ("cold: first prediction (1 row)", {w: cold[w]["first"] for w in WAYS}),
        ("cold: import + load + first prediction", {w: total(w) for w in WAYS}),
        ("warm: load the model (median)", {w: warm[w]["load"] for w in WAYS}),
        ("predict 1 row, median", {w: warm[w]["median"] for w in WAYS}),
        ("predict 1 row, p99", {w: warm[w]["p99"] for w in WAYS}),
        (f"predict {warm['mlflow']['rows']} rows, median", {w: warm[w]["batch"] for w in WAYS}),
    ]
    rows = []
    for label, by_way in figures:
        m = by_way["mlflow"]
        rows.append(
            (
                label,
                fmt(m),
                fmt(by_way["loopml"]),
                base.times(m / by_way["loopml"]),
                fmt(by_way["loopml-onnx"]),
                base.times(m / by_way["loopml-onnx"]),
            )
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 cold starts, 200 calls: smoke check")
    p.add_argument("--cold", type=int, help="fresh subprocesses per way (default 5)")
    p.add_argument("--loads", type=int, default=10, help="warm loads per way (default 10)")
    p.add_argument("--calls", type=int, help="single-row predictions per way (default 1,000)")
    p.add_argument("--markdown", type=Path, metavar="PATH", help="also append the table here")
    p.add_argument("--worker", choices=["prepare", "cold", "warm"], help=argparse.SUPPRESS)
    p.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    p.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    a.cold = a.cold or (2 if a.quick else 5)
    a.calls = a.calls or (200 if a.quick else 1_000)
    if a.worker == "prepare":
        worker_prepare(a.tmp)
        return
    if a.worker == "cold":
        worker_cold(a.tmp, a.way)
        return
    if a.worker == "warm":
        worker_warm(a.tmp, a.way, a.loads, a.calls)
        return

    from rich import get_console
    from rich.progress import Progress
    from rich.table import Table

    console = get_console()
    began = time.perf_counter()
    cold: dict[str, dict[str, float]] = {}
    warm: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp, Progress() as bar:
        task = bar.add_task("fit and save the model", total=1 + len(WAYS) * (a.cold + 1))
        prep = run(["--worker", "prepare", "--tmp", tmp])
        bar.advance(task)
        # Cold starts interleaved across ways, so a burst of load on the shared machine
        # does not land on one way only.
        samples: dict[str, list[dict[str, float]]] = {w: [] for w in WAYS}
        for i in range(a.cold):
            for way in WAYS:
                bar.update(task, description=f"cold start {i + 1}/{a.cold}: {LABELS[way]}")
                samples[way].append(run(["--worker", "cold", "--way", way, "--tmp", tmp]))
                bar.advance(task)
        for way in WAYS:
            cold[way] = {k: statistics.median(s[k] for s in samples[way]) for k in samples[way][0]}
        for way in WAYS:
            bar.update(task, description=f"warm: {LABELS[way]}, {a.calls:,} single-row calls")
            args = ["--worker", "warm", "--way", way, "--tmp", tmp]
            warm[way] = run([*args, "--loads", str(a.loads), "--calls", str(a.calls)])
            bar.advance(task)
    rows = build_rows(cold, warm)
    agree = ", ".join(f"{LABELS[w]} {warm[w]['agree']}/{warm[w]['rows']}" for w in WAYS)
    sizes = prep["sizes"]
    notes = [
        "Model: RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1) on "
        "load_breast_cancer (569 x 30). Saved with mlflow.sklearn.save_model (skops, "
        f"{sizes['mlflow'] / 1e6:.1f} MB dir, {prep['mlflow_save']:.2f} s) and "
        f"loopml.models.save_model(onnx=True) (skops {prep['skops_size'] / 1e6:.1f} MB + "
        f"ONNX {prep['onnx_size'] / 1e6:.1f} MB, {prep['loopml_save']:.2f} s including the "
        f"conversion and its check on 569 rows: max |p_onnx - p_sklearn| = "
        f"{prep['max_abs_diff']:.2g}).",
        f"Cold: median of {a.cold} fresh subprocesses per way (import = `import mlflow.pyfunc` "
        "or `from loopml.models import load_model`; the interpreter's own start is not "
        f"counted). Warm: median of {a.loads} loads after a first one; {a.calls:,} single-row "
        f"DataFrame predictions; whole-dataset predictions, median of {BATCHES}. "
        f"Labels equal to the original model's: {agree}.",
        "Ratio: MLflow's time / loopml's (native, then ONNX).",
        f"Machine: {base.machine_line()}",
        f"Command: `{shlex.join(['.venv/bin/python', 'bench/models.py', *sys.argv[1:]])}`",
        f"Total wall time: {time.perf_counter() - began:.0f} s.",
    ]
    table = Table(title="Models: load and predict, MLflow pyfunc vs loopml")
    columns = ("measure", "MLflow pyfunc", "loopml native", "ratio", "loopml ONNX", "ratio ")
    for col in columns:
        table.add_column(col, justify="left" if col == "measure" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for note in notes:
        console.print(note, highlight=False, markup=False)
    if a.markdown:
        old = a.markdown.read_text() if a.markdown.exists() else ""
        lines = ["", HEADING, "", f"| {' | '.join(c.strip() for c in columns)} |"]
        lines += ["|---|--:|--:|--:|--:|--:|"]
        lines += [f"| {' | '.join(r)} |" for r in rows]
        lines += ["", *(f"{n}  " for n in notes), ""]
        a.markdown.write_text(old.rstrip("\n") + "\n" + "\n".join(lines))
        console.print(f"appended to {a.markdown}")


if __name__ == "__main__":
    main()
