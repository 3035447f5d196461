"""The ``causalmmm-jax`` command line.

Exit codes: 0 success; 2 a problem the user can fix (:class:`~causalmmm_jax.errors.UserError`
or a command-line usage error), printed as one message without a traceback; 1 an internal error
(traceback only with ``CAUSALMMM_DEBUG=1``).

Adding a subcommand ``NAME``:

1. write ``_add_NAME(sub)`` that calls ``p = sub.add_parser("NAME", help=..., description=...)``,
   adds its arguments (reuse :func:`add_mapping_args` for data files) and sets
   ``p.set_defaults(func=_cmd_NAME)``;
2. write ``_cmd_NAME(args) -> int`` that does the work, prints to stdout and raises
   ``UserError`` subclasses (``DataError``, ``ConfigError``, ...) for fixable problems;
3. append ``_add_NAME`` to ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import UserError

__all__ = ["main", "build_parser", "add_mapping_args", "mapping_from_args", "CLIUsageError", "SUBCOMMANDS"]

PROG = "causalmmm-jax"


class CLIUsageError(UserError):
    """Bad command-line arguments (argparse's usage errors); exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors raise :class:`CLIUsageError` instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CLIUsageError(f"{self.format_usage().rstrip()}\n{self.prog}: error: {message}\n"
                            f"(run '{self.prog} --help' for details)")


# --------------------------------------------------------------------------- shared arguments

def _patterns(text: str) -> tuple[str, ...]:
    """``"a, b_*"`` -> ``("a", "b_*")``."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def add_mapping_args(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Add the column-mapping options (``--region --time --target --media --controls --spend``)
    plus ``--missing-media`` and ``--sep``; read them back with :func:`mapping_from_args`.

    ``args.missing_media`` is None when not given: use the configuration's ``data.missing_media``."""
    g = parser.add_argument_group(
        "column mapping",
        "PATTERNS are comma-separated column names or glob patterns (case-sensitive; * any text, "
        "? one character), e.g. --media 'impressions_*'. A pattern's matches keep the file's column order.",
    )
    g.add_argument("--region", required=True, metavar="COL", help="region id column (integers or text)")
    g.add_argument("--time", required=True, metavar="COL", help="week column: integer week numbers or dates")
    g.add_argument("--target", required=True, metavar="COL", help="KPI column")
    g.add_argument("--media", required=True, metavar="PATTERNS", type=_patterns,
                   help="media exposure columns (impressions, GRPs or spend), one channel each")
    g.add_argument("--controls", default=(), metavar="PATTERNS", type=_patterns,
                   help="control variable columns (default: none)")
    g.add_argument("--spend", default=None, metavar="PATTERNS", type=_patterns,
                   help="spend columns paired with the media columns by order (default: none)")
    g.add_argument("--missing-media", choices=("error", "zero"), default=None,
                   help="empty media/spend cells: 'error' or 'zero' = no activity "
                        "(default: the configuration's data.missing_media, 'error')")
    g.add_argument("--sep", default=",", metavar="CHAR", help="field delimiter of the CSV file (default ',')")
    return g


def mapping_from_args(args: argparse.Namespace):
    """The :class:`~causalmmm_jax.data.ColumnMapping` given by :func:`add_mapping_args` options."""
    from .data import ColumnMapping

    return ColumnMapping(region=args.region, time=args.time, target=args.target, media=tuple(args.media),
                         controls=tuple(args.controls), spend=tuple(args.spend) if args.spend else None)


def _load_config(path: str | None):
    from .config import Config

    return Config.load(path) if path else Config()


# --------------------------------------------------------------------------- subcommands

def _add_validate(sub: argparse._SubParsersAction) -> None:
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
    from .data import DataWarning, check_split_feasible, format_summary, panel_from_csv, panel_summary

    cfg = _load_config(args.config)
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


def _add_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print the default configuration (TOML)",
                       description="Print a complete configuration: save it, edit it, pass it with --config.")
    p.add_argument("--preset", metavar="NAME", help="start from a preset: 'default' or 'deepcausalmmm-1.0.21'")
    p.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    p.set_defaults(func=_cmd_config)


def _cmd_config(args: argparse.Namespace) -> int:
    from .config import Config, preset

    cfg = preset(args.preset) if args.preset else Config()
    if args.json:
        print(json.dumps(cfg.to_dict(), indent=2))
    else:
        import tomli_w

        print(tomli_w.dumps(cfg.to_dict()), end="")
    return 0


def _add_version(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("version", help="print the package version")
    p.set_defaults(func=_cmd_version)


def _cmd_version(args: argparse.Namespace) -> int:
    from ._version import __version__

    print(__version__)
    return 0


def _registered() -> list[Callable[[argparse._SubParsersAction], None]]:
    from .analysis.commands import ANALYSIS_SUBCOMMANDS
    from .commands import PRODUCT_SUBCOMMANDS
    from .report.commands import REPORT_SUBCOMMANDS
    from .train.commands import FIT_SUBCOMMANDS

    return [_add_validate, *FIT_SUBCOMMANDS, *ANALYSIS_SUBCOMMANDS, *PRODUCT_SUBCOMMANDS,
            *REPORT_SUBCOMMANDS, _add_config, _add_version]


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_validate, _add_config, _add_version]


# --------------------------------------------------------------------------- entry point

def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand in :data:`SUBCOMMANDS`."""
    from ._version import __version__

    parser = _Parser(prog=PROG, description="Marketing-mix modelling with JAX (a port of DeepCausalMMM).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not use the persistent compilation cache (~/.cache/causalmmm-jax/xla, "
                             "or $CAUSALMMM_CACHE_DIR; CAUSALMMM_NO_CACHE=1 does the same)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _registered():
        register(sub)
    return parser


def reference_markdown() -> str:
    """The CLI reference (docs/cli.md body): every command's ``--help`` at 100 columns."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        parser = build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parts = ["# Command-line reference", "",
                 "Generated from the parsers (`python -m causalmmm_jax.cli --markdown > docs/cli.md`); a test "
                 "checks it matches `--help`.", "", "Exit codes: 0 success, 2 bad input or usage (a message, no "
                 "traceback), 1 internal error (`CAUSALMMM_DEBUG=1` shows the traceback).", "",
                 "## causalmmm-jax", "", "```", parser.format_help().rstrip(), "```", ""]
        for name, p in sub.choices.items():
            parts += [f"## causalmmm-jax {name}", "", "```", p.format_help().rstrip(), "```", ""]
        return "\n".join(parts)
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 internal error, 2 user error)."""
    debug = os.environ.get("CAUSALMMM_DEBUG") == "1"
    try:
        args = build_parser().parse_args(None if argv is None else list(argv))
    except CLIUsageError as e:
        print(e, file=sys.stderr)
        return 2
    except SystemExit as e:  # --help / --version
        return e.code if isinstance(e.code, int) else 0
    name = f"{PROG} {args.command}"
    if not args.no_cache and args.command not in ("validate", "config", "version"):
        from ._cache import enable_compilation_cache

        enable_compilation_cache()
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _show_warning
        try:
            return int(args.func(args) or 0)
        except UserError as e:
            if debug:
                traceback.print_exc()
            print(f"{name}: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"{name}: interrupted", file=sys.stderr)
            return 130
        except Exception as e:  # noqa: BLE001 - the CLI's last line of defence
            if debug:
                traceback.print_exc()
            hint = "" if debug else " (set CAUSALMMM_DEBUG=1 to see the traceback)"
            print(f"{name}: internal error: {type(e).__name__}: {e}{hint}", file=sys.stderr)
            return 1


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--markdown"]:
        print(reference_markdown())
        sys.exit(0)
    sys.exit(main())
