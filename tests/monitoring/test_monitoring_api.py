"""The public surface of loopml.monitoring is pinned: a change to it is a decision."""

from __future__ import annotations

import loopml.monitoring


def test_public_names_are_pinned() -> None:
    assert sorted(loopml.monitoring.__all__) == ["Chart", "DriftReport", "FeatureDrift",
                                                 "detect_drift"]  # fmt: skip
    for name in loopml.monitoring.__all__:
        assert getattr(loopml.monitoring, name).__doc__
