"""The Forecaster's constructor arguments: their names and their checks.

The constructor only stores its arguments (scikit-learn's convention); :func:`check_params` checks
them at construction, in ``set_params`` and again at ``fit``.
"""

from __future__ import annotations

from .._validation import check_bool, check_dtype, check_float, check_int
from ..nn.losses import get_loss
from .scalers import get_scaler

__all__ = ["MODELS", "PARAMS", "check_params"]

#: the forecasting networks: the LSTM ensemble, or the ES-RNN hybrid (:mod:`.esrnn`)
MODELS = ("lstm", "esrnn")

#: the constructor's arguments, in its order (``get_params``, ``set_params``, checkpoints, sktime)
PARAMS = (
    "input_size",
    "horizon",
    "hidden_size",
    "num_layers",
    "strategy",
    "scaler",
    "transform",
    "normalize",
    "season",
    "deseasonalize",
    "epochs",
    "lr",
    "batch_size",
    "weight_decay",
    "clip_norm",
    "n_models",
    "loss",
    "dropout",
    "patience",
    "fallback",
    "conformal",
    "dtype",
    "seed",
    "progress",
    "comm",
    "model",
)


def check_params(f) -> None:
    """Check every constructor argument of the Forecaster ``f`` (its attributes named in :data:`PARAMS`)."""
    if f.input_size is not None:
        check_int(f.input_size, "input_size", minimum=1)
    if f.horizon is not None:
        check_int(f.horizon, "horizon", minimum=1)
    check_int(f.hidden_size, "hidden_size", minimum=1)
    check_int(f.num_layers, "num_layers", minimum=1)
    if f.strategy not in ("mimo", "recursive"):
        raise ValueError(f"strategy: expected 'mimo' or 'recursive', got {f.strategy!r}")
    if f.scaler is not None and not isinstance(f.scaler, str):
        raise TypeError(f"scaler: expected a name or None, got {type(f.scaler).__name__}")
    get_scaler(f.scaler)  # validates the name
    if f.transform not in ("auto", "log", None):
        raise ValueError(f"transform: expected 'auto', 'log' or None, got {f.transform!r}")
    if f.normalize not in ("window", "last", None):
        raise ValueError(f"normalize: expected 'window', 'last' or None, got {f.normalize!r}")
    if not (isinstance(f.season, str) and f.season == "auto"):
        if isinstance(f.season, str):
            raise ValueError(f"season: expected 'auto' or an int >= 1, got {f.season!r}")
        check_int(f.season, "season", minimum=1)
    if f.deseasonalize not in ("auto", True, False):
        raise ValueError(f"deseasonalize: expected 'auto', True or False, got {f.deseasonalize!r}")
    if f.epochs is not None:
        check_int(f.epochs, "epochs", minimum=1)
    check_float(f.lr, "lr", minimum=0.0, min_inclusive=False)
    if f.batch_size is not None:
        check_int(f.batch_size, "batch_size", minimum=1)
    check_float(f.weight_decay, "weight_decay", minimum=0.0)
    if f.clip_norm is not None:
        check_float(f.clip_norm, "clip_norm", minimum=0.0, min_inclusive=False)
    check_int(f.n_models, "n_models", minimum=1)
    get_loss(f.loss)
    check_float(f.dropout, "dropout", minimum=0.0, maximum=1.0, max_inclusive=False)
    if f.patience is not None:
        check_int(f.patience, "patience", minimum=0)
    check_bool(f.fallback, "fallback")
    check_bool(f.conformal, "conformal")
    check_dtype(f.dtype)
    if f.seed is not None:
        check_int(f.seed, "seed", minimum=0)
    check_bool(f.progress, "progress")
    if f.model not in MODELS:
        raise ValueError(f"model: expected one of {MODELS}, got {f.model!r}")
    if f.model == "esrnn" and f.strategy != "mimo":
        raise ValueError(
            f"strategy: model='esrnn' expected 'mimo' (one block of outputs), got {f.strategy!r}"
        )
