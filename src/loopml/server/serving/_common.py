"""What every prediction route shares: the body under a size limit, decoding off the event
loop when it is big, and the accounting of each answer (metrics and the version header)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from loopml.errors import InvalidInput, LoopMLError, PayloadTooLarge
from loopml.server.serving._errors import error_response, unexpected
from loopml.serving import ServedModel, UnsupportedMediaType

__all__ = ["VERSION_HEADER", "answer", "decode", "read_body"]

VERSION_HEADER = "x-loopml-model-version"
# Decoding a body this big takes long enough (milliseconds) to stall other requests: it
# moves to a thread. Smaller ones decode in place, cheaper than the hop.
_INLINE_BYTES = 256 * 1024
T = TypeVar("T")


async def read_body(request: Request) -> bytes:
    """The request body, refused with a 413 past ``LOOPML_SERVE_MAX_BODY_MB``: at once if
    Content-Length says so, else as soon as the streamed bytes cross it.

    Raises:
        PayloadTooLarge: over the limit.  InvalidInput: a bad Content-Length, or the client
        went away mid-body.
    """
    limit: int = request.app.state.max_body
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidInput(f"Content-Length {declared[:40]!r} is not a number") from None
        if size > limit:
            raise _too_large(size, limit)
    chunks = []
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise _too_large(received, limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise InvalidInput(
            "the client closed the connection before sending the whole body"
        ) from None
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    return body if encoding == "identity" else _inflate(body, encoding, limit)


def _inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """A gzip or deflate body (tritonclient's request compression), inflated no further
    than the limit: a small bomb must not become a big allocation."""
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding[:40]!r}: send gzip or deflate")
    inflater = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput(f"the body is not valid {encoding} data: {exc}") from None
    if len(data) > limit:
        raise _too_large(len(data), limit)
    if not inflater.eof:
        raise InvalidInput(f"the {encoding} body is cut short")
    return data


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is over {limit} bytes (it has {size}; LOOPML_SERVE_MAX_BODY_MB); "
        "send fewer rows per request",
        details={"limit": limit},
    )


async def decode(body: bytes, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, in a worker thread when ``body`` is big."""
    if len(body) > _INLINE_BYTES:
        return await run_in_threadpool(fn, *args)
    return fn(*args)


async def answer(
    request: Request,
    model: ServedModel,
    protocol: str,
    work: Callable[[], Awaitable[Response]],
) -> Response:
    """Run ``work`` for ``model``: errors become this protocol's error answer, and every
    answer is counted, timed and stamped with the model version."""
    path = request.scope["path"]
    metrics = model.metrics
    start = time.perf_counter()
    if metrics is not None:
        metrics.in_flight.inc()
    try:
        response = await work()
    except LoopMLError as exc:
        response = error_response(path, exc)
    except Exception as exc:  # a bug: still one answer, and the server goes on
        response = unexpected(path, exc)
    finally:
        if metrics is not None:
            metrics.in_flight.dec()
    response.headers[VERSION_HEADER] = model.label
    if metrics is not None:
        metrics.request(protocol, response.status_code, time.perf_counter() - start)
    return response
