"""Budget allocation: maximise predicted response for a fixed budget with per-channel bounds,
with every optimiser, on the fitted curves and directly on the model.

    .venv/bin/python examples/budget_optimization.py [--small]
"""

import argparse

import causalmmm_jax as cm
from causalmmm_jax.data.synthetic import generate


def main(small: bool = False):
    data = generate(0, n_regions=5 if small else 20, n_weeks=70 if small else 104)
    cfg = cm.Config().updated(model={"hidden_dim": 8 if small else 32},
                              train={"epochs": 30 if small else 1500, "chunk_epochs": 30 if small else 250,
                                     "warm_start_epochs": 5 if small else 50,
                                     **({"static_epochs": 100} if small else {})},
                              data={"holdout_weeks": 8 if small else 13})
    result = cm.fit(data.frame, data.mapping, cfg)
    weeks = 26
    n = result.split.n_train
    budget = float(result.panel.spend[:, n - weeks:n].sum())
    bounds = {result.panel.channels[0]: (0.05 * budget, 0.5 * budget)}
    out = {}
    for method in ("projected", "slsqp", "trust-constr", "de"):
        r = cm.optimize_budget(result, budget, weeks=weeks, bounds=bounds, method=method, on="curves")
        out[method] = r
        print(f"{method:<13} success={r.success} response={r.predicted_response:,.0f} "
              f"uplift={r.uplift_pct:+.1f}% vs current mix")
    on_model = cm.optimize_budget(result, budget, weeks=weeks, bounds=bounds, method="projected", on="model")
    print("on the model:", {k: round(v) for k, v in on_model.allocation.items()})
    print(on_model.by_channel.round(3).to_string(index=False))
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    main(ap.parse_args().small)
