"""Benchmark configurations: the reference table and ``NAME:B,T,I,H,dtype`` parsing."""

from __future__ import annotations

import logging
from typing import NamedTuple

from .._optional import install_hint

logger = logging.getLogger(__name__)

SCHEMA = "fastlstm-bench/1"

_INSTALL_BENCH = install_hint("bench")
_INSTALL_TORCH = install_hint("torch")


class Config(NamedTuple):
    """One benchmark configuration: a one-layer LSTM and its problem size (and projection)."""

    name: str
    B: int  #: batch rows
    T: int  #: time steps
    I: int  #: input features  # noqa: E741
    H: int  #: hidden units
    dtype: str  #: "float32" or "float64"
    P: int = 0  #: proj_size (0: no projection)

    @property
    def flops_forward(self) -> int:
        """``2 T B 4H (I + R)`` (``R = P`` with a projection, else ``H``): the multiply-adds of
        the input and recurrent products, plus ``2 T B P H`` for the projection (F7)."""
        R = self.P or self.H
        return 2 * self.T * self.B * 4 * self.H * (self.I + R) + 2 * self.T * self.B * self.P * self.H

    @property
    def flops_training(self) -> int:
        """Forward plus backward: three times the forward count."""
        return 3 * self.flops_forward

    @property
    def streaming(self) -> bool:
        """One step per call with the state carried over (inference is then streaming latency)."""
        return self.T == 1

    def as_dict(self) -> dict:
        """The fields as a dict (a report's ``config``); ``P`` only with a projection, so rows
        without one keep the schema of earlier reports."""
        d = dict(self._asdict())
        if not self.P:
            del d["P"]
        return d


#: The reference configurations, in the order of the table.
REFERENCE_CONFIGS: dict[str, Config] = {
    c.name: c
    for c in (
        Config("step", 1, 1, 1, 32, "float32"),
        Config("tiny", 32, 50, 1, 32, "float32"),
        Config("small", 64, 100, 8, 64, "float32"),
        Config("medium", 32, 100, 32, 128, "float32"),
        Config("large", 128, 50, 64, 256, "float32"),
        Config("medium64", 32, 100, 32, 128, "float64"),
    )
}

#: Projected layers (LSTMP, ``proj_size`` P), run by default beside the reference table when
#: PyTorch is installed (the NumPy reference has no projection): the rows of issue 20, item 5.
PROJECTION_CONFIGS: dict[str, Config] = {
    c.name: c
    for c in (
        Config("proj128", 64, 100, 32, 128, "float32", 64),
        Config("proj256", 64, 100, 32, 256, "float32", 128),
    )
}

#: Bound on the max-norm relative error (max |a - e| / max |e|, per tensor) of fastlstm
#: against the float64 oracle. float32: the test suite measures at most ~1.2e-6 up to
#: T = 200; 1e-4 leaves room for the larger sums of these sizes while any wrong term
#: shows up at 1e-3 or more. float64: measured ~1e-15; 1e-10 as in the tests.
CHECK_RTOL: dict[str, float] = {"float32": 1e-4, "float64": 1e-10}

_DTYPES = {"float32": "float32", "f32": "float32", "float64": "float64", "f64": "float64"}


def parse_config(text: str) -> Config:
    """Parse ``NAME:B,T,I,H,dtype[,P]`` (dtype ``float32``/``f32`` or ``float64``/``f64``;
    ``P`` the projection size ``proj_size``, ``0 < P < H``, none when omitted).

    Parameters
    ----------
    text : str
        The configuration, as given to ``--config``.
    """
    name, sep, rest = text.partition(":")
    parts = rest.split(",")
    if not sep or not name or len(parts) not in (5, 6):
        raise ValueError(f"config: expected NAME:B,T,I,H,dtype (e.g. mine:32,100,8,64,float32), got {text!r}")
    try:
        sizes = [int(p) for p in parts[:4]]
    except ValueError:
        raise ValueError(f"config {name!r}: B, T, I and H must be integers, got {parts[:4]}") from None
    if min(sizes) < 1:
        raise ValueError(f"config {name!r}: B, T, I and H must be >= 1, got {sizes}")
    dtype = _DTYPES.get(parts[4].strip().lower())
    if dtype is None:
        raise ValueError(f"config {name!r}: dtype must be float32 or float64, got {parts[4]!r}")
    P = 0
    if len(parts) == 6:
        try:
            P = int(parts[5])
        except ValueError:
            raise ValueError(f"config {name!r}: P (proj_size) must be an integer, got {parts[5]!r}") from None
        if not 0 < P < sizes[3]:
            raise ValueError(f"config {name!r}: P (proj_size) must be in [1, H - 1], got {P}, H = {sizes[3]}")
    return Config(name, *sizes, dtype, P)


# --------------------------------------------------------------------------------------
# NumPy reference LSTM: the oracle without PyTorch, and the baseline it is timed against
# --------------------------------------------------------------------------------------
