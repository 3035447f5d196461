"""Time one training epoch on whatever device JAX sees (CPU, GPU or TPU), plus the ensemble
speed-up of vmapping seeds.  The full harness is in benchmarks/ (see benchmarks/README.md).

    .venv/bin/python examples/accelerator_benchmark.py --regions 190 --weeks 109 --hidden 280
    .venv/bin/python examples/accelerator_benchmark.py --small
"""

import argparse
import dataclasses
import time

import jax
import numpy as np

import causalmmm_jax as cm
from causalmmm_jax.data.synthetic import generate
from causalmmm_jax.train.ensemble import batched_runner, stack_trees
from causalmmm_jax.train.fit import train_data_for
from causalmmm_jax.train.loop import init_state
from causalmmm_jax.model.data_init import init_from_data
from causalmmm_jax.model import ModelSpec


def time_epochs(data, spec, tcfg, seeds: int, length: int, repeats: int = 3) -> tuple[float, float]:
    """(compile seconds, median seconds per epoch) for ``seeds`` vmapped members."""
    keys = [jax.random.PRNGKey(s) for s in range(seeds)]
    endless = dataclasses.replace(tcfg, epochs=10**9)  # every timed chunk runs all its epochs
    states = [init_state(init_from_data(k, spec, data.inputs, data.target, data.fit_w), k, endless, early_stop=False)
              for k in keys]
    state = stack_trees(states) if seeds > 1 else states[0]
    run = batched_runner(spec, length=length, batched=seeds > 1)
    t0 = time.perf_counter()
    compiled = run.lower(state, data).compile()
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        state, m = compiled(state, data)
        jax.block_until_ready(m["loss"])
        times.append((time.perf_counter() - t0) / length)
    return compile_s, float(np.median(times))


def main(regions=190, weeks=109, hidden=280, seeds=(1, 4), length=20, small=False):
    if small:
        regions, weeks, hidden, seeds, length = 4, 60, 8, (1, 2), 5
    sd = generate(0, n_regions=regions, n_weeks=weeks, n_channels=13 if not small else 3, n_controls=7 if not small else 1)
    panel = sd.panel()
    cfg = cm.Config().updated(model={"hidden_dim": hidden}, data={"holdout_weeks": 13 if not small else 8,
                                                                   "min_train_weeks": 20})
    from causalmmm_jax.data.scaling import fit_scaler
    from causalmmm_jax.data.seasonality import fit_seasonality
    from causalmmm_jax.data.split import temporal_split
    from causalmmm_jax.train.prepare import prepare

    split = temporal_split(panel.n_weeks, cfg.data)
    fm = split.fit_mask(panel.mask)
    prep = prepare(panel, fit_scaler(panel, fm, cfg.data), fit_seasonality(panel.target, fm), 0)
    data = train_data_for(prep, split, panel.mask)
    spec = ModelSpec(panel.n_regions, panel.n_channels, panel.n_controls, cfg.model)
    dev = jax.devices()[0]
    print(f"device: {dev.platform} {dev.device_kind} ({len(jax.devices())} device(s)), "
          f"panel {regions}×{weeks}×{panel.n_channels}, hidden {hidden}")
    out = {}
    for n in seeds:
        c, s = time_epochs(data, spec, cfg.train, n, length)
        out[n] = s
        print(f"{n:>3} seed(s): compile {c:6.1f} s, {1000 * s:8.1f} ms/epoch, {1000 * s / n:8.1f} ms/epoch/model")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=190)
    ap.add_argument("--weeks", type=int, default=109)
    ap.add_argument("--hidden", type=int, default=280)
    ap.add_argument("--small", action="store_true")
    a = ap.parse_args()
    main(a.regions, a.weeks, a.hidden, small=a.small)
