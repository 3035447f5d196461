"""What every subcommand module shares: the parser class, usage errors, the column-mapping options."""

from __future__ import annotations

import argparse

from ..errors import UserError

__all__ = ["PROG", "CLIUsageError", "_Parser", "add_mapping_args", "mapping_from_args", "load_config"]

PROG = "causalmmm-jax"


class CLIUsageError(UserError):
    """Bad command-line arguments (argparse's usage errors); exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors raise :class:`CLIUsageError` instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CLIUsageError(f"{self.format_usage().rstrip()}\n{self.prog}: error: {message}\n"
                            f"(run '{self.prog} --help' for details)")


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
    from ..data import ColumnMapping

    return ColumnMapping(region=args.region, time=args.time, target=args.target, media=tuple(args.media),
                         controls=tuple(args.controls), spend=tuple(args.spend) if args.spend else None)


def load_config(path: str | None):
    """The configuration in ``path`` (``.toml``/``.json``), or the defaults."""
    from ..config import Config

    return Config.load(path) if path else Config()


def add_analysis_devices(parser: argparse.ArgumentParser) -> None:
    """``--devices D`` of the commands that run a saved model: its programs split the regions over
    D devices (``causalmmm_jax.use_devices``)."""
    parser.add_argument("--devices", type=int, metavar="D", dest="analysis_devices",
                        help="run the model with its regions split over D devices")
