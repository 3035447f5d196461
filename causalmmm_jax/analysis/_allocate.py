"""The generic allocation solver behind :mod:`.budget` (re-exported there): maximise a response
over ``{lower ≤ x ≤ upper, Σx = budget}`` with one of :data:`METHODS` (see the budget module's
docstring and docs/analysis.md §4)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize as so

from ..errors import ConfigError
from ._jaxopt import (
    jaxopt_active,
    project_box_section,
    project_box_section_np,
    simplex_box_minimize,
)

__all__ = ["METHODS", "METHOD_CHOICES", "MULTISTART_STARTS", "maximize_allocation", "resolve_method"]

METHODS = ("projected", "slsqp", "trust-constr", "de", "multistart")
METHOD_CHOICES = ("auto", *METHODS)  # "auto": multistart on the curves, projected on the model (resolve_method)
MULTISTART_STARTS = 8  # random starts of the multistart method's SLSQP runs


def _x64(on: bool):
    return jax.enable_x64(True) if on else jax.enable_x64(bool(jax.config.read("jax_enable_x64")))


# The compiled programs take the response as a static argument and its data (``args``) as traced
# ones: a module-level ``response(x, *args)`` compiles once per shape and dtype, so repeated
# allocations on the same curves (a target's budget search, several plans) reuse the programs.
# A closure passed as ``response`` is a new static value each time and compiles anew.

def _objective(z, b, scale, args, response):
    return -response(z * b, *args) / scale


@functools.partial(jax.jit, static_argnames=("response", "maxiter", "tol", "jaxopt_on"))
def _projected_run(z0, lo, hi, b, scale, args, *, response, maxiter: int, tol: float, jaxopt_on: bool):
    del jaxopt_on  # part of the cache key: simplex_box_minimize reads jaxopt_active() when traced
    obj = functools.partial(_objective, b=b, scale=scale, args=args, response=response)
    return simplex_box_minimize(obj, z0, lo, hi, jnp.ones((), z0.dtype), maxiter=maxiter, tol=tol)[0]


@functools.partial(jax.jit, static_argnames=("response",))
def _value_and_grad(z, b, scale, args, *, response):
    return jax.value_and_grad(_objective)(z, b, scale, args, response)


@functools.partial(jax.jit, static_argnames=("response",))
def _population(vs, lo, hi, b, scale, args, *, response):
    """Objective of each column of ``vs [C, S]`` (unit-box coordinates), 16 members at a time."""
    def one(v):
        z = project_box_section(lo + v * (hi - lo), lo, hi, jnp.ones((), vs.dtype))
        return _objective(z, b, scale, args, response)

    return jax.lax.map(one, vs.T, batch_size=16)


@functools.partial(jax.jit, static_argnames=("response",))
def _value(x, args, *, response):
    return response(x, *args)


def _as_dtype(args, dt):
    """Floating arrays of the pytree ``args`` in ``dt`` (the others, e.g. masks, as they are)."""
    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(a, dt) if jnp.issubdtype(getattr(a, "dtype", np.float64), jnp.floating) else a,
        tuple(args))


def maximize_allocation(response, budget: float, lower, upper, *, method: str = "projected", x0=None,
                        seed: int = 0, x64: bool = True, maxiter: int = 2000, args=()) -> tuple[np.ndarray, bool, str]:
    """Maximise ``response(x, *args)`` (JAX-traceable, ``x [C]`` in budget units; ``args``: arrays,
    traced, so a module-level ``response`` compiles once for every budget and curve) over
    ``{lower ≤ x ≤ upper, Σx = budget}``.  Returns ``(x float64 [C], success, message)``; ``x``
    satisfies the constraints to rounding.  ``x64``: trace in float64 (cheap objectives)."""
    if method not in METHODS:
        raise ConfigError(f"unknown optimisation method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "multistart":
        return _multistart(response, budget, lower, upper, x0=x0, seed=seed, x64=x64, maxiter=maxiter, args=args)
    b = float(budget)
    lo_n, hi_n = np.asarray(lower, np.float64) / b, np.asarray(upper, np.float64) / b
    n = lo_n.size
    start = np.full(n, 1.0 / n) if x0 is None else np.asarray(x0, np.float64) / b
    start = project_box_section_np(start, lo_n, hi_n, 1.0)
    with _x64(x64):
        dt = jnp.float64 if x64 else jnp.float32
        args = _as_dtype(args, dt)
        scale = abs(float(_value(jnp.asarray(start * b, dt), args, response=response))) or 1.0
        b_j, scale_j = jnp.asarray(b, dt), jnp.asarray(scale, dt)
        lo_j, hi_j = jnp.asarray(lo_n, dt), jnp.asarray(hi_n, dt)
        # float32 objectives (the model route) are noisy at ~1e-7: a tighter tolerance never stops
        # before maxiter. 1e-4 of the budget moved the example-sized plans by < 0.03 % of the budget
        # and left the response unchanged to float32 rounding, at a fifth of the time.
        tol = 1e-12 if x64 else 1e-4

        def projected(z0):
            z = _projected_run(jnp.asarray(z0, dt), lo_j, hi_j, b_j, scale_j, args, response=response,
                               maxiter=maxiter, tol=tol, jaxopt_on=jaxopt_active())
            return np.asarray(z, np.float64)

        fg = lambda z: tuple(np.asarray(a, np.float64) for a in  # noqa: E731
                             _value_and_grad(jnp.asarray(z, dt), b_j, scale_j, args, response=response))
        ok, msg = True, ""
        if method == "projected":
            z = projected(start)
            msg = "projected gradient (box-and-budget projection)"
        elif method == "slsqp":
            r = so.minimize(lambda z: float(fg(z)[0]), start, jac=lambda z: fg(z)[1], method="SLSQP",
                            bounds=list(zip(lo_n, hi_n)),
                            constraints=[{"type": "eq", "fun": lambda z: z.sum() - 1.0, "jac": lambda z: np.ones(n)}],
                            options={"maxiter": maxiter, "ftol": 1e-14 if x64 else 1e-9})
            z, ok, msg = r.x, bool(r.success), f"SLSQP: {r.message}"
        elif method == "trust-constr":
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "delta_grad == 0.0" from the BFGS update
                r = so.minimize(lambda z: float(fg(z)[0]), start, jac=lambda z: fg(z)[1], method="trust-constr",
                                hess=so.BFGS(), bounds=so.Bounds(lo_n, hi_n),
                                constraints=[so.LinearConstraint(np.ones((1, n)), 1.0, 1.0)],
                                options={"maxiter": maxiter, "gtol": 1e-12 if x64 else 1e-8, "xtol": 1e-14})
            z, ok, msg = r.x, bool(r.success), f"trust-constr: {r.message}"
        else:
            def to_z(v):
                return project_box_section(lo_j + v * (hi_j - lo_j), lo_j, hi_j, jnp.asarray(1.0, dt))

            # population [C, S] evaluated 16 members at a time (bounded memory on the model route)
            pop_obj = lambda vs: _population(vs, lo_j, hi_j, b_j, scale_j, args, response=response)  # noqa: E731
            r = so.differential_evolution(lambda v: np.asarray(pop_obj(jnp.asarray(v, dt)), np.float64),
                                          [(0.0, 1.0)] * n, vectorized=True, updating="deferred", seed=seed,
                                          maxiter=300, popsize=15, tol=1e-8, polish=False,
                                          init="sobol" if n > 1 else "latinhypercube")
            z_de = np.asarray(to_z(jnp.asarray(r.x, dt)), np.float64)
            z = projected(z_de)
            msg = f"differential evolution ({r.nit} generations: {r.message}), polished by projected gradient"
        z = project_box_section_np(np.nan_to_num(np.asarray(z, np.float64), nan=1.0 / n), lo_n, hi_n, 1.0)
        # never report a point worse than the start (possible with float32 objectives)
        if float(fg(z)[0]) > float(fg(start)[0]):
            z, msg = start, msg + "; no improvement over the start point found"
    return z * b, ok, msg


# --------------------------------------------------------------------------- curves route


def resolve_method(method: str, on: str) -> str:
    """``"auto"`` → ``"multistart"`` on the curves, ``"projected"`` on the model; others as given."""
    return ("multistart" if on == "curves" else "projected") if method == "auto" else method


def _multistart(response, budget, lower, upper, *, x0, seed: int, x64: bool, maxiter: int, args=()):
    """The best of: differential evolution, the projected method from ``x0``, and SLSQP from
    :data:`MULTISTART_STARTS` random mixes (Dirichlet, seeded).  On S-shaped curves each of these
    alone misses the best plan on some problems (benchmarks/optimizer.py)."""
    n = np.asarray(lower).size
    rng = np.random.default_rng([seed, 1])
    runs = [("de", x0), ("projected", x0)]
    runs += [("slsqp", rng.dirichlet(np.ones(n)) * float(budget)) for _ in range(MULTISTART_STARTS)]
    best = None
    with _x64(x64):
        dt = jnp.float64 if x64 else jnp.float32
        args_j = _as_dtype(args, dt)
        for m, start in runs:
            x, ok, msg = maximize_allocation(response, budget, lower, upper, method=m, x0=start, seed=seed, x64=x64,
                                             maxiter=maxiter, args=args)
            v = float(_value(jnp.asarray(x, dt), args_j, response=response))
            if best is None or v > best[0]:
                best = (v, x, ok, m, msg)
    assert best is not None  # runs is never empty
    _, x, ok, m, msg = best
    return x, ok, (f"multistart: best of differential evolution, projected gradient from the start and SLSQP from "
                   f"{MULTISTART_STARTS} random mixes (best: {m}; {msg})")
