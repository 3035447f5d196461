#!/usr/bin/env python
"""Accuracy effect of ``model.matmul_dtype = "bfloat16"`` against float32, default fits otherwise.

Every fit is a default ``fit`` (``Config()``, last 13 weeks held out) that differs only in
``model.matmul_dtype``; the two dtypes run in alternating order (float32 first for the first
seed, bfloat16 first for the next, ...):

* ``example``: ``../shared/data/mmm_data.csv`` (190 DMAs × 109 weeks), training seeds ``--seeds``:
  holdout R², RMSE and within-region R², media share of the KPI, each channel's share of media,
  epochs run and the main phase's seconds per epoch;
* ``planted``: the demo's planted-truth generator (``generate(seed, n_regions=20, n_weeks=156)``)
  over generator seeds ``--planted-seeds``: the same, plus each channel's share of media and KPI
  change at 0× and 2× spend against the generator's truth (over the training weeks), as in
  ``quality.py``.

The summary compares the bfloat16 − float32 difference of each figure (per seed or panel;
median and largest absolute) with the noise a user sees anyway when only the training seed
changes: |float32 at one seed − float32 at another| on the same panel (the example panel: every
two of its seeds; each planted panel: a float32 fit at training seed 43 beside the pair's 42).

    .venv/bin/python benchmarks/precision.py --out benchmarks/recorded/precision.json   # ≈ 25 min
    .venv/bin/python benchmarks/precision.py --quick                                     # seconds
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

DTYPES = ("float32", "bfloat16")
HOLDOUT_WEEKS = 13
#: figures compared between the dtypes: (key, label, format)
FIGURES = (("holdout_r2", "holdout R²", ".4f"), ("holdout_rmse", "holdout RMSE", ",.0f"),
           ("within_r2", "within-region R²", ".3f"), ("media_share", "media % of KPI", ".2f"),
           ("max_share_error", "largest channel-share error vs truth (points)", ".2f"),
           ("max_kpi_change_error", "largest 0×/2× KPI-change error vs truth", ".3f"),
           ("max_share_gap", "largest channel-share gap to float32 (points)", ".2f"),
           ("epochs", "epochs run", "d"), ("seconds_per_epoch", "main-phase s/epoch", ".3f"))


def parse_args(argv=None):
    p = C.base_parser("precision", __doc__.split("\n\n")[0])
    p.add_argument("--csv", type=Path, default=C.DEFAULT_CSV,
                   help="the example CSV (default ../shared/data/mmm_data.csv)")
    p.add_argument("--seeds", default="42,43,44", help="training seeds on the example panel (default 42,43,44)")
    p.add_argument("--planted-seeds", default="0,1,2", help="generator seeds of the planted panels (default 0,1,2)")
    p.add_argument("--panels", default="example,planted", help="which panels (default example,planted)")
    p.add_argument("--resume", action="store_true", help="keep the fits already in --out, run only the missing ones")
    return p.parse_args(argv)


def _fit(panel, mapping, dtype: str, seed: int, quick: bool):
    from causalmmm_jax.config import Config
    from causalmmm_jax.train.fit import fit

    cfg = Config().updated(data={"holdout_weeks": 8 if quick else HOLDOUT_WEEKS},
                           model={"matmul_dtype": dtype}, train={"seed": seed})
    if quick:
        cfg = cfg.updated(model={"hidden_dim": 8}, train={"epochs": 30, "chunk_epochs": 30, "static_epochs": 100,
                                                          "warm_start_epochs": 5})
    t0 = time.perf_counter()
    result = fit(panel, cfg, mapping=mapping)
    return result, time.perf_counter() - t0


def _figures(result, seconds: float) -> dict:
    m = result.metrics
    t = m["timing"]
    main_epochs = t.get("main_epochs") or 0
    return {"holdout_r2": m["holdout"]["r2"], "holdout_rmse": m["holdout"]["rmse"],
            "within_r2": m["holdout"]["r2_within_region"],
            "media_share": 100 * m["attribution"]["media"],
            "shares": {ch: 100 * row["share"] for ch, row in m["channels"].items()},
            "epochs": m["epochs_run"],
            "seconds_per_epoch": (t["main_seconds"] / main_epochs) if main_epochs else None,
            "fit_seconds": t.get("fit_seconds"), "wall_seconds": seconds}


def _truth_errors(result, data, fig: dict) -> dict:
    from causalmmm_jax.analysis.curves import response_curves
    from causalmmm_jax.data.synthetic import counterfactual

    truth = data.truth
    n = result.split.n_train
    base = truth.kpi[:, :n].sum()
    k = response_curves(result, [0.0, 1.0, 2.0]).set_index(["channel", "multiplier"])["kpi"]
    main = [ch for ch in truth.channels if ch != truth.null_channel]
    share_err, change_err = [], []
    for ch in main:
        share_err.append(abs(fig["shares"][ch] - 100 * truth.shares[ch]))
        for mult in (0.0, 2.0):
            true = float(counterfactual(data, ch, mult)[:, :n].sum() - base)
            model = float(k[(ch, mult)] - k[(ch, 1.0)])
            if true:
                change_err.append(abs(model - true) / abs(true))
    return {"max_share_error": max(share_err), "max_kpi_change_error": max(change_err) if change_err else None}


def _pair(panel, mapping, seed: int, order, quick: bool, data=None, reference_seed: int | None = None,
          done: dict | None = None) -> dict:
    """Fits of one panel: each dtype at training ``seed`` (in ``order``), and with ``reference_seed``
    a float32 fit at that seed too (the seed-to-seed noise on this very panel).  Runs in ``done``
    (from an earlier run of the script, ``--resume``) are kept."""
    runs = dict((done or {}).get("runs", {}))
    todo = [(d, d, seed) for d in order]
    if reference_seed is not None:
        todo.append((f"float32_seed{reference_seed}", "float32", reference_seed))
    for name, dtype, s in todo:
        if name in runs:
            continue
        result, seconds = _fit(panel, mapping, dtype, s, quick)
        fig = _figures(result, seconds)
        if data is not None:
            fig.update(_truth_errors(result, data, fig))
        runs[name] = fig
        print(f"  seed {s} {dtype}: holdout R² {fig['holdout_r2']:.4f}, {fig['epochs']} epochs, "
              f"{fig['wall_seconds']:.0f} s", flush=True)
    f32 = runs["float32"]["shares"]
    for name in runs:
        runs[name]["max_share_gap"] = max(abs(runs[name]["shares"][ch] - f32[ch]) for ch in f32)
    return {"seed": seed, "order": list(order), "reference_seed": reference_seed, "runs": runs}


def _seed_gaps(pairs: list[dict], key: str) -> list[float]:
    """|float32 at one training seed − float32 at another| on the same panel: the reference run of
    each pair when there is one, else every two pairs' float32 runs (one panel, several seeds)."""
    refs = [p for p in pairs if p.get("reference_seed") is not None]
    if refs:
        return [abs(p["runs"][f"float32_seed{p['reference_seed']}"][key] - p["runs"]["float32"][key])
                for p in refs]
    vals = [p["runs"]["float32"][key] for p in pairs]
    return [abs(a - b) for i, a in enumerate(vals) for b in vals[i + 1:]]


def _seed_share_gaps(pairs: list[dict]) -> list[float]:
    refs = [p for p in pairs if p.get("reference_seed") is not None]
    if refs:
        return [p["runs"][f"float32_seed{p['reference_seed']}"]["max_share_gap"] for p in refs]
    shares = [p["runs"]["float32"]["shares"] for p in pairs]
    return [max(abs(a[ch] - b[ch]) for ch in a) for i, a in enumerate(shares) for b in shares[i + 1:]]


def summarise(pairs: list[dict]) -> dict:
    """Per figure: each dtype's median over the pairs, the bfloat16 − float32 difference (median,
    largest absolute) and the seed-to-seed noise of float32 on the same panel (|difference|
    between training seeds: median, largest)."""
    out = {}
    for key, _, _ in FIGURES:
        vals = {d: [p["runs"][d].get(key) for p in pairs] for d in DTYPES}
        if any(v is None for vs in vals.values() for v in vs):
            continue
        diffs = [b - a for a, b in zip(vals["float32"], vals["bfloat16"])]
        gaps = _seed_share_gaps(pairs) if key == "max_share_gap" else _seed_gaps(pairs, key)
        out[key] = {"float32_median": statistics.median(vals["float32"]),
                    "bfloat16_median": statistics.median(vals["bfloat16"]),
                    "difference_median": statistics.median(diffs),
                    "difference_max_abs": max(abs(d) for d in diffs),
                    "seed_noise_median": statistics.median(gaps) if gaps else None,
                    "seed_noise_max": max(gaps) if gaps else None}
    return out


def markdown(report: dict) -> str:
    lines = []
    for panel in ("example", "planted"):
        s = report.get(panel, {}).get("summary")
        if not s:
            continue
        n = len(report[panel]["pairs"])
        lines += [f"**{panel}** ({n} seeds)", "",
                  "| figure | float32 (median) | bfloat16 (median) | bf16 − f32 (median; largest) | "
                  "float32, one training seed vs another (median; largest) |", "|---|---|---|---|---|"]
        for key, label, spec in FIGURES:
            if key in s and key != "seconds_per_epoch":  # timings: vs_original.py measures them side by side
                v = s[key]
                lines.append(f"| {label} | {C.fmt(v['float32_median'], spec)} | {C.fmt(v['bfloat16_median'], spec)} | "
                             f"{C.fmt(v['difference_median'], spec)}; {C.fmt(v['difference_max_abs'], spec)} | "
                             f"{C.fmt(v['seed_noise_median'], spec)}; {C.fmt(v['seed_noise_max'], spec)} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    panels = [p for p in args.panels.split(",") if p]
    if set(panels) - {"example", "planted"}:
        print(f"unknown panel(s) {sorted(set(panels) - {'example', 'planted'})}; choose example, planted",
              file=sys.stderr)
        return 2
    report = {"benchmark": "precision", "schema": C.SCHEMA_VERSION, "quick": args.quick,
              "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "machine": C.machine_info()}
    if args.quick:
        report["warning"] = "--quick: tiny sizes, the figures mean nothing"
    C.setup_cache()
    earlier = json.loads(args.out.read_text(encoding="utf-8")) if args.resume and args.out.is_file() else {}

    def done(panel: str, i: int) -> dict | None:
        pairs = earlier.get(panel, {}).get("pairs", [])
        return pairs[i] if i < len(pairs) else None

    seeds = [42] if args.quick else C.int_list(args.seeds)
    planted_seeds = [0] if args.quick else C.int_list(args.planted_seeds)
    if "example" in panels:
        if not args.csv.is_file():
            report["example"] = {"error": f"{args.csv} not found"}
        else:
            panel = C.load_csv_panel(args.csv, 8 if args.quick else None)
            pairs = [_pair(panel, C.csv_mapping(), s, DTYPES if i % 2 == 0 else DTYPES[::-1], args.quick,
                           done=done("example", i)) for i, s in enumerate(seeds)]
            report["example"] = {"pairs": pairs, "summary": summarise(pairs)}
    if "planted" in panels:
        from causalmmm_jax.data.synthetic import generate

        pairs = []
        for i, s in enumerate(planted_seeds):
            data = generate(s, **(dict(n_regions=5, n_weeks=70) if args.quick else dict(n_regions=20, n_weeks=156)))
            pairs.append(_pair(data.panel(), data.mapping, 42, DTYPES if i % 2 == 0 else DTYPES[::-1], args.quick,
                               data=data, reference_seed=43, done=done("planted", i)) | {"generator_seed": s})
        report["planted"] = {"pairs": pairs, "summary": summarise(pairs)}
    C.write_json(args.out, report)
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
