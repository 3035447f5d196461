"""Intervals for every channel quantity from the anchored draws of the structural model.

A run fitted with ``train.interval_draws = K`` holds K anchored members of its structural model
(:mod:`causalmmm_jax.train.draws`).  Each channel quantity q (contribution, incremental KPI, marginal
KPI, the response at a spend multiplier; ROI and mROI are these over spend) is computed for every
draw exactly as :func:`~.curves.roi_table` and :func:`~.curves.response_curves` compute it for the
fitted model, and the draws' spread is carried to the fitted model's estimate q̂ on the ratio scale::

    [lo, hi] = q̂ · [Q_α(q_k), Q_1−α(q_k)] / median_k(q_k)

(the draws' relative uncertainty around the full model's estimate; quantities whose draws change
sign, or whose median is 0, take the draws' spread additively: q̂ + Q(q_k) − median).  ``method="draws"``
reports the draws' own quantiles instead.
"""

from __future__ import annotations

from ..train.result import INTERVAL_LEVEL, INTERVAL_METHODS, carry_interval
from .curves import draw_quantities

__all__ = ["draw_quantities", "carry_interval", "INTERVAL_LEVEL", "INTERVAL_METHODS"]
