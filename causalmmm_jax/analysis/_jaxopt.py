"""The one place that imports jaxopt, plus optax-based fallbacks.

jaxopt 0.8.5 warns at import that it is no longer maintained; it is imported here with that
warning filtered.  When jaxopt is not importable (or :func:`use_fallback` is active) the same two
solvers run on optax instead:

* :func:`box_minimize` ``(fun, x0, lower, upper) -> (x, value)``: minimise a smooth ``fun`` over
  a box.  jaxopt: ``LBFGSB``.  Fallback: ``optax.lbfgs`` on ``x = lower + (upper − lower)·σ(z)``.
* :func:`simplex_box_minimize` ``(fun, x0, lower, upper, total) -> (x, value)``: minimise over
  ``{lower ≤ x ≤ upper, Σx = total}``.  jaxopt: ``ProjectedGradient`` with
  ``projection_box_section`` (whose bisection stops at ~1e-5, so a few projected-gradient steps with
  the exact :func:`project_box_section` follow).  Fallback: projected gradient with backtracking
  (initial step ``lr``, doubled after each accepted step) using :func:`project_box_section`.

Both are ``vmap``-safe for batched starts (``x0 [..., n]`` with ``jax.vmap``).
"""

from __future__ import annotations

import contextlib
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["HAVE_JAXOPT", "jaxopt_active", "use_fallback", "box_minimize", "simplex_box_minimize",
           "project_box_section", "project_box_section_np", "project_grouped_np", "project_sections_np",
           "project_two_way_np", "projected_gradient"]

try:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?i)jaxopt is no longer maintained", category=DeprecationWarning)
        import jaxopt
        from jaxopt.projection import projection_box_section as _jaxopt_box_section
    HAVE_JAXOPT = True
except ImportError:  # pragma: no cover - exercised through use_fallback()
    jaxopt = None
    _jaxopt_box_section = None
    HAVE_JAXOPT = False

_FORCE_FALLBACK = [False]


@contextlib.contextmanager
def use_fallback(active: bool = True):
    """Within the block, run the optax fallbacks even when jaxopt is installed (for tests)."""
    old = _FORCE_FALLBACK[0]
    _FORCE_FALLBACK[0] = active
    try:
        yield
    finally:
        _FORCE_FALLBACK[0] = old


def jaxopt_active() -> bool:
    """True when the jaxopt solvers are used (installed and no :func:`use_fallback`)."""
    return HAVE_JAXOPT and not _FORCE_FALLBACK[0]


# --------------------------------------------------------------------------- projections

def project_box_section(v, lower, upper, total, iters: int = 100):
    """Euclidean projection of ``v [n]`` onto ``{lower ≤ x ≤ upper, Σx = total}`` (jit/vmap-safe).

    ``x(τ) = clip(v − τ, lower, upper)`` with τ found by bisection (Σx(τ) decreases in τ); the
    set must be non-empty (``Σlower ≤ total ≤ Σupper``)."""
    v = jnp.asarray(v)
    lower, upper, total = (jnp.asarray(a, v.dtype) for a in (lower, upper, total))
    lo_t = jnp.min(v - upper)
    hi_t = jnp.max(v - lower)

    def body(_, bracket):
        a, b = bracket
        mid = 0.5 * (a + b)
        s = jnp.clip(v - mid, lower, upper).sum()
        return jnp.where(s > total, mid, a), jnp.where(s > total, b, mid)

    a, b = jax.lax.fori_loop(0, iters, body, (lo_t, hi_t))
    return jnp.clip(v - 0.5 * (a + b), lower, upper)


def project_box_section_np(v, lower, upper, total) -> np.ndarray:
    """float64 host version of :func:`project_box_section`, exact to rounding: after bisection
    the residual is spread over the coordinates strictly inside their bounds."""
    v, lower, upper = (np.asarray(a, dtype=np.float64) for a in (v, lower, upper))
    a, b = float(np.min(v - upper)), float(np.max(v - lower))
    for _ in range(200):
        mid = 0.5 * (a + b)
        if np.clip(v - mid, lower, upper).sum() > total:
            a = mid
        else:
            b = mid
    x = np.clip(v - 0.5 * (a + b), lower, upper)
    for _ in range(3):
        resid = total - x.sum()
        free = (x > lower) & (x < upper) if resid != 0 else np.zeros_like(x, bool)
        if not free.any():
            free = (x < upper) if resid > 0 else (x > lower)
        if not free.any() or resid == 0:
            break
        x[free] += resid / free.sum()
        x = np.clip(x, lower, upper)
    return x


def project_sections_np(v, lower, upper, totals) -> np.ndarray:
    """Column by column, :func:`project_box_section_np` of ``v [R, C]`` onto ``{lower ≤ x ≤ upper,
    Σ_r x_rc = totals_c}`` (float64, one vectorised bisection for all columns)."""
    v, lower, upper = (np.asarray(a, dtype=np.float64) for a in (v, lower, upper))
    totals = np.asarray(totals, np.float64)
    a, b = np.min(v - upper, axis=0), np.max(v - lower, axis=0)
    for _ in range(200):
        mid = 0.5 * (a + b)
        over = np.clip(v - mid, lower, upper).sum(0) > totals
        a, b = np.where(over, mid, a), np.where(over, b, mid)
        if np.all(b - a <= 1e-15 * np.maximum(1.0, np.abs(a))):
            break
    x = np.clip(v - 0.5 * (a + b), lower, upper)
    for _ in range(3):  # spread the bisection's residual over the coordinates inside their bounds
        resid = totals - x.sum(0)
        if not np.any(resid):
            break
        inside = (x > lower) & (x < upper)
        movable = np.where(resid > 0, x < upper, x > lower)
        use = np.where(inside.any(0), inside, movable)
        n = use.sum(0)
        x = np.clip(x + np.where(use, (resid / np.maximum(n, 1))[None, :], 0.0), lower, upper)
    return x


def project_grouped_np(v, lower, upper, total, group_lower, group_upper) -> np.ndarray:
    """Euclidean projection of ``v [R, C]`` onto ``{lower ≤ x ≤ upper, Σx = total,
    group_lower_c ≤ Σ_r x_rc ≤ group_upper_c}`` (float64, exact to rounding; the set must be
    non-empty).

    KKT: ``x_rc = clip(v_rc − τ − μ_c, lower, upper)`` with ``μ_c`` non-zero only where column
    ``c``'s sum would leave its range, so column ``c`` sums to ``clip(S_c(τ), group_lower_c,
    group_upper_c)`` with ``S_c(τ) = Σ_r clip(v_rc − τ, ·)``; that total decreases in τ, found by
    bisection, and each column is then a box-and-sum projection (:func:`project_sections_np`)."""
    v, lower, upper = (np.asarray(a, dtype=np.float64) for a in (v, lower, upper))
    gl, gu = np.asarray(group_lower, np.float64), np.asarray(group_upper, np.float64)
    col = lambda t: np.clip(np.clip(v - t, lower, upper).sum(0), gl, gu)  # noqa: E731
    a, b = float(np.min(v - upper)), float(np.max(v - lower))
    for _ in range(200):
        mid = 0.5 * (a + b)
        if col(mid).sum() > total:
            a = mid
        else:
            b = mid
        if b - a <= 1e-15 * max(1.0, abs(a)):
            break
    t = col(0.5 * (a + b))
    free = (t > gl) & (t < gu)
    if free.any():
        t[free] += (total - t.sum()) / free.sum()
    t = np.clip(t, np.maximum(gl, lower.sum(0)), np.minimum(gu, upper.sum(0)))
    return project_sections_np(v, lower, upper, t)


def project_two_way_np(v, lower, upper, total, col_lower, col_upper, row_lower, row_upper, *,
                       tol: float = 1e-10, maxiter: int = 300) -> np.ndarray:
    """Euclidean projection of ``v [R, C]`` onto ``{lower ≤ x ≤ upper, Σx = total, col_lower_c ≤
    Σ_r x_rc ≤ col_upper_c, row_lower_r ≤ Σ_c x_rc ≤ row_upper_r}`` (float64; the set must be
    non-empty).  Dykstra's alternating projections between the column-grouped and the
    row-grouped sets (each exact, :func:`project_grouped_np`), which converge to the projection
    onto their intersection; stops when the row sums are within ``tol`` × ``total`` of their
    ranges and an iteration moves the point by less than that (the column constraints, box and
    budget hold to rounding: the last step projects onto them).  Dykstra can converge slowly
    (linearly, at a rate set by the angle between the sets): after ``maxiter`` iterations the
    feasible point nearest (in L1) to the last iterate, from a linear program, is returned: a
    point of the set, close to but not exactly the projection."""
    v = np.asarray(v, np.float64)
    rl, ru = np.asarray(row_lower, np.float64), np.asarray(row_upper, np.float64)
    cols = lambda z: project_grouped_np(z, lower, upper, total, col_lower, col_upper)  # noqa: E731
    rows = lambda z: project_grouped_np(z.T, lower.T, upper.T, total, rl, ru).T  # noqa: E731
    x, p, q, last = v, np.zeros_like(v), np.zeros_like(v), None
    scale = tol * max(abs(float(total)), 1e-300)
    for _ in range(maxiter):
        y = cols(x + p)
        s = y.sum(1)
        if (np.all(s >= rl - scale) and np.all(s <= ru + scale) and last is not None
                and np.abs(y - last).max() <= scale):
            return y
        last = y
        p = x + p - y
        x = rows(y + q)
        q = y + q - x
    return _nearest_feasible_l1(last, lower, upper, total, col_lower, col_upper, rl, ru)


def _nearest_feasible_l1(y, lower, upper, total, col_lower, col_upper, row_lower, row_upper) -> np.ndarray:
    """The point of ``{lower ≤ x ≤ upper, Σx = total, column and row sums in their ranges}``
    nearest to ``y [R, C]`` in L1 (HiGHS; the set must be non-empty)."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, hstack, identity, kron, vstack

    r_n, c_n = y.shape
    n = r_n * c_n
    cols = kron(np.ones((1, r_n)), identity(c_n))
    rows = kron(identity(r_n), np.ones((1, c_n)))
    zero_c, zero_r, eye = csr_matrix((c_n, n)), csr_matrix((r_n, n)), identity(n)
    a_ub = vstack([hstack([cols, zero_c]), hstack([-cols, zero_c]), hstack([rows, zero_r]), hstack([-rows, zero_r]),
                   hstack([eye, -eye]), hstack([-eye, -eye])]).tocsr()  # x − d ≤ y, −x − d ≤ −y: d ≥ |x − y|
    yv = np.asarray(y, np.float64).ravel()
    b_ub = np.concatenate([col_upper, -np.asarray(col_lower), row_upper, -np.asarray(row_lower), yv, -yv])
    a_eq = hstack([csr_matrix(np.ones((1, n))), csr_matrix((1, n))]).tocsr()
    bounds = np.concatenate([np.stack([np.broadcast_to(lower, y.shape).ravel(),
                                       np.broadcast_to(upper, y.shape).ravel()], 1),
                             np.stack([np.zeros(n), np.full(n, np.inf)], 1)])
    lp = linprog(np.concatenate([np.zeros(n), np.ones(n)]), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[float(total)],
                 bounds=bounds, method="highs")
    if lp.status != 0:  # pragma: no cover - the callers check feasibility first
        raise ValueError(f"no feasible point: {lp.message}")
    return lp.x[:n].reshape(r_n, c_n)


# --------------------------------------------------------------------------- solvers

def box_minimize(fun, x0, lower, upper, *, maxiter: int = 500, tol: float = 1e-10):
    """Minimise ``fun(x)`` over ``lower ≤ x ≤ upper``.  Returns ``(x, fun(x))`` (jit/vmap-safe)."""
    x0 = jnp.clip(x0, lower, upper)
    if jaxopt_active():
        solver = jaxopt.LBFGSB(fun=fun, maxiter=maxiter, tol=tol)
        x = solver.run(x0, bounds=(lower, upper)).params
        return x, fun(x)
    width = upper - lower
    frac = jnp.clip((x0 - lower) / jnp.where(width > 0, width, 1.0), 1e-4, 1 - 1e-4)
    z0 = jnp.log(frac) - jnp.log1p(-frac)
    to_x = lambda z: lower + width * jax.nn.sigmoid(z)  # noqa: E731
    g = lambda z: fun(to_x(z))  # noqa: E731
    opt = optax.lbfgs()
    vg = optax.value_and_grad_from_state(g)

    def cond(carry):
        i, z, state, gnorm = carry
        return (i < maxiter) & (gnorm > tol)

    def body(carry):
        i, z, state, _ = carry
        value, grad = vg(z, state=state)
        updates, state = opt.update(grad, state, z, value=value, grad=grad, value_fn=g)
        z_new = optax.apply_updates(z, updates)
        ok = jnp.all(jnp.isfinite(z_new))
        gnorm = jnp.where(ok, optax.tree.norm(grad), 0.0)  # a non-finite step ends the loop
        return i + 1, jnp.where(ok, z_new, z), state, gnorm

    _, z, _, _ = jax.lax.while_loop(cond, body, (0, z0, opt.init(z0), jnp.asarray(jnp.inf, z0.dtype)))
    x = to_x(z)
    return x, fun(x)


def _projected_gradient(fun, x0, lower, upper, total, *, maxiter: int, tol: float, lr: float):
    return projected_gradient(fun, x0, lambda v: project_box_section(v, lower, upper, total), maxiter=maxiter,
                              tol=tol, lr=lr)


def simplex_box_minimize(fun, x0, lower, upper, total, *, maxiter: int = 2000, tol: float = 1e-10,
                         lr: float = 1.0):
    """Minimise ``fun(x)`` over ``{lower ≤ x ≤ upper, Σx = total}`` (jaxopt ProjectedGradient with
    ``projection_box_section``, or the backtracking projected-gradient fallback).  Returns ``(x, fun(x))``.

    Works best when ``x`` is O(1) (e.g. fractions of the budget) and ``fun`` is O(1)."""
    if jaxopt_active():
        solver = jaxopt.ProjectedGradient(fun=fun, projection=_jaxopt_box_section, maxiter=maxiter, tol=tol)
        x = solver.run(project_box_section(x0, lower, upper, total),
                       hyperparams_proj=(lower, upper, jnp.ones_like(x0), total)).params
        # jaxopt's projection bisects to ~1e-5 only: finish with the exact projection
        return _projected_gradient(fun, x, lower, upper, total, maxiter=200, tol=tol, lr=lr)
    return _projected_gradient(fun, x0, lower, upper, total, maxiter=maxiter, tol=tol, lr=lr)


def projected_gradient(fun, x0, project, *, maxiter: int = 2000, tol: float = 1e-10, lr: float = 1.0):
    """Minimise ``fun(x)`` over the set that ``project`` projects onto: projected gradient with
    backtracking (sufficient decrease on the projected step); the step doubles after each accepted
    step.  Stops when a step moves x by less than ``tol``.  Returns ``(x, fun(x))`` (jit-safe)."""
    proj = project
    vg = jax.value_and_grad(fun)

    def body(carry):
        i, x, t, fx, g, _ = carry

        def bt_cond(c):
            t_, xn, fn, k = c
            d = xn - x
            return (fn > fx + jnp.vdot(g, d) + jnp.vdot(d, d) / (2.0 * t_)) & (k < 50)

        def bt_body(c):
            t_, _, _, k = c
            t_ = 0.5 * t_
            xn = proj(x - t_ * g)
            return t_, xn, fun(xn), k + 1

        xn0 = proj(x - t * g)
        t, xn, _, _ = jax.lax.while_loop(bt_cond, bt_body, (t, xn0, fun(xn0), 0))
        fn, gn = vg(xn)
        step = jnp.sqrt(((xn - x) ** 2).sum())
        return i + 1, xn, 2.0 * t, fn, gn, step

    def cond(carry):
        i, _, _, _, _, step = carry
        return (i < maxiter) & (step > tol)

    x_init = proj(x0)
    f0, g0 = vg(x_init)
    one = jnp.asarray(1.0, x_init.dtype)
    _, x, _, _, _, _ = jax.lax.while_loop(cond, body, (0, x_init, one * lr, f0, g0, one * jnp.inf))
    return x, fun(x)
