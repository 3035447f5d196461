"""Field validators, migrations of older keys and the section mixin of :mod:`causalmmm_jax.config`
(private).

Each validator returns the dataclass ``field`` metadata ``{"check": check}``; :class:`_Section`
runs every field's check in ``__post_init__`` (lists from JSON/TOML become tuples), then the
section's cross-field checks, and gives the dict round trip with unknown-key errors.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import fields
from typing import Any

from .errors import ConfigError

__all__ = ["_choice", "_num", "_bool", "_floats", "_Section", "normalise_roi_prior", "_check_roi_prior",
           "_migrate_model_keys"]


def _choice(*options: Any):
    def check(key: str, v: Any) -> None:
        if v not in options:
            raise ConfigError(f"{key}={v!r} is not valid; choose one of {', '.join(map(repr, options))}.")

    return {"check": check}


def _num(lo: float | None = None, hi: float | None = None, *, integer: bool = False,
         lo_open: bool = False, optional: bool = False):
    def check(key: str, v: Any) -> None:
        if v is None and optional:
            return
        ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok_type or (not integer and not math.isfinite(v)):
            kind = "an integer" if integer else "a finite number"
            raise ConfigError(f"{key}={v!r} must be {kind}" + (" or null" if optional else "") + ".")
        if lo is not None and (v < lo or (lo_open and v == lo)):
            raise ConfigError(f"{key}={v!r} must be {'>' if lo_open else '>='} {lo}.")
        if hi is not None and v > hi:
            raise ConfigError(f"{key}={v!r} must be <= {hi}.")

    return {"check": check}


def _bool():
    def check(key: str, v: Any) -> None:
        if not isinstance(v, bool):
            raise ConfigError(f"{key}={v!r} must be true or false.")

    return {"check": check}


def _floats(n: int | None = None, lo: float | None = None):
    def check(key: str, v: Any) -> None:
        if not isinstance(v, tuple) or (n is not None and len(v) != n) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v
        ):
            what = f"{n} numbers" if n else "a non-empty list of numbers"
            raise ConfigError(f"{key}={list(v) if isinstance(v, tuple) else v!r} must be {what}.")
        if not v:
            raise ConfigError(f"{key} must not be empty.")
        if lo is not None and min(v) < lo:
            raise ConfigError(f"{key}={list(v)!r}: every value must be >= {lo}.")

    return {"check": check}


class _Section:
    """Mixin: validation on construction, dict round trip with unknown-key errors."""

    _section: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]  # every section is a dataclass
            v = getattr(self, f.name)
            if isinstance(v, list):  # lists from JSON/TOML become tuples (hashable, immutable)
                v = tuple(v)
                object.__setattr__(self, f.name, v)
            if "check" in f.metadata:
                f.metadata["check"](f"{self._section}.{f.name}", v)
        self._check_cross()

    def _check_cross(self) -> None:
        """Checks that involve several fields."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        if not isinstance(d, dict):
            raise ConfigError(f"[{cls._section}] must be a table/object, got {type(d).__name__}.")
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(
                f"unknown key(s) in [{cls._section}]: {', '.join(unknown)}; valid keys are: {', '.join(sorted(names))}."
            )
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}  # type: ignore[arg-type]


#: z of the two-sided 90 % interval of a normal: a ``{"low", "high"}`` ROI prior is a 90 % interval
_Z90 = 1.6448536269514722


def normalise_roi_prior(v: Any) -> Any:
    """``train.roi_prior`` as a tuple of ``(channel, median, sd)`` (from a mapping of channel to
    ``{"median", "sd"}``, ``{"low", "high"}`` or ``[median, sd]``, or from that tuple form); a value it
    cannot read is returned unchanged for :func:`_check_roi_prior` to name."""
    if isinstance(v, dict):
        items = list(v.items())
    elif isinstance(v, (list, tuple)) and all(isinstance(x, (list, tuple)) and len(x) == 3 for x in v):
        items = [(x[0], (x[1], x[2])) for x in v]
    else:
        return v
    out = []
    for ch, spec in items:
        if isinstance(spec, dict) and set(spec) == {"median", "sd"}:
            m, s = spec["median"], spec["sd"]
        elif isinstance(spec, dict) and set(spec) == {"low", "high"}:
            lo, hi = spec["low"], spec["high"]
            if not all(_positive_number(x) for x in (lo, hi)) or not hi > lo:
                raise ConfigError(f"train.roi_prior[{ch!r}]: low and high must be numbers with 0 < low < high, got "
                                  f"low={lo!r}, high={hi!r}.")
            m, s = math.sqrt(lo * hi), math.log(hi / lo) / (2 * _Z90)
        elif isinstance(spec, (list, tuple)) and len(spec) == 2:
            m, s = spec
        else:
            raise ConfigError(f"train.roi_prior[{ch!r}]={spec!r}: give {{median = m, sd = s}} (a log-normal: median "
                              "ROI and log-scale sd), {low = a, high = b} (a 90 % interval) or [m, s].")
        out.append((ch, m, s))
    return tuple(sorted(out, key=lambda x: str(x[0])))  # order-free: the same priors give the same config


def _positive_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _check_roi_prior(key: str, v: Any) -> None:
    if not isinstance(v, tuple) or not all(isinstance(x, (tuple, list)) and len(x) == 3 for x in v):
        raise ConfigError(f"{key} must be a table of channel = {{median = m, sd = s}}, got {v!r}.")
    seen = set()
    for ch, m, s in v:
        if not isinstance(ch, str) or not ch.strip():
            raise ConfigError(f"{key}: channel names must be non-empty text, got {ch!r}.")
        if ch in seen:
            raise ConfigError(f"{key}: channel {ch!r} is given twice.")
        seen.add(ch)
        if not _positive_number(m):
            raise ConfigError(f"{key}[{ch!r}]: median ROI {m!r} must be a finite number > 0 (a log-normal prior; "
                              "a channel believed to do nothing needs no ROI prior).")
        if not _positive_number(s):
            raise ConfigError(f"{key}[{ch!r}]: sd {s!r} must be a finite number > 0 (the log-scale sd: 0.3 means "
                              "about ±35 %).")


def _migrate_model_keys(given: dict[str, Any]) -> dict[str, Any]:
    """0.1 configuration files: ``learn_trend`` (bool, default false) is now ``trend``."""
    if "learn_trend" not in given:
        return given
    given = dict(given)
    legacy = given.pop("learn_trend")
    if "trend" in given:
        raise ConfigError("[model] sets both learn_trend (causalmmm-jax 0.1) and trend; "
                          "delete learn_trend and keep trend.")
    if not isinstance(legacy, bool):
        raise ConfigError(f"model.learn_trend={legacy!r} must be true or false (or use model.trend).")
    given["trend"] = "linear" if legacy else "off"
    warnings.warn(f"model.learn_trend is from causalmmm-jax 0.1; read as trend = {given['trend']!r} "
                  "(the default is now 'knots'). Replace it with model.trend.", FutureWarning, stacklevel=3)
    return given
