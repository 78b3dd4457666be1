"""The one error hierarchy of loopml, and its single mapping to HTTP statuses and exit codes.

::

    LoopMLError                      500  INTERNAL_ERROR          exit 1
    ├── InvalidInput (ValueError)    400  INVALID_INPUT           exit 2
    │   ├── PayloadTooLarge          413  PAYLOAD_TOO_LARGE       exit 2
    │   └── UnsupportedMediaType     415  UNSUPPORTED_MEDIA_TYPE  exit 2
    ├── NotFound (LookupError)       404  NOT_FOUND               exit 3
    ├── AlreadyExists                409  ALREADY_EXISTS          exit 4
    ├── Conflict                     409  CONFLICT                exit 5
    │   └── ArtifactCorrupted        409  ARTIFACT_CORRUPTED      exit 5
    ├── Unauthorized                 401  UNAUTHORIZED            exit 6
    ├── Forbidden (PermissionError)  403  FORBIDDEN               exit 6
    ├── Unavailable                  503  UNAVAILABLE             exit 7
    └── PredictionFailed             500  PREDICTION_FAILED       exit 1

Each class carries its HTTP status, a stable string ``code`` and the MLflow ``error_code`` that
MLflow's own server would answer with, so that every boundary (server handler, HTTP client,
CLI) translates errors by looking them up here and nowhere else.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyExists",
    "ArtifactCorrupted",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "LoopMLError",
    "NotFound",
    "PayloadTooLarge",
    "PredictionFailed",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
    "error_from_code",
]


class LoopMLError(Exception):
    """Root of every error that loopml raises on purpose.

    Args:
        message: what went wrong and, where it can, what to do about it.
        details: machine-readable context (offending field, position, ...).
    """

    http_status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    mlflow_code: ClassVar[str] = "INTERNAL_ERROR"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The error as the native wire body ``{code, message, details}``."""
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(LoopMLError, ValueError):
    """A request or argument is malformed; the message names the field and the fix."""

    http_status = 400
    code = "INVALID_INPUT"
    mlflow_code = "INVALID_PARAMETER_VALUE"
    exit_code = 2

    @classmethod
    def from_validation(cls, exc: Any, what: str) -> InvalidInput:
        """One error naming each bad field of a pydantic ``ValidationError`` (of a spec of
        ``what``: an endpoint, a monitor), with the list in ``details["problems"]``."""
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or what}: "
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        ]
        return cls(f"invalid {what}: " + "; ".join(problems), details={"problems": problems})


class PayloadTooLarge(InvalidInput):
    """A body, batch or value is over a documented limit."""

    http_status = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(InvalidInput):
    """A body whose Content-Type, charset or Content-Encoding is not one the route reads."""

    http_status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    mlflow_code = "BAD_REQUEST"  # what MLflow's scoring server answers for these


class NotFound(LoopMLError, LookupError):
    """The named experiment, run, artifact, ... does not exist."""

    http_status = 404
    code = "NOT_FOUND"
    mlflow_code = "RESOURCE_DOES_NOT_EXIST"
    exit_code = 3


class AlreadyExists(LoopMLError):
    """A name that must be unique is taken."""

    http_status = 409
    code = "ALREADY_EXISTS"
    mlflow_code = "RESOURCE_ALREADY_EXISTS"
    exit_code = 4


class Conflict(LoopMLError):
    """The request clashes with the current state (e.g. logging to a finished run)."""

    http_status = 409
    code = "CONFLICT"
    mlflow_code = "INVALID_STATE"
    exit_code = 5


class ArtifactCorrupted(Conflict):
    """Stored bytes no longer match their recorded sha256: they were changed or damaged."""

    code = "ARTIFACT_CORRUPTED"


class Unauthorized(LoopMLError):
    """No valid credentials were given."""

    http_status = 401
    code = "UNAUTHORIZED"
    mlflow_code = "UNAUTHENTICATED"
    exit_code = 6


class Forbidden(LoopMLError, PermissionError):
    """The credentials are valid but do not allow this action."""

    http_status = 403
    code = "FORBIDDEN"
    mlflow_code = "PERMISSION_DENIED"
    exit_code = 6


class Unavailable(LoopMLError):
    """A dependency (database, object store, server) is unreachable; retrying may succeed."""

    http_status = 503
    code = "UNAVAILABLE"
    mlflow_code = "TEMPORARILY_UNAVAILABLE"
    exit_code = 7


class PredictionFailed(LoopMLError):
    """A served model raised (or returned something unusable) for one request's rows.

    The message carries the model's own error message, never a traceback; other requests
    are unaffected.
    """

    http_status = 500
    code = "PREDICTION_FAILED"


_BY_CODE: dict[str, type[LoopMLError]] = {}


def _register(cls: type[LoopMLError]) -> None:
    _BY_CODE.setdefault(cls.code, cls)
    for sub in cls.__subclasses__():
        _register(sub)


_register(LoopMLError)


def error_from_code(code: str, message: str, details: dict[str, Any] | None = None) -> LoopMLError:
    """Rebuild the error class named by a wire ``code`` (the client's one way back)."""
    return _BY_CODE.get(code, LoopMLError)(message, details=details)
