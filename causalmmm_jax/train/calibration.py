"""Lift-test calibration: experiments as a term of the training objective.

A lift test says: scaling channel c's media (and spend) by ``multiplier`` during weeks
``[start, end]`` (in some regions, default all) changed the KPI summed over those regions and weeks
by ``lift`` (standard error ``se``).  The model's version of the same experiment is a
deterministic re-run of the training sequence with that channel's scaled media multiplied inside
the window::

    model_lift_e = Σ_{r ∈ regions_e, t ∈ window_e, observed} (ŷ_rt(scaled media) − ŷ_rt(media)) · ȳ_r
    L_calibration = mean_e ((model_lift_e − lift_e) / se_e)²

and ``fit(..., lift=rows)`` adds ``train.calibration_weight · σ̂²/(2N) · E · L_calibration`` to the loss:
the experiments on the likelihood's scale, like the priors (N fit cells, σ̂² the within-region variance
of the scaled KPI, E experiments), so weight 1 counts each test as one measurement with its standard
error (it runs inside the jitted training step; ``vmap`` over experiments).  In the anchored draws
(:mod:`.draws`) each member sees its own draw lift + se·ε of every measured lift.  Needs ``media_scaling = "level"``
(scaling raw media by m scales the model input by m).

The measured-versus-model comparison of a fitted run is
:func:`causalmmm_jax.analysis.calibration.lift_report`.

Input columns (:func:`read_lift_tests`): ``channel`` (media column name; a spend column name is
accepted too), ``start``, ``end`` (inclusive, in the panel's time values: integer weeks or dates),
``multiplier`` (≥ 0; 0 = channel switched off) **or** ``spend_change`` (absolute change of the
channel's total spend over the window and regions; exposure units without spend columns;
multiplier = 1 + spend_change / actual spend), ``lift`` (KPI units), ``se`` (> 0), optional
``region`` (one region id, or several separated by ``;`` for a test over a set of regions; empty = all
regions).  Windows must lie in the training weeks.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from flax import struct

from ..errors import ConfigError, DataError
from ..model.mmm import apply

__all__ = ["LiftData", "read_lift_tests", "lift_data", "lift_loss", "model_lifts", "LIFT_COLUMNS"]

LIFT_COLUMNS = ("channel", "start", "end", "multiplier", "spend_change", "lift", "se", "region")


@struct.dataclass
class LiftData:
    """Device arrays for E experiments on a training sequence of ``S = pad + n_train`` weeks.

    channel ``[E]`` int, window ``[E,S]`` (1 inside the window, padding offset included),
    multiplier ``[E]`` (on the scaled media), region ``[E,R]`` (1 for regions in the test),
    observed ``[R,S]`` (observed training cells), target_mean ``[R]`` (ȳ_r), lift ``[E]``, se ``[E]``.
    """

    channel: jnp.ndarray
    window: jnp.ndarray
    multiplier: jnp.ndarray
    region: jnp.ndarray
    observed: jnp.ndarray
    target_mean: jnp.ndarray
    lift: jnp.ndarray
    se: jnp.ndarray


def _rows(bad: np.ndarray) -> str:
    idx = np.flatnonzero(bad)
    return ", ".join(str(i + 1) for i in idx[:10]) + (f" (and {len(idx) - 10} more)" if len(idx) > 10 else "")


def _region_value(r):
    """None for 'all regions'; integral floats (from CSV columns with blanks) back to int."""
    if r is None or (not isinstance(r, str) and pd.isna(r)) or str(r).strip() == "":
        return None
    if isinstance(r, (float, np.floating)) and float(r).is_integer():
        return int(r)
    return r


def _times(col: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        return col
    num = pd.to_numeric(col, errors="coerce")
    if num.notna().all() and np.all(np.mod(num.to_numpy(float), 1) == 0):
        return num.astype("int64")
    dates = pd.to_datetime(col, errors="coerce")
    if dates.isna().any():
        raise DataError(f"lift tests: column '{name}' must hold integer weeks or dates; rows "
                        f"{_rows(dates.isna().to_numpy())} are neither.")
    return dates


def read_lift_tests(source) -> pd.DataFrame:
    """Read and validate lift tests from a CSV path or a DataFrame (see the module docstring).

    Returns a DataFrame with columns ``channel, start, end, multiplier, spend_change, lift, se,
    region`` (NaN where not given; ``region`` None for all regions).  Raises :class:`DataError`
    naming the column and rows (1-based) of any problem."""
    if isinstance(source, (str, os.PathLike)):
        try:
            df = pd.read_csv(source, encoding="utf-8-sig")
        except FileNotFoundError:
            raise DataError(f"lift-test file {source} not found") from None
    elif isinstance(source, pd.DataFrame):
        df = source.copy()
    else:
        raise DataError(f"lift tests must be a CSV path or a DataFrame, got {type(source).__name__}")
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("channel", "start", "end", "lift", "se") if c not in df.columns]
    if missing or not ({"multiplier", "spend_change"} & set(df.columns)):
        need = missing + ([] if {"multiplier", "spend_change"} & set(df.columns) else ["multiplier or spend_change"])
        raise DataError(f"lift tests: missing column(s) {', '.join(need)}; expected channel, start, end, multiplier "
                        f"(or spend_change), lift, se and optionally region; got {', '.join(df.columns)}")
    if df.empty:
        raise DataError("lift tests: the table has no rows")
    out = pd.DataFrame({"channel": df["channel"].astype(str).str.strip()})
    empty = out["channel"].isin(["", "nan", "None"]).to_numpy()
    if empty.any():
        raise DataError(f"lift tests: empty 'channel' in rows {_rows(empty)}")
    out["start"], out["end"] = _times(df["start"], "start"), _times(df["end"], "end")
    if out["start"].dtype != out["end"].dtype:
        raise DataError("lift tests: 'start' and 'end' must both be integer weeks or both dates")
    if (out["start"] > out["end"]).any():
        raise DataError(f"lift tests: start after end in rows {_rows((out['start'] > out['end']).to_numpy())}")
    for name in ("multiplier", "spend_change", "lift", "se"):
        vals = pd.to_numeric(df[name], errors="coerce") if name in df.columns else pd.Series(np.nan, index=df.index)
        bad = (vals.isna() & df[name].notna()).to_numpy() if name in df.columns else np.zeros(len(df), bool)
        if bad.any():
            raise DataError(f"lift tests: column '{name}' is not numeric in rows {_rows(bad)}")
        out[name] = vals.astype(float).to_numpy()
    both = out["multiplier"].notna() & out["spend_change"].notna()
    neither = out["multiplier"].isna() & out["spend_change"].isna()
    if both.any() or neither.any():
        raise DataError(f"lift tests: give exactly one of 'multiplier' and 'spend_change' per row; rows "
                        f"{_rows((both | neither).to_numpy())} have {'both' if both.any() else 'neither'}")
    checks = [(~np.isfinite(out["lift"]), "'lift' must be a finite number"),
              (~(out["se"] > 0) | ~np.isfinite(out["se"]), "'se' must be a finite number > 0"),
              (out["multiplier"] < 0, "'multiplier' must be >= 0"),
              (~np.isfinite(out["spend_change"]) & out["spend_change"].notna(), "'spend_change' must be finite")]
    for bad, what in checks:
        if np.asarray(bad).any():
            raise DataError(f"lift tests: {what}; rows {_rows(np.asarray(bad))}")
    region = df["region"] if "region" in df.columns else pd.Series([None] * len(df), index=df.index)
    out["region"] = pd.Series([_region_value(r) for r in region], dtype=object)
    return out.reset_index(drop=True)


def _resolve_times(values: pd.Series, times: np.ndarray, name: str) -> np.ndarray:
    is_date = np.issubdtype(times.dtype, np.datetime64)
    if is_date != pd.api.types.is_datetime64_any_dtype(values):
        kind = "dates" if is_date else "integer weeks"
        raise DataError(f"lift tests: '{name}' must be {kind}, like the panel's time column")
    return values.to_numpy().astype(times.dtype) if is_date else values.to_numpy(np.int64)


def lift_data(rows, panel, scaler, split, pad_weeks: int) -> LiftData:
    """Resolve lift tests (a path, DataFrame or :func:`read_lift_tests` output) against the panel
    and the split → :class:`LiftData` for the training sequence (padding offset ``pad_weeks``)."""
    if scaler.media_mode != "level":
        raise ConfigError("lift-test calibration needs data.media_scaling = 'level' (share-of-voice scaling cannot "
                          "express a change in a channel's media level).")
    df = read_lift_tests(rows)
    times = np.asarray(panel.times)
    start, end = _resolve_times(df["start"], times, "start"), _resolve_times(df["end"], times, "end")
    spend_cols = list(panel.spend_columns or ())
    seq = pad_weeks + split.n_train
    e_n, r_n = len(df), panel.n_regions
    channel = np.zeros(e_n, np.int32)
    window = np.zeros((e_n, seq), np.float32)
    region = np.zeros((e_n, r_n), np.float32)
    mult = np.zeros(e_n, np.float32)
    reg_names = [str(r) for r in panel.regions]
    for e, row in df.iterrows():
        ch = row["channel"]
        if ch in panel.channels:
            c = panel.channels.index(ch)
        elif ch in spend_cols:
            c = spend_cols.index(ch)
        else:
            raise DataError(f"lift tests row {e + 1}: unknown channel {ch!r}; channels are {', '.join(panel.channels)}")
        weeks = (times >= start[e]) & (times <= end[e])
        if not weeks.any():
            raise DataError(f"lift tests row {e + 1}: the window {row['start']}..{row['end']} contains no week of "
                            "the panel")
        if np.flatnonzero(weeks).max() >= split.n_train:
            raise DataError(f"lift tests row {e + 1}: the window {row['start']}..{row['end']} reaches past the "
                            f"training weeks (which end at {times[split.n_train - 1]}); calibration uses training "
                            "weeks only.")
        if _region_value(row["region"]) is None:
            region[e] = 1.0
        else:  # one region id, or several separated by ';' (a geo test over a set of regions)
            parts = row["region"].split(";") if isinstance(row["region"], str) else [row["region"]]
            for part in parts:
                if isinstance(part, str) and not part.strip():
                    continue  # "a;b;": a trailing separator
                name = str(_region_value(part.strip() if isinstance(part, str) else part))
                if name not in reg_names:
                    raise DataError(f"lift tests row {e + 1}: unknown region {name!r}")
                region[e, reg_names.index(name)] = 1.0
        if np.isnan(row["multiplier"]):
            src = panel.spend if panel.spend is not None else panel.media
            actual = float((src[:, :, c] * weeks[None, :] * region[e][:, None] * panel.mask).sum())
            if actual <= 0:
                raise DataError(f"lift tests row {e + 1}: {ch} has no spend in the window, so spend_change cannot be "
                                "turned into a multiplier; give 'multiplier' instead.")
            m = 1.0 + row["spend_change"] / actual
            if m < 0:
                raise DataError(f"lift tests row {e + 1}: spend_change {row['spend_change']:g} is more than the actual "
                                f"spend {actual:g} in the window")
        else:
            m = row["multiplier"]
        channel[e], mult[e] = c, m
        window[e, pad_weeks:] = weeks[: split.n_train]
    observed = np.pad(split.train_mask(panel.mask), [(0, 0), (pad_weeks, 0)])[:, :seq].astype(np.float32)
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    return LiftData(channel=jnp.asarray(channel), window=f32(window), multiplier=f32(mult), region=f32(region),
                    observed=f32(observed), target_mean=f32(scaler.target_mean), lift=f32(df["lift"].to_numpy()),
                    se=f32(df["se"].to_numpy()))


def model_lifts(params, inputs, lift: LiftData, spec) -> jnp.ndarray:
    """``[E]`` model-implied lifts (KPI units) of the experiments (deterministic forward)."""
    base = apply(params, inputs, spec).prediction
    weight = lift.observed * lift.target_mean[:, None]

    def one(c, win, m, reg):
        onehot = jax.nn.one_hot(c, spec.n_channels, dtype=inputs.media.dtype)
        factor = 1.0 + (m - 1.0) * reg[:, None, None] * win[None, :, None] * onehot[None, None, :]
        pred = apply(params, inputs.replace(media=inputs.media * factor), spec).prediction
        return ((pred - base) * weight * reg[:, None] * win[None, :]).sum()

    return jax.vmap(one)(lift.channel, lift.window, lift.multiplier, lift.region)


def lift_loss(params, data, spec) -> jnp.ndarray:
    """``mean_e ((model_lift_e − lift_e) / se_e)²`` for ``data.lift`` (jit/grad-safe)."""
    lift = data.lift
    z = (model_lifts(params, data.inputs, lift, spec) - lift.lift) / lift.se
    return jnp.mean(z * z)
