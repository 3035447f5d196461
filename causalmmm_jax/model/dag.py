"""Channel-interaction layer: masked sigmoid adjacency, NOTEARS acyclicity, blend, exports.

``W = mask ⊙ sigmoid(logits / τ)`` is a gate in (0, 1) on the saturated media, mixed per target
channel: ``X̃ = (1 − mix) ⊙ H + mix ⊙ (H @ W)`` with ``mix = σ(mix_raw) [C]``.  Column j of W
holds the parents of channel j.  This is an interaction layer, not an identified causal graph:
in ``triangular`` mode the order is the column order of the data.

Modes: ``triangular`` (strictly upper-triangular mask: acyclic by construction), ``notears``
(off-diagonal mask + augmented-Lagrangian penalty on ``h(W) = tr(exp(W∘W)) − C``), ``off``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["dag_mask", "adjacency", "h_acyclicity", "blend", "dag_loss", "NotearsState",
           "notears_init", "notears_update", "threshold_adjacency"]


def dag_mask(n_channels: int, mode: str) -> jnp.ndarray:
    """``[C,C]`` float mask: strict upper triangle (``triangular``), 1 − I (``notears``), zeros (``off``)."""
    if mode == "triangular":
        return jnp.triu(jnp.ones((n_channels, n_channels)), k=1)
    if mode == "notears":
        return 1.0 - jnp.eye(n_channels)
    return jnp.zeros((n_channels, n_channels))


def adjacency(logits, mask, temperature: float):
    """``[C,C]`` W = mask ⊙ sigmoid(logits / τ), τ floored at 1e-3 as the original."""
    return jax.nn.sigmoid(logits / max(temperature, 1e-3)) * mask


def h_acyclicity(w):
    """NOTEARS acyclicity ``tr(exp(W ∘ W)) − C``: 0 iff W is a DAG, > 0 with any cycle."""
    return jnp.trace(jax.scipy.linalg.expm(w * w)) - w.shape[-1]


def blend(sat, w, mix_raw):
    """``sat [..., C]`` (Hill outputs) → ``(1 − mix)·sat + mix·(sat @ W)``."""
    mix = jax.nn.sigmoid(mix_raw)
    return (1.0 - mix) * sat + mix * (sat @ w)


class NotearsState(NamedTuple):
    """Augmented-Lagrangian state kept in the train state (not trained by gradients)."""

    rho: jnp.ndarray      # penalty weight ρ
    alpha: jnp.ndarray    # dual variable α
    active: jnp.ndarray   # bool: penalty on (after warm-up)
    h_prev: jnp.ndarray   # h at the last dual update (inf before the first)


def notears_init(rho: float = 1.0, alpha: float = 0.0, active: bool = False) -> NotearsState:
    return NotearsState(jnp.float32(rho), jnp.float32(alpha), jnp.bool_(active), jnp.float32(jnp.inf))


def dag_loss(logits, mask, temperature: float, mode: str, notears: NotearsState | None = None,
             lambda1: float | jnp.ndarray = 0.005, group_l1: float | jnp.ndarray = 0.01):
    """The original's DAG regulariser (``get_dag_loss``).

    triangular: ``0.01·ΣW + 0.001·ΣP(1 − P) + 0.0002·Σ|logits|`` with P = σ(logits/τ) unmasked.
    notears: ``1e-4·Σ|logits|`` plus, when active, ``½ρh² + αh + λ1·ΣW + λg·Σ_j ‖W_{:,j}‖₂``.
    """
    if mode == "off":
        return jnp.float32(0.0)
    p = jax.nn.sigmoid(logits / max(temperature, 1e-3))
    w = p * mask
    if mode == "triangular":
        return 0.01 * w.sum() + 0.001 * (p * (1.0 - p)).sum() + 0.0002 * jnp.abs(logits).sum()
    base = 1e-4 * jnp.abs(logits).sum()
    if notears is None:
        return base
    h = h_acyclicity(w)
    group = jnp.sqrt((w * w).sum(axis=0) + 1e-8).sum()
    penalty = 0.5 * notears.rho * h * h + notears.alpha * h + lambda1 * w.sum() + group_l1 * group
    return base + jnp.where(notears.active, penalty, 0.0)


def notears_update(state: NotearsState, w, factor: float | jnp.ndarray, rho_max: float | jnp.ndarray = 1e16,
                   progress: float = 0.25) -> tuple[NotearsState, jnp.ndarray]:
    """Dual update (original ``notears_update_duals``): h = h(W); if h > progress·h_prev grow
    ρ ← min(ρ·factor, ρ_max); then α ← α + ρ·h; h_prev ← h.  Returns (new state, h)."""
    h = h_acyclicity(jax.lax.stop_gradient(w))
    rho = jnp.where(h > progress * state.h_prev, jnp.minimum(state.rho * factor, rho_max), state.rho)
    alpha = state.alpha + rho * h
    return NotearsState(rho, alpha, state.active, h), h


def threshold_adjacency(w, eps: float) -> np.ndarray:
    """Host copy of W with entries ``|w| < eps`` set to 0 (the pruned graph for reports)."""
    w = np.asarray(w, dtype=np.float64).copy()
    w[np.abs(w) < eps] = 0.0
    return w
