"""Multi-process runs (``jax.distributed``): start the runtime, read only this process's regions.

Each process of a multi-process fit (several hosts, or several processes on one machine) runs the
same program.  :func:`initialize` starts JAX's distributed runtime (on a CPU with the Gloo
collectives); :func:`load_panel` reads only the rows of this process's regions (a contiguous block
of the sorted region ids, :func:`process_regions`) from a CSV file or from a directory of CSV
files partitioned by region, then exchanges the parsed rows once, so that every process builds the
same :class:`~.panel.Panel` a single process would (same time grid, validation and scaling).  The
host copy is the raw panel (regions × weeks × columns numbers: 40 MB at 3,000 × 156 × 20 in
float64); what grows with the model, the training activations, stays split by region across the
processes' devices (``fit`` uses every global device under ``jax.distributed``).

Two processes on one machine::

    python -m causalmmm_jax.cli fit data.csv --config cfg.toml --out run \\
        --coordinator 127.0.0.1:9876 --num-processes 2 --process-id 0   # and --process-id 1

On SLURM or a TPU pod slice ``--distributed`` lets JAX find the coordinator itself (see docs/jax.md).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from .load import panel_from_frame, read_csv
from .panel import ColumnMapping, Panel

__all__ = ["initialize", "process_regions", "read_process_rows", "gather_frame", "load_panel"]


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, cpu_collectives: str = "gloo") -> None:
    """Start ``jax.distributed`` (before any other JAX call).  Without arguments JAX detects the
    cluster (SLURM, TPU pods, Kubernetes, MPI); on CPU devices the cross-process collectives use
    ``cpu_collectives`` (``"gloo"``)."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id)


def _process() -> tuple[int, int]:
    import jax

    return jax.process_index(), jax.process_count()


def process_regions(regions: Sequence, index: int | None = None, count: int | None = None) -> list:
    """This process's share of ``regions``: a contiguous block of the sorted ids, as even as
    possible (the first ``len % count`` processes take one more)."""
    if index is None or count is None:
        index, count = _process()
    ordered = sorted(regions)
    size, extra = divmod(len(ordered), count)
    start = index * size + min(index, extra)
    return ordered[start:start + size + (index < extra)]


def _csv_files(source: Path) -> list[Path]:
    files = sorted(p for p in source.iterdir() if p.suffix.lower() == ".csv")
    if not files:
        raise DataError(f"{source}: no .csv files in the directory; give a CSV file or a directory of "
                        "CSV files partitioned by region.")
    return files


def read_process_rows(source: str | os.PathLike, mapping: ColumnMapping, *, sep: str = ",",
                      index: int | None = None, count: int | None = None, chunksize: int = 200_000
                      ) -> pd.DataFrame:
    """The rows of this process's regions.  ``source``: a CSV file (read in chunks; rows of other
    regions are dropped as they are read) or a directory of CSV files partitioned by region (this
    process reads only the files of its block of files, in name order; a region must not span
    files of different processes)."""
    if index is None or count is None:
        index, count = _process()
    path = Path(source)
    if path.is_dir():
        files = _csv_files(path)
        mine = process_regions(range(len(files)), index, count)
        frames = [read_csv(files[i], sep=sep) for i in mine]
        return pd.concat(frames, ignore_index=True) if frames else read_csv(files[0], sep=sep).iloc[:0]
    if not path.is_file():
        read_csv(path, sep=sep)  # raises the DataError that names what is wrong with the path
    try:
        ids = pd.read_csv(path, sep=sep, encoding="utf-8-sig", usecols=[mapping.region])[mapping.region]
    except ValueError as e:
        raise DataError(f"{path}: {e}; the region column is {mapping.region!r} (--region-col).") from None
    own = set(process_regions(ids.dropna().astype(str).unique(), index, count))
    parts = [chunk[chunk[mapping.region].astype(str).isin(own)]
             for chunk in pd.read_csv(path, sep=sep, encoding="utf-8-sig", chunksize=chunksize)]
    return pd.concat(parts, ignore_index=True)


def gather_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every process's rows, in process order (one exchange of the pickled frames; a collective:
    every process calls it)."""
    import jax

    if jax.process_count() == 1:
        return frame
    from jax.experimental import multihost_utils

    blob = np.frombuffer(pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL), np.uint8)
    sizes = np.asarray(multihost_utils.process_allgather(np.array([blob.size], np.int32))).reshape(-1)
    padded = np.zeros(int(sizes.max()), np.uint8)
    padded[: blob.size] = blob
    every = np.asarray(multihost_utils.process_allgather(padded))  # [processes, max size]
    frames = [pickle.loads(every[i, : int(n)].tobytes()) for i, n in enumerate(sizes)]  # noqa: S301 - our own bytes
    return pd.concat(frames, ignore_index=True)


def load_panel(source: str | os.PathLike, mapping: ColumnMapping, *, sep: str = ",",
               missing_media: str = "error") -> Panel:
    """The panel of a multi-process run: this process reads only its regions
    (:func:`read_process_rows`), the rows are exchanged (:func:`gather_frame`) and every process
    builds the whole panel as one process would."""
    return panel_from_frame(gather_frame(read_process_rows(source, mapping, sep=sep)), mapping,
                            missing_media=missing_media)
