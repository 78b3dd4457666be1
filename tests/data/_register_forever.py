"""Registers ever-new versions of a dataset until killed (argv: LOOPML_HOME is set)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import loopml

i = 0
while True:
    rows = 20_000 + i
    frame = pd.DataFrame({"x": np.arange(rows, dtype=float), "y": np.arange(rows) % 7})
    version = loopml.data.register("stream", frame)
    print(version.version, version.num_rows, flush=True)
    i += 1
