"""The one check that a user-given artifact path stays inside its run."""

from __future__ import annotations

import re
import unicodedata

from loopml.errors import InvalidInput

__all__ = ["normalize_artifact_path"]

_MAX_PATH = 1000
_DRIVE = re.compile(r"^[A-Za-z]:")


def normalize_artifact_path(path: str, *, allow_empty: bool = False) -> str:
    """Return ``path`` as a clean relative POSIX path, or raise :class:`InvalidInput`.

    Refused: absolute paths, ``..`` segments, backslashes, drive letters, NUL and control
    characters, percent-encoded dots or slashes (they decode to traversal elsewhere).

    Args:
        path: a path relative to a run's artifact root, e.g. ``plots/loss.png``.
        allow_empty: accept ``""`` (meaning the root) instead of raising.
    """
    if not isinstance(path, str):
        raise InvalidInput(f"artifact path must be a string, got {type(path).__name__}")
    raw = unicodedata.normalize("NFC", path)
    if raw in ("", ".", "./"):
        if allow_empty:
            return ""
        raise InvalidInput("artifact path is empty")
    if len(raw) > _MAX_PATH:
        raise InvalidInput(f"artifact path is {len(raw)} characters; the limit is {_MAX_PATH}")
    problem = None
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        problem = "contains a control character"
    elif "\\" in raw:
        problem = "contains a backslash; use '/'"
    elif raw.startswith("/") or _DRIVE.match(raw):
        problem = "is absolute; give a path relative to the run's artifact root"
    elif re.search(r"%(2e|2f|5c|25|00)", raw, re.IGNORECASE):
        problem = "contains percent-encoded path characters"
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if problem is None and any(p == ".." for p in parts):
        problem = "contains '..'; artifact paths may not leave the run's artifact root"
    if problem:
        raise InvalidInput(f"artifact path {path!r} {problem}", details={"path": path})
    return "/".join(parts)
