"""Shared helpers for the benchmark scripts (not a public API).

Every script: ``argparse`` flags from :func:`base_parser`, machine info from :func:`machine_info`,
one JSON file written by :func:`write_json`, a short table printed by :func:`print_table`.

The training helpers (:func:`prepare_training`, :func:`init_states`, :func:`compile_runner`,
:func:`time_chunks`) use the package's phase API (``causalmmm_jax.train.phases``: ``default_phases``,
``init_members``, ``compile_phase``), the programs ``causalmmm_jax.train.fit.fit`` runs, and time
every chunk separately; the fit-time worker runs ``phases.run_phases`` itself.  Nothing here imports jax at module level, so the original's worker
(which runs in the parity venv without causalmmm-jax) can stay independent of it.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Sequence

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_CSV = REPO_ROOT.parent / "shared" / "data" / "mmm_data.csv"
DEFAULT_PARITY_PYTHON = Path(os.environ.get("CAUSALMMM_PARITY_PYTHON", "/work/parity-venv/bin/python"))
SCHEMA_VERSION = 1

# the example CSV's columns (see ../shared/data/README.md)
CSV_COLUMNS = dict(region="dmacode", time="weekid", target="target_visits", media=("impressions_*",),
                   controls=("control_*",))


# ---------------------------------------------------------------------------------------------
# argparse, JSON, tables


def base_parser(name: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"benchmarks/{name}.py", description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes that finish in seconds (a smoke test; the figures mean nothing)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / f"{name}.json",
                   help=f"JSON file to write (default benchmarks/results/{name}.json)")
    return p


def int_list(text: str) -> list[int]:
    return [int(x) for x in str(text).replace(" ", "").split(",") if x]


def designs_and_seeds(args, known) -> tuple[list[str], list[int]] | None:
    """``(designs, seeds)`` of a generated-panel benchmark's ``--designs``/``--seeds`` (``--quick``:
    the quick design, seed 0), or None after printing the unknown designs to stderr."""
    designs = ["quick"] if args.quick else [d for d in args.designs.split(",") if d]
    unknown = set(designs) - set(known) - ({"quick"} if args.quick else set())
    if unknown:
        print(f"unknown design(s) {sorted(unknown)}; choose from {', '.join(known)}", file=sys.stderr)
        return None
    return designs, ([0] if args.quick else int_list(args.seeds))


def _jsonable(x: Any) -> Any:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if np is not None:
        if isinstance(x, np.ndarray):
            return _jsonable(x.tolist())
        if isinstance(x, np.generic):
            return _jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None  # JSON has no NaN/inf
    return x


def write_json(path: Path, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_jsonable(payload), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote {path}")
    return path


def fmt(v: Any, spec: str = ".4g") -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int,)) and spec == ".4g":
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        return format(v, spec)
    return str(v)


def print_table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]], title: str | None = None) -> None:
    """``columns``: (key, header, format spec)."""
    cells = [[fmt(r.get(k), f) for k, _, f in columns] for r in rows]
    heads = [h for _, h, _ in columns]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]
    if title:
        print(title)
    print("  ".join(h.rjust(w) for h, w in zip(heads, widths)))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(x.rjust(w) for x, w in zip(c, widths)))


def target(value, limit: float, quick: bool, *, at_most: bool = True) -> dict:
    """``{"value", "target", "met"}``; ``met`` is None when not measured or on ``--quick`` runs."""
    met = None if (value is None or quick) else bool(value <= limit if at_most else value >= limit)
    return {"value": value, "target": limit, "met": met}


def median(xs: Iterable[float]) -> float | None:
    xs = [float(x) for x in xs if x is not None and math.isfinite(float(x))]
    return statistics.median(xs) if xs else None


def mean_or_none(xs: Iterable[float]) -> float | None:
    """The mean of ``xs`` (booleans count 1/0), None when empty: a share of cases."""
    xs = [float(x) for x in xs if x is not None]
    return statistics.fmean(xs) if xs else None


# ---------------------------------------------------------------------------------------------
# machine info and memory


def run_worker(cmd: list[str], out: Path, timeout: float | None, label: str) -> dict:
    """Run a worker script (``cmd`` writes its JSON to ``out``) in the repository root without this
    venv's PYTHONPATH/PYTHONHOME (the original's worker runs under the parity venv's python); its
    JSON with ``process_seconds``, or ``{"error": ...}`` (timeout, non-zero exit: stderr's tail)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    print(f"[{time.strftime('%H:%M:%S')}] {label}: {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s", "process_seconds": time.perf_counter() - t0}
    dt = time.perf_counter() - t0
    if proc.returncode != 0 or not out.exists():
        return {"error": f"exit code {proc.returncode}", "stderr_tail": proc.stderr[-4000:], "process_seconds": dt}
    rep = json.loads(out.read_text(encoding="utf-8"))
    rep["process_seconds"] = dt
    return rep


def peak_rss_mb() -> float:
    """Peak resident set size of this process (MiB; ``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024.0 * 1024.0) if sys.platform == "darwin" else r / 1024.0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 2)
    except OSError:
        pass
    return None


def _git() -> dict:
    def run(*a):
        try:
            return subprocess.run(["git", *a], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    dirty = bool(run("status", "--porcelain", "--untracked-files=no"))
    return {"commit": run("rev-parse", "HEAD") or None, "dirty": dirty}


def _nvidia_smi() -> list[str] | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return [l.strip() for l in out.stdout.splitlines() if l.strip()] or None


def machine_info(with_jax: bool = True) -> dict:
    """CPU model, cores, memory, OS, Python and library versions, JAX backend and devices."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        affinity = None
    info: dict[str, Any] = {
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_usable": affinity,
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "mem_total_gb": _mem_total_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "env": {k: os.environ[k] for k in ("XLA_FLAGS", "JAX_PLATFORMS", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
                                           "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION")
                if k in os.environ},
        "git": _git(),
    }
    import numpy as np

    info["numpy"] = np.__version__
    if with_jax:
        import importlib.metadata as md

        import jax
        import jaxlib

        info["jax"] = jax.__version__
        info["jaxlib"] = jaxlib.__version__
        for pkg in ("flax", "optax", "causalmmm-jax"):
            try:
                info[pkg.replace("-", "_")] = md.version(pkg)
            except md.PackageNotFoundError:
                info[pkg.replace("-", "_")] = None
        info["backend"] = jax.default_backend()
        info["devices"] = [{"id": d.id, "platform": d.platform, "device_kind": d.device_kind} for d in jax.devices()]
        info["device_kind"] = jax.devices()[0].device_kind
        info["default_matmul_precision"] = jax.config.jax_default_matmul_precision
        if info["backend"] == "gpu":
            info["nvidia_smi"] = _nvidia_smi()
    return info


def device_memory_stats() -> list[dict] | None:
    """``jax`` per-device allocator statistics (GPU/TPU); None where the backend has none (CPU)."""
    import jax

    out = []
    for d in jax.local_devices():
        try:
            s = d.memory_stats()
        except Exception:  # noqa: BLE001 - backends without stats raise or return None
            s = None
        if s:
            keep = ("bytes_in_use", "peak_bytes_in_use", "bytes_limit", "largest_alloc_size", "num_allocs")
            out.append({"device": d.id, **{k: int(s[k]) for k in keep if k in s}})
    return out or None


def compiled_memory(compiled) -> dict | None:
    """XLA's static memory analysis of a compiled program (argument/output/temp bytes)."""
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001
        return None
    if m is None:
        return None
    keys = ("argument_size_in_bytes", "output_size_in_bytes", "alias_size_in_bytes", "temp_size_in_bytes",
            "generated_code_size_in_bytes")
    return {k: int(getattr(m, k)) for k in keys if hasattr(m, k)}


def cost_analysis(compiled) -> dict:
    """``compiled.cost_analysis()`` as one dict (older jax returned a list of one dict)."""
    ca = compiled.cost_analysis()
    if isinstance(ca, (list, tuple)):
        ca = ca[0] if ca else {}
    return dict(ca or {})


def bench_cache_dir() -> Path | None:
    """``$CAUSALMMM_BENCH_CACHE_DIR``: when set, benchmark processes use JAX's persistent
    compilation cache there (the smoke test sets it so that repeated ``--quick`` runs skip
    compilation).  Unset (the default) for real measurements: every compile is cold."""
    d = os.environ.get("CAUSALMMM_BENCH_CACHE_DIR")
    return Path(d) if d else None


def setup_cache() -> str | None:
    """Enable the persistent cache in this process if :func:`bench_cache_dir` is set."""
    d = bench_cache_dir()
    if d is None:
        return None
    from causalmmm_jax._cache import enable_compilation_cache

    got = enable_compilation_cache(d)
    return str(got) if got else None


# ---------------------------------------------------------------------------------------------
# data


def csv_mapping():
    from causalmmm_jax.data.panel import ColumnMapping

    return ColumnMapping(**CSV_COLUMNS)


def load_csv_panel(path: Path | str, regions: int | None = None):
    """The example CSV as a Panel; ``regions``: keep the first N regions (sorted ids)."""
    from causalmmm_jax.data.load import panel_from_csv

    panel = panel_from_csv(path, csv_mapping())
    if regions is not None and regions < panel.n_regions:
        panel = panel.subset_regions(list(range(regions)))
    return panel


def synthetic_panel(n_regions: int, n_weeks: int, n_channels: int = 13, n_controls: int = 7, seed: int = 0):
    from causalmmm_jax.data.synthetic import generate

    return generate(seed, n_regions=n_regions, n_weeks=n_weeks, n_channels=n_channels,
                    n_controls=n_controls, dates=False).panel()


def data_panel(csv: Path | None, quick_shape: tuple[int, int] | None, *, regions: int | None = None,
               fallback_shape: tuple[int, int] = (190, 109)):
    """(panel, description): the CSV when it exists (and no ``quick_shape``), else a synthetic
    panel of ``quick_shape`` or ``fallback_shape`` (regions, weeks) with 13 channels and 7 controls."""
    if quick_shape is None and csv is not None and Path(csv).exists():
        p = load_csv_panel(csv, regions)
        return p, {"source": "csv", "path": str(csv), "regions_kept": regions}
    r, t = quick_shape or fallback_shape
    c, k = (3, 1) if quick_shape else (13, 7)  # --quick: the shape of the test suite's small panel
    p = synthetic_panel(r, t, c, k)
    return p, {"source": "synthetic", "generator": "causalmmm_jax.data.synthetic.generate(0)",
               "csv_missing": quick_shape is None}


def panel_shape(panel) -> dict:
    return {"regions": panel.n_regions, "weeks": panel.n_weeks, "channels": panel.n_channels,
            "controls": panel.n_controls, "observed_cells": int(panel.mask.sum())}


# ---------------------------------------------------------------------------------------------
# training harness (the same steps as causalmmm_jax.train.fit.fit)


def make_config(*, hidden: int, epochs: int, warm_start_epochs: int = 0, seed: int = 42, preset: str = "default",
                data: dict | None = None, model: dict | None = None, train: dict | None = None):
    from causalmmm_jax.config import preset as get_preset

    return get_preset(preset).updated(model={"hidden_dim": hidden, **(model or {})},
                                      train={"epochs": epochs, "warm_start_epochs": warm_start_epochs, "seed": seed,
                                             **(train or {})},
                                      data=dict(data or {}))


def prepare_training(panel, cfg, n_seeds: int = 1):
    """Split, scale, seasonality, inputs and data-driven init (what ``fit`` does before training)."""
    import jax

    from causalmmm_jax.train.ensemble import stack_trees
    from causalmmm_jax.train.fit import initial_params, prepare_data

    split, scaler, seasonal, prep, spec, data = prepare_data(panel, cfg)
    seeds = [cfg.train.seed + i for i in range(n_seeds)]
    keys = [jax.random.PRNGKey(s) for s in seeds]
    inits, data = initial_params(keys, spec, data, cfg)
    batched = n_seeds > 1
    return SimpleNamespace(panel=panel, cfg=cfg, split=split, scaler=scaler, seasonal=seasonal, prep=prep, spec=spec,
                           data=data, keys=keys, inits=inits, batched=batched, n_seeds=n_seeds,
                           stack=(stack_trees if batched else (lambda xs: xs[0])))


def main_phase(tr, *, n_epochs: int | None = None, length: int | None = None, early_stop: bool = False):
    """``fit``'s main phase under ``tr.cfg`` (``causalmmm_jax.train.phases.default_phases``), without
    early stopping unless ``early_stop`` (the benchmarks run fixed epoch counts); ``n_epochs`` and
    ``length`` (epochs per chunk) override the phase's."""
    import jax.numpy as jnp

    from causalmmm_jax.train.phases import default_phases

    phase = default_phases(tr.cfg, early_stop=early_stop)[2]
    if n_epochs is not None:
        phase = phase.replace(hyper=phase.hyper.replace(n_epochs=jnp.int32(n_epochs)))
    return phase if length is None else phase.replace(chunk_epochs=length)


def init_states(tr, params_list, *, n_epochs: int | None = None):
    """Fresh main-phase train states of ``tr``'s members (stacked when N > 1), as ``fit`` builds them
    (``phases.init_members``)."""
    from causalmmm_jax.train.phases import init_members

    return init_members(main_phase(tr, n_epochs=n_epochs), params_list, tr.keys)


def compile_runner(tr, states, *, length: int):
    """(compiled chunk, compile seconds, runner) of the main phase's program for ``length`` epochs
    per call (``phases.compile_phase``: the program ``fit`` runs; the phase's epochs and settings are
    in ``states.hyper``)."""
    from causalmmm_jax.train.ensemble import batched_runner
    from causalmmm_jax.train.phases import compile_phase

    compiled, seconds = compile_phase(states, tr.data, tr.spec, main_phase(tr, length=length), batched=tr.batched)
    return compiled, seconds, batched_runner(tr.spec, length=length, batched=tr.batched)


def run_chunk(compiled, states, data):
    """One timed chunk; returns (states, metrics on host, seconds incl. the host sync)."""
    import jax

    t0 = time.perf_counter()
    states, m = compiled(states, data)
    m = jax.device_get(m)
    jax.block_until_ready(states)
    return states, m, time.perf_counter() - t0


def time_chunks(compiled, states, data, *, length: int, warmup: int, timed: int) -> dict:
    """Run ``warmup`` untimed then ``timed`` timed chunks; seconds per epoch per chunk and median."""
    for _ in range(warmup):
        states, _, _ = run_chunk(compiled, states, data)
    secs = []
    for _ in range(timed):
        states, _, dt = run_chunk(compiled, states, data)
        secs.append(dt / length)
    return {"states": states, "seconds_per_epoch_chunks": secs, "seconds_per_epoch": median(secs),
            "chunk_epochs": length, "warmup_chunks": warmup, "timed_chunks": timed}


def loglog_fit(x: Sequence[float], y: Sequence[float]) -> dict | None:
    """Least squares ``log y = a + b log x``; returns exponent b, prefactor exp(a), R²."""
    import numpy as np

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = (x > 0) & (y > 0) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(np.unique(x)) < 2:
        return None
    lx, ly = np.log(x), np.log(y)
    b, a = np.polyfit(lx, ly, 1)
    resid = ly - (a + b * lx)
    ss = float(((ly - ly.mean()) ** 2).sum())
    return {"exponent": float(b), "prefactor": float(math.exp(a)), "r2_loglog": 1 - float((resid ** 2).sum()) / ss
            if ss > 0 else None, "n_points": int(len(x))}
