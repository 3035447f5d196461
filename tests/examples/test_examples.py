"""Every example runs (tiny settings) so the examples never rot."""

import importlib.util
from pathlib import Path


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quickstart():
    m = load("quickstart").main(small=True)
    assert set(m) >= {"train", "holdout", "channels"}


def test_multi_region_vmap():
    m = load("multi_region_vmap").main(seeds=2, small=True)
    assert m["n_seeds"] == 2


def test_response_curves():
    curves, params = load("response_curves").main(small=True)
    assert set(curves["multiplier"]) == {0.0, 0.5, 1.0, 1.5, 2.0}
    assert len(params) == curves["channel"].nunique()


def test_budget_optimization():
    out = load("budget_optimization").main(small=True)
    budgets = {round(sum(r.allocation.values()), 3) for r in out.values()}
    assert len(budgets) == 1  # every method spends the same budget


def test_calibration():
    plain, calibrated = load("calibration").main(small=True)
    assert plain.metrics["channels"] and calibrated.metrics["channels"]


def test_accelerator_benchmark():
    out = load("accelerator_benchmark").main(small=True)
    assert all(v > 0 for v in out.values())


def test_distributed_cpu_two_processes():
    """``causalmmm-jax fit`` as two jax.distributed processes (each reading its own regions of one CSV,
    the regions split over their devices, 11 regions: one padded; only the first writes the run)
    equals the same fit in one process."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(EXAMPLES / "distributed_cpu.py"), "--epochs", "20"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "(2 processes, 2 devices, 2 region shards, 1 padded region)" in out.stdout
    assert "equal within float32 reduction order" in out.stdout


def test_prior_sensitivity(tmp_path):
    sw, table, summary = load("prior_sensitivity").main(small=True, out=str(tmp_path))
    assert len(sw) == 2 and len(table) == 2 * len(summary)
    assert {p.name for p in tmp_path.iterdir()} == {"sweep.csv", "sensitivity.csv", "sensitivity_summary.csv"}


def test_roi_priors():
    rep = load("roi_priors").main(small=True)
    cases = rep["cases"]
    assert len(cases) == 4
    search = "impressions_search"
    for entry in cases.values():
        lo, hi = entry[search]["roi_interval"]
        assert 0 < lo <= entry[search]["roi"] <= hi
    # a stated prior is named in the report's words where it sets the level
    for name, entry in cases.items():
        if "prior on search" in name and entry[search]["level"] == "prior":
            assert "your ROI prior" in entry[search]["summary"]
    # the wrong prior (90 % in 4-6) pulls search's ROI above the right one's (1.5-2.5)
    right = cases["right ROI prior on search (90 % in 1.5-2.5)"][search]["roi"]
    wrong = cases["wrong ROI prior on search (90 % in 4-6)"][search]["roi"]
    assert wrong > right
