"""The ``curves`` and ``optimize`` subcommands on a saved run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from causalmmm_jax.cli.analysis import add_curves, add_optimize
from causalmmm_jax.errors import ConfigError, UserError


def _run(argv):
    from causalmmm_jax.cli import _Parser

    parser = _Parser(prog="causalmmm-jax")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (add_curves, add_optimize):
        add(sub)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def run_dir(fitted, tmp_path_factory):
    from causalmmm_jax.modelfile import save_model

    d = tmp_path_factory.mktemp("run")
    save_model(fitted, d)
    return d


def test_curves_command(run_dir, fitted, capsys):
    assert _run(["curves", str(run_dir), "--multipliers", "0,0.5,1,2"]) == 0
    curves = pd.read_csv(run_dir / "curves.csv")
    assert list(curves.columns)[:5] == ["channel", "multiplier", "spend", "exposure", "kpi"]
    assert len(curves) == 4 * fitted.panel.n_channels
    assert sorted(curves["multiplier"].unique()) == [0.0, 0.5, 1.0, 2.0]
    params = pd.read_csv(run_dir / "curve_params.csv")
    assert {"channel", "top", "bottom", "half_saturation", "slope", "r2"} <= set(params.columns)
    assert list(params["channel"]) == list(fitted.panel.channels)
    assert "curves.csv" in capsys.readouterr().out


def test_optimize_command(run_dir, fitted):
    chans = fitted.panel.channels
    argv = ["optimize", str(run_dir), "--budget", "1500000", "--weeks", "13",
            "--bounds", f"{chans[0]}=100000:400000", f"{chans[1]}=:200000", "--method", "slsqp", "--on", "curves"]
    assert _run(argv) == 0
    alloc = pd.read_csv(run_dir / "allocation.csv")
    assert {"channel", "total_spend", "weekly_spend", "response", "roi", "marginal_roi", "spend_pct",
            "response_pct", "half_saturation"} <= set(alloc.columns)
    assert alloc["total_spend"].sum() == pytest.approx(1.5e6, rel=1e-9)
    info = json.loads((run_dir / "allocation.json").read_text())
    assert info["method"] == "slsqp" and info["on"] == "curves" and info["weeks"] == 13
    assert sum(info["allocation"].values()) == pytest.approx(1.5e6, rel=1e-9)
    assert 1e5 - 1e-6 <= info["allocation"][chans[0]] <= 4e5 + 1e-6
    assert info["allocation"][chans[1]] <= 2e5 + 1e-6
    assert {"predicted_response", "current_response", "uplift", "uplift_pct", "success"} <= set(info)
    plan = pd.read_csv(run_dir / "plan.csv")  # the recommended plan week by week after the data
    assert list(plan.columns) == ["region", "week", "channel", "spend"]
    assert plan["week"].nunique() == 13 and plan["region"].nunique() == fitted.panel.n_regions
    totals = plan.groupby("channel")["spend"].sum()
    for ch, x in info["allocation"].items():
        assert totals[ch] == pytest.approx(x, rel=1e-6, abs=1e-6)
    # analysis.budget_floor = "observed": a lower bound replaces the floor, an upper-only bound caps it
    assert chans[0] not in info["floors"] and info["floors"].get(chans[1], 0.0) <= 2e5 + 1e-6
    assert all(info["allocation"][c] >= v * (1 - 1e-6) for c, v in info["floors"].items())


def test_optimize_command_floor(run_dir, fitted, capsys):
    """The observed floors (default): in allocation.json and a line naming them; the allocation
    keeps them.  ``--floor none``: none."""
    line = "floors (the smallest weekly spend seen in training × 13 weeks, or the current plan where smaller): "
    assert _run(["optimize", str(run_dir), "--weeks", "13", "--on", "curves", "--method", "slsqp"]) == 0
    info = json.loads((run_dir / "allocation.json").read_text())
    assert info["floors"] and all(info["allocation"][c] >= v * (1 - 1e-6) for c, v in info["floors"].items())
    out = capsys.readouterr().out
    assert line in out and all(c in out for c in info["floors"])
    assert _run(["optimize", str(run_dir), "--weeks", "13", "--on", "curves", "--method", "slsqp",
                 "--floor", "none"]) == 0
    assert json.loads((run_dir / "allocation.json").read_text())["floors"] == {}
    assert line not in capsys.readouterr().out


def test_optimize_evaluates_a_plan_file(run_dir, fitted, capsys):
    """``--plan FILE.csv`` evaluates optimize's own plan.csv with the model (carry-over counted):
    plan_evaluation.json and plan_weekly.csv; options of the optimiser are refused with it."""
    from causalmmm_jax import cli

    assert _run(["optimize", str(run_dir), "--weeks", "8", "--on", "curves", "--method", "projected"]) == 0
    capsys.readouterr()
    assert _run(["optimize", str(run_dir), "--plan", str(run_dir / "plan.csv"), "--tail-weeks", "4"]) == 0
    ev = json.loads((run_dir / "plan_evaluation.json").read_text())
    alloc = json.loads((run_dir / "allocation.json").read_text())
    assert ev["weeks"] == 8 and ev["tail_weeks"] == 4 and ev["unit"] == "spend"
    assert ev["totals"]["spend"] == pytest.approx(alloc["budget"], rel=1e-6)
    assert ev["totals"]["incremental"] > 0 and ev["totals"]["carryover_after"] > 0
    weekly = pd.read_csv(run_dir / "plan_weekly.csv")
    assert len(weekly) == 12 and {"week", "spend", "kpi", "kpi_without_plan", "incremental"} <= set(weekly.columns)
    out = capsys.readouterr().out
    assert "carry-over from spend before the plan" in out and "plan_evaluation.json" in out
    with pytest.raises(ConfigError, match="apply to optimising"):
        _run(["optimize", str(run_dir), "--plan", str(run_dir / "plan.csv"), "--weeks", "4"])
    with pytest.raises(ConfigError, match="--floor apply to optimising"):
        _run(["optimize", str(run_dir), "--plan", str(run_dir / "plan.csv"), "--floor", "observed"])
    with pytest.raises(ConfigError, match="--on plan only"):
        _run(["optimize", str(run_dir), "--budget", "1000", "--tail-weeks", "3"])
    assert cli.main(["optimize", str(run_dir), "--plan", str(run_dir / "missing.csv")]) == 2


def test_optimize_by_region(run_dir, fitted, capsys):
    """``--by region --max-change`` on the plan route: allocation_by_region.csv, plan.csv is that
    plan, allocation.json carries by, the regional allocation and the plan's evaluation."""
    assert _run(["optimize", str(run_dir), "--weeks", "6", "--by", "region", "--max-change", "0.3",
                 "--method", "projected", "--tail-weeks", "2"]) == 0
    info = json.loads((run_dir / "allocation.json").read_text())
    assert info["on"] == "plan" and info["by"] == "region"
    reg = pd.read_csv(run_dir / "allocation_by_region.csv")
    assert len(reg) == fitted.panel.n_regions * fitted.panel.n_channels == len(info["allocation_by_region"])
    live = reg["current_spend"] > 0
    assert (reg["spend"][live] / reg["current_spend"][live]).between(0.7 - 1e-9, 1.3 + 1e-9).all()
    plan = pd.read_csv(run_dir / "plan.csv")
    per_cell = plan.groupby(["region", "channel"])["spend"].sum()
    for row in reg.itertuples(index=False):
        assert per_cell[(row.region, row.channel)] == pytest.approx(row.spend, rel=1e-6, abs=1e-6)
    assert info["plan_evaluation"]["weeks"] == 6 and info["plan_evaluation"]["tail_weeks"] == 2
    assert "by region: most added in" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="not to a target"):
        _run(["optimize", str(run_dir), "--on", "plan", "--risk", "0.1", "--target-roi", "2"])
    assert _run(["optimize", str(run_dir), "--weeks", "6", "--on", "curves", "--method", "projected"]) == 0
    assert not (run_dir / "allocation_by_region.csv").exists()  # it would not match the new plan.csv


def test_optimize_by_week_with_week_bounds_then_from_the_plan(run_dir, fitted, capsys):
    """``--by week --week-bounds``: allocation_by_week.csv, every week under the cap and the
    blackout week empty in plan.csv; then ``--plan plan.csv --on plan --max-change`` improves that
    plan within ±20 % of each channel's total, over the plan's own weeks."""
    assert _run(["optimize", str(run_dir), "--weeks", "6", "--by", "week", "--method", "projected"]) == 0
    free = json.loads((run_dir / "allocation.json").read_text())
    weeks = sorted(pd.read_csv(run_dir / "plan.csv")["week"].unique())
    cap = 1.25 * free["budget"] / 6
    assert _run(["optimize", str(run_dir), "--weeks", "6", "--by", "week", "--method", "projected", "--tail-weeks",
                 "2", "--week-bounds", f"*=:{cap}", f"{weeks[1]}=0:0"]) == 0
    info = json.loads((run_dir / "allocation.json").read_text())
    assert info["on"] == "plan" and info["by"] == "week" and len(info["allocation_by_week"]) == 6 * fitted.panel.n_channels
    by_week = pd.read_csv(run_dir / "allocation_by_week.csv")
    per_week = pd.read_csv(run_dir / "plan.csv").groupby("week")["spend"].sum()
    np.testing.assert_allclose(per_week.to_numpy(), by_week.groupby("week")["spend"].sum().to_numpy(), rtol=1e-6)
    assert per_week.max() <= cap * (1 + 1e-6) and per_week[weeks[1]] <= 1e-6 * info["budget"]
    assert "by week:" in capsys.readouterr().out and not (run_dir / "allocation_by_region.csv").exists()
    given = pd.read_csv(run_dir / "plan.csv").groupby("channel")["spend"].sum()
    assert _run(["optimize", str(run_dir), "--plan", str(run_dir / "plan.csv"), "--on", "plan", "--max-change", "0.2",
                 "--method", "projected"]) == 0
    info = json.loads((run_dir / "allocation.json").read_text())
    assert info["weeks"] == 6 and info["budget"] == pytest.approx(given.sum(), rel=1e-6)
    for c, x in info["allocation"].items():
        assert 0.8 * given[c] - 1e-6 <= x <= 1.2 * given[c] + 1e-6
    assert "current = the given plan" in info["message"] and not (run_dir / "allocation_by_week.csv").exists()
    with pytest.raises(ConfigError, match="add --on plan"):
        _run(["optimize", str(run_dir), "--plan", str(run_dir / "plan.csv"), "--budget", "10"])
    with pytest.raises(ConfigError, match="need a plan by week"):
        _run(["optimize", str(run_dir), "--weeks", "6", "--week-bounds", "*=:10"])
    with pytest.raises(ConfigError, match="WEEK=LOW:HIGH"):
        _run(["optimize", str(run_dir), "--weeks", "6", "--by", "week", "--week-bounds", "10"])


def test_optimize_with_a_kpi_value(run_dir):
    """``--kpi-value``: the same plan in value units (× the value); per region on the plan's
    evaluation; a bad value is refused."""
    args = ["optimize", str(run_dir), "--weeks", "6", "--on", "curves", "--method", "projected"]
    assert _run(args) == 0
    plain = json.loads((run_dir / "allocation.json").read_text())
    assert _run(args + ["--kpi-value", "2"]) == 0
    valued = json.loads((run_dir / "allocation.json").read_text())
    assert plain["response_unit"] == "KPI" and valued["response_unit"] == "value"
    assert valued["predicted_response"] == pytest.approx(2 * plain["predicted_response"], rel=1e-4)
    assert _run(["optimize", str(run_dir), "--plan", str(run_dir / "plan.csv"), "--kpi-value", "*=2"]) == 0
    ev = json.loads((run_dir / "plan_evaluation.json").read_text())
    assert ev["kpi_unit"] == "value"
    with pytest.raises(ConfigError, match="bad --kpi-value"):
        _run(args + ["--kpi-value", "two"])


def test_optimize_command_errors(run_dir, tmp_path):
    with pytest.raises(ConfigError, match="lower bounds sum"):
        _run(["optimize", str(run_dir), "--budget", "100", "--bounds", "impressions_tv=80:", "impressions_search=80:"])
    with pytest.raises(ConfigError, match="CHANNEL=LOW:HIGH"):
        _run(["optimize", str(run_dir), "--budget", "100", "--bounds", "impressions_tv"])
    with pytest.raises(UserError):
        _run(["curves", str(tmp_path / "missing")])
    with pytest.raises(UserError):  # argparse usage error from _Parser
        _run(["curves", str(run_dir), "--multipliers", "a,b"])


def test_registered_in_main_cli(run_dir):
    """Through the real entry point: the analysis commands are registered in the main parser, exit
    code 2 for a user error, 0 for success (any exception from the parser fails the test)."""
    from causalmmm_jax import cli

    parser = cli.build_parser()
    for name in ("curves", "optimize"):
        args = parser.parse_args([name, str(run_dir)])
        assert args.command == name and callable(args.func)
    assert parser.parse_args(["optimize", str(run_dir), "--budget", "1"]).budget == 1.0
    assert cli.main(["optimize", str(run_dir), "--budget", "-5"]) == 2
    assert cli.main(["optimize", str(run_dir), "--budget", "1000000", "--weeks", "4"]) == 0
    assert np.isfinite(json.loads((run_dir / "allocation.json").read_text())["predicted_response"])


def test_optimize_fixed_channels_on_the_model(run_dir, fitted, capsys):
    """``--fixed`` (comma- or space-separated) on the model route: the channels keep their historical
    spend, allocation.json lists them, the summary says so; an unknown one exits 2 through main."""
    from causalmmm_jax import cli

    chans, n, weeks = list(fitted.panel.channels), fitted.split.n_train, 13
    hist = fitted.panel.spend[:, n - weeks:n].sum(axis=(0, 1))
    assert _run(["optimize", str(run_dir), "--weeks", str(weeks), "--on", "model", "--fixed",
                 f"{chans[0]},{chans[1]}"]) == 0
    info = json.loads((run_dir / "allocation.json").read_text())
    assert info["on"] == "model" and info["fixed"] == chans[:2]
    for i in (0, 1):
        assert info["allocation"][chans[i]] == pytest.approx(hist[i], rel=1e-6)
    assert sum(info["allocation"].values()) == pytest.approx(hist.sum(), rel=1e-6)
    assert info["predicted_response"] >= info["current_response"] * (1 - 1e-4)
    assert f"held at their historical spend: {chans[0]}, {chans[1]}" in capsys.readouterr().out
    assert cli.main(["optimize", str(run_dir), "--weeks", "4", "--fixed", "impressions_nope"]) == 2
    assert "unknown channel 'impressions_nope'" in capsys.readouterr().err


def test_optimize_target_kpi(run_dir, capsys):
    """``--target-kpi``: 80 % of what the historical budget's best plan adds needs a smaller budget,
    found on the curves; allocation.json carries the target; with --budget it is a usage error."""
    assert _run(["optimize", str(run_dir), "--weeks", "13", "--on", "curves", "--method", "projected"]) == 0
    base = json.loads((run_dir / "allocation.json").read_text())
    goal = 0.8 * base["predicted_response"]
    assert _run(["optimize", str(run_dir), "--weeks", "13", "--target-kpi", str(goal)]) == 0
    info = json.loads((run_dir / "allocation.json").read_text())
    t = info["target"]
    assert t["kind"] == "kpi" and t["value"] == pytest.approx(goal) and t["achieved"] >= goal
    assert info["on"] == "curves" and info["budget"] == pytest.approx(t["budget"]) and t["budget"] < base["budget"]
    assert "target kpi" in capsys.readouterr().out
    with pytest.raises(UserError, match="not allowed with"):
        _run(["optimize", str(run_dir), "--budget", "1", "--target-roi", "2"])


def test_optimize_default_budget_is_historical_spend(run_dir, fitted):
    assert _run(["optimize", str(run_dir), "--weeks", "20", "--on", "model"]) == 0
    info = json.loads((run_dir / "allocation.json").read_text())
    n = fitted.split.n_train
    hist = fitted.panel.spend[:, n - 20:n].sum()
    assert info["budget"] == pytest.approx(hist, rel=1e-9)
    assert sum(info["allocation"].values()) == pytest.approx(hist, rel=1e-9)
    assert info["current_response"] == pytest.approx(info["historical_response"], rel=1e-9)
