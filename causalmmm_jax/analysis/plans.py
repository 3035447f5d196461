"""Spend plans as arrays: a plan ``[regions, weeks, channels]`` evaluated by the fitted model,
continuing the fitted sequence so that carry-over from earlier spend is counted.

A :class:`SpendPlan` holds spend (exposure when the run has no spend columns) per region, week
and channel over ``weeks`` consecutive weeks from ``start``, a position on the fitted weekly grid
(0 = the first fitted week).  ``start = panel.n_weeks`` (the default of :func:`spread_plan`) is
the week after the data: a plan for the future.  An earlier ``start`` replaces the media of
those historical weeks: a what-if on history.

:func:`evaluate_plan` runs the fitted model (``apply``; ensembles: every member) over one
continuous sequence from the first fitted week to the end of the plan plus ``tail_weeks``:

* media: the fitted panel's media (training and holdout weeks) before the plan; the plan in its
  weeks (spend → exposure at each region's and channel's cost per exposure over the training
  weeks, :func:`exposure_per_spend`); after the plan the panel's media where the data have
  weeks, zero beyond;
* controls in weeks beyond the data: each region's mean over its observed training weeks (the
  ``controls`` argument sets them); they enter every scenario alike, so incremental figures hardly
  depend on them, the KPI level does;
* KPI counted on observed cells in historical weeks and on every region in future weeks.

Scenarios, one compiled program (``vmap`` over ensemble members, ``lax.map`` over scenarios):
the plan; no spend in the plan's weeks (history kept: ``kpi_without_plan``); the plan with no
media before it (``carryover_in`` = KPI in the plan's weeks due to spend before them); the plan
with channel ``c`` off (its incremental KPI).  ``incremental`` counts the plan's weeks;
``carryover_after`` the ``tail_weeks`` after them (the effect the plan's spend still has there).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..data.panel import Panel
from ..errors import DataError
from ..model.mmm import apply
from .curves import require_level, stacked_params

__all__ = [
    "PlanEvaluation",
    "SpendPlan",
    "evaluate_plan",
    "exposure_per_spend",
    "kpi_values",
    "plan_from_frame",
    "plan_times",
    "plan_to_frame",
    "spread_plan",
    "week_label",
]

_Q = (0.05, 0.95)


@dataclass(frozen=True)
class SpendPlan:
    """``spend [R, W, C]`` (float64, ≥ 0; the fitted panel's region and channel order) from fitted
    grid week ``start`` on; ``unit``: ``"spend"`` or ``"exposure"`` (runs without spend columns)."""

    spend: np.ndarray
    start: int
    unit: str = "spend"

    @property
    def weeks(self) -> int:
        return int(self.spend.shape[1])

    @property
    def total(self) -> float:
        return float(self.spend.sum())


def _unit(result) -> str:
    return "spend" if result.panel.spend is not None else "exposure"


def plan_times(result, start: int, n: int) -> np.ndarray:
    """Labels of ``n`` weeks from grid position ``start`` (dates or integers, like the fitted data)."""
    t = result.panel.times
    if np.issubdtype(t.dtype, np.datetime64):
        step = (t[1] - t[0]) if len(t) > 1 else np.timedelta64(7, "D")
        return t[0] + step * (start + np.arange(n))
    return t[0] + start + np.arange(n)


def week_label(t) -> str:
    """A week as text: ``YYYY-MM-DD`` for dates, the integer otherwise."""
    if isinstance(t, (np.datetime64, pd.Timestamp)):
        return pd.Timestamp(t).strftime("%Y-%m-%d")
    return str(t)


def exposure_per_spend(result) -> np.ndarray:
    """``[R, C]`` exposure bought by one unit of spend: each region's and channel's total exposure
    over total spend in its observed training weeks, the channel's national ratio where the region
    had no spend, NaN for a channel never spent on.  Ones when the run has no spend columns (plans
    are then in exposure units)."""
    p = result.panel
    if p.spend is None:
        return np.ones((p.n_regions, p.n_channels))
    cells = result.split.train_mask(p.mask)[..., None]
    exp_rc = np.where(cells, p.media, 0.0).sum(axis=1)
    sp_rc = np.where(cells, p.spend, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        national = np.where(sp_rc.sum(0) > 0, exp_rc.sum(0) / sp_rc.sum(0), np.nan)
        return np.where(sp_rc > 0, exp_rc / np.where(sp_rc > 0, sp_rc, 1.0), national[None, :])


def kpi_values(result, kpi_value=None) -> np.ndarray | None:
    """``[R]`` value of one unit of KPI per region (e.g. revenue per visit), or None (KPI units).
    ``kpi_value``: a number for every region, or ``{region or "*": value}`` (a named region
    replaces ``"*"``; regions not named and no ``"*"``: an error).  Values must be finite, >= 0."""
    if kpi_value is None:
        return None
    regions = [str(r) for r in result.panel.regions.tolist()]
    if isinstance(kpi_value, dict):
        out = np.full(len(regions), np.nan)
        for key, v in sorted(kpi_value.items(), key=lambda kv: str(kv[0]) != "*"):
            key = str(key)
            if key != "*" and key not in regions:
                raise DataError(f"the KPI values name an unknown region {key!r}; regions are e.g. "
                                f"{', '.join(regions[:5])} ('*' = every region)")
            out[slice(None) if key == "*" else regions.index(key)] = float(v)
        missing = [r for r, v in zip(regions, out) if np.isnan(v)]
        if missing:
            raise DataError(f"no KPI value for region(s) {missing[:5]}; give one for every region or a default '*'")
    else:
        out = np.full(len(regions), float(kpi_value))
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        raise DataError("KPI values (value per unit of KPI, e.g. revenue per visit) must be finite numbers >= 0")
    return out


def spread_plan(result, allocation, weeks: int, *, start: int | None = None, pattern: str = "history") -> SpendPlan:
    """Channel totals over a horizon → a plan ``[R, weeks, C]``.

    ``allocation``: ``{channel: total}`` (missing channels 0) or ``[C]``.  ``pattern="history"``:
    each channel's spend spread over regions and weeks like its spend in the last ``weeks``
    training weeks (repeated when the horizon is longer than the training period): the flighting
    and regional mix the model route of :func:`~causalmmm_jax.analysis.budget.optimize_budget`
    scales; ``"flat"``: the same amount every week, regions in their training-period shares.  A
    channel without spend in the window (or the training period) falls back to ``flat`` (and to an
    equal regional split).  ``start``: default the week after the data."""
    p = result.panel
    channels = list(p.channels)
    if isinstance(allocation, dict):
        unknown = [c for c in allocation if c not in channels]
        if unknown:
            raise DataError(f"the allocation names unknown channel(s) {unknown}; channels are: {', '.join(channels)}")
        x = np.array([float(allocation.get(c, 0.0)) for c in channels])
    else:
        x = np.asarray(allocation, np.float64).reshape(-1)
        if x.size != len(channels):
            raise DataError(f"the allocation has {x.size} entries for {len(channels)} channels")
    if np.any(~np.isfinite(x)) or np.any(x < 0):
        raise DataError("plan totals must be finite and >= 0")
    if weeks < 1:
        raise DataError(f"a plan needs at least one week, got {weeks}")
    if pattern not in ("history", "flat"):
        raise DataError(f"pattern must be 'history' or 'flat', got {pattern!r}")
    shape = plan_shape(result, weeks, pattern)
    return SpendPlan(spend=shape * x, start=int(p.n_weeks if start is None else start), unit=_unit(result))


def window_spend(result, weeks: int) -> np.ndarray:
    """``[R, weeks, C]``: the spend (exposure without spend columns) of the last ``weeks`` training
    weeks on observed cells, the window repeated when ``weeks`` exceeds the training period."""
    p = result.panel
    n = result.split.n_train
    cells = result.split.train_mask(p.mask)[..., None]
    hist = np.where(cells, p.spend if p.spend is not None else p.media, 0.0)[:, :n]  # [R, n, C]
    n_win = min(weeks, n)
    win = hist[:, n - n_win:, :]
    return np.tile(win, (1, -(-weeks // n_win), 1))[:, -weeks:, :] if weeks > n_win else win


def plan_shape(result, weeks: int, pattern: str = "history", by: str = "channel") -> np.ndarray:
    """``[R, weeks, C]`` weights that spread totals over a plan (see :func:`spread_plan`):
    ``by="channel"``: each channel's weights sum to 1 over regions and weeks; ``by="region"``:
    each region's and channel's weights sum to 1 over weeks; ``by="week"``: each week's and
    channel's weights sum to 1 over regions (the week's regional mix in the window, the training
    period's where the window week has none)."""
    p = result.panel
    n = result.split.n_train
    cells = result.split.train_mask(p.mask)[..., None]
    hist = np.where(cells, p.spend if p.spend is not None else p.media, 0.0)[:, :n]
    region_share = hist.sum(axis=1)  # [R, C]
    tot = region_share.sum(axis=0)
    region_share = np.where(tot > 0, region_share / np.where(tot > 0, tot, 1.0), 1.0 / p.n_regions)
    flat = region_share[:, None, :] * np.ones((1, weeks, 1)) / weeks  # [R, W, C], sums to 1 per channel
    shape = flat
    if pattern == "history":
        win = window_spend(result, weeks)
        s = win.sum(axis=(0, 1))
        shape = np.where(s > 0, win / np.where(s > 0, s, 1.0), flat)
    if by == "region":
        s = shape.sum(axis=1, keepdims=True)
        shape = np.where(s > 0, shape / np.where(s > 0, s, 1.0), 1.0 / weeks)
    elif by == "week":
        s = shape.sum(axis=0, keepdims=True)
        shape = np.where(s > 0, shape / np.where(s > 0, s, 1.0), region_share[:, None, :])
    return shape


def plan_from_frame(result, df: pd.DataFrame) -> SpendPlan:
    """A plan from a long frame with columns ``region, week, channel, spend`` (``week`` in the
    fitted data's time format; ``exposure`` instead of ``spend`` for runs without spend columns).
    The weeks must be consecutive on the fitted grid; (region, week, channel) cells without a row
    get no spend.  Raises :class:`DataError` naming the offending column and rows."""
    from ..predict import week_offsets

    value = _unit(result)
    need = ["region", "week", "channel", value]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DataError(f"the plan lacks column(s) {missing}; a plan has one row per region, week and channel "
                        f"with columns {', '.join(need)}" + (" (this run has no spend columns, so plans are in "
                                                             "exposure units)" if value == "exposure" else ""))
    if df.empty:
        raise DataError("the plan has no rows")
    p = result.panel
    regions = {str(r): i for i, r in enumerate(p.regions.tolist())}
    channels = {c: i for i, c in enumerate(p.channels)}
    spend_cols = {s: i for i, s in enumerate(p.spend_columns or ())}
    reg = df["region"].astype(str)
    bad = sorted(set(reg) - set(regions))
    if bad:
        raise DataError(f"column 'region': {bad[:10]} not in the fitted data (rows {list(df.index[reg.isin(bad)][:5])})")
    ch = df["channel"].astype(str).map(lambda c: c if c in channels else
                                       (p.channels[spend_cols[c]] if c in spend_cols else c))
    bad = sorted(set(ch) - set(channels))
    if bad:
        raise DataError(f"column 'channel': {bad[:10]} are not media (or spend) columns of the fit; channels are: "
                        f"{', '.join(p.channels)}")
    vals = pd.to_numeric(df[value], errors="coerce")
    bad_rows = list(df.index[~np.isfinite(vals.to_numpy(np.float64)) | (vals.to_numpy(np.float64) < 0)][:5])
    if bad_rows:
        raise DataError(f"column '{value}': rows {bad_rows} are not numbers >= 0")
    times = df["week"].to_numpy()
    if np.issubdtype(p.times.dtype, np.datetime64):
        try:
            times = pd.to_datetime(df["week"]).to_numpy()
        except (ValueError, TypeError):
            raise DataError("column 'week': not dates like the fitted data's time column") from None
    pos = week_offsets(p.times, times)
    start, stop = int(pos.min()), int(pos.max()) + 1
    present = np.zeros(stop - start, bool)
    present[pos - start] = True
    if not present.all():
        gap = plan_times(result, start + int(np.argmin(present)), 1)[0]
        raise DataError(f"column 'week': the plan's weeks are not consecutive (no row for {gap}); give every week "
                        "from the first to the last (spend 0 where nothing is spent)")
    key = pd.DataFrame({"r": reg.map(regions).to_numpy(), "t": pos - start, "c": ch.map(channels).to_numpy()})
    dup = key.duplicated(keep=False)
    if dup.any():
        raise DataError(f"the plan has more than one row for the same region, week and channel (rows "
                        f"{list(df.index[dup.to_numpy()][:5])}); give one row each")
    spend = np.zeros((p.n_regions, stop - start, p.n_channels))
    spend[key["r"], key["t"], key["c"]] = vals.to_numpy(np.float64)
    return SpendPlan(spend=spend, start=start, unit=value)


def plan_to_frame(result, plan: SpendPlan, *, drop_zero: bool = False) -> pd.DataFrame:
    """The plan as a long frame ``region, week, channel, spend`` (``exposure`` without spend
    columns), regions and channels in the fitted order."""
    p = result.panel
    r, t, c = np.meshgrid(np.arange(p.n_regions), np.arange(plan.weeks), np.arange(p.n_channels), indexing="ij")
    df = pd.DataFrame({"region": p.regions[r.ravel()], "week": plan_times(result, plan.start, plan.weeks)[t.ravel()],
                       "channel": np.asarray(p.channels, dtype=object)[c.ravel()], plan.unit: plan.spend.ravel()})
    return df[df[plan.unit] > 0].reset_index(drop=True) if drop_zero else df


def spend_beyond_peak(result, planned: np.ndarray, unseen: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """``(pct [C], max_ratio [C])`` of planned spend ``[R, W, C]``: the % of each channel's planned
    spend above the region's largest weekly spend in the training weeks, and the largest
    planned/observed weekly ratio (``unseen`` where a region spends on a channel it never spent on)."""
    p = result.panel
    n = result.split.n_train
    cells = result.split.train_mask(p.mask)[..., None]
    peak = np.where(cells, p.spend if p.spend is not None else p.media, 0.0)[:, :n].max(axis=1)  # [R, C]
    planned = np.asarray(planned, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        over = np.maximum(planned - peak[:, None, :], 0.0).sum(axis=(0, 1))
        tot = planned.sum(axis=(0, 1))
        pct = np.where(tot > 0, 100.0 * over / tot, 0.0)
        ratio = np.where(peak[:, None, :] > 0, planned / peak[:, None, :],
                         np.where(planned > 0, unseen, 0.0)).max(axis=(0, 1))
    return pct, ratio


def plan_beyond_observed(result, plan: SpendPlan) -> tuple[np.ndarray, np.ndarray]:
    """:func:`spend_beyond_peak` of a plan (as
    :func:`~causalmmm_jax.analysis.budget.beyond_observed` for an allocation)."""
    return spend_beyond_peak(result, plan.spend)


# --------------------------------------------------------------------------- evaluation


@dataclass
class PlanEvaluation:
    """What :func:`evaluate_plan` returns (KPI units, or value units ``kpi_unit = "value"`` with
    ``kpi_value``; ensembles: member means, ``*_q05/_q95`` member quantiles).  ``totals``: spend, kpi (predicted KPI in the plan's weeks),
    kpi_without_plan, incremental, carryover_in, carryover_after, roi = (incremental +
    carryover_after) / spend.  ``by_channel``: spend, incremental (plan's weeks and tail, vs
    the plan without that channel), roi.  ``by_region``: spend, kpi, incremental.  ``weekly``:
    one row per week of the plan and tail: spend, kpi, kpi_without_plan, incremental and each
    channel's attributed contribution (``contribution_<channel>``)."""

    plan: SpendPlan
    tail_weeks: int
    totals: dict
    by_channel: pd.DataFrame = field(repr=False)
    by_region: pd.DataFrame = field(repr=False)
    weekly: pd.DataFrame = field(repr=False)
    notes: list[str] = field(default_factory=list)
    kpi_unit: str = "KPI"

    def to_dict(self) -> dict:
        return {"start_week": week_label(self.weekly["week"].iloc[0]),
                "end_week": week_label(self.weekly["week"].iloc[self.plan.weeks - 1]), "weeks": self.plan.weeks,
                "tail_weeks": self.tail_weeks, "unit": self.plan.unit, "kpi_unit": self.kpi_unit,
                "totals": self.totals,
                "by_channel": self.by_channel.to_dict(orient="records"),
                "by_region": self.by_region.to_dict(orient="records"), "notes": self.notes}


@dataclass(frozen=True)
class _Sequence:
    """The continuous sequence a plan is evaluated on (raw units; grid weeks ``[0, n)``)."""

    panel: Panel
    counted: np.ndarray  # [R, n] bool: cells whose KPI is counted
    horizon: np.ndarray  # [n] bool: the plan's weeks
    tail: np.ndarray  # [n] bool


def _sequence(result, plan: SpendPlan, tail_weeks: int, controls) -> _Sequence:
    p = result.panel
    r_n = p.n_regions
    stop = plan.start + plan.weeks
    n = max(p.n_weeks, stop + tail_weeks)

    def grow(a):
        out = np.zeros((a.shape[0], n) + a.shape[2:], dtype=a.dtype)
        out[:, : a.shape[1]] = a
        return out

    media, ctrl, target, mask = grow(p.media), grow(p.controls), grow(p.target), grow(p.mask)
    future = np.arange(n) >= p.n_weeks
    mask[:, future] = True
    if controls is None:
        cells = result.split.train_mask(p.mask)
        cnt = cells.sum(axis=1)[:, None]
        mean = np.where(cells[..., None], p.controls, 0.0).sum(axis=1) / np.maximum(cnt, 1)
        ctrl[:, future] = mean[:, None, :]
    else:
        c = np.asarray(controls, np.float64)
        want = (r_n, int(future.sum()), p.n_controls)
        if c.shape != want:
            raise DataError(f"controls for the weeks beyond the data must have shape {want} (regions, weeks "
                            f"{p.n_weeks}..{n - 1} on the fitted grid, control columns {list(p.control_names)}), "
                            f"got {c.shape}")
        if not np.all(np.isfinite(c)):
            raise DataError("controls for the weeks beyond the data must be finite numbers")
        ctrl[:, future] = c
    eps = exposure_per_spend(result)
    used = plan.spend.sum(axis=(0, 1)) > 0
    never = [ch for ch, u, e in zip(p.channels, used, np.isnan(eps).all(axis=0)) if u and e]
    if never:
        raise DataError(f"the plan spends on {never}, which had no spend in the training weeks: the model has no cost "
                        "per exposure for them. Give them no spend in the plan.")
    hist_weeks = slice(plan.start, min(stop, p.n_weeks))
    unobserved = (plan.spend[:, : max(0, hist_weeks.stop - plan.start)].sum(axis=2) > 0) & ~p.mask[:, hist_weeks]
    if unobserved.any():
        r, t = np.argwhere(unobserved)[0]
        raise DataError(f"the plan spends in region {p.regions[r]} in week {p.times[plan.start + t]}, which the "
                        "fitted data does not observe; a what-if on history can only change observed weeks")
    media[:, plan.start:stop] = plan.spend * np.nan_to_num(eps)[:, None, :]
    counted = mask.copy()
    horizon = np.zeros(n, bool)
    horizon[plan.start:stop] = True
    tail = np.zeros(n, bool)
    tail[stop:stop + tail_weeks] = True
    times = plan_times(result, 0, n)
    panel = Panel(media=media, controls=ctrl, target=target, mask=mask, regions=p.regions, times=times,
                  channels=p.channels, control_names=p.control_names, target_name=p.target_name)
    return _Sequence(panel=panel, counted=counted, horizon=horizon, tail=tail)


def _scenario_factors(seq: _Sequence, pad: int, c_n: int) -> np.ndarray:
    """``[S, pad + n, C]`` media multipliers: the plan, no plan, no media before the plan, and the
    plan without each channel."""
    n = seq.horizon.size
    h = np.concatenate([np.zeros(pad, bool), seq.horizon])
    before = np.concatenate([np.ones(pad, bool), np.arange(n) < int(np.argmax(seq.horizon))])
    f = np.ones((3 + c_n, pad + n, c_n), np.float32)
    f[1, h] = 0.0
    f[2, before] = 0.0
    for c in range(c_n):
        f[3 + c, h, c] = 0.0
    return f


@functools.partial(jax.jit, static_argnums=(5, 6))
def _scenario_run(members, inputs, factors, tm, counted, spec, pad: int):
    """``([N, S, R, n] predictions, [N, n, C] national media contributions of scenario 0)`` in
    KPI units.  Module level, so repeated evaluations on a run compile once."""
    def member(params):
        def scenario(fs):
            pred = apply(params, inputs.replace(media=inputs.media * fs[None]), spec).prediction
            return pred[:, pad:] * tm
        media = apply(params, inputs, spec).media[:, pad:] * tm[..., None]  # [R, n, C]
        return jax.lax.map(scenario, factors), (media * counted[..., None]).sum(axis=0)
    return jax.vmap(member)(members)


def _run(result, seq: _Sequence, factors: np.ndarray, values: np.ndarray | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    """``([N, S, R, n] predictions, [n, C] contributions)``: every member and scenario (KPI units,
    × ``values [R]`` when given); the plan's national attributed media contributions on the
    counted cells (member mean)."""
    prep = result.prepared(seq.panel)
    scale = np.asarray(result.scaler.target_mean, np.float64) * (1.0 if values is None else values)
    tm = jnp.asarray(scale, jnp.float32)[:, None]
    preds, media = _scenario_run(stacked_params(result), prep.inputs, jnp.asarray(factors), tm,
                                 jnp.asarray(seq.counted, jnp.float32), result.spec, result.pad)
    return np.asarray(preds, np.float64), np.asarray(media, np.float64).mean(axis=0)


def _stat(a: np.ndarray, name: str) -> dict:
    out = {name: float(a.mean())}
    if a.size > 1:
        out[f"{name}_q05"], out[f"{name}_q95"] = (float(q) for q in np.quantile(a, _Q))
    return out


def evaluate_plan(result, plan: SpendPlan, *, tail_weeks: int = 0, controls=None, kpi_value=None) -> PlanEvaluation:
    """Evaluate ``plan`` with the fitted model continuing the fitted sequence (see the module
    docstring).  ``tail_weeks``: weeks after the plan (no new spend) over which the plan's
    carry-over is counted; ``controls``: raw control values ``[R, n_future, K]`` for the weeks
    beyond the data (default: each region's training mean); ``kpi_value``: the value of one unit
    of KPI (:func:`kpi_values`: a number or per region), so that every figure (kpi,
    incremental, roi, ...) is in value units, e.g. revenue (``kpi_unit = "value"``)."""
    require_level(result, "plan evaluation")
    p = result.panel
    spend = np.asarray(plan.spend, np.float64)
    if spend.ndim != 3 or spend.shape[0] != p.n_regions or spend.shape[2] != p.n_channels or spend.shape[1] < 1:
        raise DataError(f"a plan's spend must have shape [regions={p.n_regions}, weeks >= 1, channels={p.n_channels}], "
                        f"got {spend.shape}")
    if np.any(~np.isfinite(spend)) or np.any(spend < 0):
        raise DataError("a plan's spend must be finite and >= 0")
    if plan.start < 0:
        raise DataError(f"a plan cannot start before the first fitted week (start {plan.start})")
    if plan.unit != _unit(result):
        raise DataError(f"the plan is in {plan.unit} units but this run's plans are in {_unit(result)} units")
    if tail_weeks < 0:
        raise DataError(f"tail_weeks must be >= 0, got {tail_weeks}")
    values = kpi_values(result, kpi_value)
    seq = _sequence(result, plan, int(tail_weeks), controls)
    preds, contrib = _run(result, seq, _scenario_factors(seq, result.pad, p.n_channels), values)  # [N,S,R,n], [n,C]
    cw = seq.counted.astype(np.float64)
    h, tl = seq.horizon.astype(np.float64), seq.tail.astype(np.float64)
    in_h = (preds * cw * h).sum(axis=(2, 3))  # [N, S]
    in_t = (preds * cw * tl).sum(axis=(2, 3))
    total_spend = spend.sum()
    incr = in_h[:, 0] - in_h[:, 1]
    after = in_t[:, 0] - in_t[:, 1]
    totals = {"spend": float(total_spend), **_stat(in_h[:, 0], "kpi"), **_stat(in_h[:, 1], "kpi_without_plan"),
              **_stat(incr, "incremental"), **_stat(in_h[:, 0] - in_h[:, 2], "carryover_in"),
              **_stat(after, "carryover_after")}
    totals.update(_stat((incr + after) / total_spend, "roi") if total_spend > 0 else {"roi": None})
    both = in_h + in_t
    ch_spend = spend.sum(axis=(0, 1))
    by_channel = pd.DataFrame({"channel": list(p.channels), "spend": ch_spend})
    ch_incr = both[:, :1] - both[:, 3:]  # [N, C]
    by_channel["incremental"] = ch_incr.mean(axis=0)
    if ch_incr.shape[0] > 1:
        by_channel["incremental_q05"], by_channel["incremental_q95"] = np.quantile(ch_incr, _Q, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_channel["roi"] = np.where(ch_spend > 0, by_channel["incremental"] / ch_spend, np.nan)
        by_channel["spend_pct"] = 100.0 * ch_spend / total_spend if total_spend > 0 else np.nan
    reg = (preds[:, :2] * cw * h).sum(axis=3).mean(axis=0)  # [S=2, R]
    by_region = pd.DataFrame({"region": p.regions, "spend": spend.sum(axis=(1, 2)), "kpi": reg[0],
                              "incremental": reg[0] - reg[1]})
    keep = seq.horizon | seq.tail
    wk = (preds[:, :2] * cw).sum(axis=2).mean(axis=0)[:, keep]  # [2, weeks]
    n_keep = int(keep.sum())
    weekly = pd.DataFrame({"week": plan_times(result, plan.start, n_keep),
                           "in_plan": np.arange(n_keep) < plan.weeks,
                           "spend": np.pad(spend.sum(axis=(0, 2)), (0, n_keep - plan.weeks)),
                           "kpi": wk[0], "kpi_without_plan": wk[1], "incremental": wk[0] - wk[1]})
    comps = contrib[keep]  # [weeks, C]
    for ci, ch in enumerate(p.channels):
        weekly[f"contribution_{ch}"] = comps[:, ci]
    notes = []
    if plan.start + plan.weeks + tail_weeks > p.n_weeks:
        notes.append("controls in the weeks beyond the data: " + ("as given" if controls is not None else
                     "each region's mean over its training weeks"))
    if plan.start < p.n_weeks:
        notes.append(f"what-if on history: the plan replaces the media of {min(plan.weeks, p.n_weeks - plan.start)} "
                     "fitted weeks")
    if p.spend is not None:
        notes.append("spend converted to exposure at each region's and channel's cost per exposure over the "
                     "training weeks")
    if values is not None:
        notes.append("figures in value units: KPI × each region's value per unit of KPI")
    return PlanEvaluation(plan=plan, tail_weeks=int(tail_weeks), totals=totals, by_channel=by_channel,
                          by_region=by_region, weekly=weekly, notes=notes,
                          kpi_unit="KPI" if values is None else "value")
