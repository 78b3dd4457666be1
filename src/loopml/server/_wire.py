"""Reading MLflow-style requests: GET fields from the query string, others from a JSON body."""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from loopml.errors import InvalidInput, PayloadTooLarge

__all__ = ["Fields", "read_fields", "received_file", "reply"]

MAX_BODY = 1_048_576  # MLflow's limit for a request body (log-batch included)
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class Fields:
    """The request's fields with typed getters that raise :class:`InvalidInput` naming the field."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def has(self, name: str) -> bool:
        """True when the field was given (and is not null)."""
        return self.data.get(name) is not None

    def _scalar(self, name: str, *, required: bool) -> Any:
        """The field's value (a repeated query key given once counts as one), or None."""
        value = self.data.get(name)
        if value is None:
            if required:
                raise InvalidInput(f"Missing value for required parameter '{name}'.")
            return None
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        return value

    def string(self, name: str, *, required: bool = True, default: str | None = None) -> Any:
        """A string field."""
        value = self._scalar(name, required=required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise InvalidInput(
                f"Invalid value {value!r} for parameter '{name}': expected a string."
            )
        return value

    def integer(self, name: str, *, required: bool = False, default: int | None = None) -> Any:
        """An int64 field, given as a JSON number (integral) or a string of digits."""
        value = self._scalar(name, required=required)
        if value is None:
            return default
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            try:
                number = int(value)
            except ValueError:
                number = None
        if number is None:
            raise InvalidInput(
                f"Invalid value {value!r} for parameter '{name}': expected an integer."
            )
        if not -(2**63) <= number < 2**63:
            raise InvalidInput(
                f"Invalid value {value!r} for parameter '{name}': out of int64 range."
            )
        return number

    def number(self, name: str) -> float:
        """A double field; ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` as in proto JSON."""
        value = self.data.get(name)
        if value is None:
            raise InvalidInput(f"Missing value for required parameter '{name}'.")
        return to_float(value, name)

    def items(self, name: str) -> list[Any]:
        """A repeated field (a JSON list, or repeated query parameters)."""
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            value = [value]
        return value

    def flag(self, name: str, *, default: bool = False) -> bool:
        """A boolean field (true/false, as JSON or in the query string)."""
        value = self._scalar(name, required=False)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidInput(
            f"Invalid value {value!r} for parameter '{name}': expected true or false."
        )


def to_float(value: Any, name: str) -> float:
    """A double from a JSON number or proto JSON's special strings."""
    if isinstance(value, bool):
        raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': expected a number.")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
        try:
            return float(value)
        except ValueError:
            pass
    raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': expected a number.")


async def read_fields(request: Request) -> Fields:
    """GET: the query string (repeated keys become lists); otherwise the JSON object body."""
    if request.method == "GET":
        data: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            if key in data:
                existing = data[key]
                data[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
            else:
                data[key] = value
        return Fields(data)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"request body is {len(body)} bytes; the limit is {MAX_BODY}")
    if not body.strip():
        return Fields({})
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"Malformed JSON body: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return Fields(parsed)


def reply(data: dict[str, Any]) -> Response:
    """A JSON response encoded by orjson, bypassing FastAPI's generic encoder (hot path)."""
    return Response(orjson.dumps(data), media_type="application/json")


@contextlib.asynccontextmanager
async def received_file(request: Request) -> AsyncIterator[str]:
    """Stream the request body into a temporary file (removed afterwards); yields its path.

    Bodies over ``LOOPML_MAX_UPLOAD_MB`` are refused with a 413 as soon as they cross it.
    """
    limit = request.app.state.settings.max_upload_mb * 1024 * 1024
    fd, tmp = tempfile.mkstemp(prefix="loopml-upload-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"upload is over {limit} bytes (LOOPML_MAX_UPLOAD_MB); "
                        "store large files in the artifact store directly"
                    )
                out.write(chunk)
        yield tmp
    finally:
        os.unlink(tmp)
