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
from causalmmm_jax.train.fit import initial_params, prepare_data
from causalmmm_jax.train.phases import init_state


def time_epochs(data, spec, inits, tcfg, seeds: int, length: int, repeats: int = 3) -> tuple[float, float]:
    """(compile seconds, median seconds per epoch) for ``seeds`` vmapped members of the main phase."""
    endless = dataclasses.replace(tcfg, epochs=10**9)  # every timed chunk runs all its epochs
    states = [init_state(p, jax.random.PRNGKey(i), endless, early_stop=False) for i, p in enumerate(inits[:seeds])]
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
    if small:  # the demo's quick panel and settings (the tests share its compiled programs)
        regions, weeks, hidden, seeds, length = 5, 70, 8, (1, 2), 30
    sd = (generate(0, n_regions=regions, n_weeks=weeks) if small else
          generate(0, n_regions=regions, n_weeks=weeks, n_channels=13, n_controls=7))
    panel = sd.panel()
    cfg = cm.Config().updated(model={"hidden_dim": hidden}, data={"holdout_weeks": 8 if small else 13},
                              train={"chunk_epochs": length, **({"static_epochs": 100} if small else {})})
    # what fit does before training: split, scaling, seasonality, inputs, spec, data-driven init
    _, _, _, _, spec, data = prepare_data(panel, cfg)
    keys = [jax.random.PRNGKey(cfg.train.seed + i) for i in range(max(seeds))]
    inits, data = initial_params(keys, spec, data, cfg)
    dev = jax.devices()[0]
    print(f"device: {dev.platform} {dev.device_kind} ({len(jax.devices())} device(s)), "
          f"panel {regions}×{weeks}×{panel.n_channels}, hidden {hidden}")
    out = {}
    for n in seeds:
        c, s = time_epochs(data, spec, inits, cfg.train, n, length)
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
