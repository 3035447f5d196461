"""The plan route: budgets per channel or per region and channel, optimised through the model run
forward from the week after the data; checked against SLSQP, constraint by constraint, and
against the plan's own evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from causalmmm_jax.analysis._jaxopt import project_grouped_np, project_two_way_np
from causalmmm_jax.analysis.budget import optimize_budget
from causalmmm_jax.analysis.planning import _solve, optimize_plan
from causalmmm_jax.analysis.plans import (evaluate_plan, plan_times, spend_below_floor, spread_plan, week_label,
                                          window_spend)
from causalmmm_jax.errors import ConfigError

WEEKS = 13
ITERS = 40  # optimiser iterations in the fitted-run tests (their claims hold at any cap: same starts, same caps)


def test_grouped_projection_is_the_euclidean_projection():
    """Box, budget and per-column ranges: the bisection projection equals SLSQP's nearest point."""
    import scipy.optimize as so

    rng = np.random.default_rng(0)
    for _ in range(12):
        r, c = rng.integers(1, 5, size=2)
        v = 3 * rng.normal(size=(r, c))
        up = rng.uniform(0.5, 3, size=(r, c))
        gl = rng.uniform(0, 0.25, size=c) * up.sum(0)
        gu = np.minimum(gl + rng.uniform(0, 1, size=c) * up.sum(0), up.sum(0))
        total = rng.uniform(gl.sum(), min(gu.sum(), up.sum()))
        x = project_grouped_np(v, np.zeros_like(v), up, total, gl, gu)
        cons = [{"type": "eq", "fun": lambda z: z.sum() - total}]
        for k in range(c):
            cons += [{"type": "ineq", "fun": lambda z, k=k: z.reshape(r, c)[:, k].sum() - gl[k]},
                     {"type": "ineq", "fun": lambda z, k=k: gu[k] - z.reshape(r, c)[:, k].sum()}]
        ref = so.minimize(lambda z: 0.5 * ((z - v.ravel()) ** 2).sum(), np.clip(v.ravel(), 0, up.ravel()),
                          jac=lambda z: z - v.ravel(), bounds=list(zip(np.zeros(v.size), up.ravel())),
                          constraints=cons, method="SLSQP", options={"ftol": 1e-14, "maxiter": 1000}).x
        np.testing.assert_allclose(x, ref.reshape(r, c), atol=1e-6)
        assert x.sum() == pytest.approx(total, rel=1e-12)
        assert np.all(x.sum(0) >= gl - 1e-9) and np.all(x.sum(0) <= gu + 1e-9)


def test_two_way_projection_is_the_euclidean_projection():
    """Box, budget, column ranges and row ranges (Dykstra between the two grouped projections):
    SLSQP's nearest point, every constraint met."""
    import scipy.optimize as so

    rng = np.random.default_rng(2)
    for _ in range(12):
        r, c = rng.integers(2, 6, size=2)
        v, up = 3 * rng.normal(size=(r, c)), rng.uniform(0.5, 3, size=(r, c))
        x0 = rng.uniform(0, 1, size=(r, c)) * up  # a feasible point makes the ranges consistent
        total = x0.sum()
        gl, gu = x0.sum(0) * rng.uniform(0.5, 1, c), x0.sum(0) * rng.uniform(1, 1.5, c)
        rl, ru = x0.sum(1) * rng.uniform(0.5, 1, r), x0.sum(1) * rng.uniform(1, 1.5, r)
        x = project_two_way_np(v, np.zeros_like(v), up, total, gl, gu, rl, ru)
        sums = lambda z, k, ax: z.reshape(r, c).sum(ax)[k]  # noqa: E731
        cons = [{"type": "eq", "fun": lambda z: z.sum() - total}]
        for ax, lo, hi in ((0, gl, gu), (1, rl, ru)):
            for k in range(len(lo)):
                cons += [{"type": "ineq", "fun": lambda z, k=k, ax=ax, lo=lo: sums(z, k, ax) - lo[k]},
                         {"type": "ineq", "fun": lambda z, k=k, ax=ax, hi=hi: hi[k] - sums(z, k, ax)}]
        ref = so.minimize(lambda z: 0.5 * ((z - v.ravel()) ** 2).sum(), x0.ravel(), jac=lambda z: z - v.ravel(),
                          bounds=list(zip(np.zeros(v.size), up.ravel())), constraints=cons, method="SLSQP",
                          options={"ftol": 1e-14, "maxiter": 1000}).x
        np.testing.assert_allclose(x, ref.reshape(r, c), atol=1e-6)
        tol = 1e-8 * total
        assert x.sum() == pytest.approx(total, rel=1e-12) and np.all(x >= 0) and np.all(x <= up)
        assert np.all(x.sum(0) >= gl - tol) and np.all(x.sum(0) <= gu + tol)
        assert np.all(x.sum(1) >= rl - tol) and np.all(x.sum(1) <= ru + tol)


def test_two_way_projection_when_dykstra_stalls_is_still_feasible():
    """A narrow set where Dykstra converges slowly: after its iteration cap the L1-nearest
    feasible point (a linear program) meets every constraint, close to the projection."""
    v = np.array([[0.02498329451831693, 0.012434930025533225], [-0.4883972745634092, 0.5770386874898502],
                  [-0.42638036986369066, 0.6014387502776032]])
    up = np.array([[0.04080859479543873, 1.0], [1.0, 0.027108667159638177], [0.0657279819587802, 1.0]])
    cl, cu = np.array([0.06475305183162203, 0.712634528651223]), np.array([1.0, 1.120882224619241])
    rl = np.array([0.12573593024473215, 0.051094873779356904, 0.7023884397868275])
    ru = np.array([0.17605235826476157, 0.07953241499544797, 1.0])
    import scipy.optimize as so

    x = project_two_way_np(v, np.zeros_like(v), up, 1.0, cl, cu, rl, ru, maxiter=50)
    sums = lambda z, k, ax: z.reshape(3, 2).sum(ax)[k]  # noqa: E731
    cons = [{"type": "eq", "fun": lambda z: z.sum() - 1.0}]
    for ax, lo, hi in ((0, cl, cu), (1, rl, ru)):
        for k in range(len(lo)):
            cons += [{"type": "ineq", "fun": lambda z, k=k, ax=ax, lo=lo: sums(z, k, ax) - lo[k]},
                     {"type": "ineq", "fun": lambda z, k=k, ax=ax, hi=hi: hi[k] - sums(z, k, ax)}]
    exact = so.minimize(lambda z: 0.5 * ((z - v.ravel()) ** 2).sum(), x.ravel(), jac=lambda z: z - v.ravel(),
                        bounds=list(zip(np.zeros(6), up.ravel())), constraints=cons, method="SLSQP",
                        options={"ftol": 1e-14, "maxiter": 1000}).x.reshape(3, 2)
    assert x.sum() == pytest.approx(1.0, abs=1e-12) and np.all(x >= -1e-12) and np.all(x <= up + 1e-12)
    for sums, lo, hi in ((x.sum(0), cl, cu), (x.sum(1), rl, ru)):
        assert np.all(sums >= lo - 1e-9) and np.all(sums <= hi + 1e-9)
    assert np.abs(x - exact).max() < 1e-2


def test_projected_and_slsqp_find_the_optimum_of_a_concave_plan_problem():
    """Cells [3 regions, 4 channels], response Σ top·x/(half + x) (concave: one optimum), with a
    box, the budget and per-channel ranges: both solvers reach the same plan."""
    import jax.numpy as jnp

    rng = np.random.default_rng(1)
    top, half = rng.uniform(1, 5, (3, 4)), rng.uniform(50, 400, (3, 4))
    response = lambda x: (jnp.asarray(top) * x / (jnp.asarray(half) + x)).sum()  # noqa: E731
    budget, cur = 3000.0, np.full((3, 4), 250.0)
    upper, g_lo, g_hi = np.full((3, 4), 600.0), np.array([0, 400, 0, 0.0]), np.array([3000, 3000, 500, 3000.0])
    got = {m: _solve(response, budget, cur, np.zeros((3, 4)), upper, g_lo, g_hi, m, 2000)
           for m in ("projected", "slsqp", "multistart")}
    x = got["slsqp"][0]
    for m, (xm, _, _) in got.items():
        assert float(response(jnp.asarray(xm))) == pytest.approx(float(response(jnp.asarray(x))), rel=1e-5), m
        np.testing.assert_allclose(xm, x, atol=2e-3 * budget)
        assert xm.sum() == pytest.approx(budget, rel=1e-9)
        assert np.all(xm.sum(0) >= g_lo - 1e-6) and np.all(xm.sum(0) <= g_hi + 1e-6) and np.all(xm <= upper + 1e-9)
    assert x[:, 2].sum() == pytest.approx(500.0, rel=1e-6)  # the range binds


@pytest.fixture(scope="module")
def by_channel(fitted):
    return optimize_plan(fitted, weeks=WEEKS, tail_weeks=4, maxiter=ITERS)


def test_plan_route_by_channel_beats_each_method_and_matches_its_evaluation(fitted, by_channel):
    """``auto`` (multistart) is at least as good as projected gradient and SLSQP alone (on this fit
    they stop at different plans: the response is not concave) and never below the current plan."""
    res = by_channel
    assert res.on == "plan" and res.by == "channel" and res.success and res.method == "multistart"
    for method in ("projected", "slsqp"):
        alone = optimize_plan(fitted, weeks=WEEKS, tail_weeks=4, method=method, maxiter=ITERS)
        assert res.predicted_response >= alone.predicted_response * (1 - 1e-4)
        assert sum(alone.allocation.values()) == pytest.approx(res.budget, rel=1e-9)
    assert res.predicted_response >= res.current_response * (1 - 1e-5)
    x = np.array(list(res.allocation.values()))
    assert sum(res.allocation.values()) == pytest.approx(res.budget, rel=1e-9)
    assert res.budget == pytest.approx(window_spend(fitted, WEEKS).sum(), rel=1e-9)  # default: re-allocate
    # the optimised response is what evaluate_plan reports for the plan (weeks and tail)
    ev = evaluate_plan(fitted, res.plan, tail_weeks=4)
    t = ev.totals
    assert res.predicted_response == pytest.approx(t["incremental"] + t["carryover_after"], rel=1e-3)
    assert res.plan.start == fitted.panel.n_weeks and res.plan.weeks == WEEKS
    np.testing.assert_allclose(res.plan.spend.sum(axis=(0, 1)), x, rtol=1e-9, atol=1e-9)
    d = res.to_dict()
    assert d["by"] == "channel" and "plan_evaluation" in d and "allocation_by_region" not in d
    # the spend cut below the smallest weekly spend seen, against the plan's own cells and the history
    below, _ = spend_below_floor(fitted, res.plan.spend, window_spend(fitted, WEEKS))
    by = res.by_channel.set_index("channel")
    np.testing.assert_allclose(by.loc[list(fitted.panel.channels), "below_observed_pct"], below)
    assert set(d["below_observed"]) == set(fitted.panel.channels) and 0 <= d["below_observed_pct"] <= 100


def test_plan_route_by_region_with_every_constraint(fitted, by_channel):
    """Per region and channel: at least as good as per channel (whose plans it contains) and as
    projected gradient alone; a channel bound, a fixed channel and max_change all hold."""
    p = fitted.panel
    ch = list(p.channels)
    free = optimize_plan(fitted, weeks=WEEKS, tail_weeks=4, by="region", maxiter=ITERS)
    assert free.by == "region" and len(free.by_region) == p.n_regions * p.n_channels
    assert free.predicted_response >= by_channel.predicted_response * (1 - 1e-3)
    cap = 0.5 * free.current_allocation[ch[2]]
    kw = dict(weeks=WEEKS, by="region", bounds={ch[2]: (None, cap)}, fixed=[ch[0]], max_change=0.6, maxiter=ITERS)
    res = optimize_plan(fitted, **kw)  # multistart: projected from two starts and SLSQP (50 cells)
    alone = optimize_plan(fitted, method="projected", **kw)
    assert res.predicted_response >= alone.predicted_response * (1 - 1e-4)
    for r in (res, alone):
        br = r.by_region
        assert br["spend"].sum() == pytest.approx(r.budget, rel=1e-9)
        assert r.allocation[ch[2]] <= cap * (1 + 1e-9)
        zero = br["current_spend"] == 0
        ratio = br["spend"][~zero] / br["current_spend"][~zero]
        assert ratio.min() >= 0.4 - 1e-9 and ratio.max() <= 1.6 + 1e-9 and np.all(br["spend"][zero] == 0)
        tv = br[br["channel"] == ch[0]]
        np.testing.assert_allclose(tv["spend"], tv["current_spend"], rtol=1e-9)
    assert res.predicted_response >= res.current_response * (1 - 1e-5)
    d = res.to_dict()
    assert len(d["allocation_by_region"]) == p.n_regions * p.n_channels


def test_plan_route_errors(fitted):
    ch = list(fitted.panel.channels)
    with pytest.raises(ConfigError, match="largest allowed totals sum"):
        optimize_plan(fitted, weeks=WEEKS, bounds={c: (None, 1.0) for c in ch})
    with pytest.raises(ConfigError, match="smallest allowed total exceeds"):
        optimize_plan(fitted, weeks=WEEKS, by="region", max_change=0.1, bounds={ch[1]: (None, 1.0)})
    with pytest.raises(ConfigError, match="method"):
        optimize_plan(fitted, weeks=WEEKS, method="de")
    with pytest.raises(ConfigError, match="not on='curves'"):
        optimize_budget(fitted, weeks=WEEKS, by="region", on="curves")
    with pytest.raises(ConfigError, match="plan route"):
        optimize_budget(fitted, weeks=WEEKS, on="curves", tail_weeks=3)


def test_max_change_on_the_curves_route(fitted):
    res = optimize_budget(fitted, weeks=WEEKS, on="curves", method="projected", max_change=0.1)
    for c, x in res.allocation.items():
        cur = res.current_allocation[c]
        assert cur * 0.9 - 1e-6 <= x <= cur * 1.1 + 1e-6
    assert sum(res.allocation.values()) == pytest.approx(res.budget, rel=1e-9)
    with pytest.raises(ConfigError, match="max_change"):
        optimize_budget(fitted, weeks=WEEKS, on="curves", max_change=-1)


def test_risk_aware_plan_on_an_ensemble(fitted, ensemble):
    """``risk=q`` maximises the members' q quantile of the KPI added: its plan does at least as well
    on that quantile as the mean-maximising plan, which does at least as well on the mean; a single
    run or a quantile outside (0, 1) is refused."""
    kw = dict(weeks=WEEKS, method="slsqp", maxiter=ITERS)
    mean_plan = optimize_plan(ensemble, **kw)
    risky = optimize_plan(ensemble, risk=0.05, **kw)
    m, r = mean_plan.evaluation.totals, risky.evaluation.totals
    assert r["incremental_q05"] <= r["incremental"] <= r["incremental_q95"]
    assert risky.predicted_response == pytest.approx(r["incremental_q05"], rel=1e-3)
    assert r["incremental_q05"] >= m["incremental_q05"] * (1 - 1e-4)
    assert m["incremental"] >= r["incremental"] * (1 - 1e-4)
    assert "quantile" in risky.message
    with pytest.raises(ConfigError, match="one member"):
        optimize_plan(fitted, weeks=WEEKS, risk=0.1)
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        optimize_plan(ensemble, weeks=WEEKS, risk=1.5)


def test_cost_per_kpi_target_on_the_plan_route(fitted, by_channel):
    """A cost-per-KPI target on the plan route: 10 % below the cost per KPI of the best plan at
    today's budget needs a smaller budget, whose plan (through the model run forward) meets it."""
    from causalmmm_jax.analysis.targets import optimize_target

    cost = by_channel.budget / by_channel.predicted_response / 1.1
    res = optimize_target(fitted, "cost_per_kpi", cost, weeks=WEEKS, on="plan", tail_weeks=4, method="projected",
                          rtol=2e-2)
    t = res.target
    assert res.on == "plan" and t["kind"] == "cost_per_kpi" and t["achieved"] <= cost
    assert t["budget"] < by_channel.budget and res.budget / res.predicted_response <= cost
    assert t["achieved"] == pytest.approx(res.budget / res.predicted_response, rel=1e-6)
    with pytest.raises(ConfigError, match="need the plan route"):
        optimize_target(fitted, "cost_per_kpi", cost, weeks=WEEKS, on="curves", max_change=0.2)


def test_plan_route_by_week_with_week_bounds(fitted, by_channel):
    """Per week and channel (the flighting): at least as good as per channel (whose plans it
    contains); a cap on every week's total and a blackout week hold, and the plan's weeks carry
    the cells' totals."""
    free = optimize_plan(fitted, weeks=WEEKS, tail_weeks=4, by="week", maxiter=ITERS)
    assert free.by == "week" and len(free.by_week) == WEEKS * fitted.panel.n_channels
    assert free.predicted_response >= by_channel.predicted_response * (1 - 1e-3)
    np.testing.assert_allclose(free.plan.spend.sum(axis=0), free.by_week.pivot(index="week", columns="channel",
                                                                               values="spend")[
        list(fitted.panel.channels)].to_numpy(), rtol=1e-9)
    weeks = [week_label(w) for w in free.by_week["week"].unique()]
    cap = 1.2 * free.budget / WEEKS
    blackout = np.datetime64(weeks[2])  # a date, as in res.by_week, or its label
    res = optimize_budget(fitted, weeks=WEEKS, by="week", tail_weeks=4, week_bounds={"*": (None, cap),
                                                                                       blackout: (0, 0)})
    assert res.on == "plan" and "per-week bounds" in res.message
    per_week = res.plan.spend.sum(axis=(0, 2))
    assert per_week.sum() == pytest.approx(res.budget, rel=1e-9)
    assert per_week.max() <= cap * (1 + 1e-6) and per_week[2] <= 1e-6 * res.budget
    assert res.predicted_response >= res.current_response * (1 - 1e-5) or per_week[2] == 0
    d = res.to_dict()
    assert len(d["allocation_by_week"]) == WEEKS * fitted.panel.n_channels and d["allocation_by_week"][0]["week"] == weeks[0]


def test_plan_route_region_bounds(fitted):
    """Per-region ranges on the regions' totals (a named region replaces ``"*"``) hold; the plan
    stays at least as good as the current plan that meets them."""
    regions = [str(r) for r in fitted.panel.regions.tolist()]
    budget = window_spend(fitted, WEEKS).sum()
    kw = dict(weeks=WEEKS, by="region", maxiter=ITERS, method="projected")
    res = optimize_plan(fitted, region_bounds={"*": (None, 0.15 * budget), regions[0]: (0.12 * budget, None)}, **kw)
    tot = res.plan.spend.sum(axis=(1, 2))
    assert tot.sum() == pytest.approx(budget, rel=1e-9)
    assert tot[0] >= 0.12 * budget * (1 - 1e-6) and np.all(tot[1:] <= 0.15 * budget * (1 + 1e-6))
    np.testing.assert_allclose(res.by_region.groupby("region", sort=False)["spend"].sum().to_numpy(), tot, rtol=1e-9)


def test_row_bounds_errors(fitted):
    """Row bounds on the wrong decision, unknown names, crossed or infeasible ranges: ConfigError
    with the reason, before any optimisation (the last case only a linear program detects)."""
    regions = [str(r) for r in fitted.panel.regions.tolist()]
    with pytest.raises(ConfigError, match="need a plan by region"):
        optimize_plan(fitted, weeks=WEEKS, region_bounds={"*": (0, 1)})
    with pytest.raises(ConfigError, match="need a plan by week"):
        optimize_plan(fitted, weeks=WEEKS, by="region", week_bounds={"*": (0, 1)})
    with pytest.raises(ConfigError, match="unknown region 'nowhere'"):
        optimize_plan(fitted, weeks=WEEKS, by="region", region_bounds={"nowhere": (0, 1)})
    with pytest.raises(ConfigError, match="unknown week '1999-01-04'.*the plan's weeks are"):
        optimize_plan(fitted, weeks=WEEKS, by="week", week_bounds={"1999-01-04": (0, 1)})
    with pytest.raises(ConfigError, match="must be >= 0"):
        optimize_plan(fitted, weeks=WEEKS, by="week", week_bounds={"*": (None, float("nan"))})
    with pytest.raises(ConfigError, match="must be >= 0"):
        optimize_plan(fitted, weeks=WEEKS, bounds={fitted.panel.channels[0]: (float("nan"), None)})
    with pytest.raises(ConfigError, match="lower 5 > upper 1"):
        optimize_plan(fitted, weeks=WEEKS, by="region", region_bounds={regions[1]: (5, 1)})
    with pytest.raises(ConfigError, match="allowed totals sum to"):
        optimize_plan(fitted, weeks=WEEKS, by="region", region_bounds={"*": (None, 1.0)})
    with pytest.raises(ConfigError, match=f"region {regions[0]} must get at least"):
        optimize_plan(fitted, weeks=WEEKS, by="region", max_change=0.1,
                      region_bounds={regions[0]: (0.5 * window_spend(fitted, WEEKS).sum(), None)})
    # tv is flighted: with --max-change its off weeks stay off, so tv 50 % up cannot fit under
    # caps on its on weeks that leave it only what it has now; each bound alone is feasible
    win = window_spend(fitted, WEEKS).sum(axis=0)  # [W, C]
    on = win[:, 0] > 0
    labels = [week_label(w) for w in plan_times(fitted, fitted.panel.n_weeks, WEEKS)]
    caps = {labels[w]: (None, float(win[w, 0])) for w in np.flatnonzero(on)}
    with pytest.raises(ConfigError, match="no plan meets the week bounds"):
        optimize_plan(fitted, weeks=WEEKS, by="week", max_change=1.0, week_bounds=caps,
                      bounds={fitted.panel.channels[0]: (1.5 * win[:, 0].sum(), None)})


def test_plan_route_starts_from_a_given_plan(fitted):
    """``plan=``: its weeks set the horizon, its total the budget, it is the current plan that
    ``max_change`` and the uplift refer to, and each channel keeps the plan's flighting (without
    the observed floors: this plan is far below every channel's smallest week)."""
    ch = list(fitted.panel.channels)
    given = spread_plan(fitted, {ch[0]: 1000.0, ch[1]: 500.0, ch[2]: 2000.0}, 8, pattern="flat")
    res = optimize_budget(fitted, plan=given, max_change=0.3, method="projected", floor="none")
    assert res.on == "plan" and res.weeks == 8 and res.budget == pytest.approx(3500.0)
    assert res.plan.start == given.start and res.plan.weeks == 8 and "current = the given plan" in res.message
    assert res.current_allocation[ch[0]] == pytest.approx(1000.0)
    for c, cur in res.current_allocation.items():
        assert cur * 0.7 - 1e-6 <= res.allocation[c] <= cur * 1.3 + 1e-6
    ratio = res.plan.spend[..., :3] / given.spend[..., :3]  # every cell of a channel scaled alike
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:1, :1], ratio.shape), rtol=1e-6)
    assert res.predicted_response >= res.current_response * (1 - 1e-5)
    with pytest.raises(ConfigError, match="sets the horizon"):
        optimize_plan(fitted, plan=given, weeks=13)


def test_target_search_respects_row_bounds(fitted):
    """A KPI target beyond what a weekly cap allows: the budget search stops at the cap's total
    (the rows bound the budget too) and says the target is out of reach."""
    from causalmmm_jax.analysis.targets import optimize_target

    cap = 1.2 * window_spend(fitted, WEEKS).sum() / WEEKS
    with pytest.raises(ConfigError, match="out of reach"):
        optimize_target(fitted, "kpi", 1e12, weeks=WEEKS, by="week", week_bounds={"*": (None, cap)},
                        method="projected")


def test_kpi_value_scales_every_route(fitted):
    """A value per unit of KPI (e.g. revenue per visit) the same in every region: the same plan on
    each route, its responses in value units (× the value)."""
    for on in ("curves", "model", "plan"):
        plain = optimize_budget(fitted, weeks=WEEKS, on=on, method="projected")
        valued = optimize_budget(fitted, weeks=WEEKS, on=on, method="projected", kpi_value=2.5)
        assert valued.response_unit == "value" and plain.response_unit == "KPI", on
        assert valued.predicted_response == pytest.approx(2.5 * plain.predicted_response, rel=1e-4), on
        assert valued.current_response == pytest.approx(2.5 * plain.current_response, rel=1e-4), on
        for c, x in plain.allocation.items():
            assert valued.allocation[c] == pytest.approx(x, abs=2e-3 * plain.budget), (on, c)
    assert valued.evaluation.kpi_unit == "value" and valued.to_dict()["response_unit"] == "value"


def test_kpi_value_per_region(fitted):
    """Per-region values weight the regions: the evaluation's regional figures scale by each
    region's value, and a plan by region moves spend toward the region worth 5× the others."""
    from causalmmm_jax.errors import DataError

    r0 = str(fitted.panel.regions[0])
    values = {"*": 1.0, r0: 5.0}
    plain = optimize_plan(fitted, weeks=WEEKS, by="region", method="projected", maxiter=ITERS)
    ev1 = evaluate_plan(fitted, plain.plan)
    ev5 = evaluate_plan(fitted, plain.plan, kpi_value=values)
    np.testing.assert_allclose(ev5.by_region["incremental"].to_numpy(),
                               ev1.by_region["incremental"].to_numpy() * np.r_[5.0, np.ones(fitted.panel.n_regions - 1)],
                               rtol=1e-4)
    assert ev5.kpi_unit == "value"
    valued = optimize_plan(fitted, weeks=WEEKS, by="region", method="projected", maxiter=ITERS, kpi_value=values)
    share = lambda r: r.plan.spend[0].sum() / r.plan.spend.sum()  # noqa: E731
    assert share(valued) > share(plain)
    with pytest.raises(ConfigError, match="differ by region need the model or plan route"):
        optimize_budget(fitted, weeks=WEEKS, on="curves", kpi_value=values)
    with pytest.raises(DataError, match="unknown region"):
        optimize_plan(fitted, weeks=WEEKS, kpi_value={"nowhere": 2.0})
    with pytest.raises(DataError, match="no KPI value for region"):
        optimize_plan(fitted, weeks=WEEKS, kpi_value={r0: 2.0})
    with pytest.raises(DataError, match=">= 0"):
        optimize_plan(fitted, weeks=WEEKS, kpi_value=-1.0)
