"""Stored endpoints: specs checked field by field, generations, history, rollback, and
concurrent updates, on SQLite and PostgreSQL; the ``loopml endpoints`` CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from loopml.client import set_client
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.serving import EndpointSpec, EndpointStore, k8s_manifests
from loopml.store import Store, upgrade

CHAMPION = "models:/fraud@champion"
CHALLENGER = "models:/fraud@challenger"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def endpoints(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EndpointStore]:
    url = (
        f"sqlite:///{tmp_path / 'endpoints.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    store = Store(url)
    upgrade(store)
    yield EndpointStore(store)
    store.dispose()


def _spec(**fields: Any) -> dict[str, Any]:
    return {"name": "fraud", "routes": [{"model": CHAMPION}], **fields}


def test_generations_history_and_rollback(endpoints: EndpointStore) -> None:
    first = endpoints.create(_spec(), user="ana", reason="launch")
    assert (first.generation, first.user, first.reason) == (1, "ana", "launch")
    assert first.spec.batching.enabled and first.spec.logging.sample == 1.0
    canary = _spec(routes=[{"model": CHAMPION, "weight": 90}, {"model": CHALLENGER, "weight": 10}],
                   shadows=[{"model": "models:/fraud/7", "share": 0.5}],
                   sticky={"header": "X-User"})  # fmt: skip
    second = endpoints.update(canary, user="ben")
    assert second.generation == 2 and endpoints.generation("fraud") == 2
    assert [r.weight for r in endpoints.get("fraud").spec.routes] == [90, 10]
    assert endpoints.get("fraud", generation=1).spec.routes[0].model == CHAMPION

    back = endpoints.rollback("fraud", user="ana")  # to the generation before the current
    assert back.generation == 3 and back.reason == "rollback"
    assert back.spec == first.spec
    assert endpoints.rollback("fraud", to=2).spec == second.spec
    assert [s.generation for s in endpoints.history("fraud")] == [4, 3, 2, 1]
    with pytest.raises(InvalidInput, match="roll back to one of 1 to 3"):
        endpoints.rollback("fraud", to=4)
    assert [s.name for s in endpoints.list()] == ["fraud"]
    assert endpoints.list()[0].generation == 4

    endpoints.delete("fraud")
    calls = [
        lambda: endpoints.get("fraud"),
        lambda: endpoints.generation("fraud"),
        lambda: endpoints.history("fraud"),
        lambda: endpoints.delete("fraud"),
        lambda: endpoints.update(_spec()),
        lambda: endpoints.rollback("fraud"),
    ]
    for call in calls:
        with pytest.raises(NotFound, match="fraud"):
            call()
    assert endpoints.list() == []
    endpoints.create(_spec())  # the name is free again, from generation 1
    with pytest.raises(InvalidInput, match="nothing to roll back to"):
        endpoints.rollback("fraud")
    with pytest.raises(AlreadyExists, match="update it instead"):
        endpoints.create(_spec())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"routes": []}, "routes: List should have at least 1 item"),
        ({"routes": [{"model": "/srv/models/fraud"}]}, "routes.0.model"),
        ({"routes": [{"model": "file:///etc/passwd"}]}, "is not models:/name@alias"),
        ({"routes": [{"model": "s3://bucket/model"}]}, "routes.0.model"),
        ({"routes": [{"model": CHAMPION, "weight": 0}]}, "at least one route needs a weight"),
        ({"routes": [{"model": CHAMPION, "weight": -1}]}, "routes.0.weight"),
        ({"routes": [{"model": CHAMPION, "weight": float("nan")}]}, "routes.0.weight"),
        ({"shadows": [{"model": CHALLENGER, "share": 1.5}]}, "shadows.0.share"),
        ({"sticky": {}}, "exactly one of header or field"),
        ({"batching": {"max_batch_size": 0}}, "batching.max_batch_size"),
        ({"logging": {"sample": 2}}, "logging.sample"),
        ({"rutes": []}, "rutes: Extra inputs are not permitted"),
        ({"name": "../etc"}, "is not an endpoint name"),
        ({"name": ""}, "is not an endpoint name"),
    ],
)
def test_a_bad_spec_names_the_field(fields: dict[str, Any], message: str, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'e.db'}")
    upgrade(store)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        EndpointStore(store).create(_spec(**fields))
    assert EndpointStore(store).list() == []
    store.dispose()


def test_concurrent_updates_each_get_their_own_generation(endpoints: EndpointStore) -> None:
    endpoints.create(_spec())
    errors: list[BaseException] = []

    def update(i: int) -> None:
        try:
            for j in range(5):
                endpoints.update(_spec(routes=[{"model": f"models:/fraud/{i * 10 + j + 1}"}]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=update, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = endpoints.history("fraud")
    assert [s.generation for s in history] == list(range(21, 0, -1))
    models = {s.spec.routes[0].model for s in history[:-1]}
    assert len(models) == 20  # no update lost, none written twice
    assert endpoints.get("fraud").spec == history[0].spec


def test_k8s_manifest(endpoints: EndpointStore) -> None:
    stored = endpoints.create(_spec())
    deployment, service = yaml.safe_load_all(
        k8s_manifests(stored, replicas=3, image="acme/loopml:1")
    )
    assert deployment["kind"] == "Deployment" and deployment["spec"]["replicas"] == 3
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "acme/loopml:1"
    assert container["args"][:3] == ["loopml", "serve", "fraud"]
    assert container["envFrom"] == [{"secretRef": {"name": "loopml-store"}}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert service["kind"] == "Service"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_endpoints_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    monkeypatch.delenv("LOOPML_TRACKING_URI", raising=False)
    set_client(None)
    from loopml.cli import app

    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        out = runner.invoke(app, ["endpoints", *args])
        assert out.exit_code == code, out.output
        return json.loads(out.output) if "--json" in args and code == 0 else out.output

    created = run("create", "fraud", "-m", CHAMPION, "-w", "90", "-m", CHALLENGER, "-w", "10",
                  "--json")  # fmt: skip
    assert created["generation"] == 1
    assert [r["weight"] for r in created["spec"]["routes"]] == [90, 10]
    assert "fraud" in run("show", "fraud") and "90%" in run("show", "fraud")
    spec_file = tmp_path / "fraud.yaml"
    spec_file.write_text(yaml.safe_dump({"routes": [{"model": CHAMPION}],
                                         "batching": {"max_wait_ms": 2}}))  # fmt: skip
    updated = run("update", "fraud", "-f", str(spec_file), "--reason", "end canary", "--json")
    assert updated["generation"] == 2 and updated["spec"]["batching"]["max_wait_ms"] == 2
    assert run("rollback", "fraud", "--json")["spec"] == created["spec"]
    assert [g["generation"] for g in run("show", "fraud", "--history", "--json")] == [3, 2, 1]
    assert [e["name"] for e in run("list", "--json")] == ["fraud"]
    manifest = tmp_path / "fraud-k8s.yaml"
    run("export", "fraud", "--format", "k8s", "-o", str(manifest))
    assert [d["kind"] for d in yaml.safe_load_all(manifest.read_text())] == [
        "Deployment",
        "Service",
    ]
    # Bad input: a clear message and an exit code, nothing stored.
    assert "--weight" in run("create", "other", "-m", CHAMPION, "-w", "1", "-w", "2", code=2)
    assert "routes.0.model" in run("create", "other", "-m", "/tmp/model", code=2)
    assert "give the routes" in run("create", "other", code=2)
    assert "not supported" in run("export", "fraud", "--format", "helm", code=2)
    assert "does not exist" in run("show", "nope", code=3)
    assert [e["name"] for e in run("list", "--json")] == ["fraud"]
    assert run("delete", "fraud", "--json") == {"deleted": "fraud"}
    assert run("list", "--json") == []
    assert "Example" in runner.invoke(app, ["endpoints", "create", "--help"]).output
    set_client(None)


def test_spec_is_frozen_and_round_trips() -> None:
    spec = EndpointSpec.parse(_spec(sticky={"field": "user_id"}))
    assert EndpointSpec.parse(spec.to_dict()) == spec
    with pytest.raises(ValueError):
        spec.name = "other"  # type: ignore[misc]
