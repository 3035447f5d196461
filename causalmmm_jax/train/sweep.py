"""Sweeps: a grid of training values × seeds trained as one vmapped program.

``sweep(panel, config, over={"train.learning_rate": [0.003, 0.01], "train.transform_prior_weight": [0.1, 1, 10]},
seeds=2)`` builds one configuration per grid point (the Cartesian product of ``over``, in its
order), one member per point and seed, and trains every member side by side: the members' phases
are stacked (:func:`~.phases.stack_phases`: the values get a member axis, the structure is shared),
so the grid × seeds runs through the same compiled programs as one ensemble ``fit`` of that size
(sharded over ``devices`` when given).  Each point gets its own :class:`~.fit.FitResult` (its seeds
as an ensemble) with its metrics, equal to what ``fit(panel, point_config, seeds=seeds)`` returns up
to float32 reduction order.

Only values can vary: ``train.*`` keys that the compiled program reads as data (learning rates,
loss weights, prior scales, epochs, early stopping, clipping, the NOTEARS schedule).  Keys that
change the program's structure (``train.schedule``, ``train.prior_mode``,
``train.regularize_transforms``), the data split or the model are refused with a ConfigError;
``train.seed`` is the ``seeds`` argument.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np
import pandas as pd

from ..config import Config, TrainConfig
from ..data.panel import ColumnMapping, Panel
from ..errors import ConfigError
from .fit import FitResult, finish_result, initial_params, make_roi_prior, prepare_data
from .phases import default_phases, run_phases, stack_phases
from .result import with_member_axis
from .sharding import Devices

__all__ = ["sweep", "SweepResult", "grid_points"]

#: train keys that change the compiled program's structure (one sweep per value)
_STRUCTURAL = {"schedule": "the learning-rate schedule kind", "prior_mode": "the prior's form",
               "regularize_transforms": "the weight-decay mask", "seed": "use seeds= (members per point)",
               "interval_draws": "the interval draws (a sweep trains none: fit the chosen point)",
               "interval_block_weeks": "the interval draws (a sweep trains none: fit the chosen point)",
               "roi_prior": "the data the ROI priors are resolved against (every point shares them)"}


@dataclass
class SweepResult:
    """One :class:`FitResult` per grid point (``points[i]`` holds point i's swept values), the
    sweep's timing (the whole grid trained together) and the number of seeds per point."""

    points: list[dict[str, Any]]
    results: list[FitResult]
    seeds: tuple[int, ...]
    timing: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.results)

    def frame(self) -> pd.DataFrame:
        """One row per point: the swept values, holdout and train R²/RMSE/MAPE, within-region holdout
        R², media share of the prediction, epochs run and the early-stopping record."""
        rows = []
        for values, r in zip(self.points, self.results):
            m = r.metrics
            rows.append({**values, "holdout_r2": m["holdout"]["r2"], "holdout_rmse": m["holdout"]["rmse"],
                         "holdout_mape": m["holdout"]["mape"],
                         "holdout_r2_within_region": m["holdout"].get("r2_within_region", np.nan),
                         "train_r2": m["train"]["r2"], "train_rmse": m["train"]["rmse"],
                         "media_share": m["attribution"]["media"], "epochs_run": r.epochs_run,
                         "best_epoch": r.best_epoch, "stopped_early": r.stopped_early, "n_seeds": r.n_seeds})
        return pd.DataFrame(rows)

    def best(self, metric: str = "holdout_rmse", *, minimize: bool = True) -> tuple[dict, FitResult]:
        """The point (values, result) with the lowest (``minimize``) or highest ``metric`` of :meth:`frame`."""
        col = self.frame()[metric].to_numpy(float)
        i = int(np.nanargmin(col) if minimize else np.nanargmax(col))
        return self.points[i], self.results[i]


def _train_key(key: str) -> str:
    name = key.split(".", 1)[1] if key.startswith("train.") else key
    sections = ("data.", "model.", "analysis.")
    if key.startswith(sections) or name not in {f.name for f in dataclasses.fields(TrainConfig)}:
        where = "the data split and scaling" if key.startswith("data.") else "the model's structure" \
            if key.startswith("model.") else None
        why = f"it changes {where}" if where else "it is not a training setting"
        raise ConfigError(f"sweep over {key!r}: only train.* values can be swept ({why}); "
                          "run one fit (or one sweep) per value instead.")
    if name in _STRUCTURAL:
        raise ConfigError(f"sweep over {key!r}: it changes {_STRUCTURAL[name]}, part of the compiled program's "
                          "structure; run one sweep per value." if name != "seed" else
                          f"sweep over {key!r}: {_STRUCTURAL[name]}.")
    return name


def grid_points(over: Mapping[str, Sequence]) -> list[dict[str, Any]]:
    """The Cartesian product of ``over`` (keys ``"train.<name>"``), in key order then value order."""
    if not over:
        raise ConfigError("sweep needs at least one key in over= (e.g. {'train.learning_rate': [0.003, 0.01]})")
    names = {}
    for key, values in over.items():
        names[key] = _train_key(key)
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ConfigError(f"sweep over {key!r}: give a non-empty list of values, got {values!r}")
    return [dict(zip(over, combo)) for combo in itertools.product(*over.values())]


def sweep(panel: Panel, config: Config | None = None, *, over: Mapping[str, Sequence], seeds: int = 1,
          seed: int | None = None, mapping: ColumnMapping | None = None, lift=None,
          progress: Callable | None = None, devices: Devices = None) -> SweepResult:
    """Train every point of the grid ``over`` × ``seeds`` seeds as one vmapped program.

    Args:
        panel, config, mapping, lift: as for :func:`~.fit.fit` (one split, scaling and model for all).
        over: ``{"train.<name>": [values...]}``; the grid is their Cartesian product.
        seeds: members per point (seeds ``seed, seed+1, ...``, the same for every point).
        progress: ``callback(phase, epochs_done, epochs_total, chunk_metrics)`` between chunks.
        devices: spread the members (points × seeds), then the regions, over these devices (see
            :func:`~.sharding.layout_for`).
    """
    cfg = config or Config()
    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {seeds}")
    points = grid_points(over)
    configs = []
    for values in points:
        changes = {_train_key(k): v for k, v in values.items()}
        try:
            configs.append(cfg.updated(train=changes))
        except ConfigError as e:
            raise ConfigError(f"sweep point {values}: {e}") from None
    base_seed = cfg.train.seed if seed is None else seed
    seed_list = tuple(base_seed + i for i in range(seeds))
    split, scaler, seasonal, prep, spec, data = prepare_data(panel, cfg, lift)
    configs = [dataclasses.replace(c, model=spec.config) for c in configs]
    per_point = [default_phases(c, early_stop=c.train.early_stopping and split.n_val > 0) for c in configs]
    for j, name in enumerate(p.name for p in per_point[0]):
        n = [int(ph[j].n_epochs) for ph in per_point]
        if 0 in n and any(n):
            raise ConfigError(f"sweep: the {name!r} phase has 0 epochs at some points and not at others "
                              f"({n}); a 0 skips the phase, which only a separate fit can do. Sweep positive values.")
    members = [ph for ph in per_point for _ in seed_list]
    phases = stack_phases(members) if len(members) > 1 else per_point[0]

    t_start = time.perf_counter()
    keys = [jax.random.PRNGKey(s) for s in seed_list]
    # the same starts (and prior centres, the stated ROI priors among them) at every point
    inits, data = initial_params(keys, spec, data, cfg, make_roi_prior(cfg, panel, scaler, split))
    member_keys = keys * len(points)
    run = run_phases(inits * len(points), member_keys, data, spec, phases, devices=devices, progress=progress)
    timing = dict(run.timing)
    timing["fit_seconds"] = time.perf_counter() - t_start
    timing["members"] = float(len(members))

    # one member trains unbatched: give it the member axis every result has
    batched = (lambda t: t) if len(members) > 1 else with_member_axis
    all_params, all_states = batched(run.params), batched(run.states)
    results = []
    for i, c in enumerate(configs):
        idx = np.arange(i * seeds, (i + 1) * seeds)
        params, states = (jax.tree_util.tree_map(lambda a, idx=idx: a[idx], t) for t in (all_params, all_states))
        history = {}
        for k, v in run.history.items():
            h = np.asarray(v)[idx] if len(members) > 1 else np.asarray(v)[None]
            h = h[0] if seeds == 1 else h  # a single member's history has no member axis (as fit's)
            keep = ~np.all(np.isnan(h.reshape(-1, h.shape[-1])), axis=0) if h.shape[-1] else np.zeros(0, bool)
            history[k] = h[..., keep]
        results.append(finish_result(c, spec, params, states, history, timing, phases, scaler=scaler,
                                     seasonal=seasonal, split=split, panel=panel, seeds=seed_list, mapping=mapping))
    return SweepResult(points=points, results=results, seeds=seed_list, timing=timing)

