"""``seed_everything``: one call that seeds every random number generator a run uses."""

from __future__ import annotations

import os
import random
import sys

__all__ = ["current_seed", "seed_everything"]

_seed: int | None = None


def seed_everything(seed: int) -> int:
    """Seed Python's ``random``, NumPy, and PyTorch/TensorFlow if they are imported.

    The seed is recorded on every run started afterwards (tag ``loopml.seed``) and on the
    active run, if any; ``PYTHONHASHSEED`` is set for child processes.

    Returns:
        the seed, so that ``seed = loopml.seed_everything(42)`` reads naturally.
    """
    global _seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        from loopml.errors import InvalidInput

        raise InvalidInput(f"seed must be an integer from 0 to 2**32-1, got {seed!r}")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import numpy as np

    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
    _seed = seed
    from loopml.client._fluent import _on_seed

    _on_seed(seed)
    return seed


def current_seed() -> int | None:
    """The seed last given to :func:`seed_everything` in this process, if any."""
    return _seed
