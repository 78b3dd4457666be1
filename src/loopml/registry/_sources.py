"""The one check that a model version's ``source`` points inside its own run or model.

MLflow patched this check some twenty times (CVE-2023-1177, 2356, 6909, 2024-1558, 1594,
3848, GHSA-mr9f-g8qf-4w4j ...): each fix blocked one spelling and the next report used
another. So the rule here is an allowlist, not a blocklist: only ``runs:/<run_id>/<path>``,
the ``mlflow-artifacts:/`` roots that the tracking layer itself hands out and MLflow 3's
``models:/m-<id>`` (a logged model, stored as its artifact root) are valid, the owning run
or logged model must exist and own that root, and the canonical form that was checked is
the form that is stored.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, select

from loopml.errors import InvalidInput
from loopml.store import LoggedModelRow, RunRow

__all__ = ["MAX_SOURCE", "canonical_source"]

MAX_SOURCE = 4096
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_LOGGED_MODEL = re.compile(r"^m-[0-9a-f]{32}$")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def _refuse(source: str, problem: str) -> InvalidInput:
    return InvalidInput(
        f"model version source {source[:200]!r} {problem}; register a model logged to a "
        "run as 'runs:/<run_id>/<path>'",
        details={"source": source[:300]},
    )


def _path_parts(source: str, path: str) -> list[str]:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(source, "contains '..'")
    return parts


def canonical_source(
    conn: Connection, source: object, run_id: str | None
) -> tuple[str, str | None]:
    """The canonical form of ``source`` and the run that owns it.

    Args:
        conn: a connection inside the transaction that registers the version.
        source: what the caller gave.
        run_id: the run the caller says produced the model, if any; it must own the source.

    Returns:
        ``(canonical source, run_id)``; the run is None only for a logged model that was
        made outside a run and registered without ``run_id``.

    Raises:
        InvalidInput: naming the problem (scheme, host, traversal, encoding, unknown run,
            a run other than ``run_id``).
    """
    if not isinstance(source, str) or not source:
        raise InvalidInput("model version source must be a non-empty string")
    if len(source) > MAX_SOURCE:
        raise _refuse(source, f"is {len(source)} characters; the limit is {MAX_SOURCE}")
    if any(ord(c) < 32 or ord(c) == 127 for c in source):
        raise _refuse(source, "contains a control character")
    if "\\" in source:
        raise _refuse(source, "contains a backslash")
    if _PERCENT.search(source):
        # Decoding is where every bypass lived (double encoding, %2e%2e, %00): refuse it.
        raise _refuse(source, "is percent-encoded")
    for char, what in (("#", "a fragment"), ("?", "a query"), (";", "path parameters")):
        if char in source:
            raise _refuse(source, f"contains {what} ({char!r})")
    scheme, colon, rest = source.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in ("runs", "mlflow-artifacts", "models"):
        shown = f"scheme {scheme!r}" if colon and "/" not in scheme else "a local path"
        raise _refuse(
            source, f"is {shown}: only runs:/, models:/m-<id> and mlflow-artifacts:/ are accepted"
        )
    if rest.startswith("//"):
        raise _refuse(source, "names a host; sources may only point into this server")
    if not rest.startswith("/"):
        raise _refuse(source, f"must look like {scheme}:/<...>")
    parts = _path_parts(source, rest)
    if scheme == "runs":
        return _run_source(conn, source, parts, run_id)
    if scheme == "models":
        return _logged_model_source(conn, source, parts, run_id)
    return _artifact_source(conn, source, parts, run_id)


def _run_source(
    conn: Connection, source: str, parts: list[str], run_id: str | None
) -> tuple[str, str]:
    if len(parts) < 2 or not _RUN_ID.match(parts[0]):
        raise _refuse(source, "is not runs:/<32 hex run id>/<path>")
    owner = parts[0]
    if run_id is not None and run_id != owner:
        raise _refuse(source, f"belongs to run {owner!r}, not to run_id {run_id!r}")
    if conn.execute(select(RunRow.run_id).where(RunRow.run_id == owner)).first() is None:
        raise _refuse(source, f"names run {owner!r}, which does not exist")
    return "runs:/" + "/".join(parts), owner


def _artifact_source(
    conn: Connection, source: str, parts: list[str], run_id: str | None
) -> tuple[str, str | None]:
    canonical = "mlflow-artifacts:/" + "/".join(parts)
    # <exp>/<run_id>/artifacts/... (a run) or <exp>/models/<model_id>/artifacts/... (a model)
    root: str | None = None
    owner: str | None = None
    if len(parts) >= 3 and parts[1] == "models":
        row = conn.execute(
            select(LoggedModelRow.artifact_location, LoggedModelRow.source_run_id).where(
                LoggedModelRow.model_id == parts[2]
            )
        ).first()
        if row is not None:
            root, owner = row.artifact_location, row.source_run_id
    elif len(parts) >= 2 and _RUN_ID.match(parts[1]):
        uri = conn.execute(select(RunRow.artifact_uri).where(RunRow.run_id == parts[1])).scalar()
        if uri is not None:
            root, owner = uri, parts[1]
    if root is None or not (canonical == root or canonical.startswith(root.rstrip("/") + "/")):
        raise _refuse(source, "is not inside the artifact root of an existing run or model")
    if run_id is not None and owner is not None and owner != run_id:
        raise _refuse(source, f"belongs to run {owner!r}, not to run_id {run_id!r}")
    return canonical, owner or run_id


def _logged_model_source(
    conn: Connection, source: str, parts: list[str], run_id: str | None
) -> tuple[str, str | None]:
    # MLflow 3's log_model(registered_model_name=...) registers "models:/m-<id>". Stored as
    # the model's artifact root, so that a version's source is always a location the
    # artifact proxy serves (and passes the same ownership check as one given directly).
    if len(parts) != 1 or not _LOGGED_MODEL.match(parts[0]):
        raise _refuse(source, "is scheme 'models' without a logged model id (models:/m-<id>)")
    root = conn.execute(
        select(LoggedModelRow.artifact_location).where(
            LoggedModelRow.model_id == parts[0], LoggedModelRow.lifecycle_stage == "active"
        )
    ).scalar()
    if root is None:
        raise _refuse(
            source, f"is scheme 'models' naming logged model {parts[0]!r}, which does not exist"
        )
    return _artifact_source(conn, root, _path_parts(root, root.partition(":")[2]), run_id)
