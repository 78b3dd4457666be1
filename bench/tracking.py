"""Tracking benchmark: MLflow (local SQLite store) vs loopml (embedded SQLite store).

    .venv/bin/python bench/tracking.py [--quick] [--markdown bench/RESULTS.md]

Each tool runs the same workloads in its own subprocess and fresh temp directory, so the two
share no state (modules, threads, connections, garbage). Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

FILTER = "metrics.m0 > 0.5"
ORDER = ["metrics.m1 DESC"]
PREFIX = "@@bench "  # event lines from a worker; anything else a library prints is ignored
Row = tuple[str, str, str, str]
# full and --quick sizes: loopml metric points, MLflow's (timed), runs of each tool, MLflow's timed
SIZES = {"points": (100_000, 10_000), "mlflow_points": (2_000, 200), "runs": (1_000, 100)}
SIZES["mlflow_runs"] = (200, 20)


def params_of(i: int) -> dict[str, str]:
    return {f"p{j}": f"value-{i}-{j}" for j in range(10)}


def metrics_of(i: int) -> dict[str, float]:
    return {f"m{j}": ((i * 7919 + j * 104729) % 1000) / 1000 for j in range(10)}


def emit(**event: Any) -> None:
    sys.stdout.write(PREFIX + json.dumps(event) + "\n")
    sys.stdout.flush()


def median_ms(search: Callable[[], int], repeats: int) -> tuple[float, int]:
    """Median wall time of ``search`` in ms after one warm-up, and the rows it returned."""
    rows = search()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        search()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3, rows


# -- workers (each in its own process) ---------------------------------------------------------
def worker_mlflow(tmp: Path, a: argparse.Namespace) -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")

    def experiment(name: str) -> str:
        return mlflow.create_experiment(name, artifact_location=(tmp / "mlruns" / name).as_uri())

    emit(task="MLflow: create the store", total=None)
    exp_metrics = experiment("metrics")  # creates and migrates the database: untimed
    n = a.mlflow_points
    emit(task=f"MLflow: (a) {n:,} log_metric calls", total=n)
    with mlflow.start_run(experiment_id=exp_metrics):
        start = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)  # synchronous: durable on return
            if i % 100 == 99:
                emit(done=i + 1)
        emit(result="a", seconds=time.perf_counter() - start, calls=n)

    exp_runs = experiment("runs")
    timed = min(a.mlflow_runs, a.runs)
    emit(task=f"MLflow: (b) {timed:,} runs", total=timed)
    start = time.perf_counter()
    for i in range(timed):
        with mlflow.start_run(experiment_id=exp_runs):
            mlflow.log_params(params_of(i))
            mlflow.log_metrics(metrics_of(i))
        if i % 10 == 9:
            emit(done=i + 1)
    emit(result="b", seconds=time.perf_counter() - start, runs=timed)

    client = MlflowClient()
    emit(task=f"MLflow: fill the search set to {a.runs:,} runs (untimed)", total=a.runs - timed)
    for i in range(timed, a.runs):
        run_id = client.create_run(exp_runs).info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in metrics_of(i).items()],
            params=[Param(k, v) for k, v in params_of(i).items()],
        )
        client.set_terminated(run_id)
        emit(done=i + 1 - timed)

    def search() -> int:
        frame = mlflow.search_runs(experiment_ids=[exp_runs], filter_string=FILTER, order_by=ORDER)
        return len(frame)

    emit(task=f"MLflow: (c) search_runs x{a.repeats + 1}", total=None)
    ms, rows = median_ms(search, a.repeats)
    emit(result="c", ms=ms, rows=rows)


def worker_loopml(tmp: Path, a: argparse.Namespace) -> None:
    os.environ["LOOPML_HOME"] = str(tmp / "loopml")
    import loopml
    from loopml.client import set_client

    set_client(None)
    emit(task="loopml: create the store", total=None)
    exp_metrics = loopml.set_experiment("metrics").experiment_id  # opens the store: untimed
    n = a.points
    emit(task=f"loopml: (a) {n:,} log_metric calls + flush", total=None)
    with loopml.start_run(experiment_id=exp_metrics):
        start = time.perf_counter()
        for i in range(n):
            loopml.log_metric("loss", 1.0 / (i + 1), step=i)
        enqueued = time.perf_counter()
        loopml.flush()  # durable from here on
        end = time.perf_counter()
    emit(result="a", seconds=end - start, enqueue=enqueued - start, calls=n)

    exp_runs = loopml.set_experiment("runs").experiment_id
    emit(task=f"loopml: (b) {a.runs:,} runs", total=a.runs)
    start = time.perf_counter()
    for i in range(a.runs):
        with loopml.start_run(experiment_id=exp_runs):
            loopml.log_params(params_of(i))
            loopml.log_metrics(metrics_of(i))
        if i % 50 == 49:
            emit(done=i + 1)
    emit(result="b", seconds=time.perf_counter() - start, runs=a.runs)

    def search() -> int:
        frame = loopml.search_runs(experiment_ids=[exp_runs], filter_string=FILTER, order_by=ORDER)
        return len(frame)

    emit(task=f"loopml: (c) search_runs x{a.repeats + 1}", total=None)
    ms, rows = median_ms(search, a.repeats)
    emit(result="c", ms=ms, rows=rows)


# -- driver -----------------------------------------------------------------------------------
def run_worker(tool: str, a: argparse.Namespace, progress: Any) -> dict[str, dict[str, Any]]:
    """Run one tool's worker in a fresh temp dir; show its progress; return its results."""
    sizes = ["--points", a.points, "--mlflow-points", a.mlflow_points, "--runs", a.runs]
    sizes += ["--mlflow-runs", a.mlflow_runs, "--repeats", a.repeats]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    results: dict[str, dict[str, Any]] = {}
    task: Any = None
    total: int | None = None

    def finish(task: Any) -> None:
        if task is not None:
            progress.update(task, total=total or 1, completed=total or 1)
            progress.stop_task(task)

    with (
        tempfile.TemporaryDirectory(prefix=f"bench-{tool}-") as tmp,
        tempfile.TemporaryFile("w+") as err,
    ):
        cmd = [sys.executable, __file__, "--worker", tool, "--tmp", tmp, *map(str, sizes)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith(PREFIX):
                continue
            event = json.loads(line[len(PREFIX) :])
            if "task" in event:
                finish(task)
                task, total = progress.add_task(event["task"], total=event["total"]), event["total"]
            elif "done" in event:
                progress.update(task, completed=event["done"])
            else:
                results[event.pop("result")] = event
        finish(task)
        if proc.wait() != 0:
            err.seek(0)
            sys.exit(f"the {tool} worker failed (exit {proc.returncode}):\n{err.read()[-5000:]}")
    return results


def times(x: float) -> str:
    sign = "\u00d7"  # the multiplication sign
    return f"{x:,.0f}{sign}" if x >= 10 else f"{x:.1f}{sign}"


def build_rows(a: argparse.Namespace, m: dict[str, Any], lo: dict[str, Any]) -> list[Row]:
    rate = [r["a"]["calls"] / r["a"]["seconds"] for r in (m, lo)]
    m_call_ms, l_call_us = 1e3 / rate[0], lo["a"]["enqueue"] / lo["a"]["calls"] * 1e6
    runs = [r["b"]["runs"] / r["b"]["seconds"] for r in (m, lo)]
    ms = [r["c"]["ms"] for r in (m, lo)]
    return [
        (f"(a) log_metric x{a.points:,} until durable (calls/s)", f"{rate[0]:,.0f}",
         f"{rate[1]:,.0f}", times(rate[1] / rate[0])),
        ("(a) log_metric latency (MLflow write, loopml enqueue)", f"{m_call_ms:.2f} ms",
         f"{l_call_us:.2f} µs", times(m_call_ms * 1e3 / l_call_us)),
        (f"(b) {a.runs:,} runs x 10 params + 10 metrics (runs/s)", f"{runs[0]:,.1f}",
         f"{runs[1]:,.1f}", times(runs[1] / runs[0])),
        (f"(c) search_runs over {a.runs:,} runs (median ms)", f"{ms[0]:,.1f}", f"{ms[1]:,.1f}",
         times(ms[0] / ms[1])),
    ]  # fmt: skip


def build_notes(a: argparse.Namespace, m: dict[str, Any], lo: dict[str, Any]) -> list[str]:
    m_a, m_b = m["a"]["seconds"] / m["a"]["calls"], m["b"]["seconds"] / m["b"]["runs"]
    rows_m, rows_l = m["c"]["rows"], lo["c"]["rows"]
    rows = f"{rows_l:,} rows each" if rows_m == rows_l else f"ROWS DIFFER: {rows_m} vs {rows_l}"
    return [
        f"MLflow was timed on {m['a']['calls']:,} log_metric calls and {m['b']['runs']:,} runs "
        f"(its rates extrapolated: {a.points:,} calls would take {m_a * a.points:,.0f} s, "
        f"{a.runs:,} runs {m_b * a.runs:,.0f} s; loopml measured {lo['a']['seconds']:.2f} s "
        f"and {lo['b']['seconds']:.2f} s).",
        f"(c) filter `{FILTER}`, order by `{ORDER[0]}`, DataFrame result, median of "
        f"{a.repeats} after one warm-up: {rows}.",
        f"Machine: {machine_line()}",
        f"Command: `{command_line()}`",
    ]


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {platform.platform()}, Python {platform.python_version()}"
        f", mlflow {version('mlflow')}, loopml {version('loopml')}, "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
    )


def command_line() -> str:
    exe = Path(sys.executable)
    if exe.is_relative_to(Path.cwd()):
        exe = exe.relative_to(Path.cwd())
    return shlex.join([str(exe), "bench/tracking.py", *sys.argv[1:]])


def write_markdown(path: Path, rows: list[Row], notes: list[str]) -> None:
    heading = "## Tracking (bench/tracking.py)"
    old = path.read_text() if path.exists() else ""
    lines = [] if heading in old else [heading, ""]
    lines += ["| workload | MLflow | loopml | ratio (loopml speed-up) |", "|---|--:|--:|--:|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    lines += ["", *(f"{n}  " for n in notes), ""]
    sep = "\n" if old and not old.endswith("\n\n") else ""
    path.write_text(old + sep + "\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    p.add_argument("--points", type=int, help="loopml log_metric calls (default 100,000)")
    p.add_argument("--mlflow-points", type=int, help="MLflow log_metric calls (default 2,000)")
    p.add_argument("--runs", type=int, help="runs per tool, also the search set (default 1,000)")
    p.add_argument("--mlflow-runs", type=int, help="MLflow runs timed (default 200)")
    p.add_argument("--repeats", type=int, default=5, help="timed search_runs calls")
    p.add_argument("--markdown", type=Path, metavar="PATH", help="also append the table here")
    p.add_argument("--worker", choices=["mlflow", "loopml"], help=argparse.SUPPRESS)
    p.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    for name, (full, quick) in SIZES.items():
        if getattr(a, name) is None:
            setattr(a, name, quick if a.quick else full)
    if a.worker:
        (worker_mlflow if a.worker == "mlflow" else worker_loopml)(a.tmp, a)
        return

    from rich import get_console
    from rich import progress as rp
    from rich.table import Table

    console = get_console()  # the console rich.progress uses too
    columns = (rp.SpinnerColumn(), rp.TextColumn("{task.description}"), rp.BarColumn())
    with rp.Progress(*columns, rp.MofNCompleteColumn(), rp.TimeElapsedColumn()) as bar:
        lo = run_worker("loopml", a, bar)
        m = run_worker("mlflow", a, bar)
    rows, notes = build_rows(a, m, lo), build_notes(a, m, lo)
    table = Table(title="Tracking: MLflow (SQLite) vs loopml (embedded SQLite)")
    for col in ("workload", "MLflow", "loopml", "ratio"):
        table.add_column(col, justify="left" if col == "workload" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for note in notes:
        console.print(note, highlight=False, markup=False)
    if a.markdown:
        write_markdown(a.markdown, rows, notes)
        console.print(f"appended to {a.markdown}")


if __name__ == "__main__":
    main()
