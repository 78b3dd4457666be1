"""What changed between two dataset versions: columns, types, and the columns' statistics."""

from __future__ import annotations

from typing import Any

from loopml.data._entities import DatasetVersion

__all__ = ["diff_versions"]

_STATS = ("count", "nulls", "distinct", "mean", "std", "min", "max")


def _delta(a: Any, b: Any) -> Any:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return b - a
    return None


def diff_versions(a: DatasetVersion, b: DatasetVersion) -> dict[str, Any]:
    """Schema and profile differences from ``a`` to ``b`` (JSON-ready)."""
    cols_a = a.profile.get("columns", {})
    cols_b = b.profile.get("columns", {})
    added = [c for c in cols_b if c not in cols_a]
    removed = [c for c in cols_a if c not in cols_b]
    changed_type = {
        c: [cols_a[c].get("dtype"), cols_b[c].get("dtype")]
        for c in cols_a
        if c in cols_b and cols_a[c].get("dtype") != cols_b[c].get("dtype")
    }
    columns: dict[str, Any] = {}
    for c in cols_a:
        if c not in cols_b:
            continue
        stats = {}
        for stat in _STATS:
            x, y = cols_a[c].get(stat), cols_b[c].get(stat)
            if x != y:
                stats[stat] = {"from": x, "to": y, "delta": _delta(x, y)}
        if stats:
            columns[c] = stats
    return {
        "from": a.ref,
        "to": b.ref,
        "same_content": a.hash == b.hash,
        "rows": {"from": a.num_rows, "to": b.num_rows, "delta": b.num_rows - a.num_rows},
        "columns_added": added,
        "columns_removed": removed,
        "type_changed": changed_type,
        "schema_changed": a.schema != b.schema,
        "column_stats": columns,
    }
