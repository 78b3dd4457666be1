"""Writing and reading weights: skops with loopml's own allowlist, cloudpickle only on opt-in."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInput
from loopml.models._manifest import verify_sha256

__all__ = [
    "TRUSTED_SKOPS_TYPES",
    "dump_cloudpickle",
    "dump_skops",
    "is_sklearn",
    "load_cloudpickle",
    "load_skops",
    "untrusted_skops_types",
]

# Types that skops does not trust by default but that plain scikit-learn estimators need
# (trees, KD-trees, distance metrics, optimizer state). Only loopml's code decides this
# list (and a caller may extend it per call): a list read from the model's own directory,
# as MLflow's ``skops_trusted_types``, would let a model whitelist itself.
TRUSTED_SKOPS_TYPES: frozenset[str] = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    }
)

PICKLE_OPT_IN = (
    "pickle runs arbitrary code when loaded; pass allow_pickle=True only for a model you trust"
)


def is_sklearn(model: Any) -> bool:
    """True for scikit-learn estimators (pipelines included)."""
    from sklearn.base import BaseEstimator

    return isinstance(model, BaseEstimator)


def untrusted_skops_types(data: bytes, extra_trusted: Iterable[str] = ()) -> list[str]:
    """The types in skops ``data`` that neither skops nor loopml trust, sorted."""
    import skops.io as sio

    allowed = TRUSTED_SKOPS_TYPES | set(extra_trusted)
    return sorted(t for t in sio.get_untrusted_types(data=data) if t not in allowed)


def dump_skops(model: Any, path: Path) -> None:
    """Write ``model`` with skops."""
    import skops.io as sio

    sio.dump(model, path)


def load_skops(path: Path, *, sha256: str | None, extra_trusted: Iterable[str] = ()) -> Any:
    """Load a skops file after checking its hash (if recorded) and its types.

    Raises:
        ArtifactCorrupted: the file does not match ``sha256``.
        InvalidInput: the file holds types outside skops' and loopml's allowlists.
    """
    import skops.io as sio

    data = path.read_bytes()  # one read: the bytes checked are the bytes loaded
    if sha256 is not None:
        verify_sha256(path.name, data, sha256)
    from skops.io.exceptions import UntrustedTypesFoundException

    extra = list(extra_trusted)
    trusted = sorted(TRUSTED_SKOPS_TYPES | set(extra))
    try:
        # skops audits every type of the file against ``trusted`` before it builds a single
        # object, so no separate pre-check is needed (it would parse the file twice: ~40%
        # of a forest's load time); the types are listed only to explain a refusal.
        return sio.loads(data, trusted=trusted)
    except UntrustedTypesFoundException:
        bad = untrusted_skops_types(data, extra)
        raise InvalidInput(
            f"refusing to load {path.name}: it holds types that loopml does not trust: "
            f"{', '.join(bad)}. Pass trusted_types=[...] naming them if you trust this model.",
            details={"file": path.name, "untrusted_types": bad},
        ) from None


def dump_cloudpickle(model: Any, path: Path) -> None:
    """Write ``model`` with cloudpickle (classes defined in ``__main__`` included)."""
    import cloudpickle

    with path.open("wb") as fh:
        cloudpickle.dump(model, fh)


def load_cloudpickle(path: Path, *, sha256: str | None, allow_pickle: bool) -> Any:
    """Unpickle ``path``, only with ``allow_pickle`` and, if recorded, a matching sha256.

    Raises:
        InvalidInput: ``allow_pickle`` is False.
        ArtifactCorrupted: the file does not match ``sha256``.
    """
    if not allow_pickle:
        raise InvalidInput(
            f"refusing to load {path.name}: the model is a pickle and {PICKLE_OPT_IN}",
            details={"file": path.name},
        )
    data = path.read_bytes()  # one read: the bytes checked are the bytes unpickled
    if sha256 is not None:
        verify_sha256(path.name, data, sha256)  # before a single byte is unpickled
    import cloudpickle

    return cloudpickle.loads(data)
