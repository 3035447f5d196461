"""A small fitted run shared by the report tests (session scope: one fit for all of them)."""

from __future__ import annotations

import shutil

import pytest

from report_helpers import write_analysis_files


@pytest.fixture(scope="session")
def fitted_run(tmp_path_factory):
    """``(result, run_dir)``: 5 regions × 70 weeks, 60 epochs, hidden 8, 8 holdout weeks."""
    from causalmmm_jax.config import Config
    from causalmmm_jax.data.synthetic import generate
    from causalmmm_jax.run import write_run
    from causalmmm_jax.train.fit import fit

    sd = generate(0, n_regions=5, n_weeks=70)
    panel = sd.panel()
    cfg = Config().updated(model={"hidden_dim": 8}, train={"epochs": 60, "chunk_epochs": 30, "warm_start_epochs": 5,
                                                                  "static_epochs": 100},
                           data={"holdout_weeks": 8})
    result = fit(panel, cfg, mapping=sd.mapping)
    run_dir = tmp_path_factory.mktemp("report") / "run"
    write_run(result, run_dir)
    return result, run_dir


@pytest.fixture
def full_run(fitted_run, tmp_path):
    """A copy of the fitted run directory with the analysis files added."""
    result, run_dir = fitted_run
    dst = tmp_path / "run_full"
    shutil.copytree(run_dir, dst)
    write_analysis_files(dst, result.panel.channels, result.split.n_train, result)
    return result, dst
