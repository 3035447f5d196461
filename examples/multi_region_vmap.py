"""An ensemble of seeds trained as ONE vmapped program, with uncertainty bands.

    .venv/bin/python examples/multi_region_vmap.py --seeds 8
    .venv/bin/python examples/multi_region_vmap.py --small     # seconds (used by the tests)
"""

import argparse

import jax
import numpy as np

import causalmmm_jax as cm
from causalmmm_jax.data.synthetic import generate


def main(seeds: int = 8, small: bool = False) -> dict:
    data = generate(3, n_regions=5 if small else 30, n_weeks=70 if small else 104)
    config = cm.Config().updated(
        model={"hidden_dim": 8 if small else 32},
        train={"epochs": 30 if small else 600, "chunk_epochs": 30 if small else 100, "warm_start_epochs": 5,
               **({"static_epochs": 100} if small else {})},
        data={"holdout_weeks": 8 if small else 13},
    )
    n_dev = len(jax.devices())
    devices = n_dev if n_dev > 1 and seeds % n_dev == 0 else None  # shard members over devices when possible
    result = cm.fit(data.frame, data.mapping, config, seeds=seeds, devices=devices)
    m = result.metrics
    hb = m["holdout"]["bands"]["r2"]
    print(f"{seeds} seeds in one program: holdout R² {hb['mean']:.3f} [{hb['q05']:.3f}, {hb['q95']:.3f}]")
    print(f"{'channel':<26}{'ROI':>8}{'q05':>8}{'q95':>8}{'truth':>8}")
    for ch, v in m["channels"].items():
        b = v["bands"]["roi"]
        print(f"{ch:<26}{b['mean']:>8.2f}{b['q05']:>8.2f}{b['q95']:>8.2f}{data.truth.roi[ch]:>8.2f}")
    assert np.isfinite(hb["mean"])
    return m


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--small", action="store_true")
    a = ap.parse_args()
    main(a.seeds if not a.small else 2, a.small)
