"""What it takes to reproduce a run, captured without being asked: code, environment, command."""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["Environment", "capture_environment"]

PACKAGES_ARTIFACT = "_loopml/packages.txt"
DIFF_ARTIFACT = "_loopml/git.diff"


@dataclass(frozen=True)
class Environment:
    """Tags to set on a run and small files to store among its artifacts."""

    tags: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


def _git(*args: str, cwd: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.decode("utf-8", errors="replace")


def _packages() -> bytes:
    lines = sorted(
        {
            f"{d.metadata['Name']}=={d.version}"
            for d in importlib.metadata.distributions()
            if d.metadata["Name"]
        },
        key=str.lower,
    )
    return ("\n".join(lines) + "\n").encode()


@lru_cache(maxsize=4)
def capture_environment(cwd: str | None = None) -> Environment:
    """Git commit, dirty flag and diff, Python, platform, packages, command line and user.

    Captured once per process and working directory: the code a process runs does not change
    under it, and this keeps starting a run cheap (a run is a few hundred microseconds).
    """
    cwd = cwd or os.getcwd()
    tags: dict[str, str] = {
        "mlflow.source.name": os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else "",
        "mlflow.source.type": "LOCAL",
        "loopml.python": platform.python_version(),
        "loopml.platform": platform.platform(),
        "loopml.command": shlex.join([sys.executable, *sys.argv]),
    }
    with contextlib.suppress(KeyError, OSError):
        tags["mlflow.user"] = getpass.getuser()
    files = {PACKAGES_ARTIFACT: _packages()}
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if commit:
        tags["mlflow.source.git.commit"] = tags["loopml.git.commit"] = commit.strip()
        branch = _git("rev-parse", "--abbrev-ref", "HEAD", cwd=cwd)
        if branch:
            tags["mlflow.source.git.branch"] = branch.strip()
        status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd) or ""
        dirty = bool(status.strip())
        tags["loopml.git.dirty"] = "true" if dirty else "false"
        if dirty:
            diff = (_git("diff", "HEAD", "--binary", cwd=cwd) or "").encode()
            files[DIFF_ARTIFACT] = diff
            tags["loopml.git.diff_sha256"] = hashlib.sha256(diff).hexdigest()
    return Environment(tags=tags, files=files)
