"""A two-process fit on one CPU machine with ``jax.distributed``, checked against one process.

Writes a generated panel to a CSV, then starts two processes that each read only their own half of
the regions from it (``causalmmm_jax.data.distributed.load_panel``) and fit the model together, the
regions split over the two processes' devices (a ``1 x 2`` mesh: data parallelism over regions,
gradients of the shared parameters reduced across the processes with the Gloo collectives).  A third
process fits the same CSV alone; the script prints the largest parameter difference and the two
holdout RMSEs, and exits 1 when they differ by more than float32 reduction order explains.

    .venv/bin/python examples/distributed_cpu.py                  # 12 regions x 104 weeks, hidden 16
    .venv/bin/python examples/distributed_cpu.py --regions 40 --hidden 64 --epochs 200

The same worker code runs across hosts: start one process per host with the coordinator's address
(docs/jax.md, "Several hosts").
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

#: what float32 reduction order explains (sums over regions split across processes change their
#: rounding, and Adam carries it through every epoch): parameters relative to max(1, |value|),
#: predictions relative to the mean absolute prediction, holdout RMSE relative
PARAM_TOL, PRED_TOL, RMSE_TOL = 1e-3, 1e-4, 1e-4


def _config(hidden: int, epochs: int):
    from causalmmm_jax.config import Config

    return Config().updated(model={"hidden_dim": hidden},
                            data={"holdout_weeks": 8, "validation_weeks": 6, "min_train_weeks": 20},
                            train={"epochs": epochs, "chunk_epochs": 20, "warm_start_epochs": 5, "static_epochs": 100})


def _fit_and_save(csv: str, out: str, hidden: int, epochs: int, mapping_json: str) -> None:
    import numpy as np

    from causalmmm_jax.data.panel import ColumnMapping
    from causalmmm_jax.train.fit import fit

    mapping = ColumnMapping.from_dict(json.loads(mapping_json))
    import jax

    if jax.process_count() > 1:
        from causalmmm_jax.data.distributed import load_panel

        panel = load_panel(csv, mapping)
    else:
        from causalmmm_jax.data.load import panel_from_csv

        panel = panel_from_csv(csv, mapping)
    result = fit(panel, _config(hidden, epochs))
    if jax.process_index() == 0:
        leaves = jax.tree_util.tree_leaves(result.params)
        np.savez(out, *[np.asarray(x) for x in leaves])
        np.save(out + ".pred.npy", np.asarray(result.decompose().prediction))
        Path(out + ".json").write_text(json.dumps({
            "holdout_rmse": result.metrics["holdout"]["rmse"], "processes": jax.process_count(),
            "devices": len(jax.devices()), "timing": result.timing}))


def worker(pid: int, port: int, csv: str, out: str, hidden: int, epochs: int, mapping_json: str) -> None:
    from causalmmm_jax.data.distributed import initialize

    initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid)
    import jax

    _fit_and_save(csv, out, hidden, epochs, mapping_json)
    print(f"process {pid}: {jax.process_count()} processes, {len(jax.devices())} global devices, fit done",
          flush=True)
    jax.distributed.shutdown()


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
    import numpy as np

    from causalmmm_jax.data.synthetic import generate

    data = generate(3, n_regions=a.regions, n_weeks=a.weeks, n_channels=4, n_controls=1)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        csv = str(Path(tmp) / "panel.csv")
        data.frame.to_csv(csv, index=False)
        mapping_json = json.dumps(data.mapping.to_dict())
        common = [csv, None, str(a.hidden), str(a.epochs), mapping_json]
        port = _free_port()
        two = str(Path(tmp) / "two.npz")
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", str(i), str(port), csv, two, *common[2:]],
                                  env=env) for i in range(2)]
        codes = [p.wait(timeout=1800) for p in procs]
        if max(codes):
            print(f"a worker failed: exit codes {codes}", file=sys.stderr)
            return 1
        one = str(Path(tmp) / "one.npz")
        subprocess.run([sys.executable, __file__, "--single", csv, one, *common[2:]], env=env, check=True,
                       timeout=1800)
        with np.load(two) as z2, np.load(one) as z1:
            diff = max(float(np.max(np.abs(z2[k] - z1[k]) / np.maximum(1.0, np.abs(z1[k])))) for k in z1.files)
        p2, p1 = np.load(two + ".pred.npy"), np.load(one + ".pred.npy")
        pred = float(np.max(np.abs(p2 - p1)) / np.mean(np.abs(p1)))
        m2, m1 = (json.loads(Path(p + ".json").read_text()) for p in (two, one))
    rel = abs(m2["holdout_rmse"] - m1["holdout_rmse"]) / abs(m1["holdout_rmse"])
    print(f"2 processes ({m2['devices']} devices, {m2['timing']['region_shards']:.0f} region shards, "
          f"{m2['timing']['padded_regions']:.0f} padded region) vs 1 process: largest parameter difference "
          f"{diff:.2e} (relative), prediction {pred:.2e}, holdout RMSE {m2['holdout_rmse']:.6g} vs {m1['holdout_rmse']:.6g} "
          f"(relative {rel:.1e})")
    ok = diff <= PARAM_TOL and pred <= PRED_TOL and rel <= RMSE_TOL
    print("equal within float32 reduction order" if ok else
          f"NOT equal (tolerances: parameters {PARAM_TOL}, predictions {PRED_TOL}, holdout RMSE {RMSE_TOL})")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        pid, port, csv, out, hidden, epochs, mapping_json = sys.argv[2:9]
        worker(int(pid), int(port), csv, out, int(hidden), int(epochs), mapping_json)
    elif len(sys.argv) > 1 and sys.argv[1] == "--single":
        csv, out, hidden, epochs, mapping_json = sys.argv[2:7]
        _fit_and_save(csv, out, int(hidden), int(epochs), mapping_json)
    else:
        sys.exit(main())
