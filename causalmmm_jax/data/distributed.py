"""Multi-process runs (``jax.distributed``): start the runtime, read only this process's regions.

Each process of a multi-process fit (several hosts, or several processes on one machine) runs the
same program.  :func:`initialize` starts JAX's distributed runtime (on a CPU with the Gloo
collectives); :func:`load_panel` takes the rows of this process's regions (a contiguous block of
the sorted region ids, :func:`process_regions`): from one CSV file, which every process scans in
chunks keeping only its own rows, or from a directory of CSV files partitioned by region, of which
each process reads only its own files.  The rows are exchanged once, as text, and parsed once over
all of them, so every process builds the :class:`~.panel.Panel` a single process reading the data
would (the same column types, time grid, validation and scaling).  The
host copy is the raw panel (regions × weeks × columns float64 numbers: 3,000 · 156 · 20 · 8
bytes = 75 MB); what grows with the model, the training activations, stays split by region
across the processes' devices (``fit`` uses every global device under ``jax.distributed``).

Two processes on one machine::

    python -m causalmmm_jax.cli fit data.csv --config cfg.toml --out run \\
        --coordinator 127.0.0.1:9876 --num-processes 2 --process-id 0   # and --process-id 1

On SLURM or a TPU pod slice ``--distributed`` lets JAX find the coordinator itself (see docs/jax.md).
"""

from __future__ import annotations

import io
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


#: every cell as the text in the file: rows are chosen and exchanged as text and parsed once, after
#: the exchange, over all of them, so column types come out as one process reading the file gets them
_TEXT = dict(encoding="utf-8-sig", dtype=str, keep_default_na=False, na_filter=False)


def read_process_rows(source: str | os.PathLike, mapping: ColumnMapping, *, sep: str = ",",
                      index: int | None = None, count: int | None = None, chunksize: int = 200_000
                      ) -> pd.DataFrame:
    """The rows of this process's regions, every cell as text.  ``source``: a CSV file (scanned in
    chunks; the rows of other regions are dropped as they are read, so memory holds this process's
    rows only) or a directory of CSV files partitioned by region (this process reads only its block
    of files, in name order; a region must not span files of different processes)."""
    if index is None or count is None:
        index, count = _process()
    path = Path(source)
    if path.is_dir():
        files = _csv_files(path)
        mine = process_regions(range(len(files)), index, count)
        frames = [pd.read_csv(files[i], sep=sep, **_TEXT) for i in mine]
        return pd.concat(frames, ignore_index=True) if frames else pd.read_csv(files[0], sep=sep, nrows=0, **_TEXT)
    if not path.is_file():
        read_csv(path, sep=sep)  # raises the DataError that names what is wrong with the path
    try:
        ids = pd.read_csv(path, sep=sep, usecols=[mapping.region], **_TEXT)[mapping.region]
    except ValueError as e:
        raise DataError(f"{path}: {e}; the region column is {mapping.region!r} (--region).") from None
    own = set(process_regions(ids.unique().tolist(), index, count))
    parts = [chunk[chunk[mapping.region].isin(own)]
             for chunk in pd.read_csv(path, sep=sep, chunksize=chunksize, **_TEXT)]
    return pd.concat(parts, ignore_index=True)


def _allgather_bytes(blob: bytes) -> list[bytes]:
    """Every process's ``blob``, in process order (two collectives: the sizes, then the bytes)."""
    from jax.experimental import multihost_utils

    size = np.frombuffer(np.int64(len(blob)).tobytes(), np.uint8)  # 8 bytes: no int32 limit
    sizes = np.asarray(multihost_utils.process_allgather(size)).reshape(-1, 8)
    lengths = [int(np.frombuffer(row.tobytes(), np.int64)[0]) for row in sizes]
    padded = np.zeros(max(lengths), np.uint8)
    padded[: len(blob)] = np.frombuffer(blob, np.uint8)
    every = np.asarray(multihost_utils.process_allgather(padded))  # [processes, max size]
    return [every[i, :n].tobytes() for i, n in enumerate(lengths)]


def gather_frame(frame: pd.DataFrame | BaseException) -> pd.DataFrame:
    """Every process's rows, in process order (a collective: every process calls it).  A process
    that failed to read its rows passes its exception instead: every process then raises it, so no
    process waits for the others in a later collective."""
    import jax

    if jax.process_count() == 1:
        if isinstance(frame, BaseException):
            raise frame
        return frame
    every = [pickle.loads(b) for b in _allgather_bytes(pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL))]  # noqa: S301 - our own bytes
    for i, item in enumerate(every):
        if isinstance(item, BaseException):
            raise item if isinstance(item, DataError) else DataError(f"process {i} could not read its rows: {item}")
    return pd.concat(every, ignore_index=True)


def load_panel(source: str | os.PathLike, mapping: ColumnMapping, *, sep: str = ",",
               missing_media: str = "error") -> Panel:
    """The panel of a multi-process run: this process reads only its regions
    (:func:`read_process_rows`), the rows are exchanged (:func:`gather_frame`) and parsed once over
    all of them, and every process builds the whole panel as one process reading ``source`` would."""
    try:
        rows: pd.DataFrame | BaseException = read_process_rows(source, mapping, sep=sep)
    except Exception as e:  # noqa: BLE001 - handed to every process by gather_frame
        rows = e
    text = gather_frame(rows).to_csv(index=False)
    df = pd.read_csv(io.StringIO(text), low_memory=False)
    return panel_from_frame(df, mapping, missing_media=missing_media)
