"""Spend-only panels (one spend column per channel, the media input and the money at once): fit,
ROI, curves and a budget in money through the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from causalmmm_jax.cli import main
from causalmmm_jax.data.synthetic import generate, write_csv

from train_config import small_config


@pytest.fixture(scope="module")
def spend_only_csv(tmp_path_factory):
    """The generator's panel with its impression columns dropped: spend is all there is (the train
    tests' panel shape and configuration, so the compiled programs are shared)."""
    data = generate(1, n_regions=5, n_weeks=70, n_channels=3, n_controls=1)
    df = data.frame.drop(columns=list(data.mapping.media))
    path = tmp_path_factory.mktemp("spend_only") / "spend.csv"
    write_csv(df, path)
    return path, data.mapping


def test_fit_curves_optimize_on_spend_only_data(spend_only_csv, tmp_path):
    path, m = spend_only_csv
    spend = ",".join(m.spend)
    cfg = tmp_path / "small.json"
    small_config().save(cfg)
    run = tmp_path / "run"
    base = ["--region", m.region, "--time", m.time, "--target", m.target, "--media", spend, "--spend", spend,
            "--controls", ",".join(m.controls)]
    assert main(["--no-cache", "fit", str(path), *base, "--out", str(run), "--config", str(cfg), "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    frame = pd.read_csv(path)
    n_train = metrics["split"]["n_train"]
    weeks = sorted(frame[m.time].unique())[:n_train]
    for col in m.spend:
        row = metrics["channels"][col]
        # ROI is KPI per unit of money: the contribution over the training weeks / their spend
        money = frame.loc[frame[m.time].isin(weeks), col].sum()
        assert row["roi"] == pytest.approx(row["contribution"] / money, rel=1e-6)
        assert np.isfinite(row["roi"])
    assert main(["--no-cache", "curves", str(run)]) == 0
    curves = pd.read_csv(run / "curves.csv")
    one = curves[curves["multiplier"] == 1.0].set_index("channel")
    # spend and exposure are one column here: the curve's money axis is its exposure axis
    np.testing.assert_allclose(one.loc[list(m.spend), "spend"], one.loc[list(m.spend), "exposure"], rtol=1e-9)
    assert main(["--no-cache", "optimize", str(run), "--budget", "50000", "--weeks", "8"]) == 0
    alloc = json.loads((run / "allocation.json").read_text())
    assert sum(alloc["allocation"].values()) == pytest.approx(50000, rel=1e-6)
    assert set(alloc["allocation"]) == set(m.spend)


def test_spend_only_column_crossed_with_another_channel_exits_2(spend_only_csv, tmp_path, capsys):
    path, m = spend_only_csv
    a, b = m.spend[:2]
    argv = ["validate", str(path), "--region", m.region, "--time", m.time, "--target", m.target,
            "--media", f"{a},{b}", "--spend", f"{b},{a}"]
    assert main(argv) == 2
    assert f"media column '{a}' is paired with spend column '{b}'" in capsys.readouterr().err
