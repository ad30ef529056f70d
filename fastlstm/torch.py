r"""``fastlstm.torch.LSTM``: a ``torch.nn.Module`` whose forward and backward run fastlstm's kernels.

A training loop written for ``torch.nn.LSTM`` only changes the import::

    from fastlstm.torch import LSTM          # was: from torch.nn import LSTM

    model = LSTM(8, 64, num_layers=2, batch_first=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in loader:
        out, (h_n, c_n) = model(x)
        loss = loss_fn(head(out), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

The constructor, the parameters (names, shapes, order and initialisation), the
``state_dict`` and the forward signature are ``torch.nn.LSTM``'s, so weights load both
ways. Each layer and direction is one :class:`torch.autograd.Function` calling the public
kernels :func:`fastlstm.kernels.lstm_forward` and :func:`fastlstm.kernels.lstm_backward`;
stacking, the reverse direction, the concatenation of directions, dropout between layers
and packing are ordinary torch operations, so autograd differentiates them.

When it pays
------------
Only where fastlstm's kernels beat PyTorch's own CPU LSTM (oneDNN) by more than the fixed
cost that torch's module and autograd add per call, layer and direction (of the order of
0.1 ms for inference and 0.25 ms for a training step): float64 training is the best case.
That cost eats the kernels' lead on streaming single steps, and for mid-sized float32 models
PyTorch's fused oneDNN LSTM is faster anyway: keep ``torch.nn.LSTM`` there. ``fastlstm
bench`` times both on your machine (rows of their own under its table; figures in the
README). It runs on the CPU only, in float32 or float64, without projections (``proj_size``
must be 0).

Copies
------
The kernels read and write NumPy views of the tensors' memory (``tensor.numpy()``,
``torch.from_numpy``). Copies happen only here:

* the input, unless it is C-contiguous and time-major: ``batch_first`` input (transposed
  to ``[T, B, I]``), non-contiguous input, and the reverse direction's input (reversed in
  time, per sequence with lengths);
* ``b_ih + b_hh`` (``4H`` values) per layer and direction; ``h0``, ``c0`` (``[B, H]``
  each), which the kernel copies into its state arrays;
* the outputs: with lengths the kernel's output is a masked copy of its states (without
  lengths it *is* the kernel's state array, no copy); ``h_n``/``c_n`` (``[B, H]`` each);
  the reversed output of the reverse direction and the concatenation of both directions;
  the stacking of ``h_n``/``c_n`` over layers; dropout's result;
* backward: the upstream gradient of a direction's output when it is not C-contiguous
  (it is a strided slice of the concatenation's gradient when bidirectional); the bias
  gradient, returned for ``b_ih`` and, as a copy, for ``b_hh``;
* ``PackedSequence`` input is padded to ``[T, B, I]`` and the output packed again.

``batch_first`` output is a transposed view (no copy). The forward cache (states, gates)
is kept as saved tensors of the autograd graph and freed by ``backward`` as torch frees its
own. Modifying an input or a parameter in place between forward and backward raises
torch's usual "modified by an inplace operation" error; so does modifying an output that
shares memory with the cache.

Differences from ``torch.nn.LSTM``: NaN or Inf in an input, a state, a weight or an upstream
gradient raises ``ValueError`` (the kernels check) instead of propagating; gradients are
first-order only (no double backward); no ``proj_size``, no GPU, no float16/bfloat16.
"""

from __future__ import annotations

import math
import numbers
import warnings

if __name__ == "torch":  # pragma: no cover - only when the package folder itself is on sys.path
    raise ImportError(
        "fastlstm/torch.py was imported as the top-level module 'torch' because the fastlstm "
        "package folder is on sys.path (a script run from inside it?); run from elsewhere, "
        "e.g. python -m fastlstm.bench"
    )

import numpy as np

from . import kernels as K
from ._optional import import_optional

torch = import_optional("torch", "fastlstm.torch", extra="torch")

# torch imported: its own submodules follow
from torch.autograd.function import once_differentiable  # noqa: E402
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence  # noqa: E402

__all__ = ["LSTM"]

_DTYPES = (torch.float32, torch.float64)


def _numpy(t: torch.Tensor | None) -> np.ndarray | None:
    """A NumPy view of a CPU tensor (a copy only if it is not C-contiguous)."""
    return None if t is None else t.detach().contiguous().numpy()


class _LSTMLayerFunction(torch.autograd.Function):
    """One layer and direction of the LSTM as an autograd node, on fastlstm's kernels.

    Inputs: ``x [T, B, I]``, ``h0, c0 [B, H]`` (C-contiguous CPU tensors of the weights'
    dtype), ``w_ih [4H, I]``, ``w_hh [4H, H]``, ``b_ih, b_hh [4H]`` or None, ``lengths``
    (int64 ndarray ``[B]`` or None) and ``where`` (a label for error messages).
    Outputs: ``y [T, B, H]``, ``h_n, c_n [B, H]``.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths, where):
        w_ih_n, w_hh_n = _numpy(w_ih), _numpy(w_hh)
        if b_ih is None:
            b = np.zeros(w_hh_n.shape[0], dtype=w_hh_n.dtype)
        else:
            b = _numpy(b_ih) + _numpy(b_hh)
        try:
            y, h_n, c_n, cache = K.lstm_forward(
                _numpy(x), _numpy(h0), _numpy(c0), w_ih_n, w_hh_n, b, lengths=lengths
            )
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"fastlstm.torch.LSTM, {where}, forward: {exc}") from exc
        # Without lengths y is hs[1:], the kernel's own state array: handed out without a copy
        # and saved, so that an in-place change to it makes backward raise instead of lie.
        y = torch.from_numpy(cache.hs[1:] if lengths is None else y)
        if any(ctx.needs_input_grad):  # else no graph is recorded (inference): save nothing
            saved = [x, w_ih, w_hh, torch.from_numpy(cache.hs), torch.from_numpy(cache.cs)]
            saved += [torch.from_numpy(cache.gates)] + ([y] if lengths is None else [])
            ctx.save_for_backward(*saved)
        ctx.lengths = cache.lengths
        ctx.where = where
        ctx.has_bias = b_ih is not None
        ctx.set_materialize_grads(False)  # an unused output passes None: the kernel uses zeros
        return y, torch.from_numpy(h_n), torch.from_numpy(c_n)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh_n, dc_n):
        x, w_ih, w_hh, hs, cs, gates = ctx.saved_tensors[:6]
        cache = K.ForwardCache(_numpy(x), _numpy(hs), _numpy(cs), _numpy(gates), ctx.lengths)
        try:
            g = K.lstm_backward(_numpy(dy), _numpy(dh_n), _numpy(dc_n), cache, _numpy(w_ih), _numpy(w_hh))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"fastlstm.torch.LSTM, {ctx.where}, backward: {exc}") from exc
        db_ih = db_hh = None
        if ctx.has_bias:
            db_ih = torch.from_numpy(g.db)
            db_hh = torch.from_numpy(g.db.copy())  # two parameters must not share one .grad
        return (
            torch.from_numpy(g.dx),
            torch.from_numpy(g.dh0),
            torch.from_numpy(g.dc0),
            torch.from_numpy(g.dw_ih),
            torch.from_numpy(g.dw_hh),
            db_ih,
            db_hh,
            None,
            None,
        )


def _reverse_index(lengths: np.ndarray | None, T: int, B: int) -> torch.Tensor | None:
    """``[T, B]`` time indices reversing each sequence within its own length (padding stays put)."""
    if lengths is None:
        return None
    t = np.arange(T)[:, None]
    return torch.from_numpy(np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t))


def _reverse(t: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
    """Reverse ``t [T, B, F]`` in time (an involution: applying it twice restores ``t``)."""
    if idx is None:
        return t.flip(0)
    return t.gather(0, idx[:, :, None].expand(-1, -1, t.shape[2]))


def _describe(t) -> str:
    if isinstance(t, torch.Tensor):
        return f"a {t.dtype} tensor of shape {tuple(t.shape)} on {t.device}"
    return type(t).__name__


class LSTM(torch.nn.Module):
    r"""``torch.nn.LSTM`` on fastlstm's CPU kernels: same constructor, parameters and forward.

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
        Input and output are ``[B, T, *]`` instead of ``[T, B, *]`` (not the states).
    dropout : float
        Dropout probability on the outputs of every layer but the last, in training mode
        (torch's dropout and random generator, as ``torch.nn.LSTM``).
    bidirectional : bool
        Add a reverse direction, ``D = 2``.
    proj_size : int
        Must be 0: fastlstm's kernels have no projections.
    device : torch.device or str, optional
        Must be the CPU (or None).
    dtype : torch.float32 or torch.float64, optional
        The parameters' dtype (default: ``torch.get_default_dtype()``).

    Notes
    -----
    Shapes:

    ===========  ==============================  =======================================
    argument     shape                           meaning
    ===========  ==============================  =======================================
    input        ``[T, B, I]``                   ``[B, T, I]`` with batch_first, ``[T, I]``
                                                 unbatched, or a ``PackedSequence``
    hx           ``([L*D, B, H], [L*D, B, H])``  ``(h0, c0)``, zeros when omitted
                                                 (``[L*D, H]`` for unbatched input)
    lengths      ``[B]`` int                     each sequence's length (optional)
    output       ``[T, B, D*H]``                 the last layer's ``h_t``, both directions
                                                 (a ``PackedSequence`` for packed input)
    h_n, c_n     ``[L*D, B, H]``                 final states of every layer and direction
    ===========  ==============================  =======================================

    Parameters are ``weight_ih_l{k}`` ``[4H, I_k]``, ``weight_hh_l{k}`` ``[4H, H]``,
    ``bias_ih_l{k}`` and ``bias_hh_l{k}`` ``[4H]``, with a ``_reverse`` suffix for the
    reverse direction, registered in ``torch.nn.LSTM``'s order and initialised as it does
    (uniform in ``[-1/sqrt(H), 1/sqrt(H)]`` from torch's generator, in that order), so the
    same ``torch.manual_seed`` gives the same weights, and ``state_dict`` loads into
    ``torch.nn.LSTM`` and back.

    See the module docstring for when this pays and where copies happen.
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
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
            if value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value}")
        for name, value in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(value, bool):
                raise TypeError(f"{name}: expected a bool, got {type(value).__name__} {value!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
            raise TypeError(f"dropout: expected a number, got {type(dropout).__name__} {dropout!r}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"dropout: expected a probability in [0, 1], got {dropout!r}")
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral):
            raise TypeError(f"proj_size: expected an int, got {type(proj_size).__name__} {proj_size!r}")
        if proj_size != 0:
            raise ValueError(
                f"proj_size: expected 0, got {proj_size}; fastlstm's kernels have no projections "
                "(use torch.nn.LSTM for proj_size > 0)"
            )
        if device is not None and torch.device(device).type != "cpu":
            raise ValueError(
                f"device: expected the CPU (fastlstm's kernels run on the CPU only), got {device!r}; "
                "use torch.nn.LSTM on other devices"
            )
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in _DTYPES:
            raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        self.mode = "LSTM"
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        H, D = self.hidden_size, self.num_directions
        self._all_weights: list[list[str]] = []
        for layer in range(self.num_layers):
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                in_size = self.input_size if layer == 0 else H * D
                shapes = [(f"weight_ih{sfx}", (4 * H, in_size)), (f"weight_hh{sfx}", (4 * H, H))]
                if bias:
                    shapes += [(f"bias_ih{sfx}", (4 * H,)), (f"bias_hh{sfx}", (4 * H,))]
                for name, shape in shapes:
                    setattr(self, name, torch.nn.Parameter(torch.empty(shape, dtype=dtype)))
                self._all_weights.append([name for name, _ in shapes])
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        """2 if bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self) -> list[list[torch.nn.Parameter]]:
        """The parameters per layer and direction, as ``torch.nn.LSTM.all_weights``."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def reset_parameters(self) -> None:
        """Uniform in ``[-1/sqrt(H), 1/sqrt(H)]``, in registration order (``torch.nn.LSTM``'s rule)."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            torch.nn.init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """No-op, for code written for ``torch.nn.LSTM`` (cuDNN's weight layout does not apply)."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------------ checks
    def _param_dtype(self) -> torch.dtype:
        """The dtype of ``weight_ih_l0``, after checking it is a CPU float32/float64 tensor
        (:meth:`_layer_weights` checks that every other parameter matches it)."""
        return self._check_param("weight_ih_l0", None).dtype

    def _check_param(self, name: str, dtype: torch.dtype | None) -> torch.Tensor:
        p = getattr(self, name)
        if p.device.type != "cpu":
            raise ValueError(
                f"parameter {name}: expected a CPU tensor (fastlstm's kernels run on the CPU only), "
                f"got one on {p.device}; use torch.nn.LSTM on other devices"
            )
        if dtype is None and p.dtype not in _DTYPES:
            raise TypeError(f"parameter {name}: expected torch.float32 or torch.float64, got {p.dtype}")
        if dtype is not None and p.dtype != dtype:
            raise TypeError(f"parameter {name}: expected {dtype} (the dtype of weight_ih_l0), got {p.dtype}")
        return p

    def _layer_weights(self, k: int, dtype: torch.dtype) -> list:
        """``[w_ih, w_hh, b_ih, b_hh]`` of layer-direction ``k`` (biases None when bias=False)."""
        weights = [self._check_param(name, dtype) for name in self._all_weights[k]]
        return weights if self.bias else weights + [None, None]

    @staticmethod
    def _check_tensor(t, name: str, dtype: torch.dtype) -> None:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {_describe(t)}")
        if t.device.type != "cpu":
            raise ValueError(
                f"{name}: expected a CPU tensor (fastlstm's kernels run on the CPU only), got one on "
                f"{t.device}; use torch.nn.LSTM on other devices"
            )
        if t.dtype != dtype:
            raise TypeError(f"{name}: expected dtype {dtype} (the parameters' dtype), got {t.dtype}")

    def _check_hx(self, hx, B: int, unbatched: bool, dtype: torch.dtype):
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        if hx is None:
            z = torch.zeros((LD, B, H), dtype=dtype)
            return z, z
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"hx: expected a tuple (h0, c0) of tensors, got {_describe(hx)}")
        out = []
        for name, s in zip(("hx[0] (h0)", "hx[1] (c0)"), hx, strict=True):
            self._check_tensor(s, name, dtype)
            want = (LD, H) if unbatched else (LD, B, H)
            if tuple(s.shape) != want:
                kind = "unbatched input: (L*D, H)" if unbatched else "(L*D, B, H)"
                raise ValueError(f"{name}: expected shape {kind} = {want}, got {tuple(s.shape)}")
            out.append((s.unsqueeze(1) if unbatched else s).contiguous())
        return out[0], out[1]

    @staticmethod
    def _check_lengths(lengths, T: int, B: int) -> np.ndarray:
        if isinstance(lengths, torch.Tensor):
            if lengths.device.type != "cpu":
                raise ValueError(f"lengths: expected a CPU tensor, got one on {lengths.device}")
            lengths = lengths.detach().numpy()
        arr = np.asarray(lengths)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"lengths: expected integers, got dtype {arr.dtype}")
        if arr.shape != (B,):
            raise ValueError(f"lengths: expected shape ({B},) (one length per batch row), got {arr.shape}")
        if arr.min() < 0 or arr.max() > T:
            raise ValueError(
                f"lengths: expected values in [0, {T}] (T = number of time steps), "
                f"got min {arr.min()} and max {arr.max()}"
            )
        return np.ascontiguousarray(arr, dtype=np.int64)

    # ----------------------------------------------------------------- forward
    def forward(self, input, hx=None, lengths=None):
        """Run the LSTM; the signature and results are ``torch.nn.LSTM``'s, plus ``lengths``.

        Parameters
        ----------
        input : Tensor ``[T, B, I]`` or PackedSequence
            ``[B, T, I]`` with batch_first, ``[T, I]`` unbatched; a CPU tensor of the
            parameters' dtype.
        hx : tuple (h0, c0) of Tensor ``[L*D, B, H]``, optional
            Initial states (zeros when omitted); ``[L*D, H]`` for unbatched input. With a
            ``PackedSequence`` the batch order is the original (unsorted) one, as in torch.
        lengths : array-like or Tensor of int ``[B]``, optional
            Each sequence's length (``0 <= L_b <= T``, any order) for padded batched input,
            instead of packing: outputs past a sequence's end are zero and ``h_n``/``c_n``
            are taken at its own last step, as ``pack_padded_sequence(enforce_sorted=False)``
            followed by ``pad_packed_sequence`` would give (without the trimming to
            ``max(lengths)`` steps).

        Returns
        -------
        output : Tensor ``[T, B, D*H]`` or PackedSequence
            ``[B, T, D*H]`` with batch_first, ``[T, D*H]`` unbatched; a ``PackedSequence``
            (with the input's batch sizes and indices) for packed input.
        (h_n, c_n) : tuple of Tensor ``[L*D, B, H]`` (``[L*D, H]`` unbatched)
        """
        dtype = self._param_dtype()
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise ValueError("lengths: pass either a PackedSequence or lengths, not both")
            self._check_tensor(input.data, "input.data (PackedSequence)", dtype)
            x, lens = pad_packed_sequence(input)  # [T, B, I], rows in the original order
            lengths = lens.numpy()
            unbatched = False
        else:
            self._check_tensor(input, "input", dtype)
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"input: expected a 3-D (batched) or 2-D (unbatched) tensor, got {input.dim()}-D "
                    f"shape {tuple(input.shape)}"
                )
            unbatched = input.dim() == 2
            if unbatched:
                if lengths is not None:
                    raise ValueError("lengths: not supported for unbatched (2-D) input; slice the sequence")
                x = input.unsqueeze(1)
            else:
                x = input.transpose(0, 1) if self.batch_first else input
        T, B, n_in = x.shape
        if n_in != self.input_size:
            raise ValueError(
                f"input: expected {self.input_size} features (input_size) in the last dimension, "
                f"got shape {tuple(input.data.shape if packed else input.shape)}"
            )
        if T == 0 or B == 0:
            raise ValueError(
                f"input: expected at least one time step and one batch row, got shape {tuple(x.shape)}"
            )
        if lengths is not None and not packed:
            lengths = self._check_lengths(lengths, T, B)
        h0, c0 = self._check_hx(hx, B, unbatched, dtype)

        D = self.num_directions
        rev = _reverse_index(lengths, T, B) if D == 2 else None
        h_n, c_n = [], []
        inp = x.contiguous()  # time-major and C-contiguous: the kernels read it without a copy
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                w_ih, w_hh, b_ih, b_hh = self._layer_weights(k, dtype)
                src = inp if d == 0 else _reverse(inp, rev).contiguous()
                where = f"layer {layer}" + (" (reverse direction)" if d else "")
                y, hk, ck = _LSTMLayerFunction.apply(
                    src, h0[k], c0[k], w_ih, w_hh, b_ih, b_hh, lengths, where
                )
                outs.append(y if d == 0 else _reverse(y, rev))
                h_n.append(hk)
                c_n.append(ck)
            inp = outs[0] if D == 1 else torch.cat(outs, dim=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                inp = torch.nn.functional.dropout(inp, p=self.dropout, training=True)
        output, h_n, c_n = inp, torch.stack(h_n), torch.stack(c_n)

        if packed:
            order = input.sorted_indices
            if order is not None:
                output = output.index_select(1, order)
            data = pack_padded_sequence(
                output, lens if order is None else lens[order], enforce_sorted=True
            ).data
            output = PackedSequence(data, input.batch_sizes, input.sorted_indices, input.unsorted_indices)
        elif unbatched:
            output, h_n, c_n = output.squeeze(1), h_n.squeeze(1), c_n.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (h_n, c_n)
