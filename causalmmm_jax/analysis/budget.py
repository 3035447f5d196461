"""Budget optimisation: maximise predicted response subject to Σ spend = budget and bounds.

Decision ``x [C]``: total spend per channel over a horizon of ``weeks`` weeks, spent flat
(``x_c / weeks`` per week); in exposure units when the run has no spend columns.  Feasible set
``{lower ≤ x ≤ upper, Σx = budget}``.  Every method works on ``z = x / budget`` with the response
normalised by its value at the start point, and its answer is finally projected onto the
feasible set in float64 (so the constraints hold to rounding).

Response (``on``; ``analysis.budget_on``, default ``"auto"``: the model re-run whenever it
applies, i.e. the horizon fits in the training period and every channel the plan may fund was
spent on in its last ``weeks`` training weeks; otherwise the curves, and the message says why.
On the decision benchmark's panels the model route's plans captured 0.98 of the achievable
uplift in the median panel against the curves' 0.89, docs/analysis.md §9):
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

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy.optimize as so

from ..errors import ConfigError
from ..model.mmm import apply
from ._jaxopt import project_box_section, project_box_section_np, simplex_box_minimize
from .curves import channel_totals, curve_params, hill, require_level, stacked_params, train_sequence

__all__ = ["BudgetResult", "METHODS", "METHOD_CHOICES", "resolve_method", "optimize_budget", "optimize_curves", "maximize_allocation",
           "resolve_bounds", "parse_bounds", "beyond_observed", "ROUTES", "optimize_target", "search_budget",
           "TARGETS"]

METHODS = ("projected", "slsqp", "trust-constr", "de", "multistart")
METHOD_CHOICES = ("auto", *METHODS)  # "auto": multistart on the curves, projected on the model (resolve_method)
MULTISTART_STARTS = 8  # random starts of the multistart method's SLSQP runs
ROUTES = ("auto", "curves", "model")
MODEL_MAXITER = 100  # optimiser iterations on the model route (see optimize_budget)
TARGETS = ("kpi", "roi")


@dataclass
class BudgetResult:
    """Outcome of :func:`optimize_budget`.  Allocations are totals over the horizon per channel
    (media column names), in spend units (exposure units when ``unit == "exposure"``).

    ``current_allocation``: the historical spend mix of the last ``weeks`` training weeks scaled to
    ``budget``; ``historical_allocation``: the channels' actual spend over those weeks (×
    weeks/n_train when the horizon is longer than the training period).  ``uplift`` =
    predicted − current response (same budget); ``uplift_pct`` = 100·uplift/|current|.

    ``beyond_observed_pct``: how much of the plan rests on spend the model never saw: the plan
    spread over regions and weeks like the historical window (each channel's window spend × its
    planned/historical ratio), the % of planned spend above each region's largest weekly spend
    in the training weeks (per channel in ``by_channel``, with ``max_vs_observed``, the largest
    planned weekly spend over that region's largest observed one).  None from
    :func:`optimize_curves` alone (no panel).

    ``on``: the route taken (``"model"`` or ``"curves"``); ``route_note``: why ``on="auto"`` fell
    back to the curves (empty otherwise).  ``fixed``: the channels held at their historical spend
    (``current_allocation`` keeps them there and scales the others' mix to the rest of the budget).
    ``target``: set by :func:`optimize_target` (the target, what the plan achieves, the search)."""

    success: bool
    method: str
    on: str
    budget: float
    weeks: int
    unit: str
    allocation: dict[str, float]
    predicted_response: float
    current_allocation: dict[str, float]
    current_response: float
    historical_allocation: dict[str, float]
    historical_response: float
    uplift: float
    uplift_pct: float
    by_channel: pd.DataFrame = field(repr=False)
    message: str = ""
    beyond_observed_pct: float | None = None
    route_note: str = ""
    fixed: list[str] = field(default_factory=list)
    target: dict | None = None

    def to_dict(self) -> dict:
        """JSON-serialisable summary (without ``by_channel``; ``beyond_observed`` per channel)."""
        d = {k: getattr(self, k) for k in (
            "success", "method", "on", "budget", "weeks", "unit", "allocation", "predicted_response",
            "current_allocation", "current_response", "historical_allocation", "historical_response",
            "uplift", "uplift_pct", "beyond_observed_pct", "route_note", "fixed", "target", "message")}
        if "beyond_observed_pct" in self.by_channel:
            d["beyond_observed"] = {r.channel: {"pct_of_planned_spend": float(r.beyond_observed_pct),
                                                "max_vs_observed": float(r.max_vs_observed)}
                                    for r in self.by_channel.itertuples(index=False)}
        return d


# --------------------------------------------------------------------------- bounds

def parse_bounds(items) -> dict[str, tuple[float | None, float | None]]:
    """``["tv=0:5e5", "search=1000:"]`` → ``{"tv": (0, 5e5), "search": (1000, None)}``."""
    out = {}
    for item in items or ():
        name, sep, rng = str(item).partition("=")
        low, sep2, high = rng.partition(":")
        if not sep or not sep2 or not name.strip():
            raise ConfigError(f"bad bound {item!r}: write CHANNEL=LOW:HIGH (either side may be empty), "
                              "e.g. impressions_tv=0:50000")
        try:
            out[name.strip()] = (float(low) if low.strip() else None, float(high) if high.strip() else None)
        except ValueError:
            raise ConfigError(f"bad bound {item!r}: LOW and HIGH must be numbers") from None
    return out


def resolve_bounds(channels, budget: float, bounds: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """``(lower [C], upper [C])`` from ``{channel: (low, high)}`` (None sides: 0 and ``budget``);
    raises :class:`ConfigError` for unknown channels, negative or crossed bounds, or a budget the
    bounds cannot meet."""
    channels = list(channels)
    if not np.isfinite(budget) or budget <= 0:
        raise ConfigError(f"the budget must be a positive number, got {budget}")
    lower, upper = np.zeros(len(channels)), np.full(len(channels), float(budget))
    for name, pair in (bounds or {}).items():
        if name not in channels:
            raise ConfigError(f"bounds name an unknown channel {name!r}; channels are: {', '.join(channels)}")
        low, high = pair if isinstance(pair, (tuple, list)) else (pair.get("lower"), pair.get("upper"))
        i = channels.index(name)
        if low is not None:
            lower[i] = float(low)
        if high is not None:
            upper[i] = min(float(high), float(budget))
        if lower[i] < 0 or (high is not None and float(high) < 0) or not np.isfinite(lower[i]):
            raise ConfigError(f"bounds for {name} must be >= 0, got {low}:{high}")
        if lower[i] > upper[i]:
            raise ConfigError(f"bounds for {name}: lower {lower[i]:g} > upper {upper[i]:g}"
                              + (" (upper is capped at the budget)" if high is not None and high > budget else ""))
    if lower.sum() > budget * (1 + 1e-12):
        parts = ", ".join(f"{c}={lo:g}" for c, lo in zip(channels, lower) if lo > 0)
        raise ConfigError(f"infeasible bounds: the lower bounds sum to {lower.sum():g} > budget {budget:g} ({parts}). "
                          "Lower them or raise the budget.")
    if upper.sum() < budget * (1 - 1e-12):
        parts = ", ".join(f"{c}={hi:g}" for c, hi in zip(channels, upper))
        raise ConfigError(f"infeasible bounds: the upper bounds sum to {upper.sum():g} < budget {budget:g} ({parts}). "
                          "Raise them or lower the budget.")
    return lower, upper


# --------------------------------------------------------------------------- generic optimiser

def _x64(on: bool):
    return jax.enable_x64(True) if on else jax.enable_x64(jax.config.jax_enable_x64)


def maximize_allocation(response, budget: float, lower, upper, *, method: str = "projected", x0=None,
                        seed: int = 0, x64: bool = True, maxiter: int = 2000) -> tuple[np.ndarray, bool, str]:
    """Maximise ``response(x)`` (JAX-traceable, ``x [C]`` in budget units) over
    ``{lower ≤ x ≤ upper, Σx = budget}``.  Returns ``(x float64 [C], success, message)``; ``x``
    satisfies the constraints to rounding.  ``x64``: trace in float64 (cheap objectives)."""
    if method not in METHODS:
        raise ConfigError(f"unknown optimisation method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "multistart":
        return _multistart(response, budget, lower, upper, x0=x0, seed=seed, x64=x64, maxiter=maxiter)
    b = float(budget)
    lo_n, hi_n = np.asarray(lower, np.float64) / b, np.asarray(upper, np.float64) / b
    n = lo_n.size
    start = np.full(n, 1.0 / n) if x0 is None else np.asarray(x0, np.float64) / b
    start = project_box_section_np(start, lo_n, hi_n, 1.0)
    with _x64(x64):
        dt = jnp.float64 if x64 else jnp.float32
        scale = abs(float(response(jnp.asarray(start * b, dt)))) or 1.0
        obj = lambda z: -response(z * b) / scale  # noqa: E731
        lo_j, hi_j = jnp.asarray(lo_n, dt), jnp.asarray(hi_n, dt)
        # float32 objectives (the model route) are noisy at ~1e-7: a tighter tolerance never stops
        # before maxiter. 1e-4 of the budget moved the example-sized plans by < 0.03 % of the budget
        # and left the response unchanged to float32 rounding, at a fifth of the time.
        tol = 1e-12 if x64 else 1e-4

        def projected(z0):
            z, _ = jax.jit(lambda s: simplex_box_minimize(obj, s, lo_j, hi_j, jnp.asarray(1.0, dt), maxiter=maxiter,
                                                          tol=tol))(jnp.asarray(z0, dt))
            return np.asarray(z, np.float64)

        vg = jax.jit(jax.value_and_grad(obj))
        fg = lambda z: tuple(np.asarray(a, np.float64) for a in vg(jnp.asarray(z, dt)))  # noqa: E731
        ok, msg = True, ""
        if method == "projected":
            z = projected(start)
            msg = "projected gradient (box-and-budget projection)"
        elif method == "slsqp":
            r = so.minimize(lambda z: float(fg(z)[0]), start, jac=lambda z: fg(z)[1], method="SLSQP",
                            bounds=list(zip(lo_n, hi_n)),
                            constraints=[{"type": "eq", "fun": lambda z: z.sum() - 1.0, "jac": lambda z: np.ones(n)}],
                            options={"maxiter": maxiter, "ftol": 1e-14 if x64 else 1e-9})
            z, ok, msg = r.x, bool(r.success), f"SLSQP: {r.message}"
        elif method == "trust-constr":
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "delta_grad == 0.0" from the BFGS update
                r = so.minimize(lambda z: float(fg(z)[0]), start, jac=lambda z: fg(z)[1], method="trust-constr",
                                hess=so.BFGS(), bounds=so.Bounds(lo_n, hi_n),
                                constraints=[so.LinearConstraint(np.ones((1, n)), 1.0, 1.0)],
                                options={"maxiter": maxiter, "gtol": 1e-12 if x64 else 1e-8, "xtol": 1e-14})
            z, ok, msg = r.x, bool(r.success), f"trust-constr: {r.message}"
        else:
            def to_z(v):
                return project_box_section(lo_j + v * (hi_j - lo_j), lo_j, hi_j, jnp.asarray(1.0, dt))

            # population [C, S] evaluated 16 members at a time (bounded memory on the model route)
            pop_obj = jax.jit(lambda vs: jax.lax.map(lambda v: obj(to_z(v)), vs.T, batch_size=16))
            r = so.differential_evolution(lambda v: np.asarray(pop_obj(jnp.asarray(v, dt)), np.float64),
                                          [(0.0, 1.0)] * n, vectorized=True, updating="deferred", seed=seed,
                                          maxiter=300, popsize=15, tol=1e-8, polish=False,
                                          init="sobol" if n > 1 else "latinhypercube")
            z_de = np.asarray(to_z(jnp.asarray(r.x, dt)), np.float64)
            z = projected(z_de)
            msg = f"differential evolution ({r.nit} generations: {r.message}), polished by projected gradient"
        z = project_box_section_np(np.nan_to_num(np.asarray(z, np.float64), nan=1.0 / n), lo_n, hi_n, 1.0)
        # never report a point worse than the start (possible with float32 objectives)
        if float(fg(z)[0]) > float(fg(start)[0]):
            z, msg = start, msg + "; no improvement over the start point found"
    return z * b, ok, msg


# --------------------------------------------------------------------------- curves route

def _curves_response(params: pd.DataFrame, weeks: int):
    p = {k: np.nan_to_num(params[k].to_numpy(np.float64)) for k in ("top", "bottom", "half_saturation", "slope")}
    p["half_saturation"] = np.where(p["half_saturation"] > 0, p["half_saturation"], 1.0)

    # the JAX objective evaluates f at x + 1e-9·half: the gradient at x = 0 is then the right-hand
    # derivative (e.g. top/half for slope 1) instead of the 0 that the x > 0 guard in hill() gives.
    shift = 1e-9 * p["half_saturation"]

    def per_channel(x, xp=jnp):
        tb = [xp.asarray(p[k]) for k in ("top", "bottom", "half_saturation", "slope")]
        return weeks * hill(xp.asarray(x) / weeks + (xp.asarray(shift) if xp is jnp else 0.0), *tb)

    return (lambda x: per_channel(x).sum()), (lambda x: per_channel(np.asarray(x, np.float64), np))


def optimize_curves(params: pd.DataFrame, budget: float, *, weeks: int = 52, bounds: dict | None = None,
                    method: str = "auto", current: dict | None = None, historical: dict | None = None,
                    unit: str = "spend") -> BudgetResult:
    """Optimise over fitted Hill curves alone (``params``: columns ``channel, top, bottom,
    half_saturation, slope`` in weekly units).  ``current``/``historical``: allocations to compare
    with (default: equal split of the budget).  ``method="auto"``: ``"multistart"``."""
    method = resolve_method(method, "curves")
    channels = list(params["channel"])
    lower, upper = resolve_bounds(channels, budget, bounds)
    resp_j, resp_np = _curves_response(params, int(weeks))
    cur = np.array([current[c] for c in channels], float) if current else np.full(len(channels), budget / len(channels))
    hist = np.array([historical[c] for c in channels], float) if historical else cur
    x, ok, msg = maximize_allocation(resp_j, budget, lower, upper, method=method, x0=cur)
    with jax.enable_x64(True):
        grad = np.asarray(jax.grad(resp_j)(jnp.asarray(x, jnp.float64)), np.float64)
    by = _by_channel(channels, x, resp_np(x), grad, weeks, params["half_saturation"].to_numpy(np.float64))
    return _result(ok, method, "curves", budget, weeks, unit, channels, x, resp_np(x).sum(), cur,
                   resp_np(cur).sum(), hist, resp_np(hist).sum(), by, msg)


def _by_channel(channels, x, resp, grad, weeks, half) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        df = pd.DataFrame({
            "channel": channels, "total_spend": x, "weekly_spend": x / weeks, "response": resp,
            "roi": np.where(x > 0, resp / x, np.nan), "marginal_roi": grad,
            "spend_pct": 100.0 * x / x.sum(),
            "response_pct": 100.0 * resp / resp.sum() if resp.sum() != 0 else np.nan,
            "half_saturation": half})
    return df.sort_values("total_spend", ascending=False, ignore_index=True)


def _result(ok, method, on, budget, weeks, unit, channels, x, pred, cur, cur_resp, hist, hist_resp, by, msg):
    d = lambda v: {c: float(a) for c, a in zip(channels, v)}  # noqa: E731
    uplift = float(pred - cur_resp)
    return BudgetResult(success=bool(ok), method=method, on=on, budget=float(budget), weeks=int(weeks), unit=unit,
                        allocation=d(x), predicted_response=float(pred), current_allocation=d(cur),
                        current_response=float(cur_resp), historical_allocation=d(hist),
                        historical_response=float(hist_resp), uplift=uplift,
                        uplift_pct=100.0 * uplift / abs(cur_resp) if cur_resp else float("nan"),
                        by_channel=by, message=msg)


# --------------------------------------------------------------------------- extrapolation

def beyond_observed(result, x: np.ndarray, hist: np.ndarray, n_win: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pct [C], max_ratio [C])``: the plan ``x`` spread over regions and weeks like the last
    ``n_win`` training weeks (scaled by ``x / hist``), the % of each channel's planned spend above
    the region's largest weekly spend in the training weeks, and the largest planned/observed
    ratio (see :class:`BudgetResult`).  Exposure units when the run has no spend."""
    p = result.panel
    n = result.split.n_train
    cells = result.split.train_mask(p.mask)[..., None]
    arr = np.where(cells, p.spend if p.spend is not None else p.media, 0.0)[:, :n]
    peak = arr.max(axis=1)  # [R, C]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(hist > 0, np.asarray(x, np.float64) / np.where(hist > 0, hist, 1.0), 0.0)
        planned = arr[:, n - n_win:, :] * u  # [R, W, C]
        over = np.maximum(planned - peak[:, None, :], 0.0).sum(axis=(0, 1))
        tot = planned.sum(axis=(0, 1))
        pct = np.where(tot > 0, 100.0 * over / tot, 0.0)
        ratio = np.where(peak[:, None, :] > 0, planned / peak[:, None, :], 0.0).max(axis=(0, 1))
    return pct, ratio


def _with_extrapolation(res: BudgetResult, result, x: np.ndarray, hist: np.ndarray, n_win: int) -> BudgetResult:
    pct, ratio = beyond_observed(result, x, hist, n_win)
    order = {c: i for i, c in enumerate(result.panel.channels)}
    idx = res.by_channel["channel"].map(order).to_numpy()
    res.by_channel["beyond_observed_pct"] = pct[idx]
    res.by_channel["max_vs_observed"] = ratio[idx]
    tot = float(np.sum(x))
    res.beyond_observed_pct = float((pct * np.asarray(x, np.float64)).sum() / tot) if tot > 0 else 0.0
    if res.beyond_observed_pct > 0:
        res.message += (f"; {res.beyond_observed_pct:.1f} % of the planned spend is above the largest weekly spend "
                        "seen in training (per region): there the response is extrapolated")
    return res


# --------------------------------------------------------------------------- entry point

def optimize_budget(result, budget: float | None = None, *, weeks: int | None = None, bounds: dict | None = None,
                    fixed=(), method: str | None = None, on: str | None = None, seed: int = 0,
                    curves: pd.DataFrame | None = None) -> BudgetResult:
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
    taken is ``BudgetResult.on``.
    Raises :class:`ConfigError` for infeasible bounds, an unknown method, an ``on="model"`` horizon
    longer than the training period, or a share-of-voice model."""
    acfg = result.config.analysis
    method, on = method or acfg.budget_method, on or acfg.budget_on
    weeks = int(weeks or acfg.budget_weeks)
    if method not in METHOD_CHOICES:
        raise ConfigError(f"unknown optimisation method {method!r}; choose one of {', '.join(METHOD_CHOICES)}")
    if on not in ROUTES:
        raise ConfigError(f"'on' must be one of {', '.join(ROUTES)}, got {on!r}")
    if weeks < 1:
        raise ConfigError(f"weeks must be >= 1, got {weeks}")
    require_level(result, "budget optimisation")
    channels = list(result.panel.channels)
    n_train = result.split.n_train
    n_win = min(weeks, n_train)
    exposure, spend = channel_totals(result, slice(n_train - n_win, n_train))
    unit = "spend" if spend is not None else "exposure"
    window_spend = spend if spend is not None else exposure
    hist = window_spend * (weeks / n_win)
    budget = float(hist.sum()) if budget is None else float(budget)
    fixed = _fixed_channels(fixed, channels, bounds)
    if fixed:
        bounds = {**(bounds or {}), **{c: (hist[channels.index(c)],) * 2 for c in fixed}}
        held = sum(hist[channels.index(c)] for c in fixed)
        if held > budget * (1 + 1e-12):
            raise ConfigError(f"the fixed channels' historical {unit} over {weeks} weeks ({held:g}: "
                              + ", ".join(f"{c}={hist[channels.index(c)]:g}" for c in fixed)
                              + f") exceeds the budget {budget:g}; raise the budget or fix fewer channels")
    lower, upper = resolve_bounds(channels, budget, bounds)
    cur = _current_plan(hist, budget, [channels.index(c) for c in fixed])
    params = curve_params(result) if curves is None else curves
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
        res = optimize_curves(params, budget, weeks=weeks, bounds=bounds, method=method,
                              current=dict(zip(channels, cur)), historical=dict(zip(channels, hist)), unit=unit)
        res.message += f"; current = historical mix of the last {n_win} training weeks scaled to the budget"
        res.fixed = fixed
        if auto:
            res.route_note = f"on the fitted curves, not the model re-run, because {obstacle[0]}"
            res.message += "; " + res.route_note
        return _with_extrapolation(res, result, np.array([res.allocation[c] for c in channels]), hist, n_win)

    if obstacle:
        raise ConfigError(f"on='model': {obstacle[0]}; {obstacle[1]} or use on='curves'.")
    response, per_channel, grad_fn = _model_response(result, weeks, window_spend)
    # float32 model objectives rarely meet the step tolerance, so the iteration cap sets the cost
    # (~1.3 s an iteration on the 190-region example panel, 52 weeks). 100 instead of 500: the same
    # plans to < 1e-4 of the budget on the decision benchmark's panels checked, and on the example
    # panel (optimize --on model, 52 weeks) a response 0.08 % below 500 iterations' in 228 s, not 733 s.
    x, ok, msg = maximize_allocation(response, budget, lower, upper, method=method, x0=cur, seed=seed, x64=False,
                                     maxiter=MODEL_MAXITER)
    pc = per_channel(x)
    by = _by_channel(channels, x, pc, grad_fn(x), weeks, params["half_saturation"].to_numpy(np.float64))
    val = lambda v: float(response(jnp.asarray(v, jnp.float32)))  # noqa: E731
    msg += (f"; response = KPI added by the media of the last {weeks} training weeks (model re-run); "
            f"current = historical mix of those weeks scaled to the budget")
    res = _result(ok, method, "model", budget, weeks, unit, channels, x, val(x), cur, val(cur), hist, val(hist),
                  by, msg)
    res.fixed = fixed
    return _with_extrapolation(res, result, x, hist, n_win)


def optimize_target(result, target: str, value: float, *, weeks: int | None = None, bounds: dict | None = None,
                    fixed=(), method: str | None = None, on: str = "curves", seed: int = 0, rtol: float = 1e-3,
                    max_factor: float = 64.0) -> BudgetResult:
    """Find the budget for a target, then allocate it like :func:`optimize_budget`:

    * ``target="kpi"``: the smallest budget whose best plan adds at least ``value`` KPI over the
      horizon (``predicted_response``: the KPI the media add over ``weeks`` weeks);
    * ``target="roi"``: the largest budget whose best plan returns at least ``value`` KPI per unit
      of spend (``predicted_response / budget``), Robyn's "target efficiency".

    The best plan's response grows with the budget and its ROI falls (diminishing returns), so the
    budget is found by bracketing from the historical spend of the horizon (doubling or halving,
    at most ``max_factor`` times either way) and bisection to ``rtol`` of the budget; each step is
    one :func:`optimize_budget` call.  ``on``: ``"curves"`` by default (about a second a step);
    ``"model"`` re-runs the model at every step (each as long as one model-route plan).
    ``method``: default ``"de"`` on the curves (global: with S-shaped curves a local method's best
    plan can get worse as the budget grows, which breaks the search; on the analysis tests' fit,
    ``projected`` found 6.55e6 at a budget of 2.30e6 against 6.77e6 at 2.25e6, ``de`` 6.86e6 and
    6.77e6), ``analysis.budget_method`` on the model.
    ``bounds``/``fixed`` as in :func:`optimize_budget`; the lower bounds and the fixed channels'
    spend are the smallest budget searched.  Raises :class:`ConfigError` when no budget in the
    searched range reaches the target (the message says what the range reaches).
    Returns the plan with ``BudgetResult.target = {kind, value, achieved, budget, evaluations,
    searched: [low, high]}``."""
    if target not in TARGETS:
        raise ConfigError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if not (np.isfinite(value) and value > 0):
        raise ConfigError(f"the {target} target must be a positive number, got {value}")
    acfg = result.config.analysis
    weeks = int(weeks or acfg.budget_weeks)
    if weeks < 1:
        raise ConfigError(f"weeks must be >= 1, got {weeks}")
    require_level(result, "budget optimisation")
    channels = list(result.panel.channels)
    n_train = result.split.n_train
    n_win = min(weeks, n_train)
    exposure, spend = channel_totals(result, slice(n_train - n_win, n_train))
    hist = (spend if spend is not None else exposure) * (weeks / n_win)
    fixed_list = _fixed_channels(fixed, channels, bounds)
    floor = sum(float(lo) for lo, _ in (bounds or {}).values() if lo is not None)
    floor += sum(float(hist[channels.index(c)]) for c in fixed_list)
    capped = {c for c, (_, hi) in (bounds or {}).items() if hi is not None} | set(fixed_list)
    ceiling = (sum(float(hi) for _, hi in (bounds or {}).values() if hi is not None)
               + sum(float(hist[channels.index(c)]) for c in fixed_list)) if capped >= set(channels) else np.inf
    curves = curve_params(result)
    method = method or ("de" if on == "curves" else resolve_method(acfg.budget_method, on))

    def solve(b):
        return optimize_budget(result, b, weeks=weeks, bounds=bounds, fixed=fixed_list, method=method, on=on,
                               seed=seed, curves=curves)

    res, info = search_budget(solve, target, value, float(hist.sum()), floor=floor, ceiling=ceiling, rtol=rtol,
                              max_factor=max_factor, unit="spend" if spend is not None else "exposure", weeks=weeks)
    res.target = info
    res.message += (f"; budget found for the {target} target {value:g} ({info['evaluations']} plans evaluated, "
                    f"budgets searched {info['searched'][0]:.6g} to {info['searched'][1]:.6g})")
    return res


def search_budget(solve, target: str, value: float, start: float, *, floor: float = 0.0, ceiling: float = np.inf,
                  rtol: float = 1e-3, max_factor: float = 64.0, unit: str = "spend", weeks: int | None = None):
    """The budget search of :func:`optimize_target` on any ``solve(budget) -> BudgetResult``:
    returns ``(plan, info)``.  KPI target: the smallest budget with ``predicted_response >= value``;
    ROI target: the largest budget with ``predicted_response / budget >= value`` (both assume the
    best response grows with the budget at a falling rate, true of concave response curves).
    Budgets searched: from ``max(start / max_factor, floor)`` to ``min(start * max_factor, ceiling)``."""
    if not start > 0:
        raise ConfigError(f"no historical {unit} in the horizon to start the budget search from; "
                          "give a budget instead")
    memo: dict[float, BudgetResult] = {}
    floor = max(float(floor), 0.0)
    low_cap, high_cap = max(start / max_factor, floor), min(start * max_factor, ceiling)
    if high_cap < low_cap:
        raise ConfigError(f"the bounds leave no budget to search: lower bounds and fixed {unit} {floor:.6g} > "
                          f"upper bounds {ceiling:.6g}")
    top = f"{max_factor:g}x the historical {unit}" if high_cap < ceiling else "the sum of the upper bounds"
    span = f" over {weeks} weeks" if weeks else ""

    def plan(b):
        b = float(b)
        if b not in memo:
            memo[b] = solve(b)
        return memo[b]

    def ok(b):  # does budget b meet the target?
        r = plan(b)
        return r.predicted_response >= value if target == "kpi" else r.predicted_response >= value * b

    if target == "kpi":
        if floor > 0 and ok(floor):
            lo = hi = floor
        else:
            lo, hi = floor, min(max(start, floor), high_cap)
            while not ok(hi):
                if hi >= high_cap:
                    raise ConfigError(
                        f"the KPI target {value:g}{span} is out of reach: the best plan at {hi:.6g} "
                        f"({top}, the largest budget searched) adds {plan(hi).predicted_response:.6g}; lower the "
                        "target (the response curves flatten, and far beyond the observed spend they are extrapolated)")
                lo, hi = hi, min(2.0 * hi, high_cap)
        while hi - lo > rtol * hi:
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if ok(mid) else (mid, hi)
        best = hi
    else:
        first = min(max(start, floor), high_cap)
        if ok(first):
            lo = first
            hi = min(2.0 * lo, high_cap)
            while ok(hi):
                if hi >= high_cap and high_cap == ceiling:  # the bounds allow no more: spend all they allow
                    lo = hi
                    break
                if hi >= high_cap:
                    raise ConfigError(
                        f"the plan's ROI stays above {value:g} up to {hi:.6g} ({top}, the largest budget searched), "
                        "where the response is extrapolated far beyond the spend seen; raise the target or bound the "
                        "channels")
                lo, hi = hi, min(2.0 * hi, high_cap)
        else:
            hi = first
            lo = max(0.5 * hi, low_cap)
            while not ok(lo):
                if lo <= low_cap:
                    r = plan(lo)
                    raise ConfigError(
                        f"no budget reaches an ROI of {value:g}: the best plan at {lo:.6g} (the smallest budget "
                        f"searched) returns {r.predicted_response / lo:.6g} KPI per unit of {unit}; lower the target")
                hi, lo = lo, max(0.5 * lo, low_cap)
        while hi - lo > rtol * hi:
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        best = lo
    res = plan(best)
    achieved = res.predicted_response if target == "kpi" else res.predicted_response / best
    info = {"kind": target, "value": float(value), "achieved": float(achieved), "budget": float(best),
            "evaluations": len(memo), "searched": [float(min(memo)), float(max(memo))]}
    return res, info


def resolve_method(method: str, on: str) -> str:
    """``"auto"`` → ``"multistart"`` on the curves, ``"projected"`` on the model; others as given."""
    return ("multistart" if on == "curves" else "projected") if method == "auto" else method


def _multistart(response, budget, lower, upper, *, x0, seed: int, x64: bool, maxiter: int):
    """The best of: differential evolution, the projected method from ``x0``, and SLSQP from
    :data:`MULTISTART_STARTS` random mixes (Dirichlet, seeded).  On S-shaped curves each of these
    alone misses the best plan on some problems (benchmarks/optimizer.py)."""
    n = np.asarray(lower).size
    rng = np.random.default_rng([seed, 1])
    runs = [("de", x0), ("projected", x0)]
    runs += [("slsqp", rng.dirichlet(np.ones(n)) * float(budget)) for _ in range(MULTISTART_STARTS)]
    best = None
    with _x64(x64):
        dt = jnp.float64 if x64 else jnp.float32
        value = jax.jit(response)
        for m, start in runs:
            x, ok, msg = maximize_allocation(response, budget, lower, upper, method=m, x0=start, seed=seed, x64=x64,
                                             maxiter=maxiter)
            v = float(value(jnp.asarray(x, dt)))
            if best is None or v > best[0]:
                best = (v, x, ok, m, msg)
    _, x, ok, m, msg = best
    return x, ok, (f"multistart: best of differential evolution, projected gradient from the start and SLSQP from "
                   f"{MULTISTART_STARTS} random mixes (best: {m}; {msg})")


def _fixed_channels(fixed, channels, bounds) -> list[str]:
    """``fixed`` as a list of channel names in the panel's order; a :class:`ConfigError` names an
    unknown channel or one that is both fixed and bounded."""
    names = [fixed] if isinstance(fixed, str) else list(fixed or ())
    for name in names:
        if name not in channels:
            raise ConfigError(f"fixed names an unknown channel {name!r}; channels are: {', '.join(channels)}")
        if bounds and name in bounds:
            raise ConfigError(f"{name} is both fixed and bounded; fixing holds it at its historical spend, "
                              "so drop one of the two")
    return [c for c in channels if c in names]


def _current_plan(hist: np.ndarray, budget: float, fixed_idx: list[int]) -> np.ndarray:
    """The current plan at ``budget``: fixed channels at their historical spend, the others' historical
    mix scaled to the rest of the budget (an equal split when they had none)."""
    cur = np.asarray(hist, np.float64).copy()
    free = np.ones(len(cur), bool)
    free[fixed_idx] = False
    rest = budget - cur[~free].sum()
    if not free.any():
        return cur
    cur[free] = cur[free] * (rest / cur[free].sum()) if cur[free].sum() > 0 else rest / free.sum()
    return cur


def _model_response(result, weeks: int, window_spend: np.ndarray):
    """``(response(x), per_channel(x) -> [C], grad(x) -> [C])`` of the model route; ensemble
    members are averaged."""
    inputs, cells, tm = train_sequence(result)
    seq = inputs.media.shape[1]
    window = np.zeros(seq)
    window[seq - weeks:] = 1.0
    after = jnp.asarray(np.cumsum(window) > 0, jnp.float32)[None, :]  # weeks from the window start on
    members = stacked_params(result)
    c = result.spec.n_channels
    safe = jnp.asarray(np.where(window_spend > 0, window_spend, 1.0), jnp.float32)
    win = jnp.asarray(window, jnp.float32)[:, None]
    w = cells * tm[:, None] * after

    def pred(params, u):
        factor = 1.0 + win * (u - 1.0)
        return apply(params, inputs.replace(media=inputs.media * factor[None]), result.spec).prediction

    base = jax.jit(jax.vmap(lambda p: pred(p, jnp.zeros(c))))(members)  # [N, R, T]

    def response(x):
        u = x.astype(jnp.float32) / safe
        return jax.vmap(lambda p, b0: ((pred(p, u) - b0) * w).sum())(members, base).mean()

    def off_one(x):
        u = jnp.asarray(x, jnp.float32) / safe
        full = response(jnp.asarray(x, jnp.float32))
        drop = jax.vmap(lambda e: response((u * (1.0 - e)) * safe))(jnp.eye(c))
        return full - drop

    # jitted once here: un-jitted calls would dispatch (and compile) the model op by op
    off_one_j, grad_j = jax.jit(off_one), jax.jit(jax.grad(response))
    per_channel = lambda x: np.asarray(off_one_j(jnp.asarray(x, jnp.float32)), np.float64)  # noqa: E731
    grad_fn = lambda x: np.asarray(grad_j(jnp.asarray(x, jnp.float32)), np.float64)  # noqa: E731
    return jax.jit(response), per_channel, grad_fn
