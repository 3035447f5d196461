"""What every budget route returns (:class:`BudgetResult`) and the horizon's historical spend
(:func:`horizon_spend`): shared by the curves/model routes (:mod:`.budget`) and the plan route
(:mod:`.planning`), so neither imports the other's module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..train.result import FitResult
from .curves import channel_totals, require_level

__all__ = ["BudgetResult", "horizon_spend"]


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

    ``below_observed_pct``: the other side: the spend the plan cuts below each region's smallest
    weekly spend in the training weeks (a channel never seen at zero), in % of the current spend
    (per channel in ``by_channel``, with ``min_vs_observed``, the smallest planned weekly spend over
    that region's smallest observed one; 1 when the plan stays at or above it).  Below that level
    the curve was never measured, so cutting a channel there rests on the prior, not the data.

    ``floors``: ``{channel: lower bound}`` the plan kept to because the model never saw the channel
    below it (``floor="observed"``: its smallest national weekly spend in training × weeks, or its
    current plan where that is smaller, capped at the channel's upper bound and shrunk in
    proportion when the given lower bounds leave no room (the message says so); empty with
    ``floor="none"`` or when every channel was seen at zero, given a lower bound or fixed);
    :meth:`floors_binding` lists those the plan sits on.

    ``on``: the route taken (``"model"`` or ``"curves"``); ``route_note``: why ``on="auto"`` fell
    back to the curves (empty otherwise).  ``fixed``: the channels held at their historical spend
    (``current_allocation`` keeps them there and scales the others' mix to the rest of the budget).
    ``target``: set by :func:`~causalmmm_jax.analysis.targets.optimize_target` (the target, what
    the plan achieves, the search).  The plan route (``on="plan"``,
    :func:`~causalmmm_jax.analysis.planning.optimize_plan`) adds ``by`` (``"channel"``,
    ``"region"`` or ``"week"``), ``by_region`` (region, channel, spend, current_spend when by
    region), ``by_week`` (week, channel, spend, current_spend when by week), ``plan``
    (the :class:`~causalmmm_jax.analysis.plans.SpendPlan`) and ``evaluation`` (its
    :class:`~causalmmm_jax.analysis.plans.PlanEvaluation`)."""

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
    below_observed_pct: float | None = None
    route_note: str = ""
    fixed: list[str] = field(default_factory=list)
    floors: dict[str, float] = field(default_factory=dict)
    target: dict | None = None
    by: str = "channel"
    by_region: pd.DataFrame | None = field(default=None, repr=False)
    by_week: pd.DataFrame | None = field(default=None, repr=False)
    response_unit: str = "KPI"
    plan: Any = field(default=None, repr=False)        # a SpendPlan (analysis.plans)
    evaluation: Any = field(default=None, repr=False)  # its PlanEvaluation

    def to_dict(self) -> dict:
        """JSON-serialisable summary (without ``by_channel``; ``beyond_observed`` per channel)."""
        d = {k: getattr(self, k) for k in (
            "success", "method", "on", "budget", "weeks", "unit", "allocation", "predicted_response",
            "current_allocation", "current_response", "historical_allocation", "historical_response",
            "uplift", "uplift_pct", "beyond_observed_pct", "below_observed_pct", "route_note", "fixed", "floors",
            "target", "by", "response_unit", "message")}
        d["floors_binding"] = self.floors_binding()
        if self.by_region is not None:
            d["allocation_by_region"] = [{"region": r.region if isinstance(r.region, (int, str)) else str(r.region),
                                          "channel": r.channel, "spend": float(r.spend),
                                          "current_spend": float(r.current_spend)}
                                         for r in self.by_region.itertuples(index=False)]
        if self.by_week is not None:
            from .plans import week_label

            d["allocation_by_week"] = [{"week": week_label(r.week), "channel": r.channel, "spend": float(r.spend),
                                        "current_spend": float(r.current_spend)}
                                       for r in self.by_week.itertuples(index=False)]
        if self.evaluation is not None:
            d["plan_evaluation"] = {k: v for k, v in self.evaluation.to_dict().items() if k != "by_region"}
        if "beyond_observed_pct" in self.by_channel:
            d["beyond_observed"] = {r.channel: {"pct_of_planned_spend": float(r.beyond_observed_pct),
                                                "max_vs_observed": float(r.max_vs_observed)}
                                    for r in self.by_channel.itertuples(index=False)}
        if "below_observed_pct" in self.by_channel:
            d["below_observed"] = {r.channel: {"pct_of_current_spend": float(r.below_observed_pct),
                                               "min_vs_observed": float(r.min_vs_observed)}
                                   for r in self.by_channel.itertuples(index=False)}
        return d

    def add_floors(self, floors: dict[str, float], note: str = "") -> None:
        """Record the observed floors the plan was held to (:func:`~._bounds.observed_floors`) and
        which of them bind, in the message."""
        self.floors = {c: float(v) for c, v in floors.items()}
        if self.floors:
            at = self.floors_binding()
            self.message += (f"; floors on {len(self.floors)} channel(s) at the smallest weekly {self.unit} seen in "
                             f"training × {self.weeks} weeks, or the current plan where smaller"
                             + (f", binding for {', '.join(at)}" if at else ""))
        self.message += note

    def floors_binding(self) -> list[str]:
        """The channels whose floor (``floors``) the plan sits on."""
        return [c for c, v in self.floors.items() if self.allocation.get(c, np.inf) <= v * (1 + 1e-6)]

    def add_observed_range(self, channels, planned: np.ndarray, current: np.ndarray, above, below) -> None:
        """Record how much of the plan lies outside the spend seen in training: ``above`` = the
        ``(pct [C], max ratio [C])`` of planned spend above each region's largest weekly spend
        (:func:`~._plan_data.spend_beyond_peak`), ``below`` = the ``(pct [C], min ratio [C])`` of
        current spend cut below its smallest (:func:`~._plan_data.spend_below_floor`), per channel
        (``channels`` in the panel's order) and in total (weighted by ``planned`` / ``current``
        channel totals), and say so in the message."""
        idx = self.by_channel["channel"].map({c: i for i, c in enumerate(channels)}).to_numpy()
        (up, up_ratio), (down, down_ratio) = above, below
        self.by_channel["beyond_observed_pct"], self.by_channel["max_vs_observed"] = up[idx], up_ratio[idx]
        self.by_channel["below_observed_pct"], self.by_channel["min_vs_observed"] = down[idx], down_ratio[idx]
        planned, current = np.asarray(planned, np.float64), np.asarray(current, np.float64)
        self.beyond_observed_pct = float((up * planned).sum() / planned.sum()) if planned.sum() > 0 else 0.0
        self.below_observed_pct = float((down * current).sum() / current.sum()) if current.sum() > 0 else 0.0
        if self.beyond_observed_pct > 0:
            self.message += (f"; {self.beyond_observed_pct:.1f} % of the planned spend is above the largest weekly "
                             "spend seen in training (per region): there the response is extrapolated")
        if self.below_observed_pct > 0:
            self.message += (f"; the plan cuts {self.below_observed_pct:.1f} % of the current spend below the "
                             "smallest weekly spend seen in training (per region): the response there was never "
                             "measured, the loss from that cut is the prior's")


def horizon_spend(result: FitResult, weeks: int):
    """``(channels, n_train, n_win, window_spend [C], hist [C], unit)`` of a plan over ``weeks``
    weeks: the spend (exposure without spend columns) of the last ``n_win = min(weeks, n_train)``
    training weeks and ``hist`` = that × ``weeks / n_win``; raises :class:`ConfigError` for
    ``weeks < 1`` and :class:`UserError` for runs without a level scale."""
    if weeks < 1:
        raise ConfigError(f"weeks must be >= 1, got {weeks}")
    require_level(result, "budget optimisation")
    n_train = result.split.n_train
    n_win = min(weeks, n_train)
    exposure, spend = channel_totals(result, slice(n_train - n_win, n_train))
    window_spend = spend if spend is not None else exposure
    return (list(result.panel.channels), n_train, n_win, window_spend, window_spend * (weeks / n_win),
            "spend" if spend is not None else "exposure")


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
