"""Flax building blocks: control MLP, a PyTorch-compatible GRU scanned over time, coefficient heads.

Initialisers follow PyTorch's defaults where the original relies on them (``nn.Linear``:
U(±1/√fan_in) for weight and bias; ``nn.GRU``: U(±1/√H) for everything) and xavier-uniform with
gain 0.1 and zero bias for the coefficient heads, so a freshly initialised model behaves like the
original's.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ._gru import gru_layer, gru_step, matmul

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
    #: keep only the hidden states for the backward pass and recompute the gates there
    remat: bool = False
    #: operand type of the matmuls (``"bfloat16"``: bfloat16 operands, float32 accumulation); None = float32
    matmul_dtype: str | None = None
    #: return ``[T, ..., H]`` (the scan's own layout) instead of ``[..., T, H]``
    time_major: bool = False

    @nn.compact
    def __call__(self, x):
        """``x [..., T, D]`` → hidden states ``[..., T, H]`` (``[T, ..., H]`` when ``time_major``)."""
        h_dim, d = self.hidden, x.shape[-1]
        u = torch_uniform(1.0 / math.sqrt(h_dim))
        w_i = self.param("w_i", u, (d, 3 * h_dim))
        b_i = self.param("b_i", u, (3 * h_dim,))
        w_h = self.param("w_h", u, (h_dim, 3 * h_dim))
        b_hn = self.param("b_hn", u, (h_dim,))
        h0 = self.param("h0", nn.initializers.normal(0.01), (h_dim,))
        dtype = None if self.matmul_dtype is None else jnp.dtype(self.matmul_dtype)
        # time-major before the projection: the narrow input moves, not the 3H-wide projection
        x_tm = jnp.moveaxis(x, -2, 0)  # [T, ..., D]
        init = jnp.broadcast_to(h0, x_tm.shape[1:-1] + (h_dim,))
        hs = gru_layer(x_tm, w_i, b_i, w_h, b_hn, init, dtype, self.remat)
        return hs if self.time_major else jnp.moveaxis(hs, 0, -2)


class _Dense(nn.Module):
    """``nn.Dense`` (same parameters ``kernel [in, out]``, ``bias [out]``) whose matmul can take
    bfloat16 operands with float32 accumulation (``matmul_dtype``)."""

    features: int
    kernel_init: Any
    matmul_dtype: str | None = None

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        dtype = None if self.matmul_dtype is None else jnp.dtype(self.matmul_dtype)
        return matmul(x, kernel, dtype) + bias


class CoefficientHead(nn.Module):
    """3-layer MLP ``H → H → H/2 → out`` with ReLU, xavier-uniform(gain 0.1) weights, zero biases."""

    hidden: int
    out: int
    matmul_dtype: str | None = None

    @nn.compact
    def __call__(self, h):
        init = nn.initializers.variance_scaling(0.1**2, "fan_avg", "uniform")
        dt = self.matmul_dtype
        h = jax.nn.relu(_Dense(self.hidden, init, dt, name="dense_0")(h))
        h = jax.nn.relu(_Dense(self.hidden // 2, init, dt, name="dense_1")(h))
        return _Dense(self.out, init, dt, name="dense_2")(h)
