"""The dashboard's unit: one :class:`Section` per panel (shared by the dashboard and its planning
panels)."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

_ANALYSIS_HINT = "Run <code>causalmmm-jax {cmd} RUN_DIR</code> and rebuild the dashboard to add it."


@dataclass
class Section:
    """One dashboard panel: a figure, or a note when its data is unavailable."""

    id: str
    title: str
    description: str
    figure: go.Figure | None = None
    note: str | None = None
    group: str = ""
