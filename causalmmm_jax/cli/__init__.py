"""The ``causalmmm-jax`` command line.

Exit codes: 0 success; 2 a problem the user can fix (:class:`~causalmmm_jax.errors.UserError`
or a command-line usage error), printed as one message without a traceback; 1 an internal error
(traceback only with ``CAUSALMMM_DEBUG=1``).

Adding a subcommand ``NAME``:

1. in the module of its layer's commands (``cli/data.py``, ``fit.py``, ``analysis.py``,
   ``product.py``, ``report.py``), write ``add_NAME(sub)`` that calls
   ``p = sub.add_parser("NAME", help=..., description=...)``,
   adds its arguments (reuse :func:`add_mapping_args` for data files) and sets
   ``p.set_defaults(func=_cmd_NAME)``;
2. write ``_cmd_NAME(args) -> int`` that does the work, prints to stdout and raises
   ``UserError`` subclasses (``DataError``, ``ConfigError``, ...) for fixable problems;
3. add ``add_NAME`` to :data:`SUBCOMMANDS` below.

The CLI depends on the library, never the reverse.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence

from ..errors import UserError
from . import analysis, data, fit, product, report
from ._base import PROG, CLIUsageError, _Parser, add_mapping_args, mapping_from_args

__all__ = ["main", "build_parser", "add_mapping_args", "mapping_from_args", "CLIUsageError", "SUBCOMMANDS"]

#: every subcommand, in the order ``--help`` lists them
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    data.add_validate, fit.add_fit, analysis.add_curves, analysis.add_optimize, product.add_predict,
    product.add_demo, report.add_report, data.add_config, data.add_version]


# --------------------------------------------------------------------------- entry point

def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand in :data:`SUBCOMMANDS`."""
    from .._version import __version__

    parser = _Parser(prog=PROG, description="Marketing-mix modelling with JAX (a port of DeepCausalMMM).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not use the persistent compilation cache (~/.cache/causalmmm-jax/xla, "
                             "or $CAUSALMMM_CACHE_DIR; CAUSALMMM_NO_CACHE=1 does the same)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in SUBCOMMANDS:
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
        from .._cache import enable_compilation_cache

        enable_compilation_cache()
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _show_warning
        try:
            devices = getattr(args, "analysis_devices", None)
            if devices is None:
                return int(args.func(args) or 0)
            from ..train.sharding import use_devices

            with use_devices(devices):  # the model's programs split the regions over the devices
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
