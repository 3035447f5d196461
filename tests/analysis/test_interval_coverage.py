"""The intervals' statistics on planted truth: two small designs, one whose channels' data identify
their level (a flighted and a pulsed channel), one whose data do not (two always-on channels), over
three generator seeds (120 weeks: the fit block holds two years, so the annual cycle is modelled and
the holdout weeks are a forecast the model's structure can make).  The family-wide figures are
benchmarks/decisions.py's (docs/analysis.md §9 and §10)."""

import numpy as np
import pytest

from causalmmm_jax.analysis.curves import response_curves, roi_table
from causalmmm_jax.analysis.identifiability import identifiability
from causalmmm_jax.data.synthetic import counterfactual, generate
from causalmmm_jax.train.fit import fit
from train_config import small_config

DESIGNS = {"identified": ("burst", "pulsed"), "silent": ("always_on", "always_on")}


def _cases(design: str, seed: int) -> dict:
    """``channels``: per real channel, its level flag, the incremental interval's width over the
    estimate, the point's relative error and whether the 90 % intervals of the incremental effect, ROI
    and the response to 0.5× and 1.5× spend cover the truth (over the training weeks);
    ``prediction``: metrics.json's prediction intervals (their holdout coverage)."""
    data = generate(seed, n_regions=8, n_weeks=120, n_channels=3, n_controls=1, noise=0.03,
                    flighting=DESIGNS[design])
    res = fit(data.panel(), small_config(static_epochs=1000, interval_draws=12), mapping=data.mapping)
    truth = data.truth
    cells = res.split.train_mask(res.panel.mask).astype(np.float64)
    base = float((truth.kpi * cells).sum())
    curves = response_curves(res, [0.0, 0.5, 1.0, 1.5]).set_index(["channel", "multiplier"])
    roi = roi_table(res).set_index("channel")
    report = identifiability(res, curves.reset_index()).set_index("channel")
    out = []
    for c, ch in enumerate(truth.channels):
        if ch == truth.null_channel:
            continue
        covered = []
        for m in (0.0, 0.5, 1.5):
            row = curves.loc[(ch, m)]
            true = float((counterfactual(truth, ch, m) * cells).sum() - base)
            covered.append(row["change_q05"] <= true <= row["change_q95"])
        true_roi = float((truth.contributions[..., c] * cells).sum() / roi.loc[ch, "spend"])
        covered.append(roi.loc[ch, "roi_q05"] <= true_roi <= roi.loc[ch, "roi_q95"])
        incr = curves.loc[(ch, 1.0)]
        true_incr = base - float((counterfactual(truth, ch, 0.0) * cells).sum())
        out.append({"design": design, "level": report.loc[ch, "level"], "covered": covered,
                    "width": report.loc[ch, "incremental_width"],
                    "error": abs(incr["incremental"] - true_incr) / true_incr,
                    "flighting": truth.params["flighting"][ch]})
    return {"channels": out, "prediction": res.metrics["prediction_interval"]}


@pytest.fixture(scope="module")
def fits():
    return [_cases(design, seed) for design in DESIGNS for seed in (0, 1, 2)]


@pytest.fixture(scope="module")
def cases(fits):
    return [c for f in fits for c in f["channels"]]


@pytest.mark.slow
def test_the_level_flag_marks_the_channels_whose_data_never_show_them_near_zero(cases):
    for c in cases:
        if c["flighting"] == "always_on":
            assert c["level"] == "prior", c
        if c["flighting"] == "burst":
            assert c["level"] == "data", c


@pytest.mark.slow
def test_intervals_are_wide_where_the_data_are_silent_and_narrow_where_they_speak(cases):
    silent = [c["width"] for c in cases if c["design"] == "silent"]
    flighted = [c["width"] for c in cases if c["flighting"] == "burst"]
    assert min(silent) > 2 * max(flighted), (silent, flighted)
    # the points are further off where the intervals are wide
    assert np.median([c["error"] for c in cases if c["design"] == "silent"]) > \
        2 * np.median([c["error"] for c in cases if c["flighting"] == "burst"])


@pytest.mark.slow
def test_the_intervals_cover_the_truth_in_most_cases(cases):
    """Incremental effect, ROI and the responses to 0.5× and 1.5× spend over 2 designs × 3 seeds ×
    2 channels (measured with one bootstrap weight per region × block and 12 draws: 48 of 48 covered,
    silent design 24 of 24; the bounds are floors, not that measurement)."""
    covered = [v for c in cases for v in c["covered"]]
    silent = [v for c in cases if c["design"] == "silent" for v in c["covered"]]
    assert len(covered) == 48
    assert np.mean(covered) >= 0.75 and np.mean(silent) >= 0.6, (np.mean(covered), np.mean(silent))


@pytest.mark.slow
def test_the_prediction_intervals_hold_most_holdout_cells_and_weekly_totals(fits):
    """The 90 % prediction intervals (draws' spread + the noise around the model) on the 8 holdout
    weeks of the 6 fits: 384 region-weeks and 48 weekly totals, never seen in training.  They err on
    the wide side (the trend's random-walk prior sets how far the level may move after the fit
    weeks), so the check is a floor on coverage and a ceiling on width."""
    held = [f["prediction"]["holdout"] for f in fits]
    assert all(f["prediction"]["source"] == "draws" for f in fits)
    cells = sum(h["cells"] for h in held)
    assert cells == 6 * 8 * 8
    coverage = sum(h["coverage"] * h["cells"] for h in held) / cells
    national = np.mean([h["coverage_national"] for h in held])
    assert coverage >= 0.8 and national >= 0.8, (coverage, national, held)
    assert np.median([h["relative_width_median"] for h in held]) < 0.5, held  # narrower than ±25 % of the KPI
