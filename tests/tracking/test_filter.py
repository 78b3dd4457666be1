"""The filter grammar: MLflow's clauses, plus OR and parentheses; errors point at the token."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInput
from loopml.tracking import parse_filter, parse_order_by
from loopml.tracking._filter import BoolOp, Clause, OrderKey


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc > 0.9", Clause("metric", "acc", ">", 0.9)),
        ("metric.acc >= -1e-3", Clause("metric", "acc", ">=", -0.001)),
        ("params.model = 'rf'", Clause("param", "model", "=", "rf")),
        ('params.model = "rf"', Clause("param", "model", "=", "rf")),
        ("parameter.x != 'a''b'", Clause("param", "x", "!=", "a'b")),
        ("tags.team LIKE 'ml%'", Clause("tag", "team", "LIKE", "ml%")),
        ("tags.team ilike 'ML%'", Clause("tag", "team", "ILIKE", "ML%")),
        ("tags.`mlflow.user` = 'me'", Clause("tag", "mlflow.user", "=", "me")),
        ("tags.\"odd key\" = 'v'", Clause("tag", "odd key", "=", "v")),
        ("attributes.status = 'FINISHED'", Clause("attribute", "status", "=", "FINISHED")),
        ("status = 'FINISHED'", Clause("attribute", "status", "=", "FINISHED")),
        ("`Run name` = 'x'", Clause("attribute", "Run name", "=", "x")),
        ("run_id IN ('a', 'b')", Clause("attribute", "run_id", "IN", ("a", "b"))),
        ("params.p NOT IN ('1',)", Clause("param", "p", "NOT IN", ("1",))),
        ("tags.x IS NULL", Clause("tag", "x", "IS NULL", None)),
        ("tags.x is not null", Clause("tag", "x", "IS NOT NULL", None)),
        ("metrics.val/loss < 2", Clause("metric", "val/loss", "<", 2.0)),
        ("tags.android = 'y'", Clause("tag", "android", "=", "y")),
    ],
)
def test_single_clauses(text: str, expected: Clause) -> None:
    assert parse_filter(text) == expected


def test_and_or_parentheses_precedence() -> None:
    tree = parse_filter("metrics.a > 1 or metrics.b > 2 and (params.c = 'x' or tags.d = 'y')")
    assert tree == BoolOp(
        "OR",
        (
            Clause("metric", "a", ">", 1.0),
            BoolOp(
                "AND",
                (
                    Clause("metric", "b", ">", 2.0),
                    BoolOp("OR", (Clause("param", "c", "=", "x"), Clause("tag", "d", "=", "y"))),
                ),
            ),
        ),
    )


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_blank_filter_is_none(blank: str | None) -> None:
    assert parse_filter(blank) is None


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("metrics.acc >", 14),
        ("params.x = 1 2", 14),
        ("metrics.a >> 1", 12),
        ("(metrics.a > 1", 15),
        ("metrics. = 1", 1),
        ("metrics.a > 1 and", 18),
        ("metrics.a ~ 1", 11),
    ],
)
def test_errors_point_at_the_bad_token(text: str, column: int) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_filter(text)
    assert err.value.details["column"] == column
    assert f"column {column}" in err.value.message
    # The message shows the filter with a caret under the offending position.
    lines = err.value.message.splitlines()
    assert lines[-2] == text and lines[-1].index("^") == column - 1


def test_order_by() -> None:
    assert parse_order_by(["metrics.acc DESC", "start_time", "params.`a b` asc"]) == [
        OrderKey("metric", "acc", False),
        OrderKey("attribute", "start_time", True),
        OrderKey("param", "a b", True),
    ]
    with pytest.raises(InvalidInput):
        parse_order_by(["metrics.acc sideways"])
    with pytest.raises(InvalidInput):
        parse_order_by([""])
