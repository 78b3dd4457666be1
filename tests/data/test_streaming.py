"""Registering a Parquet file chunk by chunk: the same versions as reading it whole."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import loopml
from loopml.client import Client
from loopml.data import ValidationFailed
from loopml.data import _api as data_api
from loopml.data._sources import content_hash
from loopml.data._stream import CHUNK_ROWS, ChunkHasher
from loopml.errors import InvalidInput

ROWS = CHUNK_ROWS + 70_001  # two validation chunks, hash batches cut off-boundary


def _table(rows: int = ROWS, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    visits = pa.array(rng.integers(0, 50, rows))
    # Nulls only at the very end: the first chunk alone would type the column non-nullable.
    late_null = np.zeros(rows, dtype=bool)
    late_null[-3:] = True
    return pa.table(
        {
            "age": pa.array(rng.integers(18, 90, rows)),
            "income": pa.array(rng.normal(50_000, 10_000, rows)),
            "plan": pa.array(rng.choice(["basic", "pro", "team"], rows)),
            "churned": pa.array(rng.integers(0, 2, rows).astype(bool)),
            "seen": pa.array(
                pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**6, rows), "s")
            ),
            "visits": pa.array(visits.to_numpy(), mask=late_null),
        }
    )


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "events.parquet"
    pq.write_table(_table(), path, row_group_size=100_000)  # row groups cut anywhere
    return path


def test_chunked_hashing_equals_the_whole_table_hash() -> None:
    table = _table(200_000, seed=1)
    hasher = ChunkHasher(table.schema)
    rng = np.random.default_rng(2)
    start = 0
    while start < table.num_rows:
        size = int(rng.integers(1, 90_000))
        for batch in table.slice(start, size).to_batches():
            hasher.write(batch)
        start += size
    assert hasher.hexdigest() == content_hash(table)


def test_a_streamed_version_is_the_in_memory_version(client: Client, parquet: Path) -> None:
    streamed = loopml.data.register("events", parquet, stream=True)
    whole = loopml.data.register("events.whole", parquet, stream=False)
    assert streamed.source.get("streamed") is True and "streamed" not in whole.source
    assert streamed.hash == whole.hash == content_hash(pq.read_table(parquet))
    assert streamed.num_rows == whole.num_rows == ROWS
    assert streamed.schema == whole.schema.replace("events.whole", "events")
    assert streamed.profile["columns"]["visits"]["nulls"] == 3
    for column in ("age", "income", "plan"):
        ps, pw = streamed.profile["columns"][column], whole.profile["columns"][column]
        assert ps["count"] == pw["count"]
        assert ps.get("mean") == pytest.approx(pw.get("mean"))
    # The first chunk has no null in "visits": the whole file's nullability was inferred.
    assert streamed.validation["ok"] and streamed.validation["num_valid"] == ROWS
    assert "nullable: true" in streamed.schema.split("visits:")[1].split("checks")[0]
    # Either path, the same content again: the same version.
    assert loopml.data.register("events", parquet, stream=False).version == streamed.version
    assert loopml.data.register("events", parquet, stream=True).version == streamed.version
    got = loopml.data.get(streamed.ref, as_="arrow")
    assert content_hash(got) == streamed.hash


def _with_bad_rows(path: Path) -> tuple[Path, list[int]]:
    table = _table(seed=3)
    bad = [5, CHUNK_ROWS - 1, CHUNK_ROWS + 10, ROWS - 1]  # in both chunks and at the edges
    age = table.column("age").to_numpy().copy()
    age[bad] = -1
    table = table.set_column(0, "age", pa.array(age))
    out = path / "with-bad.parquet"
    pq.write_table(table, out)
    schema = path / "schema.yaml"
    loopml.data.register("clean", table.slice(0, 1000).to_pandas().query("age >= 0"))
    text = loopml.data.version("clean@latest").schema
    schema.write_text(text.replace("  age:\n", "  age:\n    checks:\n      ge: 0\n", 1))
    return out, bad


def test_quarantine_streams_like_the_in_memory_path(client: Client, tmp_path: Path) -> None:
    path, bad = _with_bad_rows(tmp_path)
    schema = tmp_path / "schema.yaml"
    assert "ge: 0" in schema.read_text()
    streamed = loopml.data.register(
        "ages", path, stream=True, on_invalid="quarantine", schema=str(schema)
    )
    whole = loopml.data.register(
        "ages.whole", path, stream=False, on_invalid="quarantine", schema=str(schema)
    )
    # The schema came from 1,000 rows without nulls: the 3 late nulls in "visits" fail too.
    expected = sorted({*bad, ROWS - 3, ROWS - 2, ROWS - 1})
    assert streamed.hash == whole.hash and streamed.num_rows == ROWS - len(expected)
    assert streamed.quarantine_rows == whole.quarantine_rows == len(expected)
    quarantined = loopml.data.get(streamed.quarantine or "")
    assert quarantined["_row"].tolist() == expected  # positions in the whole file
    reasons = dict(zip(quarantined["_row"], quarantined["_reasons"], strict=True))
    assert all("age" in reasons[row] for row in bad) and "visits" in reasons[ROWS - 2]
    assert streamed.validation["num_invalid"] == len(expected)
    checks = {c["column"]: c for c in streamed.validation["checks"]}
    assert checks["age"]["failed"] == len(bad)
    assert [s["row"] for s in checks["age"]["samples"]] == bad
    assert checks["visits"]["failed"] == 3
    assert streamed.validation["checks"] == whole.validation["checks"]
    assert "<svg" in data_api.service().report_html(streamed.ref)


def test_a_streamed_check_finds_what_the_whole_check_finds(client: Client, tmp_path: Path) -> None:
    path, bad = _with_bad_rows(tmp_path)
    schema = str(tmp_path / "schema.yaml")
    service = data_api.service()
    streamed, _ = service.check("ages", path, schema=schema, stream=True)
    whole, _ = service.check("ages", path, schema=schema, stream=False)
    assert streamed.to_dict() == whole.to_dict()
    assert streamed.invalid["_row"].tolist() == whole.invalid["_row"].tolist()
    assert set(bad) <= set(streamed.invalid["_row"]) and streamed.num_valid == whole.num_valid
    assert len(streamed.valid) == 0  # streamed: counted, not kept
    assert [v.name for v in loopml.data.list_datasets()] == ["clean"]  # nothing stored


def test_fail_and_schema_errors_register_nothing(client: Client, tmp_path: Path) -> None:
    path, bad = _with_bad_rows(tmp_path)
    schema = str(tmp_path / "schema.yaml")
    failing = len({*bad, ROWS - 3, ROWS - 2, ROWS - 1})
    with pytest.raises(ValidationFailed, match=f"{failing} of {ROWS:,} rows") as failed:
        loopml.data.register("ages", path, stream=True, schema=schema)
    checks = {c["column"]: c["failed"] for c in failed.value.details["checks"]}
    assert checks == {"age": len(bad), "visits": 3}  # every chunk was checked
    table = pq.read_table(path).drop_columns(["plan"])
    missing = tmp_path / "missing.parquet"
    pq.write_table(table, missing)
    with pytest.raises(ValidationFailed, match="plan"):
        loopml.data.register("ages", missing, stream=True, schema=schema, on_invalid="quarantine")
    assert [v.name for v in loopml.data.list_datasets()] == ["clean"]


def test_what_cannot_stream_is_refused_or_read_whole(client: Client, tmp_path: Path) -> None:
    csv = tmp_path / "small.csv"
    pd.DataFrame({"a": [1, 2]}).to_csv(csv, index=False)
    with pytest.raises(InvalidInput, match="stream=True needs a Parquet file"):
        loopml.data.register("small", csv, stream=True)
    assert loopml.data.register("small", csv).num_rows == 2  # auto: read whole
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), empty)
    with pytest.raises(InvalidInput, match="no rows"):
        loopml.data.register("empty", empty, stream=True)
    categorical = tmp_path / "cat.parquet"
    pd.DataFrame({"c": pd.Categorical(["x", "y", "x"])}).to_parquet(categorical)
    with pytest.raises(InvalidInput, match="without dictionary columns"):
        loopml.data.register("cat", categorical, stream=True)
    assert loopml.data.register("cat", categorical).num_rows == 3


def test_data_add_streams_with_a_flag(
    parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopml.cli._app import new_app
    from loopml.cli.data import data_app
    from loopml.client import set_client

    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    monkeypatch.delenv("LOOPML_TRACKING_URI", raising=False)
    set_client(None)
    app = new_app("test")
    app.add_typer(data_app, name="data")
    result = CliRunner().invoke(app, ["data", "add", "ev", str(parquet), "--stream", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["num_rows"] == ROWS and out["source"]["streamed"] is True
    assert "--no-stream" in CliRunner().invoke(app, ["data", "add", "--help"]).output
    checked = CliRunner().invoke(
        app, ["data", "validate", "ev", str(parquet), "--stream", "--json"]
    )
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["num_valid"] == ROWS
    set_client(None)
