"""``python -m causalmmm_jax.cli [--markdown | ARGS]``: the command line, or its reference (docs/cli.md)."""

import sys

from . import main, reference_markdown

if sys.argv[1:] == ["--markdown"]:
    print(reference_markdown())
    sys.exit(0)
sys.exit(main())
