"""Budget optimisation: analytic optimum for every method, constraints, infeasible bounds, the
model and curve routes on a fitted run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from causalmmm_jax.analysis._jaxopt import use_fallback
from causalmmm_jax.analysis.budget import (METHODS, below_observed, beyond_observed, maximize_allocation,
                                           optimize_budget, optimize_curves, parse_bounds, resolve_bounds)
from causalmmm_jax.errors import ConfigError, UserError

TOP = np.array([500.0, 800.0, 300.0, 1000.0, 50.0])
HALF = np.array([100.0, 400.0, 50.0, 900.0, 10.0])
WEEKS = 52
NAMES = ["impressions_a", "impressions_b", "impressions_c", "impressions_d", "impressions_e"]


def analytic(budget, lower=None, upper=None):
    """Optimum of Σ_c N·top_c·x_c/(N·half_c + x_c) (Hill with slope 1, bottom 0): equal marginal
    returns N·top·H/(H + x)² = λ (H = N·half), x_c = clip(sqrt(N·top·H/λ) − H, lower, upper), with λ
    found by bisection so that Σx = budget."""
    h = WEEKS * HALF
    lo = np.zeros(5) if lower is None else np.asarray(lower, float)
    hi = np.full(5, budget) if upper is None else np.asarray(upper, float)
    x_of = lambda lam: np.clip(np.sqrt(WEEKS * TOP * h / lam) - h, lo, hi)  # noqa: E731
    a, b = 1e-15, 1e9
    for _ in range(400):
        m = np.sqrt(a * b)
        a, b = (m, b) if x_of(m).sum() > budget else (a, m)
    x = x_of(np.sqrt(a * b))
    return x, float((WEEKS * TOP * x / (h + x)).sum())


def params_frame():
    return pd.DataFrame({"channel": NAMES, "top": TOP, "bottom": 0.0, "half_saturation": HALF, "slope": 1.0})


CASES = {
    "free": (60000.0, None),
    "bounded": (60000.0, {"impressions_d": (None, 10000.0), "impressions_e": (5000.0, None),
                          "impressions_c": (1000.0, 2000.0)}),
    "small": (800.0, None),
}


SOLVERS = [(m, False) for m in METHODS] + [("projected", True), ("de", True)]  # scipy methods never use jaxopt


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("method, fallback", SOLVERS,
                         ids=[f"{m}-{'optax-fallback' if f else 'jaxopt'}" for m, f in SOLVERS])
def test_every_method_finds_the_analytic_optimum(method, case, fallback):
    budget, bounds = CASES[case]
    lower, upper = resolve_bounds(NAMES, budget, bounds)
    x_star, r_star = analytic(budget, lower, upper)
    with use_fallback(fallback):
        res = optimize_curves(params_frame(), budget, weeks=WEEKS, bounds=bounds, method=method)
    x = np.array([res.allocation[c] for c in NAMES])
    assert res.success, res.message
    assert abs(x.sum() - budget) <= 1e-6 * budget
    assert np.all(x >= lower - 1e-6 * budget) and np.all(x <= upper + 1e-6 * budget)
    assert res.predicted_response == pytest.approx(r_star, rel=1e-3)
    assert res.predicted_response <= r_star * (1 + 1e-9)
    np.testing.assert_allclose(x, x_star, atol=1e-6 * budget)  # measured: ≤ 5e-8·budget


def test_result_fields_and_by_channel():
    res = optimize_curves(params_frame(), 60000.0, weeks=WEEKS)
    by = res.by_channel
    assert list(by.columns) == ["channel", "total_spend", "weekly_spend", "response", "roi", "marginal_roi",
                                "spend_pct", "response_pct", "half_saturation"]
    assert by["total_spend"].is_monotonic_decreasing
    assert by["spend_pct"].sum() == pytest.approx(100.0)
    assert by["response"].sum() == pytest.approx(res.predicted_response)
    # at an interior optimum the marginal returns of funded channels are equal
    funded = by[by.total_spend > 1.0]
    assert np.ptp(funded["marginal_roi"]) < 1e-3 * funded["marginal_roi"].mean()
    # current = equal split here; optimum is at least as good
    assert res.uplift >= 0 and res.uplift == pytest.approx(res.predicted_response - res.current_response)
    d = res.to_dict()
    assert set(d) >= {"success", "method", "on", "allocation", "predicted_response", "current_response", "uplift",
                      "uplift_pct"}


def test_nonconcave_s_curves_de_is_global():
    """S-shaped curves (slope 3): the global optimum funds few channels; DE finds a response at
    least as high as the local methods started from the equal split."""
    p = params_frame().assign(slope=3.0)
    budget = 30000.0
    best = {m: optimize_curves(p, budget, weeks=WEEKS, method=m).predicted_response for m in METHODS}
    assert best["de"] >= max(best.values()) * (1 - 1e-4)


def test_maximize_allocation_generic():
    """A quadratic with a known projection answer: max −Σ(x − t)² s.t. Σx = 10, 0 ≤ x ≤ 4."""
    import jax.numpy as jnp

    t = np.array([5.0, 3.0, 1.0, -1.0])
    for method in METHODS:
        x, ok, _ = maximize_allocation(lambda v: -jnp.sum((v - jnp.asarray(t)) ** 2), 10.0, np.zeros(4),
                                       np.full(4, 4.0), method=method)
        # trust-constr's interior-point barrier stops ~1e-3 inside active bounds
        np.testing.assert_allclose(x, [4.0, 4.0, 2.0, 0.0], atol=1e-2 if method == "trust-constr" else 1e-6)
        assert ok and abs(x.sum() - 10.0) < 1e-12


# --------------------------------------------------------------------------- bounds

@pytest.mark.parametrize("bounds, match", [
    ({"impressions_a": (40000.0, None), "impressions_b": (30000.0, None)}, "lower bounds sum"),
    ({n: (None, 1000.0) for n in NAMES}, "upper bounds sum"),
    ({"impressions_a": (500.0, 100.0)}, "lower 500 > upper 100"),
    ({"impressions_a": (-1.0, None)}, ">= 0"),
    ({"impressions_zz": (0.0, 1.0)}, "unknown channel 'impressions_zz'"),
])
def test_infeasible_bounds_raise(bounds, match):
    with pytest.raises(ConfigError, match=match):
        optimize_curves(params_frame(), 60000.0, weeks=WEEKS, bounds=bounds)


def test_budget_and_method_validation():
    with pytest.raises(ConfigError, match="positive"):
        resolve_bounds(NAMES, 0.0, None)
    with pytest.raises(ConfigError, match="unknown optimisation method"):
        optimize_curves(params_frame(), 100.0, method="newton")


def test_parse_bounds():
    assert parse_bounds(["a=1:2", "b=:5", "c=3:"]) == {"a": (1.0, 2.0), "b": (None, 5.0), "c": (3.0, None)}
    assert parse_bounds(None) == {}
    for bad in ("a", "a=1", "=1:2", "a=x:2"):
        with pytest.raises(ConfigError):
            parse_bounds([bad])


# --------------------------------------------------------------------------- fitted run

@pytest.mark.parametrize("on", ["curves", "model"])
def test_optimize_fitted_run(fitted, on):
    budget, weeks = 2.0e6, 26
    chans = list(fitted.panel.channels)
    bounds = {chans[0]: (1.0e5, 6.0e5)}
    res = optimize_budget(fitted, budget, weeks=weeks, bounds=bounds, method="projected", on=on)
    x = np.array([res.allocation[c] for c in chans])
    assert res.on == on and res.unit == "spend" and res.weeks == weeks
    assert abs(x.sum() - budget) <= 1e-6 * budget
    assert 1.0e5 - 1e-6 <= x[0] <= 6.0e5 + 1e-6 and np.all(x >= -1e-9)
    # current = historical mix of the last `weeks` training weeks, scaled to the budget
    n = fitted.split.n_train
    hist = fitted.panel.spend[:, n - weeks:n].sum(axis=(0, 1))
    np.testing.assert_allclose([res.historical_allocation[c] for c in chans], hist, rtol=1e-9)
    np.testing.assert_allclose([res.current_allocation[c] for c in chans], hist * budget / hist.sum(), rtol=1e-9)
    assert res.predicted_response >= res.current_response * (1 - 1e-4)
    assert len(res.by_channel) == len(chans)
    by = res.by_channel.set_index("channel")
    for col in ("response", "marginal_roi"):  # every channel's response and marginal return are numbers
        assert np.all(np.isfinite(by[col].to_numpy(np.float64))), col
    assert ((by["beyond_observed_pct"] >= 0) & (by["beyond_observed_pct"] <= 100)).all()
    w = by["total_spend"] / by["total_spend"].sum()
    assert res.beyond_observed_pct == pytest.approx(float((w * by["beyond_observed_pct"]).sum()))
    assert set(res.to_dict()["beyond_observed"]) == set(chans)
    assert ((by["below_observed_pct"] >= 0) & (by["below_observed_pct"] <= 100)).all()
    assert ((by["min_vs_observed"] >= 0) & (by["min_vs_observed"] <= 1)).all()
    h = pd.Series(hist, index=chans)
    assert res.below_observed_pct == pytest.approx(float((h * by["below_observed_pct"]).sum() / h.sum()))
    assert set(res.to_dict()["below_observed"]) == set(chans)


def test_fixed_channels(fitted):
    """``fixed`` holds channels at their historical spend of the horizon while the others share the
    rest of the budget; the current plan keeps them there too; bad names, a fixed channel with
    bounds and fixed spend above the budget are refused with the reason."""
    from causalmmm_jax.analysis.curves import curve_params

    budget, weeks = 2.0e6, 26
    chans, n = list(fitted.panel.channels), fitted.split.n_train
    hist = fitted.panel.spend[:, n - weeks:n].sum(axis=(0, 1))
    params = curve_params(fitted)
    res = optimize_budget(fitted, budget, weeks=weeks, fixed=[chans[2], chans[0]], on="curves", curves=params)
    assert res.fixed == [chans[0], chans[2]] and res.to_dict()["fixed"] == res.fixed
    assert fitted.config.analysis.budget_method == "auto" and res.method == "multistart"  # auto on the curves
    x = np.array([res.allocation[c] for c in chans])
    cur = np.array([res.current_allocation[c] for c in chans])
    held, free = [0, 2], [i for i in range(len(chans)) if i not in (0, 2)]
    np.testing.assert_allclose(x[held], hist[held], rtol=1e-9)
    np.testing.assert_allclose(cur[held], hist[held], rtol=1e-9)
    np.testing.assert_allclose(cur[free], hist[free] * (budget - hist[held].sum()) / hist[free].sum(), rtol=1e-9)
    assert x.sum() == pytest.approx(budget, rel=1e-9) and cur.sum() == pytest.approx(budget, rel=1e-9)
    assert res.predicted_response >= res.current_response * (1 - 1e-6)
    free_only = optimize_budget(fitted, budget, weeks=weeks, on="curves", curves=params)
    assert free_only.fixed == [] and free_only.predicted_response >= res.predicted_response * (1 - 1e-6)
    with pytest.raises(ConfigError, match="unknown channel 'nope'"):
        optimize_budget(fitted, budget, weeks=weeks, fixed=["nope"], on="curves", curves=params)
    with pytest.raises(ConfigError, match="both fixed and bounded"):
        optimize_budget(fitted, budget, weeks=weeks, fixed=[chans[0]], bounds={chans[0]: (0.0, 1e5)}, on="curves",
                        curves=params)
    with pytest.raises(ConfigError, match="exceeds the budget"):
        optimize_budget(fitted, 0.5 * hist[0], weeks=weeks, fixed=[chans[0]], on="curves", curves=params)


def test_beyond_observed(fitted):
    """The historical plan never leaves the observed range; tripling one channel puts exactly the
    part of each region-week above that region's largest training week beyond it."""
    n, weeks = fitted.split.n_train, 13
    spend = fitted.panel.spend[:, :n]
    hist = spend[:, n - weeks:].sum(axis=(0, 1))
    pct, ratio = beyond_observed(fitted, hist, hist, weeks)
    np.testing.assert_array_equal(pct, 0.0)
    assert np.all(ratio <= 1.0 + 1e-12)
    x = hist.copy()
    x[1] *= 3.0
    pct, ratio = beyond_observed(fitted, x, hist, weeks)
    planned = 3.0 * spend[:, n - weeks:, 1]
    peak = spend[:, :, 1].max(axis=1)[:, None]
    assert pct[1] == pytest.approx(100 * np.maximum(planned - peak, 0).sum() / planned.sum())
    assert pct[1] > 0 and ratio[1] == pytest.approx((planned / peak).max())
    np.testing.assert_array_equal(np.delete(pct, 1), 0.0)


def test_below_observed(fitted):
    """The historical plan never cuts below the observed range; cutting a channel to zero puts
    each region's smallest training week, every window week, below it (nothing for a channel the
    training weeks saw at zero spend); halving counts only the part under that smallest week."""
    n, weeks = fitted.split.n_train, 13
    cells = fitted.split.train_mask(fitted.panel.mask)[:, :n]
    spend = np.where(cells[..., None], fitted.panel.spend[:, :n], 0.0)
    floor = np.where(cells[..., None], fitted.panel.spend[:, :n], np.inf).min(axis=1)  # [R, C]
    win = spend[:, n - weeks:]
    hist = win.sum(axis=(0, 1))
    pct, ratio = below_observed(fitted, hist, hist, weeks)
    np.testing.assert_array_equal(pct, 0.0)
    np.testing.assert_array_equal(ratio, 1.0)
    on = [c for c in range(len(hist)) if floor[:, c].min() > 0]
    off = [c for c in range(len(hist)) if floor[:, c].max() == 0]
    assert on and off  # the panel has always-on and flighted channels
    for factor in (0.0, 0.5):
        pct, ratio = below_observed(fitted, hist * factor, hist, weeks)
        want = 100 * np.maximum(floor[:, None, :] - factor * win, 0).sum(axis=(0, 1)) / hist
        np.testing.assert_allclose(pct, want, rtol=1e-9)
        assert np.all(pct[on] > 0) and np.all(pct[off] == 0)
        if factor == 0.0:
            np.testing.assert_array_equal(ratio[on], 0.0)


def test_model_route_scipy_method(fitted):
    """SLSQP on the model (float32 gradients through the network) stays feasible and does not lose
    against the start point (the model's response is not concave, so local methods may differ)."""
    budget, weeks = 2.0e6, 26
    res = optimize_budget(fitted, budget, weeks=weeks, method="slsqp", on="model")
    assert sum(res.allocation.values()) == pytest.approx(budget, rel=1e-9)
    assert res.predicted_response >= res.current_response * (1 - 1e-4)


def test_auto_route(fitted):
    """``on="auto"`` (the default) is the model re-run when it applies, the same plan as
    ``on="model"``; past the training period, or with a channel unspent in the window, it falls
    back to the curves and says why."""
    budget, weeks = 2.0e6, 26
    auto = optimize_budget(fitted, budget, weeks=weeks)
    model = optimize_budget(fitted, budget, weeks=weeks, on="model")
    assert fitted.config.analysis.budget_on == "auto"
    assert auto.on == "model" and auto.route_note == "" and auto.method == "projected"  # auto: projected on the model
    assert auto.allocation == model.allocation
    long = optimize_budget(fitted, budget, weeks=fitted.split.n_train + 1, method="projected")  # (the route is tested)
    assert long.on == "curves" and "longer than the training period" in long.route_note
    assert long.to_dict()["route_note"] == long.route_note and long.route_note in long.message
    n, chans = fitted.split.n_train, list(fitted.panel.channels)
    spend = fitted.panel.spend.copy()
    spend[:, n - weeks:n, 2] = 0.0
    quiet = dataclasses.replace(fitted, panel=dataclasses.replace(fitted.panel, spend=spend))
    res = optimize_budget(quiet, budget, weeks=weeks, method="projected")
    assert res.on == "curves" and chans[2] in res.route_note and "no spend" in res.route_note
    with pytest.raises(ConfigError, match=chans[2]):
        optimize_budget(quiet, budget, weeks=weeks, on="model")


def test_model_route_errors(fitted):
    with pytest.raises(ConfigError, match="weeks"):
        optimize_budget(fitted, 1e6, weeks=fitted.split.n_train + 1, on="model")
    with pytest.raises(ConfigError, match="'on'"):
        optimize_budget(fitted, 1e6, on="magic")
    sov = dataclasses.replace(fitted, scaler=dataclasses.replace(fitted.scaler, media_mode="sov"))
    with pytest.raises(UserError, match="media_scaling"):
        optimize_budget(sov, 1e6)


# --------------------------------------------------------------------------- targets

def test_search_budget_finds_the_analytic_budget():
    """The search on curves with a known optimum (``analytic``, exact plans): the smallest budget
    adding a KPI and the largest budget returning an ROI are both the budget that defined the
    target (to the search's tolerance, from a start above and one below); unreachable targets are
    refused with the reason; upper bounds that cap the budget are spent when the target holds there."""
    from types import SimpleNamespace

    from causalmmm_jax.analysis.targets import search_budget

    calls = []

    def solve(b):  # the exact best plan at budget b
        calls.append(b)
        x, v = analytic(b)
        return SimpleNamespace(predicted_response=v, allocation=dict(zip(NAMES, x)))

    want = 45000.0
    kpi = analytic(want)[1]
    res, info = search_budget(solve, "kpi", kpi, 60000.0, rtol=1e-4)
    assert info["budget"] == pytest.approx(want, rel=2e-4) and info["achieved"] >= kpi
    assert sum(res.allocation.values()) == pytest.approx(info["budget"], rel=1e-9)
    assert info["evaluations"] == len(set(calls)) and info["searched"] == [min(calls), max(calls)]
    res, info = search_budget(solve, "roi", kpi / want, 20000.0, rtol=1e-4)
    assert info["budget"] == pytest.approx(want, rel=2e-4) and info["achieved"] >= kpi / want
    assert res.predicted_response >= kpi / want * info["budget"]
    ceiling = float(WEEKS * TOP.sum())  # the response never reaches Σ N·top
    with pytest.raises(ConfigError, match="out of reach"):
        search_budget(solve, "kpi", ceiling, 60000.0)
    with pytest.raises(ConfigError, match="no budget reaches an ROI"):
        search_budget(solve, "roi", 1e3, 60000.0)  # above every channel's first-unit return
    with pytest.raises(ConfigError, match="ROI stays above"):
        search_budget(solve, "roi", 1e-6, 60000.0)
    res, info = search_budget(solve, "roi", 1e-6, 6000.0, ceiling=10000.0)  # upper bounds sum to 10000
    assert info["budget"] == pytest.approx(10000.0)
    with pytest.raises(ConfigError, match="no budget to search"):
        search_budget(solve, "kpi", 1.0, 6000.0, floor=20000.0, ceiling=10000.0)


def test_optimize_target_on_a_fitted_run(fitted):
    """``optimize_target``: the ROI of the plan at the historical budget, asked 10 % higher, gives a
    smaller budget that meets it; that plan's response as a KPI target gives the same budget back."""
    from causalmmm_jax.analysis.targets import optimize_target

    weeks = 26  # without the observed floors (test_observed_floors has them): the search's own claims
    base = optimize_budget(fitted, None, weeks=weeks, on="curves", floor="none")
    roi = 1.1 * base.predicted_response / base.budget
    res = optimize_target(fitted, "roi", roi, weeks=weeks, rtol=2e-2, floor="none")
    t = res.target
    assert res.on == "curves" and res.method == "de" and t["kind"] == "roi" and t["achieved"] >= roi
    assert t["budget"] < base.budget and sum(res.allocation.values()) == pytest.approx(t["budget"], rel=1e-9)
    assert res.to_dict()["target"] == t and "budget found for the roi target" in res.message
    back = optimize_target(fitted, "kpi", res.predicted_response, weeks=weeks, rtol=2e-2, floor="none")
    assert back.target["budget"] == pytest.approx(t["budget"], rel=5e-2)
    with pytest.raises(ConfigError, match="positive"):
        optimize_target(fitted, "roi", -1.0, weeks=weeks)
    with pytest.raises(ConfigError, match="target must be one of"):
        optimize_target(fitted, "cpa", 1.0, weeks=weeks)


def test_observed_floors(fitted):
    """``floor="observed"`` (the default): every always-on channel keeps at least the smaller of its
    smallest national weekly spend in the training weeks × the horizon and its current plan, on
    the curves and plan routes and in a target (a flighted channel, seen at zero, has none); a
    given bound or a fixed channel replaces the floor; floors that the given lower bounds leave no
    room for shrink in proportion (said in the message); ``"none"`` sets none."""
    from causalmmm_jax.analysis.curves import curve_params
    from causalmmm_jax.analysis.planning import optimize_plan
    from causalmmm_jax.analysis.targets import optimize_target

    weeks, n = 13, fitted.split.n_train
    chans = list(fitted.panel.channels)
    cells = fitted.split.train_mask(fitted.panel.mask)[:, :n]
    weekly = np.where(cells[..., None], fitted.panel.spend[:, :n], 0.0).sum(axis=0)  # [W, C]
    low = weekly.min(axis=0) * weeks
    on = [c for c, v in zip(chans, low) if v > 0]
    assert on and len(on) < len(chans)  # always-on and flighted channels
    hist = fitted.panel.spend[:, n - weeks:n].sum(axis=(0, 1))
    want = {c: float(v) for c, v in zip(chans, low) if v > 0}
    params = curve_params(fitted)
    assert fitted.config.analysis.budget_floor == "observed"
    assert optimize_budget(fitted, weeks=weeks, on="curves", curves=params, floor="none").floors == {}

    def check(res, floors):
        assert res.floors == pytest.approx(floors, rel=1e-9) and res.to_dict()["floors"] == res.floors
        assert all(res.allocation[c] >= v * (1 - 1e-6) for c, v in floors.items())
        at = [c for c, v in floors.items() if res.allocation[c] <= v * (1 + 1e-6)]  # the message names these
        assert ("binding for " + ", ".join(at) in res.message) if at else ("binding" not in res.message)

    for factor in (1.0, 0.3):  # today's budget: the observed floors; a third of it: the current plan below them
        budget = factor * hist.sum()
        res = optimize_budget(fitted, budget, weeks=weeks, on="curves", curves=params)  # the default
        check(res, {c: min(v, factor * hist[chans.index(c)]) for c, v in want.items()})
        free = optimize_budget(fitted, budget, weeks=weeks, on="curves", curves=params, floor="none")
        assert res.predicted_response <= free.predicted_response * (1 + 1e-6)  # a constraint costs, never gains
        assert "observed floors (" not in res.message  # not shrunk
    # a given bound replaces the channel's floor; a fixed channel keeps its spend
    bounded = optimize_budget(fitted, weeks=weeks, on="curves", curves=params, bounds={on[0]: (0.0, 0.1 * want[on[0]])})
    assert on[0] not in bounded.floors and bounded.allocation[on[0]] <= 0.1 * want[on[0]] * (1 + 1e-6)
    capped_only = optimize_budget(fitted, weeks=weeks, on="curves", curves=params,
                                  bounds={on[0]: (None, 0.5 * want[on[0]])})  # an upper-only bound caps the floor
    assert capped_only.floors[on[0]] == pytest.approx(0.5 * want[on[0]], rel=1e-9)
    assert capped_only.allocation[on[0]] == pytest.approx(0.5 * want[on[0]], rel=1e-6)
    assert on[0] in capped_only.floors_binding() and on[0] in capped_only.to_dict()["floors_binding"]
    held = optimize_budget(fitted, weeks=weeks, on="curves", curves=params, fixed=[on[0]])
    assert on[0] not in held.floors and held.allocation[on[0]] == pytest.approx(hist[chans.index(on[0])], rel=1e-9)
    assert set(held.floors) == set(on[1:])
    # with max_change the floors still apply (the cap bounds every channel, the floors too)
    capped = optimize_budget(fitted, weeks=weeks, on="curves", curves=params, max_change=0.9)
    check(capped, want)
    assert all(0.1 * h - 1e-6 <= capped.allocation[c] <= 1.9 * h + 1e-6 for c, h in zip(chans, hist))
    # a flighted channel bounded from below so high that the floors fit only at half their size
    off = next(c for c in chans if c not in want and hist[chans.index(c)] > 0)
    need = sum(want[c] for c in on[1:] + on[:1])
    small = optimize_budget(fitted, weeks=weeks, on="curves", curves=params, bounds={off: (hist.sum() - 0.5 * need, None)})
    check(small, {c: 0.5 * v for c, v in want.items()})
    assert "scaled to 50.0%" in small.message
    # the plan route and a target hold them too
    plan = optimize_plan(fitted, weeks=weeks, maxiter=50)
    check(plan, want)
    # on the plan route, floors that the region/week bounds leave no plan for are dropped, said so
    import causalmmm_jax.analysis.planning as planning

    real, seen = planning.row_bounds, []

    def row_bounds(result, by, budget, lower, upper, g_lo, *rest):
        seen.append(np.array(g_lo))
        if len(seen) == 1:
            raise ConfigError("infeasible constraints: no plan meets the region bounds")
        return real(result, by, budget, lower, upper, g_lo, *rest)

    planning.row_bounds = row_bounds
    try:
        dropped = optimize_plan(fitted, weeks=weeks, maxiter=5)
        assert dropped.floors == {} and "no floors: with the channel bounds no plan" in dropped.message
        assert seen[0].sum() > seen[1].sum()  # the second try without the floors
        seen.clear()
        with pytest.raises(ConfigError, match="no plan meets"):  # without floors the user's bounds are to blame
            optimize_plan(fitted, weeks=weeks, maxiter=5, floor="none")
    finally:
        planning.row_bounds = real
    target = optimize_target(fitted, "kpi", 0.5 * res.predicted_response, weeks=weeks, rtol=5e-2)
    assert set(target.floors) == set(on)
    assert all(target.allocation[c] >= v * (1 - 1e-6) for c, v in target.floors.items())
    with pytest.raises(ConfigError, match="floor must be one of"):
        optimize_budget(fitted, weeks=weeks, on="curves", curves=params, floor="lowest")


def test_apply_floors_rounding_and_no_room():
    """A floor sum one rounding error above the budget is not 'scaled'; given lower bounds that take
    the whole budget leave no floor, and the note says so."""
    from causalmmm_jax.analysis._bounds import apply_floors

    cur = np.array([0.1, 0.2, 0.7]) * (1.0 / 3.0) * 3.0
    budget = float(cur.sum()) * (1 - 1e-16)
    low, used, note = apply_floors(["a", "b", "c"], cur, budget, np.zeros(3), np.full(3, budget))
    assert note == "" and used == pytest.approx(dict(zip("abc", cur)))
    low, used, note = apply_floors(["a", "b", "c"], np.array([0.0, 0.3, 0.3]), 1.0, np.array([1.0, 0, 0]),
                                   np.ones(3))
    assert used == {} and "scaled to 0.0%" in note
    np.testing.assert_allclose(low, [1.0, 0.0, 0.0], atol=1e-12)
