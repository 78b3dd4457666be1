"""The two errors serving adds to :mod:`loopml.errors`' tree (statuses the tree lacks).

::

    LoopMLError
    ├── InvalidInput                     400
    │   └── UnsupportedMediaType         415  UNSUPPORTED_MEDIA_TYPE
    └── PredictionFailed                 500  PREDICTION_FAILED
"""

from __future__ import annotations

from loopml.errors import InvalidInput, LoopMLError

__all__ = ["PredictionFailed", "UnsupportedMediaType"]


class UnsupportedMediaType(InvalidInput):
    """A body whose Content-Type (or charset) the protocol does not read, or none at all."""

    http_status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    mlflow_code = "BAD_REQUEST"


class PredictionFailed(LoopMLError):
    """The model itself raised (or returned something unusable) for this request's rows.

    The message carries the model's own error message, never a traceback.
    """

    http_status = 500
    code = "PREDICTION_FAILED"
    mlflow_code = "INTERNAL_ERROR"
