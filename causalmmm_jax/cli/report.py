"""``causalmmm-jax report RUN_DIR [--out PATH]``: write the HTML dashboard of a fitted run."""

from __future__ import annotations

import argparse

__all__ = ["add_report"]


def add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write a self-contained HTML dashboard for a fitted run",
        description="Build one dashboard.html (plotly.js embedded, opens offline) from a run directory written by "
                    "'causalmmm-jax fit --out RUN_DIR': fit quality, decomposition, coefficients, channel "
                    "interactions, inputs, and the response curves / budget allocation when 'causalmmm-jax curves' "
                    "/ 'causalmmm-jax optimize' have been run. Prints the path of the file.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run directory")
    p.add_argument("--out", metavar="PATH", help="the HTML file to write (default RUN_DIR/dashboard.html)")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import UserError
    from ..report.dashboard import build_dashboard

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a directory; pass the RUN_DIR given to 'causalmmm-jax fit --out'.")
    try:
        path = build_dashboard(run_dir, args.out)
    except OSError as e:
        if isinstance(e, UserError):
            raise
        raise UserError(f"cannot write the dashboard to {args.out or run_dir / 'dashboard.html'}: "
                        f"{e.strerror or e}. Choose another --out path.") from None
    print(path)
    return 0

