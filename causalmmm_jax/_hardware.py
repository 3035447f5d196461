"""What the accelerator does fast: whether bfloat16 matmuls pay off on the default JAX backend.

``model.matmul_dtype = "auto"`` resolves through :func:`fast_bfloat16_matmuls` when ``fit``
starts: bfloat16 operands (float32 accumulation) on TPUs, on GPUs from compute capability 8.0
(Ampere) on, and on CPUs that report bfloat16 dot-product instructions (x86 ``avx512_bf16`` or
``amx_bf16``, read from ``/proc/cpuinfo``); float32 everywhere else, where bfloat16 would be
converted back and forth without gaining speed.
"""

from __future__ import annotations

import functools
import sys

__all__ = ["fast_bfloat16_matmuls", "cpu_bfloat16_flags"]

#: CPU flags (Linux /proc/cpuinfo) of instructions that multiply bfloat16 pairs into float32
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def cpu_bfloat16_flags() -> tuple[str, ...]:
    """The bfloat16 flags the CPU reports (empty off Linux or when /proc/cpuinfo is unreadable)."""
    if not sys.platform.startswith("linux"):
        return ()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[-1].split())
                    return tuple(flag for flag in BF16_CPU_FLAGS if flag in flags)
    except OSError:
        pass
    return ()


def fast_bfloat16_matmuls(backend: str | None = None) -> bool:
    """Whether ``backend`` (default: JAX's default backend) multiplies bfloat16 faster than float32."""
    import jax

    backend = backend or jax.default_backend()
    if backend == "tpu":
        return True
    if backend in ("gpu", "cuda", "rocm"):
        try:
            caps = [getattr(d, "compute_capability", None) for d in jax.devices(backend)]
            return all(c is not None and float(c) >= 8.0 for c in caps)
        except (RuntimeError, ValueError, TypeError):
            return False
    if backend == "cpu":
        return bool(cpu_bfloat16_flags())
    return False
