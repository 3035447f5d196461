"""What you know before the data: a ROI prior or a lift test on a channel the data cannot measure.

On the demo's planted panel (``causalmmm-jax demo``) search is always on: the data never see it near
zero spend, so its total effect and ROI are set by the priors, and the identifiability report says
so.  Four fits of the same panel: no outside knowledge; a ROI prior that is right (a 90 % interval
1.5–2.5 around the true 1.92, as a past experiment might give); one that is wrong (4–6); and one
go-dark geo test on search (8 weeks in half the regions, measured with noise against the planted
truth).  Where the data are silent the number follows what you state, and the report names it; the
holdout fit cannot tell the right prior from the wrong one.

    .venv/bin/python examples/roi_priors.py --out benchmarks/recorded/roi_priors.json   # ~2 min, 2 CPU cores
    .venv/bin/python examples/roi_priors.py --small                                      # seconds (the tests)
"""

import argparse
import json

import numpy as np
import pandas as pd

import causalmmm_jax as cm
from causalmmm_jax._io_util import atomic_write_text
from causalmmm_jax.data.split import temporal_split
from causalmmm_jax.data.synthetic import generate, planted_lift_test

SEARCH, TV = "impressions_search", "impressions_tv"


def main(small: bool = False, out: str | None = None) -> dict:
    data = generate(0, n_regions=5 if small else 20, n_weeks=70 if small else 156)  # the demo's panel
    cfg = cm.Config().updated(
        model={"hidden_dim": 8 if small else 64},
        train={"epochs": 30 if small else 800, "chunk_epochs": 30 if small else 100,
               "warm_start_epochs": 5 if small else 50,
               **({"static_epochs": 100, "interval_draws": 4} if small else {})},
        data={"holdout_weeks": 8 if small else 13},
    )
    n_train = temporal_split(data.panel().n_weeks, cfg.data).n_train
    test = planted_lift_test(data, SEARCH, n_train, rng=np.random.default_rng(0))
    cases = {
        "no outside knowledge": (cfg, None),
        "right ROI prior on search (90 % in 1.5-2.5)": (
            cfg.updated(train={"roi_prior": {SEARCH: {"low": 1.5, "high": 2.5}}}), None),
        "wrong ROI prior on search (90 % in 4-6)": (
            cfg.updated(train={"roi_prior": {SEARCH: {"low": 4.0, "high": 6.0}}}), None),
        "one lift test on search": (cfg, pd.DataFrame([{k: v for k, v in test.items() if k != "true_lift"}])),
    }
    truth = {ch: {"roi": data.truth.roi[ch], "share": data.truth.shares[ch]} for ch in (SEARCH, TV)}
    report: dict = {"command": "examples/roi_priors.py" + (" --small" if small else ""),
                    "truth": {**truth, "media_share_of_kpi": data.truth.media_share},
                    "lift_test": test, "cases": {}}
    print(f"{'':<46}{'search ROI':>11}{'90 % interval':>16}{'tv ROI':>9}{'90 % interval':>16}{'holdout R²':>12}")
    print(f"{'truth':<46}{data.truth.roi[SEARCH]:>11.2f}{'':>16}{data.truth.roi[TV]:>9.2f}")
    for name, (c, lift) in cases.items():
        result = cm.fit(data.frame, data.mapping, c, lift_tests=lift)
        ident = cm.identifiability(result).set_index("channel")
        chans = result.metrics["channels"]
        entry = {ch: {"roi": chans[ch]["roi"], "roi_interval": chans[ch]["interval"]["roi"],
                      "level": ident.loc[ch, "level"], "summary": ident.loc[ch, "summary"]} for ch in (SEARCH, TV)}
        entry["holdout_r2"] = result.metrics["holdout"]["r2"]
        entry["media_share_of_kpi"] = result.metrics.get("attribution", {}).get("media")
        report["cases"][name] = entry
        band = {ch: "[{:.2f}, {:.2f}]".format(*entry[ch]["roi_interval"]) for ch in (SEARCH, TV)}
        print(f"{name:<46}{entry[SEARCH]['roi']:>11.2f}{band[SEARCH]:>16}{entry[TV]['roi']:>9.2f}{band[TV]:>16}"
              f"{entry['holdout_r2']:>12.4f}")
        print(f"    {entry[SEARCH]['summary']}")
    if out:
        atomic_write_text(out, json.dumps(report, indent=2, default=float) + "\n")
        print(f"wrote {out}")
    return report


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--out", default=None, help="write the figures as JSON")
    args = ap.parse_args()
    main(args.small, args.out)
