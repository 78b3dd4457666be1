"""When a version create is a client's retry, and which version answers it.

The rule (used by :meth:`ModelRegistry.create_version` when given ``retry_window_ms``): a
create is answered with an existing version instead of registering a new one when

* that version is the model's newest ever (numbered ``last_version``: no version was
  registered after it, not even one deleted since) and still exists (not deleted);
* it was created at most ``retry_window_ms`` before this request arrived;
* the request is identical to it: same model, canonical source, run, user, description,
  tags, metrics snapshot, dataset references and signature.

The check runs under the model's row lock (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite's
``BEGIN IMMEDIATE`` serialises writers), the same lock that numbers versions, so two
identical creates racing each other make one version, never two.

The trade-off: a create cannot say it is a retry (MLflow's request has no request id), so a
caller who deliberately registers the same source again, with the same tags and description,
within the window and with nothing registered in between, gets the same version back. A
second version identical in every field would only be a copy; a caller who wants one can
give it a different description or tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, select

from loopml.errors import InvalidInput
from loopml.store import ModelVersionRow, ModelVersionTagRow

__all__ = ["RETRY_WINDOW_MS", "check_retry_window", "find_retried", "mlflow_retry_span_ms"]

# MLflow's client defaults (mlflow/environment_variables.py; the retry is urllib3's Retry,
# built in mlflow/utils/request_utils.py with allowed_methods=None, so POSTs are retried too).
_MLFLOW_MAX_RETRIES = 7  # MLFLOW_HTTP_REQUEST_MAX_RETRIES
_MLFLOW_BACKOFF_FACTOR = 2  # MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR
_MLFLOW_BACKOFF_JITTER = 1.0  # MLFLOW_HTTP_REQUEST_BACKOFF_JITTER
_MLFLOW_REQUEST_TIMEOUT_S = 120  # MLFLOW_HTTP_REQUEST_TIMEOUT
_URLLIB3_BACKOFF_MAX_S = 120  # urllib3.Retry.DEFAULT_BACKOFF_MAX


def mlflow_retry_span_ms(
    *,
    max_retries: int = _MLFLOW_MAX_RETRIES,
    backoff_factor: float = _MLFLOW_BACKOFF_FACTOR,
    backoff_jitter: float = _MLFLOW_BACKOFF_JITTER,
    timeout_s: float = _MLFLOW_REQUEST_TIMEOUT_S,
    backoff_max_s: float = _URLLIB3_BACKOFF_MAX_S,
) -> int:
    """The longest time from a create's commit to the arrival of its last retry.

    urllib3 sleeps nothing before the first retry and ``factor * 2**(k-1)`` plus up to
    ``jitter`` seconds (capped at ``backoff_max_s``) before retry ``k``: 0 + 5 + 9 + 17 +
    33 + 65 + 120 = 249 s with MLflow's defaults. The attempt that committed, and each
    later one, may also wait out the request timeout before its answer counts as lost:
    7 x 120 s. In all 1,089 s.
    """
    sleeps = sum(
        min(backoff_max_s, backoff_factor * 2 ** (k - 1) + backoff_jitter)
        for k in range(2, max_retries + 1)
    )
    return int((sleeps + max_retries * timeout_s) * 1000)


# Twenty minutes: MLflow's whole schedule (about 18 minutes, above) with room for the clocks
# of several server workers to disagree. A client configured with more retries or a longer
# timeout, or a proxy answering 429 with a long Retry-After, can outlast it.
RETRY_WINDOW_MS = 20 * 60 * 1000


def check_retry_window(window_ms: Any) -> int:
    """A retry window in milliseconds: an integer >= 0 (0 turns the rule off)."""
    if isinstance(window_ms, bool) or not isinstance(window_ms, int) or window_ms < 0:
        raise InvalidInput(f"retry_window_ms must be an integer >= 0, got {window_ms!r}")
    return window_ms


def find_retried(
    conn: Connection,
    model: Row[Any],
    *,
    fields: Mapping[str, Any],
    tags: Mapping[str, str],
    window_ms: int,
    now: int,
) -> int | None:
    """The version this create would duplicate, if it is a retry (see the module docstring).

    Args:
        conn: the create's transaction, holding the model's row lock.
        model: the model's row, read under that lock (so ``last_version`` is current).
        fields: the version's columns as the create would store them.
        tags: the version's tags as the create would store them.
        window_ms: how long after a version's creation an identical create is its retry.
        now: when this create arrived.
    """
    if window_ms <= 0 or model.last_version == 0:
        return None
    row = conn.execute(
        select(ModelVersionRow).where(
            ModelVersionRow.model_id == model.model_id,
            ModelVersionRow.version == model.last_version,
        )
    ).first()
    if row is None or now - row.creation_timestamp > window_ms:
        return None  # deleted, or too old for any retry of the create that made it
    if any(getattr(row, column) != value for column, value in fields.items()):
        return None
    stored = conn.execute(
        select(ModelVersionTagRow.key, ModelVersionTagRow.value).where(
            ModelVersionTagRow.model_id == model.model_id,
            ModelVersionTagRow.version == row.version,
        )
    ).all()
    return int(row.version) if dict(stored) == dict(tags) else None
