r"""The pointwise passes in explicit vector code: (F3)-(F5) and (B1)-(B5) on whole vectors.

Same reason as :mod:`~fastlstm.kernels.simd`: Numba's loops over a row vectorise
only with run-time overlap checks and at LLVM's preferred 256 bits, and with
``H`` of 32 to 256 the checks and remainder loops cost as much as the
arithmetic (measured 13 cycles per hidden unit and step). Emitted as LLVM IR,
each row is ``H / VL`` iterations of straight vector code at the machine's
width. The activations are the ones of :mod:`~fastlstm.kernels.activations`,
operation for operation, on vectors: float32 ``tanh`` is the clamped 13/6
rational form and ``sigmoid(z) = (1 + tanh(z/2)) / 2``; float64 uses the
range-reduced ``exp`` (built from its bits), Cephes' ``tanh`` near zero. NaN
passes through every one of them.

A row's last ``H % VL`` units go through the same code with masked loads and
stores: no scalar remainder, so the results do not depend on how the caller was
compiled (a scalar loop with Numba's ``contract`` flag may or may not be fused
into FMAs depending on inlining, measured as 1-ulp differences between the
compiled and the Python entry points).
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .activations import (
    _E,
    _LN2_HI,
    _LN2_LO,
    _LOG2E,
    _ROUND,
    _T_A1,
    _T_A3,
    _T_A5,
    _T_A7,
    _T_A9,
    _T_A11,
    _T_A13,
    _T_B0,
    _T_B2,
    _T_B4,
    _T_B6,
    _T_CLAMP,
    _TP0,
    _TP1,
    _TP2,
    _TQ0,
    _TQ1,
    _TQ2,
)
from .simd import fused_multiply_add, lanes

__all__ = ["backward_row", "forward_row", "nonfinite_sum"]

assert len(_E) == 14 and math.isclose(_E[2], 0.5)


class _V:
    """Vector arithmetic on one LLVM vector type, emitting into ``builder``."""

    def __init__(self, builder, vty):
        self.b = builder
        self.vty = vty
        self.f32 = isinstance(vty.element, ir.FloatType)
        sfx = f"v{vty.count}{'f32' if self.f32 else 'f64'}"
        mod = builder.module
        self._fma = fused_multiply_add(builder, vty)
        self._fabs = cgutils.get_or_insert_function(mod, ir.FunctionType(vty, [vty]), f"llvm.fabs.{sfx}")
        self.ity = ir.VectorType(ir.IntType(64), vty.count)

    def c(self, value):
        return ir.Constant(self.vty, [float(value)] * self.vty.count)

    def fma(self, a, b, c):  # a * b + c, fused where the machine has FMA
        return self._fma(a, b, c)

    def abs(self, a):
        return self.b.call(self._fabs, [a])

    def sel(self, cond, a, b):
        return self.b.select(cond, a, b)

    def lt(self, a, b):
        return self.b.fcmp_ordered("<", a, b)

    def gt(self, a, b):
        return self.b.fcmp_ordered(">", a, b)

    def ge(self, a, b):
        return self.b.fcmp_ordered(">=", a, b)

    def ordered(self, a):  # a == a: not NaN
        return self.b.fcmp_ordered("==", a, a)

    # ---------------------------------------------------------------- float32
    def tanh32(self, z):
        b = self.b
        x = self.sel(self.lt(z, self.c(-_T_CLAMP)), self.c(-_T_CLAMP), z)
        x = self.sel(self.gt(x, self.c(_T_CLAMP)), self.c(_T_CLAMP), x)
        x2 = b.fmul(x, x)
        p = self.fma(x2, self.c(_T_A13), self.c(_T_A11))
        for a in (_T_A9, _T_A7, _T_A5, _T_A3, _T_A1):
            p = self.fma(p, x2, self.c(a))
        p = b.fmul(p, x)
        q = self.fma(x2, self.c(_T_B6), self.c(_T_B4))
        q = self.fma(q, x2, self.c(_T_B2))
        q = self.fma(q, x2, self.c(_T_B0))
        return b.fdiv(p, q)

    def sigmoid32(self, z):
        half = self.c(0.5)
        return self.fma(half, self.tanh32(self.b.fmul(half, z)), half)

    # ---------------------------------------------------------------- float64
    def _pow2(self, n):
        """2^n for integral n in the normal range, from the bits of n + 1.5*2^52."""
        b = self.b
        bits = b.bitcast(b.fadd(n, self.c(_ROUND)), self.ity)
        one023 = ir.Constant(self.ity, [1023] * self.vty.count)
        s52 = ir.Constant(self.ity, [52] * self.vty.count)
        return b.bitcast(b.shl(b.add(bits, one023), s52), self.vty)

    def exp_nonpos64(self, y):
        b = self.b
        y = self.sel(self.lt(y, self.c(-745.2)), self.c(-745.2), y)
        n = b.fsub(self.fma(y, self.c(_LOG2E), self.c(_ROUND)), self.c(_ROUND))
        nn = b.fneg(n)
        r = self.fma(nn, self.c(_LN2_HI), y)
        r = self.fma(nn, self.c(_LN2_LO), r)
        p = self.c(_E[13])
        for k in range(12, -1, -1):
            p = self.fma(p, r, self.c(_E[k]))
        n1 = b.fsub(self.fma(n, self.c(0.5), self.c(_ROUND)), self.c(_ROUND))
        n2 = b.fsub(n, n1)
        return b.fmul(b.fmul(p, self._pow2(n1)), self._pow2(n2))

    def tanh64(self, x):
        b = self.b
        a = self.abs(x)
        z = b.fmul(x, x)
        num = self.fma(self.fma(self.c(_TP0), z, self.c(_TP1)), z, self.c(_TP2))
        den = self.fma(self.fma(b.fadd(z, self.c(_TQ0)), z, self.c(_TQ1)), z, self.c(_TQ2))
        small = self.fma(b.fmul(x, z), b.fdiv(num, den), x)
        e = self.exp_nonpos64(b.fmul(self.c(-2.0), self.sel(self.lt(a, self.c(40.0)), a, self.c(40.0))))
        big = b.fdiv(b.fsub(self.c(1.0), e), b.fadd(self.c(1.0), e))
        big = self.sel(self.ge(x, self.c(0.0)), big, b.fneg(big))
        r = self.sel(self.lt(a, self.c(0.625)), small, big)
        return self.sel(self.ordered(x), r, x)

    def sigmoid64(self, x):
        b = self.b
        e = self.exp_nonpos64(b.fneg(self.abs(x)))
        s = b.fdiv(self.c(1.0), b.fadd(self.c(1.0), e))
        r = self.sel(self.ge(x, self.c(0.0)), s, b.fmul(e, s))
        return self.sel(self.ordered(x), r, x)

    def tanh(self, x):
        return self.tanh32(x) if self.f32 else self.tanh64(x)

    def sigmoid(self, x):
        return self.sigmoid32(x) if self.f32 else self.sigmoid64(x)


def _arrays_ok(arrays, ndims):
    if not all(isinstance(a, types.Array) for a in arrays):
        return False
    dt = arrays[0].dtype
    return dt in (types.float32, types.float64) and all(
        a.dtype == dt and a.layout == "C" and a.ndim == n for a, n in zip(arrays, ndims, strict=True)
    )


def _data(context, builder, aryty, ary):
    return context.make_array(aryty)(context, builder, ary).data


def _vector_loop(builder, n_vec, body, init=()):
    """Emit ``for v in range(n_vec): state = body(v, *state)``; returns the final state."""
    i64 = ir.IntType(64)
    pre = builder.block
    loop = builder.append_basic_block("vec.loop")
    after = builder.append_basic_block("vec.after")
    builder.cbranch(builder.icmp_signed(">", n_vec, i64(0)), loop, after)
    builder.position_at_end(loop)
    v = builder.phi(i64)
    v.add_incoming(i64(0), pre)
    phis = []
    for x in init:
        ph = builder.phi(x.type)
        ph.add_incoming(x, pre)
        phis.append(ph)
    new = body(v, *phis)
    v_next = builder.add(v, i64(1))
    end = builder.block
    v.add_incoming(v_next, end)
    for ph, x in zip(phis, new, strict=True):
        ph.add_incoming(x, end)
    builder.cbranch(builder.icmp_signed("<", v_next, n_vec), loop, after)
    builder.position_at_end(after)
    out = []
    for x0, x in zip(init, new, strict=True):
        ph = builder.phi(x0.type)
        ph.add_incoming(x0, pre)
        ph.add_incoming(x, end)
        out.append(ph)
    return out


class _Rows:
    """Vector loads and stores at ``base + offset + v*VL`` of 1-d rows; with ``mask``
    set (the tail of a row), masked loads (zeros in the lanes past the end) and stores."""

    def __init__(self, builder, vty):
        self.b = builder
        self.vty = vty
        self.align = 4 if isinstance(vty.element, ir.FloatType) else 8
        self.mask = None
        mod = builder.module
        mty = ir.VectorType(ir.IntType(1), vty.count)
        pty = vty.as_pointer()
        sfx = f"v{vty.count}{'f32' if isinstance(vty.element, ir.FloatType) else 'f64'}.p0"
        i32 = ir.IntType(32)
        self._mload = cgutils.get_or_insert_function(
            mod, ir.FunctionType(vty, [pty, i32, mty, vty]), f"llvm.masked.load.{sfx}"
        )
        self._mstore = cgutils.get_or_insert_function(
            mod, ir.FunctionType(ir.VoidType(), [vty, pty, i32, mty]), f"llvm.masked.store.{sfx}"
        )

    def tail_mask(self, first, n):
        """Lanes ``first + l < n``."""
        i64 = ir.IntType(64)
        vl = self.vty.count
        lane = ir.Constant(ir.VectorType(i64, vl), list(range(vl)))
        splat = self.b.shuffle_vector(
            self.b.insert_element(
                ir.Constant(ir.VectorType(i64, vl), ir.Undefined), first, ir.IntType(32)(0)
            ),
            ir.Constant(ir.VectorType(i64, vl), ir.Undefined),
            ir.Constant(ir.VectorType(ir.IntType(32), vl), [0] * vl),
        )
        nsplat = self.b.shuffle_vector(
            self.b.insert_element(ir.Constant(ir.VectorType(i64, vl), ir.Undefined), n, ir.IntType(32)(0)),
            ir.Constant(ir.VectorType(i64, vl), ir.Undefined),
            ir.Constant(ir.VectorType(ir.IntType(32), vl), [0] * vl),
        )
        return self.b.icmp_signed("<", self.b.add(splat, lane), nsplat)

    def ptr(self, base, offset, v):
        i64 = ir.IntType(64)
        idx = self.b.add(offset, self.b.mul(v, i64(self.vty.count)))
        return self.b.bitcast(self.b.gep(base, [idx]), self.vty.as_pointer())

    def load(self, base, offset, v):
        if self.mask is None:
            return self.b.load(self.ptr(base, offset, v), align=self.align)
        zero = ir.Constant(self.vty, [0.0] * self.vty.count)
        return self.b.call(
            self._mload, [self.ptr(base, offset, v), ir.IntType(32)(self.align), self.mask, zero]
        )

    def store(self, value, base, offset, v):
        if self.mask is None:
            self.b.store(value, self.ptr(base, offset, v), align=self.align)
        else:
            self.b.call(
                self._mstore, [value, self.ptr(base, offset, v), ir.IntType(32)(self.align), self.mask]
            )


def _row_loop(builder, rows, n, body, init=()):
    """``body(v, *state)`` over the whole vectors of ``n`` units, then once more with
    masked loads and stores over the remaining ``n % VL`` units (if any)."""
    i64 = ir.IntType(64)
    vl = rows.vty.count
    n_vec = builder.sdiv(n, i64(vl))
    state = _vector_loop(builder, n_vec, body, init)
    first = builder.mul(n_vec, i64(vl))
    has_tail = builder.icmp_signed("<", first, n)
    pre = builder.block
    with builder.if_then(has_tail):
        rows.mask = rows.tail_mask(first, n)
        tail_state = body(n_vec, *state)
        rows.mask = None
        tail_block = builder.block
    out = []
    for s0, s1 in zip(state, tail_state, strict=True):
        ph = builder.phi(s0.type)
        ph.add_incoming(s0, pre)
        ph.add_incoming(s1, tail_block)
        out.append(ph)
    return out


def _row_ptr(context, builder, aryty, ary, inds):
    """Pointer to ``ary[inds..., 0]`` (no views: no reference counting in the hot loop)."""
    arr = context.make_array(aryty)(context, builder, ary)
    inds = list(inds) + [ir.IntType(64)(0)] * (aryty.ndim - len(inds))
    return cgutils.get_item_pointer(context, builder, aryty, arr, inds)


def _last_dim(context, builder, aryty, ary):
    return builder.extract_value(context.make_array(aryty)(context, builder, ary).shape, aryty.ndim - 1)


@intrinsic
def forward_row(typingctx, blk, r, h_prev, c_prev, h_new, c_new, gates, b):
    """(F3)-(F5) for row ``b``: ``blk[r]`` [4*Hs] gate-major pre-activations (read);
    h_prev, c_prev [B, H] the states at t-1; h_new, c_new [B, H] out, the states at t
    (may be h_prev, c_prev); gates [B, 4H] out."""
    if not _arrays_ok((blk, h_prev, c_prev, h_new, c_new, gates), (2,) * 6):
        return None
    sig = types.void(blk, r, h_prev, c_prev, h_new, c_new, gates, b)

    def codegen(context, builder, signature, args):
        blkt, rt, hpt, cpt, hnt, cnt, gt, bt = signature.args
        blk_v, r_v, hp_v, cp_v, hn_v, cn_v, g_v, b_v = args
        r_v = context.cast(builder, r_v, rt, types.int64)
        b_v = context.cast(builder, b_v, bt, types.int64)
        fty = context.get_value_type(blkt.dtype)
        vl = lanes(context.get_abi_sizeof(fty))
        vty = ir.VectorType(fty, vl)
        i64 = ir.IntType(64)
        V = _V(builder, vty)
        rows = _Rows(builder, vty)
        a_p = _row_ptr(context, builder, blkt, blk_v, [r_v])
        cp_p = _row_ptr(context, builder, cpt, cp_v, [b_v])
        hn_p = _row_ptr(context, builder, hnt, hn_v, [b_v])
        cn_p = _row_ptr(context, builder, cnt, cn_v, [b_v])
        g_p = _row_ptr(context, builder, gt, g_v, [b_v])
        H = _last_dim(context, builder, hpt, hp_v)
        Hs = builder.sdiv(_last_dim(context, builder, blkt, blk_v), i64(4))
        zero = i64(0)
        H2, H3 = builder.mul(H, i64(2)), builder.mul(H, i64(3))
        S2, S3 = builder.mul(Hs, i64(2)), builder.mul(Hs, i64(3))

        def body(v):
            i = V.sigmoid(rows.load(a_p, zero, v))  # (F3)
            f = V.sigmoid(rows.load(a_p, Hs, v))
            gg = V.tanh(rows.load(a_p, S2, v))
            o = V.sigmoid(rows.load(a_p, S3, v))
            c = V.fma(f, rows.load(cp_p, zero, v), builder.fmul(i, gg))  # (F4)
            h = builder.fmul(o, V.tanh(c))  # (F5)
            rows.store(i, g_p, zero, v)
            rows.store(f, g_p, H, v)
            rows.store(gg, g_p, H2, v)
            rows.store(o, g_p, H3, v)
            rows.store(c, cn_p, zero, v)
            rows.store(h, hn_p, zero, v)
            return ()

        _row_loop(builder, rows, H, body)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def backward_row(typingctx, dy, dh, dc, gates, cs, da, t, b):
    """(B1)-(B5) for the live row ``b`` at step ``t``: dy [T, B, H] upstream gradient;
    dh [B, >=H] dh^rec_t (read); dc [B, H] in dc^rec_t, out dc^rec_{t-1} (B5);
    gates [T, B, 4H]; cs [T+1, B, H] (c_t = cs[t+1], c_{t-1} = cs[t]); da [T, B, 4H]
    out dA_t (B4). Returns ``(sum dh_t^2, sum dc_t^2)`` over the row (lane-wise partial
    sums added in a fixed order)."""
    if not _arrays_ok((dy, dh, dc, gates, cs, da), (3, 2, 2, 3, 3, 3)):
        return None
    sig = types.UniTuple(dy.dtype, 2)(dy, dh, dc, gates, cs, da, t, b)

    def codegen(context, builder, signature, args):
        dyt, dht, dct, gt, cst, dat, tt, bt = signature.args
        dy_v, dh_v, dc_v, g_v, cs_v, da_v, t_v, b_v = args
        t_v = context.cast(builder, t_v, tt, types.int64)
        b_v = context.cast(builder, b_v, bt, types.int64)
        fty = context.get_value_type(dyt.dtype)
        vl = lanes(context.get_abi_sizeof(fty))
        vty = ir.VectorType(fty, vl)
        i64 = ir.IntType(64)
        V = _V(builder, vty)
        rows = _Rows(builder, vty)
        dy_p = _row_ptr(context, builder, dyt, dy_v, [t_v, b_v])
        dh_p = _row_ptr(context, builder, dht, dh_v, [b_v])
        dc_p = _row_ptr(context, builder, dct, dc_v, [b_v])
        g_p = _row_ptr(context, builder, gt, g_v, [t_v, b_v])
        cn_p = _row_ptr(context, builder, cst, cs_v, [builder.add(t_v, i64(1)), b_v])
        cp_p = _row_ptr(context, builder, cst, cs_v, [t_v, b_v])
        da_p = _row_ptr(context, builder, dat, da_v, [t_v, b_v])
        H = _last_dim(context, builder, dyt, dy_v)
        zero = i64(0)
        H2, H3 = builder.mul(H, i64(2)), builder.mul(H, i64(3))
        one = V.c(1.0)

        def body(v, acc_h, acc_c):
            dh_t = builder.fadd(rows.load(dh_p, zero, v), rows.load(dy_p, zero, v))  # (B1)
            tc = V.tanh(rows.load(cn_p, zero, v))
            i = rows.load(g_p, zero, v)
            f = rows.load(g_p, H, v)
            gg = rows.load(g_p, H2, v)
            o = rows.load(g_p, H3, v)
            d_o = builder.fmul(builder.fmul(builder.fmul(dh_t, tc), o), builder.fsub(one, o))  # (B3), (B4)
            dc_t = V.fma(
                builder.fmul(dh_t, o), builder.fsub(one, builder.fmul(tc, tc)), rows.load(dc_p, zero, v)
            )
            d_i = builder.fmul(builder.fmul(builder.fmul(dc_t, gg), i), builder.fsub(one, i))
            d_f = builder.fmul(
                builder.fmul(builder.fmul(dc_t, rows.load(cp_p, zero, v)), f), builder.fsub(one, f)
            )
            d_g = builder.fmul(builder.fmul(dc_t, i), builder.fsub(one, builder.fmul(gg, gg)))
            rows.store(d_i, da_p, zero, v)
            rows.store(d_f, da_p, H, v)
            rows.store(d_g, da_p, H2, v)
            rows.store(d_o, da_p, H3, v)
            rows.store(builder.fmul(dc_t, f), dc_p, zero, v)  # (B5)
            return V.fma(dh_t, dh_t, acc_h), V.fma(dc_t, dc_t, acc_c)

        acc_h, acc_c = _row_loop(builder, rows, H, body, (V.c(0.0), V.c(0.0)))
        sums = []
        for acc in (acc_h, acc_c):
            s = builder.extract_element(acc, ir.IntType(32)(0))
            for lane in range(1, vl):
                s = builder.fadd(s, builder.extract_element(acc, ir.IntType(32)(lane)))
            sums.append(s)
        return context.make_tuple(builder, signature.return_type, sums)

    return sig, codegen


@intrinsic
def nonfinite_sum(typingctx, a):
    """``sum(v * 0)`` over a 1-d array (NaN exactly when one of them is NaN or Inf), in
    lane-wise partial sums: no serial dependency from element to element."""
    if not _arrays_ok((a,), (1,)):
        return None
    sig = a.dtype(a)

    def codegen(context, builder, signature, args):
        (at,) = signature.args
        fty = context.get_value_type(at.dtype)
        vl = lanes(context.get_abi_sizeof(fty))
        vty = ir.VectorType(fty, vl)
        i64 = ir.IntType(64)
        V = _V(builder, vty)
        rows = _Rows(builder, vty)
        a_p = _data(context, builder, at, args[0])
        n = builder.extract_value(context.make_array(at)(context, builder, args[0]).shape, 0)
        zero = i64(0)

        def body(v, acc):
            return (V.fma(rows.load(a_p, zero, v), V.c(0.0), acc),)

        (acc,) = _row_loop(builder, rows, n, body, (V.c(0.0),))
        s = builder.extract_element(acc, ir.IntType(32)(0))
        for lane in range(1, vl):
            s = builder.fadd(s, builder.extract_element(acc, ir.IntType(32)(lane)))
        return s

    return sig, codegen
