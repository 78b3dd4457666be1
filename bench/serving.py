"""Serving benchmark: `mlflow models serve` vs `loopml serve` on the same scikit-learn models.

    .venv/bin/python bench/serving.py [--quick] [--duration S] [--markdown PATH]

Two models fitted on load_breast_cancer (569 rows x 30 float columns): a 100-tree random forest
and a StandardScaler + LogisticRegression pipeline. Each is saved with
``mlflow.sklearn.save_model`` and with ``loopml.models.save_model(..., onnx=True)``, and served
by each server in turn (a fresh subprocess on a free port of 127.0.0.1, its defaults). A load
generator in another process (aiohttp, closed loop: N keep-alive connections, each sending its
next request as soon as the previous one is answered) sends single-row MLflow scoring requests
(``POST /invocations``, ``dataframe_split``) for D seconds after a warm-up, at 8, 32 and 64
connections. Reported: requests/s, p50 and p99 latency, errors, the CPU the server and the
generator used. The in-process one-row ``predict`` time of each model is the floor.

Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import tracking as base  # bench/tracking.py: bench/ is on sys.path when this runs as a script
from tracking import PREFIX, emit

HEADING = "## Serving (bench/serving.py)"
MODELS = {
    "random_forest": "random forest (100 trees)",
    "logistic_regression": "logistic regression",
}
TREE = "sklearn.tree._tree.Tree"  # MLflow's skops format needs the tree type trusted
# server kind -> label. `loopml serve`'s default backend (auto) runs the model's checked ONNX
# export; "loopml-native" serves the same directory with scikit-learn itself.
SERVERS = {"mlflow": "MLflow", "loopml": "loopml", "loopml-native": "loopml, --backend native"}
COMMANDS = {
    "mlflow": "mlflow models serve",
    "loopml": "loopml serve",
    "loopml-native": "loopml serve --backend native",
}
V2 = "loopml-v2"  # the loopml server again, Open Inference Protocol V2 JSON instead
TARGETS = {"random_forest": 20.0, "logistic_regression": 10.0}  # x MLflow's req/s, 8 connections
P99_TARGET_MS = 20.0
FLOOR_WAYS = ("scikit-learn", "MLflow pyfunc", "loopml native", "loopml ONNX")
Result = dict[str, Any]
BATCH_METRICS = (
    "loopml_serving_batch_rows_count",
    "loopml_serving_batch_rows_sum",
    "loopml_serving_predict_duration_seconds_sum",
)
Rows = list[tuple[str, ...]]


# -- workers (each in its own process) ---------------------------------------------------------
def v2_input(name: str, value: float) -> dict[str, Any]:
    return {"name": name, "shape": [1, 1], "datatype": "FP64", "data": [value]}


def worker_prepare(tmp: Path, calls: int) -> None:
    """Fit, save both ways, write the request bodies, then time in-process one-row predicts."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    fitted = {
        "random_forest": RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1),
        "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
    }
    for model in fitted.values():
        model.fit(X, y)
    columns, rows = list(X.columns), X.to_numpy().tolist()
    invocations = [json.dumps({"dataframe_split": {"columns": columns, "data": [r]}}) for r in rows]
    v2 = [
        json.dumps({"inputs": [v2_input(c, v) for c, v in zip(columns, r, strict=True)]})
        for r in rows
    ]
    (tmp / "invocations.json").write_text(json.dumps(invocations))
    (tmp / "v2.json").write_text(json.dumps(v2))

    import mlflow.pyfunc
    import mlflow.sklearn

    from loopml.models import load_model, save_model

    saved: Result = {}
    for name, model in fitted.items():
        mlflow.sklearn.save_model(
            model, tmp / "mlflow" / name, input_example=X.head(5), skops_trusted_types=[TREE]
        )
        info = save_model(model, tmp / "loopml" / name, input_example=X.head(5), onnx=True,
                          onnx_sample=X)  # fmt: skip
        assert info.onnx is not None
        saved[name] = {"max_abs_diff": info.onnx.max_abs_diff}

    one = [X.iloc[[i]] for i in range(len(X))]
    floor: Result = {}
    for name, model in fitted.items():
        predicts = {
            "scikit-learn": model.predict,
            "MLflow pyfunc": mlflow.pyfunc.load_model(str(tmp / "mlflow" / name)).predict,
            "loopml native": load_model(tmp / "loopml" / name).predict,
            "loopml ONNX": load_model(tmp / "loopml" / name, backend="onnx").predict,
        }
        floor[name] = {}
        for way, predict in predicts.items():
            for row in one[:20]:  # warm-up: lazy imports, caches
                predict(row)
            samples = []
            for i in range(calls):
                start = time.perf_counter()
                predict(one[i % len(one)])
                samples.append(time.perf_counter() - start)
            floor[name][way] = {"median": statistics.median(samples),
                                "p99": float(np.percentile(samples, 99))}  # fmt: skip
    emit(result="prepare", saved=saved, floor=floor, calls=calls)


def _session_pids(sid: int) -> list[int]:
    """The processes of session ``sid`` (the server and what it spawned); Linux only."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[3]) == sid:  # fields after "pid (comm)": state ppid pgrp session
                    pids.append(int(entry.name))
    return pids


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


async def _generate(a: argparse.Namespace, bodies: list[bytes]) -> Result:
    import aiohttp
    import numpy as np

    latencies: list[float] = []
    errors, first_error, turn = 0, "", 0
    server = _session_pids(a.server_sid) if a.server_sid else []
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=a.connections)  # one connection per worker
    timeout = aiohttp.ClientTimeout(total=60)
    began = time.perf_counter()
    warm, end = began + a.warmup, began + a.warmup + a.duration
    cpu: dict[str, float] = {}

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors, first_error, turn
        while (start := time.perf_counter()) < end:
            body, turn = bodies[turn % len(bodies)], turn + 1  # rows in turn, across clients
            try:
                async with session.post(a.url, data=body, headers=headers) as response:
                    text = await response.read()
                    ok = response.status == 200
                    failure = "" if ok else f"HTTP {response.status}: {text[:300]!r}"
            except Exception as e:  # counted, not fatal
                ok, failure = False, repr(e)[:300]
            done = time.perf_counter()
            if not ok:
                errors, first_error = errors + 1, first_error or failure
            elif warm <= start and done <= end:
                latencies.append(done - start)

    async def clock() -> None:  # CPU used by the server and by this process, in the window
        await asyncio.sleep(max(0.0, warm - time.perf_counter()))
        cpu["server"], cpu["self"] = _cpu_seconds(server), time.process_time()
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        cpu["server"] = _cpu_seconds(server) - cpu["server"]
        cpu["self"] = time.process_time() - cpu["self"]

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(clock(), *(client(session) for _ in range(a.connections)))
    ms = np.asarray(latencies) * 1e3
    return {"count": len(latencies), "errors": errors, "first_error": first_error,
            "rps": len(latencies) / a.duration,
            "p50": float(np.percentile(ms, 50)) if len(ms) else float("nan"),
            "p99": float(np.percentile(ms, 99)) if len(ms) else float("nan"),
            "server_cpu": cpu["server"] / a.duration if server else float("nan"),
            "load_cpu": cpu["self"] / a.duration}  # fmt: skip


def worker_load(a: argparse.Namespace) -> None:
    bodies = [b.encode() for b in json.loads(Path(a.bodies).read_text())]
    if _has_uvloop():  # a cheaper event loop: less of the shared cores for the generator
        import uvloop

        emit(result="load", **uvloop.run(_generate(a, bodies)))
    else:
        emit(result="load", **asyncio.run(_generate(a, bodies)))


# -- servers ----------------------------------------------------------------------------------
def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(kind: str, model_dir: Path, port: int, extra: list[str]) -> list[str]:
    if kind == "mlflow":
        mlflow = str(Path(sys.executable).parent / "mlflow")
        return [mlflow, "models", "serve", "-m", str(model_dir), "--env-manager", "local",
                "-p", str(port), "-h", "127.0.0.1"]  # fmt: skip
    cli = [sys.executable, "-m", "loopml.cli", "serve", str(model_dir)]
    return [*cli, "--host", "127.0.0.1", "--port", str(port), *extra]


@contextlib.contextmanager
def server(kind: str, model_dir: Path, log_path: Path, extra: list[str]) -> Iterator[Result]:
    """Run a server until the block ends (or fails, or Ctrl-C); yields its url, pid, start-up."""
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    env.pop("MLFLOW_MODELS_WORKERS", None)  # MLflow's default number of workers
    # `mlflow models serve` execs `uvicorn` from PATH: this venv's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    ready = "/ping" if kind == "mlflow" else "/v2/health/ready"
    url, began = f"http://127.0.0.1:{port}", time.perf_counter()
    with log_path.open("w") as log:
        # its own session: stopping it stops what it spawned (mlflow runs uvicorn in a child)
        proc = subprocess.Popen(server_command(kind, model_dir, port, extra), stdout=log,
                                stderr=subprocess.STDOUT, env=env, cwd=log_path.parent,
                                start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{COMMANDS[kind]} did not become ready:\n{tail(log_path)}")
                try:
                    with urllib.request.urlopen(url + ready, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.2)
            yield {"url": url, "pid": proc.pid, "startup": time.perf_counter() - began}
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)  # the process group this script started
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# -- driver -----------------------------------------------------------------------------------
def run_worker(args: list[str], err: IO[str]) -> Result:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            stderr=err, text=True, env=env)  # fmt: skip
    try:
        out, _ = proc.communicate()
    finally:
        if proc.poll() is None:  # Ctrl-C while it ran
            proc.kill()
            proc.wait()
    for line in out.splitlines():
        if line.startswith(PREFIX):
            event = dict(json.loads(line[len(PREFIX) :]))
            event.pop("result")
            return event
    err.seek(0)
    raise RuntimeError(f"worker {args[:2]} failed:\n{err.read()[-4000:]}")


def batching(url: str) -> tuple[float, float, float]:
    """Predict calls, their rows and their seconds so far, from a loopml server's /metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    totals = dict.fromkeys(BATCH_METRICS, 0.0)
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in totals:
            totals[name] += float(line.rsplit(" ", 1)[1])
    calls, rows, seconds = totals.values()
    return calls, rows, seconds


def runs_of(kind: str, a: argparse.Namespace) -> list[tuple[str, int, str]]:
    """(row label, connections, protocol) of each load run against one server."""
    runs = [(kind, c, "invocations") for c in a.connections]
    if kind == "loopml" and 8 in a.connections:  # and V2 JSON, once
        runs.append((V2, 8, "v2"))
    return runs


def measure(a: argparse.Namespace, tmp: Path, bar: Any) -> tuple[Result, dict[str, Result]]:
    """Returns the prepare worker's result and {model: {f"{server}@{conns}": load result}}."""
    extra = shlex.split(a.loopml_args)
    steps = len(MODELS) * sum(len(runs_of(kind, a)) + 1 for kind in SERVERS)
    task = bar.add_task("fit, save, time in-process predicts", total=1 + steps)
    with tempfile.TemporaryFile("w+") as err:
        prep = run_worker(["--worker", "prepare", "--tmp", str(tmp), "--calls", str(a.calls)], err)
    bar.advance(task)
    results: dict[str, Result] = {}
    for model in MODELS:
        results[model] = {}
        for kind in SERVERS:
            log_path = tmp / f"{kind}-{model}.log"
            bar.update(task, description=f"{MODELS[model]}: start {SERVERS[kind]}")
            model_dir = tmp / ("mlflow" if kind == "mlflow" else "loopml") / model
            options = [] if kind == "mlflow" else extra
            if kind == "loopml-native":
                options = [*extra, "--backend", "native"]
            with server(kind, model_dir, log_path, options) as s:
                results[model][f"{kind}:startup"] = s["startup"]
                for label, conns, protocol in runs_of(kind, a):
                    path = f"/v2/models/{model}/infer" if protocol == "v2" else "/invocations"
                    name = SERVERS.get(label, "loopml, V2 /infer")
                    bar.update(task, description=f"{MODELS[model]}: {name}, {conns} connections")
                    args = ["--worker", "load", "--url", s["url"] + path,
                            "--bodies", str(tmp / f"{protocol}.json"),
                            "--server-sid", str(s["pid"]), "--connections", str(conns),
                            "--duration", str(a.duration), "--warmup", str(a.warmup)]  # fmt: skip
                    before = batching(s["url"]) if kind != "mlflow" else None
                    with tempfile.TemporaryFile("w+") as err:
                        result = run_worker(args, err)
                    if before is not None:
                        calls, rows, seconds = (
                            y - x for x, y in zip(before, batching(s["url"]), strict=True)
                        )
                        result["batch"] = f"{rows / calls:.1f} / {seconds / calls * 1e3:.1f}"
                    results[model][f"{label}@{conns}"] = result
                    bar.advance(task)
            bar.advance(task)
    return prep, results


def ms(value: float) -> str:
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def build_rows(a: argparse.Namespace, r: Result) -> Rows:
    rows: Rows = []
    for kind in (*SERVERS, V2):
        for conns in a.connections:
            x = r.get(f"{kind}@{conns}")
            if x is None:
                continue
            mlflow = r[f"mlflow@{conns}"]["rps"]
            ratio = "" if kind == "mlflow" else base.times(x["rps"] / mlflow) if mlflow else "∞"
            label = SERVERS.get(kind, "loopml, V2 /infer")
            rows.append((label, str(conns), f"{x['rps']:,.0f}", ms(x["p50"]), ms(x["p99"]),
                         f"{x['errors']:,}", ratio, x.get("batch", ""),
                         f"{x['server_cpu']:.0%}", f"{x['load_cpu']:.0%}"))  # fmt: skip
    return rows


def target_lines(a: argparse.Namespace, results: dict[str, Result]) -> list[str]:
    lines = []
    for model, target in TARGETS.items():
        r = results[model]
        if 8 not in a.connections:
            lines.append(f"{MODELS[model]}: targets are at 8 connections, not measured here.")
            continue
        m8, l8 = r["mlflow@8"], r["loopml@8"]
        ratio = l8["rps"] / m8["rps"] if m8["rps"] else float("inf")
        line = (f"{MODELS[model]}, 8 connections, `loopml serve` (default backend: the export): "
                f"{l8['rps']:,.0f} req/s vs MLflow {m8['rps']:,.0f} = {base.times(ratio)} "
                f"(target ≥{base.times(target)}: {'met' if ratio >= target else 'MISSED'}); "
                f"p99 {ms(l8['p99'])} ms (target < {P99_TARGET_MS:.0f} ms: "
                f"{'met' if l8['p99'] < P99_TARGET_MS else 'MISSED'}); "
                f"errors {l8['errors']}")  # fmt: skip
        o8 = r["loopml-native@8"]
        ratio_o = o8["rps"] / m8["rps"] if m8["rps"] else float("inf")
        line += (f". With --backend native (scikit-learn): {base.times(ratio_o)} "
                 f"({'met' if ratio_o >= target else 'missed'}), p99 {ms(o8['p99'])} ms "
                 f"({'met' if o8['p99'] < P99_TARGET_MS else 'missed'}).")  # fmt: skip
        if 64 in a.connections:
            l64, m64 = r["loopml@64"], r["mlflow@64"]
            more = "more" if l64["rps"] > l8["rps"] else "NOT more"
            vs = base.times(l64["rps"] / m64["rps"]) if m64["rps"] else "∞"
            line += (
                f" At 64 connections: {l64['rps']:,.0f} req/s ({vs} MLflow), {more} than at 8;"
                f" p99 {ms(l64['p99'])} ms."
            )
        lines.append(line)
    return lines


def notes_of(a: argparse.Namespace, prep: Result, results: dict[str, Result]) -> list[str]:
    floor = "; ".join(
        f"{MODELS[m]}: " + ", ".join(f"{w} {prep['floor'][m][w]['median'] * 1e3:.2f} ms"
                                     for w in FLOOR_WAYS)
        for m in MODELS
    )  # fmt: skip
    startup = {k: statistics.median(results[m][f"{k}:startup"] for m in MODELS) for k in SERVERS}
    startups = "; ".join(f"{SERVERS[k]} {s:.1f} s" for k, s in startup.items())
    first = [
        f"First error, {MODELS[m]}, {key}: {x['first_error']}"
        for m in MODELS
        for key, x in results[m].items()
        if isinstance(x, dict) and x["first_error"]
    ]
    extra = f" {a.loopml_args}" if a.loopml_args else ""
    exe = os.path.relpath(sys.executable)
    return [
        f"Floor, in-process one-row `predict` (DataFrame row, median of {prep['calls']:,}): "
        f"{floor}.",
        "Models: RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1) and "
        "make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)) on load_breast_cancer "
        "(569 x 30). MLflow: `mlflow.sklearn.save_model` (skops). loopml: "
        "`loopml.models.save_model(..., onnx=True)` (skops + checked ONNX export; largest "
        "probability difference on the 569 rows: "
        + ", ".join(f"{MODELS[m]} {prep['saved'][m]['max_abs_diff']:.1g}" for m in MODELS)
        + ").",
        "Servers, their defaults: `mlflow models serve -m DIR --env-manager local -h 127.0.0.1 "
        "-p PORT` (uvicorn, 1 worker, access log on); `loopml serve DIR --host 127.0.0.1 --port "
        f"PORT{extra}` (1 worker, batching on, 1 predict thread, backend auto: the directory's "
        "checked ONNX export on onnxruntime); '--backend native' rows serve the same directory "
        "with scikit-learn. "
        f"Median start-up until ready: {startups}.",
        f"Load: a separate process (aiohttp{', uvloop' if _has_uvloop() else ''}), closed loop, "
        f"N keep-alive connections, single-row `POST /invocations` `dataframe_split` bodies "
        f"(the dataset's rows in turn, pre-serialised); {a.warmup:g} s warm-up, then "
        f"{a.duration:g} s timed per row of the table. req/s and latencies: requests "
        "answered 200 that started and ended in the timed window; errors: non-200 answers and "
        "exceptions over the whole run. 'V2 /infer': the same rows as V2 JSON (30 FP64 inputs).",
        "rows / ms per predict: loopml's batching, from its /metrics over the whole run "
        "(warm-up included): mean rows per predict call and mean time of one call. "
        "CPU columns: CPU time of the server's processes and of the load generator over the "
        "timed window, as a share of one core. The generator and the server share this "
        "machine's cores (and other jobs ran on it): the generator's own cost caps the req/s "
        "that can be measured, and the figures are provisional.",
        *first,
        f"Machine: {base.machine_line()}",
        f"Command: `{shlex.join([exe, 'bench/serving.py', *sys.argv[1:]])}`",
    ]


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


COLUMNS = ("server", "conns", "req/s", "p50 ms", "p99 ms", "errors", "vs MLflow",
           "rows / ms per predict", "server CPU", "load-gen CPU")  # fmt: skip
FLOOR_COLUMNS = ("model", *(f"{w} (median / p99)" for w in FLOOR_WAYS))


def floor_rows(prep: Result) -> Rows:
    def cell(x: Result) -> str:
        return f"{x['median'] * 1e3:.2f} / {x['p99'] * 1e3:.2f} ms"

    return [(MODELS[m], *(cell(prep["floor"][m][w]) for w in FLOOR_WAYS)) for m in MODELS]


def write_markdown(
    path: Path, tables: dict[str, Rows], floors: Rows, targets: list[str], notes: list[str]
) -> None:
    old = path.read_text() if path.exists() else ""
    lines = [HEADING, ""]
    for model, rows in tables.items():
        lines += [f"{MODELS[model]}:", "", f"| {' | '.join(COLUMNS)} |",
                  "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]  # fmt: skip
        lines += [f"| {' | '.join(r)} |" for r in rows] + [""]
    lines += ["In-process one-row `predict` (the floor):", "", f"| {' | '.join(FLOOR_COLUMNS)} |",
              "|---|--:|--:|--:|--:|", *(f"| {' | '.join(r)} |" for r in floors), ""]  # fmt: skip
    lines += [*(f"{t}  " for t in targets), *(f"{n}  " for n in notes), ""]
    before = old.rstrip("\n") + "\n\n" if old.strip() else ""
    path.write_text(before + "\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 s per row, 8 connections only")
    p.add_argument("--duration", type=float, help="timed seconds per row (20; --quick 3)")
    p.add_argument("--warmup", type=float, help="untimed seconds before each (2; --quick 1)")
    p.add_argument("--connections", type=int, nargs="+", help="(8 32 64; --quick 8)")
    p.add_argument("--calls", type=int, help="in-process one-row predicts (1,000; --quick 200)")
    p.add_argument("--loopml-args", default="", help="extra `loopml serve` options, one string")
    p.add_argument("--markdown", type=Path, metavar="PATH", help="also append the tables here")
    for hidden in ("--worker", "--tmp", "--url", "--bodies", "--server-sid"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    a = p.parse_args()
    a.duration = a.duration or (3.0 if a.quick else 20.0)
    a.warmup = a.warmup if a.warmup is not None else (1.0 if a.quick else 2.0)
    a.connections = a.connections or ([8] if a.quick else [8, 32, 64])
    a.calls = a.calls or (200 if a.quick else 1_000)
    if a.worker == "prepare":
        worker_prepare(Path(a.tmp), a.calls)
        return
    if a.worker == "load":
        a.connections, a.server_sid = a.connections[0], int(a.server_sid or 0)
        worker_load(a)
        return

    from rich import get_console
    from rich import progress as rp
    from rich.table import Table

    # SIGTERM ends the run like Ctrl-C: the servers' process groups are stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    console, began = get_console(), time.perf_counter()
    columns = (rp.SpinnerColumn(), rp.TextColumn("{task.description}"), rp.BarColumn())
    with (
        tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp,
        rp.Progress(*columns, rp.MofNCompleteColumn(), rp.TimeElapsedColumn()) as bar,
    ):
        try:
            prep, results = measure(a, Path(tmp), bar)
        except RuntimeError as e:
            sys.exit(str(e))
        except KeyboardInterrupt:
            sys.exit("interrupted; the servers were stopped")
    tables = {model: build_rows(a, results[model]) for model in MODELS}
    floors, targets = floor_rows(prep), target_lines(a, results)
    notes = [*notes_of(a, prep, results), f"Total wall time: {time.perf_counter() - began:,.0f} s."]
    for model, rows in tables.items():
        table = Table(title=f"Serving {MODELS[model]}: single-row requests")
        for col in COLUMNS:
            table.add_column(col, justify="left" if col == "server" else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    table = Table(title="In-process one-row predict (the floor)")
    for col in FLOOR_COLUMNS:
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in floors:
        table.add_row(*row)
    console.print(table)
    for line in (*targets, *notes):
        console.print(line, highlight=False, markup=False)
    if a.markdown:
        write_markdown(a.markdown, tables, floors, targets, notes)
        console.print(f"appended to {a.markdown}")


if __name__ == "__main__":
    main()
