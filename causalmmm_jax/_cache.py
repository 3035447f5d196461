"""JAX's persistent compilation cache, on by default for the CLI.

Compiled XLA programs are stored under ``$CAUSALMMM_CACHE_DIR`` (default
``~/.cache/causalmmm-jax/xla``), so a repeated fit of the same shapes and configuration skips
compilation.  Opt out with ``CAUSALMMM_NO_CACHE=1`` or ``causalmmm-jax --no-cache ...``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["enable_compilation_cache", "cache_dir"]


def cache_dir() -> Path:
    return Path(os.environ.get("CAUSALMMM_CACHE_DIR") or Path.home() / ".cache" / "causalmmm-jax" / "xla")


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turn the cache on (returns its folder), unless ``CAUSALMMM_NO_CACHE=1``."""
    if os.environ.get("CAUSALMMM_NO_CACHE") == "1":
        return None
    import jax

    d = Path(path) if path else cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # read-only home: run without a cache
    jax.config.update("jax_compilation_cache_dir", str(d))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return d
