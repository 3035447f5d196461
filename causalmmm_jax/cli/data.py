"""``causalmmm-jax validate``, ``config`` and ``version``."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from ._base import add_mapping_args, load_config, mapping_from_args

__all__ = ["add_validate", "add_config", "add_version"]


def add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate", help="check a data file and print a summary",
        description="Read a long CSV (one row per region and week), check it and print what a fit would use. "
                    "Exit code 2 with a message naming the column and rows when the data has a problem.",
    )
    p.add_argument("data", metavar="DATA.csv", help="the data file")
    add_mapping_args(p)
    p.add_argument("--config", metavar="FILE", help="a .toml/.json configuration (for missing_media and the split)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    from ..data import (
        DataWarning,
        check_split_feasible,
        format_summary,
        panel_from_csv,
        panel_summary,
    )

    cfg = load_config(args.config)
    mapping = mapping_from_args(args)
    missing_media = args.missing_media or cfg.data.missing_media
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        panel = panel_from_csv(args.data, mapping, missing_media=missing_media, sep=args.sep)
    notes = [str(w.message) for w in caught]
    summary = panel_summary(panel)
    train, validation, holdout = check_split_feasible(panel.n_weeks, cfg.data)
    summary["split"] = {"train_weeks": train, "validation_weeks": validation, "holdout_weeks": holdout}
    summary["missing_media"] = missing_media
    summary["warnings"] = notes
    if args.json:
        out = {"file": str(args.data), "region_column": mapping.region, "time_column": mapping.time, **summary}
        print(json.dumps(out, indent=2))
    else:
        print(format_summary(summary, mapping, Path(args.data).name))
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    return 0


def add_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print the default configuration (TOML)",
                       description="Print a complete configuration: save it, edit it, pass it with --config.")
    p.add_argument("--preset", metavar="NAME", help="start from a preset: 'default' or 'deepcausalmmm-1.0.21'")
    p.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    p.set_defaults(func=_cmd_config)


def _cmd_config(args: argparse.Namespace) -> int:
    from ..config import Config, preset

    cfg = preset(args.preset) if args.preset else Config()
    if args.json:
        print(json.dumps(cfg.to_dict(), indent=2))
    else:
        import tomli_w

        print(tomli_w.dumps(cfg.to_dict()), end="")
    return 0


def add_version(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("version", help="print the package version")
    p.set_defaults(func=_cmd_version)


def _cmd_version(args: argparse.Namespace) -> int:
    from .._version import __version__

    print(__version__)
    return 0
