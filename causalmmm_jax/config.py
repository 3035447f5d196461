"""Frozen, validated configuration: one dataclass per concern.

``Config`` bundles :class:`DataConfig`, :class:`ModelConfig`, :class:`TrainConfig` and
:class:`AnalysisConfig`.  Every field is checked in ``__post_init__``; a bad value raises
:class:`~causalmmm_jax.errors.ConfigError` naming the key (``train.learning_rate``) and what is
accepted.  Configs are never mutated: use :func:`dataclasses.replace` or :meth:`Config.updated`.

Two presets exist: ``"default"`` (the fixed behaviour) and ``"deepcausalmmm-1.0.21"`` (the
original's choices, for parity: share-of-voice media, IQR multiplied by 1.349, clamped transforms,
dynamic attribution prior, 6 padding weeks).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._config_fields import (
    _bool,
    _check_roi_prior,
    _choice,
    _floats,
    _migrate_model_keys,
    _num,
    _Section,
    normalise_roi_prior,
)
from .errors import ConfigError

__all__ = [
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "AnalysisConfig",
    "Config",
    "PRESETS",
    "preset",
    "resolve_model_config",
    "SEASONAL_MIN_FIT_WEEKS",
]

#: ``model.seasonality="auto"`` fits the annual Fourier cycle only with at least two full years of fit weeks
SEASONAL_MIN_FIT_WEEKS = 104


@dataclass(frozen=True)
class DataConfig(_Section):
    """How the panel is split and scaled.

    holdout_ratio / holdout_weeks: the reported holdout is the last weeks of the time grid
        (``holdout_weeks`` wins when set; ratio 0.12 as the original).
    validation_weeks: a block at the end of the training weeks used for early stopping; never
        overlaps the holdout and never enters the loss. ``None`` (default) = 8 weeks when at least
        ``min_train_weeks`` fit weeks remain, else 0; 0 disables early stopping.
    missing_media: ``"error"`` (default) or ``"zero"`` to treat NaN media/spend as no activity.
    media_scaling: ``"level"`` (divide by the region×channel training mean, keeps the level so more
        media can mean more KPI) or ``"sov"`` (the original's share of voice).
    control_iqr: ``"divide"`` (robust z: (x − median)/(IQR/1.349)) or ``"multiply"`` (the original).
    control_clip: fixed at fit time; scaled controls are clipped to ±control_clip.
    seasonal_period: ``None`` = 52 when the training block holds two full years, else
        min(52, n_train//2) as the original; an integer forces it.
    pad_weeks: zero weeks prepended to every sequence (the original's padding, 6); they are
        masked out of the loss and of every metric. 0 by default.
    """

    _section = "data"
    holdout_ratio: float = field(default=0.12, metadata=_num(0.0, 0.9))
    holdout_weeks: int | None = field(default=None, metadata=_num(0, integer=True, optional=True))
    validation_weeks: int | None = field(default=None, metadata=_num(0, integer=True, optional=True))
    min_train_weeks: int = field(default=40, metadata=_num(1, integer=True))
    missing_media: str = field(default="error", metadata=_choice("error", "zero"))
    media_scaling: str = field(default="level", metadata=_choice("level", "sov"))
    control_iqr: str = field(default="divide", metadata=_choice("divide", "multiply"))
    control_clip: float = field(default=5.0, metadata=_num(0.0, lo_open=True))
    seasonal_period: int | None = field(default=None, metadata=_num(2, integer=True, optional=True))
    pad_weeks: int = field(default=0, metadata=_num(0, 52, integer=True))


@dataclass(frozen=True)
class ModelConfig(_Section):
    """Architecture and transform parameterisation (see docs/concepts.md).

    parameterization: ``"smooth"`` (default; decay = max·σ(raw), a = lo+(hi−lo)·σ(raw),
        g = g_min + softplus(raw): no parameter ever sits in a zero-gradient clamp) or
        ``"clamped"`` (the original's clamp(σ), clamp(softplus) forms).
    hill_a_init: every channel's Hill slope at the start, and the centre of its prior (sd
        ``train.hill_a_prior_sd``); None: the original's softplus(2.5) ≈ 2.58, an S-shaped curve
        (increasing returns below the half-saturation point).  1 is the concave Michaelis–Menten
        curve (Meridian fixes its slope there by default).
    attribution: ``"source"`` (the DAG term β_j·mix_j·W_ij·H_i is credited to the parent channel i
        whose media drives it) or ``"target"`` (the original: credited to channel j).
    dag_mode: ``"triangular"`` (strict upper-triangular mask), ``"notears"`` (off-diagonal mask +
        acyclicity penalty) or ``"off"`` (no channel interactions).
    adstock: ``"geometric"`` (original, unnormalised), ``"normalized"`` ((1−α)-weighted) or
        ``"weibull"`` (delayed, Weibull-PDF weights over ``adstock_max_lag`` weeks).
    seasonality: ``"auto"`` (default: ``"fourier"`` when the fit block holds two full years
        (104 weeks), else ``"off"``: with less than two cycles an annual cycle cannot be told apart
        from a trend, and its extrapolation into the holdout is a guess), ``"fourier"`` (a
        learned annual cycle with ``seasonal_harmonics`` sine/cosine pairs at 52 weeks, shared by
        all regions plus a per-region offset with prior sd ``seasonal_region_sd`` in scaled KPI
        units; signed, estimated jointly with the media), ``"decompose"`` (the original:
        ``softplus(c)·S`` with S the min–max'd statsmodels decomposition of each region's training
        KPI, period 52 only with two full years) or ``"off"``.
    trend: ``"knots"`` (default: a national time-varying baseline, piecewise linear between
        knots every ``trend_knot_weeks`` weeks over the training weeks, centred (it carries no
        level of its own), with a random-walk prior of sd ``trend_knot_sd`` (scaled KPI units)
        per knot step; flat after the last knot, so forecasts hold the last level), ``"linear"``
        (slope and intercept) or ``"off"`` (the original: no trend).
    media_region_sd: region-level channel effects with partial pooling: each region's effect of
        channel c is the shared one times exp(u_rc), with a Gaussian prior N(0, media_region_sd²)
        on u_rc on the likelihood's scale (as the seasonal offsets): a region's curve moves away
        from the shared one as far as its own data support.  0 (default): one curve per channel
        for every region.
    media_drift_sd: a slowly drifting effect per channel: each channel's effect is multiplied by
        exp(d_c(t)), d_c piecewise linear between the trend's knots (every ``trend_knot_weeks``
        weeks over the training weeks, centred over them, so the channel's level stays with its
        coefficient; flat after the last knot, so forecasts hold its value), with a random-walk
        prior of sd ``media_drift_sd`` (log effect units) per knot step on the likelihood's scale
        (tighter than a plain prior of that sd; docs/concepts.md §5, §7).  0 (default): no drift term (the GRU's
        coefficients are the only time variation); measured widths in docs/analysis.md §9.
    gru_inputs: what the GRU that sets the time-varying coefficients reads: ``"media"`` (default,
        the original: the channels' media after adstock, Hill and DAG, and the control features)
        or ``"context"`` (the control features and calendar time, as the trend's knot basis
        every ``trend_knot_weeks`` weeks, but not the media: coefficients vary with time and
        conditions, not with the spend being changed, so a what-if on spend moves only the
        channel's own curve).
    remat: keep only the GRU's hidden states for the backward pass and recompute each week's
        gates there (one more recurrent matmul per week): less memory for the activations, a
        little more arithmetic per epoch; for panels whose activations do not fit a device.
        Same numbers either way.
    matmul_dtype: operand type of the network's matmuls (the GRU and the coefficient heads):
        ``"bfloat16"`` (bfloat16 operands, float32 accumulation; states, gradients and every
        other number stay float32), ``"float32"``, or ``"auto"`` (default: resolved by ``fit``
        to ``"bfloat16"`` where the hardware multiplies bfloat16 faster, i.e. TPUs, GPUs from
        Ampere on and CPUs with AVX-512 BF16 or AMX, else ``"float32"``; the run's config
        records the choice).  Its measured effect on the fit is about that of changing the
        training seed: docs/jax.md "Speed and precision".
    """

    _section = "model"
    hidden_dim: int = field(default=280, metadata=_num(1, integer=True))
    ctrl_hidden_ratio: float = field(default=0.5, metadata=_num(0.0, lo_open=True))
    dropout: float = field(default=0.12, metadata=_num(0.0, 0.95))
    parameterization: str = field(default="smooth", metadata=_choice("smooth", "clamped"))
    adstock: str = field(default="geometric", metadata=_choice("geometric", "normalized", "weibull"))
    adstock_max_decay: float = field(default=0.8, metadata=_num(0.0, 1.0, lo_open=True))
    adstock_max_lag: int = field(default=13, metadata=_num(1, integer=True))
    hill_a_range: tuple[float, float] = field(default=(1.0, 5.0), metadata=_floats(2, lo=0.0))
    hill_g_min: float = field(default=0.01, metadata=_num(0.0))
    hill_init_quantile: float = field(default=0.6, metadata=_num(0.0, 1.0))
    hill_a_init: float | None = field(default=None, metadata=_num(0.0, lo_open=True, optional=True))
    init_media_share: float = field(default=0.2, metadata=_num(0.0, 1.0))
    dag_mode: str = field(default="triangular", metadata=_choice("triangular", "notears", "off"))
    dag_temperature: float = field(default=0.5, metadata=_num(1e-3))
    attribution: str = field(default="source", metadata=_choice("source", "target"))
    burn_in_weeks: int = field(default=6, metadata=_num(0, integer=True))
    burn_in_method: str = field(default="exponential", metadata=_choice("exponential", "linear", "sigmoid"))
    trend: str = field(default="knots", metadata=_choice("knots", "linear", "off"))
    trend_knot_weeks: int = field(default=8, metadata=_num(1, integer=True))
    trend_knot_sd: float = field(default=0.05, metadata=_num(0.0, lo_open=True))
    seasonality: str = field(default="auto", metadata=_choice("auto", "fourier", "decompose", "off"))
    seasonal_harmonics: int = field(default=2, metadata=_num(1, 26, integer=True))
    seasonal_region_sd: float = field(default=0.02, metadata=_num(0.0, lo_open=True))
    media_region_sd: float = field(default=0.0, metadata=_num(0.0))
    media_drift_sd: float = field(default=0.0, metadata=_num(0.0))
    media_coeff_max_init: float = field(default=1.0, metadata=_num())
    ctrl_coeff_max_init: float = field(default=1.5, metadata=_num())
    gru_inputs: str = field(default="media", metadata=_choice("media", "context"))
    remat: bool = field(default=False, metadata=_bool())
    matmul_dtype: str = field(default="auto", metadata=_choice("auto", "float32", "bfloat16"))

    def _check_cross(self) -> None:
        lo, hi = self.hill_a_range
        if not lo < hi:
            raise ConfigError(f"model.hill_a_range={list(self.hill_a_range)!r} must be [low, high] with low < high.")
        a = self.hill_a_init
        if a is not None and not (lo < a < hi or (self.parameterization == "clamped" and lo <= a <= hi)):
            raise ConfigError(f"model.hill_a_init={a!r} must lie inside model.hill_a_range={list(self.hill_a_range)!r}"
                              " (strictly inside under the smooth parameterization); widen the range or move it.")


@dataclass(frozen=True)
class TrainConfig(_Section):
    """Objective, optimiser and loop.

    epochs: main-phase epochs (an upper bound with early stopping); 0 trains nothing in that phase
        (with ``static_epochs = warm_start_epochs = 0`` the data-driven start is the model).
        Every number here is a traced value of the compiled training program (see
        ``causalmmm_jax.train.hyper``) except ``schedule``, ``prior_mode``,
        ``regularize_transforms`` and the chunk length (``chunk_epochs``, shortened for short runs):
        changing them compiles new programs.
    media_l1_weight: shrinkage toward zero effect: weight·Σ_c mean over fit cells of channel c's
        (scaled) contribution; a channel whose data support is weaker than the weight ends at ~0.
    calibration_weight: weight of the lift-test term σ̂²/2N·Σ_e z_e² (z_e = (model − measured lift)/se,
        σ̂² as for the priors): 1 (default) = each test counts as (at least) one measurement on any panel
        size.  Older files' 1e-5 (the default of the former ``weight·mean z²``) is read as 1.
    prior_mode: ``"quadratic"`` (default: weight·(media share − target)²) or ``"dynamic"`` (the
        original's gradient-rescaled prior that imposes the share).
    transform_prior_weight: weight of the Gaussian priors on each channel's Hill curve, centred on
        the data-driven start: log(half-saturation / mean adstocked exposure) with sd
        ``hill_g_prior_sd`` and slope with sd ``hill_a_prior_sd``, on the likelihood's scale
        (σ̂²/2N·Σz², σ̂² = within-region variance of the scaled KPI); 1 = one observation's worth.
    hill_g_prior_sd_flighted: the half-saturation prior's sd for channels the fit cells show over a
        wide range of spend (flighted or pulsed: the 10th percentile of the channel's scaled spend
        over the fit cells at most 30 % of its 90th, ``causalmmm_jax.train.fit.WIDE_RANGE``): the
        data see such a curve from near zero to its peaks, so it rests less on the prior; an
        always-on channel's level is not identified by its data and keeps ``hill_g_prior_sd``.
    coef_pooling_weight: weight of the pooling penalty on the GRU's coefficients (share of β's and
        γ's second moment that is variation around each channel's mean); 0 = free time variation
        (default, as the original), large = one constant effect per channel (with
        ``model.media_region_sd`` > 0 it shrinks the region-level effects too, and with
        ``model.media_drift_sd`` > 0 the drift: they are part of β).
    schedule: ``"plateau"`` (reduce-on-plateau on the validation or train RMSE), ``"cosine"`` or
        ``"constant"``.
    static_epochs / static_learning_rate: the structural pre-fit: before the GRU trains, the
        model's structural part (adstock, Hill, DAG gates, one effect size per channel and control,
        baselines, seasonality, trend) is fitted with constant coefficients (Adam at
        ``static_learning_rate``, every epoch full batch, no early stopping); the GRU then learns
        time variation around that fit. 0 skips it (the original starts the GRU from the
        data-driven initialisation).
    interval_draws: members of the anchored ensemble of the structural model that gives every
        channel quantity its interval (``causalmmm_jax.train.draws``): each member is the structural
        pre-fit with its own draw of the priors' centres and its own Bayesian-bootstrap weights of the
        region × week-block cells, all trained side by side as one vmapped program (default 12: one
        more program of ``static_epochs`` epochs × 12 members); 0 = no intervals.  Setting
        ``static_epochs = 0`` without naming ``interval_draws`` sets it to 0 too (a draw is a pre-fit).
    interval_block_weeks: the bootstrap's week blocks (consecutive weeks share a weight: autocorrelation).
    roi_prior: log-normal priors a user states on channels' ROI over the training weeks (roi_table's),
        on the likelihood's scale (``train.objective.roi_prior``): ``{channel: {"median": m, "sd": s}}``
        (or ``[m, s]``, or ``{"low": a, "high": b}``: a 90 % interval), channel = a media or spend
        column, ``"*"`` = every other channel with spend.  Empty (default): none, no channel favoured.
    """

    _section = "train"
    epochs: int = field(default=1500, metadata=_num(0, integer=True))
    seed: int = field(default=42, metadata=_num(0, integer=True))
    learning_rate: float = field(default=0.01, metadata=_num(0.0, lo_open=True))
    weight_decay: float = field(default=5e-5, metadata=_num(0.0))
    adam_b1: float = field(default=0.9, metadata=_num(0.0, 1.0))
    adam_b2: float = field(default=0.999, metadata=_num(0.0, 1.0))
    adam_eps: float = field(default=1e-8, metadata=_num(0.0, lo_open=True))
    huber_delta: float = field(default=0.25, metadata=_num(0.0, lo_open=True))
    coeff_clip: float = field(default=1.0, metadata=_num(0.0, lo_open=True))
    other_clip: float = field(default=2.0, metadata=_num(0.0, lo_open=True))
    static_epochs: int = field(default=2000, metadata=_num(0, integer=True))
    static_learning_rate: float = field(default=0.02, metadata=_num(0.0, lo_open=True))
    warm_start_epochs: int = field(default=50, metadata=_num(0, integer=True))
    warm_start_lr_factor: float = field(default=0.01, metadata=_num(0.0, lo_open=True))
    schedule: str = field(default="plateau", metadata=_choice("plateau", "cosine", "constant"))
    plateau_patience: int = field(default=300, metadata=_num(1, integer=True))
    plateau_factor: float = field(default=0.8, metadata=_num(0.0, 1.0, lo_open=True))
    min_lr: float = field(default=1e-8, metadata=_num(0.0))
    early_stopping: bool = field(default=True, metadata=_bool())
    patience: int = field(default=30, metadata=_num(1, integer=True))
    min_delta: float = field(default=5e-6, metadata=_num(0.0))
    eval_every: int = field(default=10, metadata=_num(1, integer=True))
    chunk_epochs: int = field(default=50, metadata=_num(1, integer=True))
    dag_weight: float = field(default=0.008, metadata=_num(0.0))
    sparsity_weight: float = field(default=0.001, metadata=_num(0.0))
    l1_weight: float = field(default=5e-5, metadata=_num(0.0))
    l2_weight: float = field(default=2e-4, metadata=_num(0.0))
    prior_mode: str = field(default="quadratic", metadata=_choice("quadratic", "dynamic"))
    media_share_prior: float = field(default=0.4, metadata=_num(0.0, 1.0))
    media_share_weight: float = field(default=0.0, metadata=_num(0.0))
    media_l1_weight: float = field(default=0.0, metadata=_num(0.0))
    coef_pooling_weight: float = field(default=0.0, metadata=_num(0.0))
    transform_prior_weight: float = field(default=1.0, metadata=_num(0.0))
    hill_g_prior_sd: float = field(default=0.5, metadata=_num(0.0, lo_open=True))
    hill_g_prior_sd_flighted: float = field(default=1.0, metadata=_num(0.0, lo_open=True))
    hill_a_prior_sd: float = field(default=1.0, metadata=_num(0.0, lo_open=True))
    seasonal_prior: float = field(default=1.0, metadata=_num(0.0))
    seasonal_prior_weight: float = field(default=0.0, metadata=_num(0.0))
    notears_lambda1: float = field(default=0.005, metadata=_num(0.0))
    notears_group_l1: float = field(default=0.01, metadata=_num(0.0))
    notears_rho_init: float = field(default=1.0, metadata=_num(0.0))
    notears_alpha_init: float = field(default=0.0, metadata=_num())
    notears_rho_max: float = field(default=1e16, metadata=_num(0.0))
    notears_dual_every: int = field(default=100, metadata=_num(1, integer=True))
    notears_dual_factor: float = field(default=3.0, metadata=_num(1.0))
    notears_warmup_epochs: int = field(default=500, metadata=_num(0, integer=True))
    regularize_transforms: bool = field(default=False, metadata=_bool())
    calibration_weight: float = field(default=1.0, metadata=_num(0.0))
    interval_draws: int = field(default=12, metadata=_num(0, integer=True))
    interval_block_weeks: int = field(default=8, metadata=_num(1, integer=True))
    roi_prior: tuple = field(default=(), metadata={"check": _check_roi_prior})

    def __post_init__(self) -> None:
        object.__setattr__(self, "roi_prior", normalise_roi_prior(self.roi_prior))
        super().__post_init__()

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["roi_prior"] = {ch: {"median": m, "sd": s} for ch, m, s in self.roi_prior}
        return out

    def _check_cross(self) -> None:
        if self.interval_draws == 1:
            raise ConfigError("train.interval_draws=1 cannot give an interval: use at least 2 (default 12), or 0 "
                              "for no intervals.")
        if self.interval_draws > 0 and self.static_epochs == 0:
            raise ConfigError(f"train.interval_draws={self.interval_draws} needs train.static_epochs > 0 (each draw is "
                              "a structural pre-fit of that many epochs); set train.interval_draws = 0 for no "
                              "intervals, or give the pre-fit epochs.")


@dataclass(frozen=True)
class AnalysisConfig(_Section):
    """Response curves, budget optimisation and DAG export."""

    _section = "analysis"
    curve_multipliers: tuple[float, ...] = field(
        default=(0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0), metadata=_floats(lo=0.0)
    )
    budget_method: str = field(default="auto", metadata=_choice("auto", "projected", "slsqp", "trust-constr", "de",
                                                                       "multistart"))
    budget_on: str = field(default="auto", metadata=_choice("auto", "curves", "model", "plan"))
    budget_weeks: int = field(default=52, metadata=_num(1, integer=True))
    budget_floor: str = field(default="observed", metadata=_choice("observed", "none"))
    dag_threshold: float = field(default=0.3, metadata=_num(0.0, 1.0))


_SECTIONS: dict[str, type[_Section]] = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig,
                                        "analysis": AnalysisConfig}


@dataclass(frozen=True)
class Config:
    """The whole configuration: ``Config(data=..., model=..., train=..., analysis=...)``."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {name: getattr(self, name).to_dict() for name in _SECTIONS}
        # TOML has no null: drop None values, absent keys take their defaults on load.
        return {k: {kk: vv for kk, vv in v.items() if vv is not None} for k, v in out.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any], base: "Config | None" = None) -> "Config":
        """Build from a nested mapping; sections and keys not given keep ``base``'s values."""
        if not isinstance(d, dict):
            raise ConfigError("a configuration must be a table/object with sections data, model, train, analysis.")
        unknown = sorted(set(d) - set(_SECTIONS) - {"preset"})
        if unknown:
            raise ConfigError(
                f"unknown configuration section(s): {', '.join(unknown)}; valid sections are: {', '.join(_SECTIONS)}"
                " (and 'preset')."
            )
        base = preset(d["preset"]) if "preset" in d else (base or cls())
        parts = {}
        for name, section in _SECTIONS.items():
            current = getattr(base, name).to_dict()
            given = d.get(name, {})
            if not isinstance(given, dict):
                raise ConfigError(f"[{name}] must be a table/object, got {type(given).__name__}.")
            if name == "model":
                given = _migrate_model_keys(given)
            if name == "train" and given.get("calibration_weight") == 1e-5:
                # before the lift term was counted on the likelihood's scale its default weight was 1e-5
                # (about that scale on a ~1,000-cell panel); files written then carry it: the same intent
                given = {**given, "calibration_weight": 1.0}
            if name == "train" and given.get("static_epochs") == 0 and "interval_draws" not in given:
                # no pre-fit, no draws (each draw is a pre-fit): a configuration or saved model without the
                # key, or a change of static_epochs alone, keeps working without intervals
                given = {**given, "interval_draws": 0}
            parts[name] = section.from_dict({**current, **given})
        return cls(**parts)

    def updated(self, **sections: dict[str, Any]) -> "Config":
        """A copy with some keys changed: ``cfg.updated(train={"epochs": 10})``."""
        return Config.from_dict({k: v for k, v in sections.items()}, base=self)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Config":
        """Read a ``.toml`` or ``.json`` file (keys not given take the defaults, or the file's ``preset``)."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read config file {p}: {e.strerror or e}.") from None
        try:
            if p.suffix.lower() == ".toml":
                d = tomllib.loads(text)
            elif p.suffix.lower() == ".json":
                d = json.loads(text)
            else:
                raise ConfigError(f"config file {p} must end in .toml or .json.")
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"config file {p} is not valid {p.suffix[1:].upper()}: {e}.") from None
        return cls.from_dict(d)

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``.toml`` or ``.json`` atomically."""
        from ._io_util import atomic_write_text

        p = Path(path)
        if p.suffix.lower() == ".toml":
            import tomli_w

            text = tomli_w.dumps(self.to_dict())
        elif p.suffix.lower() == ".json":
            text = json.dumps(self.to_dict(), indent=2) + "\n"
        else:
            raise ConfigError(f"config file {p} must end in .toml or .json.")
        atomic_write_text(p, text)
        return p


def resolve_model_config(cfg: ModelConfig, n_fit_weeks: int) -> ModelConfig:
    """``cfg`` with the data- and hardware-dependent choices made: ``seasonality="auto"`` becomes
    ``"fourier"`` with at least :data:`SEASONAL_MIN_FIT_WEEKS` fit weeks, else ``"off"``;
    ``matmul_dtype="auto"`` becomes ``"bfloat16"`` where JAX's default backend multiplies
    bfloat16 faster (:func:`causalmmm_jax._hardware.fast_bfloat16_matmuls`), else ``"float32"``."""
    from dataclasses import replace

    if cfg.seasonality == "auto":
        cfg = replace(cfg, seasonality="fourier" if n_fit_weeks >= SEASONAL_MIN_FIT_WEEKS else "off")
    if cfg.matmul_dtype == "auto":
        from ._hardware import fast_bfloat16_matmuls

        cfg = replace(cfg, matmul_dtype="bfloat16" if fast_bfloat16_matmuls() else "float32")
    return cfg


def _original() -> Config:
    return Config(
        data=DataConfig(media_scaling="sov", control_iqr="multiply", pad_weeks=6, validation_weeks=0),
        model=ModelConfig(parameterization="clamped", hill_a_range=(2.0, 5.0), attribution="target",
                          seasonality="decompose", trend="off", matmul_dtype="float32"),
        train=TrainConfig(prior_mode="dynamic", media_share_weight=0.5, seasonal_prior_weight=0.1, static_epochs=0,
                          early_stopping=False, regularize_transforms=True, transform_prior_weight=0.0,
                          interval_draws=0),
    )


PRESETS = {"default": Config, "deepcausalmmm-1.0.21": _original}


def preset(name: str) -> Config:
    """A named configuration: ``"default"`` or ``"deepcausalmmm-1.0.21"``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(map(repr, PRESETS))}.")
    return PRESETS[name]()

