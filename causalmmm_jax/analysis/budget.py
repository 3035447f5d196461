"""Budget optimisation: maximise predicted response subject to Σ spend = budget and bounds.

Decision ``x [C]``: total spend per channel over a horizon of ``weeks`` weeks, spent flat
(``x_c / weeks`` per week); in exposure units when the run has no spend columns.  Feasible set
``{lower ≤ x ≤ upper, Σx = budget}``.  Every method works on ``z = x / budget`` with the response
normalised by its value at the start point, and its answer is finally projected onto the
feasible set in float64 (so the constraints hold to rounding).  ``lower`` includes the observed
floors (``floor``, default ``analysis.budget_floor = "observed"``): no channel is cut below the
smaller of its smallest national weekly spend in training × ``weeks`` and its current plan.

Response (``on``; ``analysis.budget_on``, default ``"auto"``: the model re-run whenever it
applies, i.e. the horizon fits in the training period and every channel the plan may fund was
spent on in its last ``weeks`` training weeks; otherwise the curves, and the message says why.
On the decision benchmark's panels the model route's plans captured 0.98 of the achievable
uplift in the median panel against the curves' 0.90, docs/analysis.md §9):
* ``"curves"``: ``Σ_c weeks · f_c(x_c / weeks)`` with the Hill curves of
  :func:`~causalmmm_jax.analysis.curves.curve_params` (weekly incremental KPI vs weekly spend):
  no carry-over between weeks, no cross-channel effects.
* ``"model"``: the fitted model re-run over the training sequence with channel c's media (and
  spend) in the last ``weeks`` training weeks scaled by ``u_c = x_c / S_c`` (``S_c``: its actual
  spend in those weeks); response = Σ over regions and observed training weeks from the window on
  of ŷ(u)·ȳ_r − ŷ(u = 0)·ȳ_r, i.e. the KPI the media in the window adds, adstock and interactions
  included (carry-over past the last training week is not counted).

Methods: ``"projected"`` (jaxopt ProjectedGradient + ``projection_box_section``), ``"slsqp"`` and
``"trust-constr"`` (scipy with ``jax.grad`` gradients), ``"de"`` (scipy differential evolution over
``v ∈ [0,1]^C`` mapped into the feasible set by ``Π(lower + v·(upper − lower))``, then polished by
the projected method), ``"multistart"`` (the best of ``de``, ``projected`` from the start and
SLSQP from random mixes); ``"auto"`` (``analysis.budget_method``'s default): ``multistart`` on the
curves, where S-shaped curves give every single method local optima and a plan costs seconds
(benchmarks/optimizer.py), ``projected`` on the model, where every evaluation re-runs the network.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..train.result import FitResult
from ._allocate import (  # re-exported
    METHOD_CHOICES,
    METHODS,
    _value,
    maximize_allocation,
    resolve_method,
)
from ._bounds import (  # re-exported
    apply_floors,
    cap_change,
    current_plan,
    fixed_channels,
    observed_floors,
    parse_bounds,
    resolve_bounds,
)
from ._budget_result import (  # BudgetResult, horizon_spend re-exported
    BudgetResult,
    _by_channel,
    _result,
    horizon_spend,
)
from ._model_route import _model_response
from .curves import (
    curve_params,
    hill,
)
from .plans import kpi_values, window_spend

__all__ = ["BudgetResult", "METHODS", "METHOD_CHOICES", "resolve_method", "optimize_budget", "optimize_curves",
           "maximize_allocation",
           "resolve_bounds", "parse_bounds", "beyond_observed", "below_observed", "ROUTES", "horizon_spend",
           "fixed_channels", "observed_floors"]

ROUTES = ("auto", "curves", "model", "plan")
MODEL_MAXITER = 100  # optimiser iterations on the model route (see optimize_budget)


# --------------------------------------------------------------------------- bounds

def _curves_total(x, top, bottom, half, slope, shift, weeks):
    """The curves route's response: Σ_c weeks · hill(x_c / weeks + shift_c) (module level, so the
    allocation programs compile once for every budget and curve set)."""
    return (weeks * hill(x / weeks + shift, top, bottom, half, slope)).sum()


def _curves_response(params: pd.DataFrame, weeks: int):
    """``(args, per_channel_np)``: the arrays of :func:`_curves_total` and the numpy per-channel
    response."""
    p = {k: np.nan_to_num(params[k].to_numpy(np.float64)) for k in ("top", "bottom", "half_saturation", "slope")}
    p["half_saturation"] = np.where(p["half_saturation"] > 0, p["half_saturation"], 1.0)

    # the JAX objective evaluates f at x + 1e-9·half: the gradient at x = 0 is then the right-hand
    # derivative (e.g. top/half for slope 1) instead of the 0 that the x > 0 guard in hill() gives.
    shift = 1e-9 * p["half_saturation"]
    args = (p["top"], p["bottom"], p["half_saturation"], p["slope"], shift, np.float64(weeks))

    def per_channel_np(x):
        return weeks * hill(np.asarray(x, np.float64) / weeks, p["top"], p["bottom"], p["half_saturation"], p["slope"])

    return args, per_channel_np


def optimize_curves(params: pd.DataFrame, budget: float, *, weeks: int = 52, bounds: dict | None = None,
                    method: str = "auto", current: dict | None = None, historical: dict | None = None,
                    unit: str = "spend") -> BudgetResult:
    """Optimise over fitted Hill curves alone (``params``: columns ``channel, top, bottom,
    half_saturation, slope`` in weekly units).  ``current``/``historical``: allocations to compare
    with (default: equal split of the budget).  ``method="auto"``: ``"multistart"``."""
    method = resolve_method(method, "curves")
    channels = list(params["channel"])
    lower, upper = resolve_bounds(channels, budget, bounds)
    args, resp_np = _curves_response(params, int(weeks))
    cur = np.array([current[c] for c in channels], float) if current else np.full(len(channels), budget / len(channels))
    hist = np.array([historical[c] for c in channels], float) if historical else cur
    x, ok, msg = maximize_allocation(_curves_total, budget, lower, upper, method=method, x0=cur, args=args)
    with jax.enable_x64(True):
        grad = np.asarray(jax.grad(_curves_total)(jnp.asarray(x, jnp.float64), *(jnp.asarray(a, jnp.float64)
                                                                                   for a in args)), np.float64)
    by = _by_channel(channels, x, resp_np(x), grad, weeks, params["half_saturation"].to_numpy(np.float64))
    return _result(ok, method, "curves", budget, weeks, unit, channels, x, resp_np(x).sum(), cur,
                   resp_np(cur).sum(), hist, resp_np(hist).sum(), by, msg)


# --------------------------------------------------------------------------- extrapolation

def beyond_observed(result: FitResult, x: np.ndarray, hist: np.ndarray, n_win: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pct [C], max_ratio [C])``: the plan ``x`` spread over regions and weeks like the last
    ``n_win`` training weeks (scaled by ``x / hist``), the % of each channel's planned spend above
    the region's largest weekly spend in the training weeks, and the largest planned/observed
    ratio (see :class:`BudgetResult`).  Exposure units when the run has no spend."""
    from .plans import spend_beyond_peak

    return spend_beyond_peak(result, _spread(result, x, hist, n_win)[0], unseen=0.0)


def below_observed(result: FitResult, x: np.ndarray, hist: np.ndarray, n_win: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pct [C], min_ratio [C])``: the plan ``x`` spread like :func:`beyond_observed`, the spend it
    cuts below each region's smallest weekly spend in the training weeks in % of the channel's
    spend over the last ``n_win`` training weeks, and the smallest planned/observed-minimum ratio."""
    from .plans import spend_below_floor

    return spend_below_floor(result, *_spread(result, x, hist, n_win))


def _spread(result: FitResult, x: np.ndarray, hist: np.ndarray, n_win: int) -> tuple[np.ndarray, np.ndarray]:
    """``(planned, window)`` ``[R, n_win, C]``: the last ``n_win`` training weeks' spend scaled
    by ``x / hist`` per channel, and that spend itself (missing cells 0)."""
    win = window_spend(result, n_win)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(hist > 0, np.asarray(x, np.float64) / np.where(hist > 0, hist, 1.0), 0.0)
    return win * u, win


def _with_extrapolation(res: BudgetResult, result, x: np.ndarray, hist: np.ndarray, n_win: int) -> BudgetResult:
    res.add_observed_range(result.panel.channels, x, hist, beyond_observed(result, x, hist, n_win),
                           below_observed(result, x, hist, n_win))
    return res


# --------------------------------------------------------------------------- entry point

def optimize_budget(result: FitResult, budget: float | None = None, *, weeks: int | None = None,
                    bounds: dict | None = None, fixed=(), method: str | None = None, on: str | None = None,
                    seed: int = 0,
                    curves: pd.DataFrame | None = None, by: str = "channel", max_change: float | None = None,
                    tail_weeks: int = 0, risk: float | None = None, region_bounds: dict | None = None,
                    week_bounds: dict | None = None, plan=None, kpi_value=None,
                    floor: str | None = None) -> BudgetResult:
    """Allocate ``budget`` (total over ``weeks`` weeks; default ``analysis.budget_weeks``) across
    channels to maximise the predicted response (see the module docstring).  ``budget=None``:
    the historical spend of the horizon (re-allocate what was spent).

    ``bounds``: ``{channel: (lower, upper)}`` totals over the horizon (None = 0 / budget).
    ``fixed``: channels held at their historical spend of the horizon (``historical_allocation``)
    while the others share the rest of the budget; the current plan then keeps them there too
    and scales the others' historical mix to the rest (``BudgetResult.fixed``).
    ``curves``: the run's :func:`~causalmmm_jax.analysis.curves.curve_params` when already
    computed (several plans on one run need them once).
    ``on``: ``"auto"`` (default ``analysis.budget_on``), ``"model"`` or ``"curves"``; the route
    taken is ``BudgetResult.on``.  ``on="plan"`` or ``by="region"``: the plan route, the model run
    forward from the week after the data (:func:`~causalmmm_jax.analysis.planning.optimize_plan`,
    which also takes ``tail_weeks``, ``risk``, ``region_bounds``, ``week_bounds`` and a ``plan`` to
    start from); so do ``by="week"`` and any of those arguments.  ``max_change``: every channel's total within
    ``(1 ± max_change)`` × the current plan's (on the plan route: every decision cell's).
    ``kpi_value``: the value of one unit of KPI (e.g. revenue per visit), a number or
    ``{region or "*": value}`` (:func:`~causalmmm_jax.analysis.plans.kpi_values`; per region only
    on the model and plan routes): the plan maximises value, and responses, uplift and ROI are in
    value units (``response_unit = "value"``).
    ``floor``: ``"observed"`` keeps every channel without a given lower bound at or above the smaller of
    its smallest national weekly spend in the training weeks × ``weeks`` and its current plan
    (so the current plan is always allowed; channels seen at zero spend have no floor;
    :func:`~._bounds.observed_floors`; never above the channel's upper bound), ``"none"`` lets the
    plan cut to zero (default ``analysis.budget_floor``); the floors are ``BudgetResult.floors``.
    Raises :class:`ConfigError` for infeasible bounds, an unknown method, an ``on="model"`` horizon
    longer than the training period, or a share-of-voice model."""
    acfg = result.config.analysis
    method, on = method or acfg.budget_method, on or acfg.budget_on
    weeks_given, weeks = weeks, int(weeks or acfg.budget_weeks)
    if method not in METHOD_CHOICES:
        raise ConfigError(f"unknown optimisation method {method!r}; choose one of {', '.join(METHOD_CHOICES)}")
    if on not in ROUTES:
        raise ConfigError(f"'on' must be one of {', '.join(ROUTES)}, got {on!r}")
    if by not in ("channel", "region", "week"):
        raise ConfigError(f"by must be 'channel', 'region' or 'week', got {by!r}")
    plan_args = [n for n, v in (("region_bounds", region_bounds), ("week_bounds", week_bounds), ("plan", plan)) if v]
    if on == "plan" or by != "channel" or plan_args:
        if on in ("curves", "model"):
            why = f"by='{by}'" if by != "channel" else " and ".join(plan_args)
            raise ConfigError(f"{why}: the plan route (the model run forward) answers this, not on='{on}'; "
                              "drop on or use on='plan'")
        from .planning import optimize_plan

        return optimize_plan(result, budget, weeks=weeks_given if plan is not None else weeks, by=by,
                             tail_weeks=tail_weeks,
                             bounds=bounds, fixed=fixed, max_change=max_change, method=method, risk=risk,
                             region_bounds=region_bounds, week_bounds=week_bounds, plan=plan, kpi_value=kpi_value,
                             floor=floor)
    if tail_weeks or risk is not None:
        raise ConfigError("tail_weeks and risk apply to the plan route (on='plan') only")
    channels, n_train, n_win, window_spend, hist, unit = horizon_spend(result, weeks)
    budget = float(hist.sum()) if budget is None else float(budget)
    fixed = fixed_channels(fixed, channels, bounds)
    floor_at = observed_floors(result, weeks, bounds, fixed, floor)  # channels the caller bounds keep their bounds
    if fixed:
        bounds = {**(bounds or {}), **{c: (hist[channels.index(c)],) * 2 for c in fixed}}
        held = sum(hist[channels.index(c)] for c in fixed)
        if held > budget * (1 + 1e-12):
            raise ConfigError(f"the fixed channels' historical {unit} over {weeks} weeks ({held:g}: "
                              + ", ".join(f"{c}={hist[channels.index(c)]:g}" for c in fixed)
                              + f") exceeds the budget {budget:g}; raise the budget or fix fewer channels")
    lower, upper = resolve_bounds(channels, budget, bounds)
    cur = current_plan(hist, budget, [channels.index(c) for c in fixed])
    if max_change is not None:
        bounds = cap_change(channels, budget, lower, upper, cur, max_change)
        lower, upper = resolve_bounds(channels, budget, bounds)
    lower, floors, floor_note = apply_floors(channels, np.minimum(floor_at, cur), budget, lower, upper)
    if floors:
        bounds = {c: (lo, hi) for c, lo, hi in zip(channels, lower, upper)}
    params = curve_params(result) if curves is None else curves
    values = kpi_values(result, kpi_value)
    # what keeps the model route from running: (reason, what to do), or None
    dead = [c for c, s, u in zip(channels, window_spend, upper) if s <= 0 and u > 0]
    if weeks > n_train:
        obstacle = (f"the horizon ({weeks} weeks) is longer than the training period ({n_train} weeks), which the "
                    "model route re-runs", "use a shorter horizon")
    elif dead:
        obstacle = (f"{', '.join(dead)} had no {unit} in the last {weeks} training weeks, so the model route cannot "
                    "scale them", "bound them to 0 (e.g. --bounds NAME=0:0)")
    else:
        obstacle = None
    auto = on == "auto"
    if auto:
        on = "curves" if obstacle else "model"
    method = resolve_method(method, on)
    if on == "curves":
        if values is not None:
            if not np.allclose(values, values[0], rtol=1e-12):
                raise ConfigError("KPI values that differ by region need the model or plan route (on='model' or "
                                  "'plan'): the response curves are national")
            params = params.assign(top=params["top"] * values[0], bottom=params["bottom"] * values[0])
        res = optimize_curves(params, budget, weeks=weeks, bounds=bounds, method=method,
                              current=dict(zip(channels, cur)), historical=dict(zip(channels, hist)), unit=unit)
        res.message += f"; current = historical mix of the last {n_win} training weeks scaled to the budget"
        res.fixed = fixed
        res.add_floors(floors, floor_note)
        if values is not None:
            res.response_unit = "value"
            res.message += "; responses in value units (KPI × value per unit of KPI)"
        if auto:
            res.route_note = f"on the fitted curves, not the model re-run, because {obstacle[0] if obstacle else '?'}"
            res.message += "; " + res.route_note
        return _with_extrapolation(res, result, np.array([res.allocation[c] for c in channels]), hist, n_win)

    if obstacle:
        raise ConfigError(f"on='model': {obstacle[0]}; {obstacle[1]} or use on='curves'.")
    response, args, per_channel, grad_fn = _model_response(result, weeks, window_spend, values)
    # float32 model objectives rarely meet the step tolerance, so the iteration cap sets the cost
    # (~1.3 s an iteration on the 190-region example panel, 52 weeks). 100 instead of 500: the same
    # plans to < 1e-4 of the budget on the decision benchmark's panels checked, and on the example
    # panel (optimize --on model, 52 weeks) a response 0.08 % below 500 iterations' in 228 s, not 733 s.
    x, ok, msg = maximize_allocation(response, budget, lower, upper, method=method, x0=cur, seed=seed, x64=False,
                                     maxiter=MODEL_MAXITER, args=args)
    pc = per_channel(x)
    by = _by_channel(channels, x, pc, grad_fn(x), weeks, params["half_saturation"].to_numpy(np.float64))
    val = lambda v: float(_value(jnp.asarray(v, jnp.float32), args, response=response))  # noqa: E731
    msg += (f"; response = KPI added by the media of the last {weeks} training weeks (model re-run); "
            f"current = historical mix of those weeks scaled to the budget")
    res = _result(ok, method, "model", budget, weeks, unit, channels, x, val(x), cur, val(cur), hist, val(hist),
                  by, msg)
    res.fixed = fixed
    res.add_floors(floors, floor_note)
    if values is not None:
        res.response_unit = "value"
        res.message += "; responses in value units (KPI × each region's value per unit of KPI)"
    return _with_extrapolation(res, result, x, hist, n_win)
