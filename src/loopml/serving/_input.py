"""ModelInput: a request's rows once checked, and the batch many of them make together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ModelInput"]


@dataclass(frozen=True, slots=True)
class ModelInput:
    """Rows ready for a model: named columns (in the signature's order) or one tensor.

    Attributes:
        names: the column names, or None for a tensor input.
        arrays: one 1-D array per column, or the tensor alone; each holds ``rows`` rows.
        rows: how many rows (the length of the first axis).
        block: for columns that share one numeric dtype, all of them as one 2-D array
            (then ``arrays`` is empty): one block is the cheapest DataFrame to build.
    """

    names: tuple[str, ...] | None
    arrays: tuple[np.ndarray, ...]
    rows: int
    block: np.ndarray | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        """Inputs with the same key can be stacked into one batch."""
        if self.block is not None:
            return (self.names, "block", self.block.dtype)
        return (self.names, *((a.dtype, a.shape[1:]) for a in self.arrays))

    def columns(self) -> tuple[np.ndarray, ...]:
        """One array per column (split off the block if there is one)."""
        if self.block is not None:
            return tuple(self.block[:, i] for i in range(self.block.shape[1]))
        return self.arrays

    def to_model(self) -> pd.DataFrame | np.ndarray:
        """What a model's predict takes: a DataFrame with the column names, or the tensor."""
        if self.names is None:
            return self.arrays[0]
        if self.block is not None:
            return pd.DataFrame(self.block, columns=list(self.names), copy=False)
        return pd.DataFrame(dict(zip(self.names, self.arrays, strict=True)), copy=False)

    @staticmethod
    def concat(parts: Sequence[ModelInput]) -> ModelInput:
        """One input holding the rows of ``parts`` in order (they share one :attr:`key`)."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        rows = sum(p.rows for p in parts)
        if first.block is not None:
            block = np.concatenate([p.block for p in parts if p.block is not None])
            return ModelInput(first.names, (), rows, block)
        arrays = tuple(
            np.concatenate([p.arrays[i] for p in parts]) for i in range(len(first.arrays))
        )
        return ModelInput(first.names, arrays, rows)
