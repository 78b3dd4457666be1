"""An MLflow REST stub that answers every call at once with a canned body.

The tracking-server benchmark runs the MLflow client against it to measure what the
client costs by itself: no server can make a call cheaper than that, so MLflow's time
divided by it is the best ratio any server could reach with the same client.

    python bench/_stub_server.py PORT [ROWS]
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

RUN_ID = "0" * 32


def _info(run_id: str = RUN_ID, name: str = "stub") -> dict[str, Any]:
    return {
        "run_id": run_id, "run_uuid": run_id, "experiment_id": "1", "run_name": name,
        "user_id": "bench", "status": "RUNNING", "start_time": 1, "end_time": 2,
        "artifact_uri": f"mlflow-artifacts:/1/{run_id}/artifacts", "lifecycle_stage": "active",
    }  # fmt: skip


def _search_page(n: int = 499) -> dict[str, Any]:
    """A page shaped like (d)'s answer: n runs with 10 params, 10 metrics and a few tags."""
    runs = []
    for i in range(n):
        run_id = f"{i:032x}"
        runs.append({
            "info": _info(run_id, f"run-{i}"),
            "data": {
                "metrics": [{"key": f"m{k}", "value": (i * 7 + k) % 100 / 100, "timestamp": 1,
                             "step": 0} for k in range(10)],
                "params": [{"key": f"p{k}", "value": str(i + k)} for k in range(10)],
                "tags": [{"key": "mlflow.runName", "value": f"run-{i}"},
                         {"key": "mlflow.user", "value": "bench"}],
            },
            "inputs": {},
        })  # fmt: skip
    return {"runs": runs}


EXPERIMENT = {
    "experiment": {
        "experiment_id": "1", "name": "stub", "artifact_location": "mlflow-artifacts:/1",
        "lifecycle_stage": "active", "creation_time": 1, "last_update_time": 1,
    }
}  # fmt: skip
BODIES = {
    "runs/create": orjson.dumps({"run": {"info": _info(), "data": {}, "inputs": {}}}),
    "runs/get": orjson.dumps({"run": {"info": _info(), "data": {}, "inputs": {}}}),
    "runs/update": orjson.dumps({"run_info": _info()}),
    "runs/search": orjson.dumps(_search_page(int(sys.argv[2]) if len(sys.argv) > 2 else 499)),
    "experiments/create": orjson.dumps({"experiment_id": "1"}),
    "experiments/get": orjson.dumps(EXPERIMENT),
    "experiments/get-by-name": orjson.dumps(EXPERIMENT),
}
EMPTY = b"{}"


async def answer(request: Request) -> Response:
    await request.body()
    path = request.url.path
    body = next((b for suffix, b in BODIES.items() if path.endswith(suffix)), EMPTY)
    return Response(body, media_type="application/json")


async def health(request: Request) -> Response:
    return Response(b"OK")


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/{path:path}", answer, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
