r"""Explicit-SIMD micro-kernels for the recurrent products, written in LLVM IR.

Why not ``np.dot``: one step's recurrent product (F2), ``[B, H] x [H, 4H]``, is
too small for BLAS to run well (OpenBLAS reached 10-60% of the cores' rate on
the benchmark shapes), and a BLAS call cannot fuse the gate arithmetic that
follows it. Why not plain Numba loops: LLVM only turns a register-blocked loop
nest into vector code through its SLP vectoriser, which Numba switches off by
default (``NUMBA_SLP_VECTORIZE``, process-wide), and it then prefers 256-bit
vectors on AVX-512 machines. So the inner kernel is emitted here directly as
LLVM IR through :func:`numba.extending.intrinsic`, with LLVM vector types of
the machine's width: nothing depends on process-wide settings, the code is
cached by Numba like any other (the cache is keyed by the CPU), and
:func:`fastlstm.kernels.inspect_microkernel` shows the packed FMAs.

The kernel (BLIS/GotoBLAS register blocking): ``R`` batch rows times ``NV``
vectors of ``VL`` lanes held in ``R*NV`` vector accumulators; for each ``k`` it
loads ``NV`` vectors of the packed weight panel (contiguous), broadcasts one
scalar of each row and issues ``R*NV`` fused multiply-adds
(``llvm.fma`` where the machine has FMA, see :data:`HAS_FMA`). ``R`` is chosen so that
accumulators, panel vectors and the broadcast fit the register file (32 vector
registers on AVX-512 and AArch64, 16 on AVX2/SSE).

Vector width, from the CPU Numba compiles for (``NUMBA_CPU_NAME`` /
``NUMBA_CPU_FEATURES`` when set, else the host): 512 bits with AVX-512F, 256
with AVX, 128 otherwise (SSE2, NEON); ``FASTLSTM_VECTOR_BITS`` overrides it
(128, 256 or 512; the tests use it to run every width on one machine).
"""

from __future__ import annotations

import os

import llvmlite.binding as llb
import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "HAS_FMA",
    "NV",
    "ROW_BLOCKS",
    "VECTOR_BITS",
    "inspect_microkernel",
    "lanes",
    "make_backward_kernel",
    "make_forward_chunk_kernel",
    "make_forward_kernel",
    "make_gemm_kernel",
]


def _cpu_features() -> str:
    if numba.config.CPU_FEATURES:
        return numba.config.CPU_FEATURES
    if numba.config.CPU_NAME and numba.config.CPU_NAME != "host":
        return ""  # a named portable target (e.g. "generic"): assume the baseline
    return llb.get_host_cpu_features().flatten()


def _vector_bits() -> int:
    env = os.environ.get("FASTLSTM_VECTOR_BITS")
    if env:
        if env not in ("128", "256", "512"):
            raise ValueError(f"FASTLSTM_VECTOR_BITS: expected 128, 256 or 512, got {env!r}")
        return int(env)
    feats = set(_cpu_features().split(","))
    if "+avx512f" in feats:
        return 512
    if "+avx" in feats:
        return 256
    return 128


#: width of the vectors the micro-kernels use, in bits
VECTOR_BITS: int = _vector_bits()

#: whether the target has fused multiply-add. The kernels then call ``llvm.fma``
#: (always fused) rather than ``llvm.fmuladd`` (fused at the code generator's
#: discretion, which can differ between two compilations of the same kernel and
#: so break bitwise reproducibility); without it, a multiply and an add.
HAS_FMA: bool = bool({"+fma", "+avx512f", "+neon", "+fp-armv8"} & set(_cpu_features().split(","))) or (
    llb.get_process_triple().startswith("aarch64")
)


def fused_multiply_add(builder, vty):
    """A function ``f(a, b, c) = a * b + c`` for vectors of type ``vty``: one rounding
    where the machine has FMA, two otherwise; the same choice in every compilation."""
    if not HAS_FMA:
        return lambda a, b, c: builder.fadd(builder.fmul(a, b), c)
    fty = vty.element
    name = f"llvm.fma.v{vty.count}{'f32' if isinstance(fty, ir.FloatType) else 'f64'}"
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty, vty, vty]), name)
    return lambda a, b, c: builder.call(fn, [a, b, c])


_REGISTERS = 32 if (VECTOR_BITS == 512 or llb.get_process_triple().startswith("aarch64")) else 16

#: vectors per row in one panel: the four gates (i, f, g, o) of ``lanes`` hidden units
NV: int = 4

#: row-block sizes, largest first: the largest fills the register file with
#: ``R * NV`` accumulators; the smaller ones take the remainder rows
ROW_BLOCKS: tuple[int, int, int, int] = (6, 4, 2, 1) if _REGISTERS == 32 else (3, 2, 1, 1)


def lanes(itemsize: int) -> int:
    """Lanes of one vector for elements of ``itemsize`` bytes (16 float32 on AVX-512)."""
    return VECTOR_BITS // (8 * itemsize)


def _arrays_ok(arrays, ndims) -> bool:
    """Typing check: C-contiguous float arrays of one dtype and the given ranks."""
    if not all(isinstance(a, types.Array) for a in arrays):
        return False
    dt = arrays[0].dtype
    return dt in (types.float32, types.float64) and all(
        a.dtype == dt and a.layout == "C" and a.ndim == n for a, n in zip(arrays, ndims, strict=True)
    )


def _item_ptr(context, builder, aryty, ary, inds):
    arr = context.make_array(aryty)(context, builder, ary)
    return cgutils.get_item_pointer(context, builder, aryty, arr, inds)


def _panel_loop(builder, accs, sources, vty, nv, vl):
    """Emit ``accs[r*nv + v] += sum_k a_r[k] * w[k*nv*vl + v*vl : ...]`` for each source.

    ``sources``: list of ``(a_rows, K, w)``: ``a_rows`` one element pointer per row,
    ``K`` the trip count (i64), ``w`` the panel's first element pointer (rows of
    ``nv*vl`` contiguous elements). Returns the accumulators after all sources.
    """
    i64 = ir.IntType(64)
    i32 = ir.IntType(32)
    fty = vty.element
    fma = fused_multiply_add(builder, vty)
    splat = ir.Constant(ir.VectorType(i32, vl), [0] * vl)
    align = 4 if isinstance(fty, ir.FloatType) else 8
    for a_rows, K, w in sources:
        pre = builder.block
        loop = builder.append_basic_block("panel.loop")
        after = builder.append_basic_block("panel.after")
        builder.cbranch(builder.icmp_signed(">", K, i64(0)), loop, after)
        builder.position_at_end(loop)
        k = builder.phi(i64)
        k.add_incoming(i64(0), pre)
        phis = []
        for acc in accs:
            ph = builder.phi(vty)
            ph.add_incoming(acc, pre)
            phis.append(ph)
        wk = builder.gep(w, [builder.mul(k, i64(nv * vl))])
        ws = [
            builder.load(builder.bitcast(builder.gep(wk, [i64(v * vl)]), vty.as_pointer()), align=align)
            for v in range(nv)
        ]
        new = []
        for r, a_row in enumerate(a_rows):
            s = builder.load(builder.gep(a_row, [k]))
            vb = builder.insert_element(ir.Constant(vty, ir.Undefined), s, i32(0))
            vb = builder.shuffle_vector(vb, ir.Constant(vty, ir.Undefined), splat)
            for v in range(nv):
                new.append(fma(vb, ws[v], phis[r * nv + v]))
        k_next = builder.add(k, i64(1))
        end = builder.block
        k.add_incoming(k_next, end)
        for ph, val in zip(phis, new, strict=True):
            ph.add_incoming(val, end)
        builder.cbranch(builder.icmp_signed("<", k_next, K), loop, after)
        builder.position_at_end(after)
        out = []
        for acc, val in zip(accs, new, strict=True):
            ph = builder.phi(vty)
            ph.add_incoming(acc, pre)
            ph.add_incoming(val, end)
            out.append(ph)
        accs = out
    return accs


def _load_vecs(builder, ptr, vty, nv, vl):
    align = 4 if isinstance(vty.element, ir.FloatType) else 8
    return [
        builder.load(
            builder.bitcast(builder.gep(ptr, [ir.IntType(64)(v * vl)]), vty.as_pointer()), align=align
        )
        for v in range(nv)
    ]


def _store_vecs(builder, vals, ptr, vty, vl):
    align = 4 if isinstance(vty.element, ir.FloatType) else 8
    for v, val in enumerate(vals):
        builder.store(
            val, builder.bitcast(builder.gep(ptr, [ir.IntType(64)(v * vl)]), vty.as_pointer()), align=align
        )


def make_forward_kernel(R: int):
    """The fused input and recurrent product of one panel, (F1)+(F2), for ``R`` rows.

    ``kernel(x, hs, t, row0, wxp, whp, bp, p, blk)`` computes, for ``r < R`` and the
    ``NV * VL`` columns of panel ``p`` (gate ``v``, lane ``l``)::

        A[r, v, l] = bp[p, v*VL+l] + sum_k x[t, row0+r, k] wxp[p, k, v*VL+l]
                                   + sum_k hs[t, row0+r, k] whp[p, k, v*VL+l]

    and stores it gate-major, ``blk[r, v*Hs + p*VL + l]`` with ``Hs = blk.shape[1] / 4``
    (x [T, B, I], hs [T+1, B, H], wxp [P, I, NV*VL], whp [P, H, NV*VL],
    bp [P, NV*VL], blk [>=R, 4*Hs], Hs >= P*VL; all C-contiguous, one float
    dtype): after all panels, ``blk[r]`` is ``[A_i | A_f | A_g | A_o]``, each
    ``Hs`` long, as the pointwise pass wants it. The sum
    runs over k in a fixed order (inputs, then hidden units), whatever the row
    block: every row's result is the same bitwise for any blocking and any
    number of threads.
    """

    @intrinsic
    def kernel(typingctx, x, hs, t, row0, wxp, whp, bp, p, blk):
        if not _arrays_ok((x, hs, wxp, whp, bp, blk), (3, 3, 3, 3, 2, 2)):
            return None
        sig = types.void(x, hs, t, row0, wxp, whp, bp, p, blk)

        def codegen(context, builder, signature, args):
            x_v, hs_v, t_v, row0_v, wxp_v, whp_v, bp_v, p_v, blk_v = args
            xt, hst, _, _, wxpt, whpt, bpt, _, blkt = signature.args
            fty = context.get_value_type(xt.dtype)
            vl = lanes(context.get_abi_sizeof(fty))
            vty = ir.VectorType(fty, vl)
            i64 = ir.IntType(64)
            t_v = context.cast(builder, t_v, signature.args[2], types.int64)
            row0_v = context.cast(builder, row0_v, signature.args[3], types.int64)
            p_v = context.cast(builder, p_v, signature.args[7], types.int64)
            zero = i64(0)
            x_rows = [
                _item_ptr(context, builder, xt, x_v, [t_v, builder.add(row0_v, i64(r)), zero])
                for r in range(R)
            ]
            h_rows = [
                _item_ptr(context, builder, hst, hs_v, [t_v, builder.add(row0_v, i64(r)), zero])
                for r in range(R)
            ]
            n_in = builder.extract_value(context.make_array(xt)(context, builder, x_v).shape, 2)
            n_h = builder.extract_value(context.make_array(hst)(context, builder, hs_v).shape, 2)
            wx = _item_ptr(context, builder, wxpt, wxp_v, [p_v, zero, zero])
            wh = _item_ptr(context, builder, whpt, whp_v, [p_v, zero, zero])
            bias = _load_vecs(builder, _item_ptr(context, builder, bpt, bp_v, [p_v, zero]), vty, NV, vl)
            accs = [bias[v] for _ in range(R) for v in range(NV)]
            accs = _panel_loop(builder, accs, [(x_rows, n_in, wx), (h_rows, n_h, wh)], vty, NV, vl)
            # gate-major block: gate v of unit p*VL + l goes to blk[r, v*Hs + p*VL + l]
            Hs = builder.sdiv(
                builder.extract_value(context.make_array(blkt)(context, builder, blk_v).shape, 1), i64(NV)
            )
            col0 = builder.mul(p_v, i64(vl))
            for r in range(R):
                for v in range(NV):
                    col = builder.add(builder.mul(i64(v), Hs), col0)
                    dst = _item_ptr(context, builder, blkt, blk_v, [i64(r), col])
                    _store_vecs(builder, accs[r * NV + v : r * NV + v + 1], dst, vty, vl)
            return context.get_dummy_value()

        return sig, codegen

    return kernel


def make_forward_chunk_kernel(R: int):
    """:func:`make_forward_kernel` over a range ``[k0, k1)`` of the concatenated ``k``
    (``x_t``'s ``I`` inputs, then ``h_{t-1}``'s ``H`` units), for the panel-outer order.

    ``kernel(x, hs, t, row0, wxp, whp, bp, p, blk, brow, k0, k1)`` starts from the bias
    when ``k0 == 0`` and from ``blk`` otherwise, adds the products of the range and
    stores gate-major at ``blk[brow + r, v*Hs + p*VL + l]`` (so ``blk`` holds all rows of
    a thread). Chunk after chunk over ``[0, I + H)``, every result is bitwise the one of
    :func:`make_forward_kernel`: the same FMAs in the same order, the partial sums kept
    exactly in ``blk`` between chunks. The chunks let a slice of a weight panel (a few
    KiB) serve every row block of a step from L1 instead of streaming the whole packed
    matrix from L2 once per row block.
    """

    @intrinsic
    def kernel(typingctx, x, hs, t, row0, wxp, whp, bp, p, blk, brow, k0, k1):
        if not _arrays_ok((x, hs, wxp, whp, bp, blk), (3, 3, 3, 3, 2, 2)):
            return None
        sig = types.void(x, hs, t, row0, wxp, whp, bp, p, blk, brow, k0, k1)

        def codegen(context, builder, signature, args):
            x_v, hs_v, _, _, wxp_v, whp_v, bp_v, _, blk_v, _, _, _ = args
            xt, hst, _, _, wxpt, whpt, bpt, _, blkt, _, _, _ = signature.args
            t_v, row0_v, p_v, brow_v, k0_v, k1_v = (
                context.cast(builder, args[i], signature.args[i], types.int64) for i in (2, 3, 7, 9, 10, 11)
            )
            fty = context.get_value_type(xt.dtype)
            vl = lanes(context.get_abi_sizeof(fty))
            vty = ir.VectorType(fty, vl)
            i64 = ir.IntType(64)
            zero = i64(0)
            n_in = builder.extract_value(context.make_array(xt)(context, builder, x_v).shape, 2)
            kx0 = _imin(builder, k0_v, n_in)
            kx1 = _imin(builder, k1_v, n_in)
            kh0 = builder.sub(_imax(builder, k0_v, n_in), n_in)
            kh1 = builder.sub(_imax(builder, k1_v, n_in), n_in)
            x_rows = [
                _item_ptr(context, builder, xt, x_v, [t_v, builder.add(row0_v, i64(r)), kx0])
                for r in range(R)
            ]
            h_rows = [
                _item_ptr(context, builder, hst, hs_v, [t_v, builder.add(row0_v, i64(r)), kh0])
                for r in range(R)
            ]
            wx = _item_ptr(context, builder, wxpt, wxp_v, [p_v, kx0, zero])
            wh = _item_ptr(context, builder, whpt, whp_v, [p_v, kh0, zero])
            Hs = builder.sdiv(
                builder.extract_value(context.make_array(blkt)(context, builder, blk_v).shape, 1), i64(NV)
            )
            col0 = builder.mul(p_v, i64(vl))
            dsts = [
                [
                    _item_ptr(
                        context,
                        builder,
                        blkt,
                        blk_v,
                        [builder.add(brow_v, i64(r)), builder.add(builder.mul(i64(v), Hs), col0)],
                    )
                    for v in range(NV)
                ]
                for r in range(R)
            ]
            # the start: the bias on the first chunk, the partial sums in blk after it
            first = builder.icmp_signed("==", k0_v, zero)
            bias = _load_vecs(builder, _item_ptr(context, builder, bpt, bp_v, [p_v, zero]), vty, NV, vl)
            with builder.if_else(first) as (then, otherwise):
                with then:
                    bb_then = builder.block
                with otherwise:
                    part = [
                        _load_vecs(builder, dsts[r][v], vty, 1, vl)[0] for r in range(R) for v in range(NV)
                    ]
                    bb_else = builder.block
            accs = []
            for i in range(R * NV):
                ph = builder.phi(vty)
                ph.add_incoming(bias[i % NV], bb_then)
                ph.add_incoming(part[i], bb_else)
                accs.append(ph)
            accs = _panel_loop(
                builder,
                accs,
                [(x_rows, builder.sub(kx1, kx0), wx), (h_rows, builder.sub(kh1, kh0), wh)],
                vty,
                NV,
                vl,
            )
            for r in range(R):
                for v in range(NV):
                    _store_vecs(builder, accs[r * NV + v : r * NV + v + 1], dsts[r][v], vty, vl)
            return context.get_dummy_value()

        return sig, codegen

    return kernel


def _imin(builder, a, b):
    return builder.select(builder.icmp_signed("<", a, b), a, b)


def _imax(builder, a, b):
    return builder.select(builder.icmp_signed(">", a, b), a, b)


def make_backward_kernel(R: int):
    """The recurrent product of BPTT, (B6), for ``R`` rows and one panel of outputs.

    ``kernel(da, t, row0, wbp, p, out)`` writes, for ``r < R``::

        out[row0+r, p*NV*VL : (p+1)*NV*VL] = sum_k da[t, row0+r, k] wbp[p, k, :]

    (da [T, B, 4H], wbp [P, 4H, NV*VL], out [B, P*NV*VL]), k in a fixed order.
    """

    @intrinsic
    def kernel(typingctx, da, t, row0, wbp, p, out):
        if not _arrays_ok((da, wbp, out), (3, 3, 2)):
            return None
        sig = types.void(da, t, row0, wbp, p, out)

        def codegen(context, builder, signature, args):
            da_v, t_v, row0_v, wbp_v, p_v, out_v = args
            dat, _, _, wbpt, _, outt = signature.args
            fty = context.get_value_type(dat.dtype)
            vl = lanes(context.get_abi_sizeof(fty))
            vty = ir.VectorType(fty, vl)
            i64 = ir.IntType(64)
            t_v = context.cast(builder, t_v, signature.args[1], types.int64)
            row0_v = context.cast(builder, row0_v, signature.args[2], types.int64)
            p_v = context.cast(builder, p_v, signature.args[4], types.int64)
            zero = i64(0)
            rows = [
                _item_ptr(context, builder, dat, da_v, [t_v, builder.add(row0_v, i64(r)), zero])
                for r in range(R)
            ]
            n_k = builder.extract_value(context.make_array(dat)(context, builder, da_v).shape, 2)
            w = _item_ptr(context, builder, wbpt, wbp_v, [p_v, zero, zero])
            accs = [ir.Constant(vty, [0.0] * vl) for _ in range(R * NV)]
            accs = _panel_loop(builder, accs, [(rows, n_k, w)], vty, NV, vl)
            col0 = builder.mul(p_v, i64(NV * vl))
            for r in range(R):
                dst = _item_ptr(context, builder, outt, out_v, [builder.add(row0_v, i64(r)), col0])
                _store_vecs(builder, accs[r * NV : (r + 1) * NV], dst, vty, vl)
            return context.get_dummy_value()

        return sig, codegen

    return kernel


def inspect_microkernel(dtype="float32") -> str:
    """The machine code of the forward micro-kernel (largest row block) for ``dtype``.

    On x86 with AVX-512 its inner loop is ``vbroadcastss`` plus packed ``vfmadd231ps``
    on ``zmm`` registers (``ymm`` with AVX2); the tests pin that on the machine they run on.
    """
    import numpy as np
    from numba import njit

    kernel = make_forward_kernel(ROW_BLOCKS[0])

    @njit
    def one_block(x, hs, wxp, whp, bp, blk):
        kernel(x, hs, 0, 0, wxp, whp, bp, 0, blk)

    dt = np.dtype(dtype)
    U = lanes(dt.itemsize)
    R = ROW_BLOCKS[0]
    args = (
        np.zeros((1, R, 1), dt),
        np.zeros((1, R, U), dt),
        np.zeros((1, 1, 4 * U), dt),
        np.zeros((1, U, 4 * U), dt),
        np.zeros((1, 4 * U), dt),
        np.zeros((R, 4 * U), dt),
    )
    one_block(*args)
    return one_block.inspect_asm(one_block.signatures[0])


def make_gemm_kernel(R: int, nv: int = NV):
    """A register block of a general product, accumulated into ``out``, on flat arrays.

    ``kernel(a, a0, ar, ak, w, w0, wk, K, out, o0, orow)`` adds, for ``r < R`` and the
    ``nv * VL`` columns ``c``::

        out[o0 + r*orow + c] += sum_k a[a0 + r*ar + k*ak] * w[w0 + k*wk + c]

    (a, w, out 1-d C-contiguous arrays of one float dtype; offsets and strides in
    elements). The weight gradients (B8) use it with ``a`` the transposed inputs
    (strided) and ``w`` rows of ``dA``; k runs in a fixed order.
    """

    @intrinsic
    def kernel(typingctx, a, a0, ar, ak, w, w0, wk, K, out, o0, orow):
        if not _arrays_ok((a, w, out), (1, 1, 1)):
            return None
        sig = types.void(a, a0, ar, ak, w, w0, wk, K, out, o0, orow)

        def codegen(context, builder, signature, args):
            at, _, _, _, wt, _, _, _, outt, _, _ = signature.args
            a_v, a0_v, ar_v, ak_v, w_v, w0_v, wk_v, k_v, out_v, o0_v, orow_v = (
                context.cast(builder, v, t, types.int64) if isinstance(t, types.Integer) else v
                for v, t in zip(args, signature.args, strict=True)
            )
            fty = context.get_value_type(at.dtype)
            vl = lanes(context.get_abi_sizeof(fty))
            vty = ir.VectorType(fty, vl)
            i64 = ir.IntType(64)
            a_p = context.make_array(at)(context, builder, a_v).data
            w_p = context.make_array(wt)(context, builder, w_v).data
            o_p = context.make_array(outt)(context, builder, out_v).data
            o_rows = [builder.gep(o_p, [builder.add(o0_v, builder.mul(i64(r), orow_v))]) for r in range(R)]
            accs = []
            for r in range(R):
                accs += _load_vecs(builder, o_rows[r], vty, nv, vl)
            accs = _strided_loop(builder, accs, a_p, a0_v, ar_v, ak_v, w_p, w0_v, wk_v, k_v, vty, vl, R, nv)
            for r in range(R):
                _store_vecs(builder, accs[r * nv : (r + 1) * nv], o_rows[r], vty, vl)
            return context.get_dummy_value()

        return sig, codegen

    return kernel


def _strided_loop(builder, accs, a_p, a0, ar, ak, w_p, w0, wk, K, vty, vl, R, nv):
    """The k loop of :func:`make_gemm_kernel`: strided scalars of ``a``, rows of ``w``."""
    i64 = ir.IntType(64)
    i32 = ir.IntType(32)
    fma = fused_multiply_add(builder, vty)
    splat = ir.Constant(ir.VectorType(i32, vl), [0] * vl)
    align = 4 if isinstance(vty.element, ir.FloatType) else 8
    pre = builder.block
    loop = builder.append_basic_block("gemm.loop")
    after = builder.append_basic_block("gemm.after")
    builder.cbranch(builder.icmp_signed(">", K, i64(0)), loop, after)
    builder.position_at_end(loop)
    k = builder.phi(i64)
    k.add_incoming(i64(0), pre)
    phis = []
    for acc in accs:
        ph = builder.phi(vty)
        ph.add_incoming(acc, pre)
        phis.append(ph)
    wk_ptr = builder.gep(w_p, [builder.add(w0, builder.mul(k, wk))])
    ws = [
        builder.load(builder.bitcast(builder.gep(wk_ptr, [i64(v * vl)]), vty.as_pointer()), align=align)
        for v in range(nv)
    ]
    a_k = builder.add(a0, builder.mul(k, ak))
    new = []
    for r in range(R):
        s = builder.load(builder.gep(a_p, [builder.add(a_k, builder.mul(i64(r), ar))]))
        vb = builder.insert_element(ir.Constant(vty, ir.Undefined), s, i32(0))
        vb = builder.shuffle_vector(vb, ir.Constant(vty, ir.Undefined), splat)
        for v in range(nv):
            new.append(fma(vb, ws[v], phis[r * nv + v]))
    k_next = builder.add(k, i64(1))
    end = builder.block
    k.add_incoming(k_next, end)
    for ph, val in zip(phis, new, strict=True):
        ph.add_incoming(val, end)
    builder.cbranch(builder.icmp_signed("<", k_next, K), loop, after)
    builder.position_at_end(after)
    out = []
    for acc, val in zip(accs, new, strict=True):
        ph = builder.phi(vty)
        ph.add_incoming(acc, pre)
        ph.add_incoming(val, end)
        out.append(ph)
    return out
