"""Checks on registry names, aliases, tags and users; each failure names the problem."""

from __future__ import annotations

import getpass
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from loopml.errors import InvalidInput, PayloadTooLarge
from loopml.tracking import check_key

__all__ = [
    "MAX_NAME",
    "check_alias",
    "check_dataset_refs",
    "check_description",
    "check_model_name",
    "check_tags",
    "check_text",
    "check_user",
    "check_version",
]

MAX_NAME = 256
MAX_ALIAS = 255
MAX_TAG_VALUE = 100_000
MAX_DESCRIPTION = 100_000
# '/' '\\' ':' '@' would make ``models:/name/...`` and ``name@alias`` ambiguous; '%', '#'
# and '?' are how URL-encoded duplicates and truncations were smuggled past MLflow
# (``m%2e`` was accepted as a distinct name; CVE-2024-3099 poisoned a model that way).
_FORBIDDEN = set("/\\:@%#?")
_ALIAS = re.compile(r"^[A-Za-z0-9_-]+$")
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
_DATASET_REF = re.compile(r"^[^@\x00-\x1f]{1,256}@[1-9]\d{0,9}$")


def _unprintable(text: str) -> bool:
    # Cc: control characters (NUL included); Cf: zero-width and direction marks, which
    # make two names that look the same compare different.
    return any(unicodedata.category(c) in ("Cc", "Cf") for c in text)


def check_model_name(name: Any) -> str:
    """A registered model name: 1-256 printable characters, none of ``/ \\ : @ % # ?``.

    Raises:
        InvalidInput: naming what is wrong with the name.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"registered model name must be a non-empty string, got {name!r}")
    problem = None
    if len(name) > MAX_NAME:
        problem = f"is {len(name)} characters; the limit is {MAX_NAME}"
    elif _unprintable(name):
        problem = "contains a control or invisible character"
    elif name != name.strip():
        problem = "starts or ends with whitespace"
    elif unicodedata.normalize("NFC", name) != name:
        problem = "is not in Unicode NFC form"
    elif bad := sorted(_FORBIDDEN.intersection(name)):
        problem = f"contains {' '.join(repr(c) for c in bad)}"
    elif name in (".", ".."):
        problem = "is a relative path reference"
    if problem:
        raise InvalidInput(
            f"registered model name {name[:80]!r} {problem}", details={"name": name[:300]}
        )
    return name


def check_alias(alias: Any) -> str:
    """An alias: 1-255 of ``[A-Za-z0-9_-]``; ``latest`` and ``v<N>`` are reserved."""
    if not isinstance(alias, str) or not _ALIAS.match(alias) or len(alias) > MAX_ALIAS:
        raise InvalidInput(
            f"alias {str(alias)[:80]!r} must be 1-{MAX_ALIAS} letters, digits, '_' or '-'",
            details={"alias": str(alias)[:300]},
        )
    if _RESERVED_ALIAS.match(alias):
        raise InvalidInput(
            f"alias {alias!r} is reserved: 'latest' and 'v<N>' already name versions",
            details={"alias": alias},
        )
    return alias


def check_version(version: Any) -> int:
    """A version number given as ``3`` or ``"3"``."""
    if isinstance(version, bool):
        raise InvalidInput(f"version must be a positive integer, got {version!r}")
    text = str(version).strip()
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**31:
        raise InvalidInput(
            f"version must be a positive integer, got {version!r}", details={"version": text}
        )
    return int(text)


def check_text(value: Any, what: str, limit: int) -> str:
    """A string of at most ``limit`` characters without NUL."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise PayloadTooLarge(f"{what} is {len(value)} characters; the limit is {limit}")
    if "\x00" in value:
        raise InvalidInput(f"{what} contains a NUL character")
    return value


def check_description(description: Any) -> str:
    """A description: text up to 100,000 characters, no NUL."""
    return check_text(description, "description", MAX_DESCRIPTION)


def check_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    """Tag keys as run tags' (``[\\w-. /:]``, ≤250); values ≤100,000 characters."""
    out: dict[str, str] = {}
    for key, value in (tags or {}).items():
        check_key(key, "registry tag")
        out[key] = check_text(
            value if isinstance(value, str) else str(value), f"tag {key!r}", MAX_TAG_VALUE
        )
    return out


def check_user(user: str | None) -> str:
    """Who made a change: the given name, else the OS user (as MLflow's ``mlflow.user``)."""
    if user is None:
        try:
            user = getpass.getuser()
        except (OSError, KeyError):  # no login name in some containers
            user = "unknown"
    return check_text(user, "user", MAX_NAME)


def check_dataset_refs(refs: Any) -> tuple[str, ...]:
    """Dataset-version references as ``name@N`` strings (what ``loopml.data`` names them)."""
    if refs is None:
        return ()
    if isinstance(refs, str) or not all(isinstance(r, str) for r in refs):
        raise InvalidInput("datasets must be a list of 'name@version' strings")
    for ref in refs:
        if not _DATASET_REF.match(ref):
            raise InvalidInput(f"dataset reference {ref[:80]!r} is not of the form 'name@N'")
    return tuple(refs)
