"""MLflow's artifact proxy on ``loopml server``: paths that escape are refused, never served."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loopml.config import Settings
from loopml.tracking import TrackingService


@pytest.fixture
def proxied_run(live_server: Any) -> tuple[Any, str, str]:
    service = TrackingService.from_settings(
        Settings(home=live_server.home, db_url=live_server.db_url)
    )
    eid = service.experiments.create("proxy")
    run_id = service.runs.create(eid).info.run_id
    return (
        live_server,
        f"{live_server.url}/api/2.0/mlflow-artifacts/artifacts/{eid}/{run_id}/artifacts",
        run_id,
    )


def test_upload_download_list_delete(proxied_run: tuple[Any, str, str]) -> None:
    server, base, _run_id = proxied_run
    with httpx.Client(timeout=30) as http:
        assert http.put(f"{base}/dir/a.txt", content=b"A").status_code == 200
        assert http.put(f"{base}/dir/sub/b.bin", content=b"\x00" * 10).status_code == 200
        got = http.get(f"{base}/dir/a.txt")
        assert got.content == b"A"
        assert got.headers["content-disposition"].startswith("attachment")
        assert got.headers["x-content-type-options"] == "nosniff"
        root = base.split("/api/2.0/mlflow-artifacts/artifacts/")[1]
        listing = http.get(
            f"{server.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{root}/dir"}
        ).json()
        assert listing == {
            "files": [
                {"path": "a.txt", "is_dir": False, "file_size": 1},
                {"path": "sub", "is_dir": True},
            ]
        }
        file_listing = http.get(
            f"{server.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{root}/dir/a.txt"}
        )
        assert file_listing.json() == {}
        assert http.delete(f"{base}/dir/a.txt").status_code == 200
        missing = http.get(f"{base}/dir/a.txt")
        assert (
            missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        )
        too_big = http.put(f"{base}/big.bin", content=b"x" * (3 * 1024 * 1024))
        assert too_big.status_code == 413 and "LOOPML_MAX_UPLOAD_MB" in too_big.json()["message"]


@pytest.mark.parametrize(
    "suffix",
    [
        "../../etc/passwd",
        "%2e%2e/%2e%2e/etc/passwd",
        "%252e%252e%252fetc",
        "..%5c..%5cx",
        "a/../../b",
        "x%00y",
        "C:%5Cx",
    ],
)
def test_paths_that_escape_are_refused(proxied_run: tuple[Any, str, str], suffix: str) -> None:
    _, base, _ = proxied_run
    with httpx.Client(timeout=10) as http:
        for method in ("PUT", "GET", "DELETE"):
            response = http.request(
                method, f"{base}/{suffix}", content=b"evil" if method == "PUT" else None
            )
            assert response.status_code in (400, 404), (method, suffix, response.text)
            assert response.json()["error_code"] in (
                "INVALID_PARAMETER_VALUE",
                "ENDPOINT_NOT_FOUND",
                "RESOURCE_DOES_NOT_EXIST",
            )


def test_wrong_experiment_or_layout(proxied_run: tuple[Any, str, str]) -> None:
    server, _base, run_id = proxied_run
    api = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
    with httpx.Client(timeout=10) as http:
        wrong = http.put(f"{api}/999/{run_id}/artifacts/x.txt", content=b"x")
        assert wrong.status_code == 404
        odd = http.put(f"{api}/not-an-id/{run_id}/artifacts/x.txt", content=b"x")
        assert odd.status_code == 400 and odd.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        root_write = http.put(f"{api}/1/{run_id}/artifacts", content=b"x")
        assert root_write.status_code in (400, 404)
