"""Constraints of the allocation problems: bounds from the command line and the API checked
against the budget, fixed channels, the cap on the change from the current plan, and the
decision cells' box, column and row ranges of the plan route, each refused with the reason when
no plan can meet it (:class:`~causalmmm_jax.errors.ConfigError`)."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..train.result import FitResult
from ._plan_data import keyed_rows, plan_times, training_spend, week_label

__all__ = ["parse_bounds", "resolve_bounds", "fixed_channels", "cap_change", "current_plan", "cells_constraints",
           "row_bounds", "row_ranges", "FLOOR_CHOICES", "observed_floors", "apply_floors"]

FLOOR_CHOICES = ("observed", "none")


def _pair(name, pair, what: str = "bounds") -> tuple[float | None, float | None]:
    """``(low, high)`` of a bound given as a pair or ``{"lower", "upper"}`` (None: no bound),
    checked: a number >= 0 below, a number >= 0 or +inf above."""
    low, high = pair if isinstance(pair, (tuple, list)) else (pair.get("lower"), pair.get("upper"))
    try:
        low, high = (None if v is None else float(v) for v in (low, high))
    except (TypeError, ValueError):
        raise ConfigError(f"{what} for {name} must be numbers, got {low}:{high}") from None
    if (low is not None and (not np.isfinite(low) or low < 0)) or (high is not None and (np.isnan(high) or high < 0)):
        raise ConfigError(f"{what} for {name} must be >= 0 (and finite below), got {low}:{high}")
    return low, high


def parse_bounds(items, what: str = "CHANNEL") -> dict[str, tuple[float | None, float | None]]:
    """``["tv=0:5e5", "search=1000:"]`` → ``{"tv": (0, 5e5), "search": (1000, None)}`` (``what``
    names the key in error messages: CHANNEL, REGION, WEEK)."""
    out = {}
    example = {"CHANNEL": "impressions_tv=0:50000", "REGION": "101=0:20000", "WEEK": "'*=:50000'"}.get(what, "")
    for item in items or ():
        name, sep, rng = str(item).partition("=")
        low, sep2, high = rng.partition(":")
        if not sep or not sep2 or not name.strip():
            raise ConfigError(f"bad bound {item!r}: write {what}=LOW:HIGH (either side may be empty), "
                              f"e.g. {example}")
        try:
            pair = (float(low) if low.strip() else None, float(high) if high.strip() else None)
        except ValueError:
            raise ConfigError(f"bad bound {item!r}: LOW and HIGH must be numbers") from None
        if any(v is not None and np.isnan(v) for v in pair):
            raise ConfigError(f"bad bound {item!r}: LOW and HIGH must be numbers, not nan")
        out[name.strip()] = pair
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
        low, high = _pair(name, pair)
        i = channels.index(name)
        if low is not None:
            lower[i] = low
        if high is not None:
            upper[i] = min(high, float(budget))
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


def observed_floors(result: FitResult, weeks: int, bounds: dict | None = None, fixed=(),
                    floor: str | None = None) -> np.ndarray:
    """``[C]``: each channel's smallest national weekly spend in the training weeks × ``weeks``
    (``floor="observed"``; ``None``: ``analysis.budget_floor``).  Below that the model never saw
    the channel, so a plan cutting it further rests on the prior's level, not on data (an
    always-on channel's loss from a deep cut is its least identified quantity).  0 for channels
    seen at zero spend in some week (flighted), channels the caller gives a lower bound
    (``bounds``) or fixes (``fixed``), and with ``floor="none"`` (an upper-only bound keeps the
    floor, capped at it).  The national sum counts the regions observed that week, so on a ragged
    panel a week with few regions lowers the floor (never raises it).  The optimisers apply
    ``min(this, the current plan)`` through :func:`apply_floors`."""
    floor = result.config.analysis.budget_floor if floor is None else floor
    if floor not in FLOOR_CHOICES:
        raise ConfigError(f"floor must be one of {', '.join(FLOOR_CHOICES)}, got {floor!r}")
    p = result.panel
    if floor == "none":
        return np.zeros(p.n_channels)
    seen = result.split.train_mask(p.mask)[:, :result.split.n_train].any(axis=0)  # weeks with a training cell
    weekly = training_spend(result).sum(axis=0)[seen]  # [W', C] national weekly spend
    low = weekly.min(axis=0) if weekly.size else np.zeros(p.n_channels)
    given = {c for c, pair in (bounds or {}).items() if _pair(c, pair)[0] is not None}
    exempt = np.array([c in given or c in fixed for c in p.channels])
    return np.where(exempt, 0.0, low * int(weeks))


def apply_floors(channels, floors: np.ndarray, budget: float, lower: np.ndarray,
                 upper: np.ndarray) -> tuple[np.ndarray, dict[str, float], str]:
    """``(lower', floors used, note)``: ``lower' = max(lower, min(k·floors, upper))`` per channel,
    ``k = 1`` unless that leaves the lower bounds above ``budget``, then the largest ``k`` that fits
    (the floors shrink in proportion; ``note`` says so).  A floor never overrides a channel's upper
    bound (a given bound, ``max_change``, a channel without spend).  ``floors used``: ``{channel:
    the floor applied}`` for channels whose floor is > 0."""
    floors, lower, upper = (np.asarray(a, np.float64) for a in (floors, lower, upper))
    low = lambda k: np.maximum(lower, np.minimum(k * floors, upper))  # noqa: E731
    k, note = 1.0, ""
    if low(1.0).sum() > budget * (1 + 1e-12):
        a, b = 0.0, 1.0  # low(0) = lower fits the budget (checked by the caller's bounds)
        for _ in range(60):
            a, b = ((a + b) / 2, b) if low((a + b) / 2).sum() <= budget else (a, (a + b) / 2)
        k = a
        note = (f"; the observed floors ({floors.sum():g} in all) exceed what the budget leaves, so they were "
                f"scaled to {k:.1%}: the plan cuts below the spend seen")
    used = {c: float(min(k * f, u)) for c, f, u in zip(channels, floors, upper) if min(k * f, u) > 1e-12 * budget}
    return low(k), used, note


def fixed_channels(fixed, channels, bounds) -> list[str]:
    """``fixed`` as a list of channel names in the panel's order; a :class:`ConfigError` names an
    unknown channel or one that is both fixed and bounded."""
    names = [fixed] if isinstance(fixed, str) else list(fixed or ())
    for name in names:
        if name not in channels:
            raise ConfigError(f"fixed names an unknown channel {name!r}; channels are: {', '.join(channels)}")
        if bounds and name in bounds:
            raise ConfigError(f"{name} is both fixed and bounded; fixing holds it at its current spend, "
                              "so drop one of the two")
    return [c for c in channels if c in names]


def cap_change(channels, budget, lower, upper, cur, max_change) -> dict:
    """Bounds ``{channel: (lower, upper)}`` intersected with ``(1 ± max_change)·cur``; a
    :class:`ConfigError` when a channel's range becomes empty."""
    if not np.isfinite(max_change) or max_change < 0:
        raise ConfigError(f"max_change must be a number >= 0, got {max_change}")
    lo = np.maximum(lower, cur * (1.0 - max_change))
    hi = np.minimum(upper, cur * (1.0 + max_change))
    bad = [f"{c} ({a:g} > {b:g})" for c, a, b in zip(channels, lo, hi) if a > b * (1 + 1e-12)]
    if bad:
        raise ConfigError(f"infeasible constraints: the bounds and max_change {max_change:g} leave no room for "
                          + ", ".join(bad) + "; loosen one of them")
    return {c: (float(a), float(b)) for c, a, b in zip(channels, lo, hi)}


def current_plan(hist: np.ndarray, budget: float, fixed_idx: list[int]) -> np.ndarray:
    """The current plan at ``budget`` from ``hist [..., C]`` (channel totals, or decision cells
    whose last axis is the channel): fixed channels as they are, the others' mix scaled to the
    rest of the budget (an equal split over their cells when they had none)."""
    cur = np.asarray(hist, np.float64).copy()
    free = np.ones(cur.shape[-1], bool)
    free[fixed_idx] = False
    rest = budget - cur[..., ~free].sum()
    if not free.any():
        return cur
    now = cur[..., free].sum()
    cur[..., free] = cur[..., free] * (rest / now) if now > 0 else rest / cur[..., free].size
    return cur


def cells_constraints(channels, r_n, budget, cur, bounds, fixed, max_change, never):
    """``(lower, upper [R', C], group_lower, group_upper [C])`` in budget units for the decision
    cells ``[R', C]`` (R' = 1 by channel)."""
    c_n = len(channels)
    lower, upper = np.zeros((r_n, c_n)), np.full((r_n, c_n), float(budget))
    g_lo, g_hi = np.zeros(c_n), np.full(c_n, float(budget))
    for name, pair in (bounds or {}).items():
        if name not in channels:
            raise ConfigError(f"bounds name an unknown channel {name!r}; channels are: {', '.join(channels)}")
        low, high = _pair(name, pair)
        i = channels.index(name)
        g_lo[i] = 0.0 if low is None else float(low)
        g_hi[i] = float(budget) if high is None else min(float(high), float(budget))
        if g_lo[i] > g_hi[i]:
            raise ConfigError(f"bounds for {name}: lower {g_lo[i]:g} > upper {g_hi[i]:g}")
    for i, ch in enumerate(channels):
        if ch in fixed:
            lower[:, i] = upper[:, i] = cur[:, i]
            g_lo[i] = g_hi[i] = cur[:, i].sum()
        if never[i]:
            if ch in (bounds or {}) and g_lo[i] > 0:
                raise ConfigError(f"{ch} had no spend in the training weeks (no cost per exposure), so it cannot get "
                                  "a lower bound above 0")
            upper[:, i] = 0.0
            g_hi[i] = 0.0
    if max_change is not None:
        if not np.isfinite(max_change) or max_change < 0:
            raise ConfigError(f"max_change must be a number >= 0, got {max_change}")
        lower = np.maximum(lower, cur * (1.0 - max_change))
        upper = np.minimum(upper, cur * (1.0 + max_change))
    col_lo = np.maximum(g_lo, lower.sum(0))
    col_hi = np.minimum(g_hi, upper.sum(0))
    bad = [f"{c} ({lo:g} > {hi:g})" for c, lo, hi in zip(channels, col_lo, col_hi) if lo > hi * (1 + 1e-12)]
    if bad:
        raise ConfigError("infeasible constraints: a channel's smallest allowed total exceeds its largest ("
                          + ", ".join(bad) + "); loosen its bounds or --max-change")
    if col_lo.sum() > budget * (1 + 1e-9):
        raise ConfigError(f"infeasible constraints: the channels' smallest allowed totals sum to {col_lo.sum():g} > "
                          f"budget {budget:g}. Lower the bounds, loosen --max-change or raise the budget.")
    if col_hi.sum() < budget * (1 - 1e-9):
        raise ConfigError(f"infeasible constraints: the channels' largest allowed totals sum to {col_hi.sum():g} < "
                          f"budget {budget:g}" + (f" (--max-change {max_change:g} allows at most "
                                                  f"{(1 + max_change) * cur.sum():g})" if max_change is not None
                                                  else "") + ". Raise them or lower the budget.")
    return lower, upper, g_lo, g_hi


def row_ranges(result: FitResult, by: str, given: dict, start: int, weeks: int, cap: float = np.inf):
    """``(labels, lower [R'], upper [R'])`` of row bounds ``given`` (``{region or week label or "*":
    (low, high)}``, a named row replacing ``"*"``; upper None or above ``cap``: ``cap``)."""
    what = "region" if by == "region" else "week"
    labels = ([str(r) for r in result.panel.regions.tolist()] if by == "region"
              else [week_label(t) for t in plan_times(result, start, weeks)])
    rl, ru = np.zeros(len(labels)), np.full(len(labels), float(cap))
    hint = (f"regions are e.g. {', '.join(labels[:5])}" if by == "region"
            else f"the plan's weeks are {labels[0]} .. {labels[-1]}")
    for idx, key, pair in keyed_rows(given, labels, what=f"{what} bounds", noun=what, hint=hint,
                                     norm=str if by == "region" else week_label, error=ConfigError):
        low, high = _pair(key, pair, f"{what} bounds")
        rl[idx] = 0.0 if low is None else low
        ru[idx] = float(cap) if high is None else min(high, float(cap))
    return labels, rl, ru


def row_bounds(result: FitResult, by, budget, lower, upper, g_lo, g_hi, region_bounds, week_bounds, start, weeks):
    """``(row_lower, row_upper)`` ``[R']`` in budget units from ``region_bounds`` (by region) or
    ``week_bounds`` (by week), keyed by region name / week label (``"*"``: every one), or
    ``(None, None)``.  Raises :class:`ConfigError` naming the row when no plan can meet them."""
    if region_bounds and by != "region":
        raise ConfigError("region bounds constrain each region's total over channels; they need a plan by region "
                          "(by='region', --by region)")
    if week_bounds and by != "week":
        raise ConfigError("week bounds constrain each week's total over channels; they need a plan by week "
                          "(by='week', --by week)")
    given = region_bounds or week_bounds
    if not given:
        return None, None
    what = "region" if by == "region" else "week"
    labels, rl, ru = row_ranges(result, by, given, start, weeks, float(budget))
    for i, name in enumerate(labels):
        if rl[i] > ru[i]:
            raise ConfigError(f"{what} bounds for {name}: lower {rl[i]:g} > upper {ru[i]:g}")
        if rl[i] > upper[i].sum() * (1 + 1e-12):
            raise ConfigError(f"infeasible constraints: {what} {name} must get at least {rl[i]:g}, but its channels' "
                              f"bounds (fixed channels, --max-change) allow at most {upper[i].sum():g}")
        if ru[i] < lower[i].sum() * (1 - 1e-12):
            raise ConfigError(f"infeasible constraints: {what} {name} may get at most {ru[i]:g}, but its channels' "
                              f"bounds (fixed channels, --max-change) need at least {lower[i].sum():g}")
    lo_rows, hi_rows = np.maximum(rl, lower.sum(1)), np.minimum(ru, upper.sum(1))
    if lo_rows.sum() > budget * (1 + 1e-9) or hi_rows.sum() < budget * (1 - 1e-9):
        raise ConfigError(f"infeasible constraints: the {what}s' allowed totals sum to {lo_rows.sum():g} .. "
                          f"{hi_rows.sum():g}, which excludes the budget {budget:g}; loosen the {what} bounds or "
                          "change the budget")
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, kron, vstack
    from scipy.sparse import eye as speye

    r_n, c_n = lower.shape
    cols = kron(np.ones((1, r_n)), speye(c_n))  # [C, R·C]: column sums of the row-major cells
    rows = kron(speye(r_n), np.ones((1, c_n)))  # [R, R·C]
    a_ub = vstack([cols, -cols, rows, -rows]).tocsr()
    b_ub = np.concatenate([g_hi, -g_lo, ru, -rl])
    lp = linprog(np.zeros(r_n * c_n), A_ub=a_ub, b_ub=b_ub, A_eq=csr_matrix(np.ones((1, r_n * c_n))),
                 b_eq=[float(budget)], bounds=np.stack([lower.ravel(), upper.ravel()], 1), method="highs")
    if lp.status == 2:
        raise ConfigError(f"infeasible constraints: no plan meets the {what} bounds, the channel bounds and the budget "
                          f"{budget:g} together (each holds alone); loosen some of them")
    return rl, ru
