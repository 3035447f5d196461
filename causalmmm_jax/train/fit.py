"""``fit(panel, config) -> FitResult``: split, scale, initialise, train (one or N seeds), evaluate.

Training phases: the structural pre-fit (constant coefficients, ``train.static_epochs``), the warm
start (``train.warm_start_epochs``), then the main phase with early stopping on the validation
block; every phase runs as jit-compiled ``lax.scan`` chunks (vmapped over seeds for ensembles)."""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from .._version import __version__
from ..config import Config, resolve_model_config
from ..data.panel import ColumnMapping, Panel
from ..data.scaling import ScalerState, fit_scaler
from ..data.seasonality import SeasonalProfile, fit_seasonality
from ..data.split import Split, temporal_split
from ..model.data_init import init_from_data, within_region_variance
from ..model.mmm import Decomposition, ModelSpec, apply, dummy_inputs, knot_count, transform_params
from .ensemble import batched_runner, place_on_devices, stack_trees, unstack_tree
from .loop import METRIC_NAMES, TrainState, init_state
from .objective import TrainData, TransformPrior
from .prepare import Prepared, prepare, slice_inputs

__all__ = ["FitResult", "fit", "train_data_for", "prepare_data", "initial_params", "with_static_coefficients",
           "chunk_length"]


@dataclass
class FitResult:
    """Everything a fitted run holds.  ``params`` has a leading seed axis ``[N, ...]`` when
    ``n_seeds > 1``; ``decomposition`` is the continuous run over all weeks (scaled units,
    seed axis first for ensembles)."""

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

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    @property
    def pad(self) -> int:
        return self.config.data.pad_weeks

    def prepared(self, panel: Panel | None = None) -> Prepared:
        return prepare(panel or self.panel, self.scaler, self.seasonal, self.pad)

    def decompose(self, panel: Panel | None = None) -> Decomposition:
        """Deterministic forward over ``panel`` (default: the fitted panel, all weeks), padding
        removed.  Ensemble: leading seed axis."""
        prep = self.prepared(panel)
        run = jax.jit(apply, static_argnums=2)
        if self.n_seeds > 1:
            d = jax.vmap(lambda p: run(p, prep.inputs, self.spec))(self.params)
            return jax.tree_util.tree_map(lambda a: a[:, :, self.pad:] if a.ndim >= 3 else a, d)
        d = run(self.params, prep.inputs, self.spec)
        return jax.tree_util.tree_map(lambda a: a[:, self.pad:] if a.ndim >= 2 else a, d)


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
    choices resolved, ``spec.n_knots`` the trend knots over the training weeks)."""
    split = temporal_split(panel.n_weeks, cfg.data)
    fit_cells = split.fit_mask(panel.mask)
    scaler = fit_scaler(panel, fit_cells, cfg.data)
    seasonal = fit_seasonality(panel.target, fit_cells, cfg.data.seasonal_period)
    prep = prepare(panel, scaler, seasonal, cfg.data.pad_weeks)
    model_cfg = resolve_model_config(cfg.model, split.n_fit)
    n_knots = knot_count(split.n_train, model_cfg.trend_knot_weeks) if model_cfg.trend == "knots" else 0
    spec = ModelSpec(panel.n_regions, panel.n_channels, panel.n_controls, model_cfg, n_knots=n_knots)
    if lift is not None:
        from ..analysis.calibration import lift_data

        lift = lift_data(lift, panel, scaler, split, cfg.data.pad_weeks)
    return split, scaler, seasonal, prep, spec, train_data_for(prep, split, panel.mask, lift)


def initial_params(keys, spec: ModelSpec, data: TrainData, cfg: Config) -> tuple[list[dict], TrainData]:
    """Data-driven initial parameters per seed key, and ``data`` with the priors' centres attached."""
    inits = [init_from_data(jax.random.fold_in(k, 0), spec, data.inputs, data.target, data.fit_w,
                            cfg.model.init_media_share) for k in keys]
    return inits, data.replace(prior=make_transform_prior(inits[0], spec, data))


def make_transform_prior(params, spec: ModelSpec, data: TrainData) -> TransformPrior:
    """Hill prior centres = the data-driven initial values (the same for every seed); variance scale =
    the within-region variance of the scaled KPI over the fit cells."""
    tp = transform_params(params, spec)
    w = np.asarray(data.fit_w, np.float64)
    y = np.asarray(data.target, np.float64)
    adst = np.asarray(jax.jit(apply, static_argnums=2)(params, data.inputs, spec).adstocked, np.float64)
    mean_a = (adst * w[..., None]).sum((0, 1)) / max(w.sum(), 1.0)
    var = within_region_variance(y, w)
    ratio = np.log(np.asarray(tp["hill_g"], np.float64)) - np.log(mean_a + 1e-8)
    return TransformPrior(log_ratio0=jnp.asarray(ratio, jnp.float32), a0=jnp.asarray(tp["hill_a"]),
                          var=jnp.float32(var))


def with_static_coefficients(params, static_spec: ModelSpec, *, batched: bool = False) -> dict:
    """``params`` with the burn-in's stable β and γ set to the structural fit's constant
    coefficients, so the full model starts where the pre-fit ended (``batched``: ``params``
    stacked over ensemble members)."""
    params = dict(params)  # every other leaf is handed over as it is
    params.update(_static_coefficients(params, static_spec, batched))
    return params


@functools.partial(jax.jit, static_argnums=(1, 2))  # one compiled program, not hundreds of eager ops
def _static_coefficients(params, static_spec: ModelSpec, batched: bool) -> dict:
    """``{"stable_media_coeff": β, ["stable_ctrl_coeff": γ]}``: the structural fit's constants."""
    if batched:
        return jax.vmap(lambda p: _static_coefficients(p, static_spec, False))(params)
    d = apply(params, dummy_inputs(static_spec), static_spec)
    out = {"stable_media_coeff": d.media_coef[0, 0]}
    if "stable_ctrl_coeff" in params:
        out["stable_ctrl_coeff"] = d.control_coef[0, 0]
    return out


def chunk_length(tcfg, phase: str) -> int:
    """Epochs per compiled chunk: ``chunk_epochs``, shortened for short runs; the warm start and
    the main phase use the same length so that they share one program."""
    if phase == "static":
        return min(tcfg.chunk_epochs, max(tcfg.static_epochs, 1))
    return min(tcfg.chunk_epochs, max(tcfg.warm_start_epochs, tcfg.epochs, 1))


def _run_phase(states: TrainState, data: TrainData, spec: ModelSpec, cfg: Config, *, phase: str, n_epochs: int,
               batched: bool, progress: Callable | None, timing: dict, tag: str):
    if n_epochs <= 0:  # nothing to train (e.g. epochs = 0: the data-driven start is the model)
        timing.update({f"{tag}_compile_seconds": 0.0, f"{tag}_seconds": 0.0, f"{tag}_epochs": 0})
        return states, {k: np.zeros(np.shape(states.epoch) + (0,), np.float32) for k in METRIC_NAMES}
    length = chunk_length(cfg.train, phase)
    runner = batched_runner(spec, length=length, batched=batched)
    t0 = time.perf_counter()
    compiled = runner.lower(states, data).compile()
    timing[f"{tag}_compile_seconds"] = time.perf_counter() - t0
    history: dict[str, list] = {k: [] for k in METRIC_NAMES}
    run_time, done = 0.0, 0
    for _ in range(max(1, math.ceil(n_epochs / length))):
        t0 = time.perf_counter()
        states, m = compiled(states, data)
        m = jax.device_get(m)  # the one host sync per chunk
        run_time += time.perf_counter() - t0
        for k in METRIC_NAMES:
            history[k].append(np.asarray(m[k]))
        done = int(np.max(np.asarray(states.epoch)))
        if progress is not None:
            progress(tag, done, n_epochs, {k: np.asarray(v) for k, v in m.items()})
        if bool(np.all(np.asarray(states.stopped))):
            break
    timing[f"{tag}_seconds"] = run_time
    timing[f"{tag}_epochs"] = done
    hist = {k: np.concatenate(v, axis=-1) for k, v in history.items()}
    valid = ~np.all(np.isnan(hist["loss"].reshape(-1, hist["loss"].shape[-1])), axis=0)
    return states, {k: v[..., valid] for k, v in hist.items()}


def fit(panel: Panel, config: Config | None = None, *, seeds: int = 1, seed: int | None = None,
        mapping: ColumnMapping | None = None, lift=None, progress: Callable | None = None,
        devices: int | None = None) -> FitResult:
    """Fit the model.

    Args:
        panel: the data.  config: :class:`Config` (default: ``Config()``).
        seeds: ensemble size N; seeds ``seed, seed+1, ...`` are trained in one compiled program
            (``vmap`` over the seed axis, sharded over ``devices`` when given).
        seed: overrides ``config.train.seed``.
        lift: calibration rows (see :mod:`causalmmm_jax.analysis.calibration`).
        progress: ``callback(phase, epochs_done, epochs_total, chunk_metrics)`` called between chunks.
    """
    cfg = config or Config()
    tcfg = cfg.train
    base_seed = tcfg.seed if seed is None else seed
    seed_list = tuple(base_seed + i for i in range(seeds))
    split, scaler, seasonal, prep, spec, data = prepare_data(panel, cfg, lift)
    cfg = dataclasses.replace(cfg, model=spec.config)  # the run records the resolved choices

    timing: dict[str, float] = {}
    t_start = time.perf_counter()
    keys = [jax.random.PRNGKey(s) for s in seed_list]
    inits, data = initial_params(keys, spec, data, cfg)
    batched = seeds > 1
    stack = stack_trees if batched else (lambda xs: xs[0])
    unstack = (lambda t: unstack_tree(t, seeds)) if batched else (lambda t: [t])
    params = stack(inits)
    early = tcfg.early_stopping and split.n_val > 0
    history: dict[str, np.ndarray] = {}
    if tcfg.static_epochs > 0:
        static_spec = dataclasses.replace(spec, static=True)
        states = stack([init_state(p, jax.random.fold_in(k, 3), tcfg, static=True) for p, k in zip(inits, keys)])
        states = place_on_devices(states, devices) if batched else states
        states, hs = _run_phase(states, data, static_spec, cfg, phase="static", n_epochs=tcfg.static_epochs,
                                batched=batched, progress=progress, timing=timing, tag="static")
        history.update({f"static_{k}": v for k, v in hs.items()})
        params = with_static_coefficients(states.params, static_spec, batched=batched)
    if tcfg.warm_start_epochs > 0:
        states = stack([init_state(p, jax.random.fold_in(k, 1), tcfg, warm=True) for p, k in zip(unstack(params), keys)])
        states = place_on_devices(states, devices) if batched else states
        states, hw = _run_phase(states, data, spec, cfg, phase="warm", n_epochs=tcfg.warm_start_epochs,
                                batched=batched, progress=progress, timing=timing, tag="warm")
        history.update({f"warm_{k}": v for k, v in hw.items()})
        params = states.params
    states = stack([init_state(p, jax.random.fold_in(k, 2), tcfg, early_stop=early)
                    for p, k in zip(unstack(params), keys)])
    states = place_on_devices(states, devices) if batched else states
    states, hm = _run_phase(states, data, spec, cfg, phase="main", n_epochs=tcfg.epochs,
                            batched=batched, progress=progress, timing=timing, tag="main")
    history.update(hm)
    nonfinite = np.asarray(states.nonfinite)
    if early:
        # restore the best validation parameters (per seed)
        use_best = jnp.isfinite(states.best_metric)
        final = jax.tree_util.tree_map(
            lambda b, p: jnp.where(use_best.reshape(use_best.shape + (1,) * (b.ndim - use_best.ndim)), b, p),
            states.best_params, states.params)
    else:
        final = states.params
    timing["fit_seconds"] = time.perf_counter() - t_start
    epochs = int(np.max(np.asarray(states.epoch)))
    timing["seconds_per_epoch"] = timing["main_seconds"] / max(timing["main_epochs"], 1)
    timing["compile_seconds"] = (timing["main_compile_seconds"] + timing.get("warm_compile_seconds", 0.0)
                                 + timing.get("static_compile_seconds", 0.0))
    best_epoch = int(np.max(np.asarray(states.best_epoch))) if early else None
    result = FitResult(config=cfg, spec=spec, params=final, scaler=scaler, seasonal=seasonal, split=split,
                       panel=panel, seeds=seed_list, history=history, timing=timing, epochs_run=epochs,
                       best_epoch=best_epoch, stopped_early=bool(np.any(np.asarray(states.stopped)) and not
                                                                 nonfinite.any()),
                       mapping=mapping)
    if nonfinite.any():
        import warnings

        warnings.warn(
            "training stopped early: the loss or a gradient became non-finite (NaN/inf) at epoch "
            f"{epochs}; the last finite parameters were kept. Lower train.learning_rate or check the "
            "data for extreme values.", RuntimeWarning, stacklevel=2)
        result.timing["nonfinite"] = 1.0
    from .evaluate import evaluate

    result.metrics = evaluate(result)
    return result
