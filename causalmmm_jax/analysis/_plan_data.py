"""Spend plans as arrays (the data side of :mod:`causalmmm_jax.analysis.plans`): the
:class:`SpendPlan`, its weeks, spreading totals over regions and weeks, CSV in and out, spend
beyond the observed range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from ..train.result import FitResult

__all__ = ["SpendPlan", "exposure_per_spend", "keyed_rows", "kpi_values", "plan_beyond_observed", "plan_from_frame",
           "plan_shape",
           "plan_times", "plan_to_frame", "spend_below_floor", "spend_beyond_peak", "spread_plan", "training_spend",
           "week_label", "window_spend"]


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


def _unit(result: FitResult) -> str:
    return "spend" if result.panel.spend is not None else "exposure"


def plan_times(result: FitResult, start: int, n: int) -> np.ndarray:
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


def exposure_per_spend(result: FitResult) -> np.ndarray:
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


def keyed_rows(given: dict, labels: list[str], *, what: str, noun: str, hint: str, norm=str, error=DataError):
    """``[(index, value)]`` of ``{label or "*": value}`` over rows named ``labels``: ``"*"`` first
    (every row, index ``slice(None)``), then named rows, which replace it; keys that are not
    strings pass through ``norm``.  An unknown label raises ``error`` naming it."""
    items = [(k if isinstance(k, str) else norm(k), v) for k, v in given.items()]
    out = []
    for key, v in sorted(items, key=lambda kv: kv[0] != "*"):
        if key != "*" and key not in labels:
            raise error(f"{what} name an unknown {noun} {key!r}; {hint} ('*' = every {noun})")
        out.append((slice(None) if key == "*" else labels.index(key), key, v))
    return out


def kpi_values(result: FitResult, kpi_value=None) -> np.ndarray | None:
    """``[R]`` value of one unit of KPI per region (e.g. revenue per visit), or None (KPI units).
    ``kpi_value``: a number for every region, or ``{region or "*": value}`` (a named region
    replaces ``"*"``; regions not named and no ``"*"``: an error).  Values must be finite, >= 0."""
    if kpi_value is None:
        return None
    regions = [str(r) for r in result.panel.regions.tolist()]
    if isinstance(kpi_value, dict):
        out = np.full(len(regions), np.nan)
        for idx, _, v in keyed_rows(kpi_value, regions, what="the KPI values", noun="region",
                                    hint=f"regions are e.g. {', '.join(regions[:5])}"):
            out[idx] = float(v)
        missing = [r for r, v in zip(regions, out) if np.isnan(v)]
        if missing:
            raise DataError(f"no KPI value for region(s) {missing[:5]}; give one for every region or a default '*'")
    else:
        out = np.full(len(regions), float(kpi_value))
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        raise DataError("KPI values (value per unit of KPI, e.g. revenue per visit) must be finite numbers >= 0")
    return out


def spread_plan(result: FitResult, allocation, weeks: int, *, start: int | None = None,
                pattern: str = "history") -> SpendPlan:
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


def training_spend(result: FitResult, fill: float = 0.0) -> np.ndarray:
    """``[R, n_train, C]``: the spend (exposure without spend columns) of the training weeks,
    ``fill`` on cells outside the training cells (missing, validation)."""
    p = result.panel
    cells = result.split.train_mask(p.mask)[..., None]
    return np.where(cells, p.spend if p.spend is not None else p.media, fill)[:, :result.split.n_train]


def window_spend(result: FitResult, weeks: int) -> np.ndarray:
    """``[R, weeks, C]``: the spend (exposure without spend columns) of the last ``weeks`` training
    weeks on observed cells, the window repeated when ``weeks`` exceeds the training period."""
    n = result.split.n_train
    hist = training_spend(result)  # [R, n, C]
    n_win = min(weeks, n)
    win = hist[:, n - n_win:, :]
    return np.tile(win, (1, -(-weeks // n_win), 1))[:, -weeks:, :] if weeks > n_win else win


def plan_shape(result: FitResult, weeks: int, pattern: str = "history", by: str = "channel") -> np.ndarray:
    """``[R, weeks, C]`` weights that spread totals over a plan (see :func:`spread_plan`):
    ``by="channel"``: each channel's weights sum to 1 over regions and weeks; ``by="region"``:
    each region's and channel's weights sum to 1 over weeks; ``by="week"``: each week's and
    channel's weights sum to 1 over regions (the week's regional mix in the window, the training
    period's where the window week has none)."""
    p = result.panel
    region_share = training_spend(result).sum(axis=1)  # [R, C]
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


def plan_from_frame(result: FitResult, df: pd.DataFrame) -> SpendPlan:
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
        rows = list(df.index[reg.isin(bad)][:5])
        raise DataError(f"column 'region': {bad[:10]} not in the fitted data (rows {rows})")
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


def plan_to_frame(result: FitResult, plan: SpendPlan, *, drop_zero: bool = False) -> pd.DataFrame:
    """The plan as a long frame ``region, week, channel, spend`` (``exposure`` without spend
    columns), regions and channels in the fitted order."""
    p = result.panel
    r, t, c = np.meshgrid(np.arange(p.n_regions), np.arange(plan.weeks), np.arange(p.n_channels), indexing="ij")
    df = pd.DataFrame({"region": p.regions[r.ravel()], "week": plan_times(result, plan.start, plan.weeks)[t.ravel()],
                       "channel": np.asarray(p.channels, dtype=object)[c.ravel()], plan.unit: plan.spend.ravel()})
    return df[df[plan.unit] > 0].reset_index(drop=True) if drop_zero else df


def spend_beyond_peak(result: FitResult, planned: np.ndarray, unseen: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """``(pct [C], max_ratio [C])`` of planned spend ``[R, W, C]``: the % of each channel's planned
    spend above the region's largest weekly spend in the training weeks, and the largest
    planned/observed weekly ratio (``unseen`` where a region spends on a channel it never spent on)."""
    peak = training_spend(result).max(axis=1)  # [R, C]
    planned = np.asarray(planned, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        over = np.maximum(planned - peak[:, None, :], 0.0).sum(axis=(0, 1))
        tot = planned.sum(axis=(0, 1))
        pct = np.where(tot > 0, 100.0 * over / tot, 0.0)
        ratio = np.where(peak[:, None, :] > 0, planned / peak[:, None, :],
                         np.where(planned > 0, unseen, 0.0)).max(axis=(0, 1))
    return pct, ratio


def spend_below_floor(result: FitResult, planned: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(pct [C], min_ratio [C])`` of planned spend ``[R, W, C]`` against the ``current`` spend
    of the same cells: the spend the plan cuts below each region's smallest weekly spend in the
    training weeks, in % of the channel's current spend, and the smallest planned/observed-minimum
    ratio (1 where the channel's smallest observed week is 0: a channel seen at zero spend has no
    floor).  Below that floor the curve was never measured: a cut there rests on the prior."""
    floor = training_spend(result, np.inf).min(axis=1)  # [R, C]
    floor = np.where(np.isfinite(floor), floor, 0.0)
    planned = np.asarray(planned, np.float64)
    cur = np.asarray(current, np.float64).sum(axis=(0, 1))
    under = np.maximum(floor[:, None, :] - planned, 0.0).sum(axis=(0, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(cur > 0, 100.0 * under / np.where(cur > 0, cur, 1.0), 0.0)
        ratio = np.where(floor[:, None, :] > 0, planned / np.where(floor > 0, floor, 1.0)[:, None, :], np.inf)
    low = ratio.min(axis=(0, 1))
    return pct, np.where(np.isfinite(low), np.minimum(low, 1.0), 1.0)


def plan_beyond_observed(result: FitResult, plan: SpendPlan) -> tuple[np.ndarray, np.ndarray]:
    """:func:`spend_beyond_peak` of a plan (as
    :func:`~causalmmm_jax.analysis.budget.beyond_observed` for an allocation)."""
    return spend_beyond_peak(result, plan.spend)
