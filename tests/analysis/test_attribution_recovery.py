"""Recovery of planted channel shares on the synthetic generator (issue #4's criterion).

Fit: :func:`conftest.fitted` (10 regions × 104 weeks, 4 channels + a null channel, hidden 32,
default configuration otherwise: structural pre-fit, national knot trend, no annual cycle (84 fit
weeks < two years), Hill priors, early stopping on the validation block).  Measured on 2 CPU
cores: tv −1.8, search −2.4, social +0.9, display +2.9 points; the null channel takes 0.4 % of
media.  With train.seed 43 or 44 instead of 42 the main phase stops within 30 epochs and the
shares stay at the pre-fit's (display +6.3, null 0.6–0.7 %): the null channel is robustly
recovered, the split between the always-on channels and the saturated display channel leans on
the Hill priors (docs/concepts.md §9)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_channel_shares_within_8_points(fitted, synthetic):
    """The bound covers the measured training seeds 42–44 (largest error 6.3 points, display at
    seeds 43/44) with a margin, not the 2.9 points of seed 42 alone: the always-on channels'
    split is prior-driven (issue #17 adds intervals that say so)."""
    truth = synthetic.truth.shares
    got = {ch: v["share"] for ch, v in fitted.metrics["channels"].items()}
    errors = {ch: round(100 * (got[ch] - truth[ch]), 2) for ch in truth}
    assert max(abs(e) for e in errors.values()) <= 8.0, errors


def test_null_channel_small(fitted, synthetic):
    null = synthetic.truth.null_channel
    share = fitted.metrics["channels"][null]["share"]
    assert share < 0.01, share


def test_transforms_move_toward_truth(fitted, synthetic):
    """The fitted adstock decays of the main channels are closer to the planted ones than the
    common starting value is (the Hill priors do not pin the curves at their start)."""
    from causalmmm_jax.model.mmm import transform_params

    p = synthetic.truth.params
    chans = [c for c in synthetic.truth.channels if c != synthetic.truth.null_channel]
    idx = [fitted.panel.channels.index(c) for c in chans]
    decay = np.asarray(transform_params(fitted.member(0), fitted.spec)["decay"])[idx]
    true = np.array([p["adstock_decay"][c] for c in chans])
    start = 0.8 / (1 + np.exp(-0.8))  # adstock_max_decay · σ(0.8), the initial decay
    assert np.abs(decay - true).mean() < 0.5 * np.abs(start - true).mean(), (decay, true)
