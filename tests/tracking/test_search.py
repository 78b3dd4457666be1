"""Run search: the grammar compiled to SQL, ordering and paging, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInput
from loopml.tracking import Metric, RunStatus, TrackingService, ViewType


@pytest.fixture
def seeded(service: TrackingService) -> tuple[str, dict[str, str]]:
    """Five runs with distinct metrics, params and tags; returns (experiment id, name -> id)."""
    eid = service.experiments.create("search")
    specs = {
        "a": ({"acc": 0.95, "loss": 0.1}, {"model": "rf", "depth": "3"}, {"team": "mlops"}),
        "b": ({"acc": 0.85, "loss": 0.3}, {"model": "rf", "depth": "5"}, {"team": "ML-core"}),
        "c": ({"acc": 0.91}, {"model": "xgb"}, {"team": "data"}),
        "d": ({"loss": 0.2}, {"model": "Logreg"}, {}),
        "e": ({"acc": 0.5, "loss": 0.9}, {"model": "xgb", "depth": "3"}, {"team": "mlops"}),
    }
    ids = {}
    for i, (name, (metrics, params, tags)) in enumerate(specs.items()):
        run = service.runs.create(eid, run_name=name, start_time=1_000_000 + i)
        ids[name] = run.info.run_id
        service.runs.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, 1, 0) for k, v in metrics.items()],
            params=params,
            tags=tags,
        )
    service.runs.update(ids["c"], status=RunStatus.FINISHED)
    return eid, ids


def _names(
    service: TrackingService, eid: str, flt: str, order_by: list[str] | None = None
) -> list[str]:
    page = service.runs.search([eid], filter_string=flt, order_by=order_by)
    return [r.info.run_name for r in page.runs]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("metrics.acc > 0.9", {"a", "c"}),
        ("metrics.acc >= 0.85 and metrics.loss < 0.5", {"a", "b"}),
        ("metrics.acc != 0.5", {"a", "b", "c"}),
        ("params.model = 'rf'", {"a", "b"}),
        ("params.model != 'rf'", {"c", "d", "e"}),
        ("params.depth IS NULL", {"c", "d"}),
        ("params.depth IS NOT NULL", {"a", "b", "e"}),
        ("params.model IN ('xgb', 'Logreg')", {"c", "d", "e"}),
        ("params.model NOT IN ('xgb', 'Logreg')", {"a", "b"}),
        ("tags.team LIKE 'ml%'", {"a", "e"}),  # LIKE is case-sensitive everywhere
        ("tags.team ILIKE 'ml%'", {"a", "b", "e"}),
        ("params.model LIKE 'log%'", set()),
        ("params.model ILIKE 'log%'", {"d"}),
        ("attributes.status = 'FINISHED'", {"c"}),
        ("status != 'FINISHED'", {"a", "b", "d", "e"}),
        ("attributes.run_name LIKE '%a%'", {"a"}),
        ("attributes.start_time >= 1000003", {"d", "e"}),
        # Beyond MLflow: OR and parentheses.
        ("metrics.acc > 0.9 or params.model = 'Logreg'", {"a", "c", "d"}),
        ("(params.model = 'rf' or params.model = 'xgb') and params.depth = '3'", {"a", "e"}),
        ("params.model = 'rf' and (metrics.acc > 0.9 or tags.team = 'ML-core')", {"a", "b"}),
    ],
)
def test_filters(
    service: TrackingService, seeded: tuple[str, dict[str, str]], flt: str, expected: set[str]
) -> None:
    eid, _ = seeded
    assert set(_names(service, eid, flt)) == expected


def test_run_id_in(service: TrackingService, seeded: tuple[str, dict[str, str]]) -> None:
    eid, ids = seeded
    flt = f"attributes.run_id IN ('{ids['a']}', '{ids['d']}')"
    assert set(_names(service, eid, flt)) == {"a", "d"}


def test_order_by_metric_puts_missing_last(
    service: TrackingService, seeded: tuple[str, dict[str, str]]
) -> None:
    eid, _ = seeded
    assert _names(service, eid, "", ["metrics.acc DESC"]) == ["a", "c", "b", "e", "d"]
    assert _names(service, eid, "", ["metrics.acc ASC"]) == ["e", "b", "c", "a", "d"]
    assert _names(service, eid, "", ["params.depth", "metrics.loss DESC"]) == [
        "e",
        "a",
        "b",
        "d",
        "c",
    ]
    # The default order is newest first.
    assert _names(service, eid, "") == ["e", "d", "c", "b", "a"]


def test_paging(service: TrackingService, seeded: tuple[str, dict[str, str]]) -> None:
    eid, _ = seeded
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = service.runs.search(
            [eid], max_results=2, page_token=token, order_by=["attributes.run_name"]
        )
        seen += [r.info.run_name for r in page.runs]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == ["a", "b", "c", "d", "e"] and pages == 3


def test_view_types(service: TrackingService, seeded: tuple[str, dict[str, str]]) -> None:
    eid, ids = seeded
    service.runs.delete(ids["b"])
    assert "b" not in _names(service, eid, "")
    deleted = service.runs.search([eid], view_type=ViewType.DELETED_ONLY).runs
    assert [r.info.run_name for r in deleted] == ["b"]
    assert len(service.runs.search([eid], view_type="ALL").runs) == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"filter_string": "metrics.acc > 'high'"}, "number"),
        ({"filter_string": "params.depth > 3"}, "quoted strings"),
        ({"filter_string": "attributes.colour = 'red'"}, "unknown attribute 'colour'"),
        ({"filter_string": "metrics.acc >"}, "column"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"max_results": 0}, "max_results"),
        ({"max_results": 50_001}, "max_results"),
        ({"order_by": ["attributes.colour"]}, "colour"),
        ({"view_type": "SOME"}, "run_view_type"),
    ],
)
def test_invalid_searches(
    service: TrackingService, seeded: tuple[str, dict[str, str]], kwargs: dict, match: str
) -> None:
    eid, _ = seeded
    with pytest.raises(InvalidInput, match=match):
        service.runs.search([eid], **kwargs)


def test_injection_attempts_are_just_strings(
    service: TrackingService, seeded: tuple[str, dict[str, str]]
) -> None:
    eid, _ = seeded
    hostile = "params.model = 'rf'' OR 1=1 --'"
    assert _names(service, eid, hostile) == []
    assert len(service.runs.search([eid]).runs) == 5  # nothing was dropped or changed
