"""``fit(panel, config) -> FitResult``: split, scale, initialise, train (one or N seeds), evaluate.

Training phases: the structural pre-fit (constant coefficients, ``train.static_epochs``), the warm
start (``train.warm_start_epochs``), then the main phase with early stopping on the validation
block; every phase runs as jit-compiled ``lax.scan`` chunks (vmapped over seeds for ensembles)."""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._memory import peak_rss_mb, release_host_memory
from ..config import Config, resolve_model_config
from ..data.panel import ColumnMapping, Panel
from ..data.prepare import Prepared, prepare, slice_inputs
from ..data.scaling import ScalerState, fit_scaler
from ..data.seasonality import SeasonalProfile, fit_seasonality
from ..data.split import Split, temporal_split
from ..errors import ConfigError, DataError
from ..model.data_init import init_from_data, within_region_variance
from ..model.mmm import ModelSpec, apply, knot_count, transform_params
from .objective import RoiPrior, TrainData, TransformPrior
from .phases import (
    Phase,
    chunk_length,
    default_phases,
    run_phases,
    with_static_coefficients,
)
from .result import FitResult, with_member_axis
from .sharding import Devices

__all__ = ["FitResult", "fit", "spend_low_high", "wide_range_channels", "make_roi_prior", "stated_roi_priors",
           "train_data_for", "prepare_data", "initial_params", "finish_result", "peak_rss_mb",
           "with_static_coefficients",
           "chunk_length"]  # the last two re-exported from .phases


def train_data_for(prep: Prepared, split: Split, mask: np.ndarray, lift=None) -> TrainData:
    """Training sequence = padding + weeks [0, n_train); the loss sees fit cells only."""
    pad = prep.pad
    stop = pad + split.n_train
    padm = lambda m: np.pad(m, [(0, 0), (pad, 0)])[:, :stop].astype(np.float32)  # noqa: E731
    return TrainData(inputs=slice_inputs(prep.inputs, stop), target=jnp.asarray(prep.target[:, :stop], jnp.float32),
                     fit_w=jnp.asarray(padm(split.fit_mask(mask))), val_w=jnp.asarray(padm(split.val_mask(mask))),
                     lift=lift)


def prepare_data(panel: Panel, cfg: Config, lift=None):
    """``(split, scaler, seasonal, prepared, spec, train_data)``: everything ``fit`` derives from the
    panel before initialising parameters (``spec.config`` is ``cfg.model`` with its data-dependent
    choices resolved, ``spec.n_knots`` the knots over the training weeks of the trend, the GRU's clock
    and the drift term)."""
    split = temporal_split(panel.n_weeks, cfg.data)
    fit_cells = split.fit_mask(panel.mask)
    scaler = fit_scaler(panel, fit_cells, cfg.data)
    seasonal = fit_seasonality(panel.target, fit_cells, cfg.data.seasonal_period)
    prep = prepare(panel, scaler, seasonal, cfg.data.pad_weeks)
    model_cfg = resolve_model_config(cfg.model, split.n_fit)
    uses_knots = model_cfg.trend == "knots" or model_cfg.gru_inputs == "context" or model_cfg.media_drift_sd > 0
    n_knots = knot_count(split.n_train, model_cfg.trend_knot_weeks) if uses_knots else 0
    if model_cfg.media_drift_sd > 0 and n_knots < 2:
        raise ConfigError(f"model.media_drift_sd > 0 needs at least two knots, but the {split.n_train} training weeks "
                          f"hold one knot every model.trend_knot_weeks = {model_cfg.trend_knot_weeks} weeks: lower "
                          "trend_knot_weeks or set media_drift_sd = 0")
    spec = ModelSpec(panel.n_regions, panel.n_channels, panel.n_controls, model_cfg, n_knots=n_knots)
    if lift is not None:
        from .calibration import lift_data

        lift = lift_data(lift, panel, scaler, split, cfg.data.pad_weeks)
    return split, scaler, seasonal, prep, spec, train_data_for(prep, split, panel.mask, lift)


def initial_params(keys, spec: ModelSpec, data: TrainData, cfg: Config,
                   roi: RoiPrior | None = None) -> tuple[list[dict], TrainData]:
    """Data-driven initial parameters per seed key, and ``data`` with the priors' centres attached
    (``roi``: the stated ROI priors, :func:`make_roi_prior`)."""
    inits = [init_from_data(jax.random.fold_in(k, 0), spec, data.inputs, data.target, data.fit_w,
                            cfg.model.init_media_share) for k in keys]
    return inits, data.replace(prior=make_transform_prior(inits[0], spec, data).replace(roi=roi))


def stated_roi_priors(cfg: Config, panel: Panel, active=None) -> dict[int, tuple[float, float]]:
    """``{channel index: (median, sd)}`` of ``train.roi_prior`` on ``panel`` (a channel named by its
    media or spend column; ``"*"`` for every channel not named, among the ``active`` ones (``[C]`` bool:
    channels with spend; None: all)).  Raises :class:`ConfigError` for a name the panel does not have
    and for a channel named twice (by its media and its spend column)."""
    channels, spend_cols = list(panel.channels), list(panel.spend_columns or ())
    out: dict[int, tuple[float, float]] = {}
    wildcard = None
    for name, median, s in cfg.train.roi_prior:
        if name == "*":
            wildcard = (median, s)
            continue
        if name in channels:
            c = channels.index(name)
        elif name in spend_cols:
            c = spend_cols.index(name)
        else:
            raise ConfigError(f"train.roi_prior names channel {name!r}, which the panel does not have; channels are "
                              f"{', '.join(channels)}" + (f" (spend columns {', '.join(spend_cols)})" if spend_cols
                                                          else ""))
        if c in out:
            raise ConfigError(f"train.roi_prior names channel {channels[c]!r} twice (by its media and its spend "
                              "column); keep one.")
        out[c] = (median, s)
    if wildcard is not None:
        out.update({c: wildcard for c in range(len(channels))
                    if c not in out and (active is None or bool(active[c]))})
    return dict(sorted(out.items()))


def make_roi_prior(cfg: Config, panel: Panel, scaler: ScalerState, split: Split) -> RoiPrior | None:
    """``train.roi_prior`` resolved against the panel (None when no prior is stated).

    A channel is named by its media or its spend column; ``"*"`` covers every channel not named.
    Raises :class:`ConfigError` for an unknown channel or share-of-voice scaling, :class:`DataError`
    for a named channel without spend (or media) over the training weeks (``"*"`` skips those).
    With ``model.attribution = "target"`` a channel's contribution includes what the DAG passes to it
    from its parents, and so does the ROI the prior is stated on (as ``roi_table``'s)."""
    stated = cfg.train.roi_prior
    if not stated:
        return None
    if scaler.media_mode != "level":
        raise ConfigError("train.roi_prior needs data.media_scaling = 'level' (under share-of-voice scaling a "
                          "channel's contribution does not follow its spend level, so it has no ROI).")
    channels = list(panel.channels)
    c_n = len(channels)
    src = panel.spend if panel.spend is not None else panel.media
    cells = split.train_mask(panel.mask).astype(np.float64)  # the weeks roi_table's ROI covers
    spend = (np.nan_to_num(np.asarray(src, np.float64)) * cells[..., None]).sum((0, 1))
    log_median, sd, on = np.zeros(c_n), np.ones(c_n), np.zeros(c_n)
    for c, (median, s) in stated_roi_priors(cfg, panel, active=spend > 0).items():
        log_median[c], sd[c], on[c] = np.log(median), s, 1.0
    empty = [channels[c] for c in range(c_n) if on[c] and not spend[c] > 0]
    if empty:
        what = "spend" if panel.spend is not None else "media"
        raise DataError(f"train.roi_prior: {', '.join(empty)} has no {what} in the training weeks, so it has no ROI; "
                        "drop its ROI prior (or the channel).")
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    return RoiPrior(log_median=f32(log_median), sd=f32(sd), on=f32(on), spend=f32(np.where(on > 0, spend, 1.0)),
                    target_mean=f32(scaler.target_mean))


#: a channel is seen over a wide range when the 10th percentile of its scaled spend over the fit
#: cells is at most this share of the 90th (flighted and pulsed channels; always-on ones sit near 0.4-0.6)
WIDE_RANGE = 0.3


def wide_range_channels(media, fit_w) -> np.ndarray:
    """``[C]`` bool: channels whose spend the fit cells show over a wide range (10th percentile of the
    scaled spend at most :data:`WIDE_RANGE` of the 90th); a channel without spend is not."""
    return np.nan_to_num(spend_low_high(media, fit_w), nan=1.0) <= WIDE_RANGE


def spend_low_high(media, fit_w) -> np.ndarray:
    """``[C]``: the 10th over the 90th percentile of each channel's scaled spend over the cells where
    ``fit_w > 0`` (inf when the 90th is 0 but some spend exists; NaN for a channel without spend)."""
    x = np.asarray(media, np.float64)
    on = np.asarray(fit_w, np.float64) > 0
    out = np.full(x.shape[-1], np.nan)
    for c in range(x.shape[-1]):
        v = x[..., c][on]
        if v.size and v.max() > 0:
            lo, hi = np.percentile(v, [10, 90])
            out[c] = lo / hi if hi > 0 else np.inf
    return out


def make_transform_prior(params, spec: ModelSpec, data: TrainData) -> TransformPrior:
    """Hill prior centres = the data-driven initial values (the same for every seed); variance scale =
    the within-region variance of the scaled KPI over the fit cells; which channels the data see over
    a wide range (:func:`wide_range_channels`)."""
    tp = transform_params(params, spec)
    w = np.asarray(data.fit_w, np.float64)
    y = np.asarray(data.target, np.float64)
    adst = np.asarray(jax.jit(apply, static_argnums=2)(params, data.inputs, spec).adstocked, np.float64)
    mean_a = (adst * w[..., None]).sum((0, 1)) / max(w.sum(), 1.0)
    var = within_region_variance(y, w)
    ratio = np.log(np.asarray(tp["hill_g"], np.float64)) - np.log(mean_a + 1e-8)
    wide = wide_range_channels(data.inputs.media, w)
    return TransformPrior(log_ratio0=jnp.asarray(ratio, jnp.float32), a0=jnp.asarray(tp["hill_a"]),
                          var=jnp.float32(var), wide=jnp.asarray(wide, jnp.float32))


def fit(panel: Panel, config: Config | None = None, *, seeds: int = 1, seed: int | None = None,
        mapping: ColumnMapping | None = None, lift=None, progress: Callable | None = None,
        devices: Devices = None, mesh_shape: tuple[int, int] | None = None,
        optimizer: optax.GradientTransformation | None = None, phases: Sequence[Phase] | None = None) -> FitResult:
    """Fit the model.

    Args:
        panel: the data.  config: :class:`Config` (default: ``Config()``).
        seeds: ensemble size N; seeds ``seed, seed+1, ...`` are trained in one compiled program
            (``vmap`` over the seed axis).
        seed: overrides ``config.train.seed``.
        lift: calibration rows (see :mod:`causalmmm_jax.analysis.calibration`).
        progress: ``callback(phase, epochs_done, epochs_total, chunk_metrics)`` called between chunks.
        devices: spread the fit over devices (a count of the first devices, a device list, or a
            ``("member", "region")`` mesh): members over the ``"member"`` axis, regions over the
            ``"region"`` axis (data parallelism with masked padding regions; see
            :mod:`.sharding`); ``mesh_shape=(members, regions)`` overrides the default split.  Under
            ``jax.distributed`` every process's devices are used by default (:mod:`.distributed`).
        optimizer: an ``optax`` transformation for the warm start and the main phase instead of the
            built-in one (see :mod:`.phases`).
        phases: the training phases (default :func:`~.phases.default_phases` of ``config``); the
            last one's history is untagged and its timing gives ``seconds_per_epoch``.
    """
    cfg = config or Config()
    tcfg = cfg.train
    base_seed = tcfg.seed if seed is None else seed
    seed_list = tuple(base_seed + i for i in range(seeds))
    split, scaler, seasonal, prep, spec, data = prepare_data(panel, cfg, lift)
    cfg = dataclasses.replace(cfg, model=spec.config)  # the run records the resolved choices
    if phases is not None and optimizer is not None:
        raise ConfigError("pass either optimizer= or phases= (put the optimiser in the phases)")
    if phases is None:
        phases = default_phases(cfg, optimizer=optimizer, early_stop=tcfg.early_stopping and split.n_val > 0)

    t_start = time.perf_counter()
    keys = [jax.random.PRNGKey(s) for s in seed_list]
    inits, data = initial_params(keys, spec, data, cfg, make_roi_prior(cfg, panel, scaler, split))
    run = run_phases(inits, keys, data, spec, phases, devices=devices, mesh_shape=mesh_shape, progress=progress)
    timing = dict(run.timing)
    timing["fit_seconds"] = time.perf_counter() - t_start
    timing["device_mb"] = max((v for k, v in timing.items() if k.endswith("_device_mb") and np.isfinite(v)),
                              default=float("nan"))
    timing["peak_rss_mb"] = peak_rss_mb()
    params, states = run.params, run.states
    if seeds == 1:  # one member trains unbatched: give it the member axis every result has
        params, states = with_member_axis(params), with_member_axis(states)
    draws = None
    if tcfg.interval_draws > 0:
        from .draws import train_draws

        t_draws = time.perf_counter()
        draws, draw_timing = train_draws(jax.random.fold_in(keys[0], 17), inits[0], data, spec, tcfg,
                                         tcfg.interval_draws, progress=progress)
        timing.update(draw_timing)
        timing["fit_seconds"] += time.perf_counter() - t_draws
    result = finish_result(cfg, spec, params, states, run.history, timing, phases, scaler=scaler,
                           seasonal=seasonal, split=split, panel=panel, seeds=seed_list, mapping=mapping, draws=draws)
    if data.lift is not None:  # which channels a lift test measured (the identifiability report says so)
        counts = np.bincount(np.asarray(data.lift.channel), minlength=panel.n_channels)
        result.lift_tests = {ch: int(n) for ch, n in zip(panel.channels, counts) if n}
    return result


def finish_result(cfg: Config, spec: ModelSpec, params, states, history: dict, timing: dict, phases: Sequence[Phase],
                  *, scaler: ScalerState, seasonal: SeasonalProfile, split: Split, panel: Panel,
                  seeds: tuple[int, ...], mapping: ColumnMapping | None, draws=None) -> FitResult:
    """The :class:`FitResult` of trained members (``params`` and ``states`` with a leading member
    axis of ``len(seeds)``): epochs, early-stopping record, per-epoch timing of the last phase, a
    warning on a non-finite stop, and the evaluation metrics; ``draws``: the anchored draws of the
    structural model (:mod:`.draws`) or None."""
    timing = dict(timing)
    last = phases[-1].name
    nonfinite = np.asarray(states.nonfinite)
    early = bool(np.asarray(states.hyper.early_stop).any())
    epochs = int(np.max(np.asarray(states.epoch)))
    timing["seconds_per_epoch"] = timing.get(f"{last}_seconds", 0.0) / max(timing.get(f"{last}_epochs", 0), 1)
    timing["compile_seconds"] = sum(timing.get(f"{p.name}_compile_seconds", 0.0) for p in phases)
    best_epoch = int(np.max(np.asarray(states.best_epoch))) if early else None
    result = FitResult(config=cfg, spec=spec, params=params, scaler=scaler, seasonal=seasonal, split=split,
                       panel=panel, seeds=seeds, history=history, timing=timing, epochs_run=epochs,
                       best_epoch=best_epoch, stopped_early=bool(np.any(np.asarray(states.stopped)) and not
                                                                 nonfinite.any()),
                       mapping=mapping, draws=draws)
    if nonfinite.any():
        import warnings

        warnings.warn(
            "training stopped early: the loss or a gradient became non-finite (NaN/inf) at epoch "
            f"{epochs}; the last finite parameters were kept. Lower train.learning_rate or check the "
            "data for extreme values.", RuntimeWarning, stacklevel=3)
        result.timing["nonfinite"] = 1.0
    from .evaluate import evaluate

    result.metrics = evaluate(result)
    release_host_memory()  # what training and evaluation freed goes back to the system
    return result
