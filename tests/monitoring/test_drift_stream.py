"""Samples that stream: Parquet files read in chunks, iterables of chunks, dataset versions
from an embedded store, and Dask DataFrames reduced on a real LocalCluster. Each gives the
same verdicts as the data in memory."""

from __future__ import annotations

import gc
import pickle
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.client import Client, set_client
from loopml.config import Settings
from loopml.data import DataService
from loopml.errors import ArtifactCorrupted, NotFound
from loopml.monitoring import DriftReport, detect_drift
from loopml.monitoring._inputs import open_source


def _frame(seed: int, n: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.normal(40 + shift * 10, 10, n),
        "income": rng.lognormal(10, 0.5, n),
        "visits": rng.poisson(3, n).astype(np.int64),
        "plan": rng.choice(["basic", "pro", "team"], n, p=[0.5 - shift / 4, 0.3, 0.2 + shift / 4]),
    })  # fmt: skip


# Up to 4,096 values per column the summaries are exact: verdicts and scores must be equal.
REF, CUR = _frame(0, 3_000), _frame(1, 2_000, shift=0.4)


class _Score(float):
    """A score that compares equal up to float rounding (moments merged from chunks add up
    in another order than over the whole column)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, float) and abs(self - other) <= 1e-9 * max(1.0, abs(other))

    __hash__ = float.__hash__


def _verdicts(report: DriftReport) -> list[tuple[str, str, float | None, bool]]:
    return [(r.feature, r.method, _Score(r.score or 0.0), r.drifted) for r in report.features]


@pytest.fixture(scope="module")
def expected() -> list[tuple[str, str, float | None, bool]]:
    return _verdicts(detect_drift(REF, CUR))


def test_parquet_files_are_read_in_chunks_with_the_same_verdicts(
    tmp_path: Path, expected: list[tuple[str, str, float | None, bool]]
) -> None:
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    pq.write_table(pa.Table.from_pandas(REF, preserve_index=False), ref, row_group_size=500)
    pq.write_table(pa.Table.from_pandas(CUR, preserve_index=False), cur, row_group_size=700)
    source = open_source(str(ref), what="reference", chunk_rows=400, service=None)
    assert source.chunks is not None
    sizes = [rows for rows, _ in source.chunks(["age"])]
    assert sum(sizes) == 3_000 and max(sizes) <= 400 and len(sizes) >= 8
    assert _verdicts(detect_drift(ref, str(cur), chunk_rows=400)) == expected


def test_a_directory_of_parquet_files_is_one_sample(
    tmp_path: Path, expected: list[tuple[str, str, float | None, bool]]
) -> None:
    (tmp_path / "cur").mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(CUR)), 3)):
        pq.write_table(pa.Table.from_pandas(CUR.iloc[part], preserve_index=False),
                       tmp_path / "cur" / f"part-{i}.parquet")  # fmt: skip
    assert _verdicts(detect_drift(REF, tmp_path / "cur")) == expected


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no file at"):
        detect_drift(REF, tmp_path / "nope.parquet")


def test_in_memory_kinds_and_chunk_streams_agree(
    expected: list[tuple[str, str, float | None, bool]],
) -> None:
    table = pa.Table.from_pandas(CUR, preserve_index=False)
    assert _verdicts(detect_drift(REF, table)) == expected
    assert _verdicts(detect_drift(pl.from_pandas(REF), CUR)) == expected
    chunks = [CUR.iloc[i : i + 300] for i in range(0, len(CUR), 300)]
    assert _verdicts(detect_drift(REF, chunks)) == expected
    assert _verdicts(detect_drift(REF, table.to_batches(max_chunksize=250))) == expected


def test_a_long_stream_holds_a_bounded_number_of_chunks() -> None:
    alive: list[weakref.ref[pd.DataFrame]] = []
    held: list[int] = []

    def window() -> Iterator[pd.DataFrame]:
        for i in range(25):  # 100,000 rows, never all at once
            gc.collect()
            held.append(sum(ref() is not None for ref in alive))
            chunk = _frame(100 + i, 4_000, shift=0.4)
            alive.append(weakref.ref(chunk))
            yield chunk

    report = detect_drift(REF, window())
    assert report.rows_current == 100_000 and report["age"].drifted
    assert max(held) <= 2  # the chunk being summarised and the one read ahead


def test_dataset_versions_from_an_embedded_store(
    tmp_path: Path, expected: list[tuple[str, str, float | None, bool]]
) -> None:
    service = DataService.from_settings(Settings(home=tmp_path / "home"))
    ref = service.register("customers", REF)
    service.register("window", CUR)
    report = detect_drift("customers@1", "window@latest", service=service, chunk_rows=500)
    assert _verdicts(report) == expected
    assert _verdicts(detect_drift(ref, CUR, service=service)) == expected
    with pytest.raises(NotFound):
        detect_drift("customers@7", CUR, service=service)


def test_dataset_versions_through_the_process_client(
    tmp_path: Path, expected: list[tuple[str, str, float | None, bool]]
) -> None:
    client = Client(Settings(home=tmp_path / "home"))
    set_client(client)
    try:
        import loopml

        loopml.data.register("customers", REF)
        version = loopml.data.register("window", CUR)
        assert _verdicts(detect_drift("customers@latest", version)) == expected
    finally:
        set_client(None)


def test_a_corrupted_dataset_blob_is_refused(tmp_path: Path) -> None:
    service = DataService.from_settings(Settings(home=tmp_path / "home"))
    version = service.register("customers", REF)
    blobs = service.blobs
    path = Path(blobs.blob_path(version.blob_sha256))  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactCorrupted, match="customers@1"):
        detect_drift("customers@1", CUR, service=service)


@pytest.mark.slow
def test_dask_dataframes_are_reduced_partition_wise_on_a_local_cluster(
    expected: list[tuple[str, str, float | None, bool]],
) -> None:
    import dask.dataframe as dd
    from distributed import Client as DaskClient
    from distributed import LocalCluster, get_task_stream

    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                     dashboard_address=None) as cluster,
        DaskClient(cluster) as client,
    ):  # fmt: skip
        # More partitions than one merge task takes: the summaries merge in a tree.
        ref, cur = dd.from_pandas(REF, npartitions=20), dd.from_pandas(CUR, npartitions=3)
        with get_task_stream(client) as stream:
            report = detect_drift(ref, cur)
    ran = [str(task["key"]) for task in stream.data]
    assert sum("_partition_summary" in key for key in ran) == 23  # one task per partition
    assert any("_merge" in key for key in ran)
    assert _verdicts(report) == expected
    assert report.rows_reference == 3_000 and report.rows_current == 2_000


def test_summaries_survive_pickling_for_process_workers() -> None:
    from loopml.monitoring._stream import _merge, _partition_summary

    names = list(REF.columns)
    parts = [_partition_summary(REF.iloc[i : i + 1000], names) for i in range(0, 3000, 1000)]
    shipped = [pickle.loads(pickle.dumps(part)) for part in parts]
    merged, whole = _merge(shipped), _partition_summary(REF, names)
    assert merged.rows == whole.rows == 3_000
    for name in names:
        a, b = merged.columns[name], whole.columns[name]
        assert (a.count, a.missing, a.counts, a.small) == (b.count, b.missing, b.counts, b.small)
        assert a.std == pytest.approx(b.std, rel=1e-12)
