"""--roi-prior: its two forms, the merge onto the configuration's priors, and a bad value (exit 2)."""

import pytest

from causalmmm_jax.cli import build_parser
from causalmmm_jax.cli.fit import config_from_args


def _args(*extra):
    return build_parser().parse_args(["fit", "data.csv", "--out", "run", "--region", "r", "--time", "t",
                                      "--target", "y", "--media", "m1,m2", *extra])


def test_the_two_forms_and_the_merge_onto_the_config(tmp_path):
    from causalmmm_jax.config import Config

    path = Config().updated(train={"roi_prior": {"m1": [3.0, 0.2], "m2": [1.0, 1.0]}}).save(tmp_path / "c.toml")
    cfg = config_from_args(_args("--config", str(path), "--roi-prior", "m2=1..4", "--roi-prior", "*=1.5:0.9"))
    got = {ch: (m, s) for ch, m, s in cfg.train.roi_prior}
    assert got["m1"] == (3.0, 0.2)  # from the file
    assert got["m2"][0] == pytest.approx(2.0)  # the flag replaces the file's m2: a 90 % interval 1..4
    assert got["*"] == (1.5, 0.9)


@pytest.mark.parametrize("bad", ["m1", "m1=2", "m1=a:b", "=2:1", "m1=4..1"])
def test_a_bad_value_exits_2_with_words(bad, capsys):
    from causalmmm_jax.cli import main

    assert main(["fit", "data.csv", "--out", "run", "--region", "r", "--time", "t", "--target", "y", "--media", "m1",
                 "--roi-prior", bad]) == 2
    assert "roi" in capsys.readouterr().err.lower()
