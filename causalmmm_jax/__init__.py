"""causalmmm-jax: a JAX/Flax marketing-mix model (a port of DeepCausalMMM)."""

from ._version import __version__
from .api import (
    fit,
    identifiability,
    load,
    optimize_budget,
    predict,
    report,
    response_curves,
    save,
    sweep,
    use_devices,
)
from .config import AnalysisConfig, Config, DataConfig, ModelConfig, TrainConfig
from .data import ColumnMapping, Panel
from .errors import ConfigError, DataError, ModelFileError, UserError

__all__ = [
    "__version__",
    "UserError",
    "DataError",
    "ConfigError",
    "ModelFileError",
    "Config",
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "AnalysisConfig",
    "Panel",
    "ColumnMapping",
    "fit",
    "sweep",
    "load",
    "save",
    "predict",
    "response_curves",
    "identifiability",
    "optimize_budget",
    "report",
    "use_devices",
]
