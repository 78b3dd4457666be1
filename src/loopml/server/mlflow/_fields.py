"""An MLflow request's fields as a FastAPI dependency.

The body is read on the event loop; a handler declared with ``def`` (not ``async def``) that
takes :data:`FieldsIn` then runs in FastAPI's thread pool. So the handler's SQL, its object
store transfers and, on SQLite, the fsync of its commit never hold up the other requests:
one slow search or a large artifact upload does not stall every client's logging. Only the
log calls stay on the loop, since they hand their writes to the group commit's thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from loopml.server._wire import Fields, read_fields

__all__ = ["FieldsIn"]

FieldsIn = Annotated[Fields, Depends(read_fields)]
