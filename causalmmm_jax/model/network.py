"""Flax building blocks: control MLP, a PyTorch-compatible GRU scanned over time, coefficient heads.

Initialisers follow PyTorch's defaults where the original relies on them (``nn.Linear``:
U(±1/√fan_in) for weight and bias; ``nn.GRU``: U(±1/√H) for everything) and xavier-uniform with
gain 0.1 and zero bias for the coefficient heads, so a freshly initialised model behaves like the
original's.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["torch_uniform", "ControlMLP", "gru_step", "TorchGRU", "CoefficientHead"]


def torch_uniform(bound: float):
    """Initialiser U(−bound, bound)."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def _torch_dense(features: int, fan_in: int, name: str) -> nn.Dense:
    b = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
    return nn.Dense(features, kernel_init=torch_uniform(b), bias_init=torch_uniform(b), name=name)


class ControlMLP(nn.Module):
    """``[..., K] → [..., Kh]``: Dropout(tanh(Dense(x))). Dropout draws from the ``dropout`` PRNG stream."""

    features: int
    dropout: float

    @nn.compact
    def __call__(self, x, deterministic: bool = True):
        h = jnp.tanh(_torch_dense(self.features, x.shape[-1], "dense")(x))
        return nn.Dropout(self.dropout, deterministic=deterministic)(h)


def gru_step(h, xt, w_h, b_hn):
    """One week of the GRU: ``h [..., H]``, ``xt [..., 3H]`` = the week's input projection
    (W_i x + b_i, gates r, z, n) → the next ``h``."""
    h_dim = h.shape[-1]
    hh = h @ w_h
    r = jax.nn.sigmoid(xt[..., :h_dim] + hh[..., :h_dim])
    z = jax.nn.sigmoid(xt[..., h_dim:2 * h_dim] + hh[..., h_dim:2 * h_dim])
    n = jnp.tanh(xt[..., 2 * h_dim:] + r * (hh[..., 2 * h_dim:] + b_hn))
    return (1.0 - z) * n + z * h


class TorchGRU(nn.Module):
    """Single-layer GRU with PyTorch's gate equations, scanned over axis −2 (time).

        r = σ(W_ir x + b_ir + W_hr h + b_hr);   z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));   h' = (1 − z) ⊙ n + z ⊙ h

    Parameters (gate order r, z, n as in PyTorch): ``w_i [in, 3H]``, ``b_i [3H]`` (= b_i* + b_h* for r
    and z, b_in for n), ``w_h [H, 3H]``, ``b_hn [H]`` (kept separate: it sits inside r ⊙ (·)), and the
    learnable initial state ``h0 [H]``.  The input projection of all weeks is one matmul; the scan
    carries only ``h [..., H]``.
    """

    hidden: int
    #: rematerialise the cell in the backward pass (``jax.checkpoint``): keep ``h`` per week only
    remat: bool = False

    @nn.compact
    def __call__(self, x):
        """``x [..., T, D]`` → hidden states ``[..., T, H]``."""
        h_dim, d = self.hidden, x.shape[-1]
        u = torch_uniform(1.0 / math.sqrt(h_dim))
        w_i = self.param("w_i", u, (d, 3 * h_dim))
        b_i = self.param("b_i", u, (3 * h_dim,))
        w_h = self.param("w_h", u, (h_dim, 3 * h_dim))
        b_hn = self.param("b_hn", u, (h_dim,))
        h0 = self.param("h0", nn.initializers.normal(0.01), (h_dim,))

        xi = jnp.moveaxis(x @ w_i + b_i, -2, 0)  # [T, ..., 3H]

        def cell(h, xt):
            h = gru_step(h, xt, w_h, b_hn)
            return h, h

        if self.remat:
            cell = jax.checkpoint(cell)
        init = jnp.broadcast_to(h0, xi.shape[1:-1] + (h_dim,))
        _, hs = jax.lax.scan(cell, init, xi)
        return jnp.moveaxis(hs, 0, -2)


class CoefficientHead(nn.Module):
    """3-layer MLP ``H → H → H/2 → out`` with ReLU, xavier-uniform(gain 0.1) weights, zero biases."""

    hidden: int
    out: int

    @nn.compact
    def __call__(self, h):
        init = nn.initializers.variance_scaling(0.1**2, "fan_avg", "uniform")
        h = jax.nn.relu(nn.Dense(self.hidden, kernel_init=init, name="dense_0")(h))
        h = jax.nn.relu(nn.Dense(self.hidden // 2, kernel_init=init, name="dense_1")(h))
        return nn.Dense(self.out, kernel_init=init, name="dense_2")(h)
