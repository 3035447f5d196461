"""Model core: pure transforms, DAG layer, Flax network, init/apply."""

from .mmm import (
    MMM,
    Decomposition,
    ModelInputs,
    ModelSpec,
    apply,
    init,
    transform_params,
)

__all__ = ["MMM", "Decomposition", "ModelInputs", "ModelSpec", "apply", "init", "transform_params"]
