"""The Python API, mirroring the CLI: ``fit``, ``sweep``, ``load``, ``save``, ``predict``,
``response_curves``, ``optimize_budget``, ``report``."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .config import Config
from .data.load import panel_from_csv, panel_from_frame
from .data.panel import ColumnMapping, Panel
from .errors import DataError
from .predict import predict
from .train.result import FitResult
from .train.sharding import use_devices

__all__ = ["fit", "sweep", "load", "save", "predict", "response_curves", "identifiability", "optimize_budget", "report",
           "use_devices"]


def _panel(data, mapping: ColumnMapping | None, missing_media: str) -> Panel:
    if isinstance(data, Panel):
        return data
    if mapping is None:
        raise DataError("pass mapping=ColumnMapping(region=..., time=..., target=..., media=(...), controls=(...)) "
                        "to read a CSV or DataFrame.")
    if isinstance(data, pd.DataFrame):
        return panel_from_frame(data, mapping, missing_media=missing_media)
    return panel_from_csv(data, mapping, missing_media=missing_media)


def _lift(lift_tests):
    if lift_tests is None:
        return None
    from .train.calibration import read_lift_tests

    return read_lift_tests(lift_tests)


def fit(data, mapping: ColumnMapping | None = None, config: Config | None = None, *, seeds: int = 1,
        seed: int | None = None, lift_tests=None, progress=None, devices=None, mesh_shape=None, optimizer=None,
        phases=None):
    """Fit on a :class:`Panel`, a DataFrame or a CSV path → :class:`~causalmmm_jax.train.fit.FitResult`.

    ``lift_tests``: a CSV path or DataFrame of lift-test results (calibration).  ``optimizer``: an
    ``optax`` transformation for the warm start and main phase; ``phases``: the training phases
    (see :mod:`causalmmm_jax.train.phases`).  ``devices`` (a count, a device list or a mesh) and
    ``mesh_shape=(members, regions)`` spread the fit over devices (:mod:`causalmmm_jax.train.sharding`)."""
    from .train.fit import fit as _fit

    cfg = config or Config()
    panel = _panel(data, mapping, cfg.data.missing_media)
    return _fit(panel, cfg, seeds=seeds, seed=seed, mapping=mapping, lift=_lift(lift_tests), progress=progress,
                devices=devices, mesh_shape=mesh_shape, optimizer=optimizer, phases=phases)


def sweep(data, mapping: ColumnMapping | None = None, config: Config | None = None, *, over, seeds: int = 1,
          seed: int | None = None, lift_tests=None, progress=None, devices=None):
    """Train a grid of ``train.*`` values × ``seeds`` as one vmapped program →
    :class:`~causalmmm_jax.train.sweep.SweepResult` (one fitted run per point; see :mod:`causalmmm_jax.train.sweep`)."""
    from .train.sweep import sweep as _sweep

    cfg = config or Config()
    panel = _panel(data, mapping, cfg.data.missing_media)
    return _sweep(panel, cfg, over=over, seeds=seeds, seed=seed, mapping=mapping, lift=_lift(lift_tests),
                  progress=progress, devices=devices)


def save(result: FitResult, run_dir: str | os.PathLike) -> Path:
    """Write the run directory (metrics, contributions, history, config, model)."""
    from .run import write_run

    return write_run(result, run_dir)


def load(run_dir: str | os.PathLike):
    """Load a saved model; its ``metrics`` are recomputed from the saved data."""
    from .modelfile import load_model
    from .train.evaluate import evaluate

    result = load_model(run_dir)
    result.metrics = evaluate(result)
    return result


def response_curves(result: FitResult, multipliers=None):
    """Model-based response curves (see :mod:`causalmmm_jax.analysis.curves`)."""
    from .analysis.curves import response_curves as _rc

    return _rc(result, multipliers)


def identifiability(result: FitResult):
    """Per channel: whether the data or the priors set its numbers, in plain words (see
    :mod:`causalmmm_jax.analysis.identifiability`)."""
    from .analysis.identifiability import identifiability as _id

    return _id(result)


def optimize_budget(result: FitResult, budget: float, **kwargs):
    """Budget allocation (see :mod:`causalmmm_jax.analysis.budget`)."""
    from .analysis.budget import optimize_budget as _ob

    return _ob(result, budget, **kwargs)


def report(result_or_run_dir, out_path: str | os.PathLike | None = None) -> Path:
    """Write the offline dashboard (see :mod:`causalmmm_jax.report.dashboard`)."""
    from .report.dashboard import build_dashboard

    return build_dashboard(result_or_run_dir, out_path)
