"""Spend plans [regions, weeks, channels]: round trips, consistency with the fitted sequence and the
budget's model route, carry-over from earlier spend, ensembles, and bad plans refused."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from causalmmm_jax.analysis._plan_eval import _sequence
from causalmmm_jax.analysis.plans import (
    SpendPlan,
    evaluate_plan,
    exposure_per_spend,
    plan_from_frame,
    plan_to_frame,
    spread_plan,
)
from causalmmm_jax.errors import DataError

WEEKS = 13


def _history_plan(fitted, weeks=WEEKS):
    """The last ``weeks`` training weeks' media as a spend plan (spend = media / exposure per spend),
    so that evaluating it reproduces the fitted sequence exactly."""
    p, n = fitted.panel, fitted.split.n_train
    eps = exposure_per_spend(fitted)
    media = np.where(p.mask[:, n - weeks:n, None], p.media[:, n - weeks:n], 0.0)
    return SpendPlan(spend=media / eps[:, None, :], start=n - weeks)


def test_spread_plan_keeps_totals_and_the_window_pattern(fitted):
    p, n = fitted.panel, fitted.split.n_train
    alloc = {c: 1000.0 * (i + 1) for i, c in enumerate(p.channels)}
    for pattern in ("history", "flat"):
        plan = spread_plan(fitted, alloc, WEEKS, pattern=pattern)
        assert plan.spend.shape == (p.n_regions, WEEKS, p.n_channels) and plan.start == p.n_weeks
        np.testing.assert_allclose(plan.spend.sum(axis=(0, 1)), list(alloc.values()), rtol=1e-12)
    plan = spread_plan(fitted, alloc, WEEKS)
    window = np.where(p.mask[:, n - WEEKS:n, None], p.spend[:, n - WEEKS:n], 0.0)
    ratio = plan.spend / np.where(window > 0, window, np.nan)
    for c in range(p.n_channels):  # each channel: the window's region × week shape, scaled
        vals = ratio[..., c][np.isfinite(ratio[..., c])]
        if vals.size:
            np.testing.assert_allclose(vals, vals[0], rtol=1e-9)
    flat = spread_plan(fitted, alloc, WEEKS, pattern="flat")
    np.testing.assert_allclose(flat.spend[:, 0], flat.spend[:, -1])
    long = spread_plan(fitted, alloc, n + 10)  # longer than the training period: the pattern repeats
    np.testing.assert_allclose(long.spend.sum(axis=(0, 1)), list(alloc.values()), rtol=1e-12)
    with pytest.raises(DataError, match="unknown channel"):
        spread_plan(fitted, {"nope": 1.0}, WEEKS)


def test_plan_csv_round_trip(fitted):
    plan = spread_plan(fitted, {c: 500.0 for c in fitted.panel.channels}, 6, start=fitted.panel.n_weeks + 2)
    df = plan_to_frame(fitted, plan)
    assert list(df.columns) == ["region", "week", "channel", "spend"] and len(df) == plan.spend.size
    back = plan_from_frame(fitted, pd.read_csv(pd.io.common.StringIO(df.to_csv(index=False))))
    assert back.start == plan.start and back.unit == "spend"
    np.testing.assert_allclose(back.spend, plan.spend, rtol=1e-12)
    sparse = plan_from_frame(fitted, plan_to_frame(fitted, plan, drop_zero=True).iloc[:5])  # absent rows: no spend
    assert np.count_nonzero(sparse.spend) == 5


def test_bad_plans_are_refused_with_the_reason(fitted):
    p = fitted.panel
    df = plan_to_frame(fitted, spread_plan(fitted, {c: 100.0 for c in p.channels}, 4))
    cases = {
        "lacks column": df.drop(columns="spend"),
        "not in the fitted data": df.assign(region=df["region"].astype(str).where(df.index > 0, "atlantis")),
        "not media": df.assign(channel=df["channel"].where(df.index > 0, "billboards")),
        "not numbers >= 0": df.assign(spend=df["spend"].where(df.index > 0, -1.0)),
        "more than one row": pd.concat([df, df.iloc[:1]]),
        "not consecutive": df[df["week"] != df["week"].unique()[1]],
    }
    for msg, bad in cases.items():
        with pytest.raises(DataError, match=msg):
            plan_from_frame(fitted, bad)
    with pytest.raises(DataError, match="shape"):
        evaluate_plan(fitted, SpendPlan(spend=np.ones((2, 3, 4)), start=p.n_weeks))
    with pytest.raises(DataError, match="controls"):
        evaluate_plan(fitted, spread_plan(fitted, {p.channels[0]: 1.0}, 2), controls=np.zeros((1, 1, 1)))
    holes = p.mask.copy()
    holes[0, p.n_weeks - 2] = False  # a what-if may not spend where the data have no row
    ragged = dataclasses.replace(fitted, panel=dataclasses.replace(p, mask=holes))
    with pytest.raises(DataError, match="does not observe"):
        evaluate_plan(ragged, SpendPlan(spend=np.ones((p.n_regions, 2, p.n_channels)), start=p.n_weeks - 2))
    zero = dataclasses.replace(p, spend=np.where(np.arange(p.n_channels) == 0, 0.0, p.spend))
    never = dataclasses.replace(fitted, panel=zero)
    with pytest.raises(DataError, match="no spend in the training weeks"):
        evaluate_plan(never, SpendPlan(spend=np.ones((p.n_regions, 2, p.n_channels)), start=p.n_weeks))


def test_history_plan_reproduces_the_fitted_sequence_and_the_model_route(fitted):
    """A what-if plan equal to what was spent leaves the fitted predictions unchanged, and its
    incremental KPI is the budget optimiser's model-route response at the historical plan."""
    from causalmmm_jax.analysis.budget import _model_response, horizon_spend

    p, n = fitted.panel, fitted.split.n_train
    plan = _history_plan(fitted)
    ev = evaluate_plan(fitted, plan)
    pred = np.asarray(fitted.point_components().prediction, np.float64)
    cells = fitted.split.train_mask(p.mask)[:, n - WEEKS:n]
    assert ev.totals["kpi"] == pytest.approx((pred[:, n - WEEKS:n] * cells).sum(), rel=1e-5)
    _, _, _, window_spend, hist, _ = horizon_spend(fitted, WEEKS)
    response, args, per_channel, _ = _model_response(fitted, WEEKS, window_spend)
    x = hist  # the model route's historical plan
    assert ev.totals["incremental"] == pytest.approx(float(response(jnp.asarray(x, jnp.float32), *args)), rel=2e-3)
    np.testing.assert_allclose(ev.by_channel["incremental"], per_channel(x), rtol=2e-3,
                               atol=1e-3 * ev.totals["incremental"])
    assert ev.totals["carryover_in"] > 0  # spend before the window still works in it
    assert any("what-if on history" in note for note in ev.notes)


def test_carry_over_from_spend_before_the_plan(fitted):
    """The same plan predicts more after heavy spend than after none, and the adstocked media differ
    by the earlier spend's adstock, decaying at the fitted rate week by week."""
    from causalmmm_jax.model.mmm import transform_params

    p = fitted.panel
    k, w = 6, 8
    after = spread_plan(fitted, {c: 2e5 for c in p.channels}, w, pattern="flat").spend
    heavy = spread_plan(fitted, {c: 3e5 for c in p.channels}, k, pattern="flat").spend
    plans = {name: SpendPlan(spend=np.concatenate([pre, after], axis=1), start=p.n_weeks)
             for name, pre in (("heavy", heavy), ("none", np.zeros_like(heavy)))}
    kpi = {name: evaluate_plan(fitted, plan).weekly["kpi"].to_numpy()[k:] for name, plan in plans.items()}
    assert np.all(kpi["heavy"] > kpi["none"])
    gap = kpi["heavy"] - kpi["none"]
    assert gap[-1] < gap[0]  # the carry-over fades
    ads = {}
    for name, plan in plans.items():
        seq = _sequence(fitted, plan, 0, None)
        ads[name] = np.asarray(fitted.decompose(seq.panel).adstocked[0], np.float64)[:, p.n_weeks:]  # [R, k+w, C]
    decay = np.asarray(transform_params(fitted.member(0), fitted.spec)["decay"], np.float64)
    diff = ads["heavy"] - ads["none"]
    expected = diff[:, k - 1][:, None, :] * decay[None, None, :] ** np.arange(1, w + 1)[None, :, None]
    np.testing.assert_allclose(diff[:, k:], expected, rtol=1e-4, atol=1e-6 * np.abs(diff).max())
    assert np.all(diff[:, k - 1] > 0)


def test_future_plan_totals_tail_and_channels(fitted):
    p = fitted.panel
    plan = spread_plan(fitted, {c: 1e5 for c in p.channels}, WEEKS)
    ev = evaluate_plan(fitted, plan, tail_weeks=10)
    t = ev.totals
    assert t["spend"] == pytest.approx(1e5 * p.n_channels)
    assert t["incremental"] == pytest.approx(t["kpi"] - t["kpi_without_plan"])
    assert t["carryover_after"] > 0  # adstock carries the plan past its last week
    assert t["roi"] == pytest.approx((t["incremental"] + t["carryover_after"]) / t["spend"])
    assert len(ev.weekly) == WEEKS + 10 and ev.weekly["in_plan"].sum() == WEEKS
    assert ev.weekly.loc[ev.weekly["in_plan"], "incremental"].sum() == pytest.approx(t["incremental"], rel=1e-9)
    assert ev.by_region["spend"].sum() == pytest.approx(t["spend"])
    assert ev.by_region["incremental"].sum() == pytest.approx(t["incremental"], rel=1e-9)
    assert list(ev.by_channel["channel"]) == list(p.channels)
    assert any("controls in the weeks beyond the data" in note for note in ev.notes)
    # controls beyond the data: the KPI level moves with them, the plan's increment hardly
    hi = np.repeat(p.controls.max(axis=1)[:, None, :], WEEKS + 10, axis=1)
    ev_hi = evaluate_plan(fitted, plan, tail_weeks=10, controls=hi)
    assert ev_hi.totals["kpi"] != pytest.approx(t["kpi"], rel=1e-6)
    assert ev_hi.totals["incremental"] == pytest.approx(t["incremental"], rel=0.2)
    d = ev.to_dict()
    assert d["weeks"] == WEEKS and d["tail_weeks"] == 10 and len(d["by_channel"]) == p.n_channels


def test_ensemble_plan_has_bands(ensemble):
    plan = spread_plan(ensemble, {c: 1e5 for c in ensemble.panel.channels}, 4)
    t = evaluate_plan(ensemble, plan).totals
    for name in ("kpi", "incremental"):
        assert t[f"{name}_q05"] <= t[name] <= t[f"{name}_q95"]
        assert t[f"{name}_q05"] < t[f"{name}_q95"]
