"""Model and version search: MLflow's filter grammar plus OR/parentheses, order, pages."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInput
from loopml.registry import ModelRegistry
from loopml.tracking import Run, TrackingService


@pytest.fixture
def models(registry: ModelRegistry) -> ModelRegistry:
    registry.create_model("churn-a", tags={"team": "growth"})
    registry.create_model("churn-B", tags={"team": "core", "mlflow.prompt.is_prompt": "false"})
    registry.create_model("fraud", tags={"mlflow.prompt.is_prompt": "true"})
    registry.create_model("plain")
    return registry


def _names(registry: ModelRegistry, text: str | None, **kwargs: object) -> list[str]:
    return [m.name for m in registry.search_models(text, **kwargs).models]  # type: ignore[arg-type]


FILTERS: list[tuple[str | None, list[str]]] = [
    (None, ["churn-B", "churn-a", "fraud", "plain"]),
    ("name = 'fraud'", ["fraud"]),
    ("name != 'fraud'", ["churn-B", "churn-a", "plain"]),
    ("name LIKE 'churn-%'", ["churn-B", "churn-a"]),
    ("name LIKE 'CHURN%'", []),
    ("name ILIKE 'CHURN-b'", ["churn-B"]),
    ("name IN ('plain', 'fraud')", ["fraud", "plain"]),
    ("tags.team = 'growth'", ["churn-a"]),
    ("tags.team != 'growth'", ["churn-B", "fraud", "plain"]),
    ("tags.team IS NULL", ["fraud", "plain"]),
    ("tags.team LIKE 'c%'", ["churn-B"]),
    # What the MLflow client appends to every search: models without the tag match.
    ("tag.`mlflow.prompt.is_prompt` != 'true'", ["churn-B", "churn-a", "plain"]),
    (
        "name LIKE 'churn%' AND tags.`mlflow.prompt.is_prompt` != 'true'",
        ["churn-B", "churn-a"],
    ),
    ("name = 'plain' OR tags.team = 'core'", ["churn-B", "plain"]),
    (
        "(name = 'fraud' OR name = 'plain') AND tag.`mlflow.prompt.is_prompt` != 'true'",
        ["plain"],
    ),
    ("tags.team NOT IN ('core', 'growth')", ["fraud", "plain"]),
]


def test_model_filters(models: ModelRegistry) -> None:
    # One store for all cases: a fresh PostgreSQL database per case would cost seconds.
    for text, expected in FILTERS:
        assert _names(models, text) == expected, text


def test_model_order_and_pages(models: ModelRegistry) -> None:
    assert _names(models, None, order_by=["name DESC"]) == ["plain", "fraud", "churn-a", "churn-B"]
    newest = _names(models, None, order_by=["creation_timestamp DESC"])
    assert sorted(newest) == sorted(_names(models, None)) and len(newest) == 4
    seen: list[str] = []
    token = None
    while True:
        page = models.search_models(None, max_results=3, page_token=token)
        seen += [m.name for m in page.models]
        if page.next_page_token is None:
            break
        token = page.next_page_token
    assert seen == ["churn-B", "churn-a", "fraud", "plain"]


BAD: list[tuple[dict[str, object], str]] = [
    ({"filter_string": "name = "}, "invalid filter at column"),
    ({"filter_string": "metrics.x > 1"}, "no metrics"),
    ({"filter_string": "owner = 'x'"}, "unknown attribute"),
    ({"filter_string": "tags.t > 'x'"}, "quoted strings"),
    ({"filter_string": "name > 3"}, "quoted strings"),
    ({"order_by": ["tags.team"]}, "order by"),
    ({"max_results": 1001}, "max_results"),
    ({"page_token": "garbage"}, "page_token"),
]


def test_bad_model_searches(models: ModelRegistry) -> None:
    for kwargs, message in BAD:
        with pytest.raises(InvalidInput, match=message):
            models.search_models(**kwargs)  # type: ignore[arg-type]


def test_version_search(registry: ModelRegistry, run: Run, tracking: TrackingService) -> None:
    other = tracking.runs.create(run.info.experiment_id)
    registry.create_model("a")
    registry.create_model("b")
    for name, r in (("a", run), ("a", other), ("b", run)):
        registry.create_version(name, f"runs:/{r.info.run_id}/model", tags={"from": name})
    registry.set_version_tag("a", 2, "validated", "true")

    def found(text: str, **kwargs: object) -> list[tuple[str, int]]:
        page = registry.search_versions(text, **kwargs)  # type: ignore[arg-type]
        return [(v.name, v.version) for v in page.versions]

    rid = run.info.run_id
    assert found("name = 'a'", order_by=["version_number"]) == [("a", 1), ("a", 2)]
    assert found(f"run_id = '{rid}'", order_by=["name", "version_number DESC"]) == [
        ("a", 1),
        ("b", 1),
    ]
    assert found("name = 'a' AND version_number >= 2") == [("a", 2)]
    assert found("version_number = '2'") == [("a", 2)]
    assert found("tags.validated != 'true'", order_by=["name"]) == [("a", 1), ("b", 1)]
    assert found("(name = 'b' OR tags.validated = 'true')", order_by=["name"]) == [
        ("a", 2),
        ("b", 1),
    ]
    assert found(f"source_path = 'runs:/{rid}/model' AND name IN ('b')") == [("b", 1)]
    assert found("name = 'a'", max_results=1)[0] == ("a", 2)  # default: newest change first
    page = registry.search_versions("name = 'a'", max_results=1, order_by=["version_number"])
    assert page.next_page_token is not None
    rest = registry.search_versions(
        "name = 'a'", max_results=1, order_by=["version_number"], page_token=page.next_page_token
    )
    assert [v.version for v in rest.versions] == [2] and rest.next_page_token is None
    with pytest.raises(InvalidInput, match="numbers"):
        registry.search_versions("version_number = 'x'")
