"""Open Inference Protocol V2 bodies: the infer request (JSON, with binary tensor data
appended or not) and the infer response (likewise)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
from starlette.responses import Response

from loopml.errors import InvalidInput
from loopml.serving import (
    ServedModel,
    datatype_of,
    encode_bytes,
    tensor_from_bytes,
    tensor_from_json,
)

__all__ = ["HEADER_LENGTH", "InferRequest", "infer_response", "parse_infer_request"]

HEADER_LENGTH = "inference-header-content-length"
_DEFAULT_OUTPUT = "predict"


@dataclass(frozen=True)
class InferRequest:
    """A parsed infer request.

    Attributes:
        id: the request id, echoed in the response.
        tensors: the inputs by name, in request order.
        outputs: the outputs asked for, each with whether it goes back as binary data.
    """

    id: str | None
    tensors: dict[str, np.ndarray]
    outputs: list[tuple[str, bool]]


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return value


def parse_infer_request(body: bytes, header_length: str | None) -> InferRequest:
    """Parse an infer request body; with ``Inference-Header-Content-Length``, the JSON is
    that many bytes and the inputs' binary data follow, in input order.

    Raises:
        InvalidInput: malformed JSON, a malformed input or output, binary data that does
            not add up.
    """
    binary = memoryview(b"")
    head: bytes | memoryview = body
    if header_length is not None:
        try:
            size = int(header_length)
        except ValueError:
            raise InvalidInput("Inference-Header-Content-Length must be a number") from None
        if not 0 <= size <= len(body):
            raise InvalidInput(
                f"Inference-Header-Content-Length is {size} but the body has {len(body)} bytes"
            )
        view = memoryview(body)
        head, binary = view[:size], view[size:]
    try:
        request = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request is not valid JSON: {exc}") from None
    request = _object(request, "the request")
    parameters = _object(request.get("parameters"), "parameters")
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("the request needs a non-empty 'inputs' list")
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for item in inputs:
        item = _object(item, "each input")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput("each input needs a 'name'")
        if name in tensors:
            raise InvalidInput(f"input {name!r} is given twice")
        params = _object(item.get("parameters"), f"parameters of input {name!r}")
        length = params.get("binary_data_size")
        if length is None:
            if "data" not in item:
                raise InvalidInput(f"input {name!r} has no 'data' (nor binary_data_size)")
            datatype, shape = item.get("datatype"), item.get("shape")
            tensors[name] = tensor_from_json(name, datatype, shape, item["data"])
            continue
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise InvalidInput(f"input {name!r}: binary_data_size must be a non-negative integer")
        if offset + length > len(binary):
            raise InvalidInput(
                f"input {name!r} says {length} bytes of binary data but only "
                f"{len(binary) - offset} are left in the body"
            )
        raw = binary[offset : offset + length]
        offset += length
        tensors[name] = tensor_from_bytes(name, item.get("datatype"), item.get("shape"), raw)
    if offset != len(binary):
        raise InvalidInput(f"{len(binary) - offset} bytes of binary data belong to no input")
    request_id = request.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput("'id' must be a string")
    return InferRequest(request_id, tensors, _outputs(request, parameters))


def _outputs(request: dict[str, Any], parameters: dict[str, Any]) -> list[tuple[str, bool]]:
    binary_default = parameters.get("binary_data_output") is True
    asked = request.get("outputs")
    if asked is None:
        return [(_DEFAULT_OUTPUT, binary_default)]
    if not isinstance(asked, list) or not asked:
        raise InvalidInput("'outputs' must be a non-empty list")
    outputs = []
    for item in asked:
        item = _object(item, "each output")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput("each output needs a 'name'")
        params = _object(item.get("parameters"), f"parameters of output {name!r}")
        if params.get("classification"):
            raise InvalidInput(
                "the classification extension is not supported; ask for predict_proba"
            )
        outputs.append((name, params.get("binary_data", binary_default) is True))
    return outputs


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, pd.DataFrame | pd.Series):
        value = value.to_numpy()
    array = np.asarray(value)
    if array.dtype.kind == "O" and array.size and not isinstance(array.flat[0], str | bytes):
        try:  # numbers that came back as Python objects (a pyfunc returning a list)
            numeric = np.asarray(array.tolist())
        except ValueError:
            return array
        if numeric.dtype.kind in "biuf":
            return numeric
    return array


def infer_response(
    endpoint: str, model: ServedModel, request: InferRequest, results: dict[str, Any]
) -> Response:
    """The infer response of ``model`` answering for ``endpoint``: outputs in the order
    asked, as JSON data or binary data."""
    entries = []
    chunks = []
    for name, binary in request.outputs:
        array = _as_array(results[name])
        datatype = datatype_of(array.dtype)
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if binary:
            raw = (
                encode_bytes(array)
                if datatype == "BYTES"
                else np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
            )
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        elif datatype == "BYTES":
            entry["data"] = [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                for v in array.ravel().tolist()
            ]
        else:
            entry["data"] = np.ascontiguousarray(array).ravel()
        entries.append(entry)
    body: dict[str, Any] = {"model_name": endpoint}
    if model.version is not None:
        body["model_version"] = model.version
    if request.id is not None:
        body["id"] = request.id
    body["outputs"] = entries
    head = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return Response(head, media_type="application/json")
    return Response(
        b"".join([head, *chunks]),
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(len(head))},
    )
