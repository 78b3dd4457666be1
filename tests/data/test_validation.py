"""Schema inference, YAML round trip, lazy validation with row quarantine, and the HTML report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from loopml.data._report import render_html
from loopml.data._schema import infer_schema, schema_from_yaml, schema_to_yaml
from loopml.data._validate import ValidationResult, validate
from loopml.errors import InvalidInput


@pytest.fixture
def mixed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [31, 45, 27, 60, 38],
            "income": [52_000.0, np.nan, 38_500.5, 91_000.0, 47_250.0],
            "city": ["Lyon", "Oslo", "Lyon", "Kyiv", "Oslo"],
            "member": [True, False, True, True, False],
            "joined": pd.to_datetime(
                ["2021-01-04", "2022-07-19", "2020-11-30", "2023-03-01", "2024-05-05"]
            ),
        }
    )


def _with_check(yaml_text: str, column: str, check: str) -> str:
    """Hand-edit a schema YAML the way a user would: add a nested ``checks:`` mapping."""
    marker = f"  {column}:\n"
    assert marker in yaml_text
    return yaml_text.replace(marker, f"{marker}    checks: {{{check}}}\n", 1)


def test_infer_then_validate_same_frame_is_ok(mixed: pd.DataFrame) -> None:
    schema = infer_schema(mixed, name="people")
    result = validate(mixed, schema)
    assert result.ok and result.num_invalid == 0 and result.schema_errors == []
    assert result.num_rows == len(result.valid) == 5
    assert schema.name == "people" and schema.coerce and schema.index is None
    assert schema.columns["income"].nullable and not schema.columns["age"].nullable
    # The min/max pandera infers from the sample are dropped: a larger age is still valid.
    assert all(not col.checks for col in schema.columns.values())
    older = mixed.assign(age=[31, 45, 27, 60, 120])
    assert validate(older, schema).ok


def test_isin_kept_only_for_small_categoricals() -> None:
    df = pd.DataFrame({"c": pd.Categorical(["a", "b", "a"]), "s": ["a", "b", "a"]})
    schema = infer_schema(df)
    assert [c.name for c in schema.columns["c"].checks] == ["isin"]
    assert schema.columns["s"].checks == []
    new = pd.DataFrame({"c": ["a", "z"], "s": ["q", "a"]})
    # In memory the dtype keeps its categories, so 'z' fails coercion already; from YAML the
    # dtype is a bare 'category' and the isin check catches it.
    result = validate(new, schema)
    assert result.invalid["_reasons"].tolist() == ["c: coerce_dtype('category') failed (value 'z')"]
    result = validate(new, schema_from_yaml(schema_to_yaml(schema)))
    assert result.invalid["_row"].tolist() == [1]
    assert result.invalid["_reasons"].tolist() == ["c: isin(['a', 'b']) failed (value 'z')"]


def test_yaml_round_trip(mixed: pd.DataFrame) -> None:
    schema = infer_schema(mixed)
    text = schema_to_yaml(schema)
    again = schema_from_yaml(text)
    assert schema_to_yaml(again) == text
    assert validate(mixed, again).ok


def test_hand_edited_yaml_check_is_enforced(mixed: pd.DataFrame) -> None:
    text = _with_check(schema_to_yaml(infer_schema(mixed)), "age", "greater_than_or_equal_to: 0")
    schema = schema_from_yaml(text)
    assert [c.name for c in schema.columns["age"].checks] == ["greater_than_or_equal_to"]
    result = validate(mixed.assign(age=[31, -3, 27, 60, 38]), schema)
    assert result.invalid["_row"].tolist() == [1]
    assert result.invalid["_reasons"].tolist() == [
        "age: greater_than_or_equal_to(0) failed (value -3)"
    ]


@pytest.mark.parametrize(
    "text",
    ["columns: [unclosed", "columns:\n  a:\n  dtype: int64\n - x", "- just\n- a list\n"],
)
def test_malformed_yaml_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match="schema YAML"):
        schema_from_yaml(text)


def test_unknown_check_or_dtype_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="nope"):
        schema_from_yaml("columns:\n  a:\n    dtype: int64\n    checks: {nope: 1}\n")
    with pytest.raises(InvalidInput, match="notatype"):
        schema_from_yaml("columns:\n  a:\n    dtype: notatype\n")


def test_bad_rows_are_quarantined_with_reasons(mixed: pd.DataFrame) -> None:
    text = _with_check(schema_to_yaml(infer_schema(mixed)), "age", "greater_than_or_equal_to: 0")
    schema = schema_from_yaml(text)
    bad = mixed.astype({"age": object, "city": object})
    bad.loc[1, "city"] = None  # null in a non-nullable column
    bad.loc[2, "age"] = -3  # fails the hand-added check
    bad.loc[4, "age"] = "abc"  # cannot be coerced to int64
    bad.index = [100, 101, 102, 103, 104]  # the index is not data: rows are positions

    result = validate(bad, schema)

    assert not result.ok and result.schema_errors == []
    assert result.num_invalid == 3
    assert result.invalid["_row"].tolist() == [1, 2, 4]
    assert result.invalid["_reasons"].tolist() == [
        "city: not_nullable failed (value null)",
        "age: greater_than_or_equal_to(0) failed (value -3)",
        "age: coerce_dtype('int64') failed (value 'abc')",
    ]
    assert result.invalid["age"].tolist()[2] == "abc"  # original values kept
    # The rest stays valid, coerced to the schema's dtypes, index reset.
    assert result.valid["age"].tolist() == [31, 60]
    assert result.valid["age"].dtype == np.dtype("int64")
    assert result.valid.index.tolist() == [0, 1]
    by_check = {(c["column"], c["check"]): c for c in result.checks}
    assert by_check[("age", "coerce_dtype('int64')")]["samples"] == [{"row": 4, "value": "abc"}]
    assert by_check[("city", "not_nullable")]["failed"] == 1


def test_uncoercible_row_still_gets_its_other_reasons(mixed: pd.DataFrame) -> None:
    schema = schema_from_yaml(
        _with_check(schema_to_yaml(infer_schema(mixed)), "income", "greater_than: 0")
    )
    bad = mixed.astype({"age": object})
    bad.loc[0, "age"] = "x1"
    bad.loc[0, "income"] = -5.0
    result = validate(bad, schema)
    assert result.invalid["_reasons"].tolist() == [
        "age: coerce_dtype('int64') failed (value 'x1'); "
        "income: greater_than(0) failed (value -5.0)"
    ]
    assert len(result.valid) == 4


def test_missing_column_is_a_schema_error_without_row_split(mixed: pd.DataFrame) -> None:
    schema = infer_schema(mixed)
    result = validate(mixed.drop(columns=["city"]).assign(age=[1, 2, 3, 4, None]), schema)
    assert not result.ok
    assert any("'city'" in e for e in result.schema_errors)
    # No split is pretended: both frames are empty, row findings are still counted.
    assert result.valid.empty and result.invalid.empty and result.num_invalid == 0
    assert [c["check"] for c in result.checks] == ["not_nullable"]


def test_strict_schema_reports_extra_column(mixed: pd.DataFrame) -> None:
    text = schema_to_yaml(infer_schema(mixed)) + "strict: true\n"
    result = validate(mixed.assign(extra=1), schema_from_yaml(text))
    assert any("'extra'" in e and "strict" in e for e in result.schema_errors)


def test_wholly_uncoercible_column_is_a_schema_error(mixed: pd.DataFrame) -> None:
    result = validate(mixed.assign(age=["a", "b", "c", "d", "e"]), infer_schema(mixed))
    assert len(result.schema_errors) == 1 and "'age'" in result.schema_errors[0]
    assert result.valid.empty and result.invalid.empty


def test_empty_frame(mixed: pd.DataFrame) -> None:
    result = validate(mixed.iloc[0:0], infer_schema(mixed))
    assert result.ok and result.num_rows == 0 and result.valid.empty
    assert list(result.invalid.columns) == [*mixed.columns, "_row", "_reasons"]
    no_columns = infer_schema(pd.DataFrame())
    assert validate(pd.DataFrame(), no_columns).ok


def test_odd_column_names_survive_and_are_escaped() -> None:
    names = ["first name", "ünïcødé 名前", "<script>alert(1)</script>"]
    df = pd.DataFrame({names[0]: [1, 2, 3], names[1]: [0.5, 1.5, 2.5], names[2]: ["a", "b", "c"]})
    schema = schema_from_yaml(schema_to_yaml(infer_schema(df)))
    assert list(schema.columns) == names
    bad = df.astype(object)
    bad.loc[0, names[0]] = "<b>x</b>"
    bad.loc[1, names[1]] = "ünï"
    bad.loc[2, names[2]] = None
    result = validate(bad, schema)
    assert result.invalid["_row"].tolist() == [0, 1, 2]
    assert result.invalid["_reasons"].tolist()[1:] == [
        f"{names[1]}: coerce_dtype('float64') failed (value 'ünï')",
        f"{names[2]}: not_nullable failed (value null)",
    ]

    page = render_html(result, title="<script>t</script> report")
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert names[1] in page  # unicode passes through unharmed
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_report_on_ok_result_and_schema_errors(mixed: pd.DataFrame) -> None:
    schema = infer_schema(mixed)
    page = render_html(validate(mixed, schema), title="ok")
    assert "<svg" in page and "ok" in page
    page = render_html(validate(mixed.drop(columns=["city"]), schema), title="t")
    assert "missing column &#x27;city&#x27;" in page


def test_to_dict_is_strict_json(mixed: pd.DataFrame) -> None:
    bad = mixed.astype({"age": object})
    bad.loc[0, "age"] = float("inf")
    bad.loc[1, "age"] = None
    bad.loc[2, "joined"] = pd.NaT
    result = validate(bad, infer_schema(mixed), sample=1)
    summary = result.to_dict()
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text)["num_invalid"] == 3
    assert all(len(c["samples"]) <= 1 for c in summary["checks"])
    assert isinstance(result, ValidationResult)


def test_bad_arguments() -> None:
    schema = infer_schema(pd.DataFrame({"a": [1]}))
    with pytest.raises(InvalidInput):
        validate([1, 2], schema)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        validate(pd.DataFrame({"a": [1]}), schema, sample=-1)
    with pytest.raises(InvalidInput, match="reserved"):
        validate(pd.DataFrame({"a": [1], "_row": [0]}), schema)
    with pytest.raises(InvalidInput):
        infer_schema("not a frame")  # type: ignore[arg-type]
