"""Shared fixtures: a small valid long-format frame factory and the shared example CSV."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# The suite compiles many small programs once each, so compiling takes most of its time: LLVM at
# -O0 cuts it.  Side by side on 2 cores (make test, 2026-12-04): 10 m 47 s (user 20 m 07 s) at
# the default level, 7 m 48 s (user 14 m 14 s) at -O0; the run-bound tests slow down a little (the
# calibration refit 54 s -> 70 s).  Set here, before JAX starts its CPU backend; the tests'
# subprocesses (CLI, benchmarks' --quick smoke runs) inherit it; an XLA_FLAGS that already sets
# the level wins.  Only for the tests: users' fits and the benchmarks' timings use the default.
_OPT = "--xla_backend_optimization_level"
if _OPT not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_OPT}=0".strip()

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = REPO_ROOT.parent / "shared" / "data" / "mmm_data.csv"


def make_long_frame(
    n_regions: int = 3,
    n_weeks: int = 60,
    n_channels: int = 2,
    n_controls: int = 1,
    *,
    spend: bool = False,
    dates: bool = False,
    str_regions: bool = False,
    drop: tuple[tuple[int, int], ...] = (),
    seed: int = 0,
) -> pd.DataFrame:
    """A valid long frame: columns ``region, week, sales, tv_imps, radio_imps, ..., [tv_spend, ...],
    ctrl_1, ...``; one row per (region, week) except the ``(region_index, week_index)`` pairs in
    ``drop``.  Rows are in region-major order."""
    rng = np.random.default_rng(seed)
    names = ["tv", "radio", "search", "social", "print", "ooh"][:n_channels]
    regions = [f"r{i:02d}" for i in range(n_regions)] if str_regions else [500 + 7 * i for i in range(n_regions)]
    weeks = (list(pd.date_range("2023-01-02", periods=n_weeks, freq="7D")) if dates else list(range(1, n_weeks + 1)))
    rows = []
    for i, r in enumerate(regions):
        for t, w in enumerate(weeks):
            if (i, t) in drop:
                continue
            row = {"region": r, "week": w, "sales": float(rng.integers(100, 1000))}
            for c in names:
                row[f"{c}_imps"] = float(rng.integers(0, 5000))
            if spend:
                for c in names:
                    row[f"{c}_spend"] = round(float(rng.uniform(0, 100)), 2)
            for k in range(n_controls):
                row[f"ctrl_{k + 1}"] = round(float(rng.normal()), 3)
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def long_frame():
    """Factory fixture: ``long_frame(**kwargs)`` -> DataFrame (see :func:`make_long_frame`)."""
    return make_long_frame


@pytest.fixture
def small_mapping():
    """The ColumnMapping matching :func:`make_long_frame` (media/controls as patterns)."""
    from causalmmm_jax.data import ColumnMapping

    return ColumnMapping(region="region", time="week", target="sales", media=("*_imps",), controls=("ctrl_*",))


@pytest.fixture
def shared_csv() -> Path:
    """Path of the shared example data (../shared/data/mmm_data.csv); skips the test when absent."""
    if not SHARED_CSV.is_file():
        pytest.skip(f"shared data file {SHARED_CSV} not present")
    return SHARED_CSV


#: session (and module) fixtures that fit models, and the xdist group of the tests that use them: under
#: ``pytest -n 2 --dist loadgroup`` (``make test``) each fit runs once, on one worker
FIT_GROUPS = {"fitted": "analysis-fit", "fitted_run": "report-fit", "small_fit": "train-fit",
              "scored": "decisions-fit", "fits": "coverage-fit", "drawn": "intervals-fit"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the markers
def pytest_collection_modifyitems(config, items):
    for item in items:
        for name, group in FIT_GROUPS.items():
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(group))
                break


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Under ``--dist loadgroup`` pytest-xdist tags each grouped test's node id with ``@group``;
    pytest 9.2 stores node ids where xdist 3.8 cannot write (every session fit then ran once per
    worker, silently).  Fail the run rather than duplicate the fits."""
    if not getattr(session.config.option, "loadgroup", False):  # set on xdist workers only
        return
    untagged = [item.nodeid for item in session.items
                if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if untagged:
        raise pytest.UsageError(
            f"pytest-xdist did not tag {len(untagged)} grouped test(s) (e.g. {untagged[0]}): this pytest / "
            "pytest-xdist pair cannot run --dist loadgroup; install the versions in constraints.txt.")


@pytest.fixture(scope="session", autouse=True)
def _compilation_cache(tmp_path_factory):
    """Share compiled XLA programs between the tests' identical fits (persistent cache in a tmp dir,
    one for all xdist workers, fresh for every session).  ``CAUSALMMM_CACHE_DIR`` points there too,
    so in-process CLI calls and the tests' subprocesses use it rather than the user's cache in
    ``~/.cache`` (a warm user cache would make the suite's times depend on the machine's past)."""
    from causalmmm_jax._cache import enable_compilation_cache

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # .../pytest-N/popen-gwK -> .../pytest-N, shared by the workers
    cache = root / "xla-cache"
    cache.mkdir(exist_ok=True)
    os.environ["CAUSALMMM_CACHE_DIR"] = str(cache)
    enable_compilation_cache(cache)


@pytest.fixture(scope="module", autouse=True)
def _release_compiled_programs():
    """Drop the compiled programs after each test module.  Every XLA CPU executable maps many memory
    regions; a worker that keeps every program of the suite alive came within reach of the kernel's
    ``vm.max_map_count`` (65,530; 49,018 maps measured in one worker) and then crashed inside LLVM
    (segfaults and aborts while compiling, or reading and writing the compilation cache).  The
    persistent cache makes the programs a later module needs again cheap to load."""
    yield
    import jax

    from causalmmm_jax.train import draws, ensemble

    ensemble.batched_runner.cache_clear()
    draws._runner.cache_clear()
    jax.clear_caches()
