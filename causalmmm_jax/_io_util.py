"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "writable_dir"]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a partial one."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return p


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def writable_dir(out: str | os.PathLike) -> Path:
    """``out`` created if needed and checked writable (a probe file written and removed); a
    :class:`~causalmmm_jax.errors.UserError` naming the folder otherwise.  Commands call it before
    any long work, so a bad ``--out`` fails in a second, not after the fit."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"  # per process: several may check one folder
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        from .errors import UserError

        raise UserError(f"cannot write to the output directory {out}: {e.strerror or e}. "
                        "Choose another --out folder.") from None
    return out
