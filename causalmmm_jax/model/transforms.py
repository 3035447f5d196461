"""Pure media transforms: adstock, Hill saturation, parameter maps, burn-in weights.

All functions take and return ``jnp`` arrays, are jit/vmap/grad-safe, and broadcast over leading
axes.  Shape names: ``R`` regions, ``T`` weeks, ``C`` channels.

Two parameterisations map raw (unconstrained) parameters to transform parameters:

* ``"smooth"`` (default): decay = cap·σ(raw); a = lo + (hi − lo)·σ(raw); g = g_min + softplus(raw).
  Every raw value has a non-zero gradient, so no parameter freezes at a bound.
* ``"clamped"`` (DeepCausalMMM 1.0.21): decay = clamp(σ(raw), 0, cap); a = clamp(softplus(raw), lo, hi);
  g = clamp(softplus(raw), 0.01, 1).  Outside the box the data gradient is exactly zero.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "adstock_geometric",
    "adstock_normalized",
    "adstock_weibull",
    "hill",
    "hill_clamped",
    "decay_from_raw",
    "hill_a_from_raw",
    "hill_g_from_raw",
    "raw_for_decay",
    "raw_for_hill_a",
    "raw_for_hill_g",
    "coef_ceiling",
    "raw_for_coef_ceiling",
    "inv_softplus",
    "burn_in_weights",
]


def inv_softplus(y):
    """Exact inverse of softplus for y > 0: log(expm1(y)) (stable for large y)."""
    y = jnp.asarray(y, dtype=jnp.float32)
    return jnp.where(y > 20.0, y, jnp.log(jnp.expm1(jnp.minimum(y, 20.0))))


def _logit(p):
    p = jnp.clip(jnp.asarray(p, dtype=jnp.float32), 1e-6, 1 - 1e-6)
    return jnp.log(p) - jnp.log1p(-p)


# --- parameter maps -----------------------------------------------------------------------------

def decay_from_raw(raw, cap: float = 0.8, mode: str = "smooth"):
    """``[C]`` raw → adstock decay in [0, cap]."""
    if mode == "clamped":
        return jnp.clip(jax.nn.sigmoid(raw), 0.0, cap)
    return cap * jax.nn.sigmoid(raw)


def raw_for_decay(decay, cap: float = 0.8, mode: str = "smooth"):
    return _logit(decay) if mode == "clamped" else _logit(jnp.asarray(decay) / cap)


def hill_a_from_raw(raw, lo: float = 1.0, hi: float = 5.0, mode: str = "smooth"):
    """``[C]`` raw → Hill exponent a in [lo, hi]."""
    if mode == "clamped":
        return jnp.clip(jax.nn.softplus(raw), lo, hi)
    return lo + (hi - lo) * jax.nn.sigmoid(raw)


def raw_for_hill_a(a, lo: float = 1.0, hi: float = 5.0, mode: str = "smooth"):
    return inv_softplus(a) if mode == "clamped" else _logit((jnp.asarray(a) - lo) / (hi - lo))


def hill_g_from_raw(raw, g_min: float = 0.01, mode: str = "smooth"):
    """``[C]`` raw → half-saturation point g (in scaled media units)."""
    if mode == "clamped":
        return jnp.clip(jax.nn.softplus(raw), 0.01, 1.0)
    return g_min + jax.nn.softplus(raw)


def coef_ceiling(raw, mode: str = "smooth"):
    """``[C]`` raw → a channel's effect ceiling M_c (β = σ(head)·M_c): softplus(raw) (smooth, can
    reach 0 so a channel can have no effect) or softplus(raw) + 0.1 (clamped, the original)."""
    return jax.nn.softplus(raw) + (0.1 if mode == "clamped" else 0.0)


def raw_for_coef_ceiling(m, mode: str = "smooth"):
    m = jnp.asarray(m, dtype=jnp.float32)
    return inv_softplus(jnp.maximum(m - (0.1 if mode == "clamped" else 0.0), 1e-8))


def raw_for_hill_g(g, g_min: float = 0.01, mode: str = "smooth"):
    g = jnp.asarray(g, dtype=jnp.float32)
    return inv_softplus(g) if mode == "clamped" else inv_softplus(jnp.maximum(g - g_min, 1e-6))


# --- adstock ------------------------------------------------------------------------------------

def _scan_time(step, x):
    """Run ``step(carry [..., C], x_t [..., C]) -> new carry`` over axis -2 (time) of ``x [..., T, C]``."""
    xs = jnp.moveaxis(x, -2, 0)

    def body(carry, xt):
        new = step(carry, xt)
        return new, new

    _, out = jax.lax.scan(body, jnp.zeros_like(xs[0]), xs)
    return jnp.moveaxis(out, 0, -2)


def adstock_geometric(x, decay, clip: tuple[float, float] | None = None):
    """Unnormalised geometric carry-over (the original): ``A_t = x_t + decay·A_{t−1}``, A_{−1} = 0.

    Args:
        x: ``[..., T, C]`` media; decay: ``[C]``.
        clip: optional ``(lo, hi)`` applied at every step (the original clamps to [0, 10]).
    """
    def step(carry, xt):
        a = xt + decay * carry
        return a if clip is None else jnp.clip(a, *clip)

    return _scan_time(step, x)


def adstock_normalized(x, decay):
    """Normalised geometric carry-over ``A_t = (1 − decay)·x_t + decay·A_{t−1}`` (a constant input
    converges to itself, so the level stays comparable across decays)."""
    return _scan_time(lambda carry, xt: (1.0 - decay) * xt + decay * carry, x)


def adstock_weibull(x, shape, scale, max_lag: int):
    """Delayed carry-over with Weibull-PDF lag weights, normalised to sum to 1 over
    ``max_lag`` weeks: ``A_t = Σ_l w_l · x_{t−l}``.

    Args:
        x: ``[..., T, C]``; shape, scale: ``[C]`` positive (scale in weeks).
    """
    lags = jnp.arange(max_lag, dtype=x.dtype)[:, None] + 0.5  # mid-week lag, [L,1]
    k, lam = shape[None, :], scale[None, :]
    z = lags / lam
    logpdf = jnp.log(k / lam) + (k - 1.0) * jnp.log(z) - z**k
    w = jax.nn.softmax(logpdf, axis=0)  # [L,C] normalised weights
    t = x.shape[-2]
    pad = jnp.concatenate([jnp.zeros(x.shape[:-2] + (max_lag - 1, x.shape[-1]), x.dtype), x], axis=-2)
    out = jnp.zeros_like(x)
    for lag in range(max_lag):  # static, small: unrolled shifted sum
        out = out + w[lag] * jax.lax.slice_in_dim(pad, max_lag - 1 - lag, max_lag - 1 - lag + t, axis=-2)
    return out


# --- saturation ---------------------------------------------------------------------------------

def hill(x, a, g):
    """Hill saturation ``x^a / (x^a + g^a)`` = ``sigmoid(a·(log x − log g))``, for x ≥ 0.

    Computed in log space: exact, stable for large a or tiny x, and its gradient never vanishes
    numerically at moderate inputs.  ``hill(g, a, g) == 0.5``.
    """
    x = jnp.maximum(x, 0.0) + 1e-8
    return jax.nn.sigmoid(a * (jnp.log(x) - jnp.log(g)))


def hill_clamped(x, a, g):
    """The original's form: ``clamp(x^a / (x^a + g^a + 1e-8), 0, 1)`` with x = relu(x) + 1e-8."""
    x = jax.nn.relu(x) + 1e-8
    xa = x**a
    return jnp.clip(xa / (xa + g**a + 1e-8), 0.0, 1.0)


# --- burn-in ------------------------------------------------------------------------------------

def burn_in_weights(n_weeks: int, burn_in: int, method: str = "exponential"):
    """``[T]`` blend weight w_t of the stable coefficient for the first ``burn_in`` weeks
    (0 afterwards): exponential exp(−3t/P), linear 1 − t/P, sigmoid 1/(1 + exp((t − P/2)/(P/4)))."""
    t = jnp.arange(n_weeks, dtype=jnp.float32)
    if burn_in <= 0:
        return jnp.zeros(n_weeks)
    p = float(burn_in)
    if method == "exponential":
        w = jnp.exp(-3.0 * t / p)
    elif method == "linear":
        w = 1.0 - t / p
    else:
        w = 1.0 / (1.0 + jnp.exp((t - p / 2.0) / (p / 4.0)))
    return jnp.where(t < p, w, 0.0)
