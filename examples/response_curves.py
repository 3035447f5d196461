"""Model-based response curves (counterfactual: scale one channel's media, re-run the model)
and their Hill fits, compared with the generator's true KPI change.

    .venv/bin/python examples/response_curves.py [--small]
"""

import argparse

import causalmmm_jax as cm
from causalmmm_jax.analysis import curve_params, posthoc_curves
from causalmmm_jax.data.synthetic import generate


def main(small: bool = False):
    data = generate(0, n_regions=5 if small else 20, n_weeks=70 if small else 104)
    cfg = cm.Config().updated(model={"hidden_dim": 8 if small else 32},
                              train={"epochs": 30 if small else 1500, "chunk_epochs": 30 if small else 250,
                                     "warm_start_epochs": 5 if small else 50,
                                     **({"static_epochs": 100} if small else {})},
                              data={"holdout_weeks": 8 if small else 13})
    result = cm.fit(data.frame, data.mapping, cfg)
    curves = cm.response_curves(result, [0.0, 0.5, 1.0, 1.5, 2.0])
    print(curves.pivot(index="channel", columns="multiplier", values="kpi").round(0))
    params = curve_params(result, curves)
    print(params.round(4))
    print(posthoc_curves(result).round(4))  # the original's regression of attributions on exposure
    return curves, params


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    main(ap.parse_args().small)
