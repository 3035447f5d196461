"""Plan evaluation (the model side of :mod:`causalmmm_jax.analysis.plans`): one continuous
sequence from the first fitted week, scenarios in one compiled program (see that module's
docstring)."""

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
from ..train.result import FitResult
from ._plan_data import (
    SpendPlan,
    _unit,
    exposure_per_spend,
    kpi_values,
    plan_times,
    week_label,
)
from .curves import require_level

__all__ = ["PlanEvaluation", "evaluate_plan"]

_Q = (0.05, 0.95)


@dataclass
class PlanEvaluation:
    """What :func:`evaluate_plan` returns (KPI units, or value units ``kpi_unit = "value"`` with
    ``kpi_value``; ensembles: member means, ``*_q05/_q95`` member quantiles).  ``totals``: spend, kpi
    (predicted KPI in the plan's weeks),
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


def _sequence(result: FitResult, plan: SpendPlan, tail_weeks: int, controls) -> _Sequence:
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


def _run(result: FitResult, seq: _Sequence, factors: np.ndarray, values: np.ndarray | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    """``([N, S, R, n] predictions, [n, C] contributions)``: every member and scenario (KPI units,
    × ``values [R]`` when given); the plan's national attributed media contributions on the
    counted cells (member mean)."""
    prep = result.prepared(seq.panel)
    scale = np.asarray(result.scaler.target_mean, np.float64) * (1.0 if values is None else values)
    tm = jnp.asarray(scale, jnp.float32)[:, None]
    preds, media = _scenario_run(result.params, prep.inputs, jnp.asarray(factors), tm,
                                 jnp.asarray(seq.counted, jnp.float32), result.spec, result.pad)
    return np.asarray(preds, np.float64), np.asarray(media, np.float64).mean(axis=0)


def _stat(a: np.ndarray, name: str) -> dict:
    out = {name: float(a.mean())}
    if a.size > 1:
        out[f"{name}_q05"], out[f"{name}_q95"] = (float(q) for q in np.quantile(a, _Q))
    return out


def evaluate_plan(result: FitResult, plan: SpendPlan, *, tail_weeks: int = 0, controls=None,
                  kpi_value=None) -> PlanEvaluation:
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
