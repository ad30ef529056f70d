"""Parameters and the small module protocol shared by every layer.

A :class:`Parameter` owns its value (``data``) and its gradient (``grad``), both
NumPy arrays of the same shape and dtype, so an optimiser is a short loop::

    for p in model.parameters():
        p.data -= lr * p.grad
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

__all__ = ["Module", "Parameter", "read_config"]


def read_config(obj, names: Iterable[str], **values) -> dict:
    """The JSON-able config of ``obj``: its constructor arguments ``names``, in that order.

    Each is read back from the same-named attribute of ``obj``, or taken from ``values``
    where the attribute holds something else (a :class:`Linear`'s ``bias`` is a
    :class:`Parameter`, its config says whether there is one). A dtype is stored as its
    name and a tuple as a list, as JSON would return them. Every ``get_config`` of the
    package (layers, losses, scalers, optimisers' hyper-parameters, the trainer's
    settings) is this function, so checkpoints hold one kind of dict.
    """
    config = {}
    for name in names:
        value = values[name] if name in values else getattr(obj, name)
        if isinstance(value, np.dtype):
            value = value.name
        elif isinstance(value, tuple):
            value = list(value)
        config[name] = value
    return config


class Parameter:
    """A named array with a gradient buffer of the same shape and dtype.

    ``np.asarray(p)`` gives ``p.data`` without copying.

    Parameters
    ----------
    data : numpy.ndarray
        The values (float32 or float64).
    name : str
        The parameter's name in its module.
    """

    __slots__ = ("_data", "grad", "name")

    def __init__(self, data: np.ndarray, name: str = "") -> None:
        data = np.array(data, order="C")  # an owned, writeable, C-contiguous copy
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter {name!r}: expected a floating array, got dtype {data.dtype}")
        self._data = data
        self.grad = np.zeros_like(data)
        self.name = name

    @property
    def data(self) -> np.ndarray:
        """The value. Assigning a new array checks its shape and dtype and stores
        a C-contiguous copy when needed (the kernels rely on both)."""
        return self._data

    @data.setter
    def data(self, value) -> None:
        value = np.asarray(value)
        if value.shape != self._data.shape:
            raise ValueError(f"Parameter {self.name!r}: expected shape {self._data.shape}, got {value.shape}")
        if value.dtype != self._data.dtype:
            raise TypeError(f"Parameter {self.name!r}: expected dtype {self._data.dtype}, got {value.dtype}")
        if not (value.flags.c_contiguous and value.flags.writeable):
            value = value.copy(order="C")
        self._data = value

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def zero_grad(self) -> None:
        self.grad.fill(0)

    def __array__(self, dtype=None, copy=None):
        if dtype is None or np.dtype(dtype) == self.data.dtype:
            return self.data.copy() if copy else self.data
        return self.data.astype(dtype)

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: parameter registry, ``train``/``eval`` mode, state dicts.

    Subclasses register parameters with :meth:`_register` (in a fixed order:
    that order is the order of :meth:`parameters`) and sub-modules with
    :meth:`_register_module`.
    """

    training: bool

    def __init__(self) -> None:
        self._params: dict[str, Parameter] = {}
        self._modules: dict[str, Module] = {}
        self.training = True

    # registry ---------------------------------------------------------------
    def _register(self, name: str, data: np.ndarray) -> Parameter:
        p = Parameter(data, name)
        self._params[name] = p
        return p

    def _register_module(self, name: str, module: Module) -> Module:
        self._modules[name] = module
        return module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs, the module's own first, then its submodules' (dotted).

        Parameters
        ----------
        prefix : str
            Prepended to every name.

        Yields
        ------
        (str, Parameter)
        """
        for name, p in self._params.items():
            yield prefix + name, p
        for mname, m in self._modules.items():
            yield from m.named_parameters(prefix + mname + ".")

    def parameters(self) -> list[Parameter]:
        """All parameters, in registration order (the optimiser's order)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters()))

    # modes ------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout on, the tape recorded) or, with ``False``, eval mode.

        Parameters
        ----------
        mode : bool
            True for training, False for evaluation; applied to every submodule.

        Returns
        -------
        self
        """
        self.training = bool(mode)
        for m in self._modules.values():
            m.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    # state ------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter value, keyed by PyTorch-style names."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        """Copy values into the parameters, checking names, shapes and finiteness.

        Parameters
        ----------
        state : dict of str to numpy.ndarray
            :meth:`state_dict`'s output, or one like it.
        strict : bool
            Require exactly the module's names (else load the ones present).

        Raises
        ------
        KeyError
            ``strict`` and a name is missing or unexpected.
        ValueError
            A shape differs, or a value is not finite.
        """
        params = dict(self.named_parameters())
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: state does not match {type(self).__name__}: "
                f"missing keys {missing}, unexpected keys {unexpected}"
            )
        for name, p in params.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            if value.shape != p.data.shape:
                raise ValueError(
                    f"load_state_dict: {name!r} expected shape {p.data.shape}, got {value.shape}"
                )
            if value.dtype.kind != "f" and value.dtype.kind not in "iu":
                raise TypeError(
                    f"load_state_dict: {name!r} expected a real floating array, got dtype {value.dtype}"
                )
            if not np.all(np.isfinite(value)):
                raise ValueError(f"load_state_dict: {name!r} contains NaN or Inf")
            p.data[...] = value
