"""The model's input container (defined with the data: the model consumes it, the data layer builds it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
from flax import struct

__all__ = ["ModelInputs"]


@struct.dataclass
class ModelInputs:
    """Scaled model inputs for one continuous sequence.

    media ``[R,T,C]``, controls ``[R,T,K]``, seasonal ``[R,T]`` (profile in [0, 1] at each week's
    calendar phase), region ``[R]`` int (index into the region baseline), time ``[T]`` (years
    since the first grid week; used by the optional trend).
    """

    media: jnp.ndarray
    controls: jnp.ndarray
    seasonal: jnp.ndarray
    region: jnp.ndarray
    time: jnp.ndarray

    if TYPE_CHECKING:  # flax.struct adds replace(); declared for the type checker
        def replace(self, **changes: Any) -> "ModelInputs": ...
