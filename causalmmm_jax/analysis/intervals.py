"""Intervals for every channel quantity from the anchored draws of the structural model.

A run fitted with ``train.interval_draws = K`` holds K anchored members of its structural model
(:mod:`causalmmm_jax.train.draws`).  Each channel quantity (contribution, incremental KPI, marginal
KPI, the response at a spend multiplier; ROI and mROI are these over spend) is computed for every
draw exactly as :func:`~.curves.roi_table` and :func:`~.curves.response_curves` compute it for the
fitted model (:func:`draw_quantities`), and :func:`carry_interval` turns the draws' spread into an
interval: by default the log-normal predictive interval (Student t on K − 1 degrees of freedom)
centred on the fitted model's estimate; ``method="draws"`` centres it on the draws, ``"quantile"``
takes their sample quantiles.
"""

from __future__ import annotations

from ..train.result import INTERVAL_LEVEL, INTERVAL_METHODS, carry_interval
from .curves import draw_quantities

__all__ = ["draw_quantities", "carry_interval", "INTERVAL_LEVEL", "INTERVAL_METHODS"]
