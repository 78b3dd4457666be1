"""One prediction request, from the version picked for it to its record.

The protocol adapters read and parse bodies and write answers; everything in between is
here, the same for every protocol: the request id, the route (weighted, sticky or the
version asked for), holding that version while the request uses it, the prediction, the
metrics, the prediction log (a sampled share) and the shadow copies. On the event loop and
per request, so it does no I/O, takes no lock but the log's and builds no DataFrame.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.serving._input import ModelInput
from loopml.serving._model import ServedModel
from loopml.serving._routing import Endpoint
from loopml.serving._shadow import Parse, ShadowJob

if TYPE_CHECKING:
    from loopml.serving._pool import ModelPool

__all__ = ["Call", "check_request_id"]

_MAX_ID = 128


def check_request_id(value: str) -> str:
    """A caller's request id, refused if it could not serve as one (too long, control
    characters).

    Raises:
        InvalidInput: naming the problem.
    """
    if not value or len(value) > _MAX_ID or not value.isprintable():
        raise InvalidInput(
            f"a request id must be 1-{_MAX_ID} printable characters; got {value[:40]!r}"
            + ("..." if len(value) > 40 else "")
        )
    return value


class Call:
    """A prediction request in flight on ``endpoint`` (see the module docstring).

    Args:
        pool: the serving pool (metrics, log, shadows).
        endpoint: the endpoint called.
        protocol: ``v2`` or ``invocations`` (a metric label).
        version: the version asked for, if any.
        request_id: the caller's id (``X-Request-Id``), if any.
        headers: the request headers, for a sticky key read from a header.

    Raises:
        NotFound: ``version`` is not served.  InvalidInput: a bad request id.
    """

    __slots__ = ("_field", "_id", "_logged", "_parse", "endpoint", "model", "pool",
                 "protocol", "results", "rows", "start", "table")  # fmt: skip

    def __init__(
        self,
        pool: ModelPool,
        endpoint: Endpoint,
        *,
        protocol: str,
        version: str | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.start = time.perf_counter()
        self.pool = pool
        self.endpoint = endpoint
        self.protocol = protocol
        self._id = None if request_id is None else check_request_id(request_id)
        table = self.table = endpoint.table  # one snapshot: a swap now does not concern us
        sticky = table.sticky
        key = None
        self._field: str | None = None
        if version is None and sticky is not None:
            if sticky.header is not None and headers is not None:
                key = headers.get(sticky.header)
            self._field = sticky.field
        self.model: ServedModel = table.pick(endpoint.name, version, key, endpoint.random)
        self.model.acquire()
        self.rows: ModelInput | None = None
        self.results: dict[str, Any] | None = None
        self._parse: Parse | None = None
        sample = table.sample
        self._logged = pool.log is not None and (sample >= 1 or endpoint.random() < sample)

    @property
    def request_id(self) -> str:
        """The caller's id, the V2 body's ``id``, or a new uuid4 (hex)."""
        if self._id is None:
            self._id = uuid.uuid4().hex
        return self._id

    def name_request(self, request_id: str | None) -> None:
        """Use the body's id (V2 ``id``) unless the caller gave one in a header."""
        if self._id is None and request_id:
            self._id = check_request_id(request_id)

    async def predict(self, parse: Parse, outputs: Sequence[str]) -> dict[str, Any]:
        """Check the body for the picked version and predict ``outputs``.

        Raises:
            LoopMLError: the body does not fit, or the model failed for these rows.
        """
        self._parse = parse
        rows = await parse(self.model)
        if self._field is not None:
            rows = await self._stick(rows, parse)
        self.rows = rows
        results: dict[str, Any] = await self.model.predict(rows, outputs)
        self.results = results
        return results

    async def _stick(self, rows: ModelInput, parse: Parse) -> ModelInput:
        """Pick again by the sticky field's value in the first row (the key is in the body,
        read once the body was checked against the first pick)."""
        key = _first_value(rows, self._field)
        if key is None:
            return rows  # no such column: random assignment, as without a key
        chosen = self.table.pick(self.endpoint.name, None, key, self.endpoint.random)
        if chosen is self.model:
            return rows
        chosen.acquire()
        previous, self.model = self.model, chosen
        previous.release()
        return rows if chosen.schema.key == previous.schema.key else await parse(chosen)

    def finish(self, status: int, error: str | None = None) -> None:
        """Account for the answer: metrics, the log (if sampled), shadow copies of a
        successful answer, and the version released. Call it once, whatever happened."""
        model = self.model
        seconds = time.perf_counter() - self.start
        if model.metrics is not None:
            model.metrics.request(self.protocol, status, seconds)
        results = self.results or {}
        log = self.pool.log
        if self._logged and log is not None:
            log.record(
                request_id=self.request_id,
                endpoint=self.endpoint.name,
                model=model.name,
                version=model.version,
                status=status,
                latency_ms=seconds * 1000,
                inputs=self.rows,
                outputs=results.get("predict"),
                proba=results.get("predict_proba"),
                error=error,
            )
        parse = self._parse
        if status == 200 and self.table.shadows and parse is not None and self.rows is not None:
            self._mirror(parse, tuple(results))
        model.release()

    def _mirror(self, parse: Parse, outputs: tuple[str, ...]) -> None:
        rows = self.rows
        assert rows is not None
        key = self.model.schema.key
        for shadow in self.table.shadows:
            if shadow.share < 1 and self.endpoint.random() >= shadow.share:
                continue
            model = shadow.model
            model.acquire()  # held until the job ran or was dropped
            same = model.schema.key == key
            self.pool.shadows.submit(
                ShadowJob(
                    self.endpoint.name,
                    model,
                    self.request_id,
                    outputs,
                    rows if same else None,
                    parse,
                )
            )


def _first_value(rows: ModelInput, name: str | None) -> str | None:
    if rows.names is None or name not in rows.names or rows.rows == 0:
        return None
    i = rows.names.index(name)
    value = rows.block[0, i] if rows.block is not None else rows.arrays[i][0]
    if hasattr(value, "item"):
        value = value.item()
    return str(value)
