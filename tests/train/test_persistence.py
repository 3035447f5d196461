"""Save/load, predict/forecast, run directory and the fit/predict CLI."""

import json
import os

import jax
import numpy as np
import pandas as pd
import pytest

import causalmmm_jax as cm
from causalmmm_jax.cli import main
from causalmmm_jax.errors import DataError, ModelFileError
from causalmmm_jax.modelfile import load_model, save_model
from causalmmm_jax.predict import predict


@pytest.fixture(scope="module")
def run_dir(small_fit, tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    cm.save(small_fit, d)
    return d


def test_run_directory_contents(run_dir, small_fit):
    names = {p.name for p in run_dir.iterdir()}
    assert {"metrics.json", "contributions.csv", "predictions.csv", "history.csv", "config.json", "model"} <= names
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["holdout"]["r2"] == pytest.approx(small_fit.metrics["holdout"]["r2"])
    c = pd.read_csv(run_dir / "contributions.csv")
    assert list(c.columns) == ["region", "time", "component", "value"]
    wide = c.pivot_table(index=["region", "time"], columns="component", values="value")
    parts = wide.drop(columns="prediction").sum(axis=1)
    np.testing.assert_allclose(parts, wide["prediction"], rtol=1e-6)  # additive in KPI units
    assert len(wide) == int(small_fit.panel.mask.sum())  # observed cells only
    p = pd.read_csv(run_dir / "predictions.csv")
    assert list(p.columns) == ["region", "time", "split", "actual", "prediction", "prediction_q05", "prediction_q95"]
    assert len(p) == len(wide) and set(p["split"]) == {"fit", "validation", "holdout"}
    np.testing.assert_allclose(p["prediction"].sum(), wide["prediction"].sum(), rtol=1e-9)
    assert np.all(p["prediction_q05"] < p["prediction"]) and np.all(p["prediction"] < p["prediction_q95"])
    hold = p[p["split"] == "holdout"]
    inside = ((hold["actual"] >= hold["prediction_q05"]) & (hold["actual"] <= hold["prediction_q95"])).mean()
    assert inside == pytest.approx(m["prediction_interval"]["holdout"]["coverage"])


def test_round_trip_gives_identical_predictions(run_dir, small_fit, small_data):
    loaded = load_model(run_dir)
    for a, b in zip(jax.tree_util.tree_leaves(small_fit.params), jax.tree_util.tree_leaves(loaded.params)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    p1 = predict(small_fit, small_data.frame)
    p2 = predict(loaded, small_data.frame)
    pd.testing.assert_frame_equal(p1, p2)
    assert list(p1.columns[:3]) == ["region", "time", "prediction"]
    comp = p1.drop(columns=["region", "time", "prediction", "prediction_q05", "prediction_q95"]).sum(axis=1)
    np.testing.assert_allclose(comp, p1["prediction"], rtol=1e-9)
    # a single fit without draws: the interval is the noise around the model, around the prediction
    assert np.all(p1["prediction_q05"] < p1["prediction"]) and np.all(p1["prediction"] < p1["prediction_q95"])


def test_a_format_2_model_loads_with_its_member_axis(run_dir, small_fit, tmp_path):
    """Format 2 stored a single fit's parameters without the member axis; it still loads, with one."""
    import hashlib
    import shutil

    from flax import serialization

    mdir = tmp_path / "model"
    shutil.copytree(run_dir / "model", mdir)
    meta = json.loads((mdir / "model.json").read_text())
    single = jax.tree_util.tree_map(lambda a: np.asarray(a)[0], small_fit.params)
    blob = serialization.msgpack_serialize(single)
    (mdir / "params.msgpack").write_bytes(blob)
    meta["format_version"] = 2
    meta["files"]["params.msgpack"] = hashlib.sha256(blob).hexdigest()
    (mdir / "model.json").write_text(json.dumps(meta))
    old = load_model(tmp_path)
    for a, b in zip(jax.tree_util.tree_leaves(small_fit.params), jax.tree_util.tree_leaves(old.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    meta["format_version"] = 1
    (mdir / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match=r"reads formats \[2, 3\]"):
        load_model(tmp_path)


def test_forecast_of_holdout_equals_continuous_evaluation(small_fit, small_data):
    r = small_fit
    hold_times = r.panel.times[r.split.n_train:]
    frame = small_data.frame
    future = frame[frame["week"].isin(pd.to_datetime(hold_times))].drop(columns=["kpi"])
    pred = predict(r, future)

    comps = r.point_components()
    ridx = {reg: i for i, reg in enumerate(r.panel.regions.tolist())}
    tidx = {t: i for i, t in enumerate(pd.to_datetime(r.panel.times))}
    expect = [comps.prediction[ridx[a], tidx[b]] for a, b in zip(pred["region"], pd.to_datetime(pred["time"]))]
    np.testing.assert_allclose(pred["prediction"], expect, rtol=1e-6)


def test_future_weeks_continue_the_sequence(small_fit, small_data):
    r = small_fit
    last = pd.Timestamp(r.panel.times[-1])
    frame = small_data.frame
    plan = frame[frame["week"] == frame["week"].max()].drop(columns=["kpi"]).copy()
    rows = []
    for k in range(1, 5):
        p = plan.copy()
        p["week"] = last + pd.Timedelta(weeks=k)
        rows.append(p)
    future = pd.concat(rows)
    pred = predict(r, future)
    assert len(pred) == len(future) and np.isfinite(pred["prediction"]).all()
    zero = future.copy()
    for c in small_data.mapping.media:
        zero[c] = 0.0
    for c in small_data.mapping.spend:
        zero[c] = 0.0
    pz = predict(r, zero)
    media_cols = list(r.panel.channels)
    # with adstock carry-over from the fitted history, media contribute even in a zero-media week
    assert (pz[media_cols].sum(axis=1) >= 0).all()
    assert (pred[media_cols].sum(axis=1).values >= pz[media_cols].sum(axis=1).values - 1e-9).all()


def test_unknown_region_and_off_grid_weeks_are_clear_errors(small_fit, small_data):
    f = small_data.frame.copy()
    bad = f.head(3).assign(region=999999)
    with pytest.raises(DataError, match="999999"):
        predict(small_fit, bad)
    early = f.head(1).assign(week=pd.Timestamp("2000-01-03"))
    with pytest.raises(DataError, match="before the first fitted week"):
        predict(small_fit, early)


def test_corrupted_and_version_mismatch(small_fit, tmp_path):
    save_model(small_fit, tmp_path)
    p = tmp_path / "model" / "params.msgpack"
    b = bytearray(p.read_bytes())
    b[100] ^= 0xFF
    p.write_bytes(bytes(b))
    with pytest.raises(ModelFileError, match="corrupted"):
        load_model(tmp_path)
    save_model(small_fit, tmp_path)
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "model" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="format version 99"):
        load_model(tmp_path)
    with pytest.raises(ModelFileError, match="no saved model"):
        load_model(tmp_path / "nowhere")


def test_interrupted_save_leaves_the_previous_model(small_fit, tmp_path, monkeypatch):
    save_model(small_fit, tmp_path)
    before = (tmp_path / "model" / "model.json").read_bytes()
    real = os.replace

    def boom(src, dst):
        if str(src).endswith(".tmp"):  # the moment the new model would be put in place
            raise KeyboardInterrupt("power cut")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        save_model(small_fit, tmp_path)
    monkeypatch.setattr(os, "replace", real)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no partial folder left
    assert (tmp_path / "model" / "model.json").read_bytes() == before  # the previous model is back
    load_model(tmp_path)


def test_fit_and_predict_cli(small_data, tmp_path, capsys):
    from causalmmm_jax.data.synthetic import write_csv

    csv = tmp_path / "data.csv"
    write_csv(small_data, csv)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[model]\nhidden_dim = 8\n[train]\nepochs = 20\nchunk_epochs = 20\nwarm_start_epochs = 5\n'
                   'static_epochs = 100\n[data]\nmin_train_weeks = 20\n')
    m = small_data.mapping
    args = ["--region", m.region, "--time", m.time, "--target", m.target, "--media", ",".join(m.media),
            "--controls", ",".join(m.controls), "--spend", ",".join(m.spend)]
    out = tmp_path / "run"
    assert main(["fit", str(csv), *args, "--out", str(out), "--config", str(cfg), "--holdout-weeks", "8",
                 "--seed", "3"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seed"] == 3 and metrics["split"]["n_holdout"] == 8
    assert set(metrics["channels"]) == set(m.media)
    printed = capsys.readouterr().out
    assert "media shares" in printed and "90 % prediction intervals (predictions.csv) hold" in printed
    assert (out / "predictions.csv").is_file()
    pred = tmp_path / "pred.csv"
    assert main(["predict", str(out), str(csv), "--out", str(pred)]) == 0
    df = pd.read_csv(pred)
    assert {m.region, m.time, "prediction", "baseline", "seasonality", "trend", "prediction_q05", "prediction_q95",
            *m.media} <= set(df.columns)
    assert main(["fit", str(csv), *args, "--out", str(out), "--config", str(cfg), "--epochs", "-3"]) == 2
    assert "train.epochs" in capsys.readouterr().err
