"""A two-process fit on one CPU machine with ``jax.distributed``, checked against one process.

Writes a generated panel to a CSV, then runs ``causalmmm-jax fit`` as two processes of one
``jax.distributed`` job (``--coordinator 127.0.0.1:PORT --num-processes 2 --process-id I``): each
process reads only its own half of the regions from the CSV, the regions are split over the two
processes' devices (a ``1 x 2`` mesh: data parallelism over regions, the shared parameters'
gradients reduced across the processes with the Gloo collectives), and the first process writes the
run directory.  A third process fits the same CSV alone.  The script loads both runs, prints the
largest parameter and prediction differences and the two holdout RMSEs, and exits 1 when they
differ by more than float32 reduction order explains.

    .venv/bin/python examples/distributed_cpu.py                  # 11 regions x 104 weeks, hidden 16
    .venv/bin/python examples/distributed_cpu.py --regions 40 --hidden 64 --epochs 200

The Python API does the same in each process (docs/jax.md, "Several processes and hosts")::

    from causalmmm_jax.data.distributed import initialize, load_panel
    initialize("127.0.0.1:9876", num_processes=2, process_id=i)
    result = cm.fit(load_panel("panel.csv", mapping), config=cfg)
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

#: what float32 reduction order explains (sums over regions split across processes change their
#: rounding; Adam carries it through every epoch and early stopping through the choice of the best
#: epoch): parameters relative to max(1, |value|), predictions relative to the mean absolute
#: prediction, holdout RMSE relative.  A lost region, gradient shard or padding leak is orders of
#: magnitude larger.
PARAM_TOL, PRED_TOL, RMSE_TOL = 1e-3, 1e-3, 1e-3

CONFIG = """[model]
hidden_dim = {hidden}
[data]
holdout_weeks = 8
validation_weeks = 6
min_train_weeks = 20
[train]
epochs = {epochs}
chunk_epochs = 20
warm_start_epochs = 5
static_epochs = 100
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=11, help="regions (odd counts exercise the padding)")
    ap.add_argument("--weeks", type=int, default=104)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=60)
    a = ap.parse_args(argv)
    import jax
    import numpy as np

    import causalmmm_jax as cm
    from causalmmm_jax.data.synthetic import generate

    data = generate(3, n_regions=a.regions, n_weeks=a.weeks, n_channels=4, n_controls=1)
    m = data.mapping
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        csv, cfg = Path(tmp) / "panel.csv", Path(tmp) / "cfg.toml"
        data.frame.to_csv(csv, index=False)
        cfg.write_text(CONFIG.format(hidden=a.hidden, epochs=a.epochs))
        fit = [sys.executable, "-m", "causalmmm_jax.cli", "fit", str(csv), "--region", m.region, "--time", m.time,
               "--target", m.target, "--media", ",".join(m.media), "--controls", ",".join(m.controls),
               "--config", str(cfg), "--quiet"]
        port = _free_port()
        two, one = Path(tmp) / "two", Path(tmp) / "one"
        procs = [subprocess.Popen([*fit, "--out", str(two), "--coordinator", f"127.0.0.1:{port}",
                                   "--num-processes", "2", "--process-id", str(i)], env=env) for i in range(2)]
        codes = [p.wait(timeout=1800) for p in procs]
        if max(codes):
            print(f"a process failed: exit codes {codes}", file=sys.stderr)
            return 1
        subprocess.run([*fit, "--out", str(one)], env=env, check=True, timeout=1800)
        r2, r1 = cm.load(two), cm.load(one)
    la, lb = jax.tree_util.tree_leaves(r2.params), jax.tree_util.tree_leaves(r1.params)
    diff = max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)) / np.maximum(1.0, np.abs(np.asarray(y)))))
               for x, y in zip(la, lb))
    p2, p1 = np.asarray(r2.decompose().prediction), np.asarray(r1.decompose().prediction)
    pred = float(np.max(np.abs(p2 - p1)) / np.mean(np.abs(p1)))
    h2, h1 = r2.metrics["holdout"]["rmse"], r1.metrics["holdout"]["rmse"]
    rel = abs(h2 - h1) / abs(h1)
    t = r2.timing
    print(f"2 processes ({t['processes']:.0f} processes, {t['devices']:.0f} devices, {t['region_shards']:.0f} region "
          f"shards, {t['padded_regions']:.0f} padded region) vs 1 process: largest parameter difference {diff:.2e} "
          f"(relative), prediction {pred:.2e}, holdout RMSE {h2:.6g} vs {h1:.6g} (relative {rel:.1e})")
    ok = diff <= PARAM_TOL and pred <= PRED_TOL and rel <= RMSE_TOL
    print("equal within float32 reduction order" if ok else
          f"NOT equal (tolerances: parameters {PARAM_TOL}, predictions {PRED_TOL}, holdout RMSE {RMSE_TOL})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
