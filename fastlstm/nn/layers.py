"""A dense layer and an LSTM regressor built from :class:`fastlstm.nn.lstm.LSTM`.

Both follow the layer protocol of the package: ``forward`` computes and (in
training mode) remembers what ``backward`` needs; ``backward`` takes the
gradient of the loss with respect to the output, accumulates parameter
gradients into ``p.grad`` and returns the gradient with respect to the input.
"""

from __future__ import annotations

import numpy as np

from .._validation import (
    as_float_array,
    check_bool,
    check_dtype,
    check_finite,
    check_float,
    check_int,
    check_seed,
)
from .module import Module, read_config

__all__ = ["LSTMRegressor", "Linear", "derive_seeds"]


def derive_seeds(seed, n: int) -> list[int]:
    """``n`` independent integer seeds from one seed (``None``: fresh entropy).

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or None
    n : int

    Returns
    -------
    list of int
    """
    if seed is not None and not isinstance(seed, np.random.SeedSequence):
        seed = check_int(seed, "seed", minimum=0)
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [int(s) for s in ss.generate_state(n, dtype=np.uint32)]


class Linear(Module):
    """``y = x W^T + b`` over the last axis.

    Initialised as ``torch.nn.Linear``: ``W`` and ``b`` uniform in
    ``[-1/sqrt(in_features), 1/sqrt(in_features)]``.

    Parameters
    ----------
    in_features : int
        Size of the last input axis.
    out_features : int
        Size of the last output axis.
    bias : bool
        Learn ``b``.
    dtype : numpy dtype
        float32 or float64.
    seed : int or None
        Seed of the initialisation.

    Attributes
    ----------
    weight : Parameter, shape (out_features, in_features)
    bias : Parameter, shape (out_features,), or None

    Notes
    -----
    ``backward`` uses the input of the most recent ``forward`` call made in
    training mode (one cache, not a stack).

    ==========  ===========================
    argument    shape
    ==========  ===========================
    ``x``       ``(..., in_features)``
    output      ``(..., out_features)``
    ==========  ===========================
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype=np.float32,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features", minimum=1)
        self.out_features = check_int(out_features, "out_features", minimum=1)
        self.dtype = check_dtype(dtype)
        check_bool(bias, "bias")
        rng = np.random.default_rng(check_seed(seed))
        bound = 1.0 / np.sqrt(self.in_features)
        w = rng.uniform(-bound, bound, (self.out_features, self.in_features))
        self.weight = self._register("weight", w.astype(self.dtype))
        self.bias = None
        if bias:
            self.bias = self._register(
                "bias", rng.uniform(-bound, bound, self.out_features).astype(self.dtype)
            )
        self._x: np.ndarray | None = None

    def forward(self, x) -> np.ndarray:
        """Apply the layer.

        Parameters
        ----------
        x : numpy.ndarray, shape (..., in_features)
            Same dtype as the layer.

        Returns
        -------
        numpy.ndarray, shape (..., out_features)

        Raises
        ------
        TypeError, ValueError
            ``x`` of another dtype or shape; NaN or Inf in ``x`` or in the
            parameters (as :class:`~fastlstm.nn.lstm.LSTM` does).
        """
        x = as_float_array(x, "x", dtype=self.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"x: expected shape (..., {self.in_features}), got {x.shape}")
        check_finite(self.weight.data, "weight")
        if self.bias is not None:
            check_finite(self.bias.data, "bias")
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        self._x = x if self.training else None
        return y

    __call__ = forward

    def backward(self, d_y) -> np.ndarray:
        """Accumulate ``weight.grad`` and ``bias.grad``; return ``dL/dx``.

        Parameters
        ----------
        d_y : numpy.ndarray, shape (..., out_features)
            Gradient with respect to the last output.

        Returns
        -------
        numpy.ndarray, shape (..., in_features)
        """
        if self._x is None:
            raise RuntimeError("Linear.backward: no forward pass in training mode to differentiate")
        d_y = as_float_array(d_y, "d_y", dtype=self.dtype)
        expected = self._x.shape[:-1] + (self.out_features,)
        if d_y.shape != expected:
            raise ValueError(f"d_y: expected shape {expected}, got {d_y.shape}")
        x2 = self._x.reshape(-1, self.in_features)
        g2 = d_y.reshape(-1, self.out_features)
        self.weight.grad += g2.T @ x2
        if self.bias is not None:
            self.bias.grad += g2.sum(axis=0)
        return d_y @ self.weight.data

    def get_config(self) -> dict:
        """Constructor arguments (JSON-able)."""
        return read_config(self, ("in_features", "out_features", "bias", "dtype"), bias=self.bias is not None)

    def __repr__(self) -> str:
        return (
            f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, dtype={self.dtype.name})"
        )


class LSTMRegressor(Module):
    """An LSTM followed by a linear head.

    Parameters
    ----------
    input_size : int
        Features per time step.
    output_size : int
        Outputs of the head (e.g. the forecast horizon for direct multi-step).
    hidden_size : int
        LSTM hidden units.
    num_layers : int
        Stacked LSTM layers.
    dropout : float
        Dropout between LSTM layers (training only).
    bidirectional : bool
        Bidirectional LSTM.
    head : {"last", "all"}
        ``"last"``: the head reads the final hidden state of the top layer
        (both directions' final states when bidirectional); ``"all"``: the head
        is applied at every time step.
    batch_first : bool
        ``x`` is ``(B, T, I)`` (default, like the windows of
        :mod:`fastlstm.forecast.windows`) instead of ``(T, B, I)``.
    dtype : numpy dtype
        float32 or float64.
    seed : int or None
        One seed for the whole model (the LSTM's and the head's are derived from it).

    Notes
    -----
    =================  ===================  ======================================
    argument           head="last"          head="all"
    =================  ===================  ======================================
    ``x``              ``(B, T, I)``        ``(B, T, I)``
    output             ``(B, O)``           ``(B, T, O)``
    =================  ===================  ======================================

    (time first instead when ``batch_first=False``). ``forward`` with
    ``return_state=True`` also returns ``(h_n, c_n)`` so that truncated BPTT can
    carry the state into the next chunk.
    """

    _config_names = (
        "input_size",
        "output_size",
        "hidden_size",
        "num_layers",
        "dropout",
        "bidirectional",
        "head",
        "batch_first",
        "dtype",
    )

    def __init__(
        self,
        input_size: int,
        output_size: int,
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
        head: str = "last",
        batch_first: bool = True,
        dtype=np.float32,
        seed: int | None = None,
    ) -> None:
        from .lstm import LSTM

        super().__init__()
        if head not in ("last", "all"):
            raise ValueError(f"head: expected 'last' or 'all', got {head!r}")
        self.input_size = check_int(input_size, "input_size", minimum=1)
        self.output_size = check_int(output_size, "output_size", minimum=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        self.num_layers = check_int(num_layers, "num_layers", minimum=1)
        self.dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, max_inclusive=False)
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self.head_mode = head
        self.batch_first = check_bool(batch_first, "batch_first")
        self.dtype = check_dtype(dtype)
        self.seed = check_seed(seed)
        s_lstm, s_head = derive_seeds(seed, 2)
        D = 2 if self.bidirectional else 1
        self.lstm = self._register_module(
            "lstm",
            LSTM(
                self.input_size,
                self.hidden_size,
                num_layers=self.num_layers,
                bias=True,
                batch_first=self.batch_first,
                dropout=self.dropout,
                bidirectional=self.bidirectional,
                dtype=self.dtype,
                seed=s_lstm,
            ),
        )
        self.head = self._register_module(
            "head", Linear(D * self.hidden_size, self.output_size, dtype=self.dtype, seed=s_head)
        )
        self._out_shape: tuple[int, ...] | None = None

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def forward(self, x, state=None, lengths=None, return_state: bool = False):
        """Run the LSTM and the head.

        Parameters
        ----------
        x : numpy.ndarray
            ``(B, T, I)`` (``(T, B, I)`` if not ``batch_first``), the model's dtype.
        state : tuple of numpy.ndarray, optional
            ``(h_0, c_0)``, each ``(num_layers * D, B, hidden_size)``.
        lengths : array_like of int, optional
            Valid steps per sequence (passed to the LSTM).
        return_state : bool
            Also return ``(h_n, c_n)``.

        Returns
        -------
        y : numpy.ndarray
            ``(B, O)`` for ``head="last"``, ``(B, T, O)`` (or ``(T, B, O)``) for ``head="all"``.
        state : tuple of numpy.ndarray
            ``(h_n, c_n)``; only when ``return_state``.
        """
        out, (h_n, c_n) = self.lstm.forward(x, state=state, lengths=lengths)
        D = self.num_directions
        self._out_shape = out.shape
        if self.head_mode == "last":
            feat = h_n[-D:]
            feat = feat[0] if D == 1 else np.concatenate([feat[0], feat[1]], axis=-1)
            y = self.head.forward(np.ascontiguousarray(feat))
        else:
            y = self.head.forward(out)
        return (y, (h_n, c_n)) if return_state else y

    __call__ = forward

    def backward(self, d_y) -> np.ndarray:
        """Back-propagate ``dL/dy`` through the head and the LSTM (BPTT).

        Parameters
        ----------
        d_y : numpy.ndarray
            Gradient with respect to the last ``forward`` output.

        Returns
        -------
        numpy.ndarray
            ``dL/dx``, same shape as ``x``.

        Raises
        ------
        ValueError
            ``d_y`` of the wrong shape, or holding NaN or Inf.
        FloatingPointError
            The gradient overflowed inside the model (at the head's input), so
            the parameter gradients would not be finite; nothing was accumulated
            into the LSTM's (the trainer treats this as a non-finite gradient).
        """
        if self._out_shape is None:
            raise RuntimeError("LSTMRegressor.backward: call forward in training mode first")
        with np.errstate(over="ignore", invalid="ignore"):
            d_feat = self.head.backward(d_y)
        if not np.isfinite(d_feat).all():
            raise FloatingPointError("LSTMRegressor.backward: the gradient at the head's input is not finite")
        H, D = self.hidden_size, self.num_directions
        if self.head_mode == "last":
            B = d_feat.shape[0]
            d_h_n = np.zeros((self.num_layers * D, B, H), dtype=self.dtype)
            for k in range(D):
                d_h_n[self.num_layers * D - D + k] = d_feat[:, k * H : (k + 1) * H]
            d_x, _ = self.lstm.backward(None, d_h_n, None)
        else:
            d_x, _ = self.lstm.backward(d_feat)
        return d_x

    def get_config(self) -> dict:
        """Constructor arguments (JSON-able), for :meth:`from_config` and checkpoints."""
        return read_config(self, self._config_names, head=self.head_mode)  # self.head is the Linear

    @classmethod
    def from_config(cls, config: dict, seed: int | None = None) -> LSTMRegressor:
        """Build an (untrained) model from :meth:`get_config` output.

        Parameters
        ----------
        config : dict
            :meth:`get_config`'s output.
        seed : int or None
            Seeds the new weights (a checkpoint's load then overwrites them).

        Returns
        -------
        LSTMRegressor
        """
        return cls(**config, seed=seed)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"LSTMRegressor({args})"
