"""Step boundaries: a step's output checked against its schema, and published as a dataset."""

from __future__ import annotations

import pickle
from pathlib import Path

import cloudpickle
import pandas as pd
import pandera.pandas as pa
import polars as pl
import pytest

from loopml.config import Settings
from loopml.data import DataService, schema_to_yaml
from loopml.errors import InvalidInput
from loopml.pipeline import Pipeline, step
from loopml.tracking import TrackingService

AGES = pa.DataFrameSchema(
    {"age": pa.Column(int, pa.Check.ge(0)), "plan": pa.Column(str)}, coerce=True
)


@step
def raw(n: int) -> pd.DataFrame:
    return pd.DataFrame({"age": [30, -1, 45, -7][:n], "plan": ["a", "b", "c", "d"][:n]})


def test_an_output_that_breaks_its_schema_fails_the_step_by_name(settings: Settings) -> None:
    calls = []

    @step(schema=AGES, retries=2)
    def clean(raw: pd.DataFrame) -> pd.DataFrame:
        calls.append(1)
        return raw  # forgot to drop the negative ages

    with pytest.raises(InvalidInput) as failed:
        Pipeline("ages", [raw, clean], params={"n": 4}).run(settings=settings)
    message = str(failed.value)
    assert "step 'clean': its output broke its schema (2 of 4 rows)" in message
    assert "age: greater_than_or_equal_to(0) x2 (rows 1, 3)" in message
    assert failed.value.details["step"] == "clean" and len(calls) == 1  # no retry can help
    # The upstream output was stored: after the fix, only the fixed step runs.

    @step(schema=AGES)
    def clean(raw: pd.DataFrame) -> pd.DataFrame:  # the fixed version
        return raw[raw["age"] >= 0].reset_index(drop=True)

    result = Pipeline("ages", [raw, clean], params={"n": 4}).run(settings=settings)
    assert {s.name: s.status for s in result.steps.values()} == {"raw": "cached", "clean": "ran"}
    assert result.outputs["clean"]["age"].tolist() == [30, 45]


def test_the_schema_is_part_of_the_cache_key(settings: Settings, tmp_path: Path) -> None:
    @step
    def ok(raw: pd.DataFrame) -> pl.DataFrame:
        return pl.from_pandas(raw[raw["age"] >= 0])

    yaml = tmp_path / "ages.yaml"
    yaml.write_text(schema_to_yaml(AGES))
    checked = step(schema=str(yaml), name="ok")(ok.fn)
    first = Pipeline("p", [raw, checked], params={"n": 4}).run(settings=settings)
    assert first.steps["ok"].status == "ran"  # a polars output is checked too
    again = Pipeline("p", [raw, checked], params={"n": 4}).run(settings=settings)
    assert again.steps["ok"].status == "cached"
    stricter = AGES.update_column("plan", checks=[pa.Check.isin(["a"])])
    edited = step(schema=stricter, name="ok")(ok.fn)
    assert edited.fingerprint() != checked.fingerprint()
    with pytest.raises(InvalidInput, match="plan: isin"):
        Pipeline("p", [raw, edited], params={"n": 4}).run(settings=settings)


def test_bad_schemas_and_outputs_are_named() -> None:
    with pytest.raises(InvalidInput, match="step 'f': schema must be a pandera"):
        step(schema=42, name="f")(lambda: None)
    with pytest.raises(InvalidInput, match=r"step 'f': no schema file at schemas/none\.yaml"):
        step(schema="schemas/none.yaml", name="f")(lambda: None)
    with pytest.raises(InvalidInput, match="step 'f': its schema is not valid"):

        @step(schema="columns: [oops")
        def f() -> None: ...

    @step(schema=AGES)
    def numbers() -> list[int]:
        return [1, 2]

    from loopml.pipeline._executors import execute_step

    result = execute_step(numbers, {})
    assert not result.ok and not result.retryable
    assert "step 'numbers' declares a schema, so it must return a DataFrame" in (
        result.error_message
    )


def test_a_step_output_is_published_as_a_dataset_version(settings: Settings) -> None:
    @step(schema=AGES, dataset="adults")
    def adults(raw: pd.DataFrame) -> pd.DataFrame:
        return raw[raw["age"] >= 0].reset_index(drop=True)

    pipe = Pipeline("publish", [raw, adults], params={"n": 4})
    first = pipe.run(settings=settings)
    data = DataService.from_settings(settings)
    version = data.version("adults@latest")
    assert first.steps["adults"].dataset == version.ref == "adults@1"
    assert version.step == "adults" and version.run_id == first.steps["adults"].run_id
    assert version.num_rows == 2 and "greater_than_or_equal_to" in version.schema
    again = pipe.run(settings=settings)  # cached: the same content, the same version
    assert again.steps["adults"].status == "cached" and again.steps["adults"].dataset == "adults@1"
    grown = pipe.run(params={"n": 1}, settings=settings)  # new content: a new version
    assert grown.steps["adults"].dataset == "adults@2"
    runs = TrackingService.from_settings(settings).runs
    tags = runs.get(again.steps["adults"].run_id or "").data.tags
    assert tags["loopml.pipeline.dataset"] == "adults@1"


def test_a_step_whose_output_cannot_be_the_dataset_fails_by_name(settings: Settings) -> None:
    @step(dataset="numbers")
    def numbers() -> list[int]:
        return [1, 2]

    with pytest.raises(InvalidInput, match="step 'numbers': its output cannot be dataset"):
        Pipeline("bad", [numbers]).run(settings=settings)


def test_steps_with_schemas_travel_to_workers() -> None:
    @step(schema=AGES, dataset="adults", retries=1)
    def local(raw: pd.DataFrame) -> pd.DataFrame:
        return raw

    copy = pickle.loads(cloudpickle.dumps(local))  # what the process pool ships
    assert copy.dataset == "adults" and copy.retries == 1
    assert schema_to_yaml(copy.schema) == schema_to_yaml(AGES)
    from loopml.pipeline._executors import execute_step

    broken = execute_step(copy, {"raw": raw.fn(4)})  # the copy checks its output too
    assert not broken.ok and "x2 (rows 1, 3)" in broken.error_message
