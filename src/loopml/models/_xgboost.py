"""The xgboost flavor: scikit-learn wrappers and Boosters, in xgboost's own UBJSON format."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInput
from loopml.models._optional import defined_in, import_optional

__all__ = ["SERIALIZATION", "BoosterPredictor", "is_xgboost", "load", "predictor", "save"]

SERIALIZATION = "xgboost-ubj"
_WEIGHTS = "model.ubj"
_BOOSTER = "Booster"
# The wrapper classes loopml rebuilds by name. The name is read from the manifest, i.e.
# from whoever made the model, so only these are ever looked up on the xgboost module.
_WRAPPERS = frozenset(
    {"XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor", "XGBRanker"}
)


def is_xgboost(model: Any) -> bool:
    """True for xgboost's scikit-learn wrappers and Boosters (xgboost is imported only if
    the model's class comes from it)."""
    if not defined_in(model, "xgboost"):
        return False
    import xgboost

    return isinstance(model, xgboost.XGBModel | xgboost.Booster)


class BoosterPredictor:
    """``predict`` for a raw ``xgboost.Booster``: its output as is (probabilities for
    ``binary:logistic`` / ``multi:softprob``, raw margins for custom objectives...)."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, data: Any) -> Any:
        # inplace_predict takes DataFrames and arrays directly (no DMatrix copy) and checks
        # the feature names the booster was trained with.
        return self.booster.inplace_predict(data)


def predictor(model: Any) -> Any:
    """What answers ``predict`` for an in-memory xgboost model (to infer its signature)."""
    import xgboost

    return BoosterPredictor(model) if isinstance(model, xgboost.Booster) else model


def save(model: Any, directory: Path) -> tuple[Path, dict[str, Any]]:
    """Write ``model`` as ``model.ubj``; returns the file and the flavor options.

    The scikit-learn wrappers keep their attributes (classes, objective, best iteration)
    inside the UBJSON file, so the options only name the class to rebuild.

    Raises:
        InvalidInput: a subclass loopml cannot rebuild, or an unfitted model.
    """
    import xgboost

    file = directory / _WEIGHTS
    if isinstance(model, xgboost.Booster):
        model.save_model(file)
        return file, {"model_class": _BOOSTER}
    name = type(model).__name__
    if name not in _WRAPPERS or not type(model).__module__.startswith("xgboost"):
        raise InvalidInput(
            f"{name} is not one of xgboost's own model classes ({', '.join(sorted(_WRAPPERS))}), "
            f"so loading it back as one would lose what it changes; save it with "
            f"flavor='pyfunc', allow_pickle=True, or save model.get_booster()"
        )
    try:
        model.get_booster()
    except Exception as exc:  # sklearn's NotFittedError, xgboost's own errors
        raise InvalidInput(f"this {name} cannot be saved: {exc}; fit it first") from exc
    model.save_model(file)
    return file, {"model_class": name}


def load(data: bytes, options: Mapping[str, Any]) -> tuple[Any, Any]:
    """Rebuild the model from its (already hash-checked) bytes.

    Returns:
        ``(predictor, raw)``: what answers predict / predict_proba, and xgboost's object.

    Raises:
        InvalidInput: xgboost is not installed, or the manifest names another class.
    """
    xgboost = import_optional("xgboost", extra="xgboost", purpose="loading an xgboost model")
    name = str(options.get("model_class", ""))
    if name not in _WRAPPERS | {_BOOSTER}:
        raise InvalidInput(
            f"the manifest's xgboost model_class {name!r} is not one loopml loads "
            f"({', '.join(sorted(_WRAPPERS | {_BOOSTER}))})",
            details={"model_class": name},
        )
    model = xgboost.Booster() if name == _BOOSTER else getattr(xgboost, name)()
    try:
        model.load_model(bytearray(data))
    except xgboost.core.XGBoostError as exc:
        raise InvalidInput(f"the xgboost model file cannot be read: {exc}") from exc
    return (BoosterPredictor(model), model) if name == _BOOSTER else (model, model)
