"""Input data: the :class:`Panel` container, loading and validation."""

from .load import (
    format_summary,
    panel_from_csv,
    panel_from_frame,
    panel_summary,
    panel_to_frame,
    read_csv,
)
from .panel import ColumnMapping, Panel
from .validate import DataWarning, check_split_feasible, split_sizes

__all__ = [
    "Panel",
    "ColumnMapping",
    "DataWarning",
    "check_split_feasible",
    "split_sizes",
    "read_csv",
    "panel_from_frame",
    "panel_from_csv",
    "panel_to_frame",
    "panel_summary",
    "format_summary",
]
