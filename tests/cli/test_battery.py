"""Robustness battery: malformed inputs through `validate`, `fit` and the Python API.

Every case must end with exit code 2 and a message naming the problem (no traceback), or be
handled correctly (documented in docs/troubleshooting.md): the accepted inputs (huge values) are
checked by their own tests below, which assert what "handled" means (a fit with finite outputs)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import causalmmm_jax as cm
from causalmmm_jax.cli import main
from causalmmm_jax.data import DataWarning
from causalmmm_jax.errors import UserError

from train_config import small_config
from test_validate_cli import MAP_ARGS, csv_file  # noqa: F401  (same mapping and CSV fixture)

MAPPING = cm.ColumnMapping(region="region", time="week", target="sales", media=("*_imps",), controls=("ctrl_*",))


def _set(col, row, value):
    def edit(df):
        df[col] = df[col].astype(object)
        df.loc[row, col] = value
        return df

    return edit


def _neg_spend(df):
    df["tv_spend"] = df["tv_spend"].astype(float)
    df.loc[4, "tv_spend"] = -3.0
    return df


def _dup(df):
    return pd.concat([df, df.iloc[[7]]], ignore_index=True)


def _mixed_dates(df):
    df["week"] = df["week"].astype(str)
    df.loc[2, "week"] = pd.Timestamp(df.loc[2, "week"]).strftime("%d/%m/%Y")
    return df


def _bad_date(df):
    df["week"] = df["week"].astype(str)
    df.loc[5, "week"] = "2023-13-45"
    return df


# name, frame kwargs, edit, extra CLI args, expected substring in the message
CASES = [
    ("missing target column", {}, lambda d: d.drop(columns="sales"), [], "sales"),
    ("missing region column", {}, lambda d: d.drop(columns="region"), [], "region"),
    ("wrong glob", {}, None, ["--media", "impressions_*"], "impressions_*"),
    ("duplicated header", {}, lambda d: d.rename(columns={"radio_imps": "tv_imps"}), [], "tv_imps"),
    ("column in two roles", {}, None, ["--controls", "tv_imps"], "tv_imps"),
    ("NaN target", {}, _set("sales", 3, np.nan), [], "sales"),
    ("inf target", {}, _set("sales", 3, np.inf), [], "sales"),
    ("NaN media", {}, _set("tv_imps", 3, np.nan), [], "tv_imps"),
    ("inf media", {}, _set("radio_imps", 3, np.inf), [], "radio_imps"),
    ("NaN control", {}, _set("ctrl_1", 3, np.nan), [], "ctrl_1"),
    ("inf control", {}, _set("ctrl_1", 3, -np.inf), [], "ctrl_1"),
    ("string in media", {}, _set("tv_imps", 3, "lots"), [], "tv_imps"),
    ("string in target", {}, _set("sales", 8, "n/a"), [], "sales"),
    ("negative media", {}, _set("tv_imps", 3, -5.0), [], "tv_imps"),
    ("negative spend", {"spend": True}, _neg_spend, ["--spend", "tv_spend,radio_spend"], "tv_spend"),
    ("spend count mismatch", {"spend": True}, None, ["--spend", "tv_spend"], "spend"),
    ("duplicated (region, time)", {}, _dup, [], "region"),
    ("unparseable date", {"dates": True}, _bad_date, [], "week"),
    ("mixed date formats", {"dates": True}, _mixed_dates, [], "week"),
    ("too few weeks for the split", {"n_weeks": 30}, None, [], "weeks"),
]

#: accepted, not an error: one huge media value (test_huge_values_*)
HUGE = _set("tv_imps", 3, 1e15)


@pytest.mark.parametrize("name,kw,edit,extra,needle", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["validate", "fit"])
def test_battery_cli(command, name, kw, edit, extra, needle, csv_file, capsys, tmp_path):
    path = csv_file(edit, **kw)
    args = list(MAP_ARGS)
    for flag_i in range(0, len(extra), 2):  # override mapping flags
        flag = extra[flag_i]
        if flag in args:
            args[args.index(flag) + 1] = extra[flag_i + 1]
        else:
            args += extra[flag_i:flag_i + 2]
    argv = [command, str(path), *args]
    if command == "fit":
        argv += ["--out", str(tmp_path / "run"), "--epochs", "1"]
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert code == 2, (name, out, err)
    assert needle in err, (name, err)
    assert not (tmp_path / "run" / "metrics.json").exists()  # rejected before anything is written


@pytest.mark.parametrize("content,needle", [
    ("", "empty"),
    ("region,week,sales,tv_imps,radio_imps,ctrl_1\n", "no data rows"),
    ("region;week;sales;tv_imps;radio_imps;ctrl_1\n500;1;10;1;1;0.1\n", "--sep"),
], ids=["empty file", "header only", "wrong delimiter"])
def test_battery_files(content, needle, tmp_path, capsys):
    p = tmp_path / "d.csv"
    p.write_text(content)
    assert main(["validate", str(p), *MAP_ARGS]) == 2
    assert needle in capsys.readouterr().err


def test_bom_is_handled(csv_file, tmp_path, capsys):
    src = csv_file()
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    assert main(["validate", str(bom), *MAP_ARGS]) == 0


def test_bad_config_key_value_and_preset(csv_file, tmp_path, capsys):
    path = csv_file()
    for text, needle in (("[train]\nepochz = 3\n", "epochz"), ("[train]\nlearning_rate = -1\n", "train.learning_rate"),
                         ("[model]\ndag_mode = 'cyclic'\n", "model.dag_mode"), ("[nonsense]\na = 1\n", "nonsense")):
        cfg = tmp_path / "c.toml"
        cfg.write_text(text)
        assert main(["fit", str(path), *MAP_ARGS, "--out", str(tmp_path / "r"), "--config", str(cfg)]) == 2
        assert needle in capsys.readouterr().err
    assert main(["fit", str(path), *MAP_ARGS, "--out", str(tmp_path / "r"), "--preset", "robyn"]) == 2
    assert "robyn" in capsys.readouterr().err
    assert main(["fit", str(path), *MAP_ARGS, "--out", str(tmp_path / "r"), "--seeds", "0"]) == 2
    # more devices than JAX sees, and a coordinator without the job's size: named, exit 2
    assert main(["fit", str(path), *MAP_ARGS, "--out", str(tmp_path / "r"), "--devices", "64", "--epochs", "1"]) == 2
    assert "--devices 64" in capsys.readouterr().err
    assert main(["fit", str(path), *MAP_ARGS, "--out", str(tmp_path / "r"), "--coordinator", "127.0.0.1:1"]) == 2
    assert "--num-processes" in capsys.readouterr().err


def test_output_directory_not_writable(csv_file, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["fit", str(csv_file()), *MAP_ARGS, "--out", str(blocker / "run"), "--epochs", "1"])
    assert code == 2
    assert "output directory" in capsys.readouterr().err


def test_single_region_single_channel_all_zero_channel_and_api(long_frame, tmp_path):
    df = long_frame(n_regions=1, n_weeks=60, n_channels=1)
    cfg = cm.Config().updated(model={"hidden_dim": 4},
                              train={"epochs": 2, "chunk_epochs": 2, "warm_start_epochs": 1, "static_epochs": 20})
    r = cm.fit(df, cm.ColumnMapping(region="region", time="week", target="sales", media=("tv_imps",),
                                    controls=("ctrl_*",)), cfg)
    for block, n_weeks in (("train", r.split.n_train), ("holdout", r.split.n_holdout)):
        m = r.metrics[block]
        assert m["n"] == n_weeks > 0  # one region: one cell per week
        for k in ("r2", "rmse", "mae", "mape"):
            assert np.isfinite(m[k]), (block, k, m[k])
    assert np.isfinite(np.asarray(r.decompose().prediction)).all()
    assert np.isfinite(r.metrics["channels"]["tv_imps"]["contribution"])
    df2 = long_frame(n_regions=2, n_weeks=60, n_channels=3)
    df2["radio_imps"] = 0.0  # an all-zero channel: contributes exactly 0
    df2["search_imps"] = 5.0  # a constant one: not measurable, but never NaN
    with pytest.warns(DataWarning, match="radio_imps") as caught:
        r2 = cm.fit(df2, MAPPING, cfg.updated(train={"interval_draws": 4}))
    assert any("search_imps" in str(w.message) and "same value" in str(w.message) for w in caught)
    assert r2.metrics["channels"]["radio_imps"]["contribution"] == pytest.approx(0.0, abs=1e-6)
    # intervals too: finite for every channel, [0, 0] for the channel without spend, and the constant
    # channel's words say the baselines can absorb it
    for ch, row in r2.metrics["channels"].items():
        assert all(np.isfinite(v) for key in ("contribution", "share") for v in row["interval"][key]), ch
    assert r2.metrics["channels"]["radio_imps"]["interval"]["contribution"] == pytest.approx([0.0, 0.0], abs=1e-6)
    words = cm.identifiability(r2).set_index("channel")["summary"]
    assert "no spend" in words["radio_imps"] and "never changes within a region" in words["search_imps"]
    for block in ("train", "holdout"):
        assert all(np.isfinite(r2.metrics[block][k]) for k in ("r2", "rmse", "mae"))
    assert all(np.isfinite(v["contribution"]) and np.isfinite(v["share"])
               for v in r2.metrics["channels"].values()), r2.metrics["channels"]
    assert np.isfinite(np.asarray(r2.decompose().prediction)).all()
    with pytest.raises(UserError, match="zero mean"):  # a region with zero KPI in training
        df3 = long_frame(n_regions=2, n_weeks=60)
        df3.loc[df3["region"] == df3["region"].iloc[0], "sales"] = 0.0
        cm.fit(df3, MAPPING, cfg)
    with pytest.raises(UserError, match="sales"):
        cm.fit(df.drop(columns="sales"), MAPPING, cfg)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)  # metrics.json writes NaN/inf as null


def test_huge_values_validate(csv_file, capsys):
    """A 1e15 media value is valid data: ``validate`` passes it (no error, no warning) and its
    summary shows it as the column's maximum."""
    path = csv_file(HUGE)
    code = main(["validate", str(path), *MAP_ARGS])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"{path.name}: OK" in out
    assert "warning" not in (out + err).lower()
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("tv_imps "))
    assert float(row[-1]) == 1e15  # column, min, mean, max


def test_huge_values_fit(csv_file, tmp_path, capsys):
    """...and ``fit`` handles it: exit 0, no non-finite warning, every metric, channel effect and
    contribution finite (the scaling absorbs the spike; it is not an error).  The train tests'
    panel shape and small configuration, so the compiled programs are the suite's."""
    path = csv_file(HUGE, n_regions=5, n_weeks=70, n_channels=3)
    run = tmp_path / "run"
    cfg = tmp_path / "small.json"
    small_config().save(cfg)
    code = main(["fit", str(path), *MAP_ARGS, "--out", str(run), "--config", str(cfg), "--epochs", "2", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err and "non-finite" not in err
    m = json.loads((run / "metrics.json").read_text())
    n_regions = 5
    assert m["train"]["n"] == n_regions * m["split"]["n_train"]
    assert m["holdout"]["n"] == n_regions * m["split"]["n_holdout"] > 0
    for block in ("train", "holdout"):
        for k in ("r2", "rmse", "mae", "mape", "r2_within_region"):
            assert _finite(m[block][k]), (block, k, m[block][k])
    assert set(m["channels"]) == {"tv_imps", "radio_imps", "search_imps"}
    for ch, v in m["channels"].items():
        assert _finite(v["contribution"]) and _finite(v["share"]) and 0.0 <= v["share"] <= 1.0, (ch, v)
    assert all(_finite(v) for v in m["attribution"].values()), m["attribution"]
    assert "nonfinite" not in m["timing"]
    contrib = pd.read_csv(run / "contributions.csv")
    assert len(contrib) > 0 and np.isfinite(contrib["value"]).all()
    assert (contrib.loc[contrib["component"] == "tv_imps", "value"] >= 0).all()
