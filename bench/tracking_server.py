"""Tracking-server benchmark: MLflow's own client against `mlflow server` and `loopml server`.

    .venv/bin/python bench/tracking_server.py [--quick] [--markdown bench/RESULTS.md]

Each server (SQLite, fresh temp dir, 127.0.0.1, a free port) runs only for its workload; the same
client code runs in worker processes. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import logging.handlers
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import tracking as base  # bench/tracking.py: bench/ is on sys.path when this runs as a script
from tracking import FILTER, ORDER, PREFIX, emit

HEADING = "## Tracking server (bench/tracking_server.py)"
BATCH = 1_000
# Untimed calls first, on every server and the stub alike: the first requests of a process
# (connection set-up, imports, caches) are not the steady state being compared.
WARMUP_CALLS, WARMUP_BATCHES = 100, 10
Row = tuple[str, str, str, str, str, str]
Results = dict[str, dict[str, Any]]
# full and --quick sizes; MLflow is timed on fewer items where it is slow and rates are compared
SIZES = {
    "points": (20_000, 2_000), "mlflow_points": (2_000, 200),
    "batch_points": (100_000, 10_000), "mlflow_batch_points": (100_000, 10_000),
    "runs": (1_000, 100), "mlflow_runs": (200, 20),
    "calls": (2_000, 200), "mlflow_calls": (300, 30),
}  # fmt: skip
COLUMNS = ("workload", "MLflow server", "loopml server", "ratio", "target", "ceiling")
NATIVE_COLUMNS = ("workload", "MLflow client + server", "loopml client + server", "ratio")
NAMES = {
    "mlflow": "MLflow server",
    "loopml": "loopml server",
    "native": "loopml client",
    "stub": "stub server (client alone)",
    "loopml-normal": "loopml server, synchronous=NORMAL",
}
TARGETS = {"a": 5.0, "b": 5.0, "c": 5.0, "d": 10.0, "e": 5.0}


def retries() -> logging.handlers.BufferingHandler:
    """Keep urllib3's "Retry..." records: the MLflow client retries failed requests quietly."""
    kept = logging.handlers.BufferingHandler(capacity=1 << 30)
    kept.addFilter(lambda record: str(record.msg).startswith("Retry"))
    log = logging.getLogger("urllib3.connectionpool")
    log.setLevel(logging.DEBUG)
    log.addHandler(kept)
    log.propagate = False
    return kept


# -- workers (each in its own process; the same code for both servers) ------------------------
def worker_client(a: argparse.Namespace) -> None:
    retried = retries()
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(a.uri)
    client, ml = MlflowClient(), a.tool == "mlflow"
    name = NAMES[a.tool]
    exp = mlflow.create_experiment("metrics")
    n = a.mlflow_points if ml else a.points
    emit(task=f"{name}: (a) {n:,} log_metric calls", total=n)
    with mlflow.start_run(experiment_id=exp):
        for i in range(WARMUP_CALLS):  # untimed, the same on every server
            mlflow.log_metric("warmup", 0.0, step=i)
        start = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
            if i % 100 == 99:
                emit(done=i + 1)
        emit(result="a", seconds=time.perf_counter() - start, calls=n)

    n = a.mlflow_batch_points if ml else a.batch_points
    now = int(time.time() * 1000)
    metrics = [Metric("x", i / n, now, i) for i in range(n)]
    emit(task=f"{name}: (b) log_batch {n:,} points", total=n)
    with mlflow.start_run(experiment_id=exp) as run:
        warm = [Metric("warmup", 0.0, now, i) for i in range(BATCH)]
        for _ in range(WARMUP_BATCHES):  # untimed, the same on every server
            client.log_batch(run.info.run_id, metrics=warm)
        start = time.perf_counter()
        for lo in range(0, n, BATCH):
            client.log_batch(run.info.run_id, metrics=metrics[lo : lo + BATCH])
            emit(done=min(lo + BATCH, n))
        emit(result="b", seconds=time.perf_counter() - start, points=n)

    exp_runs = mlflow.create_experiment("runs")
    timed = min(a.mlflow_runs if ml else a.runs, a.runs)
    emit(task=f"{name}: (c) {timed:,} runs", total=timed)
    start = time.perf_counter()
    for i in range(timed):
        with mlflow.start_run(experiment_id=exp_runs):
            mlflow.log_params(base.params_of(i))
            mlflow.log_metrics(base.metrics_of(i))
        if i % 10 == 9:
            emit(done=i + 1)
    emit(result="c", seconds=time.perf_counter() - start, runs=timed)
    if timed < a.runs:  # the search set has a.runs runs on both servers
        emit(task=f"{name}: fill the search set to {a.runs:,} runs (untimed)", total=a.runs - timed)
    for i in range(timed, a.runs):
        run_id, now = client.create_run(exp_runs).info.run_id, int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in base.metrics_of(i).items()]
        client.log_batch(run_id, metrics, [Param(k, v) for k, v in base.params_of(i).items()])
        client.set_terminated(run_id)
        emit(done=i + 1 - timed)

    def search() -> int:
        frame = mlflow.search_runs(experiment_ids=[exp_runs], filter_string=FILTER, order_by=ORDER)
        return len(frame)

    emit(task=f"{name}: (d) search_runs x{a.repeats + 1}", total=None)
    ms, rows = base.median_ms(search, a.repeats)
    emit(result="d", ms=ms, rows=rows)
    exp_e = mlflow.create_experiment("concurrent")  # for (e), run by the driver
    emit(result="setup", experiment=exp_e, retries=len(retried.buffer))


def worker_native(a: argparse.Namespace) -> None:
    """The same workloads through loopml's own client (LOOPML_TRACKING_URI=<loopml server>)."""
    os.environ["LOOPML_TRACKING_URI"] = a.uri
    import loopml
    from loopml.client import get_client
    from loopml.tracking import Metric as Point

    client, name, n = get_client(), "loopml client", a.points
    emit(task=f"{name}: (a) {n:,} log_metric calls", total=n)
    start = time.perf_counter()
    with loopml.start_run(experiment="metrics"):
        for i in range(n):
            loopml.log_metric("loss", 1.0 / (i + 1), step=i)
            if i % 100 == 99:
                emit(done=i + 1)
    emit(result="a", seconds=time.perf_counter() - start, calls=n)  # durable: the run ended

    n, now = a.batch_points, int(time.time() * 1000)
    metrics = [Point("x", i / n, now, i) for i in range(n)]
    emit(task=f"{name}: (b) log_batch {n:,} points", total=n)
    start = time.perf_counter()
    with loopml.start_run(experiment="metrics") as run:
        for lo in range(0, n, BATCH):
            client.log_batch(run.run_id, metrics=metrics[lo : lo + BATCH])
            emit(done=min(lo + BATCH, n))
    emit(result="b", seconds=time.perf_counter() - start, points=n)

    emit(task=f"{name}: (c) {a.runs:,} runs", total=a.runs)
    start = time.perf_counter()
    for i in range(a.runs):
        with loopml.start_run(experiment="runs"):
            loopml.log_params(base.params_of(i))
            loopml.log_metrics(base.metrics_of(i))
        if i % 10 == 9:
            emit(done=i + 1)
    emit(result="c", seconds=time.perf_counter() - start, runs=a.runs)
    runs_exp = client.get_experiment_by_name("runs")
    assert runs_exp is not None

    def search() -> int:
        frame = loopml.search_runs([runs_exp.experiment_id], FILTER, order_by=ORDER)
        return len(frame)

    emit(task=f"{name}: (d) search_runs x{a.repeats + 1}", total=None)
    ms, rows = base.median_ms(search, a.repeats)
    emit(result="d", ms=ms, rows=rows)
    exp_e = client.create_experiment("concurrent")
    emit(result="setup", experiment=exp_e, retries=0)


def worker_native_concurrent(a: argparse.Namespace) -> None:
    os.environ["LOOPML_TRACKING_URI"] = a.uri
    import loopml

    errors, first = 0, ""
    with loopml.start_run(experiment_id=a.experiment):
        emit(ready=True)
        sys.stdin.readline()
        start = time.time()
        for i in range(a.calls):
            try:
                loopml.log_metric("loss", 1.0 / (i + 1), step=i)
            except Exception as e:  # counted, not fatal
                errors, first = errors + 1, first or repr(e)[:300]
            if i % 50 == 49:
                emit(done=i + 1)
        try:
            loopml.flush()  # timed until durable
        except Exception as e:
            errors, first = errors + 1, first or repr(e)[:300]
        end = time.time()
    emit(result="e", start=start, end=end, errors=errors, first=first, retries=0)


def worker_concurrent(a: argparse.Namespace) -> None:
    retried = retries()
    import mlflow

    mlflow.set_tracking_uri(a.uri)
    errors, first = 0, ""
    with mlflow.start_run(experiment_id=a.experiment):
        emit(ready=True)
        sys.stdin.readline()  # "go": all the clients start together
        start = time.time()
        for i in range(a.calls):
            try:
                mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
            except Exception as e:  # counted, not fatal
                errors, first = errors + 1, first or repr(e)[:300]
            if i % 50 == 49:
                emit(done=i + 1)
        end = time.time()
    emit(result="e", start=start, end=end, errors=errors, first=first, retries=len(retried.buffer))


# -- servers ----------------------------------------------------------------------------------
def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def start_server(
    tool: str, tmp: Path, log: IO[str], rows: int = 0
) -> tuple[subprocess.Popen[str], str]:
    """Start a server on a free port; ``rows``: the size of a stub's search page."""
    with socket.socket() as s:  # a free port
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    if tool == "stub":
        stub = str(Path(__file__).with_name("_stub_server.py"))
        cmd = [sys.executable, stub, str(port), str(rows)]
    elif tool == "mlflow":
        cmd = [str(Path(sys.executable).parent / "mlflow"), "server", "--workers", "1"]
        cmd += ["--backend-store-uri", f"sqlite:///{tmp}/mlflow.db"]
        cmd += ["--artifacts-destination", str(tmp / "artifacts")]
    else:
        cmd = [sys.executable, "-m", "loopml.cli", "server", "--log-level", "warning"]
        env["LOOPML_HOME"] = str(tmp / "loopml")
        if tool == "loopml-normal":  # durable against a killed server, not a power cut
            env["LOOPML_SQLITE_SYNCHRONOUS"] = "NORMAL"
    if tool != "stub":
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
    # its own session, so that stopping it also stops what it spawns (mlflow execs uvicorn)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp,
                            start_new_session=True, text=True)  # fmt: skip
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    sys.exit(f"the {tool} server did not become ready:\n{tail(Path(log.name))}")


def stop_server(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)  # SIGTERM to the process group this script started
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


# -- driver -----------------------------------------------------------------------------------
def spawn(kind: str, a: argparse.Namespace, uri: str, err: IO[str], *extra: str) -> Any:
    sizes = [f"--{k.replace('_', '-')}={getattr(a, k)}" for k in (*SIZES, "repeats")]
    cmd = [sys.executable, __file__, f"--worker={kind}", f"--tool={a.tool}", f"--uri={uri}"]
    return subprocess.Popen([*cmd, *sizes, *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=err, text=True)  # fmt: skip


def follow(proc: Any, on_event: Callable[[dict[str, Any]], None], until: str = "") -> None:
    """Pass the worker's events to ``on_event``; stop after one with key ``until``."""
    for line in proc.stdout:
        if line.startswith(PREFIX):
            event = json.loads(line[len(PREFIX) :])
            on_event(event)
            if until in event:
                return


def run_client(a: argparse.Namespace, uri: str, bar: Any) -> Results:
    results: Results = {}
    task: list[Any] = [None, None]  # the current progress task and its total

    def finish() -> None:
        if task[0] is not None:
            bar.update(task[0], total=task[1] or 1, completed=task[1] or 1)

    def on_event(event: dict[str, Any]) -> None:
        if "task" in event:
            finish()
            task[:] = [bar.add_task(event["task"], total=event["total"]), event["total"]]
        elif "done" in event:
            bar.update(task[0], completed=event["done"])
        else:
            results[event.pop("result")] = event

    with tempfile.TemporaryFile("w+") as err:
        proc = spawn("client", a, uri, err)
        follow(proc, on_event)
        finish()
        if proc.wait() != 0:
            err.seek(0)
            raise RuntimeError(f"the client worker failed:\n{err.read()[-5000:]}")
    return results


def run_concurrent(a: argparse.Namespace, uri: str, experiment: str, bar: Any) -> dict[str, Any]:
    calls = a.mlflow_calls if a.tool == "mlflow" else a.calls
    name = NAMES[a.tool]
    task = bar.add_task(f"{name}: (e) {a.clients} x {calls:,} log_metric", total=a.clients * calls)
    with tempfile.TemporaryFile("w+") as err:  # shared by the clients; only read on a failure
        procs = [spawn("concurrent", a, uri, err, f"--experiment={experiment}", f"--calls={calls}")
                 for _ in range(a.clients)]  # fmt: skip
        for proc in procs:  # each has imported mlflow and started its run
            follow(proc, lambda event: None, until="ready")
        for proc in procs:
            with contextlib.suppress(OSError):  # if it died, it is counted below
                proc.stdin.write("go\n")
                proc.stdin.close()
        out: list[dict[str, Any]] = []  # one result per client that finished

        def on_event(event: dict[str, Any]) -> None:
            out.append(event) if "result" in event else bar.advance(task, 50)

        for proc in procs:  # the pipes hold the few events of the others until read
            follow(proc, on_event)
        failed = any(proc.wait() for proc in procs)
        err.seek(0)
        first = [o["first"] for o in out if o["first"]] + ([err.read()[-2000:]] if failed else [])
    bar.update(task, completed=a.clients * calls)
    span = max(o["end"] for o in out) - min(o["start"] for o in out)  # first start to last end
    return {"calls": calls * len(out), "seconds": span, "retries": sum(o["retries"] for o in out),
            "errors": sum(o["errors"] for o in out) + calls * (a.clients - len(out)),
            "first": first[:1]}  # fmt: skip


def run_tool(tool: str, a: argparse.Namespace, bar: Any, rows: int = 0) -> Results:
    a.tool = tool
    server = {"mlflow": "mlflow", "stub": "stub", "loopml-normal": "loopml-normal"}.get(
        tool, "loopml"
    )
    with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-server-") as tmp:
        log_path = Path(tmp) / "server.log"
        with log_path.open("w") as log:
            task = bar.add_task(f"{server} server: start", total=None)
            proc, uri = start_server(server, Path(tmp), log, rows)
            bar.update(task, total=1, completed=1)
            try:
                results = run_client(a, uri, bar)
                if tool != "stub":  # a stub's concurrency would measure nothing
                    results["e"] = run_concurrent(a, uri, results["setup"]["experiment"], bar)
            except (RuntimeError, ValueError) as e:
                stop_server(proc)
                sys.exit(f"{e}\n--- {tool} server log (tail) ---\n{tail(log_path)}")
            stop_server(proc)
    return results


def build_rows(a: argparse.Namespace, m: Results, lo: Results, stub: Results) -> list[Row]:
    def row(label: str, key: str, x: float, y: float, fmt: str, ratio: float, best: str) -> Row:
        met = f"≥{base.times(TARGETS[key])} " + ("yes" if ratio >= TARGETS[key] else "NO")
        return (label, format(x, fmt), format(y, fmt), base.times(ratio), met, best)

    rows = []
    for key, what, fmt, label in (
        ("a", "calls", ",.0f", f"(a) log_metric x{a.points:,}, one run (calls/s)"),
        ("b", "points", ",.0f", f"(b) log_batch {a.batch_points:,} points (points/s)"),
        ("c", "runs", ",.1f", f"(c) {a.runs:,} runs, 10 params + 10 metrics (runs/s)"),
        ("e", "calls", ",.0f", f"(e) {a.clients} clients x log_metric (aggregate calls/s)"),
    ):
        x, y = (r[key][what] / r[key]["seconds"] for r in (m, lo))
        best = ""
        if key in stub:
            best = base.times(stub[key][what] / stub[key]["seconds"] / x)
        rows.append(row(label, key, x, y, fmt, y / x, best))
    x, y, z = m["d"]["ms"], lo["d"]["ms"], stub["d"]["ms"]
    label = f"(d) search_runs, {a.runs:,} runs (median ms)"
    rows.insert(3, row(label, "d", x, y, ",.1f", x / y, base.times(x / z)))
    err = [r["e"]["errors"] for r in (m, lo)]
    rows.append(("(e) errors (client exceptions)", f"{err[0]:,}", f"{err[1]:,}", "",
                 "0 " + ("yes" if err[1] == 0 else "NO"), ""))  # fmt: skip
    return rows


def build_native_rows(a: argparse.Namespace, m: Results, n: Results) -> list[tuple[str, ...]]:
    """MLflow's client on MLflow's server against loopml's client on loopml's server."""
    rows: list[tuple[str, ...]] = []
    for key, what, fmt, label in (
        ("a", "calls", ",.0f", f"(a) log_metric x{a.points:,}, until durable (calls/s)"),
        ("b", "points", ",.0f", f"(b) log_batch {a.batch_points:,} points (points/s)"),
        ("c", "runs", ",.1f", f"(c) {a.runs:,} runs, 10 params + 10 metrics (runs/s)"),
        ("e", "calls", ",.0f", f"(e) {a.clients} clients x log_metric (aggregate calls/s)"),
    ):
        x, y = (r[key][what] / r[key]["seconds"] for r in (m, n))
        rows.append((label, format(x, fmt), format(y, fmt), base.times(y / x)))
    x, y = m["d"]["ms"], n["d"]["ms"]
    rows.insert(3, (f"(d) search_runs (median ms, {n['d']['rows']:,} rows)", format(x, ",.1f"),
                    format(y, ",.1f"), base.times(x / y)))  # fmt: skip
    rows.append(("(e) errors", f"{m['e']['errors']:,}", f"{n['e']['errors']:,}", ""))
    return rows


def build_notes(a: argparse.Namespace, m: Results, lo: Results) -> list[str]:
    rows_m, rows_l = m["d"]["rows"], lo["d"]["rows"]
    rows = f"{rows_l:,} rows each" if rows_m == rows_l else f"ROWS DIFFER: {rows_m} vs {rows_l}"
    retries = [r["setup"]["retries"] + r["e"]["retries"] for r in (m, lo)]
    exe = os.path.relpath(sys.executable)  # the repository's paths stay relative
    sizes = [f"{r['a']['calls']:,}, {r['b']['points']:,}, {r['c']['runs']:,} and "
             f"{r['e']['calls'] // a.clients:,}" for r in (m, lo)]  # fmt: skip
    notes = [
        f"Sizes timed ((a) calls, (b) points, (c) runs, (e) calls per client): MLflow server "
        f"{sizes[0]}; loopml server {sizes[1]}. Rates are compared. For (d) MLflow's other "
        f"{a.runs - m['c']['runs']:,} runs were created untimed with `MlflowClient.log_batch`.",
        f"(a) and (b) are timed after {WARMUP_CALLS} untimed `log_metric` calls and "
        f"{WARMUP_BATCHES} untimed batches on each server. "
        f"(b) `MlflowClient.log_batch`, {BATCH:,} metrics per call. (d) filter `{FILTER}`, "
        f"order by `{ORDER[0]}`, DataFrame result, median of {a.repeats} after a warm-up: {rows}.",
        "Servers: `mlflow server --workers 1 --backend-store-uri sqlite:///<tmp>/mlflow.db "
        "--artifacts-destination <tmp>/artifacts` and `loopml server` (`LOOPML_HOME=<tmp>/loopml`,"
        " SQLite); the client is MLflow's, default synchronous mode. Requests the client retried "
        f"(urllib3): MLflow {retries[0]}, loopml {retries[1]}.",
        "ceiling: the best ratio any server could reach with this client: MLflow server's "
        "time over the MLflow client's own time, measured against bench/_stub_server.py (a "
        "stub that answers every call at once with a canned body; its (d) page has as many "
        "runs as the real answer).",
        f"Machine: {base.machine_line()}",
        f"Command: `{shlex.join([exe, 'bench/tracking_server.py', *sys.argv[1:]])}`",
    ]
    for tool, r in (("MLflow server", m), ("loopml server", lo)):
        notes += [f"(e) first error on the {tool}: {r['e']['first'][0]}"] if r["e"]["first"] else []
    return notes


def write_markdown(
    path: Path, rows: list[Row], notes: list[str], native_rows: list[tuple[str, ...]]
) -> None:
    old = path.read_text() if path.exists() else ""
    lines = [] if HEADING in old else [HEADING, ""]
    lines += [f"| {' | '.join(COLUMNS)} |", "|---|--:|--:|--:|--:|--:|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    lines += ["", "With loopml's own client (`LOOPML_TRACKING_URI`, same server, same work):", ""]
    lines += [f"| {' | '.join(NATIVE_COLUMNS)} |", "|---|--:|--:|--:|"]
    lines += [f"| {' | '.join(r)} |" for r in native_rows]
    lines += ["", *(f"{n}  " for n in notes), ""]
    sep = "\n" if old and not old.endswith("\n\n") else ""
    path.write_text(old + sep + "\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    for name, (full, quick) in SIZES.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=int, help=f"{full:,} ({quick:,})")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients in (e)")
    p.add_argument("--repeats", type=int, default=5, help="timed search_runs calls")
    p.add_argument("--markdown", type=Path, metavar="PATH", help="also append the table here")
    for hidden in ("--worker", "--tool", "--uri", "--experiment"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    a = p.parse_args()
    for name, (full, quick) in SIZES.items():
        if getattr(a, name) is None:
            setattr(a, name, quick if a.quick else full)
    if a.worker:
        workers = {"client": (worker_client, worker_native), "concurrent": (worker_concurrent,
                   worker_native_concurrent)}  # fmt: skip
        workers[a.worker][a.tool == "native"](a)
        return

    from rich import get_console
    from rich import progress as rp
    from rich.table import Table

    console, started = get_console(), time.perf_counter()
    columns = (rp.SpinnerColumn(), rp.TextColumn("{task.description}"), rp.BarColumn())
    with rp.Progress(*columns, rp.MofNCompleteColumn(), rp.TimeElapsedColumn()) as bar:
        lo = run_tool("loopml", a, bar)
        m = run_tool("mlflow", a, bar)
        native = run_tool("native", a, bar)
        stub = run_tool("stub", a, bar, rows=lo["d"]["rows"])
        normal = run_tool("loopml-normal", a, bar)
    rows, notes = build_rows(a, m, lo, stub), build_notes(a, m, lo)
    relaxed = build_rows(a, m, normal, stub)
    notes.append(
        "loopml server with LOOPML_SQLITE_SYNCHRONOUS=NORMAL (WAL: a killed server loses "
        "nothing, a power cut may lose the last commits; not the default), same run: "
        + ", ".join(f"{r[0].split(')')[0]}) {r[3]}" for r in relaxed if r[3])
        + "."
    )
    native_rows = build_native_rows(a, m, native)
    notes.append(f"Total wall time: {time.perf_counter() - started:,.0f} s.")
    table = Table(title="Tracking server: mlflow server vs loopml server (both SQLite)")
    for col in COLUMNS:
        table.add_column(col, justify="left" if col == "workload" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    native_table = Table(title="The same workloads with loopml's own client (remote transport)")
    for col in NATIVE_COLUMNS:
        native_table.add_column(col, justify="left" if col == "workload" else "right")
    for row in native_rows:
        native_table.add_row(*row)
    console.print(native_table)
    for note in notes:
        console.print(note, highlight=False, markup=False)
    if a.markdown:
        write_markdown(a.markdown, rows, notes, native_rows)
        console.print(f"appended to {a.markdown}")


if __name__ == "__main__":
    main()
