"""Temporal split of the time grid: fit block, optional validation block, reported holdout.

    weeks:  [0 ........ n_fit) [n_fit ... n_train) [n_train ....... T)
             fit (scalers,         validation          holdout (reported,
             seasonality, loss)    (early stopping)    never seen in training)

The holdout is the last ``holdout_weeks`` grid weeks (or ``int(T * holdout_ratio)`` as the
original); the validation block, when asked for, is the end of the training weeks.  The three
blocks never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import DataConfig
from ..errors import DataError

__all__ = ["Split", "temporal_split", "holdout_and_validation", "AUTO_VALIDATION_WEEKS"]

#: validation block used when ``data.validation_weeks`` is None and the data are long enough
AUTO_VALIDATION_WEEKS = 8


@dataclass(frozen=True)
class Split:
    """Week boundaries on the time grid: fit ``[0, n_fit)``, validation ``[n_fit, n_train)``,
    holdout ``[n_train, n_weeks)``."""

    n_weeks: int
    n_train: int
    n_val: int

    @property
    def n_fit(self) -> int:
        return self.n_train - self.n_val

    @property
    def n_holdout(self) -> int:
        return self.n_weeks - self.n_train

    def _block(self, start: int, stop: int, mask: np.ndarray | None) -> np.ndarray:
        weeks = np.zeros(self.n_weeks, dtype=bool)
        weeks[start:stop] = True
        if mask is None:
            return weeks
        return np.asarray(mask, dtype=bool) & weeks[None, :]

    def fit_mask(self, mask: np.ndarray | None = None) -> np.ndarray:
        """``[R,T]`` (or ``[T]`` without ``mask``): observed cells of the fit block."""
        return self._block(0, self.n_fit, mask)

    def val_mask(self, mask: np.ndarray | None = None) -> np.ndarray:
        return self._block(self.n_fit, self.n_train, mask)

    def train_mask(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Fit + validation block."""
        return self._block(0, self.n_train, mask)

    def holdout_mask(self, mask: np.ndarray | None = None) -> np.ndarray:
        return self._block(self.n_train, self.n_weeks, mask)

    def to_dict(self) -> dict:
        return {"n_weeks": self.n_weeks, "n_train": self.n_train, "n_val": self.n_val,
                "n_fit": self.n_fit, "n_holdout": self.n_holdout}


def holdout_and_validation(n_weeks: int, cfg: DataConfig) -> tuple[int, int]:
    """``(holdout weeks, validation weeks)`` for ``n_weeks``; validation ``None`` resolves to
    :data:`AUTO_VALIDATION_WEEKS` when the fit block keeps ``min_train_weeks``, else 0."""
    n_hold = cfg.holdout_weeks if cfg.holdout_weeks is not None else int(n_weeks * cfg.holdout_ratio)
    n_val = cfg.validation_weeks
    if n_val is None:
        n_val = AUTO_VALIDATION_WEEKS if n_weeks - n_hold - AUTO_VALIDATION_WEEKS >= cfg.min_train_weeks else 0
    return n_hold, n_val


def temporal_split(n_weeks: int, cfg: DataConfig) -> Split:
    """Split ``n_weeks`` grid weeks according to ``cfg``; raise :class:`DataError` when the data
    is too short for it."""
    n_hold, n_val = holdout_and_validation(n_weeks, cfg)
    n_train = n_weeks - n_hold
    n_fit = n_train - n_val
    if n_hold >= n_weeks or n_fit < cfg.min_train_weeks:
        raise DataError(
            f"the panel has {n_weeks} weeks but the split needs at least {cfg.min_train_weeks} fit weeks "
            f"(data.min_train_weeks) + {n_val} validation weeks (data.validation_weeks) + "
            f"{n_hold} holdout weeks (data.holdout_weeks/holdout_ratio); got {max(n_fit, 0)} fit weeks. "
            "Provide more weeks, or lower the holdout, validation_weeks or min_train_weeks."
        )
    return Split(n_weeks=n_weeks, n_train=n_train, n_val=n_val)
