"""Data benchmark: register + profile + validate 1,000,000 rows x 25 columns.

    .venv/bin/python bench/data.py [--quick] [--rows N] [--markdown bench/RESULTS.md]

Each measurement runs in its own subprocess on the same generated data (20 float64 columns,
5 string columns of 50 categories, seeded), so peak memory (max RSS) is that phase's alone.
pandas' ``DataFrame.describe(include="all")`` is the anchor for profiling. Timings are
reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import tracking as base  # bench/tracking.py, for machine_line / times / emit

HEADING = "## Data (bench/data.py)"
PREFIX = base.PREFIX


def make_frame(rows: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    data: dict[str, Any] = {f"x{i}": rng.normal(i, 1 + i / 10, rows) for i in range(20)}
    cats = np.array([f"cat-{k:02d}" for k in range(50)])
    for i in range(5):
        data[f"c{i}"] = cats[rng.integers(0, 50, rows)]
    return pd.DataFrame(data)


def pipeline_rerun(rows: int, home: str) -> tuple[float, float]:
    """A 4-step pipeline over ``rows`` rows: (first run s, rerun with nothing changed s)."""
    import pandas as pd

    from loopml.config import Settings
    from loopml.pipeline import Pipeline, step

    @step
    def load(n: int) -> pd.DataFrame:
        return make_frame(n)

    @step
    def clean(load: pd.DataFrame) -> pd.DataFrame:
        return load[load["x0"] > -1].reset_index(drop=True)

    @step
    def features(clean: pd.DataFrame) -> pd.DataFrame:
        return clean[[f"x{i}" for i in range(20)]].mul(2.0)

    @step
    def stats(features: pd.DataFrame) -> dict[str, float]:
        return {"mean": float(features.to_numpy().mean())}

    pipe = Pipeline("bench", [load, clean, features, stats], params={"n": rows})
    settings = Settings(home=Path(home) / "pipeline")
    start = time.perf_counter()
    pipe.run(settings=settings)
    first = time.perf_counter() - start
    start = time.perf_counter()
    again = pipe.run(settings=settings)
    assert all(s.status == "cached" for s in again.steps.values())
    return first, time.perf_counter() - start


def rss_mb() -> float:
    """The process's resident memory now (Linux), in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


class PeakRss:
    """Samples resident memory every 5 ms in a thread: the phase's peak above its start."""

    def __init__(self) -> None:
        import threading

        self.base = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def growth(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, rss_mb()) - self.base


def worker(phase: str, rows: int, home: str) -> None:
    import pyarrow as pa

    from loopml.config import Settings
    from loopml.data import DataService, infer_schema, profile_table, validate

    frame = make_frame(rows)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    size_mb = frame.memory_usage(deep=True).sum() / 2**20
    service = DataService.from_settings(Settings(home=Path(home))) if "register" in phase else None
    import gc

    parquet = Path(home) / "bench.parquet"
    if phase.startswith("register-"):
        # A file source: the frame made here is dropped before measuring.
        import pyarrow.parquet as pq

        if not parquet.exists():
            # Row groups of 122,880 rows, as DuckDB writes them: a streamed read holds about
            # one row group at a time, however big the file.
            pq.write_table(table, parquet, compression="zstd", row_group_size=122_880)
        del frame, table
    gc.collect()
    peak = PeakRss()
    start = time.perf_counter()
    if phase == "describe":
        frame.describe(include="all")
    elif phase == "profile":
        profile_table(table)
    elif phase == "validate":
        validate(frame, infer_schema(frame))
    elif phase == "profile+validate":
        profile_table(table)
        validate(frame, infer_schema(frame))
    elif phase == "pipeline":
        first, rerun = pipeline_rerun(rows // 10, home)
        base.emit(result=phase, seconds=first, again=rerun, size_mb=size_mb, peak_mb=0.0)
        return
    elif service is not None and phase.startswith("register-"):
        stream = phase == "register-stream"
        service.register(phase, parquet, stream=stream)
        first = time.perf_counter() - start
        growth = peak.growth()
        start = time.perf_counter()
        service.register(phase, parquet, stream=stream)
        base.emit(result=phase, seconds=first, again=time.perf_counter() - start,
                  size_mb=size_mb, peak_mb=growth)  # fmt: skip
        return
    elif service is not None:
        service.register("bench", frame)
        first = time.perf_counter() - start
        start = time.perf_counter()
        service.register("bench", frame)  # the same content: the same version
        base.emit(result=phase, seconds=first, again=time.perf_counter() - start,
                  size_mb=size_mb, peak_mb=peak.growth())  # fmt: skip
        return
    seconds = time.perf_counter() - start
    base.emit(result=phase, seconds=seconds, size_mb=size_mb, peak_mb=peak.growth())


def run_phase(phase: str, rows: int, home: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, f"--worker={phase}", f"--rows={rows}", f"--home={home}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"phase {phase} failed:\n{out.stderr[-4000:]}")
    for line in out.stdout.splitlines():
        if line.startswith(PREFIX):
            return dict(json.loads(line[len(PREFIX) :]))
    sys.exit(f"phase {phase} printed no result:\n{out.stdout[-2000:]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="100,000 rows, for a smoke check")
    p.add_argument("--rows", type=int, help="rows to generate (default 1,000,000)")
    p.add_argument("--markdown", type=Path, metavar="PATH", help="also append the table here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--home", help=argparse.SUPPRESS)
    a = p.parse_args()
    rows = a.rows or (100_000 if a.quick else 1_000_000)
    if a.worker:
        worker(a.worker, rows, a.home)
        return

    from rich import get_console
    from rich.progress import Progress
    from rich.table import Table

    console, results = get_console(), {}
    phases = ["describe", "profile", "validate", "profile+validate", "register"]
    phases += ["register-file", "register-stream", "pipeline"]
    with tempfile.TemporaryDirectory(prefix="bench-data-") as home, Progress() as bar:
        task = bar.add_task(f"{rows:,} rows x 25 columns", total=len(phases))
        for phase in phases:
            bar.update(task, description=f"{phase} ({rows:,} rows x 25 columns)")
            results[phase] = run_phase(phase, rows, home)
            bar.advance(task)
    size = results["profile"]["size_mb"]
    d, pr, pv, reg, pl = (
        results[k] for k in ("describe", "profile", "profile+validate", "register", "pipeline")
    )
    rows_out = [
        ("pandas describe(include='all')", f"{d['seconds']:.2f} s", f"{d['peak_mb']:,.0f} MB", ""),
        (
            "loopml profile",
            f"{pr['seconds']:.2f} s",
            f"{pr['peak_mb']:,.0f} MB",
            base.times(d["seconds"] / pr["seconds"]),
        ),
        (
            "loopml validate (inferred schema)",
            f"{results['validate']['seconds']:.2f} s",
            f"{results['validate']['peak_mb']:,.0f} MB",
            "",
        ),
        (
            "loopml profile + validate (target < 10 s)",
            f"{pv['seconds']:.2f} s",
            f"{pv['peak_mb']:,.0f} MB",
            "yes" if pv["seconds"] < 10 else "NO",
        ),
        (
            "register (read, hash, validate, profile, Parquet, report)",
            f"{reg['seconds']:.2f} s",
            f"{reg['peak_mb']:,.0f} MB",
            "",
        ),
        ("register the same content again", f"{reg['again']:.2f} s", "", ""),
    ]
    for phase, label in (("register-file", "read whole"), ("register-stream", "streamed")):
        r = results[phase]
        rows_out += [
            (
                f"register from a Parquet file, {label}",
                f"{r['seconds']:.2f} s",
                f"{r['peak_mb']:,.0f} MB ({r['peak_mb'] / size:.2f}x the data)",
                "",
            ),
            (f"register the same file again, {label}", f"{r['again']:.2f} s", "", ""),
        ]
    rows_out += [
        (f"pipeline, 4 steps over {rows // 10:,} rows: first run", f"{pl['seconds']:.2f} s", "",
         ""),
        ("pipeline rerun, nothing changed (target < 1 s)", f"{pl['again']:.3f} s", "",
         "yes" if pl["again"] < 1 else "NO"),
    ]  # fmt: skip
    peak_ratio = pv["peak_mb"] / size
    notes = [
        f"Data: {rows:,} rows x 25 columns (20 float64, 5 strings of 50 categories), "
        f"{size:,.0f} MB in memory (pandas, deep). Peak memory is the growth of resident "
        "memory during the phase (sampled every 5 ms), in its own process: profile + validate "
        f"peaked at {peak_ratio:.2f}x the data's size "
        f"(target < 3x: {'yes' if peak_ratio < 3 else 'NO'}).",
        f"Machine: {base.machine_line()}",
        f"Command: `{shlex.join(['.venv/bin/python', 'bench/data.py', *sys.argv[1:]])}`",
    ]
    table = Table("phase", "time", "peak memory", "vs describe / target", title="Data")
    for row in rows_out:
        table.add_row(*row)
    console.print(table)
    for note in notes:
        console.print(note, highlight=False, markup=False)
    if a.markdown:
        old = a.markdown.read_text() if a.markdown.exists() else ""
        lines = ["", HEADING, "", "| phase | time | peak memory | vs describe / target |"]
        lines += ["|---|--:|--:|--:|"]
        lines += [f"| {' | '.join(r)} |" for r in rows_out]
        lines += ["", *(f"{n}  " for n in notes), ""]
        a.markdown.write_text(old.rstrip("\n") + "\n" + "\n".join(lines))
        console.print(f"appended to {a.markdown}")


if __name__ == "__main__":
    main()
