"""What every prediction route shares: the body under a size limit, decoding off the event
loop when it is big, and each answer's accounting (:class:`~loopml.serving.Call`) and
headers (the version that answered, the request id)."""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from loopml.errors import InvalidInput, LoopMLError, PayloadTooLarge, UnsupportedMediaType
from loopml.server.serving._errors import error_response, unexpected
from loopml.serving import Call

__all__ = ["REQUEST_ID_HEADER", "VERSION_HEADER", "answer", "decode", "read_body"]

VERSION_HEADER = "x-loopml-model-version"
REQUEST_ID_HEADER = "x-request-id"
# nginx's status for a request whose client closed the connection before the answer.
_CLIENT_GONE = 499
# Decoding a body this big takes long enough (milliseconds) to stall other requests: it
# moves to a thread. Smaller ones decode in place, cheaper than the hop.
_INLINE_BYTES = 256 * 1024
T = TypeVar("T")


async def read_body(request: Request, limit: int | None = None) -> bytes:
    """The request body, refused with a 413 past ``limit`` (default
    ``LOOPML_SERVE_MAX_BODY_MB``): at once if Content-Length says so, else as soon as the
    streamed bytes cross it.

    Raises:
        PayloadTooLarge: over the limit.  InvalidInput: a bad Content-Length, or the client
        went away mid-body.
    """
    if limit is None:
        limit = int(request.app.state.max_body)
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


async def answer(request: Request, call: Call, work: Callable[[], Awaitable[Response]]) -> Response:
    """Run ``work`` for ``call``: errors become this protocol's error answer, and every
    answer is accounted for (metrics, log, shadows) and stamped with the version that
    answered and the request id."""
    path = request.scope["path"]
    error: str | None = None
    try:
        response = await work()
    except LoopMLError as exc:
        response, error = error_response(path, exc), exc.message
    except Exception as exc:  # a bug: still one answer, and the server goes on
        response, error = unexpected(path, exc), f"internal error ({type(exc).__name__})"
    except BaseException:  # cancelled: nobody is left to answer, the version is released
        call.finish(_CLIENT_GONE, "the client went away")
        raise
    headers = response.headers
    headers[VERSION_HEADER] = call.model.label
    headers[REQUEST_ID_HEADER] = call.request_id
    call.finish(response.status_code, error)
    return response
