"""``FitResult``: everything a fitted run holds, with a member axis always.

``params`` has a leading member axis ``[N, ...]`` (N ≥ 1: the seeds of an ensemble, one for a
single fit); :meth:`FitResult.decompose` and :meth:`FitResult.components` keep it, the point
estimate is the member mean (:meth:`FitResult.point_components`, :func:`member_mean`) and member
statistics come from :func:`member_bands`.  A low module: it depends on the data and model layers
only, so analysis, report, predict and persistence take it without importing the training code.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Sequence

import jax
import numpy as np

from .._version import __version__
from ..config import Config
from ..data.panel import ColumnMapping, Panel
from ..data.prepare import Prepared, prepare
from ..data.scaling import ScalerState
from ..data.seasonality import SeasonalProfile
from ..data.split import Split
from ..model.mmm import Decomposition, ModelSpec, apply, transform_params
from .components import Components, original_units

__all__ = ["FitResult", "member_mean", "member_bands", "with_member_axis", "QUANTILES", "INTERVAL_LEVEL",
           "carry_interval", "predictive_factor", "INTERVAL_METHODS"]

#: the member statistics' band: 5 % and 95 % quantiles
QUANTILES = (0.05, 0.95)
#: the intervals' level (the anchored draws' 5 % and 95 % quantiles, carried to the estimate)
INTERVAL_LEVEL = 0.9
INTERVAL_METHODS = ("ratio", "draws", "quantile")


def predictive_factor(k: int, level: float = INTERVAL_LEVEL) -> float:
    """``t·√(1 + 1/K)``: the half-width, in sds of K draws, of the normal predictive interval of a new
    draw at ``level`` (``t`` Student's quantile at ``(1 + level)/2`` on K − 1 degrees of freedom)."""
    from scipy.stats import t as student_t

    return float(student_t.ppf((1.0 + level) / 2.0, k - 1)) * float(np.sqrt(1.0 + 1.0 / k))


def carry_interval(point, per_draw, level: float = INTERVAL_LEVEL, method: str = "ratio"):
    """``(lo, hi)``: the ``level`` interval of a quantity whose fitted estimate is ``point [...]`` and
    whose anchored draws are ``per_draw [K, ...]``.

    The draws' spread is read on the log scale (a quantity whose draws share one sign): sd ``s`` of
    ``log|q_k|``, and the interval is the normal predictive one for a new draw, ``± t·s·√(1 + 1/K)``
    with ``t`` Student's quantile at ``(1 + level)/2`` on K − 1 degrees of freedom (K draws'
    sample quantiles would cover less than ``level`` even for exact posterior draws: the 5 %–95 %
    range of 12 draws holds about 78 % of new ones).  ``"ratio"`` (default) centres it on the
    estimate (``point·exp(±half)``: the draws' relative uncertainty around the fitted model's
    number), ``"draws"`` on the draws' own centre (``exp(mean log|q_k| ± half)``); a quantity whose
    draws change sign (or whose estimate has the other sign) takes the same rule on the linear scale.
    ``"quantile"``: the draws' sample quantiles."""
    if method not in INTERVAL_METHODS:
        raise ValueError(f"method must be one of {INTERVAL_METHODS}, got {method!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, e.g. 0.9, got {level}")
    a = np.asarray(per_draw, np.float64)
    k = a.shape[0]
    if k < 2:
        raise ValueError(f"an interval needs at least 2 draws, got {k}")
    if method == "quantile":
        alpha = (1.0 - level) / 2.0
        lo, hi = np.quantile(a, [alpha, 1.0 - alpha], axis=0)
        return lo, hi
    factor = predictive_factor(k, level)
    p = np.broadcast_to(np.asarray(point, np.float64), a.shape[1:])
    sign = np.sign(np.median(a, axis=0))
    centre_ok = (sign != 0) & np.all(np.sign(a) == sign, axis=0)
    log_ok = centre_ok & ((np.sign(p) == sign) if method == "ratio" else True)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(log_ok, np.abs(a), 1.0))
        half_log = factor * logs.std(axis=0, ddof=1)
        centre_log = np.where(method == "ratio", np.log(np.where(log_ok, np.abs(p), 1.0)), logs.mean(axis=0))
        lo_log = sign * np.exp(centre_log - half_log)
        hi_log = sign * np.exp(centre_log + half_log)
    half_lin = factor * a.std(axis=0, ddof=1)
    centre_lin = p if method == "ratio" else a.mean(axis=0)
    lo = np.where(log_ok, np.minimum(lo_log, hi_log), centre_lin - half_lin)
    hi = np.where(log_ok, np.maximum(lo_log, hi_log), centre_lin + half_lin)
    return lo, hi


def with_member_axis(tree):
    """``tree`` with a leading member axis of size 1 on every leaf (one run → one member)."""
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[None] if isinstance(a, np.ndarray) else a[None], tree)


def member_mean(tree):
    """The member mean (axis 0) of every leaf: the ensemble's point estimate."""
    return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64).mean(axis=0), tree)


def member_bands(values, q: Sequence[float] = QUANTILES) -> np.ndarray | None:
    """Quantiles ``q`` over the member axis (axis 0) of ``values``: an array ``[len(q), ...]``, or
    None for a single member (no spread to report)."""
    a = np.asarray(values, np.float64)
    if a.shape[0] < 2:
        return None
    return np.quantile(a, q, axis=0)


@functools.partial(jax.jit, static_argnums=2)
def _decompose(params, inputs, spec: ModelSpec) -> Decomposition:
    return jax.vmap(lambda p: apply(p, inputs, spec))(params)


@functools.partial(jax.jit, static_argnums=1)
def _transforms(params, spec: ModelSpec) -> dict:
    return jax.vmap(lambda p: transform_params(p, spec))(params)


@dataclass
class FitResult:
    """Everything a fitted run holds.  ``params``: the members' parameters, leading axis ``[N, ...]``
    (N = ``n_seeds`` ≥ 1); ``seeds`` the members' seeds; ``history`` per-epoch metrics (``[N, epochs]``
    for ensembles, ``[epochs]`` for one member); ``metrics`` the evaluation (``metrics.json``);
    ``lift_tests``: ``{channel: number of lift tests}`` the fit was calibrated on, or None."""

    config: Config
    spec: ModelSpec
    params: dict
    scaler: ScalerState
    seasonal: SeasonalProfile
    split: Split
    panel: Panel
    seeds: tuple[int, ...]
    history: dict[str, np.ndarray]
    timing: dict[str, float]
    epochs_run: int
    best_epoch: int | None
    stopped_early: bool
    mapping: ColumnMapping | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    version: str = __version__
    draws: dict | None = None
    lift_tests: dict[str, int] | None = None

    def __post_init__(self):
        n = {int(np.shape(a)[0]) for a in jax.tree_util.tree_leaves(self.params)}
        if n != {len(self.seeds)}:
            raise ValueError(f"FitResult.params must have a leading member axis of size len(seeds) = "
                             f"{len(self.seeds)}; got leading sizes {sorted(n)}")

    @property
    def n_draws(self) -> int:
        """Anchored draws K (0 without intervals)."""
        return 0 if self.draws is None else int(np.shape(jax.tree_util.tree_leaves(self.draws)[0])[0])

    @property
    def draw_spec(self) -> ModelSpec:
        """The model of the anchored draws: the structural model (constant coefficients)."""
        return dataclasses.replace(self.spec, constant_coefficients=True)

    def draws_result(self) -> "FitResult":
        """This run with the anchored draws as its members (the structural model's spec), so
        anything that reads ``params`` (components, curves, ROI) runs on the draws."""
        if self.draws is None:
            raise ValueError("this run has no interval draws: fit with train.interval_draws = K (e.g. 12)")
        return dataclasses.replace(self, params=self.draws, spec=self.draw_spec, seeds=tuple(range(self.n_draws)),
                                   draws=None, metrics={})

    @property
    def n_seeds(self) -> int:
        """Members N (the ensemble size; 1 for a single fit)."""
        return len(self.seeds)

    @property
    def pad(self) -> int:
        return self.config.data.pad_weeks

    def member(self, i: int) -> dict:
        """The parameters of member ``i`` (no member axis)."""
        return jax.tree_util.tree_map(lambda a: a[i], self.params)

    def prepared(self, panel: Panel | None = None) -> Prepared:
        return prepare(panel or self.panel, self.scaler, self.seasonal, self.pad)

    def decompose(self, panel: Panel | None = None) -> Decomposition:
        """Deterministic forward of every member over ``panel`` (default: the fitted panel, all
        weeks), padding removed, scaled units: leading member axis ``[N, R, T, ...]``."""
        d = _decompose(self.params, self.prepared(panel).inputs, self.spec)
        return jax.tree_util.tree_map(lambda a: a[:, :, self.pad:] if a.ndim >= 3 else a, d)

    def components(self, panel: Panel | None = None) -> Components:
        """:meth:`decompose` in KPI units (float64), member axis first."""
        return original_units(self.decompose(panel), self.scaler.target_mean)

    def point_components(self, panel: Panel | None = None) -> Components:
        """The point estimate: the member mean of :meth:`components`."""
        return self.components(panel).mean()

    def transforms(self) -> dict:
        """Per-member curve parameters (``transform_params``: decay, Hill a and g, W, mix), ``[N, ...]``."""
        return _transforms(self.params, self.spec)
