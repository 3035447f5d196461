"""``causalmmm-jax demo``: synthetic data with known truth → fit → curves → optimize → report.

Everything goes through the same code paths as the CLI commands; the printed summary compares
the estimated channel shares and ROI with the generator's truth.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["run_demo"]


def run_demo(out: Path, *, epochs: int | None = None, quick: bool = False) -> Path:
    """Run the whole pipeline into ``out``; returns the dashboard path."""
    from .cli import main
    from .config import Config
    from .data.synthetic import generate, write_csv
    from .errors import UserError
    from .run import write_run
    from .train.commands import print_metrics, progress_printer
    from .train.fit import fit

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = generate(0, n_regions=5 if quick else 20, n_weeks=70 if quick else 156)
    csv = out / "data.csv"
    write_csv(data, csv)
    m = data.mapping
    print(f"synthetic panel: {data.frame[m.region].nunique()} regions × {data.frame[m.time].nunique()} weeks × "
          f"{len(m.media)} channels (truth: media {data.truth.media_share:.0%} of the KPI) → {csv}")
    cfg = Config().updated(
        model={"hidden_dim": 8 if quick else 64},
        train={"epochs": epochs or (30 if quick else 800), "chunk_epochs": 30 if quick else 100,
               "warm_start_epochs": 5 if quick else 50, **({"static_epochs": 100} if quick else {})},
        data={"holdout_weeks": 8 if quick else 13},
    )
    result = fit(data.panel(), cfg, mapping=m, progress=progress_printer(sys.stderr.isatty()))
    run = write_run(result, out / "run")
    print_metrics(result.metrics)
    print(f"\n{'channel':<26}{'share':>8}{'truth':>8}{'ROI':>8}{'truth':>8}")
    for ch, v in result.metrics["channels"].items():
        print(f"{ch:<26}{v['share']:>8.1%}{data.truth.shares[ch]:>8.1%}{v.get('roi', float('nan')):>8.2f}"
              f"{data.truth.roi[ch]:>8.2f}")
    weeks = min(52, result.split.n_train)
    start = result.split.n_train - weeks
    budget = float(result.panel.spend[:, start:result.split.n_train].sum())
    print()
    for argv in (["curves", str(run)],
                 ["optimize", str(run), "--budget", f"{budget:.2f}", "--weeks", str(weeks)],
                 ["report", str(run)]):
        code = main(["--no-cache", *argv] if quick else argv)
        if code != 0:
            raise UserError(f"demo step '{argv[0]}' failed (exit code {code}).")
    dashboard = run / "dashboard.html"
    print(f"\ndashboard: {dashboard.resolve()}")
    return dashboard
