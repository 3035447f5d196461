"""``causalmmm-jax demo``: the real pipeline (synthetic data → fit → curves → optimize → report) in
its ``--quick`` size, through the command line.

``--quick`` is the only size control ``run_demo`` has (5 regions × 70 weeks, hidden 8); the full
demo (20 regions × 156 weeks, hidden 64, 800 epochs) takes minutes and is not run here.  With
``--epochs 60`` the demo's fit has exactly the shape and configuration of tests/report's
``fitted_run`` fixture, so the two share their compiled programs (one compilation per session)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from causalmmm_jax.cli import main
from causalmmm_jax.data.synthetic import generate

#: under ``pytest -n 2 --dist loadgroup`` (make test), run on the worker that fits ``fitted_run``
#: (tests/conftest.py FIT_GROUPS), so the compiled programs are shared there too
pytestmark = pytest.mark.xdist_group("report-fit")

CHANNEL_ROW_FIELDS = 7  # name, share, truth share, ROI, its interval [lo, hi] (two fields), truth ROI


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``(out dir, exit code, stdout, stderr)`` of one quick demo run."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("demo") / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["--no-cache", "demo", "--quick", "--epochs", "60", "--out", str(out)])
    return out, code, stdout.getvalue(), stderr.getvalue()


def test_demo_exits_cleanly_and_writes_the_run(demo):
    out, code, stdout, stderr = demo
    assert code == 0, stderr
    assert "Traceback" not in stderr and "error:" not in stderr
    run = out / "run"
    for name in ("metrics.json", "config.json", "contributions.csv", "history.csv", "curves.csv",
                 "curve_params.csv", "allocation.csv", "allocation.json", "dashboard.html"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    assert (run / "model").is_dir() and any((run / "model").iterdir())

    data = pd.read_csv(out / "data.csv")
    sd = generate(0, n_regions=5, n_weeks=70)
    m = sd.mapping
    assert len(data) == 5 * 70 and data[m.region].nunique() == 5 and data[m.time].nunique() == 70
    assert {m.region, m.time, m.target, *m.media, *m.controls} <= set(data.columns)

    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["hidden_dim"] == 8 and cfg["train"]["epochs"] == 60 and cfg["data"]["holdout_weeks"] == 8
    metrics = json.loads((run / "metrics.json").read_text())
    for block in ("train", "holdout"):
        assert all(isinstance(metrics[block][k], float) and math.isfinite(metrics[block][k])
                   for k in ("r2", "rmse", "mape")), metrics[block]
    assert 0 < metrics["epochs_run"] <= 60
    assert len(pd.read_csv(run / "history.csv")) == metrics["epochs_run"]
    assert set(metrics["channels"]) == set(sd.truth.channels)

    curves = pd.read_csv(run / "curves.csv")
    assert set(curves["channel"]) == set(sd.truth.channels)
    assert len(pd.read_csv(run / "curve_params.csv")) == len(sd.truth.channels)
    # the budget plan: the historical spend of the last 52 training weeks, spread over the channels
    alloc = json.loads((run / "allocation.json").read_text())
    n_train = metrics["split"]["n_train"]
    spend = sd.panel().spend[:, n_train - 52:n_train].sum()
    assert alloc["budget"] == pytest.approx(spend, abs=0.01)
    assert sum(alloc["allocation"].values()) == pytest.approx(alloc["budget"], rel=1e-6)
    assert math.isfinite(alloc["predicted_response"])
    html = (run / "dashboard.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and "</html>" in html


def test_demo_prints_the_summary_against_the_truth(demo):
    out, code, stdout, _ = demo
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0].startswith("synthetic panel: 5 regions × 70 weeks × 5 channels (truth: media 30% of the KPI)")
    assert lines[0].endswith(str(out / "data.csv"))
    assert any(line.startswith("R²") for line in lines) and any(line.startswith("attribution:") for line in lines)
    assert lines[-1] == f"dashboard: {(out / 'run' / 'dashboard.html').resolve()}"
    assert "curves.csv" in stdout and "allocation.json" in stdout  # the curves and optimize steps ran

    # the estimate-vs-truth table: one row per channel, shares and ROI as in metrics.json / the generator
    header = next(i for i, line in enumerate(lines)
                  if line.split() == ["channel", "share", "truth", "ROI", "90", "%", "interval", "truth"])
    truth = generate(0, n_regions=5, n_weeks=70).truth
    metrics = json.loads((out / "run" / "metrics.json").read_text())
    rows = [line.split() for line in lines[header + 1:header + 1 + len(truth.channels)]]
    assert [r[0] for r in rows] == list(metrics["channels"])
    for name, share, true_share, roi, lo, hi, true_roi in rows:
        est = metrics["channels"][name]
        assert share == f"{est['share']:.1%}" and true_share == f"{truth.shares[name]:.1%}"
        assert roi == f"{est['roi']:.2f}" and true_roi == f"{truth.roi[name]:.2f}"
        # the default's 90 % interval from the anchored draws, as in metrics.json
        assert f"{lo} {hi}" == f"[{est['interval']['roi'][0]:.2f}, {est['interval']['roi'][1]:.2f}]"
    assert all(len(r) == CHANNEL_ROW_FIELDS for r in rows)
    shares = np.array([metrics["channels"][r[0]]["share"] for r in rows])
    assert shares.sum() == pytest.approx(1.0, abs=1e-6)
