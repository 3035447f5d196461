"""The figure functions on plain arrays (no fitted model needed)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from causalmmm_jax.report import figures as F
from causalmmm_jax.report import figures_model as FM

TIMES = [f"2023-01-{d:02d}" for d in range(1, 11)]


def test_round_sig_keeps_four_digits_and_maps_nan_to_none():
    out = F.round_sig(np.array([123456.789, 0.000123456, -2.5, np.nan, np.inf, 3.0]))
    assert out == [123500, 0.0001235, -2.5, None, None, 3]
    assert F.round_sig(np.ones((2, 2)) / 3) == [[0.3333, 0.3333], [0.3333, 0.3333]]
    assert F.round_sig(np.float64(2.0)) == 2
    json.dumps(out, allow_nan=False)


def test_short_names_strip_common_prefix_and_suffixes():
    names = ["impressions_Channel_01_delayed_lag_1", "impressions_Channel_02_exponential_decay_0"]
    assert F.short_names(names) == ["Channel_01", "Channel_02"]
    assert F.short_names(["tv", "radio"]) == ["tv", "radio"]
    long = ["x_" + "a" * 40, "x_" + "a" * 39 + "b"]
    assert F.short_names(long) == long  # shortening would collide: keep the full names
    assert F.short_names(["only"]) == ["only"]


def test_hill_curve_is_the_fitted_formula_not_the_original_bug():
    x = np.array([0.0, 1.0, 2.0, 4.0])
    y = FM.hill_curve(x, top=10.0, bottom=1.0, half=2.0, slope=2.0)
    np.testing.assert_allclose(y, [1.0, 1.0 + 9.0 * 1 / 5, 5.5, 1.0 + 9.0 * 16 / 20])
    assert FM.hill_curve([2.0], 10.0, 0.0, 2.0, 3.0)[0] == pytest.approx(5.0)  # half-saturation point


def test_time_series_figures_shade_the_holdout():
    beta = np.random.default_rng(0).uniform(size=(10, 3))
    for fig in (F.channel_lines(TIMES, beta, ["a", "b", "c"], 7),
                F.coefficients_over_time(TIMES, beta, ["a", "b", "c"], 7),
                FM.inputs_over_time(TIMES, beta, ["a", "b", "c"], 7, "t", "y")):
        assert isinstance(fig, go.Figure) and len(fig.data) == 3
        shapes = fig.layout.shapes
        assert len(shapes) == 1 and shapes[0].x0 == TIMES[7] and shapes[0].x1 == TIMES[-1]
    assert not F.channel_lines(TIMES, beta, ["a", "b", "c"], 10).layout.shapes  # no holdout: no shading


def test_actual_vs_predicted_has_one_menu_entry_per_region_plus_national():
    rng = np.random.default_rng(1)
    actual = rng.uniform(50, 100, size=(3, 10))
    actual[1, 2] = np.nan
    pred = actual + 1
    fig = F.actual_vs_predicted(TIMES, ["r1", "r2", "r3"], actual, pred, 7)
    assert len(fig.data) == 2
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["National total", "Region r1", "Region r2", "Region r3"]
    assert buttons[2].args[0]["y"][0][2] is None  # unobserved cell is a gap
    national = np.nansum(actual, axis=0)
    assert fig.data[0].y[2] == F.round_sig(national)[2]


def test_actual_vs_predicted_draws_the_prediction_interval_as_a_band_every_menu_entry_restyles():
    rng = np.random.default_rng(2)
    actual = rng.uniform(50, 100, size=(2, 10))
    pred = actual + 1
    pred[1, 4] = np.nan  # an unobserved cell: no band there either
    band = (pred - 5, pred + 5)
    nat = (np.nansum(pred, 0) - 7, np.nansum(pred, 0) + 7)
    fig = F.actual_vs_predicted(TIMES, ["r1", "r2"], actual, pred, 7, band=band, national_band=nat)
    assert len(fig.data) == 4 and fig.data[3].fill == "tonexty"
    buttons = fig.layout.updatemenus[0].buttons
    assert all(len(b.args[0]["y"]) == 4 for b in buttons)
    lo, hi = buttons[2].args[0]["y"][2:]
    assert lo[0] == F.round_sig(band[0][1])[0] and hi[0] == F.round_sig(band[1][1])[0]
    assert lo[4] is None and hi[4] is None
    assert fig.data[3].y[0] == F.round_sig(nat[1])[0]
    with pytest.raises(ValueError, match="together"):
        F.actual_vs_predicted(TIMES, ["r1", "r2"], actual, pred, 7, band=band)


def test_holdout_scatter_and_waterfall_and_donut():
    fig = F.holdout_scatter(np.array([1.0, 2.0]), np.array([1.1, 1.9]), ["a", "b"], r2=0.9)
    assert "R² 0.900" in fig.layout.title.text
    wf = F.contribution_waterfall(100.0, {"tv": 10.0, "radio": 5.0}, -2.0, 7.0)
    assert list(wf.data[0].x) == ["baseline", "tv", "radio", "controls", "seasonality", "total"]
    assert wf.data[0].y[-1] == 120
    donut = F.component_donut({"baseline": 5.0, "media": 3.0, "controls": -1.0})
    assert list(donut.data[0].labels) == ["baseline", "media"]
    assert "controls" in donut.layout.title.text  # negative totals are named, not drawn


def test_dag_network_draws_edges_above_the_threshold():
    W = np.array([[0, 0.8, 0.1], [0, 0, 0.5], [0, 0, 0]])
    fig = FM.dag_network(W, ["a", "b", "c"], threshold=0.3)
    assert len(fig.layout.annotations) == 2  # a→b and b→c
    assert "2 edges" in fig.layout.title.text
    assert "none above" in FM.dag_network(W, ["a", "b", "c"], threshold=0.9).layout.title.text
    hm = FM.dag_heatmap(W, ["a", "b", "c"])
    assert hm.data[0].z[0][1] == 0.8


def test_roi_bars_with_and_without_bands():
    fig = FM.roi_bars(["a", "b"], np.array([2.0, 1.0]), np.array([1.5, 0.8]), np.array([2.5, 1.1]))
    assert list(fig.data[0].error_y.array) == [0.5, 0.1] and list(fig.data[0].error_y.arrayminus) == [0.5, 0.2]
    assert FM.roi_bars(["a"], np.array([1.0])).data[0].error_y.array is None


def test_response_curves_use_the_weekly_units_of_the_fit():
    params = pd.DataFrame({"channel": ["tv"], "top": [100.0], "bottom": [0.0], "half_saturation": [10.0],
                           "slope": [1.0], "r2": [0.95], "x_unit": ["weekly_spend"], "current_weekly": [10.0]})
    pts = pd.DataFrame({"channel": ["tv"] * 3, "multiplier": [0.0, 1.0, 2.0], "spend": [0.0, 100.0, 200.0],
                        "kpi": [5.0, 505.0, 672.0], "incremental": [0.0, 500.0, 667.0]})
    fig = FM.response_curves(params, pts, weeks=10)
    line, current, model = fig.data
    assert line.mode == "lines" and "R² 0.95" in line.name
    assert current.x[0] == 10 and current.y[0] == 50  # f(half) = top / 2
    assert list(model.x) == [0, 10, 20] and list(model.y) == [0, 50, 66.7]
    assert fig.layout.xaxis.title.text == "weekly spend"
    only_points = FM.response_curves(None, pts.drop(columns=["spend", "incremental"]))
    assert only_points.layout.xaxis.title.text.startswith("media multiplier")


def test_budget_allocation_groups_current_and_optimised():
    fig = FM.budget_allocation(["a", "b"], np.array([1.0, 2.0]), np.array([1.5, 1.5]), "spend", "note")
    assert [t.name for t in fig.data] == ["current", "optimised"] and fig.layout.barmode == "group"
