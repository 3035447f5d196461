"""``Panel``: a region × week panel as dense host arrays plus an observed-cell mask.

Shape names used throughout the package: ``R`` regions, ``T`` weeks of the time grid, ``C`` media
channels, ``K`` controls.  Cells with no input row are *masked* (``mask[r, t] = False``) and hold
0.0 in every array; nothing is copied from other weeks.  Every consumer must respect ``mask``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    pass

__all__ = ["Panel", "ColumnMapping"]


@dataclass(frozen=True)
class ColumnMapping:
    """Which input columns hold what.  ``media``/``controls``/``spend`` are names or glob patterns
    (``impressions_*``), expanded in the column order of the file; spend columns pair with media
    columns by order."""

    region: str
    time: str
    target: str
    media: tuple[str, ...]
    controls: tuple[str, ...] = ()
    spend: tuple[str, ...] | None = None

    def to_dict(self) -> dict:
        return {
            "region": self.region,
            "time": self.time,
            "target": self.target,
            "media": list(self.media),
            "controls": list(self.controls),
            "spend": None if self.spend is None else list(self.spend),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ColumnMapping":
        return cls(
            region=d["region"],
            time=d["time"],
            target=d["target"],
            media=tuple(d["media"]),
            controls=tuple(d.get("controls") or ()),
            spend=None if d.get("spend") is None else tuple(d["spend"]),
        )


@dataclass(frozen=True, eq=False)
class Panel:
    """Immutable panel.

    Attributes:
        media: float64 ``[R,T,C]`` exposure (impressions, GRPs, or spend); 0.0 where unobserved.
        controls: float64 ``[R,T,K]``; 0.0 where unobserved.
        target: float64 ``[R,T]`` KPI; 0.0 where unobserved.
        mask: bool ``[R,T]``; True where the input had a row for (region, week).
        regions: ``[R]`` region ids as in the input (sorted).
        times: ``[T]`` regular time grid from the first to the last week: int64 (step 1) or
            datetime64[ns] (constant step, normally 7 days).  Weeks absent for every region are
            kept on the grid and fully masked.
        channels: media column names, ``C`` of them.
        control_names: control column names, ``K`` of them.
        spend: float64 ``[R,T,C]`` or None; 0.0 where unobserved.
        spend_columns: spend column names paired with ``channels``, or None.
        target_name: the KPI column.
    """

    media: np.ndarray
    controls: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    regions: np.ndarray
    times: np.ndarray
    channels: tuple[str, ...]
    control_names: tuple[str, ...]
    target_name: str
    spend: np.ndarray | None = None
    spend_columns: tuple[str, ...] | None = None

    def column_mapping(self, *, region: str = "region", time: str = "time") -> ColumnMapping:
        """The mapping that rebuilds this panel from ``load.panel_to_frame`` with the same names."""
        return ColumnMapping(region=region, time=time, target=self.target_name, media=self.channels,
                             controls=self.control_names, spend=self.spend_columns)

    @property
    def n_regions(self) -> int:
        return self.media.shape[0]

    @property
    def n_weeks(self) -> int:
        return self.media.shape[1]

    @property
    def n_channels(self) -> int:
        return self.media.shape[2]

    @property
    def n_controls(self) -> int:
        return self.controls.shape[2]

    @property
    def week_index(self) -> np.ndarray:
        """``[T]`` int: calendar position of each grid week (0 for the first)."""
        return np.arange(self.n_weeks)

    def subset_regions(self, idx) -> "Panel":
        """A panel with the regions ``idx`` (indices or a boolean mask) only."""
        idx = np.asarray(idx)
        return Panel(
            media=self.media[idx], controls=self.controls[idx], target=self.target[idx],
            mask=self.mask[idx], regions=self.regions[idx], times=self.times, channels=self.channels,
            control_names=self.control_names, target_name=self.target_name,
            spend=None if self.spend is None else self.spend[idx],
            spend_columns=self.spend_columns,
        )

    def subset_weeks(self, start: int, stop: int) -> "Panel":
        """A panel with grid weeks ``[start, stop)`` only."""
        s = slice(start, stop)
        return Panel(
            media=self.media[:, s], controls=self.controls[:, s], target=self.target[:, s],
            mask=self.mask[:, s], regions=self.regions, times=self.times[s], channels=self.channels,
            control_names=self.control_names, target_name=self.target_name,
            spend=None if self.spend is None else self.spend[:, s], spend_columns=self.spend_columns,
        )
