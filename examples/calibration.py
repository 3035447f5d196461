"""Lift-test calibration: a geo experiment's measured lift pulls the model's counterfactual lift
for that window toward the measurement.

    .venv/bin/python examples/calibration.py [--small]
"""

import argparse

import numpy as np
import pandas as pd

import causalmmm_jax as cm
from causalmmm_jax.data.synthetic import counterfactual, generate


def main(small: bool = False):
    data = generate(0, n_regions=5 if small else 20, n_weeks=70 if small else 104)
    t = data.truth
    ch = t.channels[0]
    weeks = data.frame[data.mapping.time].drop_duplicates().sort_values().tolist()
    start, end = weeks[20], weeks[27]  # an 8-week experiment inside the training weeks
    window = np.zeros(len(t.times), dtype=bool)
    window[20:28] = True
    # the true lift of doubling the channel inside the window, from the generator
    base = t.kpi
    scaled = counterfactual(data, ch, 2.0)  # doubling everywhere: keep the window's part only
    true_lift = float((scaled - base)[:, window].sum())
    tests = pd.DataFrame({"channel": [ch], "start": [start], "end": [end], "multiplier": [2.0],
                          "lift": [true_lift], "se": [0.05 * abs(true_lift)]})
    cfg = cm.Config().updated(model={"hidden_dim": 8 if small else 32},
                              train={"epochs": 30 if small else 1500, "chunk_epochs": 30 if small else 250,
                                     "warm_start_epochs": 5 if small else 50,
                                     **({"static_epochs": 100} if small else {})},
                              data={"holdout_weeks": 8 if small else 13})
    plain = cm.fit(data.frame, data.mapping, cfg)
    calibrated = cm.fit(data.frame, data.mapping, cfg, lift_tests=tests)
    print(f"{ch}: true ROI {t.roi[ch]:.2f} | ROI without lift test {plain.metrics['channels'][ch]['roi']:.2f} | "
          f"with lift test {calibrated.metrics['channels'][ch]['roi']:.2f}")
    return plain, calibrated


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    main(ap.parse_args().small)
