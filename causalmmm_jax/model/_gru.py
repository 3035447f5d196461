"""The GRU layer over weeks with a hand-written backward pass (``jax.custom_vjp``).

``gru_layer(x, w_i, b_i, w_h, b_hn, h_init)`` runs PyTorch's gate equations over the leading
(time) axis of ``x [T, ..., D]`` and returns the hidden states ``[T, ..., H]``: the input
projection ``x @ W_i`` of all weeks is one matmul, the recurrence scans the weeks.  Same values
as scanning :func:`gru_step` over ``x @ W_i + b_i``; the gradient differs from autodiff of that
scan only in how it is computed:

* the backward scan carries ``dh`` and does one matmul per week, ``dgates @ W_hᵀ``; it adds up
  the bias gradients as it goes and stacks each week's gate gradients;
* after the scan, three matmuls over all weeks: ``dx = dgates_x @ W_iᵀ``,
  ``dW_i = xᵀ @ dgates_x`` and ``dW_h = h_prevᵀ @ dgates_h`` (autodiff accumulates a small
  ``[H, 3H]`` product inside the loop every week).

``matmul_dtype`` (``jnp.bfloat16``): every matmul of the layer (and of :func:`matmul`, which the
coefficient heads use) takes bfloat16 operands and accumulates in float32
(``preferred_element_type``); hidden states, gates, biases and the running gradient ``dh`` stay
float32.  The stacked gate gradients are kept as bfloat16, which is what the matmuls after the
scan read.

Two details of XLA's CPU backend shape the bfloat16 code (both measured on the example panel):
a bfloat16 dot reaches the fast library (YNNPACK) only with both operands row-major and the left
one contracted over its last axis, so the transposed operands of the gradient matmuls are
materialised row-major (:func:`_transposed`; otherwise XLA runs them as float32 dots, about 3x
slower); and a loop that stacks bfloat16 values is rewritten to float32 with a full-array copy
per week, so the stacked gradients travel as their raw 16 bits (``uint16``).

With ``remat`` the backward pass keeps the hidden states (and ``x``) instead of the gates; each
week's gates are recomputed there from its state and input (two more small matmuls per week).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.experimental.layout import Layout, with_layout_constraint

__all__ = ["gru_step", "gru_layer", "matmul"]


def matmul(a, b, dtype=None):
    """``a [..., K] @ b [K, N]`` with operands cast to ``dtype`` (None: float32 as they are) and a
    float32 result; under ``dtype`` the two matmuls of the gradient take ``dtype`` operands too."""
    if dtype is not None:
        return _low_matmul(a, b, dtype)
    # float32: one 2-D matmul, faster on XLA's CPU backend than a batched one (measured; with
    # bfloat16 operands the batched form was as fast or faster)
    return (a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + (b.shape[-1],))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _low_matmul(a, b, dtype):
    return _dot(a.astype(dtype), b.astype(dtype))


def _low_matmul_fwd(a, b, dtype):
    a16, b16 = a.astype(dtype), b.astype(dtype)
    return _dot(a16, b16), (a16, b16)


def _low_matmul_bwd(dtype, res, g):
    a16, b16 = res
    g16 = g.astype(dtype)
    da = _dot(g16, _transposed(b16))
    a2, g2 = a16.reshape(-1, a16.shape[-1]), g16.reshape(-1, g16.shape[-1])
    if g2.shape[1] < a2.shape[1]:  # transpose the narrower operand: (gᵀ a)ᵀ
        db = _row_major(_dot(_transposed(g2), a2)).T
    else:
        db = _dot(_transposed(a2), g2)
    return da, db


_low_matmul.defvjp(_low_matmul_fwd, _low_matmul_bwd)


def _dot(a, b):
    """``a [..., K] @ b [K, N]`` with a float32 result (operands as they come)."""
    return jnp.matmul(a, b, preferred_element_type=jnp.float32)


def _cpu_bfloat16(a) -> bool:
    return a.dtype == jnp.bfloat16 and jax.default_backend() == "cpu"


def _transposed(a):
    """``a.T`` [N, M]; a bfloat16 one on the CPU backend is stored row-major (a real transpose).

    XLA folds a plain ``.T`` into the dot that reads it (or makes it a column-major view), and
    XLA:CPU then runs such a bfloat16 dot as a float32 one (operands converted, a slower library):
    its fast bfloat16 path takes row-major operands with the left one contracted over its last
    axis only.  The layout request makes the transpose a copy the fast path can read."""
    if not _cpu_bfloat16(a):
        return a.T
    return with_layout_constraint(a.T, Layout(major_to_minor=(0, 1)))


def _row_major(a):
    """``a`` (2-D) kept row-major on the CPU backend, so that a later ``.T`` is a copy rather than
    a column-major view of the dot that produced it (which that dot could not write)."""
    if jax.default_backend() != "cpu":
        return a
    return with_layout_constraint(a, Layout(major_to_minor=(0, 1)))


def _bits(v):
    """bfloat16 values as their 16 raw bits (loops stack these without a float32 detour)."""
    return jax.lax.bitcast_convert_type(v, jnp.uint16) if v.dtype == jnp.bfloat16 else v


def _unbits(v):
    return jax.lax.bitcast_convert_type(v, jnp.bfloat16) if v.dtype == jnp.uint16 else v


def _gates(h, xt, hh, b_hn):
    """r, z, n, u = W_hn·h + b_hn, and the next state, from the week's projections
    (``xt`` = W_i·x + b_i, ``hh`` = W_h·h)."""
    h_dim = h.shape[-1]
    r = jax.nn.sigmoid(xt[..., :h_dim] + hh[..., :h_dim])
    z = jax.nn.sigmoid(xt[..., h_dim:2 * h_dim] + hh[..., h_dim:2 * h_dim])
    u = hh[..., 2 * h_dim:] + b_hn
    n = jnp.tanh(xt[..., 2 * h_dim:] + r * u)
    return r, z, n, u, (1.0 - z) * n + z * h


def gru_step(h, xt, w_h, b_hn):
    """One week of the GRU: ``h [..., H]``, ``xt [..., 3H]`` = the week's input projection
    (W_i x + b_i, gates r, z, n) → the next ``h``."""
    return _gates(h, xt, h @ w_h, b_hn)[-1]


def _low(dtype):
    return jnp.float32 if dtype is None else dtype


def _forward(x_lo, w_i_lo, b_i, w_lo, b_hn, h_init, keep_gates: bool):
    """Hidden states (and, with ``keep_gates``, r, z, n, u of every week); operands already in
    the matmul type."""
    d = x_lo.shape[-1]
    xi = _dot(x_lo.reshape(-1, d), w_i_lo).reshape(x_lo.shape[:-1] + (w_i_lo.shape[-1],))  # [T, ..., 3H]

    def cell(h, xt):
        r, z, n, u, h_next = _gates(h, xt + b_i, _dot(h.astype(w_lo.dtype), w_lo), b_hn)
        return h_next, ((h_next, r, z, n, u) if keep_gates else h_next)

    return jax.lax.scan(cell, h_init, xi)[1]


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7))
def gru_layer(x, w_i, b_i, w_h, b_hn, h_init, matmul_dtype=None, remat: bool = False):
    """Hidden states ``[T, ..., H]`` of the GRU over ``x [T, ..., D]`` from ``h_init [..., H]``
    (``w_i [D, 3H]``, ``b_i [3H]``, ``w_h [H, 3H]``, ``b_hn [H]``; gates r, z, n)."""
    lo = _low(matmul_dtype)
    return _forward(x.astype(lo), w_i.astype(lo), b_i, w_h.astype(lo), b_hn, h_init, keep_gates=False)


def _fwd(x, w_i, b_i, w_h, b_hn, h_init, matmul_dtype, remat):
    lo = _low(matmul_dtype)
    x_lo, w_i_lo, w_lo = x.astype(lo), w_i.astype(lo), w_h.astype(lo)
    if remat:
        hs = _forward(x_lo, w_i_lo, b_i, w_lo, b_hn, h_init, keep_gates=False)
        return hs, (x_lo, w_i_lo, b_i, w_lo, b_hn, h_init, hs, None)
    hs, r, z, n, u = _forward(x_lo, w_i_lo, b_i, w_lo, b_hn, h_init, keep_gates=True)
    return hs, (x_lo, w_i_lo, b_i, w_lo, b_hn, h_init, hs, (r, z, n, u))


def _bwd(matmul_dtype, remat, res, dhs):
    x_lo, w_i_lo, b_i, w_lo, b_hn, h_init, hs, gates = res
    lo, h_dim, d = w_lo.dtype, h_init.shape[-1], x_lo.shape[-1]
    h_prev = jnp.concatenate([h_init[None], hs[:-1]], axis=0)
    w_t = _transposed(w_lo)
    cells = tuple(range(h_init.ndim - 1))  # the axes a bias gradient sums over (besides time)

    def back(carry, week):
        dh, db_i, db_hn = carry
        if remat:  # the week's gates again, from its kept state and input
            dout, xt, hp = week
            r, z, n, u, _ = _gates(hp, _dot(xt, w_i_lo) + b_i, _dot(hp.astype(lo), w_lo), b_hn)
        else:
            dout, r, z, n, u, hp = week
        dh = dh + dout
        dn = dh * (1.0 - z) * (1.0 - n * n)             # through tanh
        dr = dn * u * r * (1.0 - r)                     # through σ
        dz = dh * (hp - n) * z * (1.0 - z)
        dnr = dn * r
        g_x = jnp.concatenate([dr, dz, dn], axis=-1)    # d(W_i·x + b_i): gates r, z, n
        g_h = jnp.concatenate([dr, dz, dnr], axis=-1).astype(lo)  # d(W_h·h + b_h)
        carry = (dh * z + _dot(g_h, w_t), db_i + g_x.sum(cells), db_hn + dnr.sum(cells))
        return carry, (_bits(g_x.astype(lo)), _bits(g_h))

    weeks = (dhs, x_lo, h_prev) if remat else (dhs, *gates, h_prev)
    zero = jnp.zeros((3 * h_dim,), jnp.float32)
    (dh0, db_i, db_hn), (g_x, g_h) = jax.lax.scan(back, (jnp.zeros_like(h_init), zero, zero[:h_dim]),
                                                 weeks, reverse=True)
    g_x, g_h = _unbits(g_x).reshape(-1, 3 * h_dim), _unbits(g_h).reshape(-1, 3 * h_dim)
    dx = _dot(g_x, _transposed(w_i_lo)).reshape(x_lo.shape)
    dw_i = _dot(_transposed(x_lo.reshape(-1, d)), g_x)
    dw_h = _dot(_transposed(h_prev.reshape(-1, h_dim).astype(lo)), g_h)
    return dx, dw_i, db_i, dw_h, db_hn, dh0


gru_layer.defvjp(_fwd, _bwd)
