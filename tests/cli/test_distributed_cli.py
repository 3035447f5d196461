"""``causalmmm-jax fit`` as two jax.distributed processes: each reads its own regions, the regions
are split over both processes' devices, only the first process writes the run directory."""

import json
import os
import socket
import subprocess
import sys

from causalmmm_jax.data.synthetic import generate

CONFIG = """
[model]
hidden_dim = 4
[data]
holdout_weeks = 8
validation_weeks = 6
min_train_weeks = 20
[train]
epochs = 10
chunk_epochs = 10
warm_start_epochs = 2
static_epochs = 20
"""


def test_fit_command_runs_as_two_processes(tmp_path):
    data = generate(4, n_regions=5, n_weeks=60, n_channels=2, n_controls=1)
    csv, cfg = tmp_path / "panel.csv", tmp_path / "cfg.toml"
    data.frame.to_csv(csv, index=False)
    cfg.write_text(CONFIG)
    m = data.mapping
    args = [str(csv), "--region", m.region, "--time", m.time, "--target", m.target,
            "--media", ",".join(m.media), "--controls", ",".join(m.controls), "--config", str(cfg),
            "--out", str(tmp_path / "run"), "--quiet"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, JAX_PLATFORMS="cpu", CAUSALMMM_NO_CACHE="1")
    procs = [subprocess.Popen([sys.executable, "-m", "causalmmm_jax.cli", "fit", *args, "--coordinator",
                               f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    timing = json.loads((tmp_path / "run" / "metrics.json").read_text())["timing"]
    assert (timing["processes"], timing["devices"], timing["region_shards"], timing["padded_regions"]) == (2, 2, 2, 1)
