"""Scaling as pure fit / transform / inverse functions with an immutable fitted state.

``fit_scaler`` reads only the *fit-block observed* cells (never validation or holdout weeks) and
returns a :class:`ScalerState` pytree.  ``transform`` and the inverses are plain array arithmetic,
usable with NumPy (float64 accounting on the host) or inside ``jax.jit``.

* target: ``y / ȳ_r`` with ȳ_r the region's mean training KPI (the original's scheme).
* media, ``"level"`` (default): ``x / m_rc`` with m_rc the region×channel training mean, so more
  media means a larger input and response curves are meaningful.  ``"sov"``: the original's share
  of voice ``x / Σ_c x`` (1/C in an empty week), which discards the media level.
* controls: robust z-score pooled over regions, ``(x − median_k) / s_k`` with
  ``s_k = IQR_k / 1.349`` (or ``IQR_k · 1.349`` under ``control_iqr="multiply"``, the original),
  clipped to ±``control_clip`` (fixed at fit time, not recomputed per call as the original does).

Unobserved cells map to 0 in every scaled array (media: no activity; controls: the median).
"""

from __future__ import annotations

import numpy as np
from flax import struct

from ..config import DataConfig
from ..errors import DataError
from .panel import Panel

__all__ = ["ScalerState", "fit_scaler", "transform", "inverse_target", "to_original_units", "inverse_media",
           "inverse_controls"]

_IQR_TO_STD = 1.349
_SOV_EPS = 1e-8


@struct.dataclass
class ScalerState:
    """Fitted scaling constants (a JAX pytree; arrays are float64 NumPy on the host).

    target_mean: ``[R]`` ȳ_r, mean training KPI per region.
    media_scale: ``[R,C]`` m_rc (ones under ``sov``).
    control_center: ``[K]`` median_k.   control_scale: ``[K]`` s_k.
    """

    target_mean: np.ndarray
    media_scale: np.ndarray
    control_center: np.ndarray
    control_scale: np.ndarray
    media_mode: str = struct.field(pytree_node=False, default="level")
    control_clip: float = struct.field(pytree_node=False, default=5.0)

    def to_dict(self) -> dict:
        return {
            "target_mean": np.asarray(self.target_mean).tolist(),
            "media_scale": np.asarray(self.media_scale).tolist(),
            "control_center": np.asarray(self.control_center).tolist(),
            "control_scale": np.asarray(self.control_scale).tolist(),
            "media_mode": self.media_mode,
            "control_clip": self.control_clip,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ScalerState":
        arr = lambda k: np.asarray(d[k], dtype=np.float64)  # noqa: E731
        return cls(arr("target_mean"), arr("media_scale"), arr("control_center"), arr("control_scale"),
                   media_mode=d["media_mode"], control_clip=float(d["control_clip"]))


def _region_names(panel: Panel, idx: np.ndarray, limit: int = 10) -> str:
    names = [str(panel.regions[i]) for i in idx[:limit]]
    return ", ".join(names) + (f" (and {len(idx) - limit} more)" if len(idx) > limit else "")


def fit_scaler(panel: Panel, fit_mask: np.ndarray, cfg: DataConfig) -> ScalerState:
    """Fit on the cells where ``fit_mask [R,T]`` is True (observed cells of the fit block)."""
    fit_mask = np.asarray(fit_mask, dtype=bool) & panel.mask
    n_obs = fit_mask.sum(axis=1)
    empty = np.flatnonzero(n_obs == 0)
    if empty.size:
        raise DataError(
            f"region(s) {_region_names(panel, empty)} have no observed week in the training block, so the "
            f"model cannot learn their level (column '{panel.target_name}'). Drop them or move the holdout later."
        )
    w = fit_mask.astype(np.float64)
    target_mean = (panel.target * w).sum(axis=1) / n_obs
    zero = np.flatnonzero(~(target_mean > 0))
    if zero.size:
        raise DataError(
            f"region(s) {_region_names(panel, zero)} have a zero mean of '{panel.target_name}' over the training "
            "weeks; the KPI is scaled by each region's training mean, so such regions cannot be modelled. "
            "Drop them (or check the target column)."
        )

    if cfg.media_scaling == "level":
        media_scale = (panel.media * w[..., None]).sum(axis=1) / n_obs[:, None]  # [R,C]
        media_scale = _fill_nonpositive(media_scale)
    else:
        media_scale = np.ones((panel.n_regions, panel.n_channels))

    if panel.n_controls:
        vals = panel.controls[fit_mask]  # [N,K]
        center = np.median(vals, axis=0)
        q75, q25 = np.percentile(vals, [75, 25], axis=0)
        iqr = q75 - q25
        scale = iqr / _IQR_TO_STD if cfg.control_iqr == "divide" else iqr * _IQR_TO_STD
        std = vals.std(axis=0)
        scale = np.where(scale > 0, scale, np.where(std > 0, std, 1.0))  # IQR 0 (binary/sparse control)
    else:
        center = np.zeros(0)
        scale = np.ones(0)
    return ScalerState(target_mean=target_mean, media_scale=media_scale, control_center=center,
                       control_scale=scale, media_mode=cfg.media_scaling, control_clip=cfg.control_clip)


def _fill_nonpositive(scale: np.ndarray) -> np.ndarray:
    """A channel a region never used in training gets the channel's median scale over regions
    (or 1 if no region used it), so later activity maps to a comparable level."""
    out = scale.copy()
    for c in range(scale.shape[1]):
        bad = ~(scale[:, c] > 0)
        if bad.any():
            pos = scale[~bad, c]
            out[bad, c] = np.median(pos) if pos.size else 1.0
    return out


def transform(state: ScalerState, media, controls, target=None, mask=None):
    """Scale raw arrays.

    Args:
        media: ``[R,T,C]``; controls: ``[R,T,K]``; target: ``[R,T]`` or None; mask: ``[R,T]`` bool
            or None (all observed).  Works on NumPy or JAX arrays.
    Returns:
        ``(media_s [R,T,C], controls_s [R,T,K], target_s [R,T] | None)``; unobserved cells are 0.
    """
    xp = _xp(media)
    m = 1.0 if mask is None else xp.asarray(mask)[..., None]
    if state.media_mode == "sov":
        tot = media.sum(axis=-1, keepdims=True)
        sov = xp.where(tot > _SOV_EPS, media / (tot + _SOV_EPS), 1.0 / media.shape[-1])
        media_s = sov * m
    else:
        media_s = media / state.media_scale[:, None, :] * m
    z = (controls - state.control_center) / state.control_scale
    controls_s = xp.clip(z, -state.control_clip, state.control_clip) * m
    target_s = None
    if target is not None:
        target_s = target / state.target_mean[:, None]
        if mask is not None:
            target_s = target_s * xp.asarray(mask)
    return media_s, controls_s, target_s


def inverse_target(state: ScalerState, target_s):
    """``[R,T]`` scaled → KPI units (no clamp at 0, unlike the original: additivity is kept)."""
    return target_s * state.target_mean[:, None]


def to_original_units(state: ScalerState, component):
    """A scaled component ``[R,T]`` or ``[R,T,X]`` → KPI units (multiply by ȳ_r)."""
    tm = state.target_mean
    return component * (tm[:, None] if component.ndim == 2 else tm[:, None, None])


def inverse_media(state: ScalerState, media_s):
    """Level-scaled media ``[R,T,C]`` → raw units (not defined for ``sov``, which lost the level)."""
    if state.media_mode == "sov":
        raise ValueError("share-of-voice scaling discards the media level; it cannot be inverted.")
    return media_s * state.media_scale[:, None, :]


def inverse_controls(state: ScalerState, controls_s):
    """Scaled controls → raw units (exact for values inside the clip range)."""
    return controls_s * state.control_scale + state.control_center


def _xp(x):
    if isinstance(x, np.ndarray):
        return np
    import jax.numpy as jnp

    return jnp
