"""Random building blocks of the synthetic generator: stratified draws, AR(1) noise, flighting."""

from __future__ import annotations

import numpy as np

__all__ = ["stratified", "ar1", "flights", "flighting"]


def stratified(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    """``n`` values in [lo, hi], one per equal-width stratum, in random order (distinct, spread out)."""
    v = lo + (hi - lo) * (np.arange(n) + rng.uniform(0.1, 0.9, n)) / max(n, 1)
    return rng.permutation(v)


def ar1(rng: np.random.Generator, shape: tuple[int, ...], rho: float) -> np.ndarray:
    """Unit-variance stationary AR(1) along axis -1."""
    e = rng.normal(size=shape)
    out = np.empty(shape)
    out[..., 0] = e[..., 0]
    k = np.sqrt(1.0 - rho**2)
    for t in range(1, shape[-1]):
        out[..., t] = rho * out[..., t - 1] + k * e[..., t]
    return out


def flights(rng: np.random.Generator, T: int, on: tuple[int, int], off: tuple[int, int]) -> np.ndarray:
    """National on/off schedule: ``[T]`` intensity (0 when off, one level per flight) and flight id."""
    level = np.zeros(T)
    flight = np.full(T, -1)
    t = int(rng.integers(0, off[1]))  # random phase
    fid = 0
    while t < T:
        d = int(rng.integers(on[0], on[1] + 1))
        level[t:t + d] = rng.uniform(0.5, 1.6)
        flight[t:t + d] = fid
        fid += 1
        t += d + int(rng.integers(off[0], off[1] + 1))
    if not (level > 0).any():  # very short panels: make sure there is at least one flight
        level[: min(T, on[0])] = 1.0
        flight[: min(T, on[0])] = 0
    return np.stack([level, flight])


def flighting(rng: np.random.Generator, pattern: str, R: int, T: int) -> np.ndarray:
    """``[R,T]`` non-negative relative spend pattern (mean about 1 over on-weeks)."""
    t = np.arange(T)
    if pattern == "always_on":
        wave = 1.0 + 0.25 * np.sin(2 * np.pi * t / rng.uniform(20, 52) + rng.uniform(0, 2 * np.pi))
        push = 1.0 + (rng.uniform(size=T) < 0.1) * rng.uniform(0.3, 1.0, T)
        reg = np.exp(rng.normal(0, 0.1, (R, 1)))
        return reg * (wave * push)[None, :]
    if pattern == "pulsed":
        level, flight = flights(rng, T, on=(2, 4), off=(3, 6))
        return np.broadcast_to(0.35 + level, (R, T)).copy() * np.exp(rng.normal(0, 0.1, (R, 1)))
    # burst: exact zeros off-flight; each region sits out a flight with probability 0.15
    level, flight = flights(rng, T, on=(2, 8), off=(2, 7))
    n_f = int(flight.max()) + 1
    part = rng.uniform(size=(R, n_f)) >= 0.15
    for r in range(R):  # every region takes part in at least one flight
        if not part[r].any():
            part[r, rng.integers(n_f)] = True
    fl = flight.astype(int)
    on = np.where(fl[None, :] >= 0, part[:, np.maximum(fl, 0)], False)
    return np.where(on, level[None, :], 0.0)
