"""Datasets: versioned by content, profiled, validated (issue 4; being built)."""

__all__: list[str] = []
