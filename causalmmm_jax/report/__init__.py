"""HTML reporting: one self-contained dashboard per fitted run (``causalmmm-jax report``).

* :func:`build_dashboard` — ``dashboard.html`` from a run directory or a ``FitResult``;
* :mod:`~causalmmm_jax.report.figures` / :mod:`~causalmmm_jax.report.figures_model` — one
  function per figure, taking plain arrays and returning a plotly ``Figure``.
"""

from .dashboard import (
    DASHBOARD_FILE,
    Section,
    build_dashboard,
    dashboard_sections,
    render_html,
)

__all__ = ["build_dashboard", "dashboard_sections", "render_html", "Section", "DASHBOARD_FILE"]
