"""The GRU's recurrence over weeks with a hand-written backward pass (``jax.custom_vjp``).

``gru_scan(xi, w_h, b_hn, h_init)`` runs PyTorch's gate equations over the leading (time) axis
of ``xi [T, ..., 3H]`` (the input projection of every week, gates r, z, n) and returns the
hidden states ``[T, ..., H]``.  Same values as scanning :func:`gru_step`; the gradient differs
from autodiff of that scan only in how it is computed:

* the backward scan carries ``dh`` and does one matmul per week, ``dgates @ W_hᵀ``;
* the recurrent weight's gradient ``Σ_t h_{t−1}ᵀ·dgates_t`` is one matmul over all weeks after
  the scan (autodiff accumulates a small ``[H, 3H]`` product inside the loop every week);
* the input projection's gradient comes out time-major, so the caller's ``x @ W_i`` transposes
  nothing.

``matmul_dtype`` (``jnp.bfloat16``): the recurrent matmuls (and, through :func:`matmul`, the
caller's) take bfloat16 operands and accumulate in float32 (``preferred_element_type``); hidden
states, gates and gradients stay float32.

With ``remat`` the backward pass keeps the hidden states and the projections ``xi`` instead of
the gates; each week's gates are recomputed there from its state (one more matmul per week).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

__all__ = ["gru_step", "gru_scan", "matmul"]


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
    return jnp.matmul(a.astype(dtype), b.astype(dtype), preferred_element_type=jnp.float32)


def _low_matmul_fwd(a, b, dtype):
    a16, b16 = a.astype(dtype), b.astype(dtype)
    return jnp.matmul(a16, b16, preferred_element_type=jnp.float32), (a16, b16)


def _low_matmul_bwd(dtype, res, g):
    a16, b16 = res
    g16 = g.astype(dtype)
    da = jnp.matmul(g16, b16.T, preferred_element_type=jnp.float32)
    db = jnp.matmul(a16.reshape(-1, a16.shape[-1]).T, g16.reshape(-1, g16.shape[-1]),
                    preferred_element_type=jnp.float32)
    return da, db


_low_matmul.defvjp(_low_matmul_fwd, _low_matmul_bwd)


def _gates(h, xt, hh, b_hn):
    """r, z, n, u = W_hn·h + b_hn, and the next state, from the week's projections."""
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


def _forward(xi, w_h, b_hn, h_init, dtype, keep_gates: bool):
    w = w_h if dtype is None else w_h.astype(dtype)

    def cell(h, xt):
        r, z, n, u, h_next = _gates(h, xt, matmul(h, w, dtype), b_hn)
        return h_next, ((h_next, r, z, n, u) if keep_gates else h_next)

    _, out = jax.lax.scan(cell, h_init, xi)
    return out


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def gru_scan(xi, w_h, b_hn, h_init, matmul_dtype=None, remat: bool = False):
    """Hidden states ``[T, ..., H]`` of the GRU over ``xi [T, ..., 3H]`` from ``h_init [..., H]``."""
    return _forward(xi, w_h, b_hn, h_init, matmul_dtype, keep_gates=False)


def _fwd(xi, w_h, b_hn, h_init, matmul_dtype, remat):
    if remat:
        hs = _forward(xi, w_h, b_hn, h_init, matmul_dtype, keep_gates=False)
        return hs, (xi, hs, None, w_h, b_hn, h_init)
    hs, r, z, n, u = _forward(xi, w_h, b_hn, h_init, matmul_dtype, keep_gates=True)
    return hs, (None, hs, (r, z, n, u), w_h, b_hn, h_init)


def _bwd(matmul_dtype, remat, res, dhs):
    xi, hs, gates, w_h, b_hn, h_init = res
    h_dim = h_init.shape[-1]
    h_prev = jnp.concatenate([h_init[None], hs[:-1]], axis=0)
    w = w_h if matmul_dtype is None else w_h.astype(matmul_dtype)
    w_t = w.T

    def back(dh, week):
        if remat:  # the week's gates again, from its kept state
            dout, xt, hp = week
            r, z, n, u, _ = _gates(hp, xt, matmul(hp, w, matmul_dtype), b_hn)
        else:
            dout, r, z, n, u, hp = week
        dh = dh + dout
        dn = dh * (1.0 - z) * (1.0 - n * n)             # through tanh
        dr = dn * u * r * (1.0 - r)                     # through σ
        dz = dh * (hp - n) * z * (1.0 - z)
        dhh = jnp.concatenate([dr, dz, dn * r], axis=-1)  # d(W_h·h + b): gates r, z, n
        dxi = jnp.concatenate([dr, dz, dn], axis=-1)
        return dh * z + matmul(dhh, w_t, matmul_dtype), (dxi, dhh)

    weeks = (dhs, xi, h_prev) if remat else (dhs, *gates, h_prev)
    dh0, (dxi, dhh) = jax.lax.scan(back, jnp.zeros_like(h_init), weeks, reverse=True)
    flat_h = h_prev.reshape(-1, h_dim)
    flat_g = dhh.reshape(-1, 3 * h_dim)
    dw_h = matmul(flat_h.T, flat_g, matmul_dtype)
    db_hn = flat_g[:, 2 * h_dim:].sum(0)
    return dxi, dw_h.astype(w_h.dtype), db_hn, dh0


gru_scan.defvjp(_fwd, _bwd)
