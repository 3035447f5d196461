"""Reading, building and describing :class:`~causalmmm_jax.data.panel.Panel` objects.

Input is *long*: one row per (region, week).  The panel is the dense ``[R,T]`` grid of sorted
regions × the regular time grid; a cell without a row is masked (``mask False``) and holds 0.0 in
every array.  Nothing is ever filled in from other weeks or regions.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from . import validate as v
from .panel import ColumnMapping, Panel

__all__ = ["read_csv", "panel_from_frame", "panel_from_csv", "panel_to_frame", "panel_summary",
           "format_summary"]

_MISSING_MEDIA = ("error", "zero")
_SHELL_SEP = {",": "','", ";": "';'", "\t": "$'\\t'", "|": "'|'"}


def read_csv(path: str | os.PathLike, *, sep: str = ",") -> pd.DataFrame:
    """Read a CSV (UTF-8, optional BOM) into a DataFrame, with a DataError for an unreadable or empty
    file, or one that looks separated by another delimiter than ``sep``."""
    p = Path(path)
    try:
        df = pd.read_csv(p, sep=sep, encoding="utf-8-sig", low_memory=False)
    except FileNotFoundError:
        raise DataError(f"data file not found: {str(p)!r} (current folder: {os.getcwd()}).") from None
    except IsADirectoryError:
        raise DataError(f"{str(p)!r} is a folder, not a data file.") from None
    except PermissionError:
        raise DataError(f"data file {str(p)!r} cannot be read: permission denied.") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {str(p)!r} is empty: it needs a header line and one row per region "
                        "and week.") from None
    except UnicodeDecodeError as e:
        raise DataError(f"data file {str(p)!r} is not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8 "
                        "CSV.") from None
    except pd.errors.ParserError as e:
        raise DataError(f"data file {str(p)!r} is not a valid CSV file: {e}") from None
    if df.shape[1] == 1:
        header = str(df.columns[0])
        for other in (",", ";", "\t", "|"):
            if other != sep and other in header:
                raise DataError(
                    f"data file {str(p)!r} was read as a single column {header[:80]!r}: it seems to be separated by "
                    f"{other!r}, not {sep!r}. Pass sep={other!r} (CLI: --sep {_SHELL_SEP.get(other, repr(other))}) "
                    "or save the file comma-separated."
                )
    if len(df) == 0:
        raise DataError(f"data file {str(p)!r} has a header but no data rows.")
    # pandas renames repeated header names ('x', 'x.1'): detect them on the raw header line instead
    raw = pd.read_csv(p, sep=sep, encoding="utf-8-sig", header=None, nrows=1).iloc[0].astype(str).tolist()
    dup = sorted({c for c in raw if raw.count(c) > 1})
    if dup:
        raise DataError(f"column name(s) {dup} appear more than once in the header of {str(p)!r}; rename them.")
    return df


def panel_from_csv(path: str | os.PathLike, mapping: ColumnMapping, *, missing_media: str = "error",
                   sep: str = ",") -> Panel:
    """Read ``path`` (see :func:`read_csv`) and build a panel (see :func:`panel_from_frame`)."""
    df = read_csv(path, sep=sep)
    try:
        return panel_from_frame(df, mapping, missing_media=missing_media)
    except DataError as e:
        raise DataError(f"{Path(path).name}: {e}") from None


def panel_from_frame(df: pd.DataFrame, mapping: ColumnMapping, *, missing_media: str = "error") -> Panel:
    """Validate a long frame and build the panel.

    Args:
        df: one row per (region, week) with the columns named by ``mapping``.
        mapping: column roles; media/controls/spend may be glob patterns.
        missing_media: ``"error"`` or ``"zero"`` (NaN media/spend are treated as 0).

    Returns a Panel with float64 ``media [R,T,C]``, ``controls [R,T,K]``, ``target [R,T]``,
    ``spend [R,T,C]`` or None, bool ``mask [R,T]``.  Raises DataError (see ``validate``);
    warns :class:`~causalmmm_jax.data.validate.DataWarning` for a constant-target region and for a
    media column the data cannot measure (all zero, constant over time, active in one region only).
    """
    if missing_media not in _MISSING_MEDIA:
        raise DataError(f"missing_media={missing_media!r} is not valid; choose 'error' or 'zero'.")
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}.")
    if df.shape[1] == 0 or len(df) == 0:
        raise DataError("the data has no rows" + ("" if df.shape[1] else " and no columns")
                        + ": it needs one row per region and week.")
    if any(not isinstance(c, str) for c in df.columns):
        df = df.rename(columns=str)
    dup_cols = df.columns[df.columns.duplicated()].unique().tolist()
    if dup_cols:
        raise DataError(f"column name(s) {dup_cols} appear more than once in the header; rename them.")
    m = v.resolve_mapping(mapping, list(df.columns))

    region_vals, regions = v.parse_regions(df[m.region])
    time_vals, times, _ = v.parse_times(df[m.time])
    v.check_duplicates(region_vals, time_vals, m.region, m.time)

    problems: list[str] = []
    allow_nan = missing_media == "zero"

    read: dict[str, np.ndarray] = {}  # a column that is both media and spend is read and checked once

    def block(cols: tuple[str, ...], role: str, *, allow: bool, nonneg: bool) -> np.ndarray:
        out = np.zeros((len(df), len(cols)), dtype=np.float64)
        for j, c in enumerate(cols):
            if c not in read:
                x, bad = v.numeric_values(df[c], problems)
                problems.extend(v.value_problems(x, bad, c, role, allow_nan=allow, nonnegative=nonneg))
                read[c] = x
            out[:, j] = read[c]
        return out

    y = block((m.target,), "target", allow=False, nonneg=False)[:, 0]
    media = block(m.media, "media", allow=allow_nan, nonneg=True)
    spend = None if m.spend is None else block(m.spend, "spend", allow=allow_nan, nonneg=True)
    controls = block(m.controls, "control", allow=False, nonneg=False)
    if problems:
        head = f"{len(problems)} problems in the data ({v.ROW_NOTE}):\n  - " if len(problems) > 1 else ""
        tail = "" if len(problems) > 1 else f" ({v.ROW_NOTE})"
        raise DataError(head + "\n  - ".join(problems) + tail)

    ri = np.searchsorted(regions, region_vals)
    ti = np.searchsorted(times, time_vals)
    R, T = len(regions), len(times)

    def dense(rows: np.ndarray) -> np.ndarray:  # [N,X] -> [R,T,X], NaN (missing_media="zero") -> 0
        out = np.zeros((R, T, rows.shape[1]), dtype=np.float64)
        out[ri, ti] = np.where(np.isnan(rows), 0.0, rows)
        return out

    mask = np.zeros((R, T), dtype=bool)
    mask[ri, ti] = True
    target = dense(y[:, None])[..., 0]
    v.warn_constant_target(target, mask, regions, m.target)
    media = dense(media)
    v.warn_degenerate_media(media, mask, regions, m.media)
    return Panel(
        media=media, controls=dense(controls), target=target, mask=mask, regions=regions, times=times,
        channels=m.media, control_names=m.controls, target_name=m.target,
        spend=None if spend is None else dense(spend), spend_columns=m.spend,
    )


def panel_to_frame(panel: Panel, *, region: str = "region", time: str = "time") -> pd.DataFrame:
    """Long frame of the observed cells (``mask`` True), sorted by region then time, with columns
    ``region``, ``time``, the target, media, spend and control names of the panel."""
    r, t = np.nonzero(panel.mask)
    cols: dict[str, Any] = {region: panel.regions[r], time: panel.times[t], panel.target_name: panel.target[r, t]}
    for j, c in enumerate(panel.channels):
        cols[c] = panel.media[r, t, j]
    if panel.spend is not None and panel.spend_columns is not None:
        for j, c in enumerate(panel.spend_columns):
            cols[c] = panel.spend[r, t, j]
    for j, c in enumerate(panel.control_names):
        cols[c] = panel.controls[r, t, j]
    return pd.DataFrame(cols)


def _py(x: Any) -> Any:
    """A JSON-friendly Python scalar."""
    if isinstance(x, np.datetime64):
        return str(pd.Timestamp(x).date()) if pd.Timestamp(x).normalize() == pd.Timestamp(x) else str(pd.Timestamp(x))
    return x.item() if isinstance(x, np.generic) else x


def panel_summary(panel: Panel) -> dict[str, Any]:
    """Counts, time range, incomplete regions and per-column min/mean/max over observed cells
    (JSON-serialisable)."""
    mask = panel.mask
    per_region = mask.sum(axis=1)
    incomplete = np.flatnonzero(per_region < panel.n_weeks)
    kind = "date" if np.issubdtype(panel.times.dtype, np.datetime64) else "integer"
    if kind == "date" and panel.n_weeks > 1:
        step_ns = int((panel.times[1] - panel.times[0]).astype(np.int64))
        step: Any = step_ns / 86_400e9
    else:
        step = 1
    stats: dict[str, dict[str, float]] = {}

    def add(name: str, x: np.ndarray) -> None:  # x: [R,T]
        obs = x[mask]
        stats[name] = {"min": float(obs.min()), "mean": float(obs.mean()), "max": float(obs.max())}

    add(panel.target_name, panel.target)
    for j, c in enumerate(panel.channels):
        add(c, panel.media[..., j])
    for j, c in enumerate(panel.spend_columns or ()):
        if c not in panel.channels:  # spend-only data: the media column already has its entry
            add(c, panel.spend[..., j])  # type: ignore[index]
    for j, c in enumerate(panel.control_names):
        add(c, panel.controls[..., j])
    return {
        "n_regions": panel.n_regions,
        "n_weeks": panel.n_weeks,
        "n_channels": panel.n_channels,
        "n_controls": panel.n_controls,
        "target": panel.target_name,
        "channels": list(panel.channels),
        "controls": list(panel.control_names),
        "spend_columns": None if panel.spend_columns is None else list(panel.spend_columns),
        "observed_cells": int(mask.sum()),
        "missing_cells": int((~mask).sum()),
        "incomplete_regions": [_py(panel.regions[i]) for i in incomplete],
        "incomplete_region_weeks": [int(per_region[i]) for i in incomplete],
        "empty_weeks": [_py(panel.times[t]) for t in np.flatnonzero(~mask.any(axis=0))],
        "time": {"kind": kind, "first": _py(panel.times[0]), "last": _py(panel.times[-1]),
                 ("step_days" if kind == "date" else "step"): step},
        "regions": {"first": _py(panel.regions[0]), "last": _py(panel.regions[-1])},
        "columns": stats,
    }


def _list(items: list, limit: int = 8) -> str:
    return ", ".join(map(str, items[:limit])) + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def format_summary(s: dict[str, Any], mapping: ColumnMapping | None = None, source: str | None = None) -> str:
    """Human-readable text for :func:`panel_summary` output (plus an optional ``"split"`` entry)."""
    rc = f"{mapping.region}: " if mapping else ""
    tc = f"{mapping.time}: " if mapping else ""
    t = s["time"]
    step = f"every {t['step_days']:g} days" if t["kind"] == "date" and "step_days" in t else f"{t['kind']} weeks"
    incomplete = ", ".join(f"{r} ({n})" for r, n in
                           zip(s["incomplete_regions"][:10], s["incomplete_region_weeks"][:10]))
    if len(s["incomplete_regions"]) > 10:
        incomplete += f", ... ({len(s['incomplete_regions'])} in all)"
    lines = [
        f"{source or 'data'}: OK",
        f"  regions     {s['n_regions']} ({rc}{s['regions']['first']} ... {s['regions']['last']})",
        f"  weeks       {s['n_weeks']} ({tc}{t['first']} ... {t['last']}, {step})",
        f"  cells       {s['observed_cells'] + s['missing_cells']} = {s['observed_cells']} observed + "
        f"{s['missing_cells']} missing (masked, held at 0, never filled)",
        f"  incomplete  {len(s['incomplete_regions'])} region(s)"
        + (f" (observed weeks of {s['n_weeks']}): {incomplete}" if incomplete else ""),
        f"  empty weeks {_list(s['empty_weeks']) if s['empty_weeks'] else 'none'}",
        f"  target      {s['target']}",
        f"  media       {s['n_channels']}: {_list(s['channels'], 3)}",
        f"  spend       {_list(s['spend_columns'], 3) if s['spend_columns'] else 'none'}",
        f"  controls    {s['n_controls']}" + (f": {_list(s['controls'], 8)}" if s["controls"] else ""),
    ]
    lines = [textwrap.fill(line, 100, subsequent_indent=" " * 14, break_on_hyphens=False) for line in lines]
    if "split" in s:
        sp = s["split"]
        lines.append(f"  split       train {sp['train_weeks']}, validation {sp['validation_weeks']}, "
                     f"holdout {sp['holdout_weeks']} weeks")
    width = max(len(c) for c in s["columns"])
    lines += ["", f"  {'column':<{width}}  {'min':>12}  {'mean':>12}  {'max':>12}"]
    for c, st in s["columns"].items():
        lines.append(f"  {c:<{width}}  {st['min']:>12.6g}  {st['mean']:>12.6g}  {st['max']:>12.6g}")
    return "\n".join(lines)
