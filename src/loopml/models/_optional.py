"""Optional flavor packages: recognised without importing them, imported behind a clear error."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from loopml.errors import InvalidInput

__all__ = ["defined_in", "import_optional"]


def defined_in(model: Any, package: str) -> bool:
    """True if ``model``'s class, or one of its bases, comes from ``package``.

    Only module names are read, so a model can be recognised (or ruled out) without
    importing ``package``: loopml works without the xgboost / lightgbm / onnx extras, and
    an sklearn model never pays for importing them.
    """
    prefix = package + "."
    return any(
        cls.__module__ == package or cls.__module__.startswith(prefix)
        for cls in type(model).__mro__
    )


def import_optional(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or say which loopml extra installs it.

    Args:
        module: the import name, e.g. ``xgboost``.
        extra: the loopml extra that brings it, e.g. ``xgboost``.
        purpose: what needs it, for the message ("loading an xgboost model").

    Raises:
        InvalidInput: the package is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InvalidInput(
            f"{purpose} needs the {module} package, which is not installed: "
            f"pip install 'loopml[{extra}]'",
            details={"missing_package": module, "extra": extra},
        ) from exc
