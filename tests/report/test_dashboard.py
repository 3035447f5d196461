"""build_dashboard / dashboard_sections / the ``report`` subcommand, without a browser."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path

import jax
import numpy as np
import pytest

from causalmmm_jax.report import DASHBOARD_FILE, build_dashboard, dashboard_sections
from causalmmm_jax.cli.report import add_report

BASE_SECTIONS = ["training", "fit", "holdout", "stacked", "channels", "donut", "waterfall", "coefficients",
                 "effectiveness", "roi", "identifiability", "dag_network", "dag_heatmap", "media_inputs",
                 "control_inputs"]
ALL_SECTIONS = BASE_SECTIONS + ["curves", "budget", "plan_weekly", "plan_regions"]


def figure_blocks(page: str) -> dict[str, dict]:
    """{section id: figure JSON} of the embedded figure data."""
    blocks = re.findall(r"<script type='application/json' id='data-([\w-]+)'>(.*?)</script>", page, flags=re.S)
    return {k: json.loads(v) for k, v in blocks}


def check_page(page: str, expected: list[str]) -> dict[str, dict]:
    """Structure every dashboard must have; returns the figure JSON."""
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("* plotly.js v") == 1, "plotly.js must be embedded exactly once"
    assert "<script src" not in page and "<link" not in page, "the page must not load anything"
    figs = figure_blocks(page)
    assert list(figs) == expected
    assert f"data-figures-expected='{len(expected)}'" in page
    for sid in expected:
        assert f"<div id='fig-{sid}' class='fig'>" in page
        assert figs[sid]["data"], sid
        assert "template" not in figs[sid]["layout"]  # one shared template, not one per figure
    assert "id='plotly-template'" in page
    return figs


def test_build_from_run_dir_writes_default_path_with_notes(fitted_run):
    _, run_dir = fitted_run
    before = set(p.name for p in run_dir.iterdir())
    path = build_dashboard(run_dir)
    assert path == run_dir / DASHBOARD_FILE and path.is_file()
    assert set(p.name for p in run_dir.iterdir()) == before | {DASHBOARD_FILE}  # no temporary files left
    page = path.read_text(encoding="utf-8")
    figs = check_page(page, BASE_SECTIONS)
    assert "No response curves" in page and "causalmmm-jax curves RUN_DIR" in page
    assert "No budget allocation" in page and "causalmmm-jax optimize RUN_DIR" in page
    assert path.stat().st_size < 10e6
    # header: data, split, metrics, attribution
    for text in ("regions", "missing cells", "holdout", "R² within region", "Attribution (training weeks)"):
        assert text in page
    # training curves read from history.csv (load_model leaves result.history empty)
    assert len(figs["training"]["data"][0]["y"]) == 60


def test_build_with_analysis_files(full_run):
    result, run_dir = full_run
    page = build_dashboard(run_dir).read_text(encoding="utf-8")
    figs = check_page(page, ALL_SECTIONS)
    curves = figs["curves"]["data"]
    n = result.panel.n_channels
    assert sum(t["mode"] == "lines" for t in curves) == n  # one fitted curve per channel
    assert sum(t["mode"] == "markers" for t in curves) == 2 * n  # model points + current level
    budget = figs["budget"]
    assert [t["name"] for t in budget["data"]] == ["current", "optimised"]
    assert "+10.0 %" in budget["layout"]["title"]["text"]
    assert "value units" in budget["layout"]["title"]["text"]  # allocation.json's response_unit
    # allocation.json's floors and observed range, in words under the section's title
    assert "Held at their floors (the smallest weekly spend seen in training" in page
    assert "12 % of the planned spend is above the largest weekly spend seen" in page
    assert "below the smallest weekly spend seen (per region)" not in page  # 0 %: nothing said
    # the current mix at the same budget: both bar groups sum to the optimised total
    cur, opt = (np.array(t["y"], dtype=float) for t in budget["data"])
    assert cur.sum() == pytest.approx(opt.sum(), rel=1e-3)
    # the plan: weekly stacked spend per channel with the current plan's weekly total (dashed,
    # allocation_by_week.csv) and the KPI line, and the regional change
    weekly = figs["plan_weekly"]["data"]
    assert [t["type"] for t in weekly] == ["bar"] * n + ["scatter", "scatter"]
    assert len(weekly[0]["x"]) == 6 and weekly[-1]["y"] == [1e5 + 1e3 * i for i in range(6)]
    planned = sum(np.array(t["y"], dtype=float) for t in weekly[:n])
    assert weekly[n]["line"]["dash"] == "dash"
    np.testing.assert_allclose(np.array(weekly[n]["y"], dtype=float), 1.1 * planned, rtol=1e-3)
    total = planned.sum()
    assert total == pytest.approx(sum(json.loads((run_dir / "allocation.json").read_text())["allocation"].values()),
                                  rel=1e-3)
    heat = figs["plan_regions"]["data"][0]
    assert heat["type"] == "heatmap" and len(heat["x"]) == result.panel.n_regions and len(heat["y"]) == n
    z = np.array(heat["z"], dtype=float)  # blank (null) where the current plan has no spend
    assert np.isfinite(z).sum() > z.size // 2 and np.allclose(z[np.isfinite(z)], 100 * (1 / 0.9 - 1), rtol=1e-3)


def test_unreadable_analysis_files_give_notes_not_errors(full_run):
    _, run_dir = full_run
    (run_dir / "curves.csv").write_text("")
    (run_dir / "curve_params.csv").write_text("not,a\nknown,format\n")
    (run_dir / "allocation.csv").unlink()
    (run_dir / "allocation.json").write_text("{broken")
    (run_dir / "plan.csv").write_text("region,week\n1,2\n")
    page = build_dashboard(run_dir, run_dir / "other.html").read_text(encoding="utf-8")
    check_page(page, BASE_SECTIONS)
    assert "No response curves" in page and "No budget allocation" in page and "No plan (plan.csv" in page


def test_build_from_fit_result(fitted_run, full_run, tmp_path):
    result, _ = fitted_run
    _, full_dir = full_run
    out = build_dashboard(result, tmp_path / "sub" / "d.html", run_dir=full_dir)
    assert out == tmp_path / "sub" / "d.html"
    figs = check_page(out.read_text(encoding="utf-8"), ALL_SECTIONS)
    assert len(figs["training"]["data"][0]["y"]) == 60  # from result.history


def test_sections_agree_with_the_decomposition(fitted_run):

    result, _ = fitted_run
    secs = {s.id: s for s in dashboard_sections(result, metrics=result.metrics)}
    assert list(secs) == ALL_SECTIONS
    assert secs["training"].note and secs["curves"].note and secs["budget"].note  # no history / files given
    comps = result.point_components()
    cells = result.split.train_mask(result.panel.mask)
    wf = secs["waterfall"].figure.data[0]
    assert wf.y[-1] == pytest.approx(float((comps.prediction * cells).sum()), rel=1e-3)  # additive total
    assert wf.y[0] == pytest.approx(float((comps.baseline * cells).sum()), rel=1e-3)
    # region selector: national + every region; national series sums the observed cells
    buttons = secs["fit"].figure.layout.updatemenus[0].buttons
    assert len(buttons) == result.panel.n_regions + 1
    nat = np.where(result.panel.mask, result.panel.target, 0).sum(0)
    np.testing.assert_allclose(np.array(secs["fit"].figure.data[0].y, float), nat, rtol=1e-3)
    # the 90 % prediction interval: a band around the national prediction (lower edge, upper edge)
    pred, lo, hi = (np.array(secs["fit"].figure.data[i].y, float) for i in (1, 2, 3))
    assert np.all(lo < pred) and np.all(pred < hi) and "prediction interval" in secs["fit"].description
    # donut shares = attribution in metrics.json
    donut = secs["donut"].figure.data[0]
    vals = dict(zip(donut.labels, np.array(donut.values, float) / np.sum(donut.values)))
    assert vals["media"] == pytest.approx(result.metrics["attribution"]["media"], abs=2e-3)
    # DAG heatmap = transform_params W
    from causalmmm_jax.model.mmm import transform_params

    W = np.asarray(transform_params(result.member(0), result.spec)["W"])
    np.testing.assert_allclose(np.array(secs["dag_heatmap"].figure.data[0].z, float), W, atol=1e-3)
    # holdout scatter: every observed holdout cell
    assert len(secs["holdout"].figure.data[0].x) == int(result.split.holdout_mask(result.panel.mask).sum())


def test_dag_off_shows_notes(fitted_run):
    from causalmmm_jax.model.mmm import ModelSpec

    result, _ = fitted_run
    cfg = result.config.updated(model={"dag_mode": "off"})
    off = dataclasses.replace(result, config=cfg, spec=ModelSpec(result.spec.n_regions, result.spec.n_channels,
                                                                 result.spec.n_controls, cfg.model))
    secs = {s.id: s for s in dashboard_sections(off, metrics=result.metrics)}
    for sid in ("dag_network", "dag_heatmap"):
        assert secs[sid].figure is None and "dag_mode" in secs[sid].note


def test_ensemble_uses_seed_mean_and_shows_bands(fitted_run):
    from causalmmm_jax.train.evaluate import evaluate

    result, _ = fitted_run
    other = dict(result.params)
    other["media_coeff_max_raw"] = other["media_coeff_max_raw"] + 0.3
    ens = dataclasses.replace(result, params=jax.tree_util.tree_map(lambda a, b: np.concatenate([a, b]), result.params,
                                                                 other), seeds=(0, 1), metrics={})
    ens.metrics = evaluate(ens)
    secs = {s.id: s for s in dashboard_sections(ens, metrics=ens.metrics)}
    roi = secs["roi"].figure.data[0]
    assert roi.error_y.arrayminus is not None and "ensemble" in secs["roi"].figure.layout.title.text
    comps = ens.point_components()
    cells = ens.split.train_mask(ens.panel.mask)
    contrib = np.array(secs["effectiveness"].figure.data[1].y, float)
    np.testing.assert_allclose(contrib, (comps.media * cells[..., None]).sum((0, 1)), rtol=1e-3)


# --------------------------------------------------------------------------- CLI

def _run_cli(argv: list[str]) -> int:
    from causalmmm_jax.cli import _Parser

    parser = _Parser(prog="causalmmm-jax")
    sub = parser.add_subparsers(dest="command", required=True)
    add_report(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_report_prints_the_path(full_run, capsys, tmp_path):
    _, run_dir = full_run
    assert _run_cli(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / DASHBOARD_FILE)
    out = tmp_path / "custom.html"
    assert _run_cli(["report", str(run_dir), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out) and out.is_file()


def test_cli_report_errors_are_user_errors(tmp_path):
    from causalmmm_jax.errors import UserError

    with pytest.raises(UserError, match="not a directory"):
        _run_cli(["report", str(tmp_path / "missing")])
    with pytest.raises(UserError, match="no saved model"):
        _run_cli(["report", str(tmp_path)])


def test_report_through_main_cli(full_run, capsys):
    """Exit codes through ``cli.main``: ``report`` is a registered subcommand."""
    from causalmmm_jax import cli

    choices = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert "report" in choices
    _, run_dir = full_run
    assert cli.main(["report", str(run_dir)]) == 0
    assert Path(capsys.readouterr().out.strip()).is_file()
    assert cli.main(["report", str(run_dir / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


# --------------------------------------------------------------------------- size

@pytest.mark.slow
def test_size_for_190_regions_13_channels(tmp_path):
    """The example panel's size (190 regions × 109 weeks × 13 channels, 7 controls): < 10 MB."""
    from causalmmm_jax.config import Config
    from causalmmm_jax.data.synthetic import generate
    from causalmmm_jax.train.fit import fit

    sd = generate(0, n_regions=190, n_weeks=109, n_channels=13, n_controls=7, missing_cells=50)
    # the page's size depends on the panel's shape, not on how well the model fits: no training
    # at all (epochs 0: the data-driven start is the model, and no training program is compiled)
    cfg = Config().updated(model={"hidden_dim": 8}, train={"epochs": 0, "warm_start_epochs": 0, "static_epochs": 0,
                                                                        "interval_draws": 0})
    result = fit(sd.panel(), cfg, mapping=sd.mapping)
    path = build_dashboard(result, tmp_path / "d.html")
    size = path.stat().st_size
    assert size < 10e6, f"dashboard is {size / 1e6:.1f} MB"
    page = path.read_text(encoding="utf-8")
    figs = check_page(page, [s for s in BASE_SECTIONS if s != "training"])  # untrained: a note instead
    assert "No training history" in page
    assert len(figs["fit"]["layout"]["updatemenus"][0]["buttons"]) == 191


def test_integer_weeks_and_roi_without_spend(fitted_run):
    from causalmmm_jax.report.dashboard import _roi_section

    result, _ = fitted_run
    weeks = dataclasses.replace(result, panel=dataclasses.replace(result.panel, times=np.arange(100, 170)))
    secs = {s.id: s for s in dashboard_sections(weeks, metrics=result.metrics)}
    fig = secs["fit"].figure
    assert list(fig.data[0].x[:3]) == [100, 101, 102]
    assert fig.layout.shapes[0].x0 == 100 + result.split.n_train
    # no spend: the exposure-based effect instead of ROI; nothing at all: a note
    no_spend = {"channels": {c: {"effect_per_1000": 2.0 + i} for i, c in enumerate(result.panel.channels)}}
    sec = _roi_section(no_spend, list(result.panel.channels), list(result.panel.channels), ["#000"] * 5)
    assert "1,000 exposure" in sec.figure.layout.yaxis.title.text
    assert _roi_section({}, ["a"], ["a"], ["#000"]).note
