"""docs/cli.md is the generated reference of every command and flag; it must match --help."""

from pathlib import Path

from causalmmm_jax.cli import build_parser, reference_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_up_to_date():
    assert DOC.read_text(encoding="utf-8").strip() == reference_markdown().strip(), (
        "docs/cli.md is stale: regenerate with `.venv/bin/python -m causalmmm_jax.cli --markdown > docs/cli.md`")


def test_every_flag_is_documented():
    text = DOC.read_text(encoding="utf-8")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        assert f"## causalmmm-jax {name}" in text
        for action in p._actions:
            for opt in action.option_strings:
                assert opt in text, f"{name} {opt} missing from docs/cli.md"
