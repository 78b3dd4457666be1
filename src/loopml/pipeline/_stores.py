"""Where a pipeline run keeps its records: the local stores, or a ``loopml server``.

The driver needs three things: the tracking service (experiments, runs, blobs), the cache
index and the dataset service. Embedded, all three open on the stores that ``Settings``
name. With ``LOOPML_TRACKING_URI`` set, the client layer (which this layer may not import)
supplies them over the server's API through :func:`set_context`, and the steps still run
here (or on the executor): only records and bytes travel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loopml.config import Settings
from loopml.data import DataService, DatasetCatalog
from loopml.errors import InvalidInput
from loopml.pipeline._cache import CacheIndex
from loopml.tracking import TrackingService

__all__ = ["PipelineStores", "open_stores", "set_context"]


@dataclass(frozen=True, slots=True)
class PipelineStores:
    """What a pipeline run writes to.

    Attributes:
        service: the tracking service, or the client's remote one (same methods).
        cache: the cache index (or its remote proxy).
        data: the dataset service for steps declared with ``dataset=``.
        local: the embedded tracking service when the stores are local (gc needs SQL).
    """

    service: Any
    cache: CacheIndex
    data: DataService
    local: TrackingService | None = None

    @classmethod
    def embedded(cls, settings: Settings) -> PipelineStores:
        """The stores that ``settings`` name, opened (and migrated) here."""
        service = TrackingService.from_settings(settings)
        return cls(
            service,
            CacheIndex(service.store, service.blobs),
            DataService(DatasetCatalog(service.store), service.blobs),
            local=service,
        )


_remote_opener: Callable[[Settings], PipelineStores] | None = None


def set_context(opener: Callable[[Settings], PipelineStores] | None) -> None:
    """How to reach a server's stores (the client layer calls this)."""
    global _remote_opener
    _remote_opener = opener


def open_stores(settings: Settings) -> PipelineStores:
    """The stores for ``settings``: local, or the server's when ``tracking_uri`` is set."""
    if not settings.is_remote:
        return PipelineStores.embedded(settings)
    if _remote_opener is None:
        raise InvalidInput(
            "LOOPML_TRACKING_URI is set but the loopml client is not loaded: import loopml"
        )
    return _remote_opener(settings)
