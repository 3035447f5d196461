"""Shared fixtures for the analysis tests: one synthetic panel with planted truth and one model
fitted to it (once per test session, ≈ 30–40 s on 2 CPU cores including compilation)."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

#: the fit used for the truth-recovery checks (see the task: 10 regions × 104 weeks, hidden 32, 1500 epochs)
FIT_CONFIG = {"model": {"hidden_dim": 32}, "train": {"epochs": 1500, "chunk_epochs": 250, "interval_draws": 0}}


@pytest.fixture(scope="session")
def synthetic():
    from causalmmm_jax.data.synthetic import generate

    return generate(0, n_regions=10, n_weeks=104)


@pytest.fixture(scope="session")
def fit_config():
    from causalmmm_jax.config import Config

    return Config().updated(**FIT_CONFIG)


@pytest.fixture(scope="session")
def fitted(synthetic, fit_config):
    """A single-seed FitResult on :func:`synthetic` (spend columns known, 12 holdout weeks)."""
    from causalmmm_jax.train.fit import fit

    return fit(synthetic.panel(), fit_config)


@pytest.fixture(scope="session")
def ensemble(fitted):
    """A two-member 'ensemble' built from the fitted run: member 2 has a slightly larger
    prediction scale, so the bands are non-degenerate (no extra training)."""
    p2 = dict(fitted.params)
    p2["prediction_scale"] = np.asarray(p2["prediction_scale"]) + 0.05
    stacked = jax.tree_util.tree_map(lambda a, b: np.concatenate([np.asarray(a), np.asarray(b)]), fitted.params, p2)
    return dataclasses.replace(fitted, params=stacked, seeds=(0, 1))


@pytest.fixture(scope="session")
def truth_train(synthetic, fitted):
    """Per channel: the true KPI change over the training weeks at 0× and 2× (vs 1×)."""
    from causalmmm_jax.data.synthetic import counterfactual

    n = fitted.split.n_train
    base = synthetic.truth.kpi[:, :n].sum()
    return {ch: {m: float(counterfactual(synthetic, ch, m)[:, :n].sum() - base) for m in (0.0, 2.0)}
            for ch in synthetic.truth.channels}
