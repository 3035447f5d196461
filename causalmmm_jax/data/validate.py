"""Checks on a long (one row per region and week) input frame, and their messages.

Every problem raises :class:`~causalmmm_jax.errors.DataError` whose message names the column, shows
a few offending rows or regions, and says what to do.  Rows are numbered from 1 below the header
(``ROW_NOTE``), so in a CSV file row ``n`` is on line ``n + 1``.  A region whose target is constant
is not an error: it emits a :class:`DataWarning`.
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from ..config import DataConfig
from ..errors import DataError
from .panel import ColumnMapping

__all__ = [
    "DataWarning",
    "ROW_NOTE",
    "expand_patterns",
    "resolve_mapping",
    "numeric_values",
    "value_problems",
    "parse_regions",
    "parse_times",
    "check_duplicates",
    "warn_constant_target",
    "warn_degenerate_media",
    "split_sizes",
    "check_split_feasible",
]

ROW_NOTE = "rows are counted from 1 below the header; in a CSV file row n is line n+1"
_GLOB_CHARS = set("*?[")
_SHOW = 5  # offending rows / values shown in a message
_WEEK_NS = 7 * 86_400 * 10**9


class DataWarning(UserWarning):
    """Suspicious but usable data (e.g. a region whose target never changes)."""


def _rows(positions: np.ndarray, values: Sequence | np.ndarray | None = None) -> str:
    """``"rows 3, 9 (+4 more)"`` or, with values, ``"row 3: 'abc', row 9: 'x'"`` (0-based positions in)."""
    pos = np.asarray(positions, dtype=np.int64)
    if values is None:
        shown = ", ".join(str(p + 1) for p in pos[:_SHOW])
        text = f"row{'s' if len(pos) > 1 else ''} {shown}"
    else:
        vals = [x.item() if isinstance(x, np.generic) else x for x in list(values)[:_SHOW]]
        text = ", ".join(f"row {p + 1}: {x!r}" for p, x in zip(pos[:_SHOW], vals))
    return text + (f" (+{len(pos) - _SHOW} more)" if len(pos) > _SHOW else "")


def _columns_list(columns: Sequence[str], limit: int = 40) -> str:
    shown = ", ".join(repr(c) for c in list(columns)[:limit])
    return shown + (f", ... ({len(columns)} columns)" if len(columns) > limit else "")


def expand_patterns(items: Sequence[str], columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """Expand names and glob patterns (``impressions_*``) against ``columns``.

    Each item is taken in turn: an exact name keeps its position, a pattern (containing ``*``, ``?``
    or ``[``) expands to its matches in the file's column order; repeats are dropped.
    Returns ``(expanded, unmatched_items)``.
    """
    out: list[str] = []
    unmatched: list[str] = []
    for item in items:
        if item in columns:
            matches = [item]
        elif _GLOB_CHARS & set(item):
            matches = [c for c in columns if fnmatch.fnmatchcase(c, item)]
        else:
            matches = []
        if not matches:
            unmatched.append(item)
        out.extend(m for m in matches if m not in out)
    return out, unmatched


def resolve_mapping(mapping: ColumnMapping, columns: Sequence[str]) -> ColumnMapping:
    """The mapping with every pattern expanded to column names, after checking that all columns
    exist, no column has two roles, and spend columns pair one-to-one with media columns."""
    columns = list(columns)
    if not mapping.media:
        raise DataError("no media columns given: name at least one media column or pattern "
                        "(CLI: --media 'impressions_*').")
    problems: list[str] = []
    for role, name in (("region", mapping.region), ("time", mapping.time), ("target", mapping.target)):
        if name not in columns:
            problems.append(f"{role} column {name!r} not found")
    expanded: dict[str, list[str]] = {}
    for role, items in (("media", mapping.media), ("controls", mapping.controls), ("spend", mapping.spend or ())):
        expanded[role], unmatched = expand_patterns(items, columns)
        for item in unmatched:
            kind = "pattern" if _GLOB_CHARS & set(item) else "column"
            problems.append(f"{role} {kind} {item!r} " + ("matches no column" if kind == "pattern" else "not found"))
    if problems:
        raise DataError(
            "; ".join(problems) + f". Available columns: {_columns_list(columns)}. Names are case-sensitive; "
            "patterns are shell globs (* any text, ? one character), comma-separated on the command line."
        )
    roles: dict[str, list[str]] = {}
    for role, cols in (("region", [mapping.region]), ("time", [mapping.time]), ("target", [mapping.target]),
                       *expanded.items()):
        for c in cols:
            roles.setdefault(c, []).append(role)
    # a spend column may also be its own channel's media column (spend-only data: spend is the exposure)
    clashes = {c: r for c, r in roles.items() if len(r) > 1 and sorted(r) != ["media", "spend"]}
    if clashes:
        desc = "; ".join(f"column {c!r} is used as {' and '.join(r)}" for c, r in clashes.items())
        raise DataError(f"{desc}. Each column can have one role only (a spend column may also be its own "
                        "channel's media column): narrow the names or patterns so they do not overlap.")
    spend = expanded["spend"] or None
    if spend is not None and len(spend) != len(expanded["media"]):
        raise DataError(
            f"spend columns pair with media columns by order, but there are {len(spend)} spend column(s) "
            f"{spend} for {len(expanded['media'])} media column(s) {expanded['media']}. Give one spend column "
            "per media column, in the same order, or no spend columns."
        )
    if spend is not None:
        crossed = [(m, s) for m, s in zip(expanded["media"], spend) if s != m and s in expanded["media"]]
        if crossed:
            desc = "; ".join(f"media column {m!r} is paired with spend column {s!r}, which is another "
                             f"channel's media column" for m, s in crossed)
            raise DataError(f"{desc}. A column that is both media and spend must be its own channel's spend: "
                            "list spend columns in the same order as the media columns.")
    return ColumnMapping(region=mapping.region, time=mapping.time, target=mapping.target,
                         media=tuple(expanded["media"]), controls=tuple(expanded["controls"]), spend=
                         None if spend is None else tuple(spend))


def numeric_values(series: pd.Series, problems: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``[N]`` float64 values of a column and an ``[N]`` bool mask of non-numeric cells (set to NaN).

    A message naming the column and showing examples is appended to ``problems`` if any cell is
    not a number."""
    if ptypes.is_bool_dtype(series) or ptypes.is_numeric_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(len(series), dtype=bool)
    coerced = pd.to_numeric(series, errors="coerce")
    bad = (coerced.isna() & series.notna()).to_numpy()
    if bad.any():
        pos = np.flatnonzero(bad)
        problems.append(
            f"column {series.name!r} must be numeric but {len(pos)} value(s) are not numbers: "
            f"{_rows(pos, series.iloc[pos[:_SHOW]].tolist())}. Remove thousands separators, units and text "
            "(decimal point '.'), or check the column mapping."
        )
    return coerced.to_numpy(dtype=np.float64, na_value=np.nan), bad


_NAN_HINT = {
    "target": "The target must be present on every row: drop the rows without a target (those weeks are then "
              "masked, never filled from other weeks) or fill them yourself.",
    "control": "Controls must be present on every row: fill them or drop those rows (dropped rows become "
               "masked weeks).",
    "media": "Missing media is an error by default. If an empty cell means no activity, use "
             "missing_media='zero' (CLI: --missing-media zero), which treats NaN media and spend as 0; "
             "otherwise fill the values or drop those rows (masked weeks).",
}
_NAN_HINT["spend"] = _NAN_HINT["media"]


def value_problems(values: np.ndarray, skip: np.ndarray, column: str, role: str, *, allow_nan: bool,
                   nonnegative: bool) -> list[str]:
    """Messages about NaN, infinite or negative cells in ``values`` ``[N]`` (cells in ``skip`` were
    already reported as non-numeric).  ``role``: target, media, spend or control."""
    out = []
    nan = np.isnan(values) & ~skip
    if nan.any() and not allow_nan:
        pos = np.flatnonzero(nan)
        out.append(f"{role} column {column!r} has {len(pos)} missing (empty/NaN) value(s) at {_rows(pos)}. "
                   + _NAN_HINT[role])
    inf = np.isinf(values)
    if inf.any():
        pos = np.flatnonzero(inf)
        out.append(f"{role} column {column!r} has {len(pos)} infinite value(s): {_rows(pos, values[pos])}. "
                   "Replace them with finite numbers (often a division by zero upstream).")
    neg = values < 0
    if nonnegative and neg.any():
        pos = np.flatnonzero(neg)
        out.append(f"{role} column {column!r} has {len(pos)} negative value(s): {_rows(pos, values[pos])}. "
                   f"{role.capitalize()} must be >= 0: fix the values or check the column mapping.")
    return out


def parse_regions(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Region ids per row ``[N]`` and the sorted distinct ids ``[R]`` (int/float kept, text as ``str``)."""
    col = series.name
    na = series.isna().to_numpy()
    if na.any():
        raise DataError(f"region column {col!r} has {int(na.sum())} empty value(s) at {_rows(np.flatnonzero(na))}. "
                        "Every row needs a region id: fill or drop those rows.")
    if ptypes.is_numeric_dtype(series) and not ptypes.is_bool_dtype(series):
        values = series.to_numpy()
    else:
        raw = series.to_numpy(dtype=object)
        not_str = np.array([not isinstance(v, str) for v in raw])
        if not_str.any():
            pos = np.flatnonzero(not_str)
            raise DataError(f"region column {col!r} mixes text and other values ({_rows(pos, raw[pos])}). Use "
                            "one kind of region id: all integers or all text.")
        values = raw.astype(str)
    return values, np.unique(values)


def parse_times(series: pd.Series) -> tuple[np.ndarray, np.ndarray, str]:
    """Time values per row ``[N]``, the regular grid ``[T]`` and its kind (``"integer"`` or ``"date"``).

    Integers: the grid is every integer from the first to the last.  Dates: the grid runs from the
    first to the last date with the smallest step between distinct dates; every step must be a
    multiple of it (or, failing that, of 7 days: weekly data with gaps).  Values are int64 or datetime64[ns]."""
    col = series.name
    na = series.isna().to_numpy()
    if na.any():
        raise DataError(f"time column {col!r} has {int(na.sum())} empty value(s) at {_rows(np.flatnonzero(na))}. "
                        "Every row needs a week: fill or drop those rows.")
    if ptypes.is_bool_dtype(series):
        raise DataError(f"time column {col!r} holds true/false values; use integer week numbers or dates.")
    if not ptypes.is_datetime64_any_dtype(series) and not ptypes.is_numeric_dtype(series):
        as_num = pd.to_numeric(series, errors="coerce")
        if as_num.notna().all():
            series = as_num.rename(col)
        elif as_num.notna().mean() >= 0.5:  # mostly week numbers: show the values that are not
            pos = np.flatnonzero(as_num.isna().to_numpy())
            raise DataError(f"time column {col!r} holds week numbers but {len(pos)} value(s) are not numbers: "
                            f"{_rows(pos, series.iloc[pos[:_SHOW]].tolist())}. Use integer week numbers or dates "
                            "(YYYY-MM-DD) throughout.")
    if ptypes.is_numeric_dtype(series):
        x = series.to_numpy(dtype=np.float64)
        frac = x != np.round(x)
        if frac.any():
            pos = np.flatnonzero(frac)
            raise DataError(f"time column {col!r} has non-integer numbers: {_rows(pos, x[pos])}. Use integer week "
                            "numbers (0, 1, 2, ...) or dates (YYYY-MM-DD).")
        values = x.astype(np.int64)
        grid = np.arange(values.min(), values.max() + 1, dtype=np.int64)
        _check_dense(col, len(np.unique(values)), grid, "integer")
        return values, grid, "integer"
    if ptypes.is_datetime64_any_dtype(series):
        dt = series
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas "could not infer format" chatter
            dt = pd.to_datetime(series, errors="coerce")
        bad = dt.isna().to_numpy()
        if bad.any():
            pos = np.flatnonzero(bad)
            raise DataError(
                f"time column {col!r} has {len(pos)} value(s) that are neither integers nor dates in the format "
                f"of the first value {series.iloc[0]!r}: {_rows(pos, series.iloc[pos[:_SHOW]].tolist())}. Use one "
                "date format throughout (ISO YYYY-MM-DD is safest) or integer week numbers."
            )
    if getattr(dt.dt, "tz", None) is not None:
        dt = dt.dt.tz_convert(None)
    values = dt.to_numpy().astype("datetime64[ns]")
    return values, _date_grid(col, values), "date"


def _fmt_step(ns: int) -> str:
    day = 86_400 * 10**9
    return f"{ns // day} day(s)" if ns % day == 0 else str(pd.Timedelta(ns, unit="ns"))


def _date_grid(col: str, values: np.ndarray) -> np.ndarray:
    uniq = np.unique(values)
    if len(uniq) == 1:
        return uniq
    diffs = np.diff(uniq).astype(np.int64)
    step = int(diffs.min())
    off = np.flatnonzero(diffs % step != 0)
    if len(off) and not (diffs % _WEEK_NS).any():
        step, off = _WEEK_NS, off[:0]  # weekly data whose smallest gap is 2+ weeks (e.g. 14 and 21 days)
    if len(off):
        i, j = int(np.argmin(diffs)), int(off[0])
        day = lambda v: str(pd.Timestamp(v)).removesuffix(" 00:00:00")  # noqa: E731
        raise DataError(
            f"time column {col!r} has irregular date steps: the smallest step is {_fmt_step(step)} "
            f"({day(uniq[i])} -> {day(uniq[i + 1])}) but {day(uniq[j])} -> {day(uniq[j + 1])} is "
            f"{_fmt_step(int(diffs[j]))}, not a multiple of it. Dates must lie on a regular grid (normally "
            "weekly, all on the same weekday); align them, or use integer week numbers."
        )
    n = int((uniq[-1] - uniq[0]).astype(np.int64) // step) + 1
    grid = uniq[0] + np.arange(n, dtype=np.int64) * np.timedelta64(step, "ns")
    _check_dense(col, len(uniq), grid, "date")
    return grid.astype("datetime64[ns]")


def _check_dense(col: str, n_distinct: int, grid: np.ndarray, kind: str) -> None:
    """Refuse a grid that is mostly empty (e.g. YYYYMMDD integers read as week numbers)."""
    if len(grid) > 104 and len(grid) > 4 * n_distinct:
        hint = (" If these are dates written as numbers (e.g. 20240108), convert them to YYYY-MM-DD dates."
                if kind == "integer" else "")
        raise DataError(
            f"time column {col!r} has {n_distinct} distinct values spread over a grid of {len(grid)} "
            f"{'integers' if kind == 'integer' else 'steps'} from {grid[0]} to {grid[-1]}: most weeks would be "
            f"empty.{hint} Use consecutive week numbers or regularly spaced dates."
        )


def check_duplicates(regions: np.ndarray, times: np.ndarray, region_col: str, time_col: str) -> None:
    """Raise if a (region, time) pair appears on more than one row (``regions``, ``times``: ``[N]``)."""
    frame = pd.DataFrame({"r": regions, "t": times})
    dup = frame.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    groups = frame[dup].groupby(["r", "t"], sort=False).indices
    show_t = lambda t: str(pd.Timestamp(t)).removesuffix(" 00:00:00") if isinstance(  # noqa: E731
        t, (pd.Timestamp, np.datetime64)) else repr(t.item() if isinstance(t, np.generic) else t)
    shown = [f"{region_col}={r!r}, {time_col}={show_t(t)} at {_rows(np.flatnonzero(dup)[idx])}"
             for (r, t), idx in list(groups.items())[:_SHOW]]
    more = f" (+{len(groups) - _SHOW} more pairs)" if len(groups) > _SHOW else ""
    raise DataError(
        f"{len(groups)} ({region_col}, {time_col}) pair(s) appear on more than one row: {'; '.join(shown)}{more}. "
        "The data must have one row per region and week: aggregate or remove the duplicates "
        f"({ROW_NOTE})."
    )


def warn_constant_target(target: np.ndarray, mask: np.ndarray, regions: np.ndarray, name: str) -> None:
    """Warn (:class:`DataWarning`) about regions whose observed target ``[R,T]`` never changes."""
    hi = np.where(mask, target, -np.inf).max(axis=1)
    lo = np.where(mask, target, np.inf).min(axis=1)
    const = np.flatnonzero(hi == lo)
    if len(const):
        ids = ", ".join(f"{regions[i].item()!r} (= {lo[i]:g})" for i in const[:_SHOW])
        more = f" (+{len(const) - _SHOW} more)" if len(const) > _SHOW else ""
        warnings.warn(
            f"target {name!r} is constant in {len(const)} region(s): {ids}{more}. Such a region carries no "
            "signal about media effects; check the data or drop the region.",
            DataWarning, stacklevel=4,
        )


def warn_degenerate_media(media: np.ndarray, mask: np.ndarray, regions: np.ndarray, channels: Sequence[str]) -> None:
    """Warn (:class:`DataWarning`, one per column) about media columns ``[R,T,C]`` whose effect the
    data cannot measure, over the observed cells: zero in every row; never changing over time within
    a region (the baselines absorb it); non-zero in only one of several regions."""
    obs = mask[..., None]
    hi = np.where(obs, media, -np.inf).max(axis=1)  # [R, C]
    lo = np.where(obs, media, np.inf).min(axis=1)
    seen = np.asarray(mask.any(axis=1))[:, None]  # regions with any observed week
    active: np.ndarray = np.asarray(((media != 0) & obs).any(axis=1))  # [R, C]
    for c, name in enumerate(channels):
        if not active[:, c].any():
            msg = ("is zero in every row: it contributes nothing and its effect cannot be estimated from these "
                   "data (contribution and ROI come out 0); check the column or drop it")
        elif np.all((hi[:, c] == lo[:, c]) | ~seen[:, 0]):
            vals = np.unique(lo[seen[:, 0], c])
            what = f"has the same value ({vals[0]:g}) in every row" if len(vals) == 1 else \
                "never changes over time within a region"
            msg = (f"{what}: its effect cannot be told apart from the regions' baselines, so its contribution "
                   "is set by the model's priors, not by the data; treat its contribution and ROI as unmeasured")
        elif len(regions) > 1 and active[:, c].sum() == 1:
            r = regions[int(np.flatnonzero(active[:, c])[0])].item()
            msg = (f"is non-zero in only one of {len(regions)} regions ({r!r}): its effect is estimated from that "
                   "region alone")
        else:
            continue
        warnings.warn(f"media column {name!r} {msg}.", DataWarning, stacklevel=4)


def split_sizes(n_weeks: int, data_config: DataConfig) -> tuple[int, int, int]:
    """``(train, validation, holdout)`` week counts on a grid of ``n_weeks``: the holdout is the last
    ``holdout_weeks`` (or ``int(n_weeks * holdout_ratio)``) weeks, validation precedes it, and
    ``train`` counts the weeks before both (the fit block; ``split.Split.n_fit``)."""
    from .split import holdout_and_validation

    holdout, validation = holdout_and_validation(n_weeks, data_config)
    return n_weeks - holdout - validation, validation, holdout


def check_split_feasible(n_weeks: int, data_config: DataConfig) -> tuple[int, int, int]:
    """Raise DataError if ``n_weeks`` cannot hold the split; else return :func:`split_sizes`."""
    train, validation, holdout = split_sizes(n_weeks, data_config)
    source = (f"data.holdout_weeks={holdout}" if data_config.holdout_weeks is not None
              else f"data.holdout_ratio={data_config.holdout_ratio} -> {holdout} holdout weeks")
    if train <= 0:
        raise DataError(
            f"the data has {n_weeks} weeks but the holdout ({source}) plus data.validation_weeks={validation} "
            "leave no training weeks. Lower the holdout or validation weeks, or provide more weeks."
        )
    if train < data_config.min_train_weeks:
        raise DataError(
            f"the data has {n_weeks} weeks; after the holdout ({source}) and data.validation_weeks={validation}, "
            f"{train} training weeks remain, fewer than data.min_train_weeks={data_config.min_train_weeks}. "
            "Provide more weeks, shrink the holdout/validation, or lower data.min_train_weeks."
        )
    return train, validation, holdout
