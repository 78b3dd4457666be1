"""Pipelines with LOOPML_TRACKING_URI: steps run here, records and bytes go to the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import _example_pipeline as ex
import pandas as pd
import pytest
from _example_pipeline import hashes, statuses
from typer.testing import CliRunner

import loopml  # noqa: F401 - loads the client layer, which supplies the remote stores
from _servers import ThreadedAppServer
from loopml.config import Settings
from loopml.data import DataService
from loopml.errors import InvalidInput
from loopml.pipeline import (
    Pipeline,
    delete_cache_entries,
    get_pipeline_run,
    list_pipeline_runs,
    step,
)
from loopml.server import create_app
from loopml.tracking import TrackingService

pytestmark = pytest.mark.remote


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(home=tmp_path / "server")
    return Settings(home=tmp_path / "server", db_url=request.getfixturevalue("pg_url"))


@pytest.fixture
def remote(server_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    with ThreadedAppServer(create_app(server_settings)) as server:
        yield Settings(home=tmp_path / "client", tracking_uri=server.url)


def test_a_remote_pipeline_keeps_its_records_on_the_server(
    remote: Settings, server_settings: Settings, tmp_path: Path
) -> None:
    local = ex.churn.run(settings=Settings(home=tmp_path / "local"))
    first = ex.churn.run(settings=remote)
    assert hashes(first) == hashes(local) and set(statuses(first).values()) == {"ran"}
    again = ex.churn.run(settings=remote)  # the server's cache index answers
    assert set(statuses(again).values()) == {"cached"}
    assert again.outputs["train"] == local.outputs["train"]

    on_server = TrackingService.from_settings(server_settings)
    parent = on_server.runs.get(first.run_id)
    assert parent.data.tags["loopml.pipeline"] == "churn"
    assert on_server.runs.get(first.steps["train"].run_id or "").data.params["lr"] == "0.1"
    # Nothing was written next to the client.
    assert not (tmp_path / "client" / "loopml.db").exists()
    shown = get_pipeline_run(first.run_id, settings=remote)
    assert [s["name"] for s in shown.steps] == list(ex.churn.order)
    listed = list_pipeline_runs(pipeline="churn", settings=remote)
    assert {r.run_id for r in listed} == {first.run_id, again.run_id}


def test_remote_step_outputs_become_server_datasets(
    remote: Settings, server_settings: Settings
) -> None:
    @step(dataset="positives")
    def positives(n: int) -> pd.DataFrame:
        return pd.DataFrame({"x": list(range(n))})

    result = Pipeline("publish", [positives], params={"n": 5}).run(settings=remote)
    version = DataService.from_settings(server_settings).version("positives@latest")
    assert result.steps["positives"].dataset == version.ref and version.num_rows == 5
    assert version.run_id == result.steps["positives"].run_id


def test_gc_through_a_server_is_refused_by_name(remote: Settings) -> None:
    with pytest.raises(InvalidInput, match="pipeline gc works on the stores themselves"):
        delete_cache_entries(older_than="30d", settings=remote)


def test_the_pipeline_commands_through_a_server(
    remote: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopml.cli._app import new_app
    from loopml.cli.pipeline import pipeline_app
    from loopml.client import set_client

    monkeypatch.setenv("LOOPML_TRACKING_URI", str(remote.tracking_uri))
    monkeypatch.setenv("LOOPML_HOME", str(remote.home))
    set_client(None)
    app = new_app("test")
    app.add_typer(pipeline_app, name="pipeline")
    runner = CliRunner()
    ran = runner.invoke(app, ["pipeline", "run", "_example_pipeline:churn", "--json"])
    assert ran.exit_code == 0, ran.output
    run_id = json.loads(ran.stdout)["run_id"]
    shown = runner.invoke(app, ["pipeline", "show", run_id, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["run_id"] == run_id
    set_client(None)
