"""Field validators and the section mixin of :mod:`causalmmm_jax.config` (private).

Each validator returns the dataclass ``field`` metadata ``{"check": check}``; :class:`_Section`
runs every field's check in ``__post_init__`` (lists from JSON/TOML become tuples), then the
section's cross-field checks, and gives the dict round trip with unknown-key errors.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from .errors import ConfigError

__all__ = ["_choice", "_num", "_bool", "_floats", "_Section"]


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
