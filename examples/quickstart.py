"""Quickstart: synthetic panel with known truth → fit → contributions vs truth.

    .venv/bin/python examples/quickstart.py            # ~1-2 minutes on 2 CPU cores
    .venv/bin/python examples/quickstart.py --small    # seconds (used by the tests)
"""

import argparse

import causalmmm_jax as cm
from causalmmm_jax.data.synthetic import generate


def main(small: bool = False) -> dict:
    data = generate(0, n_regions=5 if small else 20, n_weeks=70 if small else 104)
    config = cm.Config().updated(
        model={"hidden_dim": 8 if small else 64},
        train={"epochs": 30 if small else 800, "chunk_epochs": 30 if small else 100, "warm_start_epochs": 5 if small else 50,
               **({"static_epochs": 100} if small else {})},
        data={"holdout_weeks": 8 if small else 13},
    )
    result = cm.fit(data.frame, data.mapping, config)
    m = result.metrics
    print(f"holdout R² {m['holdout']['r2']:.3f}  (naive {m['holdout']['naive']['r2']:.3f}), "
          f"media share {m['attribution']['media']:.1%} (truth {data.truth.media_share:.1%})")
    print(f"{'channel':<26}{'share':>8}{'truth':>8}{'ROI':>8}{'truth':>8}")
    for ch, v in m["channels"].items():
        print(f"{ch:<26}{v['share']:>8.1%}{data.truth.shares[ch]:>8.1%}{v['roi']:>8.2f}{data.truth.roi[ch]:>8.2f}")
    return m


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="tiny settings (seconds)")
    main(ap.parse_args().small)
