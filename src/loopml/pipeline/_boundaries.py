"""What a step's output must satisfy, and where it is published.

A step declared with ``schema=`` has its DataFrame output validated where it ran, before it
is stored: a step boundary is checked like a dataset version, with every failure collected
(pandera, lazily) and named by column, check and row. A step declared with ``dataset=`` has
its output registered as a version of that dataset, with the step and its run recorded as
the producer; a cached rerun answers the same version (the same content).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.data import DataService, DatasetVersion
    from loopml.pipeline._step import Step

__all__ = ["check_output", "load_schema", "register_output", "schema_text"]

_SHOWN = 5  # failing checks named in the error; the details hold them all


def load_schema(schema: Any, *, step: str) -> Any:
    """A pandera ``DataFrameSchema`` from one, or from the path or text of its YAML."""
    if schema is None:
        return None
    from pandera.api.pandas.container import DataFrameSchema

    from loopml.data import schema_from_yaml

    if isinstance(schema, DataFrameSchema):
        return schema
    if isinstance(schema, str | os.PathLike):
        text = os.fspath(schema)
        if "\n" not in text and os.path.isfile(text):
            with open(text, encoding="utf-8") as f:
                text = f.read()
        elif text.endswith((".yaml", ".yml")) and "\n" not in text:
            raise InvalidInput(f"step {step!r}: no schema file at {text}")
        try:
            return schema_from_yaml(text)
        except InvalidInput as exc:
            raise InvalidInput(f"step {step!r}: its schema is not valid: {exc}") from None
    raise InvalidInput(
        f"step {step!r}: schema must be a pandera DataFrameSchema or the path or text of its "
        f"YAML, got {type(schema).__name__}"
    )


def schema_text(schema: Any) -> str:
    """The schema as YAML: part of the step's fingerprint, so editing it reruns the step."""
    from loopml.data import schema_to_yaml

    return "" if schema is None else schema_to_yaml(schema)


def _frame(value: Any, step: str) -> Any:
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    if type(value).__module__.startswith(("polars", "pyarrow")) and hasattr(value, "to_pandas"):
        return value.to_pandas()
    raise InvalidInput(
        f"step {step!r} declares a schema, so it must return a DataFrame (pandas, polars or "
        f"Arrow), not {type(value).__name__}"
    )


def check_output(step: Step, value: Any) -> None:
    """Raise :class:`InvalidInput` naming the step, columns, checks and rows when the
    output breaks the step's schema."""
    if step.schema is None:
        return
    from loopml.data import validate

    result = validate(_frame(value, step.name), step.schema)
    if result.ok:
        return
    summary = result.to_dict()
    parts = [
        f"{c['column'] or 'table'}: {c['check']} x{c['failed']} "
        f"(rows {', '.join(str(s['row']) for s in c['samples'][:3])})"
        for c in summary["checks"][:_SHOWN]
    ]
    parts += result.schema_errors[:_SHOWN]
    raise InvalidInput(
        f"step {step.name!r}: its output broke its schema "
        f"({result.num_invalid:,} of {result.num_rows:,} rows): {'; '.join(parts)}",
        details={"step": step.name, "validation": summary},
    )


def register_output(
    data: DataService, step: Step, value: Any, *, run_id: str
) -> DatasetVersion | None:
    """Register the output of a step declared with ``dataset=`` (None for the others)."""
    if step.dataset is None:
        return None
    return data.register(step.dataset, value, schema=step.schema, run_id=run_id, step=step.name)
