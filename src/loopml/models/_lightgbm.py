"""The LightGBM flavor: scikit-learn wrappers and Boosters, in LightGBM's text model format."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.models._optional import defined_in, import_optional

__all__ = [
    "SERIALIZATION",
    "BoosterPredictor",
    "ClassifierPredictor",
    "is_lightgbm",
    "load",
    "predictor",
    "save",
]

SERIALIZATION = "lightgbm-text"
_WEIGHTS = "model.txt"
_BOOSTER = "Booster"
_CLASSIFIER = "LGBMClassifier"
# The wrappers loopml saves. The text format holds only the booster, so a wrapper is
# rebuilt by loopml's adapters below from what the manifest records (classes, objective).
_WRAPPERS = frozenset({_CLASSIFIER, "LGBMRegressor", "LGBMRanker"})


def is_lightgbm(model: Any) -> bool:
    """True for LightGBM's scikit-learn wrappers and Boosters (lightgbm is imported only
    if the model's class comes from it)."""
    if not defined_in(model, "lightgbm"):
        return False
    import lightgbm

    return isinstance(model, lightgbm.LGBMModel | lightgbm.Booster)


class BoosterPredictor:
    """``predict`` for a Booster, a regressor or a ranker: the booster's output."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, data: Any) -> Any:
        return self.booster.predict(data)


class ClassifierPredictor:
    """What ``LGBMClassifier`` answers, rebuilt from its booster and classes."""

    def __init__(self, booster: Any, classes: np.ndarray) -> None:
        self.booster = booster
        self.classes_ = classes  # named as scikit-learn names it

    def predict_proba(self, data: Any) -> np.ndarray:
        """One column per class, also for binary models (whose booster gives only P(1))."""
        proba = np.asarray(self.booster.predict(data))
        return np.column_stack([1.0 - proba, proba]) if proba.ndim == 1 else proba

    def predict(self, data: Any) -> np.ndarray:
        # As LGBMClassifier: the most probable class; a tie goes to the first class.
        return self.classes_[np.argmax(self.predict_proba(data), axis=1)]


def predictor(model: Any) -> Any:
    """What answers ``predict`` for an in-memory LightGBM model (to infer its signature)."""
    import lightgbm

    return BoosterPredictor(model) if isinstance(model, lightgbm.Booster) else model


def save(model: Any, directory: Path) -> tuple[Path, dict[str, Any]]:
    """Write the booster as ``model.txt``; returns the file and the flavor options.

    Raises:
        InvalidInput: a subclass or custom objective loopml cannot rebuild, classes that
            are not plain values, or an unfitted model.
    """
    import lightgbm

    if isinstance(model, lightgbm.Booster):
        text, options = model.model_to_string(), {"model_class": _BOOSTER}
    else:
        text, options = _wrapper(model)
    file = directory / _WEIGHTS
    file.write_text(text, encoding="utf-8")
    return file, options


def _wrapper(model: Any) -> tuple[str, dict[str, Any]]:
    name = type(model).__name__
    if name not in _WRAPPERS or not type(model).__module__.startswith("lightgbm"):
        raise InvalidInput(
            f"{name} is not one of LightGBM's own model classes "
            f"({', '.join(sorted(_WRAPPERS))}), so loading it back as one would lose what "
            f"it changes; save it with flavor='pyfunc', allow_pickle=True, or save "
            f"model.booster_"
        )
    try:
        booster = model.booster_
    except Exception as exc:  # LightGBM's NotFittedError
        raise InvalidInput(f"this {name} cannot be saved: {exc}; fit it first") from exc
    objective = model.objective_
    if callable(objective):
        # The booster then outputs raw scores and the wrapper's predict depends on Python
        # code that a text file cannot hold.
        raise InvalidInput(
            f"this {name} has a custom objective function, which LightGBM's text format "
            f"cannot hold; save model.booster_ (raw scores) or use flavor='pyfunc'"
        )
    options: dict[str, Any] = {"model_class": name, "objective": str(objective)}
    if name == _CLASSIFIER:
        classes = np.asarray(model.classes_)
        values = classes.tolist()
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise InvalidInput(
                f"this {name}'s classes must be strings, numbers or booleans to be stored "
                f"in the manifest; got {sorted({type(v).__name__ for v in values})}"
            )
        options |= {"classes": values, "classes_dtype": str(classes.dtype)}
    # num_iteration=None: the best iteration when early stopping found one, as the
    # wrapper's own predict uses.
    return booster.model_to_string(), options


def load(data: bytes, options: Mapping[str, Any]) -> tuple[Any, Any]:
    """Rebuild the model from its (already hash-checked) bytes.

    Returns:
        ``(predictor, raw)``: what answers predict / predict_proba, and the Booster.

    Raises:
        InvalidInput: lightgbm is not installed, or the manifest is inconsistent.
    """
    lightgbm = import_optional("lightgbm", extra="lightgbm", purpose="loading a LightGBM model")
    name = str(options.get("model_class", ""))
    if name not in _WRAPPERS | {_BOOSTER}:
        raise InvalidInput(
            f"the manifest's LightGBM model_class {name!r} is not one loopml loads "
            f"({', '.join(sorted(_WRAPPERS | {_BOOSTER}))})",
            details={"model_class": name},
        )
    try:
        booster = lightgbm.Booster(model_str=data.decode("utf-8"))
    except (UnicodeDecodeError, lightgbm.basic.LightGBMError) as exc:
        raise InvalidInput(f"the LightGBM model file cannot be read: {exc}") from exc
    if name != _CLASSIFIER:
        return BoosterPredictor(booster), booster
    classes = options.get("classes")
    if not isinstance(classes, list) or not classes:
        raise InvalidInput("the manifest of this LGBMClassifier does not list its classes")
    dtype = options.get("classes_dtype")
    try:
        labels = np.asarray(classes, dtype=np.dtype(str(dtype)) if dtype else None)
    except TypeError as exc:
        raise InvalidInput(f"the manifest's classes_dtype {dtype!r} is not a dtype") from exc
    return ClassifierPredictor(booster, labels), booster
