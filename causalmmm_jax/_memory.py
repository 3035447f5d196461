"""Host memory: the process's peak resident set, and handing freed heap back to the system.

XLA's compiler allocates and frees a few hundred MB while it builds a program; glibc keeps the
freed pages resident, so every compilation raised the process's resident set by what the compiler
used, and a fit that compiles three programs peaked near the sum.  :func:`release_host_memory`
(glibc's ``malloc_trim``) returns them before and after each compilation (what it saves on the
example panel: benchmarks/memory.py, RESULTS.md §6).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

__all__ = ["peak_rss_mb", "release_host_memory"]


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (MiB; the whole process, not one fit)."""
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (2**20 if sys.platform == "darwin" else 2**10)  # bytes on macOS, KiB on Linux


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def release_host_memory() -> bool:
    """Return the heap's free pages to the operating system (glibc ``malloc_trim(0)``); whether it
    could (False off Linux or without glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
