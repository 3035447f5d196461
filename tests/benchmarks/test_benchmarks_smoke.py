"""Smoke tests of ``benchmarks/*.py``: every script runs with ``--quick`` in a subprocess and
writes a JSON file with the documented keys.  The timings of ``--quick`` runs mean nothing.

The subprocesses use the session's persistent XLA cache (``$CAUSALMMM_BENCH_CACHE_DIR`` =
``$CAUSALMMM_CACHE_DIR``, see tests/conftest.py) and ``--quick`` runs the suite's small panel shape,
so they load the programs the in-process tests compiled.
``vs_original`` runs the original DeepCausalMMM only when asked to (``CAUSALMMM_TEST_ORIGINAL=1``)
and the parity venv and the example CSV exist (torch's start-up and its tiny fit cost minutes on
2 cores); otherwise it runs with ``--skip-original``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
CSV = REPO.parent / "shared" / "data" / "mmm_data.csv"
PARITY_PY = Path(os.environ.get("CAUSALMMM_PARITY_PYTHON", "/work/parity-venv/bin/python"))
WITH_ORIGINAL = os.environ.get("CAUSALMMM_TEST_ORIGINAL") == "1" and PARITY_PY.exists() and CSV.exists()
MACHINE_KEYS = ("cpu_model", "cpu_count_logical", "python", "jax", "jaxlib", "backend", "device_kind", "devices")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench_env():
    """The scripts use the session's compilation cache: their ``--quick`` shapes are the suite's
    small panel (5 × 70 × 3 × 1, hidden 8, 20-epoch chunks), so they load its programs."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["CAUSALMMM_BENCH_CACHE_DIR"] = os.environ["CAUSALMMM_CACHE_DIR"]
    return env


def run_script(name: str, tmp_path: Path, env: dict, *extra: str, timeout: float = 600) -> tuple[dict, str]:
    out = tmp_path / "results" / f"{name}.json"
    proc = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), "--quick", "--out", str(out), *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    assert out.exists(), proc.stdout
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["benchmark"] == name and d["schema"] == 1 and d["quick"] is True
    for k in MACHINE_KEYS:
        assert k in d["machine"], k
    return d, proc.stdout


def positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_scaling_quick(tmp_path, bench_env):
    d, stdout = run_script("scaling", tmp_path, bench_env)
    assert [(r["regions"], r["weeks"], r["devices"]) for r in d["results"]] == [
        (5, 70, 1), (10, 70, 1), (5, 70, 2), (10, 70, 2)]  # each device count in its own process
    for r in d["results"]:
        assert positive(r["seconds_per_epoch"]) and positive(r["compile_seconds"]) and positive(r["cells"])
        assert positive(r["device_memory_mib"]) and positive(r["peak_rss_mib"])
        assert len(r["seconds_per_epoch_chunks"]) == 2
    assert [r["padded_regions"] for r in d["results"]] == [0, 0, 1, 0]  # 5 regions on 2 devices: one padded
    assert set(d["by_devices"]["5x70"]) == {"1", "2"}
    assert math.isfinite(d["fit"]["cells"]["exponent"])
    assert set(d["targets"]["exponent"]) == {"value", "target", "met"} and d["targets"]["exponent"]["target"] == 1.05
    assert "exponent" in stdout and "s/epoch" in stdout


def test_ensemble_quick(tmp_path, bench_env):
    d, stdout = run_script("ensemble", tmp_path, bench_env)
    assert d["errors"] == []
    rows = {r["seeds"]: r for r in d["results"]}
    assert set(rows) == {1, 2} and rows[2]["vmapped"] and not rows[1]["vmapped"]
    for r in rows.values():
        for k in ("seconds_per_epoch", "seconds_per_epoch_per_model", "peak_rss_mb", "compile_seconds"):
            assert positive(r[k]), k
        assert "device_memory" in r and "compiled_memory" in r
    assert rows[1]["ratio_to_one_seed"] == 1.0
    assert rows[2]["seconds_per_epoch_per_model"] == pytest.approx(rows[2]["seconds_per_epoch"] / 2)
    assert d["targets"]["ratio_8_seeds"]["target"] == 8.5
    assert "x one seed" in stdout


def test_flops_quick(tmp_path, bench_env):
    d, stdout = run_script("flops", tmp_path, bench_env)
    mm, m, probe = d["matmul"], d["model"], d["xla_loop_probe"]
    assert mm["jaxpr_counter_flops"] == mm["flops"] == 2 * 256**3 and positive(mm["flops_per_second"])
    assert probe["jaxpr_flops_length_10"] == 10 * probe["jaxpr_flops_length_1"]
    for k in ("flops_per_epoch", "matmul_flops_per_epoch", "seconds_per_epoch", "flops_per_second", "utilisation"):
        assert positive(m[k]), k
    assert m["matmul_flops_per_epoch"] <= m["flops_per_epoch"]
    st = m["stages"]
    for k in ("gru_forward_seconds", "gru_forward_backward_seconds", "head_forward_backward_seconds",
              "step_matmul_seconds", "cell_scan_forward_seconds", "step_matmul_flops_per_second"):
        assert positive(st[k]), k
    assert st["shapes"]["hidden"] == 8 and positive(m["gru_share_of_epoch"])
    assert "per stage: GRU forward" in stdout
    assert isinstance(m["uncounted_primitives"], dict) and "xla_cost_analysis_chunk" in m
    assert d["targets"]["utilisation"]["target"] == 0.6
    assert "% of matmul" in stdout


def test_vs_original_quick(tmp_path, bench_env):
    with_original = WITH_ORIGINAL
    d, stdout = run_script("vs_original", tmp_path, bench_env, *([] if with_original else ["--skip-original"]))
    s = d["summary"]
    for k in ("seconds_per_epoch_median", "compile_seconds", "peak_rss_mb", "holdout_r2", "holdout_rmse",
              "wall_seconds"):
        assert k in s["jax"], k
    assert positive(s["jax"]["seconds_per_epoch_median"]) and s["jax"]["epochs"] == 40
    traj = d["runs"]["jax"][0]["trajectory"]
    assert [t["epoch"] for t in traj] == [20, 40]
    assert traj[-1]["holdout_r2"] == pytest.approx(s["jax"]["holdout_r2"])
    assert set(s["targets"]) == {"per_epoch_ratio", "time_to_quality_ratio", "cold_compile_seconds",
                                 "warm_cache_compile_seconds"}
    assert positive(s["compile_cache"]["warm_cache_compile_seconds"])
    assert "threshold_r2" in s["time_to_quality"]
    if with_original:
        assert d["original_skipped"] is None
        o = d["runs"]["original"][0]
        assert len(o["timing"]["epoch_seconds"]) == o["epochs"] == 40
        for k in ("seconds_per_epoch_median", "setup_seconds", "wall_seconds", "peak_rss_mb", "holdout_r2",
                  "holdout_rmse"):
            assert s["original"][k] is not None, k
        assert positive(s["per_epoch_ratio_jax_over_original"])
        assert s["time_to_quality"]["threshold_r2"] == pytest.approx(s["original"]["holdout_r2"])
    else:
        assert d["original_skipped"] and s["original"] is None
    assert "causalmmm-jax" in stdout and "time to original" in stdout


def test_quality_quick(tmp_path, bench_env):
    """``quality.py`` fits the planted-truth panel (tiny with --quick) and reads the original's
    figures from the committed record: every figure the README quotes has its key."""
    d, stdout = run_script("quality", tmp_path, bench_env, "--panels", "planted", "--original", "recorded")
    p = d["planted"]
    for block in ("holdout", "train"):
        for k in ("r2", "rmse", "mae", "mape", "r2_within_region"):
            assert math.isfinite(p[block][k]), (block, k)
    assert set(p["attribution"]) == {"media", "baseline", "seasonality", "controls", "trend"}
    assert sum(c["share"] for c in p["channels"].values()) == pytest.approx(1.0, abs=1e-6)
    assert p["null_channel"]["name"] == "impressions_null_radio" and p["top_channel"] in p["channels"]
    truth = p["truth"]["channels"]
    assert set(truth) == set(p["channels"])
    for row in truth.values():
        for k in ("share_truth", "roi_truth", "kpi_change_0x", "kpi_change_0x_truth", "kpi_change_2x_truth"):
            assert math.isfinite(row[k]), k
    assert set(p["summary"]) == {"max_abs_share_error_points", "max_abs_kpi_change_rel_error", "roi_rank_correlation"}
    assert 0.0 <= p["prediction_interval"]["holdout"]["coverage"] <= 1.0
    o = d["original"]
    assert o["source"].startswith("recorded") and o["epochs"] == 1500
    for k in ("r2", "rmse", "mae", "r2_within_region"):
        assert math.isfinite(o["holdout"][k]), k
    assert o["null_channel"]["name"].startswith("impressions_Channel_10_null")
    assert "planted" in stdout and "original (example)" in stdout


def test_decisions_quick(tmp_path, bench_env):
    """``decisions.py`` fits one tiny generated panel, scores it against the truth and prints the
    docs tables from its own JSON."""
    models = tmp_path / "models"
    d, stdout = run_script("decisions", tmp_path, bench_env, "--save-models", str(models))
    (p,) = d["panels"]
    assert (models / "quick_0" / "model" / "model.json").is_file()
    assert p["design"] == "quick" and p["generator"]["effect_drift"] == 0.25
    s = p["summary"]
    assert set(s["captured"]) == {"curves 1x", "curves 1.5x", "model 1x", "model 1.5x"}
    for k in ("response_0.5x_abs_rel_error_median", "null_pct_of_kpi", "weekly_error_median", "drift_correlation",
              "drift_correlation_oracle", "coefficient_cv_median", "media_total_ratio", "holdout_r2"):
        assert math.isfinite(s[k]), k
    assert d["settings"]["overrides"] == {}
    pi = d["aggregate"]["intervals"]["prediction"]  # the prediction intervals on the holdout weeks
    assert pi["cells"] == p["fit"]["prediction_interval"]["holdout"]["cells"] > 0 and pi["source"] == ["draws"]
    assert 0.0 <= pi["coverage_cells"] <= 1.0 and pi["relative_width_median"] > 0
    assert [r["on"] for r in p["regret"]] == ["curves", "curves", "model", "model"]
    assert set(d["targets"]) >= {"captured_1x_median", "null_pct_of_kpi_max", "drift_correlation_median"}
    assert all(t["met"] is None for t in d["targets"].values())  # --quick: nothing is judged
    assert "decisions over 1 panels" in stdout
    out = tmp_path / "results" / "decisions.json"
    proc = subprocess.run([sys.executable, str(BENCH / "decisions.py"), "--markdown", str(out)], cwd=REPO,
                          env=bench_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "| target (issue #15) |" in proc.stdout and "| quick | 1 |" in proc.stdout
    assert "90 % prediction intervals on the holdout weeks" in proc.stdout
    # the prediction intervals recomputed from the saved model, nothing fitted; without --resume: refused
    rescore = [sys.executable, str(BENCH / "decisions.py"), "--quick", "--out", str(out), "--rescore-predictions",
               str(models)]
    proc = subprocess.run(rescore, cwd=REPO, env=bench_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--resume" in proc.stderr
    proc = subprocess.run(rescore + ["--resume"], cwd=REPO, env=bench_env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    again = json.loads(out.read_text(encoding="utf-8"))
    assert again["resummarised"]["prediction_intervals_from"] == str(models)
    assert again["panels"][0]["fit"]["prediction_interval"] == p["fit"]["prediction_interval"]  # same code


def test_decisions_candidate_configuration(tmp_path, bench_env):
    """``--set SECTION.KEY=VALUE`` becomes a config change (JSON values, else text); a bad key or
    value is refused with exit 2 before anything is fitted."""
    sys.path.insert(0, str(BENCH))
    import decisions

    assert decisions.parse_overrides(["model.gru_inputs=context", "train.l2_weight=0", "train.patience=12"]) == {
        "model": {"gru_inputs": "context"}, "train": {"l2_weight": 0, "patience": 12}}
    cfg = decisions.config_for(False, {"model": {"gru_inputs": "context"}})
    assert cfg.model.gru_inputs == "context" and cfg.data.holdout_weeks == decisions.HOLDOUT_WEEKS
    for bad in ("model.gru_inputs=bogus", "nosection=1"):
        proc = subprocess.run([sys.executable, str(BENCH / "decisions.py"), "--quick", "--set", bad,
                               "--out", str(tmp_path / "x.json")], cwd=REPO, env=bench_env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 2 and "--set" in proc.stderr, (bad, proc.stderr)
        assert not (tmp_path / "x.json").exists()


def test_optimizer_quick(tmp_path, bench_env):
    d, stdout = run_script("optimizer", tmp_path, bench_env)
    assert set(d["summary"]) == {"projected", "slsqp", "trust-constr", "de", "multistart"}
    (case,) = d["cases"]
    assert case["channels"] == 3 and case["budget_factor"] == 1.0
    for m, row in case["methods"].items():
        assert -1e-9 <= row["shortfall"] < 1.0 and positive(row["seconds"]), m
    assert min(r["shortfall"] for r in case["methods"].values()) == pytest.approx(0.0, abs=1e-6) or \
        case["reference_response"] > max(r["response"] for r in case["methods"].values())
    assert "optimisers over 1 curve problems" in stdout


def test_planning_quick(tmp_path, bench_env):
    """``planning.py`` fits one tiny panel, plans its held-out weeks per channel, per region and
    per week (under a weekly cap) through the model and scores the plans in the true KPI against
    the truth's best plan."""
    d, stdout = run_script("planning", tmp_path, bench_env)
    (p,) = d["panels"]
    assert set(p["objectives"]) == {"channel 1x", "region 1x", "week cap"} and p["targets"] == {}
    for name, o in p["objectives"].items():
        assert o["loss_pct_of_kpi"] >= -1e-6 and positive(o["budget"]) and positive(o["plan_seconds"]), name
        assert o["captured"] is None or o["captured"] <= 1 + 1e-6, name
    assert "| channel 1x |" in stdout and "| region 1x |" in stdout and "| week cap |" in stdout
    docs = subprocess.run([sys.executable, str(BENCH / "planning.py"), "--markdown",
                           str(tmp_path / "results" / "planning.json")], cwd=REPO, env=bench_env, capture_output=True,
                          text=True, timeout=120)
    assert docs.returncode == 0 and "| week cap |" in docs.stdout and "benchmarks/planning.py --out" in docs.stdout


def test_flop_counter_units():
    """The jaxpr FLOP counter: matmul = 2mnk, scan bodies times their length, cond = costliest branch."""
    import jax
    import jax.numpy as jnp

    mod = _bench_module("flops")
    a, b = jnp.ones((3, 5)), jnp.ones((5, 7))
    assert mod.count_jaxpr(jax.make_jaxpr(jnp.dot)(a, b))["matmul_flops"] == 2 * 3 * 5 * 7

    def scanned(x):
        return jax.lax.scan(lambda c, _: (c @ c + 1.0, None), x, None, length=4)[0]

    c = mod.count_jaxpr(jax.make_jaxpr(scanned)(jnp.ones((2, 2))))
    assert c["matmul_flops"] == 4 * 2 * 2 * 2 * 2 and c["flops"] == 4 * (16 + 4)

    def branchy(p, x):
        return jax.lax.cond(p, lambda x: jnp.exp(x) @ x, lambda x: x + 1.0, x)

    c = mod.count_jaxpr(jax.make_jaxpr(branchy)(True, jnp.ones((2, 2))))
    assert c["matmul_flops"] == 16 and c["transcendentals"] == 4


def test_run_all_gpu_without_gpu_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run([sys.executable, str(BENCH / "run_all.py"), "--device", "gpu", "--out-dir", str(tmp_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "no GPU" in proc.stderr


def test_memory_quick(tmp_path, bench_env):
    """One variant (remat's own numbers are tests/model/test_model.py's): the samples and the
    programs' memory are recorded."""
    d, stdout = run_script("memory", tmp_path, bench_env, "--variants", "remat")
    (row,) = d["results"]
    assert row["variant"] == "remat" and row["remat"]
    assert positive(row["peak_rss_mib"]) and positive(row["device_mib"]["main"]) and positive(row["holdout_r2"])
    steps = [s["step"] for s in row["samples"]]
    assert steps[:3] == ["python started", "jax imported, backend up", "panel read"] and steps[-1] == "fit done"
    assert "peak RSS" in stdout


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(BENCH))
    return mod


def test_epoch_profile_quick(tmp_path, bench_env):
    """The traced epoch is charged to the documented stages: every stage present, the GRU's
    forward and backward and the heads non-zero, the shares of the traced time."""
    d, stdout = run_script("epoch_profile", tmp_path, bench_env)
    mod = _bench_module("epoch_profile")
    assert set(d["stages"]) == set(mod.STAGES)
    for k in ("gru_forward", "gru_backward", "heads_forward", "heads_backward", "validation"):
        assert positive(d["stages"][k]), k
    assert positive(d["traced_seconds_per_epoch"]) and positive(d["seconds_per_epoch_untraced"])
    assert d["top_ops"] and all(op["stage"] in mod.STAGES for op in d["top_ops"])
    assert "gru_backward" in stdout


def test_epoch_profile_charges_operations_by_source_path():
    mod = _bench_module("epoch_profile")
    pre = "jit(chunk)/while/body/closed_call/cond/branch_1_fun/"
    cases = {"jvp(MMM)/gru/while/body/closed_call/dot_general": "gru_forward",
             "transpose(jvp(MMM))/gru/dot_general": "gru_backward",
             "jvp(MMM)/coeff_head/dense_0/dot_general": "heads_forward",
             "transpose(jvp(MMM))/ctrl_coeff_head/dense_1/dot_general": "heads_backward",
             "jvp(MMM)/ctrl_mlp/Dropout_0/add": "control_mlp",
             "transpose(jvp(MMM))/mul": "media_and_decomposition",
             "jvp()/reduce_sum": "loss_and_priors",
             "cond/branch_1_fun/MMM/gru/while/body/dot_general": "validation",
             "add": "optimizer_and_bookkeeping"}
    for path, stage in cases.items():
        assert mod.stage_of(pre + path) == stage, path
    # a loop's own event spans its body's operations: only the body's are counted
    events = [{"name": "while", "ts": 0, "dur": 100, "pid": 1, "tid": 1},
              {"name": "a", "ts": 10, "dur": 30, "pid": 1, "tid": 1},
              {"name": "b", "ts": 50, "dur": 40, "pid": 1, "tid": 1},
              {"name": "c", "ts": 0, "dur": 20, "pid": 1, "tid": 2}]
    assert sorted(e["name"] for e in mod._leaf_events(events)) == ["a", "b", "c"]
    # operations side by side on two threads split the time they share (a and c overlap for 10);
    # the shares add up to the busy time (40 of 50)
    leaves = [{"name": "a", "ts": 0, "dur": 20}, {"name": "c", "ts": 10, "dur": 20}, {"name": "b", "ts": 40, "dur": 10}]
    share, busy, overlap = mod._time_shares(leaves)
    assert share == {0: 15.0, 1: 15.0, 2: 10.0}
    assert (busy, overlap) == (40.0, 10.0)


def test_original_epoch_profile_stage_of():
    """The original's profile worker (run by the parity venv's python) imports without torch; its
    stages are ours plus ``unseparated``, and each event is charged by its range, its autograd node
    and the forward op that created the node (sequence number), else the parameter shapes."""
    mod = _bench_module("_original_epoch_profile")
    assert "torch" not in mod.__dict__
    assert mod.STAGES[:-1] == _bench_module("epoch_profile").STAGES and mod.STAGES[-1] == "unseparated"
    fwd = {("aten::addmm", "model.gru"): "gru_forward", ("aten::addmm", "model.coeff_gen"): "heads_forward",
           ("aten::relu", "model.ctrl_coeff_gen"): "heads_forward", ("aten::tanh", "model.ctrl_mlp"): "control_mlp",
           ("aten::clamp", "model"): "media_and_decomposition", ("orig::model", "model"): "media_and_decomposition",
           ("aten::mse_loss", "model"): "loss_and_priors", ("aten::huber_loss", "train_epoch"): "loss_and_priors",
           ("aten::abs", "loss_terms"): "loss_and_priors", ("aten::addmm", "validation"): "validation",
           ("aten::add_", "optimizer"): "optimizer_and_bookkeeping",
           ("aten::norm", "clip_grad_norm_"): "optimizer_and_bookkeeping",
           ("orig::metrics", "metrics"): "optimizer_and_bookkeeping", ("aten::mul", ""): "optimizer_and_bookkeeping"}
    for (op, scope), stage in fwd.items():
        assert mod.stage_of(op, scope) == stage, (op, scope)
    bwd = {("AddmmBackward0", "model.gru"): "gru_backward", ("AddmmBackward0", "model.coeff_gen"): "heads_backward",
           ("MmBackward0", "model.ctrl_coeff_gen"): "heads_backward",
           ("TanhBackward0", "model.ctrl_mlp"): "control_mlp",
           ("CatBackward0", "model"): "media_and_decomposition", ("MseLossBackward0", "model"): "loss_and_priors",
           ("HuberLossBackward0", "train_epoch"): "loss_and_priors", ("AbsBackward0", "loss_terms"): "loss_and_priors"}
    for (op, scope), stage in bwd.items():
        assert mod.stage_of(op, scope, backward=True) == stage, (op, scope)
    assert mod.range_scope("orig::model.gru") == "model.gru" and mod.range_scope("aten::mm") is None
    assert mod.range_scope("Optimizer.step#AdamW.step") == "optimizer"
    # a node without its forward op (AccumulateGrad): by the parameter shapes, when they name one stage
    named = [("gru.weight_hh_l0", (840, 280)), ("coeff_gen.0.weight", (280, 280)),
             ("ctrl_coeff_gen.0.weight", (280, 280)), ("coeff_gen.2.bias", (140,)), ("ctrl_mlp.0.bias", (140,)),
             ("ctrl_mlp.0.weight", (140, 7)), ("alpha", (13,))]
    params = mod.param_scopes([(n, types.SimpleNamespace(shape=s)) for n, s in named])
    assert params[(280, 280)] == {"model.coeff_gen", "model.ctrl_coeff_gen"} and params[(13,)] == {"model"}
    acc = "torch::autograd::AccumulateGrad"
    for shapes, stage in (([[840, 280]], "gru_backward"), ([[280, 280]], "heads_backward"), ([[140]], "unseparated"),
                          ([[140], [140, 7]], "control_mlp"), ([[13]], "media_and_decomposition"),
                          ([[5, 5]], "unseparated"), ([], "unseparated")):
        assert mod.stage_of(acc, None, backward=True, shapes=shapes, params=params) == stage, shapes
    assert mod.stage_of(acc, None, backward=True, shapes=[[840, 280]]) == "unseparated"  # no parameter table


def test_original_epoch_profile_charges_backward_by_sequence_number():
    """Self time per stage from a profiler-like event tree: a backward node is charged by the
    forward op that created it (the last to start with its sequence number; a no-grad op of the
    validation that recorded the same number earlier does not count; a number no forward op
    recorded: the op that recorded the last lower one), ``train_epoch``'s own time
    stays unattributed, a range's own time is its stage's (Python glue)."""
    mod = _bench_module("_original_epoch_profile")

    def ev(name, start, self_us, parent=None, seq=-1, shapes=(), thread=1, fwd_thread=0):
        return types.SimpleNamespace(name=name, time_range=types.SimpleNamespace(start=start),
                                     self_cpu_time_total=self_us, cpu_parent=parent, sequence_nr=seq,
                                     input_shapes=list(shapes), thread=thread, fwd_thread=fwd_thread)

    val = ev("orig::validation", 0, 1)
    val_gru = ev("orig::model.gru", 1, 2, val)
    stale = ev("aten::addmm", 2, 3, val_gru, seq=7)  # no grad: records the next node's number
    epoch = ev("orig::train_epoch", 10, 100)
    model = ev("orig::model", 11, 4, epoch)
    gru = ev("orig::model.gru", 12, 5, model)
    creator = ev("aten::addmm", 13, 6, gru, seq=7)
    head = ev("orig::model.coeff_gen", 14, 0, model)
    head_op = ev("aten::addmm", 15, 7, head, seq=8)
    loss = ev("aten::huber_loss", 20, 8, epoch, seq=9)
    node = ev("autograd::engine::evaluate_function: AddmmBackward0", 30, 9, epoch, seq=7, fwd_thread=1)
    mm = ev("aten::mm", 31, 10, node)
    node2 = ev("autograd::engine::evaluate_function: AddmmBackward0", 40, 11, epoch, seq=8, fwd_thread=1)
    slices = ev("autograd::engine::evaluate_function: torch::autograd::CopySlices", 45, 1, epoch, seq=10, fwd_thread=1)
    acc = ev("autograd::engine::evaluate_function: torch::autograd::AccumulateGrad", 50, 12, epoch)
    acc_in = ev("torch::autograd::AccumulateGrad", 51, 13, acc, shapes=[[840, 280]])
    opt = ev("orig::optimizer", 59, 15)
    step = ev("Optimizer.step#AdamW.step", 60, 14, opt)
    events = [val, val_gru, stale, epoch, model, gru, creator, head, head_op, loss, node, mm, node2, slices, acc,
              acc_in, opt, step]
    got = mod.charge(events, {(840, 280): {"model.gru"}})
    assert dict(got["stages"]) == {"validation": 6, "media_and_decomposition": 4, "gru_forward": 11,
                                   "heads_forward": 7, "loss_and_priors": 8 + 1, "gru_backward": 19 + 25,
                                   "heads_backward": 11, "optimizer_and_bookkeeping": 29}
    assert got["train_epoch_self"] == 100 and sum(got["threads"].values()) == sum(e.self_cpu_time_total for e in events)
    assert got["glue"]["gru_forward"] == 5 and got["glue"]["validation"] == 3
    # the CopySlices node (10) has no forward op of its own: the one that recorded 9 created it
    assert dict(got["backward_resolved"]) == {"sequence_nr": 30, "preceding_sequence_nr": 1, "shapes": 25}
    assert got["ops"][("aten::mm (AddmmBackward0)", "gru_backward")] == 10


def test_epoch_profile_original_run_needs_the_parity_venv(tmp_path):
    """``--original run`` without the parity venv: a clear message and exit code 2, before any work."""
    proc = subprocess.run([sys.executable, str(BENCH / "epoch_profile.py"), "--original", "run", "--parity-python",
                           str(tmp_path / "no-venv" / "python"), "--out", str(tmp_path / "p.json")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "parity python" in proc.stderr and "does not exist" in proc.stderr
    assert not (tmp_path / "p.json").exists()
    mod = _bench_module("epoch_profile")
    ours = {"stages": {s: 0.1 for s in mod.STAGES}, "shares": {s: 0.1 for s in mod.STAGES}}
    orig = {"stages": {**{s: 0.2 for s in mod.STAGES}, "unseparated": 0.01},
            "shares": {**{s: 0.05 for s in mod.STAGES}, "unseparated": 0.0025}}
    rows = mod.side_by_side(ours, orig)
    assert [r["stage"] for r in rows] == list(mod.STAGES) + ["unseparated"]
    assert rows[0]["ratio"] == pytest.approx(2.0) and rows[-1]["ours"] is None and rows[-1]["ratio"] is None


def test_precision_summary_against_seed_noise():
    """precision.py's summary: bfloat16 − float32 per pair, and the float32 seed-to-seed noise on
    the same panel (the reference fit when there is one, else every two seeds of one panel)."""
    mod = _bench_module("precision")

    def run(r2, shares):
        return {"holdout_r2": r2, "holdout_rmse": 1.0, "within_r2": 0.5, "media_share": 20.0, "shares": shares,
                "epochs": 100, "seconds_per_epoch": 0.1, "max_share_gap": 0.0}

    pairs = [{"seed": 42, "reference_seed": 43, "runs": {
        "float32": run(0.90, {"a": 50.0, "b": 50.0}), "bfloat16": run(0.91, {"a": 51.0, "b": 49.0}),
        "float32_seed43": run(0.94, {"a": 53.0, "b": 47.0})}}]
    for p in pairs:
        for r in p["runs"].values():
            r["max_share_gap"] = max(abs(r["shares"][c] - p["runs"]["float32"]["shares"][c]) for c in "ab")
    s = mod.summarise(pairs)
    assert s["holdout_r2"]["difference_median"] == pytest.approx(0.01)
    assert s["holdout_r2"]["seed_noise_max"] == pytest.approx(0.04)
    assert s["max_share_gap"]["bfloat16_median"] == pytest.approx(1.0)
    assert s["max_share_gap"]["seed_noise_median"] == pytest.approx(3.0)
    seeds = [{"seed": k, "reference_seed": None,
              "runs": {"float32": run(v, {"a": 1.0}), "bfloat16": run(v, {"a": 1.0})}}
             for k, v in ((42, 0.90), (43, 0.93), (44, 0.95))]
    assert mod.summarise(seeds)["holdout_r2"]["seed_noise_max"] == pytest.approx(0.05)
    table = mod.markdown({"example": {"pairs": seeds, "summary": mod.summarise(seeds)}})
    assert "one training seed vs another" in table
