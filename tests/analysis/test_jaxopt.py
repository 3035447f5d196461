"""The jaxopt wrapper: import without the deprecation warning, projections, fallbacks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from causalmmm_jax.analysis import _jaxopt as J

PKG = Path(__file__).resolve().parents[2] / "causalmmm_jax"


def test_import_is_silent_and_jaxopt_only_here():
    code = ("import warnings; warnings.simplefilter('error'); "
            "import causalmmm_jax.analysis._jaxopt as j; print(j.HAVE_JAXOPT)")
    out = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
    offenders = [p for p in PKG.rglob("*.py") if p.name != "_jaxopt.py"
                 and re.search(r"^\s*(import jaxopt|from jaxopt)", p.read_text(encoding="utf-8"), re.M)]
    assert offenders == []


def _brute_projection(v, lo, hi, total):
    from scipy.optimize import minimize

    r = minimize(lambda x: ((x - v) ** 2).sum(), np.clip(v, lo, hi), jac=lambda x: 2 * (x - v), method="SLSQP",
                 bounds=list(zip(lo, hi)), constraints=[{"type": "eq", "fun": lambda x: x.sum() - total}],
                 options={"ftol": 1e-14, "maxiter": 500})
    return r.x


@pytest.mark.parametrize("seed", range(5))
def test_projection_matches_qp(seed):
    rng = np.random.default_rng(seed)
    n = 6
    v = rng.normal(0, 2, n)
    lo = rng.uniform(0, 0.5, n)
    hi = lo + rng.uniform(0.1, 2.0, n)
    total = float(rng.uniform(lo.sum(), hi.sum()))
    ref = _brute_projection(v, lo, hi, total)
    host = J.project_box_section_np(v, lo, hi, total)
    assert abs(host.sum() - total) < 1e-12 and np.all(host >= lo) and np.all(host <= hi)
    np.testing.assert_allclose(host, ref, atol=1e-6)
    with jax.enable_x64(True):
        dev = np.asarray(jax.jit(J.project_box_section)(jnp.asarray(v), jnp.asarray(lo), jnp.asarray(hi), total))
    np.testing.assert_allclose(dev, host, atol=1e-10)


@pytest.mark.parametrize("fallback", [False, True])
def test_solvers(fallback):
    target = jnp.array([0.7, -0.2, 0.4])
    lo, hi = jnp.zeros(3), jnp.full(3, 0.5)
    with jax.enable_x64(True), J.use_fallback(fallback):
        assert J.jaxopt_active() is (not fallback)
        f = lambda x: jnp.sum((x - target) ** 2)  # noqa: E731
        x, v = jax.jit(lambda s: J.box_minimize(f, s, lo, hi))(jnp.full(3, 0.25))
        np.testing.assert_allclose(np.asarray(x), [0.5, 0.0, 0.4], atol=1e-6)
        x, v = jax.jit(lambda s: J.simplex_box_minimize(f, s, lo, hi, 1.0))(jnp.full(3, 0.3))
        # projection of the target onto {0 ≤ x ≤ 0.5, Σx = 1}: clip(target − τ) with τ = −0.1
        np.testing.assert_allclose(np.asarray(x), [0.5, 0.0, 0.5], atol=1e-6)
    assert J.jaxopt_active() is J.HAVE_JAXOPT
