"""Drift benchmark: a drift report on 1,000,000 rows x 25 columns, loopml vs Evidently.

    .venv/bin/python bench/drift.py [--quick] [--rows N] [--stream-rows N] [--markdown PATH]

Data (seeded): a reference and a current sample of ``rows`` rows each, 20 float64 columns
``x0..x19`` (x_i ~ N(i, 1 + i/10)) and 5 string columns ``c0..c4`` of 50 categories, written
once to Parquet (row groups of 131,072 rows). The current sample has documented shifts:

    x0  mean + 0.5 sd       x1  mean + 0.25 sd      x2  sd x 1.3
    x3  mean + 0.05 sd (too small for any default threshold: must not be flagged)
    c0  categories reweighted (linearly, 1 to 3)    c1  10% of rows in an unseen category

Each measurement runs in its own subprocess on the same files, so its peak memory (the
process's max RSS, imports included) is its own:

- loopml: ``detect_drift(ref.parquet, cur.parquet)``, streaming both files in chunks;
- Evidently 0.7.23 ``Report([DataDriftPreset()]).run(cur, ref)`` on the same files read with
  pandas, in a separate venv (``~/.cache/loopml-bench/evidently-venv``, evidently==0.7.23 and
  pandas<3, created with uv on first use: Evidently does not import with pandas 3);
- both tools on 10 windows of 200 rows drawn without any drift, against a 10,000-row
  reference: every flag is a false alarm (Evidently switches to fixed distance thresholds
  once the reference has more than 1,000 rows, whatever the window's size);
- loopml streaming a current sample of ``stream-rows`` rows (generated chunk-wise into a
  temp dir, deleted afterwards) against the same reference: peak memory stays that of the
  1M-row run, whatever the length.

Per-feature verdicts of both tools are compared. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

PREFIX = "@@bench "
HEADING = "## Drift (bench/drift.py)"
CHUNK = 131_072
EVIDENTLY = "evidently==0.7.23"
VENV = Path.home() / ".cache" / "loopml-bench" / "evidently-venv"
NUMERIC = [f"x{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
SHIFTED = ["x0", "x1", "x2", "c0", "c1"]


# -------------------------------------------------------------------------------- data
def chunk(rows: int, seed: int, *, shifted: bool) -> Any:
    """``rows`` rows of the reference or (``shifted``) current distribution, as Arrow."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i in range(20):
        x = rng.normal(i, 1 + i / 10, rows)
        if shifted and i in (0, 1, 3):
            x += {0: 0.5, 1: 0.25, 3: 0.05}[i] * (1 + i / 10)
        if shifted and i == 2:
            x = i + (x - i) * 1.3
        columns[f"x{i}"] = x
    names = pa.array([f"cat-{k:02d}" for k in range(50)] + ["cat-new"])
    for i in range(5):
        p = np.full(50, 1 / 50)
        if shifted and i == 0:
            p = np.linspace(1, 3, 50) / np.linspace(1, 3, 50).sum()
        index = rng.choice(50, rows, p=p)
        if shifted and i == 1:
            index[rng.random(rows) < 0.1] = 50
        columns[f"c{i}"] = pc.take(names, pa.array(index))
    return pa.table(columns)


def write(path: Path, rows: int, seed: int, *, shifted: bool) -> None:
    """Generated chunk by chunk: a 10M-row file never sits in memory."""
    import pyarrow.parquet as pq

    writer = None
    for i, start in enumerate(range(0, rows, CHUNK)):
        table = chunk(min(CHUNK, rows - start), seed * 100_003 + i, shifted=shifted)
        writer = writer or pq.ParquetWriter(path, table.schema, compression="snappy")
        writer.write_table(table, row_group_size=CHUNK)
    assert writer is not None
    writer.close()


# ------------------------------------------------------------------------------ workers
def emit(**event: Any) -> None:
    sys.stdout.write(PREFIX + json.dumps(event) + "\n")
    sys.stdout.flush()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def loopml_worker(ref: str, *currents: str) -> None:
    import loopml.monitoring

    base = peak_mb()
    results = []
    for cur in currents:
        start = time.perf_counter()
        report = loopml.monitoring.detect_drift(ref, cur)
        seconds = time.perf_counter() - start
        rows = {r.feature: [r.method, r.score, r.threshold, r.drifted] for r in report.features}
        results.append({"seconds": seconds, "rows": rows, "dataset": report.dataset_drift})
    emit(**results[0], peak_mb=peak_mb(), import_mb=base, runs=results)


EVIDENTLY_WORKER = """
import json, resource, sys, time
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

numeric, categorical = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ref_path, currents = sys.argv[3], sys.argv[4:]
base = max(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
runs = []
for cur_path in currents:
    start = time.perf_counter()
    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    read = time.perf_counter() - start
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    seconds = time.perf_counter() - start
    rows, share = {}, None
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            method, limit, value = config["method"], config["threshold"], float(metric["value"])
            drifted = bool(value < limit if "p_value" in method else value >= limit)
            rows[config["column"]] = [method, value, limit, drifted]
        elif config.get("type", "").endswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
    runs.append({"seconds": seconds, "read": read, "rows": rows, "share": share,
                 "dataset": share is not None and share >= 0.5})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("@@bench " + json.dumps({**runs[0], "peak_mb": peak, "import_mb": base, "runs": runs}))
"""


def evidently_python() -> Path | None:
    """The Evidently venv's interpreter, created on first use; None if it cannot be."""
    python = VENV / "bin" / "python"
    if python.exists():
        return python
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    try:
        subprocess.run([uv, "venv", "--python", sys.executable, str(VENV)], check=True,
                       capture_output=True)  # fmt: skip
        subprocess.run([uv, "pip", "install", "--python", str(python), EVIDENTLY, "pandas<3",
                        "pyarrow"], check=True, capture_output=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"cannot create the Evidently venv ({exc}); comparing nothing", file=sys.stderr)
        return None
    return python


def run(cmd: list[str], what: str) -> dict[str, Any]:
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"{what} failed:\n{out.stderr[-4000:]}")
    for line in out.stdout.splitlines():
        if line.startswith(PREFIX):
            return dict(json.loads(line[len(PREFIX) :]))
    sys.exit(f"{what} printed no result:\n{out.stdout[-2000:]}")


# ------------------------------------------------------------------------- small windows
WINDOWS, WINDOW_ROWS, WINDOW_REFERENCE = 10, 200, 10_000


def windows(tmp: Path, evidently: list[str], me: list[str]) -> dict[str, Any]:
    """Both tools on 10 windows of 200 rows drawn from the reference's own distribution
    (no drift at all) against a 10,000-row reference: every flag is a false alarm."""
    import pyarrow.parquet as pq

    ref = tmp / "small-ref.parquet"
    pq.write_table(chunk(WINDOW_REFERENCE, 11, shifted=False), ref)
    paths = []
    for i in range(WINDOWS):
        paths.append(str(tmp / f"window-{i}.parquet"))
        pq.write_table(chunk(WINDOW_ROWS, 1000 + i, shifted=False), paths[-1])
    print(f"{WINDOWS} windows of {WINDOW_ROWS} rows without drift, both tools ...", flush=True)
    out = {"loopml": run([*me, str(ref), *paths], "loopml windows")["runs"]}
    if evidently:
        out["Evidently"] = run([*evidently, str(ref), *paths], "Evidently windows")["runs"]
    return out


def false_alarms(small: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    for tool, runs in small.items():
        flags = [r[3] for run in runs for r in run["rows"].values()]
        methods = sorted({r[0] for run in runs for r in run["rows"].values()})
        datasets = sum(bool(run["dataset"]) for run in runs)
        rows.append((tool, ", ".join(methods), f"{sum(flags)} of {len(flags)}",
                     f"{datasets} of {len(runs)}"))  # fmt: skip
    return rows


# ------------------------------------------------------------------------------- report
def agreement(lo: dict[str, Any], ev: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    for name in NUMERIC + CATEGORICAL:
        a, b = lo["rows"][name], ev["rows"].get(name)
        expected = "shifted" if name in SHIFTED else ""
        if b is None:
            rows.append((name, expected, f"{a[0]} {a[1]:.4f}", "-", "-"))
            continue
        same = "yes" if a[3] == b[3] else "NO"
        rows.append((name, expected, f"{a[0]} {a[1]:.4f} ({'drift' if a[3] else 'ok'})",
                     f"{b[0]} {b[1]:.4f} ({'drift' if b[3] else 'ok'})", same))  # fmt: skip
    return rows


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    return (f"{os.cpu_count()} CPUs ({cpu}), {platform.platform()}, Python "
            f"{platform.python_version()}, loopml {version('loopml')}, {EVIDENTLY}, "
            f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="100,000 rows, 1M streamed")
    p.add_argument("--rows", type=int, help="rows per sample (default 1,000,000)")
    p.add_argument("--stream-rows", type=int, help="rows streamed (default 10,000,000)")
    p.add_argument("--no-evidently", action="store_true", help="measure loopml only")
    p.add_argument("--markdown", type=Path, metavar="PATH", help="also append the table here")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        loopml_worker(*a.worker)
        return
    rows = a.rows or (100_000 if a.quick else 1_000_000)
    stream_rows = a.stream_rows or (1_000_000 if a.quick else 10_000_000)
    me = [sys.executable, __file__, "--worker"]
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        ref, cur, big = (str(Path(tmp) / f) for f in ("ref.parquet", "cur.parquet", "big.parquet"))
        print(f"generating {rows:,} x 25 reference and current ...", flush=True)
        write(Path(ref), rows, 1, shifted=False)
        write(Path(cur), rows, 2, shifted=True)
        print("loopml ...", flush=True)
        lo = run([*me, ref, cur], "loopml")
        ev = None
        python = None if a.no_evidently else evidently_python()
        evidently = [str(python), "-c", EVIDENTLY_WORKER, json.dumps(NUMERIC),
                     json.dumps(CATEGORICAL)] if python else []  # fmt: skip
        if evidently:
            print("Evidently DataDriftPreset (about two minutes at 1M rows) ...", flush=True)
            ev = run([*evidently, ref, cur], "Evidently")
        small = windows(Path(tmp), evidently, me)
        print(f"generating {stream_rows:,} rows to stream ...", flush=True)
        write(Path(big), stream_rows, 3, shifted=True)
        print("loopml, streamed ...", flush=True)
        st = run([*me, ref, big], "loopml streamed")
        size_mb = os.path.getsize(big) / 2**20
    table = [("loopml detect_drift (Parquet, streamed)", f"{lo['seconds']:.2f} s",
              f"{lo['peak_mb']:,.0f} MB", "")]  # fmt: skip
    if ev is not None:
        speed, memory = ev["seconds"] / lo["seconds"], lo["peak_mb"] / ev["peak_mb"]
        table += [
            ("Evidently DataDriftPreset (read + run)", f"{ev['seconds']:.2f} s "
             f"(read {ev['read']:.1f} s)", f"{ev['peak_mb']:,.0f} MB", ""),
            ("ratio (target >= 20x faster, <= 1/3 of the memory)", f"{speed:,.1f}x faster",
             f"{memory:.2f} of it", "yes" if speed >= 20 and memory <= 1 / 3 else "NO"),
        ]  # fmt: skip
    table.append((f"loopml streaming {stream_rows:,} rows ({size_mb:,.0f} MB Parquet) against "
                  f"{rows:,}", f"{st['seconds']:.2f} s", f"{st['peak_mb']:,.0f} MB",
                  f"{st['peak_mb'] / lo['peak_mb']:.2f}x the {rows:,}-row peak"))  # fmt: skip
    print("\n| phase | time | peak memory | note |\n|---|--:|--:|---|")
    for row in table:
        print("| " + " | ".join(row) + " |")
    agree = agreement(lo, ev) if ev is not None else []
    if agree:
        same = sum(r[-1] == "yes" for r in agree)
        print(f"\nPer-feature verdicts ({same} of {len(agree)} agree):\n")
        print("| feature | shift | loopml | Evidently | agree |\n|---|---|---|---|---|")
        for row in agree:
            print("| " + " | ".join(row) + " |")
    print(f"\nFalse alarms on {WINDOWS} windows of {WINDOW_ROWS} rows without drift "
          f"(reference {WINDOW_REFERENCE:,} rows):\n")  # fmt: skip
    print("| tool | methods | columns flagged | dataset drift declared |\n|---|---|--:|--:|")
    for row in false_alarms(small):
        print("| " + " | ".join(row) + " |")
    flagged = sorted(n for n, r in lo["rows"].items() if r[3])
    notes = [
        f"loopml flagged {flagged} (shifted: {sorted(SHIFTED)}); streamed run flagged "
        f"{sorted(n for n, r in st['rows'].items() if r[3])}.",
        f"Peak memory is the max RSS of each process, imports included (loopml "
        f"{lo['import_mb']:,.0f} MB after import"
        + (f", Evidently {ev['import_mb']:,.0f} MB)." if ev else ")."),
        f"Machine: {machine_line()}",
    ]
    for note in notes:
        print(note)
    if a.markdown:
        old = a.markdown.read_text() if a.markdown.exists() else ""
        lines = ["", HEADING, "", "| phase | time | peak memory | note |", "|---|--:|--:|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in table]
        lines += ["", "| tool | methods | columns flagged | dataset drift declared |"]
        lines += ["|---|---|--:|--:|", *("| " + " | ".join(r) + " |" for r in false_alarms(small))]
        lines += ["", *(f"{n}  " for n in notes), ""]
        a.markdown.write_text(old.rstrip("\n") + "\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
