"""Datasets: content-addressed versions, sources, validation policies, run lineage."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

import loopml
from loopml.client import Client, set_client
from loopml.config import Settings
from loopml.data import DatasetVersion, ValidationFailed
from loopml.errors import InvalidInput, NotFound


def _frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50_000, 10_000, n),
            "plan": rng.choice(["basic", "pro", "team"], n),
            "churned": rng.integers(0, 2, n).astype(bool),
        }
    )


def test_same_content_is_the_same_version(client: Client) -> None:
    frame = _frame()
    first = loopml.data.register("churn", frame)
    assert (first.name, first.version, first.num_rows) == ("churn", 1, 200)
    assert len(first.hash) == 64 and first.schema and first.profile["columns"]["age"]
    # The same content from another library is the same version.
    again = loopml.data.register("churn", pl.from_pandas(frame))
    assert again.version == 1 and again.hash == first.hash
    second = loopml.data.register("churn", _frame(seed=1))
    assert second.version == 2 and second.hash != first.hash
    assert [v.version for v in loopml.data.versions("churn")] == [1, 2]
    for ref in ("churn@1", f"churn@{first.hash[:10]}"):
        assert loopml.data.version(ref).hash == first.hash
    assert loopml.data.version("churn@latest").version == 2
    back = loopml.data.get("churn@1")
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert loopml.data.get("churn", as_="polars").height == 200
    assert [v.ref for v in loopml.data.list_datasets()] == ["churn@2"]


def test_sources_files_sql_and_callables(client: Client, tmp_path: Path) -> None:
    frame = _frame(50)
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    frame.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    hashes = set()
    for name in ("d.csv", "d.parquet", "d.jsonl"):
        v = loopml.data.register(f"src-{name.split('.')[1]}", tmp_path / name)
        assert v.num_rows == 50 and v.source["kind"] == "file"
        hashes.add(v.hash)
    db = tmp_path / "src.db"
    with sqlite3.connect(db) as conn:
        frame.to_sql("customers", conn, index=False)
    v = loopml.data.register(
        "src-sql", "SELECT * FROM customers WHERE age >= 18", sql_url=f"sqlite:///{db}"
    )
    assert v.num_rows == 50 and v.source["kind"] == "sql"
    v = loopml.data.register("src-callable", lambda: frame.head(10))
    assert v.num_rows == 10 and v.source["kind"] == "callable"


@pytest.mark.parametrize(
    ("source", "kwargs", "error", "match"),
    [
        ("missing.csv", {}, NotFound, "no file"),
        ("empty.csv", {}, InvalidInput, "empty"),
        ("latin.csv", {}, InvalidInput, "encoding="),
        ("noheader.txt", {}, InvalidInput, "format"),
        (pd.DataFrame({"a": []}), {}, InvalidInput, "no rows"),
        (42, {}, InvalidInput, "expected a DataFrame"),
        ("SELECT * FROM nope", {"sql_url": "sqlite:///{tmp}/x.db"}, InvalidInput, "SQL"),
    ],
)
def test_bad_sources_are_named(
    client: Client, tmp_path: Path, source: object, kwargs: dict, error: type, match: str
) -> None:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "latin.csv").write_bytes("name\ncaf\xe9\n".encode("latin-1"))
    (tmp_path / "noheader.txt").write_text("a,b\n1,2\n")
    if isinstance(source, str) and not source.startswith("SELECT"):
        source = tmp_path / source
    kwargs = {k: v.format(tmp=tmp_path) for k, v in kwargs.items()}
    with pytest.raises(error, match=match) as caught:
        loopml.data.register("bad", source, **kwargs)
    assert "'bad'" in str(caught.value)
    with pytest.raises(NotFound):
        loopml.data.version("bad")  # nothing was registered


def test_invalid_rows_fail_quarantine_or_warn(client: Client) -> None:
    good = _frame(100)
    loopml.data.register("people", good)
    bad = _frame(100, seed=3)
    bad.loc[[5, 17], "age"] = None  # nulls in a column that had none
    bad.loc[40, "plan"] = None
    with pytest.raises(ValidationFailed, match="3 of 100 rows") as failed:
        loopml.data.register("people", bad)
    assert failed.value.details["checks"]
    assert len(loopml.data.versions("people")) == 1  # fail registers nothing

    kept = loopml.data.register("people", bad, on_invalid="quarantine")
    assert kept.version == 2 and kept.num_rows == 97 and kept.quarantine_rows == 3
    assert kept.quarantine == "people.quarantine@1"
    quarantined = loopml.data.get(kept.quarantine)
    assert sorted(quarantined["_row"]) == [5, 17, 40]
    assert all("age" in r or "plan" in r for r in quarantined["_reasons"])

    warned = loopml.data.register("people", bad, on_invalid="warn")
    assert warned.num_rows == 100 and warned.validation["checks"]
    html = client_report(warned)
    assert "<svg" in html


def client_report(version: DatasetVersion) -> str:
    return loopml.data._api.service().report_html(version.ref)


def test_a_schema_yaml_the_user_edits_is_enforced(client: Client, tmp_path: Path) -> None:
    v = loopml.data.register("scored", _frame(50))
    path = tmp_path / "schema.yaml"
    from loopml.data import schema_from_yaml, schema_to_yaml

    schema = schema_from_yaml(v.schema)
    schema.columns["age"].checks.append(__import__("pandera").Check.le(60))
    path.write_text(schema_to_yaml(schema))
    with pytest.raises(ValidationFailed, match="age"):
        loopml.data.register("scored", _frame(50, seed=9), schema=path)
    old_enough = _frame(50, seed=9)
    old_enough["age"] = old_enough["age"].clip(upper=60)
    assert loopml.data.register("scored", old_enough, schema=path).version == 2


def test_lineage_to_runs(client: Client) -> None:
    with loopml.start_run(experiment="lineage") as run:
        produced = loopml.data.register("features", _frame(30))
        loopml.log_input(produced, context="training")
    assert produced.run_id == run.run_id
    (used,) = client.get_run(run.run_id).inputs
    assert (used.name, used.digest, used.context) == ("features", produced.hash, "training")
    assert used.source == "loopml-dataset:features@1"
    with loopml.start_run(experiment="lineage") as evaluation:  # the run handle does it too
        evaluation.log_input(produced, context="evaluation")
        with pytest.raises(InvalidInput, match="log_input takes a dataset version"):
            evaluation.log_input("features@1", context="evaluation")  # type: ignore[arg-type]
    (used,) = client.get_run(evaluation.run_id).inputs
    assert (used.digest, used.context) == (produced.hash, "evaluation")


@pytest.mark.parametrize("ref", ["", "bad name@1", "x@", "x@12ab-", "../etc@1"])
def test_bad_references(client: Client, ref: str) -> None:
    with pytest.raises((InvalidInput, NotFound)):
        loopml.data.version(ref)


def test_profile_is_json_and_reloads(client: Client) -> None:
    v = loopml.data.register("profiled", _frame(500))
    text = json.dumps(v.profile, allow_nan=False)
    from loopml.data import TableProfile

    assert TableProfile.from_dict(json.loads(text)).num_rows == 500


@pytest.mark.slow
def test_a_killed_registration_leaves_no_partial_version(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = dict(os.environ, LOOPML_HOME=str(tmp_path / "home"))
    env.pop("LOOPML_DB_URL", None)
    env.pop("LOOPML_TRACKING_URI", None)
    script = Path(__file__).with_name("_register_forever.py")
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for _ in range(3):  # a few versions in, then kill it mid-way through the next
        proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    c = Client(Settings(home=tmp_path / "home"))
    set_client(c)
    try:
        versions = loopml.data.versions("stream")
        assert len(versions) >= 3
        for v in versions:  # every visible version is whole: data present, verified, complete
            assert loopml.data.get(v.ref, as_="arrow").num_rows == v.num_rows
    finally:
        set_client(None)
