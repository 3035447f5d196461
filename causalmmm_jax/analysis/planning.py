"""Optimise a spend plan ``[regions, weeks, channels]`` with the fitted model run forward from the
last fitted week (the ``"plan"`` route of ``causalmmm-jax optimize``).

Decision: totals per channel (``by="channel"``), per region and channel (``by="region"``) or per
week and channel (``by="week"``: the flighting) over a horizon of ``weeks`` weeks from ``start``
(default: the week after the data), each spread over the remaining axes like the last ``weeks``
training weeks (:func:`~causalmmm_jax.analysis.plans.plan_shape`), or like a given ``plan`` (the
optimisation then starts from it).  Response: the KPI the plan adds in its weeks
and the ``tail_weeks`` after them, every ensemble member's mean, from one sequence that starts at
the first fitted week (so spend before the plan carries in: adstock and the GRU state), as
:func:`~causalmmm_jax.analysis.plans.evaluate_plan` computes it.

Constraints: ``Σ x = budget``; per-channel totals (``bounds``, a range on the channel's sum over
the decision's rows); per-region totals (``region_bounds``, by region) or per-week totals
(``week_bounds``, by week: a range on the week's spend over all channels, e.g. a cash limit or a
blackout week); ``fixed`` channels held at the current plan; ``max_change``: every decision cell
within ``(1 ± max_change)`` × the current plan's; the observed floors on channel totals
(``floor``, as on the other routes).  The feasible set is a box, a budget and ranges
on column (and row) sums: the projected method projects onto it exactly
(:func:`~causalmmm_jax.analysis._jaxopt.project_grouped_np`; with row ranges Dykstra's
alternating projections, :func:`~causalmmm_jax.analysis._jaxopt.project_two_way_np`);
``"slsqp"`` (scipy, ``jax.grad`` gradients) states the same constraints to SLSQP.  Constraints
that no plan can meet raise :class:`~causalmmm_jax.errors.ConfigError` with the reason (row
ranges: a linear-programming feasibility check).  The response is not concave (S-shaped
saturation, carry-over), so either method alone can stop at a worse local optimum.  Hence
``"multistart"`` (``"auto"``): the best of projected from the current plan, SLSQP from it (up to
:data:`SLSQP_MAX_CELLS` decision cells) and, by region, projected from the best plan by channel
(a plan by region or by week too).

The current plan: what was spent in the last ``weeks`` training weeks, in the same cells, scaled
to the budget (fixed channels kept at theirs); with ``plan``, that plan (its total is the default
budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy.optimize as so

from ..errors import ConfigError
from ..model.mmm import apply
from ..train.result import FitResult
from ._bounds import apply_floors, cells_constraints, current_plan, fixed_channels, observed_floors, row_bounds
from ._budget_result import BudgetResult, _by_channel, _result, horizon_spend
from ._jaxopt import project_grouped_np, project_two_way_np
from ._plan_eval import _sequence
from .plans import (
    SpendPlan,
    evaluate_plan,
    exposure_per_spend,
    kpi_values,
    plan_beyond_observed,
    plan_shape,
    plan_times,
    spend_below_floor,
    window_spend,
)

__all__ = ["optimize_plan", "PLAN_METHODS", "BY"]

PLAN_METHODS = ("auto", "projected", "slsqp", "multistart")
SLSQP_MAX_CELLS = 200  # multistart adds SLSQP up to this many decision cells (its cost grows with the cube)
BY = ("channel", "region", "week")
MAXITER = 100  # projected-gradient iterations (each a few forward and backward runs of the model)


def _cells(spend: np.ndarray, by: str) -> np.ndarray:
    """A plan ``[R, W, C]`` summed to the decision cells: ``[1, C]``, ``[R, C]`` or ``[W, C]``."""
    return {"channel": lambda a: a.sum(axis=(0, 1))[None, :], "region": lambda a: a.sum(axis=1),
            "week": lambda a: a.sum(axis=0)}[by](np.asarray(spend, np.float64))


def _expand(x, by: str):
    """Decision cells → broadcastable against the plan's ``[R, W, C]``."""
    return x[None] if by == "channel" else (x[:, None, :] if by == "region" else x[None, :, :])


def _shape_like(spend: np.ndarray, by: str, fallback: np.ndarray) -> np.ndarray:
    """``[R, W, C]`` weights that spread each decision cell like ``spend`` does (``fallback``,
    :func:`~causalmmm_jax.analysis.plans.plan_shape`, where the plan has nothing in a cell)."""
    axes = {"channel": (0, 1), "region": (1,), "week": (0,)}[by]
    s = spend.sum(axis=axes, keepdims=True)
    return np.where(s > 0, spend / np.where(s > 0, s, 1.0), fallback)


@dataclass(frozen=True)
class _Static:
    """The compile-time structure of a plan objective (hashable: a jit static argument)."""

    spec: object
    by: str
    lo: int  # the plan's first week in the padded sequence
    hi: int
    pad: int
    risk: float | None


def _member_totals(ctx, x, st: _Static):
    """``[N]``: per member, the KPI (weighted by ``ctx["w"]``) with the plan ``shape · x``."""
    def total(params):
        spend = ctx["shape"] * _expand(x, st.by)
        inputs = ctx["inputs"]
        media = inputs.media.at[:, st.lo:st.hi].set(spend * ctx["to_media"])
        pred = apply(params, inputs.replace(media=media), st.spec).prediction[:, st.pad:]
        return (pred * ctx["w"]).sum()

    return jax.vmap(total)(ctx["members"])


def _plan_kpi(ctx, x, st: _Static):
    """The KPI the plan adds: member mean, or the members' ``risk`` quantile."""
    vals = _member_totals(ctx, x.astype(jnp.float32), st) - ctx["base"]
    return vals.mean() if st.risk is None else jnp.quantile(vals, st.risk)


def _objective(ctx, z, b, scale, st: _Static):
    return -_plan_kpi(ctx, z * b, st) / scale


# module-level programs: jax caches them by shape and structure, so every plan on a run (the
# multistart's runs, the by-channel start of a plan by region, a benchmark's objectives) compiles
# each of them once; two per decision shape: the members' totals (forward) and value-and-gradient
_totals_jit = jax.jit(_member_totals, static_argnums=2)
_objective_vg = jax.jit(jax.value_and_grad(_objective, argnums=1), static_argnums=4)


@dataclass(frozen=True)
class _Problem:
    """What :func:`_solve` needs: ``value_and_grad(z, b, scale) -> (f, g)`` of the normalised
    objective ``−response(z·b) / scale`` (``value`` and the gradient of the response follow:
    ``b = 1, scale = −1``)."""

    value_and_grad: Callable[..., Any]

    def value(self, x) -> float:
        return float(self.value_and_grad(jnp.asarray(x, jnp.float32), jnp.float32(1.0), jnp.float32(-1.0))[0])

    def grad(self, x) -> np.ndarray:
        return np.asarray(self.value_and_grad(jnp.asarray(x, jnp.float32), jnp.float32(1.0), jnp.float32(-1.0))[1],
                          np.float64)

    @classmethod
    def from_response(cls, response):
        """From any JAX-traceable ``response(x) -> scalar`` (compiled per problem)."""
        return cls(jax.jit(jax.value_and_grad(lambda z, b, scale: -response(z * b) / scale)))


def _model_problem(result: FitResult, seq, shape, by, start, weeks, risk=None, values=None):
    """``(_Problem, ctx, static)`` of the KPI the plan adds through the fitted model (× each
    region's ``values`` when given)."""
    prep = result.prepared(seq.panel)
    eps = np.nan_to_num(exposure_per_spend(result))
    m = np.asarray(result.scaler.media_scale, np.float64)
    tm = np.asarray(result.scaler.target_mean, np.float64)[:, None] * (1.0 if values is None else values[:, None])
    ctx = {"members": result.params, "inputs": prep.inputs,
           "to_media": jnp.asarray(np.where(m > 0, eps / np.where(m > 0, m, 1.0), 0.0), jnp.float32)[:, None, :],
           "shape": jnp.asarray(shape, jnp.float32),
           "w": jnp.asarray(seq.counted * (seq.horizon | seq.tail)[None, :] * tm, jnp.float32)}
    st = _Static(spec=result.spec, by=by, lo=result.pad + start, hi=result.pad + start + weeks, pad=result.pad,
                 risk=None if risk is None else float(risk))
    zeros = jnp.zeros(_cells(shape, by).shape, jnp.float32)
    ctx["base"] = _totals_jit(ctx, zeros, st)
    return _Problem(lambda z, b, scale: _objective_vg(ctx, z, b, scale, st)), ctx, st


def optimize_plan(result: FitResult, budget: float | None = None, *, weeks: int | None = None, by: str = "channel",
                  start: int | None = None, tail_weeks: int = 0, bounds: dict | None = None, fixed=(),
                  max_change: float | None = None, method: str = "auto", maxiter: int = MAXITER,
                  controls=None, risk: float | None = None, region_bounds: dict | None = None,
                  week_bounds: dict | None = None, plan: SpendPlan | None = None, kpi_value=None,
                  floor: str | None = None) -> BudgetResult:
    """Maximise the KPI a plan adds, run forward through the fitted model (module docstring).

    ``budget``: total over the horizon (default: what was spent in the last ``weeks`` training
    weeks, or the total of ``plan``).  ``plan``: start from this
    :class:`~causalmmm_jax.analysis.plans.SpendPlan` (its weeks set ``start`` and ``weeks``; each
    decision cell keeps the plan's spread over the other axes; it is the current plan that
    ``max_change``, ``fixed`` and the uplift refer to).  ``region_bounds`` / ``week_bounds``:
    ``{region or week label or "*": (lower, upper)}`` on each region's (by region) or week's (by
    week) total over channels.  ``kpi_value``: the value of one unit of KPI, a number or per region
    (:func:`~causalmmm_jax.analysis.plans.kpi_values`): the plan then maximises value (e.g.
    revenue), and every response, uplift and ROI is in value units (``response_unit="value"``).
    ``floor``: as for :func:`~causalmmm_jax.analysis.budget.optimize_budget` (channel totals at or
    above the smaller of the smallest national weekly spend seen in training × ``weeks`` and the
    current plan's; on channel totals only, so by week a channel may still skip weeks; dropped,
    with a note, when the region or week bounds leave no plan that meets them).
    ``method``: ``"multistart"`` (``"auto"``), ``"projected"`` or ``"slsqp"`` (small
    problems: its cost grows with the cube of the number of cells).  ``risk``: with an ensemble,
    maximise that quantile of the members' KPI added (e.g. 0.1: a plan that does well when the
    model is pessimistic) instead of their mean; ``predicted_response`` is then that quantile and
    ``evaluation.totals`` gives the mean and the 5–95 % range.  Returns a
    :class:`~causalmmm_jax.analysis.budget.BudgetResult` with ``on="plan"``, ``by``, the plan
    (``plan``, :class:`~causalmmm_jax.analysis.plans.SpendPlan`), ``by_region`` (``by="region"``:
    region, channel, spend, current_spend), ``by_week`` (``by="week"``: week, channel, spend,
    current_spend) and ``evaluation`` (the plan's
    :class:`~causalmmm_jax.analysis.plans.PlanEvaluation`)."""
    if by not in BY:
        raise ConfigError(f"by must be one of {', '.join(BY)}, got {by!r}")
    if risk is not None:
        if not 0.0 < float(risk) < 1.0:
            raise ConfigError(f"risk must be a quantile strictly between 0 and 1, e.g. 0.1, got {risk}")
        if result.n_seeds < 2:
            raise ConfigError("a risk-aware plan maximises a lower quantile over the ensemble's members; this run "
                              "has one member. Fit an ensemble (fit --seeds K) or drop risk.")
    if method not in PLAN_METHODS:
        raise ConfigError(f"the plan route's method must be one of {', '.join(PLAN_METHODS)}, got {method!r}")
    method = "multistart" if method == "auto" else method
    p = result.panel
    if plan is not None:
        if (weeks is not None and int(weeks) != plan.weeks) or (start is not None and int(start) != plan.start):
            raise ConfigError(f"the plan to start from sets the horizon ({plan.weeks} weeks from grid week "
                              f"{plan.start}); drop weeks/start or give a plan with those weeks")
        if plan.spend.shape != (p.n_regions, plan.weeks, p.n_channels) or not np.all(np.isfinite(plan.spend)):
            raise ConfigError(f"the plan to start from must be finite spend [regions {p.n_regions}, weeks, channels "
                              f"{p.n_channels}], got shape {plan.spend.shape}")
        weeks, start = plan.weeks, plan.start
    weeks = int(result.config.analysis.budget_weeks if weeks is None else weeks)
    channels, _, _, _, _, unit = horizon_spend(result, weeks)
    if plan is not None and plan.unit != unit:
        raise ConfigError(f"the plan is in {plan.unit} units but this run plans in {unit}")
    start = int(p.n_weeks if start is None else start)
    if start < 0:
        raise ConfigError(f"start must be >= 0, got {start}")
    if tail_weeks < 0:
        raise ConfigError(f"tail_weeks must be >= 0, got {tail_weeks}")
    win = window_spend(result, weeks)  # [R, W, C]
    hist_cells = _cells(win, by)  # [R', C]
    if budget is None:
        budget = float(hist_cells.sum() if plan is None else plan.total)
    if not np.isfinite(budget) or budget <= 0:
        raise ConfigError(f"the budget must be a positive number, got {budget}")
    fixed = fixed_channels(fixed, channels, bounds)
    never = np.isnan(exposure_per_spend(result)).all(axis=0)
    cur = hist_cells.copy() if plan is None else _cells(plan.spend, by)
    free = np.array([c not in fixed for c in channels])
    held = cur[:, ~free].sum()
    if held > budget * (1 + 1e-12):
        raise ConfigError(f"the fixed channels' {'historical' if plan is None else 'planned'} {unit} over {weeks} "
                          f"weeks ({held:g}) exceeds the budget "
                          f"{budget:g}; raise the budget or fix fewer channels")
    cur = current_plan(cur, budget, list(np.flatnonzero(~free)))
    lower, upper, g_lo, g_hi = cells_constraints(channels, cur.shape[0], budget, cur, bounds, fixed, max_change,
                                                 never)
    g_given = g_lo
    g_lo, floors, floor_note = apply_floors(channels, np.minimum(observed_floors(result, weeks, bounds, fixed, floor),
                                                                 cur.sum(axis=0)), budget,
                                            np.maximum(g_lo, lower.sum(0)), np.minimum(g_hi, upper.sum(0)))
    try:
        r_lo, r_hi = row_bounds(result, by, budget, lower, upper, g_lo, g_hi, region_bounds, week_bounds, start, weeks)
    except ConfigError:
        if not floors:
            raise
        # the floors with the row bounds leave no plan (which each allows alone): the user's bounds win
        r_lo, r_hi = row_bounds(result, by, budget, lower, upper, g_given, g_hi, region_bounds, week_bounds, start,
                                weeks)
        g_lo, floors = g_given, {}
        floor_note = f"; no floors: with the {by} bounds no plan keeps the channels at the spend seen in training"
    hist_shape = plan_shape(result, weeks, "history", by)
    shape = hist_shape if plan is None else _shape_like(plan.spend, by, hist_shape)
    seq = _sequence(result, SpendPlan(spend=np.zeros((p.n_regions, weeks, p.n_channels)), start=start, unit=unit),
                    int(tail_weeks), controls)
    values = kpi_values(result, kpi_value)
    problem, ctx, st = _model_problem(result, seq, shape, by, start, weeks, risk, values)
    starts = []
    if by != "channel" and method == "multistart":  # the best plan by channel, in cells: a plan by region/week too
        ch = optimize_plan(result, budget, weeks=weeks, by="channel", start=start, tail_weeks=tail_weeks,
                           bounds=bounds, fixed=fixed, max_change=max_change, method=method, maxiter=maxiter,
                           controls=controls, risk=risk, plan=plan, kpi_value=kpi_value, floor=floor)
        starts.append(_cells(ch.plan.spend, by))
    x, ok, msg = _solve(problem, budget, cur, lower, upper, g_lo, g_hi, method, maxiter, starts, r_lo, r_hi)
    pred, cur_resp = problem.value(x), problem.value(cur)
    if plan is None:
        hist_resp = problem.value(hist_cells)
    else:  # the historical cells spread like the history, not like the given plan (the same program)
        ctx_h = {**ctx, "shape": jnp.asarray(hist_shape, jnp.float32)}
        hist_resp = float(_objective_vg(ctx_h, jnp.asarray(hist_cells, jnp.float32), jnp.float32(1.0),
                                        jnp.float32(-1.0), st)[0])
    given = plan
    plan = SpendPlan(spend=shape * _expand(x, by), start=start, unit=unit)
    ev = evaluate_plan(result, plan, tail_weeks=int(tail_weeks), controls=controls, kpi_value=kpi_value)
    x_c = x.sum(axis=0)
    grad = problem.grad(x)
    with np.errstate(divide="ignore", invalid="ignore"):  # d response / d (channel total), cells moving together
        mroi = np.where(x_c > 0, (grad * x).sum(axis=0) / x_c, grad.max(axis=0))

    by_ch = _by_channel(channels, x_c, ev.by_channel["incremental"].to_numpy(), mroi, weeks,
                        np.full(len(channels), np.nan)).drop(columns="half_saturation")
    first, last = (str(t)[:10] for t in plan_times(result, start, weeks)[[0, -1]])
    if risk is not None:
        msg += f"; objective: the {risk:g} quantile of the {result.n_seeds} members' KPI added"
    msg += (f"; response = KPI the plan adds in weeks {first}..{last}"
            + (f" and the {tail_weeks} weeks after" if tail_weeks else "")
            + " (model run forward from the first fitted week, so earlier spend carries in); current = "
            + (f"the {unit} of the last {weeks} training weeks in the same cells, scaled to the budget"
               if given is None else "the given plan" + (", scaled to the budget" if abs(given.total - budget)
                                                          > 1e-9 * budget else "")))
    if r_lo is not None:
        msg += f"; per-{by} bounds on the {by}s' totals"
    if values is not None:
        msg += "; responses in value units (KPI × each region's value per unit of KPI)"
    res = _result(ok, method, "plan", budget, weeks, unit, channels, x_c, pred, cur.sum(axis=0), cur_resp,
                  hist_cells.sum(axis=0), hist_resp, by_ch, msg)
    res.fixed, res.by, res.plan, res.evaluation = fixed, by, plan, ev
    res.add_floors(floors, floor_note)
    res.response_unit = "KPI" if values is None else "value"
    if by != "channel":
        labels = p.regions if by == "region" else plan_times(result, start, weeks)
        r, c = np.meshgrid(np.arange(x.shape[0]), np.arange(p.n_channels), indexing="ij")
        table = pd.DataFrame({by: labels[r.ravel()], "channel": np.asarray(channels, dtype=object)[c.ravel()],
                              "spend": x.ravel(), "current_spend": cur.ravel()})
        if by == "region":
            res.by_region = table
        else:
            res.by_week = table
    res.add_observed_range(channels, x_c, win.sum(axis=(0, 1)), plan_beyond_observed(result, plan),
                           spend_below_floor(result, plan.spend, win))
    return res


def _solve(problem, budget, cur, lower, upper, g_lo, g_hi, method, maxiter, starts=(), row_lo=None, row_hi=None):
    """``(x [R', C] float64, success, message)``: maximise ``problem`` (a :class:`_Problem`, or a
    JAX-traceable ``response(x) -> scalar``) over the constraints (``row_lo``/``row_hi``: ranges
    on the rows' sums too).  ``multistart``: the best of
    the projected method from the current plan and from ``starts``, and SLSQP from the current
    plan when there are at most :data:`SLSQP_MAX_CELLS` cells."""
    if not isinstance(problem, _Problem):
        problem = _Problem.from_response(problem)
    b = float(budget)
    lo_n, hi_n, gl_n, gh_n = lower / b, upper / b, g_lo / b, g_hi / b
    if row_lo is None:
        feasible = lambda z: project_grouped_np(np.nan_to_num(np.asarray(z, np.float64), nan=0.0), lo_n, hi_n, 1.0,  # noqa: E731
                                                gl_n, gh_n)
    else:
        rl_n, rh_n = np.asarray(row_lo, np.float64) / b, np.asarray(row_hi, np.float64) / b
        feasible = lambda z: project_two_way_np(np.nan_to_num(np.asarray(z, np.float64), nan=0.0), lo_n, hi_n, 1.0,  # noqa: E731
                                                gl_n, gh_n, rl_n, rh_n)
    z0 = feasible(cur / b)
    scale = abs(problem.value(z0 * b)) or 1.0
    b_j, scale_j = jnp.float32(b), jnp.float32(scale)
    fg = lambda z: tuple(np.asarray(a, np.float64)  # noqa: E731
                         for a in problem.value_and_grad(jnp.asarray(np.reshape(z, z0.shape), jnp.float32), b_j,
                                                         scale_j))

    def projected(start):
        """Projected gradient with backtracking (sufficient decrease on the projected step; the step
        doubles after each accepted one), driven from the host with the exact float64 projection:
        one compiled program (value and gradient) serves every run.  Stops when a step moves the
        plan by less than 1e-4 of the budget (float32 objectives are noisy below that)."""
        z = feasible(start)
        f, g = fg(z)
        t = 1.0
        for _ in range(maxiter):
            for _ in range(50):
                zn = feasible(z - t * g)
                d = zn - z
                fn, gn = fg(zn)
                if fn <= f + float((g * d).sum()) + float((d * d).sum()) / (2.0 * t):
                    break
                t *= 0.5
            step = float(np.sqrt((d * d).sum()))
            if fn <= f:
                z, f, g = zn, fn, gn
            t *= 2.0
            if step < 1e-4:
                break
        return z, True, ("projected gradient through the model (box, budget, channel-total"
                         + (" and row-total" if row_lo is not None else "") + " projection)")

    def slsqp(start):
        n, shp = start.size, start.shape
        cons = [{"type": "eq", "fun": lambda z: z.sum() - 1.0, "jac": lambda z: np.ones(n)}]
        for c in range(shp[1]):
            sel = np.zeros(shp)
            sel[:, c] = 1.0
            sel = sel.ravel()
            cons.append({"type": "ineq", "fun": lambda z, s=sel, g=gl_n[c]: s @ z - g, "jac": lambda z, s=sel: s})
            cons.append({"type": "ineq", "fun": lambda z, s=sel, g=gh_n[c]: g - s @ z, "jac": lambda z, s=sel: -s})
        for r in range(shp[0] if row_lo is not None else 0):
            sel = np.zeros(shp)
            sel[r, :] = 1.0
            sel = sel.ravel()
            cons.append({"type": "ineq", "fun": lambda z, s=sel, g=rl_n[r]: s @ z - g, "jac": lambda z, s=sel: s})
            cons.append({"type": "ineq", "fun": lambda z, s=sel, g=rh_n[r]: g - s @ z, "jac": lambda z, s=sel: -s})
        r = so.minimize(lambda z: float(fg(z)[0]), start.ravel(), jac=lambda z: fg(z)[1].ravel(), method="SLSQP",
                        bounds=list(zip(lo_n.ravel(), hi_n.ravel())), constraints=cons,
                        options={"maxiter": 10 * maxiter, "ftol": 1e-9})
        return r.x.reshape(shp), bool(r.success), f"SLSQP: {r.message}"

    if method == "projected":
        runs = [(projected, z0, "projected")]
    elif method == "slsqp":
        runs = [(slsqp, z0, "slsqp")]
    else:
        runs = [(projected, z0, "projected from the current plan")]
        runs += [(projected, feasible(np.asarray(s, np.float64) / b), f"projected from start {i + 1}")
                 for i, s in enumerate(starts)]
        if z0.size <= SLSQP_MAX_CELLS:
            runs.append((slsqp, z0, "SLSQP from the current plan"))
    best = None
    for solver, start, name in runs:
        z, ok, msg = solver(start)
        z = feasible(z)
        v = float(fg(z)[0])
        if best is None or v < best[0]:
            best = (v, z, ok, name, msg)
    v, z, ok, name, msg = best
    if method == "multistart":
        msg = f"multistart: best of {', '.join(r[2] for r in runs)} (best: {name}; {msg})"
    if v > float(fg(z0)[0]):  # never report a plan worse than the start
        z, msg = z0, msg + "; no improvement over the current plan found"
    return z * b, ok, msg
