"""Panel + fitted scaler + seasonal profile → device inputs for one continuous sequence."""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .inputs import ModelInputs
from .panel import Panel
from .scaling import ScalerState, transform
from .seasonality import SeasonalProfile

__all__ = ["Prepared", "prepare", "slice_inputs"]


@dataclass(frozen=True)
class Prepared:
    """``inputs`` over ``pad + T`` weeks; ``target [R, pad+T]`` scaled (0 where unobserved);
    ``observed [R, pad+T]`` (False on padding weeks)."""

    inputs: ModelInputs
    target: np.ndarray
    observed: np.ndarray
    pad: int


def _pad(a: np.ndarray, pad: int) -> np.ndarray:
    if pad == 0:
        return a
    widths = [(0, 0), (pad, 0)] + [(0, 0)] * (a.ndim - 2)
    return np.pad(a, widths)


def prepare(panel: Panel, scaler: ScalerState, seasonal: SeasonalProfile, pad_weeks: int = 0,
            week_offset: int = 0) -> Prepared:
    """Scale ``panel`` and prepend ``pad_weeks`` zero weeks (the original's padding, masked out).

    ``week_offset``: calendar position of the panel's first week relative to the fitted grid (for
    panels that start later than the training data).
    """
    media_s, controls_s, target_s = transform(scaler, panel.media, panel.controls, panel.target, panel.mask)
    week = week_offset + np.arange(-pad_weeks, panel.n_weeks)
    inputs = ModelInputs(
        media=jnp.asarray(_pad(media_s, pad_weeks), jnp.float32),
        controls=jnp.asarray(_pad(controls_s, pad_weeks), jnp.float32),
        seasonal=jnp.asarray(seasonal.lookup(week), jnp.float32),
        region=jnp.arange(panel.n_regions),
        time=jnp.asarray(week / 52.0, jnp.float32),
    )
    return Prepared(inputs=inputs, target=_pad(target_s, pad_weeks), observed=_pad(panel.mask, pad_weeks),
                    pad=pad_weeks)


def slice_inputs(x: ModelInputs, stop: int) -> ModelInputs:
    """The first ``stop`` weeks of a sequence."""
    return ModelInputs(media=x.media[:, :stop], controls=x.controls[:, :stop], seasonal=x.seasonal[:, :stop],
                       region=x.region, time=x.time[:stop])
