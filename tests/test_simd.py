"""The micro-kernels: the machine code they compile to, every vector width, and
results that do not depend on the number of threads."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from naive import kernel_problem

from fastlstm import kernels as K
from fastlstm.kernels import drivers as D
from fastlstm.kernels import simd

X86 = platform.machine().lower() in ("x86_64", "amd64")
REGISTER = {512: "zmm", 256: "ymm", 128: "xmm"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_microkernel_issues_packed_fmas_of_the_machines_width(dtype):
    asm = simd.inspect_microkernel(dtype)
    suffix = "ps" if dtype == "float32" else "pd"
    if not X86:  # pragma: no cover - the CI machines are x86-64
        pytest.skip("the register names below are x86's")
    reg = REGISTER[simd.VECTOR_BITS]
    fmas = re.findall(rf"vfmadd\d+{suffix}\s+[^\n]*%{reg}", asm)
    # the unrolled inner loop: one FMA per accumulator (R rows x NV gate vectors)
    assert len(fmas) >= simd.ROW_BLOCKS[0] * simd.NV, (len(fmas), reg)
    assert not re.findall(rf"vfmadd\d+s{suffix[1]}\b", asm), "scalar FMAs in the micro-kernel"


WIDTH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    from naive import kernel_problem, ref_lstm_backward, ref_lstm_forward
    from tolerances import rel_err
    from fastlstm import kernels as K
    from fastlstm.kernels import simd
    out = {{"bits": simd.VECTOR_BITS, "errors": {{}}}}
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        p = kernel_problem(rng, 5, 9, 3, 21, dtype, lengths=True)
        y, h, c, cache = K.lstm_forward(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], p["lengths"])
        g = K.lstm_backward(p["dy"], p["dh_n"], p["dc_n"], cache, p["w_ih"], p["w_hh"])
        args = (p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], p["lengths"])
        ry, rh, rc, rcache = ref_lstm_forward(*args)
        rg = ref_lstm_backward(p["dy"], p["dh_n"], p["dc_n"], rcache, p["w_ih"], p["w_hh"])
        out["errors"][np.dtype(dtype).name] = max(
            float(rel_err(a, b)) for a, b in ((y, ry), (h, rh), (c, rc), (g.dx, rg.dx), (g.dh0, rg.dh0),
                                              (g.dw_ih, rg.dw_ih), (g.dw_hh, rg.dw_hh), (g.db, rg.db)))
    asm = simd.inspect_microkernel("float32")
    out["fma_registers"] = sorted(set(re.findall(r"vfmadd\\d+ps\\s+[^\\n]*%([xyz]mm)", asm))) if {x86} else []
    print(json.dumps(out))
    """
)


@pytest.mark.parametrize("bits", [128, 256])
def test_every_vector_width_matches_the_reference(bits):
    """The AVX2 width (256) and the SSE/NEON one (128), forced on this machine: the same
    results, and the code uses registers of that width (the cache is off for this)."""
    from tolerances import tol

    tests = os.path.dirname(os.path.abspath(__file__))
    script = "import re\n" + WIDTH_SCRIPT.format(tests=tests, x86=X86)
    env = {**os.environ, "FASTLSTM_VECTOR_BITS": str(bits)}
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["bits"] == bits
    for dtype, err in out["errors"].items():
        assert err <= tol(np.dtype(dtype)).ref, (dtype, err)
    if X86:
        assert out["fma_registers"] == [REGISTER[bits]]


def test_bad_vector_width_is_refused():
    env = {**os.environ, "FASTLSTM_VECTOR_BITS": "300"}
    r = subprocess.run([sys.executable, "-c", "import fastlstm"], capture_output=True, text=True, env=env)
    assert r.returncode != 0
    assert "FASTLSTM_VECTOR_BITS: expected 128, 256 or 512, got '300'" in r.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recurrence_is_bitwise_identical_for_any_thread_count(rng, dtype):
    """Every row's arithmetic is the same whichever thread computes it, and each weight
    gradient entry is summed in one order whichever thread owns its panel: forward states
    and every gradient match bitwise for 1..4 threads, float32 too."""
    p = kernel_problem(rng, 9, 23, 4, 37, dtype, lengths=True)
    results = []
    for n in (1, 2, 3, 4):
        st, hs, cs, gates = D.forward_alloc(
            p["x"],
            p["h0"],
            p["c0"],
            p["w_ih"],
            p["w_hh"],
            p["b"],
            np.zeros_like(p["b"]),
            p["lengths"],
            n,
            True,
        )
        bw = D.backward_alloc(
            p["dy"], p["dh_n"], p["dc_n"], p["x"], hs, cs, gates, p["w_ih"], p["w_hh"], p["lengths"], n
        )
        results.append((hs, cs, gates) + tuple(bw[1:]))  # dx, dh0, dc0, dA, dW_ih, dW_hh, db, norms
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_inference_path_equals_the_recorded_one(rng):
    """keep=False (eval: no cache, alternating c buffers) gives the same outputs bitwise."""
    p = kernel_problem(rng, 8, 5, 3, 20, np.float32, lengths=True)
    args = (p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b"], np.zeros_like(p["b"]), p["lengths"])
    y1, h1, c1, cache = K.api.forward_core(*args, keep=True)
    y2, h2, c2, none = K.api.forward_core(*args, keep=False)
    assert none is None and cache is not None
    for a, b in ((y1, y2), (h1, h2), (c1, c2)):
        np.testing.assert_array_equal(a, b)
