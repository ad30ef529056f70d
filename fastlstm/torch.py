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
ways. The whole stack (layers, directions, dropout between layers) is one
:class:`torch.autograd.Function` on the kernels' stacked LSTM, the same code that
:class:`fastlstm.LSTM` runs; packing a ``PackedSequence`` and ``batch_first`` are ordinary
torch operations around it. Without a graph (``torch.no_grad()``,
``torch.inference_mode()``, or nothing requiring a gradient) the kernels run alone, and one
time step of a unidirectional model runs as one compiled call on weights packed once (again
when they change), the path of :meth:`fastlstm.LSTM.stepper`.

When it pays
------------
Where fastlstm's kernels beat PyTorch's own CPU LSTM (oneDNN): the module adds a few
microseconds per call to the kernels' time. ``fastlstm bench`` times both on your machine
(rows of their own under its table; figures in the README). It runs on the CPU only, in
float32 or float64; with projections (``proj_size`` > 0) on the register-blocked,
multi-threaded kernels of ``fastlstm/kernels/projection.py`` (docs/performance.md,
"Projections (LSTMP)"), their weights packed once and again only when they change (one
compiled comparison with a copy per call), one unidirectional time step without a graph
through their step mode as above.

Copies
------
The kernels read and write NumPy views of the tensors' memory (``tensor.numpy()``,
``torch.from_numpy``); the parameters' views are kept between calls. Copies happen only
here:

* the input, unless it is C-contiguous and time-major: ``batch_first`` input (transposed
  to ``[T, B, I]``), non-contiguous input, and the reverse direction's input (reversed in
  time, per sequence with lengths); a non-contiguous parameter;
* ``h0``, ``c0``, which the kernel copies into its state arrays;
* the outputs: with lengths the kernel's output is a masked copy of its states (without
  lengths, dropout or a reverse direction it *is* the kernel's state array, no copy);
  ``h_n``/``c_n``; the reversed output of the reverse direction and the concatenation of
  both directions; dropout's result;
* backward: the upstream gradient when it is not C-contiguous, and each direction's slice
  of it when bidirectional; the bias gradient, returned for ``b_ih`` and, as a copy, for
  ``b_hh``;
* ``PackedSequence`` input is padded to ``[T, B, I]`` and the output packed again.

``batch_first`` output is a transposed view (no copy). The forward cache (states, gates)
is kept by the autograd graph and freed by ``backward`` (a graph retained with
``retain_graph=True`` computes it again for the next backward). Modifying an input, a
state or a parameter in place between forward and backward raises torch's usual "modified
by an inplace operation" error; so does modifying an output that shares memory with the
cache.

Differences from ``torch.nn.LSTM``: NaN or Inf in an input, a state, a weight or an upstream
gradient raises ``ValueError`` (the kernels check) instead of propagating; gradients are
first-order only (no double backward); no GPU, no float16/bfloat16.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import NamedTuple

if __name__ == "torch":  # pragma: no cover - only when the package folder itself is on sys.path
    raise ImportError(
        "fastlstm/torch.py was imported as the top-level module 'torch' because the fastlstm "
        "package folder is on sys.path (a script run from inside it?); run from elsewhere, "
        "e.g. python -m fastlstm.bench"
    )

import numpy as np

from ._optional import import_optional
from .kernels import api

torch = import_optional("torch", "fastlstm.torch", extra="torch")

# torch imported: its own submodules follow
from torch.autograd.function import once_differentiable  # noqa: E402
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence  # noqa: E402

__all__ = ["LSTM"]

_DTYPES = (torch.float32, torch.float64)
_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A NumPy view of a CPU tensor (a copy only if it is not C-contiguous)."""
    return (t if t.is_contiguous() else t.contiguous()).detach().numpy()


class _Run(NamedTuple):
    """One forward call's arguments that are not tensors (what the autograd node keeps)."""

    weights: list  # per layer and direction: (w_ih, w_hh, b_ih, b_hh), NumPy views of the parameters
    directions: int
    lengths: np.ndarray | None
    dropout: float  # applied between layers (training mode), else 0
    dtype: torch.dtype
    proj: bool = False  # the layers have a projection: (w_ih, w_hh, b_ih, b_hh, w_hr)
    packs: tuple | None = None  # with proj: per layer and direction the api.ProjTrainPack to run on


def _dropout_masks(p: float, dtype: torch.dtype, masks: list | None = None):
    """``stack_forward``'s dropout: torch's generator and arithmetic (the mask ``F.dropout``
    multiplies its input by), or the masks of an earlier pass replayed in order."""
    if masks is not None:
        it = iter(masks)
        return lambda shape: next(it)
    return lambda shape: torch.nn.functional.dropout(torch.ones(shape, dtype=dtype), p, True).numpy()


def _names(k: int, directions: int) -> dict:
    layer, d = divmod(k, directions)
    where = f"fastlstm.torch.LSTM, layer {layer}" + (" (reverse direction)" if d else "")
    return {
        "weights": f"{where}, forward: w_ih, w_hh or b",
        "x": f"{where}, forward: x",
        "state": f"{where}, forward: h0 or c0",
        "grad": f"{where}, backward: dy, dh_n or dc_n",
    }


def _stack_forward(run: _Run, x, h0, c0, keep: bool, masks=None):
    """The kernels' stacked LSTM on NumPy arrays; ``masks`` replays an earlier pass's dropout."""
    LD = len(run.weights)
    dropout = _dropout_masks(run.dropout, run.dtype, masks) if run.dropout > 0 else None
    names = [_names(k, run.directions) for k in range(LD)]
    return api.stack_forward(
        x, h0, c0, run.weights, run.directions, run.lengths, dropout, keep, names, run.packs
    )


class _LSTMFunction(torch.autograd.Function):
    """The whole stack (layers, directions, dropout between layers) as one autograd node on
    the kernels' stacked LSTM (:func:`fastlstm.kernels.api.stack_forward`).

    Inputs: a :class:`_Run`, ``x [T, B, I]``, ``h0, c0 [L*D, B, H]`` (C-contiguous CPU
    tensors of the parameters' dtype) and the parameters (flat, in registration order).
    Outputs: ``output [T, B, D*H]``, ``h_n, c_n [L*D, B, H]``.
    """

    @staticmethod
    def forward(ctx, run, x, h0, c0, *params):
        x_n, h0_n, c0_n = x.detach().numpy(), h0.detach().numpy(), c0.detach().numpy()
        output, h_n, c_n, tape = _stack_forward(run, x_n, h0_n, c0_n, True)
        out = torch.from_numpy(output)
        # Without lengths, dropout and a reverse direction the output is the last layer's own
        # state array: saved, so that an in-place change to it makes backward raise.
        shared = np.shares_memory(output, tape.caches[-1].hs)
        ctx.save_for_backward(x, h0, c0, *params, *([out] if shared else []))
        ctx.run, ctx.tape = run, tape
        ctx.has_bias = len(params) == (5 if run.proj else 4) * len(run.weights)
        ctx.set_materialize_grads(False)  # an unused output passes None: zeros
        return out, torch.from_numpy(h_n), torch.from_numpy(c_n)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_h_n, d_c_n):
        saved = ctx.saved_tensors  # raises if the graph was freed (backward twice)
        run, tape = ctx.run, ctx.tape
        if tape is None:  # a retained graph run backward again: the first one consumed the tape
            x, h0, c0 = (t.detach().numpy() for t in saved[:3])
            tape = _stack_forward(run, x, h0, c0, True, ctx.masks)[3]
        ctx.tape, ctx.masks = None, tape.masks  # free the tape now, as torch frees saved tensors
        T, B = tape.caches[0].x.shape[:2]
        LD, H = len(tape.caches), tape.caches[0].hs.shape[2]  # H: the width of h (P with proj_size)
        dtype = tape.caches[0].hs.dtype
        d_out = np.zeros((T, B, run.directions * H), dtype) if d_out is None else _numpy(d_out)
        d_h_n = np.zeros((LD, B, H), dtype) if d_h_n is None else _numpy(d_h_n)
        d_c_n = np.zeros((LD, B, tape.caches[0].cs.shape[2]), dtype) if d_c_n is None else _numpy(d_c_n)
        names = [_names(k, run.directions) for k in range(LD)]
        d_x, d_h0, d_c0, results = api.stack_backward(
            d_out, d_h_n, d_c_n, tape, run.weights, names=names, consume=True, packs=run.packs
        )
        grads = []
        for res, _ in results:
            grads += [torch.from_numpy(res.dw_ih), torch.from_numpy(res.dw_hh)]
            if ctx.has_bias:  # two parameters must not share one .grad
                grads += [torch.from_numpy(res.db), torch.from_numpy(res.db.copy())]
            if run.proj:
                grads.append(torch.from_numpy(res.dw_hr))
        need = ctx.needs_input_grad  # no tensor (nor autograd's check of it) for x, h0, c0 without
        return (
            None,
            torch.from_numpy(d_x) if need[1] else None,
            torch.from_numpy(d_h0) if need[2] else None,
            torch.from_numpy(d_c0) if need[3] else None,
            *grads,
        )


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
        ``P``: 0 for none, or ``0 < P < H``: every layer's ``h`` projected to ``P`` features by
        ``weight_hr_l{k}`` ``[P, H]`` (as ``torch.nn.LSTM(proj_size=P)``; ``weight_hh_l{k}`` is
        ``[4H, P]``, the output ``D*P`` wide, ``h0``/``h_n`` ``[L*D, B, P]``). Such layers run
        the register-blocked, multi-threaded kernels of ``fastlstm/kernels/projection.py``.
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
    ``bias_ih_l{k}`` and ``bias_hh_l{k}`` ``[4H]`` (with ``proj_size`` P: ``weight_hh_l{k}``
    ``[4H, P]`` and ``weight_hr_l{k}`` ``[P, H]``; ``output``, ``h0``, ``h_n`` ``P`` wide where
    the table says ``H``), with a ``_reverse`` suffix for the
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
        if proj_size < 0:
            raise ValueError(f"proj_size: expected an int >= 0, got {proj_size}")
        if proj_size and proj_size >= hidden_size:
            raise ValueError(
                f"proj_size: expected a value below hidden_size ({hidden_size}), got {proj_size}"
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
        self.proj_size = int(proj_size)
        self._weights_key = self._weights_cache = self._step_pack = None
        self._proj_pack = self._train_packs = None  # projected: the step's packs, the graph's packs
        self._step_buffers: dict = {}
        H, D = self.hidden_size, self.num_directions
        self._layout = api.stack_parameters(self.input_size, H, self.num_layers, D, bias, self.proj_size)
        for shapes in self._layout:
            for name, shape in shapes:
                setattr(self, name, torch.nn.Parameter(torch.empty(shape, dtype=dtype)))
        self._all_weights: list[list[str]] = [[name for name, _ in shapes] for shapes in self._layout]
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
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        return s

    # ------------------------------------------------------------------ checks
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

    def _kernel_weights(self):
        """``(params, weights, dtype)``: the parameters in registration order, the kernels'
        ``(w_ih, w_hh, b_ih, b_hh)`` per layer and direction as NumPy views of them, and their
        dtype. The views are kept while every parameter keeps its storage and dtype (in-place
        changes show through them); a replaced parameter, a new ``.data``, ``.to()`` or
        ``.half()`` checks them again."""
        params = [self._parameters[name] for names in self._all_weights for name in names]
        key = [(p.data_ptr(), p.dtype) for p in params]
        if key == self._weights_key:
            return params, self._weights_cache, params[0].dtype
        dtype = self._check_param("weight_ih_l0", None).dtype
        views, contiguous = [], True
        for layout in self._layout:
            arrays = []
            for name, shape in layout:
                p = self._check_param(name, dtype)
                if tuple(p.shape) != shape:
                    raise ValueError(f"parameter {name}: expected shape {shape}, got {tuple(p.shape)}")
                contiguous &= p.is_contiguous()
                arrays.append(_numpy(p))
            if not self.bias:  # (w_ih, w_hh[, w_hr]) -> (w_ih, w_hh, 0, 0[, w_hr])
                zero = np.zeros(4 * self.hidden_size, dtype=arrays[0].dtype)
                arrays[2:2] = [zero, zero]
            views.append(tuple(arrays))
        # a non-contiguous parameter is copied: not kept, so that changes to it are seen
        self._weights_key, self._weights_cache = (key if contiguous else None), views
        return params, views, dtype

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
        widths = (self.proj_size or H, H)
        if hx is None:
            z = torch.from_numpy(np.zeros((LD, B, H), dtype=_NUMPY_DTYPES[dtype]))
            if self.proj_size:
                return torch.from_numpy(np.zeros((LD, B, self.proj_size), dtype=_NUMPY_DTYPES[dtype])), z
            return z, z
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"hx: expected a tuple (h0, c0) of tensors, got {_describe(hx)}")
        out = []
        for name, s, width in zip(("hx[0] (h0)", "hx[1] (c0)"), hx, widths, strict=True):
            self._check_tensor(s, name, dtype)
            want = (LD, width) if unbatched else (LD, B, width)
            if tuple(s.shape) != want:
                kind = "unbatched input: (L*D, H)" if unbatched else "(L*D, B, H)"
                raise ValueError(f"{name}: expected shape {kind} = {want}, got {tuple(s.shape)}")
            out.append((s.unsqueeze(1) if unbatched else s).contiguous())
        return out[0], out[1]

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
        params, weights, dtype = self._kernel_weights()
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
        if lengths is not None:
            if isinstance(lengths, torch.Tensor):
                if lengths.device.type != "cpu":
                    raise ValueError(f"lengths: expected a CPU tensor, got one on {lengths.device}")
                lengths = lengths.detach().numpy()
            lengths = api.check_lengths(lengths, T, B)
        h0, c0 = self._check_hx(hx, B, unbatched, dtype)

        x = x.contiguous()  # time-major and C-contiguous: the kernels read it without a copy
        dropout = self.dropout if self.training and self.num_layers > 1 else 0.0
        run = _Run(weights, self.num_directions, lengths, dropout, dtype, self.proj_size > 0)
        if torch.is_grad_enabled() and (
            x.requires_grad or h0.requires_grad or c0.requires_grad or any(p.requires_grad for p in params)
        ):
            if run.proj:
                run = run._replace(packs=self._packs_for(weights))
            output, h_n, c_n = _LSTMFunction.apply(run, x, h0, c0, *params)
        else:  # no graph: the kernels alone, nothing kept for backward
            output, h_n, c_n = self._infer(run, x.detach().numpy(), h0.detach().numpy(), c0.detach().numpy())

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

    def _packs_for(self, weights) -> tuple:
        """The projected layers' packed weights (:func:`api.proj_stack_packs`), made again only
        when a weight changed (one compiled bitwise comparison with the copy they were made
        from) or the dtype did; the backward runs on the packs its forward ran on."""
        cached = api.proj_stack_packs(weights, self._train_packs)
        if cached is not self._train_packs:  # nn.Module.__setattr__: only on a repack
            self._train_packs = cached
        return cached.packs

    def _infer(self, run: _Run, x: np.ndarray, h0: np.ndarray, c0: np.ndarray):
        """Forward without a graph; one step of one direction through the step mode (the weights
        packed once, again only when they change)."""
        T, B, _ = x.shape
        one_step = T == 1 and run.directions == 1 and run.lengths is None and not run.dropout
        if one_step and not run.proj:
            h, c = h0.copy(), c0.copy()
            try:
                pack = self._step_pack
                if pack is None or pack.snap.dtype != x.dtype:  # none yet, or the module's dtype changed
                    pack = api.stack_pack(run.weights)
                buffers = self._step_buffers.get(B)
                if buffers is None or buffers[0].dtype != x.dtype:
                    buffers = self._step_buffers[B] = api.step_buffers(pack, B)
                h_top, new = api.stack_step(x[0], h, c, pack, buffers, run.weights)
                if new is not self._step_pack:  # nn.Module.__setattr__ costs ~7 us: only on a repack
                    self._step_pack = new
                return torch.from_numpy(h_top[None]), torch.from_numpy(h), torch.from_numpy(c)
            except ValueError:  # NaN or Inf: the general path names the argument
                self._step_pack = None
        elif one_step:
            h, c = h0.copy(), c0.copy()
            try:  # the projected step mode: packed once, again when a weight or the dtype changes
                h_top, new = api.proj_cached_step(x[0], h, c, self._proj_pack, run.weights)
                if new is not self._proj_pack:
                    self._proj_pack = new
                return torch.from_numpy(h_top[None]), torch.from_numpy(h), torch.from_numpy(c)
            except ValueError:  # NaN or Inf: the general path names the argument
                self._proj_pack = None
        if run.proj:
            run = run._replace(packs=self._packs_for(run.weights))
        output, h_n, c_n, _ = _stack_forward(run, x, h0, c0, keep=False)
        return torch.from_numpy(output), torch.from_numpy(h_n), torch.from_numpy(c_n)
