"""The LSTM layer: PyTorch's API and parameter layout, exact BPTT on fastlstm's kernels."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._validation import as_float_array, check_dtype, check_float, check_int, check_shape
from ..kernels import api
from . import convert
from .module import Module

__all__ = ["LSTM"]


class _Tape(NamedTuple):
    """One forward pass's saved state: everything ``backward`` needs."""

    stack: api.StackTape  # the kernels' tape of the whole stack
    batch_first: bool
    unbatched: bool
    shape: tuple  # shape of the output as returned to the caller


def _check_finite_grad(arr: np.ndarray, name: str) -> None:
    """Reject a non-finite upstream gradient before backward changes anything (the
    tape and every .grad stay as they were). ``arr`` is C-contiguous: one cheap pass."""
    if api.nonfinite(arr):
        raise ValueError(f"{name}: expected finite values, got NaN or Inf")


class LSTM(Module):
    r"""Multi-layer LSTM with exact backpropagation through time.

    A drop-in for ``torch.nn.LSTM`` on NumPy arrays: the same arguments, gate
    order (i, f, g, o), parameter names and shapes, initialisation and outputs,
    with a :meth:`backward` that returns input gradients and accumulates
    parameter gradients.

    Parameters
    ----------
    input_size : int
        Features per time step, ``I``.
    hidden_size : int
        Hidden units, ``H``.
    num_layers : int
        Stacked layers, ``L``.
    bias : bool
        Use ``bias_ih`` and ``bias_hh``.
    batch_first : bool
        Inputs and outputs are ``[B, T, *]`` instead of ``[T, B, *]``.
    dropout : float
        Dropout probability on the outputs of every layer but the last
        (training mode only), as in PyTorch.
    bidirectional : bool
        Add a reverse direction, ``D = 2``.
    dtype : float32 or float64
    seed : int, optional
        Seeds the initialisation and the dropout masks.
    proj_size : int
        ``P``: 0 (default) for none; ``0 < P < H`` projects every layer's hidden state
        to ``P`` features, ``h_t = (o_t * tanh c_t) W_hr^T`` ((F7) of docs/derivation.md),
        as ``torch.nn.LSTM(proj_size=P)``: one more parameter ``weight_hr_l{k}`` ``[P, H]``
        per layer and direction, ``weight_hh_l{k}`` ``[4H, P]``, layer ``k >= 1`` reading
        ``D*P`` features, ``output`` ``[T, B, D*P]``, ``h0``/``h_n`` ``[L*D, B, P]`` (``c0``,
        ``c_n`` stay ``[L*D, B, H]``). Lengths, both directions, dropout and chunks work as
        without, and so do :meth:`stepper` and ``backward(per_timestep=True)`` (which adds
        ``weight_hr``'s per-step terms); :meth:`to_keras` refuses it. Such layers run the
        register-blocked, multi-threaded kernels of ``fastlstm/kernels/projection.py``.

    Notes
    -----
    Shapes:

    ===========  ==========================  =================================
    argument     shape                       meaning
    ===========  ==========================  =================================
    x            ``[T, B, I]``               (``[B, T, I]`` with batch_first,
                                             ``[T, I]`` unbatched)
    h0, c0       ``[L*D, B, H]``             initial states (zero if omitted)
    lengths      ``[B]`` int                 each sequence's length
    output       ``[T, B, D*H]``             last layer's h_t, both directions
    h_n, c_n     ``[L*D, B, H]``             final states of every layer
    ===========  ==========================  =================================

    Parameters are named as in PyTorch: ``weight_ih_l{k}`` ``[4H, I_k]``,
    ``weight_hh_l{k}`` ``[4H, H]``, ``bias_ih_l{k}``, ``bias_hh_l{k}``
    ``[4H]`` (and ``weight_hr_l{k}`` ``[P, H]`` with ``proj_size``; then ``output``, ``h0``
    and ``h_n`` are ``P`` wide where the table says ``H``), with a ``_reverse`` suffix for the
    reverse direction; each is a
    :class:`~fastlstm.nn.module.Parameter` with ``.data`` and ``.grad``.

    In training mode every :meth:`forward` records what :meth:`backward`
    needs on a tape and every :meth:`backward` consumes the newest record, so a
    sequence run in chunks (passing the state along) and then back-propagated
    chunk by chunk in reverse order gives exactly the gradients of one full
    run. A forward with ``state=None`` starts a new sequence and clears the
    tape; in eval mode nothing is recorded.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype=np.float32,
        seed: int | None = None,
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        self.input_size = check_int(input_size, "input_size", minimum=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        self.num_layers = check_int(num_layers, "num_layers", minimum=1)
        for name, flag in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name}: expected a bool, got {type(flag).__name__} {flag!r}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, max_inclusive=False)
        self.dtype = check_dtype(dtype)
        self.proj_size = check_int(proj_size, "proj_size", minimum=0)
        if self.proj_size >= self.hidden_size:
            raise ValueError(
                f"proj_size: expected a value below hidden_size ({self.hidden_size}), got {self.proj_size}"
            )
        if seed is not None:
            seed = check_int(seed, "seed", minimum=0)
        self.seed = seed
        init_seq, drop_seq = np.random.SeedSequence(seed).spawn(2)
        self._dropout_rng = np.random.default_rng(drop_seq)
        self._tape: list[_Tape] = []
        #: filled by ``backward(per_timestep=True)``
        self.timestep_grads: dict[str, np.ndarray] | None = None
        self.grad_norms: dict[str, dict[str, np.ndarray]] | None = None

        rng = np.random.default_rng(init_seq)
        H = self.hidden_size
        k = 1.0 / math.sqrt(H)  # PyTorch: U(-1/sqrt(H), 1/sqrt(H)) for every parameter
        D = self.num_directions
        layout = api.stack_parameters(self.input_size, H, self.num_layers, D, self.bias, self.proj_size)
        for shapes in layout:
            for name, shape in shapes:
                self._register(name, rng.uniform(-k, k, size=shape).astype(self.dtype))
        #: [layer][direction] -> the parameter names, in the kernels' argument order
        self._names: list[list[tuple[str, ...]]] = [
            [tuple(n for n, _ in layout[layer * D + d]) for d in range(D)] for layer in range(self.num_layers)
        ]
        # parameter arrays per layer and direction, in the kernels' argument order
        zeros = np.zeros(4 * H, dtype=self.dtype)
        self._weight_views = [
            [
                tuple(self._params[n] for n in names[:2])
                + (tuple(self._params[n] for n in names[2:4]) if self.bias else (None, None))
                + ((self._params[names[-1]],) if self.proj_size else ())
                for names in layer_names
            ]
            for layer_names in self._names
        ]
        self._zero_bias = zeros
        # what the kernels' NaN/Inf errors call each argument, per layer and direction
        self._error_names = [
            {"weights": "parameters " + ", ".join(n), "x": "x", "state": "state (h0, c0)", "grad": ""}
            for names in self._names
            for n in names
        ]
        self._grad_names = [{"grad": "d_output, d_h_n or d_c_n"}] * len(self._error_names)
        # forward's one-step path: the packed weights (made again when they change), scratch per B
        self._step_pack = None
        self._step_buffers: dict = {}

    # ------------------------------------------------------------------ basics
    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _h_size(self) -> int:
        """The width of ``h``: ``proj_size`` with a projection, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    def __getattr__(self, name: str):
        params = self.__dict__.get("_params")
        if params is not None and name in params:
            return params[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        s = f"LSTM({self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s + f", dtype={self.dtype.name})"

    def _weights(self, layer: int, d: int):
        """(w_ih, w_hh, b_ih, b_hh) arrays of one layer and direction (zero biases when bias=False),
        and ``w_hr`` last with a projection."""
        w_ih, w_hh, b_ih, b_hh = self._weight_views[layer][d][:4]
        if b_ih is None:
            out = (w_ih.data, w_hh.data, self._zero_bias, self._zero_bias)
        else:
            out = (w_ih.data, w_hh.data, b_ih.data, b_hh.data)
        if self.proj_size:
            out += (self._weight_views[layer][d][4].data,)
        return out

    def _stack_weights(self) -> list:
        """The weights of every layer and direction, index ``layer * D + d`` (the kernels' stack)."""
        return [
            self._weights(layer, d) for layer in range(self.num_layers) for d in range(self.num_directions)
        ]

    def _as_array(self, value, name: str, ndim) -> np.ndarray:
        """Cheap check for the common case (a C-contiguous array of the model's
        dtype); anything else goes through the full validation. Finiteness is
        checked inside the kernels."""
        if (
            type(value) is np.ndarray
            and value.dtype == self.dtype
            and value.ndim in ndim
            and value.size
            and value.flags.c_contiguous
            and value.flags.writeable
        ):
            return value
        return as_float_array(value, name, ndim=ndim, dtype=self.dtype, finite=False)

    def stepper(self, batch_size: int = 1, state=None):
        """A :class:`~fastlstm.nn.stepper.Stepper`: one time step per call, for streaming
        inference (weights packed and buffers allocated once; one compiled call per step).

        Parameters
        ----------
        batch_size : int
            Rows stepped together.
        state : (h, c) tuple of numpy.ndarray, optional
            The starting state, ``[L*D, B, H]`` each (zeros by default).

        Returns
        -------
        Stepper
        """
        from .stepper import Stepper

        return Stepper(self, batch_size, state)

    def clear_tape(self) -> None:
        """Drop every recorded forward pass (frees their memory)."""
        self._tape.clear()

    # ----------------------------------------------------------------- forward
    def _check_state(self, state, B: int):
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        widths = (self._h_size, H)
        if state is None:
            return np.zeros((LD, B, widths[0]), dtype=self.dtype), np.zeros((LD, B, H), dtype=self.dtype)
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"state: expected a tuple (h0, c0), got {type(state).__name__}")
        out = []
        for name, s, width in zip(("h0", "c0"), state, widths, strict=True):
            arr = self._as_array(s, f"state {name}", (2, 3))
            if arr.ndim == 2:
                arr = arr[:, None, :]
            check_shape(arr, f"state {name}", (LD, B, width))
            out.append(arr)
        return out[0], out[1]

    def forward(self, x, state=None, lengths=None):
        """Run the LSTM over a batch of sequences.

        Parameters
        ----------
        x : ndarray ``[T, B, I]`` (``[B, T, I]`` with batch_first, ``[T, I]`` unbatched)
            Inputs, of the model's dtype.
        state : tuple (h0, c0) of ndarray ``[L*D, B, H]``, optional
            Initial states (zero when omitted). Passing the previous chunk's
            ``(h_n, c_n)`` continues a sequence.
        lengths : array of int ``[B]``, optional
            Length of each sequence (``0 <= L_b <= T``), in any order. Outputs
            past a sequence's end are zero and ``h_n``/``c_n`` are taken at its
            own last step: PyTorch's packed-sequence semantics.

        Returns
        -------
        output : ndarray ``[T, B, D*H]``
        (h_n, c_n) : tuple of ndarray ``[L*D, B, H]``

        Notes
        -----
        One time step in eval mode (``T = 1``, one direction, no lengths) takes the
        stepper's compiled path: the same results, bit for bit, as
        :meth:`stepper`, with the weights packed again only when they change.
        """
        if not self.training and lengths is None and not self.proj_size:
            out = self._step_forward(x, state)
            if out is not None:
                return out
        x = self._as_array(x, "x", (2, 3))
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None, :]
            if state is not None:
                state = tuple(np.asarray(s)[:, None, :] if np.ndim(s) == 2 else s for s in state)
        elif self.batch_first:
            x = np.ascontiguousarray(x.transpose(1, 0, 2))
        T, B, I = x.shape
        if I != self.input_size:
            raise ValueError(
                f"x: expected input_size {self.input_size} features in the last dimension, got {I} "
                f"(shape {x.shape})"
            )
        h0, c0 = self._check_state(state, B)
        lengths = api.check_lengths(lengths, T, B)
        record = self.training
        dropout = self._dropout_mask if record and self.dropout > 0 else None
        output, h_n, c_n, stack = api.stack_forward(
            x, h0, c0, self._stack_weights(), self.num_directions, lengths, dropout, record, self._error_names
        )
        if unbatched:
            output, h_n, c_n = output[:, 0], h_n[:, 0], c_n[:, 0]
        elif self.batch_first:
            output = np.ascontiguousarray(output.transpose(1, 0, 2))
        if record:
            if output.base is not None:
                # the output may share memory with the tape: writing to it would
                # silently corrupt backward, so hand it out read-only
                output = output.view()
                output.flags.writeable = False
            if state is None:
                self._tape.clear()
            self._tape.append(_Tape(stack, self.batch_first, unbatched, output.shape))
        return output, (h_n, c_n)

    __call__ = forward

    def _dropout_mask(self, shape) -> np.ndarray:
        """The dropout mask of one layer's output (the layer's own generator)."""
        keep = 1.0 - self.dropout
        return (self._dropout_rng.random(shape) < keep).astype(self.dtype) / self.dtype.type(keep)

    def _step_forward(self, x, state):
        """``forward`` of one time step in eval mode through the stepper's compiled call;
        None where the general path must run (other shapes or layouts, or an error to report)."""
        if (
            self.bidirectional
            or type(x) is not np.ndarray
            or x.ndim != 3
            or x.dtype != self.dtype
            or not x.flags.c_contiguous
            or x.shape[int(self.batch_first)] != 1  # T = 1: [1, B, I], or [B, 1, I] batch first
            or x.shape[2] != self.input_size
        ):
            return None
        B = x.shape[1 - int(self.batch_first)]
        shape = (self.num_layers, B, self.hidden_size)
        if state is None:
            h, c = np.zeros(shape, self.dtype), np.zeros(shape, self.dtype)
        else:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                return None
            for s in state:
                if type(s) is not np.ndarray or s.dtype != self.dtype or s.shape != shape:
                    return None
            h, c = np.array(state[0], order="C"), np.array(state[1], order="C")
        weights = self._stack_weights()
        buffers = self._step_buffers.get(B)
        try:
            pack = self._step_pack if self._step_pack is not None else api.stack_pack(weights)
            if buffers is None:
                buffers = self._step_buffers[B] = api.step_buffers(pack, B)
            h_top, self._step_pack = api.stack_step(
                x.reshape(B, self.input_size), h, c, pack, buffers, weights
            )
        except ValueError:  # NaN or Inf: the general path names the argument
            return None
        return (h_top[:, None] if self.batch_first else h_top[None]), (h, c)

    # ---------------------------------------------------------------- backward
    def backward(self, d_output, d_h_n=None, d_c_n=None, per_timestep: bool = False):
        """Backpropagate through the newest recorded forward pass.

        Parameter gradients are *added* to each parameter's ``.grad`` (call
        :meth:`zero_grad` between steps), as in PyTorch.

        Parameters
        ----------
        d_output : ndarray, shape of ``output``, or None
            dE/d output at every time step (zero when None).
        d_h_n, d_c_n : ndarray ``[L*D, B, H]``, optional
            dE/dh_n and dE/dc_n, e.g. the ``d_h0, d_c0`` returned by the
            backward of the following chunk in truncated BPTT.
        per_timestep : bool
            Also compute each time step's contribution to every parameter
            gradient and the norms of dE/dh_t and dE/dc_t, stored in
            :attr:`timestep_grads` (``name -> [T, *param.shape]``, in
            original time order, summing over T to this call's gradient) and
            :attr:`grad_norms` (``"l{k}"`` / ``"l{k}_reverse"`` ->
            ``{"h": [T], "c": [T]}``: the Frobenius norms over the batch of
            dE/dh_t and dE/dc_t, showing how the gradient vanishes or explodes
            back in time).

        Returns
        -------
        d_x : ndarray, shape of ``x``
        (d_h0, d_c0) : tuple of ndarray ``[L*D, B, H]``
        """
        if not self._tape:
            raise RuntimeError(
                "backward: no recorded forward pass; call forward in training mode (model.train()) first"
            )
        tape = self._tape[-1]
        stack = tape.stack
        T, B = stack.caches[0].x.shape[:2]
        D, H, n_layers = self.num_directions, self._h_size, self.num_layers
        if d_output is None:
            d_out = np.zeros((T, B, D * H), dtype=self.dtype)
        else:
            d_out = self._as_array(d_output, "d_output", (2, 3))
            check_shape(d_out, "d_output", tape.shape)
            _check_finite_grad(d_out, "d_output")
            if tape.unbatched:
                d_out = d_out[:, None, :]
            elif tape.batch_first:
                d_out = d_out.transpose(1, 0, 2)
        dstates = []
        for name, g, width in (("d_h_n", d_h_n, H), ("d_c_n", d_c_n, self.hidden_size)):
            if g is None:
                dstates.append(np.zeros((n_layers * D, B, width), dtype=self.dtype))
                continue
            arr = self._as_array(g, name, (2, 3))
            if tape.unbatched and arr.ndim == 2:
                arr = arr[:, None, :]
            check_shape(arr, name, (n_layers * D, B, width))
            _check_finite_grad(arr, name)
            dstates.append(np.ascontiguousarray(arr))
        self._tape.pop()
        # the tape is dropped: dA may overwrite its gates
        d_x, d_h0, d_c0, results = api.stack_backward(
            d_out,
            dstates[0],
            dstates[1],
            stack,
            self._stack_weights(),
            per_timestep,
            self._grad_names,
            consume=True,
        )
        step_grads, grad_norms = {}, {}
        for k, (res, sq_norms) in enumerate(results):
            layer, d = divmod(k, D)
            names = self._names[layer][d]
            self._params[names[0]].grad += res.dw_ih
            self._params[names[1]].grad += res.dw_hh
            if self.bias:
                self._params[names[2]].grad += res.db
                self._params[names[3]].grad += res.db
            if self.proj_size:
                self._params[names[-1]].grad += res.dw_hr
            if per_timestep:
                self._collect_timestep(step_grads, grad_norms, names, res, sq_norms, stack, k)
        if tape.unbatched:
            d_x, d_h0, d_c0 = d_x[:, 0], d_h0[:, 0], d_c0[:, 0]
        elif tape.batch_first:
            d_x = np.ascontiguousarray(d_x.transpose(1, 0, 2))
        if per_timestep:
            self.timestep_grads = {n: step_grads[n] for n in self._params if n in step_grads}
            self.grad_norms = grad_norms
        return d_x, (d_h0, d_c0)

    def _collect_timestep(self, step_grads, grad_norms, names, res, sq_norms, stack, k):
        """Each step's terms of (B8) and the norms of dh_t, dc_t, in original time order."""
        layer, d = divmod(k, self.num_directions)
        cache = stack.caches[k]
        da, x, h_prev = res.dgates, cache.x, cache.hs[:-1]
        if d:  # map the reverse run's step s of row b back to original time L_b - 1 - s
            da, x, h_prev, sq_norms = (api.reverse_time(a, stack.rev) for a in (da, x, h_prev, sq_norms))
        dw_ih_t, dw_hh_t, db_t = api.timestep_core(da, x, h_prev)  # the kernels' own arrays: no checks
        if self.proj_size:  # (B10) per step: dh_t^T h~_t
            dhs, hr = res.dhs, cache.hr
            if d:
                dhs, hr = api.reverse_time(dhs, stack.rev), api.reverse_time(hr, stack.rev)
            step_grads[names[-1]] = dhs.transpose(0, 2, 1) @ hr
        dh_norm, dc_norm = api.batch_norms(sq_norms)
        step_grads[names[0]] = dw_ih_t
        step_grads[names[1]] = dw_hh_t
        if self.bias:
            step_grads[names[2]] = db_t
            step_grads[names[3]] = db_t.copy()
        grad_norms[f"l{layer}" + ("_reverse" if d else "")] = {"h": dh_norm, "c": dc_norm}

    # -------------------------------------------------------------- converters
    @classmethod
    def from_torch(cls, module, seed: int | None = None) -> LSTM:
        """Build an LSTM with the configuration and weights of a ``torch.nn.LSTM``.

        Parameters
        ----------
        module : torch.nn.LSTM
            The source (its dtype becomes the layer's).
        seed : int or None
            Seeds the dropout masks of the new layer.

        Returns
        -------
        LSTM
        """
        return convert.from_torch(cls, module, seed)

    def to_torch(self):
        """A ``torch.nn.LSTM`` with this configuration and a copy of these weights."""
        return convert.to_torch(self)

    def to_keras(self) -> list[list[np.ndarray]]:
        """Keras LSTM weight arrays, one ``[kernel, recurrent_kernel, bias]`` per layer and direction.

        ``kernel`` is ``[I, 4H]``, ``recurrent_kernel`` ``[H, 4H]``, ``bias``
        ``[4H]`` (Keras has one bias: ``bias_ih + bias_hh``); Keras' gate order
        i, f, c, o is PyTorch's i, f, g, o. The order is layer by layer, the
        forward direction before the backward one (as ``Bidirectional``'s
        ``get_weights`` lists them).
        """
        return convert.to_keras(self)

    @classmethod
    def from_keras(
        cls,
        weights,
        input_size: int | None = None,
        hidden_size: int | None = None,
        num_layers: int | None = None,
        bidirectional: bool = False,
        **kwargs,
    ) -> LSTM:
        """Build an LSTM from Keras weight arrays (the inverse of :meth:`to_keras`).

        Parameters
        ----------
        weights : list of [kernel, recurrent_kernel, bias]
            One entry per layer and direction, as :meth:`to_keras` returns:
            ``kernel [I_k, 4H]``, ``recurrent_kernel [H, 4H]``, ``bias [4H]``.
            Keras' single bias goes to ``bias_ih``; ``bias_hh`` is zero.
        input_size, hidden_size, num_layers : int, optional
            Inferred from ``weights`` when omitted; checked against them when given.
        bidirectional : bool
            Whether consecutive entries are forward/backward pairs.
        **kwargs
            Other :class:`LSTM` arguments (``batch_first``, ``dropout``, ``seed``).
            ``dtype`` defaults to the arrays' dtype.
        """
        return convert.from_keras(cls, weights, input_size, hidden_size, num_layers, bidirectional, **kwargs)
