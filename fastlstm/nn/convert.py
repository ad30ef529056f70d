"""Weights of :class:`~fastlstm.nn.LSTM` to and from ``torch.nn.LSTM`` and Keras.

The bodies of ``LSTM.from_torch``, ``to_torch``, ``to_keras`` and ``from_keras`` (the
methods delegate here). PyTorch's layout is the layer's own, so its converters copy the
state dict; Keras transposes the weights and keeps one bias.
"""

from __future__ import annotations

import numpy as np

from .._optional import import_optional

__all__ = ["from_keras", "from_torch", "to_keras", "to_torch"]


def _import_torch(feature: str):
    return import_optional("torch", feature, extra="torch")


def from_torch(cls, module, seed: int | None = None):
    """An instance of ``cls`` (the LSTM class) with the configuration and weights of ``module``."""
    torch = _import_torch("LSTM.from_torch")
    if not isinstance(module, torch.nn.LSTM):
        raise TypeError(f"module: expected a torch.nn.LSTM, got {type(module).__name__}")
    dtype = {torch.float32: np.float32, torch.float64: np.float64}.get(module.weight_ih_l0.dtype)
    if dtype is None:
        raise TypeError(f"module: expected float32 or float64 weights, got {module.weight_ih_l0.dtype}")
    layer = cls(
        module.input_size,
        module.hidden_size,
        num_layers=module.num_layers,
        bias=module.bias,
        batch_first=module.batch_first,
        dropout=float(module.dropout),
        bidirectional=module.bidirectional,
        dtype=dtype,
        seed=seed,
        proj_size=int(getattr(module, "proj_size", 0)),
    )
    state = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    layer.load_state_dict(state)
    return layer


def to_torch(layer):
    """A ``torch.nn.LSTM`` with the configuration of ``layer`` and a copy of its weights."""
    torch = _import_torch("LSTM.to_torch")
    module = torch.nn.LSTM(
        layer.input_size,
        layer.hidden_size,
        num_layers=layer.num_layers,
        bias=layer.bias,
        batch_first=layer.batch_first,
        dropout=layer.dropout,
        bidirectional=layer.bidirectional,
        proj_size=layer.proj_size,
        dtype=torch.float32 if layer.dtype == np.float32 else torch.float64,
    )
    module.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    return module


def to_keras(layer) -> list[list[np.ndarray]]:
    """Keras weight arrays of ``layer``, one ``[kernel, recurrent_kernel, bias]`` per layer and direction."""
    if layer.proj_size:
        raise ValueError(f"proj_size: Keras' LSTM has no projections (got proj_size={layer.proj_size})")
    out = []
    for k in range(layer.num_layers):
        for d in range(layer.num_directions):
            w_ih, w_hh, b_ih, b_hh = layer._weights(k, d)
            out.append([w_ih.T.copy(), w_hh.T.copy(), b_ih + b_hh])
    return out


def from_keras(
    cls,
    weights,
    input_size: int | None = None,
    hidden_size: int | None = None,
    num_layers: int | None = None,
    bidirectional: bool = False,
    **kwargs,
):
    """An instance of ``cls`` (the LSTM class) from Keras weight arrays (see ``LSTM.from_keras``)."""
    if not isinstance(weights, (list, tuple)) or not weights:
        raise TypeError("weights: expected a non-empty list of [kernel, recurrent_kernel, bias] lists")
    D = 2 if bidirectional else 1
    if len(weights) % D:
        raise ValueError(
            f"weights: expected an even number of entries when bidirectional, got {len(weights)}"
        )
    for n, entry in enumerate(weights):
        if not isinstance(entry, (list, tuple)) or len(entry) != 3:
            raise ValueError(f"weights[{n}]: expected [kernel, recurrent_kernel, bias], got {entry!r:.80}")
    kernel0 = np.asarray(weights[0][0])
    rec0 = np.asarray(weights[0][1])
    if rec0.ndim != 2 or rec0.shape[1] != 4 * rec0.shape[0]:
        raise ValueError(f"weights[0]: expected recurrent_kernel of shape (H, 4*H), got {rec0.shape}")
    inferred = {
        "input_size": kernel0.shape[0],
        "hidden_size": rec0.shape[0],
        "num_layers": len(weights) // D,
    }
    given = {"input_size": input_size, "hidden_size": hidden_size, "num_layers": num_layers}
    for key, value in given.items():
        if value is not None and value != inferred[key]:
            raise ValueError(f"weights: imply {key}={inferred[key]}, but {key}={value} was given")
    kwargs.setdefault("dtype", kernel0.dtype if kernel0.dtype.kind == "f" else np.float32)
    layer = cls(**inferred, bidirectional=bidirectional, **kwargs)
    state = {}
    for n, (kernel, rec, bias) in enumerate(weights):
        sfx = cls._suffix(n // D, n % D)
        state[f"weight_ih{sfx}"] = np.asarray(kernel).T
        state[f"weight_hh{sfx}"] = np.asarray(rec).T
        state[f"bias_ih{sfx}"] = np.asarray(bias)
        state[f"bias_hh{sfx}"] = np.zeros_like(np.asarray(bias))
    expected = {name: p.shape for name, p in layer.named_parameters()}
    for name, value in state.items():
        if value.shape != expected[name]:
            raise ValueError(
                f"weights: entry for {name} implies shape {value.shape}, expected {expected[name]}"
            )
    layer.load_state_dict(state)
    return layer
