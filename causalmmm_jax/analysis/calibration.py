"""Lift-test calibration, the analysis side: measured versus model-implied lift of a fitted run.

Reading the experiments and the calibration term of the training objective live in
:mod:`causalmmm_jax.train.calibration` (re-exported here).
"""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd

from ..data.prepare import slice_inputs
from ..train.calibration import (
    LIFT_COLUMNS,
    LiftData,
    lift_data,
    lift_loss,
    model_lifts,
    read_lift_tests,
)
from ..train.result import FitResult, member_bands

__all__ = ["LiftData", "read_lift_tests", "lift_data", "lift_loss", "lift_report", "LIFT_COLUMNS", "model_lifts"]


def lift_report(result: FitResult, rows) -> pd.DataFrame:
    """Measured vs model-implied lift for a fitted run: the validated rows plus ``model_lift``
    (member mean), ``z`` = (model_lift − lift)/se; ensembles add ``model_lift_q05/_q95``."""
    df = read_lift_tests(rows)
    data = lift_data(df, result.panel, result.scaler, result.split, result.pad)
    inputs = slice_inputs(result.prepared().inputs, result.pad + result.split.n_train)
    per = np.asarray(jax.jit(jax.vmap(lambda p: model_lifts(p, inputs, data, result.spec)))(result.params),
                     np.float64)
    df["model_lift"] = per.mean(axis=0)
    bands = member_bands(per)
    if bands is not None:
        df["model_lift_q05"], df["model_lift_q95"] = bands
    df["z"] = (df["model_lift"] - df["lift"]) / df["se"]
    return df
