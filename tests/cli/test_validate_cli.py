"""The command line: validate / config / version, exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causalmmm_jax import __version__
from causalmmm_jax.cli import main
from causalmmm_jax.config import Config, preset
from causalmmm_jax.errors import ConfigError

MAP_ARGS = ["--region", "region", "--time", "week", "--target", "sales", "--media", "*_imps",
            "--controls", "ctrl_*"]


@pytest.fixture
def csv_file(tmp_path, long_frame):
    """Factory: write ``long_frame(**kw)`` (after ``edit(df)``) to a CSV and return its path."""

    def write(edit=None, name="data.csv", sep=",", **kw):
        df = long_frame(**{"n_regions": 3, "n_weeks": 60, **kw})
        if edit is not None:
            df = edit(df)
        path = tmp_path / name
        df.to_csv(path, index=False, sep=sep)
        return path

    return write


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


# --------------------------------------------------------------------------- validate: success

def test_validate_ok_text(capsys, csv_file):
    code, out, err = run(capsys, "validate", csv_file(drop=((0, 5),)), *MAP_ARGS)
    assert code == 0, err
    assert "data.csv: OK" in out and "regions     3" in out and "weeks       60" in out
    assert "179 observed + 1 missing" in out and "1 region(s) (observed weeks of 60): 500 (59)" in out
    assert "train 45, validation 8, holdout 7" in out and "tv_imps" in out


def test_validate_json(capsys, csv_file):
    code, out, _ = run(capsys, "validate", csv_file(spend=True), *MAP_ARGS, "--spend", "tv_spend, radio_spend",
                       "--json")
    assert code == 0
    s = json.loads(out)
    assert (s["n_regions"], s["n_weeks"], s["n_channels"], s["n_controls"]) == (3, 60, 2, 1)
    assert s["spend_columns"] == ["tv_spend", "radio_spend"] and s["missing_cells"] == 0
    assert s["split"] == {"train_weeks": 45, "validation_weeks": 8, "holdout_weeks": 7}
    assert s["region_column"] == "region" and s["warnings"] == []


def test_validate_constant_target_warns_but_succeeds(capsys, csv_file):
    def edit(df):
        df.loc[df["region"] == 507, "sales"] = 5.0
        return df

    code, out, err = run(capsys, "validate", csv_file(edit), *MAP_ARGS, "--json")
    assert code == 0 and "warning:" in err and "507" in err
    assert "constant" in json.loads(out)["warnings"][0]


def test_validate_missing_media_zero(capsys, csv_file):
    def edit(df):
        df["tv_imps"] = df["tv_imps"].astype(float)
        df.loc[3, "tv_imps"] = np.nan
        return df

    path = csv_file(edit)
    code, _, err = run(capsys, "validate", path, *MAP_ARGS)
    assert code == 2 and "'tv_imps'" in err and "--missing-media zero" in err
    code, out, _ = run(capsys, "validate", path, *MAP_ARGS, "--missing-media", "zero", "--json")
    assert code == 0 and json.loads(out)["missing_media"] == "zero"


def test_validate_sep_option(capsys, csv_file):
    path = csv_file(sep=";")
    code, _, err = run(capsys, "validate", path, *MAP_ARGS)
    assert code == 2 and "separated by ';'" in err
    assert run(capsys, "validate", path, *MAP_ARGS, "--sep", ";")[0] == 0


def test_validate_split_too_short_then_config(capsys, csv_file, tmp_path):
    path = csv_file(n_weeks=30)
    code, _, err = run(capsys, "validate", path, *MAP_ARGS)
    assert code == 2 and "data.min_train_weeks=40" in err
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[data]\nmin_train_weeks = 15\n")
    assert run(capsys, "validate", path, *MAP_ARGS, "--config", cfg)[0] == 0


def test_validate_bad_config_key_is_user_error(capsys, csv_file, tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[data]\nmin_train = 20\n")
    code, _, err = run(capsys, "validate", csv_file(), *MAP_ARGS, "--config", cfg)
    assert code == 2 and "min_train" in err


# --------------------------------------------------------------------------- validate: data errors → exit 2

def _set(col, row, value):
    def edit(df):
        df[col] = df[col].astype(object if isinstance(value, str) else float)
        df.loc[row, col] = value
        return df

    return edit


BROKEN = {
    "non-numeric media": (_set("tv_imps", 4, "12k"), "'tv_imps'", "row 5: '12k'"),
    "nan target": (_set("sales", 2, np.nan), "'sales'", "row 3"),
    "nan control": (_set("ctrl_1", 2, np.nan), "'ctrl_1'", "row 3"),
    "inf control": (_set("ctrl_1", 7, np.inf), "'ctrl_1'", "infinite"),
    "negative media": (_set("radio_imps", 0, -5.0), "'radio_imps'", "negative"),
    "bad time": (_set("week", 1, "week two"), "'week'", "row 2: 'week two'"),
    "duplicate rows": (lambda df: pd.concat([df, df.iloc[[3]]]), "(region, week)", "rows 4, 181"),
    "irregular dates": (lambda df: df.assign(week=pd.to_datetime("2023-01-02") + pd.to_timedelta(
        df["week"] * 7 + (df["week"] == 3) * 2, unit="D")), "'week'", "irregular date steps"),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_validate_data_errors_exit_2(capsys, csv_file, case):
    edit, column, detail = BROKEN[case]
    code, out, err = run(capsys, "validate", csv_file(edit), *MAP_ARGS)
    assert code == 2 and out == ""
    assert err.startswith("causalmmm-jax validate: error: data.csv: ")
    assert column in err and detail in err


@pytest.mark.parametrize(
    "override, expected",
    [
        (["--target", "revenue"], "target column 'revenue' not found"),
        (["--media", "impressions_*"], "media pattern 'impressions_*' matches no column"),
        (["--controls", "ctrl_*,tv_imps"], "'tv_imps' is used as media and controls"),
        (["--spend", "radio_imps,tv_imps"], "media column 'tv_imps' is paired with spend column 'radio_imps'"),
        (["--region", "week"], "'week' is used as region and time"),
    ],
)
def test_validate_mapping_errors_exit_2(capsys, csv_file, override, expected):
    args = list(MAP_ARGS) + ["--spend", "*_imps"] * (override[0] == "--spend")
    i = args.index(override[0])
    args[i + 1] = override[1]
    code, _, err = run(capsys, "validate", csv_file(), *args)
    assert code == 2 and expected in err
    if "not found" in expected or "matches no column" in expected:
        assert "Available columns: 'region', 'week', 'sales'" in err


def test_validate_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "validate", tmp_path / "none.csv", *MAP_ARGS)
    assert code == 2 and "none.csv" in err and "not found" in err


def test_validate_empty_and_header_only(capsys, tmp_path):
    empty, head = tmp_path / "e.csv", tmp_path / "h.csv"
    empty.write_text("")
    head.write_text("region,week,sales,tv_imps,ctrl_1\n")
    assert "empty" in run(capsys, "validate", empty, *MAP_ARGS)[2]
    code, _, err = run(capsys, "validate", head, *MAP_ARGS)
    assert code == 2 and "no data rows" in err


# --------------------------------------------------------------------------- usage errors, other commands

def test_usage_error_exit_2(capsys, csv_file):
    code, _, err = run(capsys, "validate", csv_file(), "--region", "region")
    assert code == 2 and "usage:" in err and "--time" in err


def test_no_command_and_unknown_command(capsys):
    assert run(capsys)[0] == 2
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and "invalid choice" in err


def test_bad_choice(capsys, csv_file):
    code, _, err = run(capsys, "validate", csv_file(), *MAP_ARGS, "--missing-media", "fill")
    assert code == 2 and "--missing-media" in err


def test_help(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "validate" in out and "config" in out
    code, out, _ = run(capsys, "validate", "--help")
    assert code == 0 and "PATTERNS" in out


def test_version(capsys):
    assert run(capsys, "version")[:2] == (0, __version__ + "\n")
    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out


def test_config_toml_json_preset(capsys):
    code, out, _ = run(capsys, "config")
    assert code == 0 and tomllib.loads(out) == Config().to_dict()
    code, out, _ = run(capsys, "config", "--json")
    assert json.loads(out) == Config().to_dict()
    code, out, _ = run(capsys, "config", "--preset", "deepcausalmmm-1.0.21")
    assert tomllib.loads(out) == preset("deepcausalmmm-1.0.21").to_dict()
    code, _, err = run(capsys, "config", "--preset", "nope")
    assert code == 2 and "'nope'" in err


def test_legacy_learn_trend_key_is_read_with_a_warning():
    """A 0.1 configuration file's ``learn_trend`` maps onto ``trend`` (true → linear, false → off)."""
    for legacy, trend in ((True, "linear"), (False, "off")):
        with pytest.warns(FutureWarning, match="learn_trend"):
            cfg = Config.from_dict({"model": {"learn_trend": legacy}})
        assert cfg.model.trend == trend
    with pytest.raises(ConfigError, match="both learn_trend"):
        Config.from_dict({"model": {"learn_trend": True, "trend": "knots"}})
    with pytest.raises(ConfigError, match="true or false"):
        Config.from_dict({"model": {"learn_trend": "yes"}})


def test_internal_error_exit_1(capsys, csv_file, monkeypatch):
    import causalmmm_jax.data

    def boom(*a, **k):
        raise RuntimeError("kaput")

    monkeypatch.setattr(causalmmm_jax.data, "panel_from_csv", boom)  # what validate reads the file with
    monkeypatch.delenv("CAUSALMMM_DEBUG", raising=False)
    path = csv_file()
    code, _, err = run(capsys, "validate", path, *MAP_ARGS)
    assert code == 1 and "internal error: RuntimeError: kaput" in err and "CAUSALMMM_DEBUG=1" in err
    monkeypatch.setenv("CAUSALMMM_DEBUG", "1")
    assert main(["validate", str(path), *MAP_ARGS]) == 1
    assert "Traceback" in capsys.readouterr().err


# --------------------------------------------------------------------------- console script, shared data

def test_console_script(csv_file):
    exe = Path(sys.executable).parent / "causalmmm-jax"
    if not exe.exists():
        pytest.skip("console script not installed (pip install -e .)")
    path = csv_file()
    ok = subprocess.run([str(exe), "validate", str(path), *MAP_ARGS], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "data.csv: OK" in ok.stdout
    bad = subprocess.run([str(exe), "validate", str(path), *MAP_ARGS[:-2], "--controls", "nope_*"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "'nope_*'" in bad.stderr and "Traceback" not in bad.stderr


def test_validate_shared_csv(capsys, shared_csv):
    code, out, err = run(capsys, "validate", shared_csv, "--region", "dmacode", "--time", "weekid", "--target",
                         "target_visits", "--media", "impressions_*", "--controls", "control_*", "--json")
    assert code == 0, err
    s = json.loads(out)
    assert (s["n_regions"], s["n_weeks"], s["n_channels"], s["n_controls"]) == (190, 109, 13, 7)
    assert s["missing_cells"] == 340 and s["incomplete_regions"] == [509, 518, 734, 744, 766, 801]
    assert s["split"] == {"train_weeks": 88, "validation_weeks": 8, "holdout_weeks": 13}
