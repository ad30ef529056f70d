"""The one tolerance table of the test suite, and the error measures it is applied to.

Error measures
--------------
``rel_err(actual, expected)``
    ``max|actual - expected| / max|expected|`` over the whole tensor (the max-norm
    relative error); when ``expected`` is identically zero it is the absolute error.
    Tensor-wise rather than entry-wise, so an entry that is zero up to cancellation
    does not dominate.
``gradcheck_err(analytic, numeric)``
    Entry-wise ``|a - n| / max(|a|, |n|, GRAD_FLOOR)``: relative for every entry above
    the floor, absolute (scaled by the floor) below it.

Every comparison is against a float64 reference (``tests/naive.py``, torch in float64,
or central differences in float64) fed the same inputs as the code under test.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "GRAD_FLOOR",
    "PROJ_TORCH",
    "TOLERANCES",
    "TORCH_GRADCHECK",
    "Tol",
    "assert_close",
    "gradcheck_err",
    "rel_err",
    "tol",
]


class Tol(NamedTuple):
    ref: float  # rel_err bound for kernels/layer vs a float64 reference (naive or torch)
    fd: float | None  # gradcheck_err bound for analytic vs finite-difference gradients
    fd_step: float | None  # step of the fourth-order central difference
    act: float  # bound on |sigmoid or tanh - exact| / max(|exact|, act_floor), entry-wise
    act_floor: float


# Sequence lengths up to SHORT_T use the "short" row; longer ones the "long" row.
SHORT_T = 32

TOLERANCES: dict[tuple[str, str], Tol] = {
    # float64, T <= 32. Kernels, naive and torch compute the same sums in different orders
    # (BLAS blocking vs row loops): results differ by a few ulps (eps = 2.2e-16) times the
    # depth of the computation. Measured worst: 1.3e-15 (kernels vs naive), 8e-16 (layer vs
    # torch, 30 configs). 1e-10 is the brief's bound for torch parity: four orders of
    # magnitude of headroom, while any wrong term shows up at 1e-3 or larger.
    #   fd: the brief's bound for finite differences (max entry-wise relative error 1e-6).
    # The fourth-order stencil at step 1e-3 has truncation error ~ s^4/30 |E^(5)| ~ 1e-13 and
    # rounding error ~ eps |E| / s ~ 1e-12 for |E| ~ 10. Measured worst 7.4e-9, mean 1e-10.
    #   act: float64 sigmoid and tanh (the kernels' own vectorisable exp, Cephes' tanh near 0)
    # are relative-accurate everywhere (also for sigma(-700) ~ 1e-304); measured worst 2 ulp
    # against libm. 1e-15 = 4.5 eps, relative down to 1e-300.
    ("float64", "short"): Tol(ref=1e-10, fd=1e-6, fd_step=1e-3, act=1e-15, act_floor=1e-300),
    # float64, T > 32: rounding grows at most linearly in T (saturating gates damp it).
    # Measured worst 3.1e-15 at T = 200 (kernels), 1.5e-15 at T = 100 (torch). Same bounds.
    ("float64", "long"): Tol(ref=1e-10, fd=1e-6, fd_step=1e-3, act=1e-15, act_floor=1e-300),
    # float32, T <= 32 (eps = 1.2e-7). The float32 code rounds every stored state, gate and
    # product; the reference computes in float64 from the same float32 inputs, so the
    # difference is float32 rounding accumulated through T steps forward and back and the
    # sums over t and b of (B8), plus the float32 activations' own error (see act below).
    # Measured worst 5.8e-7 (kernels vs naive, dW_ih) and 8.6e-7 (layer vs torch-float64);
    # 1.1e-6 against torch in float32, where both sides round (those tests use twice this
    # bound). 2e-5 is ~170 eps, ~20x the worst case seen.
    # No finite differences in float32: a step large enough to beat rounding
    # (sqrt(eps) ~ 3e-4) leaves a truncation error near 1e-4, which would test nothing.
    #   act: float32 tanh is a rational approximation (measured worst 4.4 ulp, 2.6e-7 absolute
    # and relative) and sigma(z) = (1 + tanh(z/2)) / 2, which is accurate in absolute terms only
    # (worst 1.6e-7 absolute; sigma(z) never goes below 2^-23 or above 1 - 2^-23). Gates
    # multiply bounded quantities, so absolute accuracy is what matters: act_floor = 1 makes
    # the check absolute, 5e-7 = ~4 float32 eps.
    ("float32", "short"): Tol(ref=2e-5, fd=None, fd_step=None, act=5e-7, act_floor=1.0),
    # float32, T > 32: the error grows with T; measured worst 1.2e-6 at T = 200. 5e-5.
    ("float32", "long"): Tol(ref=5e-5, fd=None, fd_step=None, act=5e-7, act_floor=1.0),
}

# Entries of a gradient below this magnitude are judged by absolute error GRAD_FLOOR * fd
# (1e-11 with fd = 1e-6), well above the ~1e-12 rounding noise of the stencil. Exact
# zeros (masked steps) must come out as 0 +- that noise.
GRAD_FLOOR = 1e-5


def tol(dtype, T: int | None = None) -> Tol:
    """The tolerance row for ``dtype`` and sequence length ``T``."""
    name = np.dtype(dtype).name
    return TOLERANCES[(name, "short" if T is None or T <= SHORT_T else "long")]


def rel_err(actual, expected) -> float:
    """Max-norm relative error of ``actual`` against ``expected`` (absolute if expected is 0)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"shape mismatch: actual {a.shape}, expected {e.shape}")
    if a.size == 0:
        return 0.0
    diff = float(np.max(np.abs(a - e)))
    scale = float(np.max(np.abs(e)))
    return diff / scale if scale > 0 else diff


def assert_close(actual, expected, dtype, what: str, T: int | None = None, bound: float | None = None):
    """Assert ``rel_err(actual, expected) <= tol(dtype, T).ref``; the message names ``what``."""
    bound = tol(dtype, T).ref if bound is None else bound
    err = rel_err(actual, expected)
    assert np.all(np.isfinite(np.asarray(actual))), f"{what}: non-finite values"
    assert err <= bound, (
        f"{what}: max relative error {err:.3e} > {bound:.1e} ({np.dtype(dtype).name}); "
        f"max |diff| {np.max(np.abs(np.asarray(actual, float) - np.asarray(expected, float))):.3e}, "
        f"max |expected| {np.max(np.abs(np.asarray(expected, float))):.3e}"
    )
    return err


def gradcheck_err(analytic, numeric) -> np.ndarray:
    """Entry-wise relative error with the GRAD_FLOOR guard (see the module docstring)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), GRAD_FLOOR)


# torch.autograd.gradcheck of fastlstm.torch.LSTM in float64 (tests/test_torch_module.py): central
# differences with step eps = 1e-6 (torch's default); an entry passes if
# |analytic - numeric| <= atol + rtol * |numeric|. The difference's rounding error is about
# eps_machine * |E| / eps ~ 1e-10 for outputs of order 1; measured (rtol = 0): every case passes
# at atol = 1e-9 and fails at 1e-10. atol = 1e-7 leaves a 100x margin and rtol = 1e-6 covers the
# larger entries; torch's defaults (atol 1e-5, rtol 1e-3) are 100x and 1000x looser. A backward
# with one weight gradient off by 0.1% fails (test_gradcheck_catches_a_wrong_gradient).
TORCH_GRADCHECK: dict = {"eps": 1e-6, "atol": 1e-7, "rtol": 1e-6}

# Projections (proj_size, tests/test_projection.py): fastlstm.nn.LSTM against
# torch.nn.LSTM(proj_size=P) in float64, outputs, states and every gradient. The projected
# layer's kernels (fastlstm/kernels/projection.py, on the micro-kernel products) and torch's
# BLAS compute the same sums in other orders: a few ulps times the depth, measured worst
# 6.1e-16 (8 configs: 1-2 layers, both directions, batch_first, lengths, no bias, one wider
# than a vector panel; 7.4e-16 with the earlier serial loops), 1.2e-15 at the stack entry.
# 1e-9 is the bound (issue 20, item 5): six orders of headroom, while a missing term
# of (B10) (dW_hr, or dh~ = dh W_hr) is off by 1e-2. Finite differences use the float64 row's
# fd and fd_step (measured worst 4.2e-8 on the tiny case with lengths, 2 layers).
PROJ_TORCH = 1e-9


# ------------------------------------------------------------------ forecasting
# classical decomposition vs statsmodels' seasonal_decompose: the same sums in float64
DECOMPOSE_RTOL = 1e-10
# empirical interval coverage on simulated hold-outs: |observed - nominal| allowed
# (a few hundred correlated hold-out points: a binomial spread of ~3-5 points, plus the
# conformal quantile's own sampling error)
COVERAGE_SLACK = 0.12
# statistical members (fastlstm/forecast/statistical.py) vs statsmodels on the same data.
# SES and Theta forecasts, relative to max|y|: both minimise the same SSE over one smoothing
# parameter (and the initial level), SLSQP here and L-BFGS-B there, each stopping near 1e-8 of
# the objective; measured worst 9.8e-7 over 8 random-walk series. 1e-5: 10x that, while a
# wrong recursion or drift term is off by 1e-2 or more.
STAT_FORECAST_RTOL = 1e-5
# damped trend forecasts on series whose optimum is interior and unique (the SSE is flat in beta
# near 0, so parameters agree to ~1e-2 while forecasts agree closely): measured worst 8.5e-6.
STAT_DAMPED_RTOL = 1e-4
# our optimum's in-sample SSE <= statsmodels' * (1 + this): measured worst +1.3e-8 (ours higher),
# and 1e-4 lower where statsmodels stopped at a worse point; two optimisers' stopping rules.
STAT_SSE_RTOL = 1e-6
# least-squares estimates computed on the same rows (the OLS slope, AR coefficients): rounding
STAT_OLS_RTOL = 1e-10
# ES-RNN hybrid (fastlstm/forecast/esrnn.py): its whole batch loss in float64 against the
# fourth-order central difference with step 1e-4 (truncation ~ s^4 ~ 1e-16, rounding ~ eps |L| / s
# ~ 1e-12), judged by gradcheck_err; measured worst 3.7e-8 (60 entries: the smoothing parameters
# and network weights, MSE and Huber losses). 1e-6 as for the kernels; a term left out or a wrong
# sign is off by 1e-2 or more.
ESRNN_FD = 1e-6
ESRNN_FD_STEP = 1e-4
# seasonal indices learned from zero on simulated log series (pattern amplitude 0.35, noise sd 0.02,
# 120 points): measured worst error 0.010 after centring; 0.05 is 2.5 noise sds, while the
# indices not learned (still 0) are off by 0.35.
ESRNN_SEASON_ATOL = 0.05
# saved forecasts (tests/forecast_reference.py) on a CPU other than the one that wrote them. No
# fast-math flag here reorders a sum (no ``reassoc``, see fastlstm/_config.py), so a CPU with FMA
# gives the same bits whatever its vector width: refitting every case with FASTLSTM_VECTOR_BITS=256
# on the AVX-512 machine that wrote them (Intel Xeon) differed by exactly 0. A CPU without FMA
# rounds each product-sum twice (~1e-16 relative per operation), and a few epochs of training carry
# that into the weights: the bounds leave it 1e-9 (float64) and 1e-4 (float32, eps 6e-8), while a
# changed candidate, mix or scale moves forecasts by 1e-3 or more.
FORECAST_REFERENCE_FLOAT64 = 1e-9
FORECAST_REFERENCE_FLOAT32 = 1e-4
