#!/usr/bin/env python
"""Generate torch-free parity fixtures from the ORIGINAL DeepCausalMMM 1.0.21.

This script must run in a separate virtual environment that holds the original
PyTorch package (it pins numpy<2, so it cannot share causalmmm-jax's venv)::

    python3.11 -m venv /work/parity-venv
    /work/parity-venv/bin/pip install torch==2.13.0 deepcausalmmm==1.0.21
    /work/parity-venv/bin/python benchmarks/parity/make_fixtures.py --out tests/fixtures

It writes four small ``np.savez_compressed`` files (see benchmarks/parity/README.md
for the key list):

* ``parity_triangular.npz`` / ``parity_notears.npz`` -- a perturbed
  ``DeepCausalMMM`` (state_dict), its inputs, every forward output, the DAG
  quantities, the per-epoch training objective of ``ModelTrainer.train_epoch``
  term by term, raw gradients and gradients after the trainer's two-group clip.
* ``parity_scaler.npz`` -- ``SimpleGlobalScaler`` fit/transform/inverse.
* ``parity_seasonality.npz`` -- ``DeepCausalMMM._initialize_seasonal_components``.

Everything is deterministic (fixed torch / numpy seeds, CPU, float32 model).
The script cross-checks its own replication of the trainer's loss/clipping
against a real ``ModelTrainer.train_epoch`` call (optimizer step disabled) and
fails loudly on any mismatch.
"""

from __future__ import annotations

import argparse
import copy
import importlib.metadata
import json
import logging
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import deepcausalmmm.core.trainer as dcm_trainer
from deepcausalmmm.core.config import get_default_config
from deepcausalmmm.core.scaling import SimpleGlobalScaler
from deepcausalmmm.core.unified_model import DeepCausalMMM

logging.getLogger("deepcausalmmm").setLevel(logging.ERROR)

# ----------------------------------------------------------------------------
# fixture sizes
# ----------------------------------------------------------------------------
R_REG = 3  # regions
T_WEEKS = 20  # weeks in the forward inputs (incl. padding)
C_MEDIA = 4
K_CTRL = 2
P_BURN = 6
HIDDEN = 16
S_STORED_WEEKS = 14  # < T_WEEKS so the forward's left-pad rule is exercised
PERTURB_STD = 0.5

# Deterministic overrides on top of the random perturbation so that every clamp
# in adstock / hill is exercised in at least one channel (index -> raw value).
CLAMP_OVERRIDES = {
    "alpha": {0: 2.0},  # sigmoid(2.0)=0.881 > 0.8   -> alpha clamped to 0.8
    "hill_a": {1: 1.0, 2: 6.0},  # softplus: 1.313 < 2 -> 2.0 ; 6.0025 > 5 -> 5.0
    "hill_g": {0: 2.0, 3: -6.0},  # softplus: 2.127 > 1 -> 1.0 ; 0.0025 < 0.01 -> 0.01
}

# Per-mode scalar overrides (after perturbation) chosen so that, across the two
# fixtures, both Huber branches and both outcomes of each clip group occur:
# * triangular: softplus(prediction_scale)=0.31 -> y_hat ~ y, so ~1/3 of the
#   real-week residuals are inside delta=0.25 (quadratic branch); seasonal_coeff
#   with softplus ~1.005 (near its prior 1.0) makes the dynamically scaled
#   seasonal prior's gradient large -> the coefficient clip group (max 1.0)
#   binds while the other group (max 2.0) does not.
# * notears: softplus(prediction_scale)=3.53 -> all residuals in the linear
#   Huber branch and BOTH clip groups bind.
MODE_OVERRIDES = {
    "triangular": {"prediction_scale": -1.0, "seasonal_coeff": 0.5493},
    "notears": {"prediction_scale": 3.5},
}


def _np32(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float32).numpy().copy()


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def _versions() -> dict:
    return {
        "torch_version": torch.__version__,
        "deepcausalmmm_version": importlib.metadata.version("deepcausalmmm"),
        "numpy_version": np.__version__,
        "statsmodels_version": importlib.metadata.version("statsmodels"),
    }


def _meta_array(meta: dict) -> np.ndarray:
    return np.array(json.dumps(meta, sort_keys=True))


def _assert_finite(arrs: dict, name: str) -> None:
    for k, v in arrs.items():
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            if not np.all(np.isfinite(v)):
                raise AssertionError(f"{name}: non-finite values in {k}")


# ----------------------------------------------------------------------------
# 1. model fixtures
# ----------------------------------------------------------------------------
def make_model_inputs(seed: int):
    rng = np.random.default_rng(seed)
    R, T, C, K, P = R_REG, T_WEEKS, C_MEDIA, K_CTRL, P_BURN
    raw = rng.gamma(shape=1.5, scale=1.0, size=(R, T, C))
    xm = raw / raw.sum(-1, keepdims=True)  # share of voice, rows sum to 1
    xm[:, :P, :] = 0.0  # padding weeks
    xc = rng.normal(size=(R, T, K))
    xc[:, :P, :] = 0.0
    y = np.abs(1.0 + 0.25 * rng.normal(size=(R, T))) + 0.05
    y[:, :P] = 0.0
    s_stored = rng.uniform(0.0, 1.0, size=(R, S_STORED_WEEKS))
    return (
        xm.astype(np.float32),
        xc.astype(np.float32),
        np.arange(R, dtype=np.int64),
        y.astype(np.float32),
        s_stored.astype(np.float32),
    )


def build_model(dag_mode: str, seed: int):
    """Build the model exactly as ``ModelTrainer.create_model`` does."""
    config = get_default_config()
    config["hidden_dim"] = HIDDEN
    config["dropout"] = 0.0
    config["burn_in_weeks"] = P_BURN
    config["dag_mode"] = dag_mode

    captured = {}
    orig_cls = dcm_trainer.DeepCausalMMM

    def _capture(**kwargs):
        captured.update(kwargs)
        return orig_cls(**kwargs)

    torch.manual_seed(seed)
    dcm_trainer.DeepCausalMMM = _capture
    try:
        trainer = dcm_trainer.ModelTrainer(config)
        trainer.device = torch.device("cpu")
        model = trainer.create_model(C_MEDIA, K_CTRL, R_REG)
    finally:
        dcm_trainer.DeepCausalMMM = orig_cls
    trainer.create_optimizer_and_scheduler()
    assert isinstance(model, DeepCausalMMM)
    return trainer, model, config, captured


@torch.no_grad()
def perturb(model: DeepCausalMMM, seed: int, dag_mode: str) -> None:
    gen = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        p.add_(PERTURB_STD * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    for name, idx_vals in CLAMP_OVERRIDES.items():
        p = getattr(model, name)
        for i, v in idx_vals.items():
            p[i] = v
    for name, v in MODE_OVERRIDES[dag_mode].items():
        getattr(model, name).fill_(v)


def coeff_group_names(model) -> tuple[list, list]:
    """Replicates the name test in ModelTrainer.train_epoch."""
    coeff, other = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            if "coeff" in name.lower() or "range_raw" in name:
                coeff.append(name)
            else:
                other.append(name)
    return coeff, other


def replicate_train_epoch_loss(model, config, xm, xc, r, y):
    """Term-by-term copy of ModelTrainer.train_epoch's objective (no step)."""
    model.train()
    model.zero_grad(set_to_none=True)
    pred, _, _, outputs = model(xm, xc, r)
    assert config.get("use_huber_loss", True) and not config.get("use_focal_loss", False)
    base = nn.HuberLoss(delta=config.get("huber_delta", 0.3))(pred, y)
    dag = model.get_dag_loss()
    sparse = model.get_sparsity_loss()
    attr_raw = outputs["attribution_reg_loss_raw"]
    if attr_raw.item() > 0:
        attr = model.attribution_reg_weight * (
            attr_raw * (base.detach() / (attr_raw.detach() + 1e-8))
        )
    else:
        attr = torch.tensor(0.0)
    seas_raw = outputs["seasonal_reg_loss_raw"]
    if seas_raw.item() > 0:
        seas = model.seasonal_reg_weight * (
            seas_raw * (base.detach() / (seas_raw.detach() + 1e-8))
        )
    else:
        seas = torch.tensor(0.0)
    l1 = sum(torch.sum(torch.abs(p)) for p in model.parameters())
    l2 = sum(torch.sum(p**2) for p in model.parameters())
    total = (
        base
        + config.get("dag_weight", 0.005) * dag
        + config.get("sparsity_weight", 0.001) * sparse
        + config.get("l1_weight", 1e-5) * l1
        + config.get("l2_weight", 5e-5) * l2
        + attr
        + seas
    )
    total.backward()
    terms = {
        "base": base,
        "dag": dag,
        "sparse": sparse,
        "l1": l1,
        "l2": l2,
        "attr_raw": attr_raw,
        "attr": attr,
        "seas_raw": seas_raw,
        "seas": seas,
        "total": total,
    }
    raw_grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    # two-group clipping, as in train_epoch
    coeff_names, other_names = coeff_group_names(model)
    params = dict(model.named_parameters())
    norms = {}
    norms["coeff"] = torch.nn.utils.clip_grad_norm_(
        [params[n] for n in coeff_names], max_norm=config.get("coeff_grad_clip", 1.0)
    )
    norms["other"] = torch.nn.utils.clip_grad_norm_(
        [params[n] for n in other_names], max_norm=config.get("gradient_clip_norm", 2.0)
    )
    clipped = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return terms, raw_grads, clipped, norms, pred


def run_real_train_epoch(trainer, model, xm, xc, r, y):
    """Call the real ModelTrainer.train_epoch with optimizer.step disabled."""
    captured = {}

    def _no_step(*a, **k):
        for n, p in model.named_parameters():
            captured[n] = p.grad.detach().clone()

    saved_step = trainer.optimizer.step
    trainer.optimizer.step = _no_step
    try:
        loss, rmse, r2 = trainer.train_epoch(xm, xc, r, y)
    finally:
        trainer.optimizer.step = saved_step
    model.zero_grad(set_to_none=True)
    return loss, rmse, r2, captured


def make_model_fixture(dag_mode: str, seed: int) -> dict:
    trainer, model, config, ctor_kwargs = build_model(dag_mode, seed)
    perturb(model, seed + 1000, dag_mode)

    xm_np, xc_np, r_np, y_np, s_np = make_model_inputs(seed + 2000)
    xm, xc, y = map(torch.from_numpy, (xm_np, xc_np, y_np))
    r = torch.from_numpy(r_np)
    model.seasonal_components = torch.from_numpy(s_np).clone()

    if dag_mode == "notears":
        with torch.no_grad():
            model.notears_active.fill_(True)
            model.notears_rho.fill_(2.0)
            model.notears_alpha.fill_(0.5)

    out = {}
    sd = model.state_dict()
    sd_dtypes = {}
    sd_shapes = {}
    for k, v in sd.items():
        out[f"sd/{k}"] = _np32(v)
        sd_dtypes[k] = str(v.dtype).replace("torch.", "")
        sd_shapes[k] = list(v.shape)
    param_names = [n for n, _ in model.named_parameters()]
    buffer_names = [n for n, _ in model.named_buffers()]

    # ---------------- inputs
    T = xm_np.shape[1]
    pad = T - s_np.shape[1]
    s_eff = np.concatenate([np.repeat(s_np[:, :1], pad, axis=1), s_np], axis=1) if pad > 0 else s_np[:, -T:]
    out["in/Xm"] = xm_np
    out["in/Xc"] = xc_np
    out["in/R"] = r_np
    out["in/y"] = y_np
    out["in/S_stored"] = s_np
    out["in/S_eff"] = s_eff.astype(np.float32)

    # ---------------- eval forward
    model.eval()
    with torch.no_grad():
        y_hat, beta, contrib, outputs = model(xm, xc, r)
    assert torch.equal(beta, outputs["coefficients"])
    assert torch.equal(contrib, outputs["contributions"])
    out["out/y_hat"] = _np32(y_hat)
    for k, v in outputs.items():
        if isinstance(v, torch.Tensor):
            out[f"out/{k}"] = _np32(v)
    out_keys_nontensor = {k: v for k, v in outputs.items() if not isinstance(v, torch.Tensor)}
    # S_eff check: seasonal_contribution / softplus(seasonal_coeff)
    s_from_fwd = outputs["seasonal_contribution"] / F.softplus(model.seasonal_coeff)
    np.testing.assert_allclose(_np(s_from_fwd), s_eff, rtol=1e-6, atol=1e-7)

    # ---------------- DAG
    with torch.no_grad():
        W = model.get_dag_adjacency_matrix()
        out["dag/W"] = _np32(W)
        out["dag/h"] = _np32(model.h_acyclicity(W))
        out["dag/loss"] = _np32(model.get_dag_loss())
        if dag_mode == "notears":
            model.notears_active.fill_(False)
            out["dag/loss_inactive"] = _np32(model.get_dag_loss())
            model.notears_active.fill_(True)

    # ---------------- per-epoch objective + gradients
    terms, raw_grads, clipped, norms, pred_train = replicate_train_epoch_loss(
        model, config, xm, xc, r, y
    )
    # dropout=0 -> train-mode forward equals eval-mode forward
    np.testing.assert_allclose(_np(pred_train), out["out/y_hat"], rtol=0, atol=0)
    for k, v in terms.items():
        out[f"loss/{k}"] = _np32(v)
    for n, g in raw_grads.items():
        out[f"grad/{n}"] = _np32(g)
    for n, g in clipped.items():
        out[f"gradclip/{n}"] = _np32(g)
    out["gradnorm/coeff"] = _np32(norms["coeff"])
    out["gradnorm/other"] = _np32(norms["other"])

    # cross-check against the real trainer (optimizer step disabled)
    loss_tr, rmse_tr, r2_tr, grads_tr = run_real_train_epoch(trainer, model, xm, xc, r, y)
    assert abs(loss_tr - terms["total"].item()) <= 1e-6 * max(1.0, abs(loss_tr)), (
        loss_tr,
        terms["total"].item(),
    )
    for n in clipped:
        if not torch.allclose(grads_tr[n], clipped[n], rtol=1e-6, atol=1e-8):
            raise AssertionError(f"clipped grad mismatch vs real train_epoch for {n}")
    out["loss/trainer_total"] = np.array(loss_tr, dtype=np.float32)
    out["loss/rmse"] = np.array(rmse_tr, dtype=np.float32)
    out["loss/r2"] = np.array(r2_tr, dtype=np.float32)

    # ---------------- NOTEARS dual updates (mutate buffers -> do last)
    if dag_mode == "notears":
        for i in (1, 2):
            info = model.notears_update_duals(factor=3.0)
            assert info, "dual update returned empty dict"
            out[f"dag/dual{i}_h"] = np.array(info["h"], dtype=np.float32)
            out[f"dag/dual{i}_rho"] = np.array(info["rho"], dtype=np.float32)
            out[f"dag/dual{i}_alpha"] = np.array(info["alpha"], dtype=np.float32)

    coeff_names, other_names = coeff_group_names(model)
    meta = {
        "dag_mode": dag_mode,
        "hidden_dim": HIDDEN,
        "ctrl_hidden": model.ctrl_hidden,
        "n_media": C_MEDIA,
        "n_controls": K_CTRL,
        "n_regions": R_REG,
        "n_weeks": T_WEEKS,
        "seasonal_stored_weeks": S_STORED_WEEKS,
        "burn_in_weeks": P_BURN,
        "dag_temperature": float(model.dag_temperature),
        "huber_delta": config["huber_delta"],
        "dag_weight": config["dag_weight"],
        "sparsity_weight": config["sparsity_weight"],
        "l1_weight": config["l1_weight"],
        "l2_weight": config["l2_weight"],
        "coeff_grad_clip": config["coeff_grad_clip"],
        "gradient_clip_norm": config["gradient_clip_norm"],
        "attribution_reg_weight": model.attribution_reg_weight,
        "seasonal_reg_weight": model.seasonal_reg_weight,
        "media_contribution_prior": model.media_contribution_prior,
        "seasonal_prior": model.seasonal_prior,
        "stabilization_method": model.stabilization_method,
        "gru_layers": model.gru_layers,
        "constructor_kwargs": ctor_kwargs,
        "perturb_std": PERTURB_STD,
        "clamp_overrides": {k: {str(i): v for i, v in d.items()} for k, d in CLAMP_OVERRIDES.items()},
        "scalar_overrides": MODE_OVERRIDES[dag_mode],
        "param_names": param_names,
        "buffer_names": buffer_names,
        "state_dict_dtypes": sd_dtypes,
        "state_dict_shapes": sd_shapes,
        "clip_group_coeff": coeff_names,
        "clip_group_other": other_names,
        "outputs_nontensor": out_keys_nontensor,
        "seed": seed,
        "model_dtype": "float32",
        **_versions(),
    }
    if dag_mode == "notears":
        meta.update(
            notears_lambda1=model.notears_lambda1,
            notears_group_l1=model.notears_group_l1,
            notears_rho_max=model.notears_rho_max,
            notears_rho_set=2.0,
            notears_alpha_set=0.5,
            dual_factor=3.0,
            dual_progress=0.25,
        )
    out["meta"] = _meta_array(meta)
    _assert_finite(out, f"parity_{dag_mode}")
    return out


# ----------------------------------------------------------------------------
# 2. scaler fixture
# ----------------------------------------------------------------------------
def make_scaler_fixture(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    R, T, C, K = 3, 30, 4, 2
    xm = rng.gamma(2.0, 1.0, size=(R, T, C)) * np.array([1e3, 5e3, 2e2, 8e3])
    xm[1, 7, :] = 0.0  # one (r,t) row all zero -> SOV 1/C
    xc = np.stack(
        [rng.normal(2.5e5, 4e4, size=(R, T)), rng.normal(6.7, 1.5, size=(R, T))], axis=-1
    )
    xc[0, 3, 1] = 60.0  # outlier so the +-5 clip binds
    xc[2, 11, 0] = 2.5e5 - 1e6  # outlier so the -5 clip binds
    y = rng.uniform(0.5, 1.5, size=(R, T)) * np.array([[1e4], [2e5], [3e6]])
    xm, xc, y = xm.astype(np.float32), xc.astype(np.float32), y.astype(np.float32)

    config = get_default_config()  # fresh dict (scaler shares config['scaling_constants'])
    scaler = SimpleGlobalScaler(config)
    scaler.fit(xm, xc, y)
    xm_s, xc_s, y_s = scaler.transform(xm, xc, y)
    y_inv = scaler.inverse_transform_target(y_s)

    xc_t = torch.from_numpy(xc)
    z = (xc_t - scaler.params.control_mean) / (scaler.params.control_std + 1e-8)
    ratio = float(torch.std(z) / torch.std(xc_t))
    sc = scaler.scaling_constants
    clip_used = sc["aggressive_clip_range"] if ratio > sc["extreme_clip_threshold"] else sc["standard_clip_range"]

    # a second, small-scale control panel whose std ratio > 2 -> aggressive clip
    xc_small = (rng.normal(0.0, 0.05, size=(R, T, K)) + np.array([0.0, 0.02])).astype(np.float32)
    xc_small[1, 5, 0] = 2.0
    _, xc_small_s, _ = scaler.transform(xm, xc_small, y)
    xs_t = torch.from_numpy(xc_small)
    z2 = (xs_t - scaler.params.control_mean) / (scaler.params.control_std + 1e-8)
    ratio_small = float(torch.std(z2) / torch.std(xs_t))
    clip_small = sc["aggressive_clip_range"] if ratio_small > sc["extreme_clip_threshold"] else sc["standard_clip_range"]
    assert clip_small == sc["aggressive_clip_range"], ratio_small
    assert clip_used == sc["standard_clip_range"], ratio

    flat = xc.reshape(-1, K)
    med_torch = _np(scaler.params.control_mean).reshape(-1)
    out = {
        "in/Xm": xm,
        "in/Xc": xc,
        "in/y": y,
        "in/Xc_small": xc_small,
        "out/Xm": _np(xm_s),
        "out/Xc": _np(xc_s),
        "out/y": _np(y_s),
        "out/y_mean_per_region": _np(sc["y_mean_per_region"]),  # float64 [R,1]
        "out/control_median": med_torch.astype(np.float32),
        "out/control_q25": _np(torch.quantile(torch.from_numpy(flat), 0.25, dim=0)),
        "out/control_q75": _np(torch.quantile(torch.from_numpy(flat), 0.75, dim=0)),
        "out/control_scale": _np(scaler.params.control_std).reshape(-1).astype(np.float32),
        "out/control_std_ratio": np.array(ratio, dtype=np.float64),
        "out/clip_range": np.array(clip_used, dtype=np.float64),
        "out/y_inverse": _np(y_inv),
        "out/Xc_small": _np(xc_small_s),
        "out/control_std_ratio_small": np.array(ratio_small, dtype=np.float64),
        "out/clip_range_small": np.array(clip_small, dtype=np.float64),
    }
    # torch.median returns the LOWER middle value for even counts (not the average)
    srt = np.sort(flat, axis=0)
    n = flat.shape[0]
    lower_mid = srt[(n - 1) // 2]
    np.testing.assert_array_equal(med_torch, lower_mid)
    meta = {
        "n_regions": R,
        "n_weeks": T,
        "n_media": C,
        "n_controls": K,
        "zero_row": [1, 7],
        "n_pooled_control_values": n,
        "median_rule": "torch.median: lower middle value (sorted[(n-1)//2]) for even n",
        "quantile_rule": "torch.quantile linear interpolation",
        "std_ratio_rule": "torch.std (unbiased, ddof=1) over the whole transformed tensor / same for raw",
        "scaling_constants": {k: v for k, v in sc.items() if not isinstance(v, torch.Tensor)},
        "seed": seed,
        **_versions(),
    }
    out["meta"] = _meta_array(meta)
    _assert_finite(out, "parity_scaler")
    return out


# ----------------------------------------------------------------------------
# 3. seasonality fixture
# ----------------------------------------------------------------------------
def _run_original_seasonal(y_raw: np.ndarray):
    """Scale by region mean, pad P weeks, call the model's own initializer."""
    R, n = y_raw.shape
    y_mean = torch.from_numpy(y_raw.astype(np.float64)).mean(dim=1, keepdim=True)
    y_scaled = (torch.from_numpy(y_raw.astype(np.float64)) / (y_mean + 1e-8)).float()
    y_padded = torch.cat([torch.zeros(R, P_BURN), y_scaled], dim=1)
    torch.manual_seed(0)
    model = DeepCausalMMM(n_media=2, ctrl_dim=1, hidden=4, n_regions=R, burn_in_weeks=P_BURN)
    model.scaling_constants = {"y_mean_per_region": y_mean}
    model._initialize_seasonal_components(y_padded)
    S = model.seasonal_components
    # raw (pre min-max) profile, computed the same way
    y_orig = (y_padded[:, P_BURN:] * y_mean).cpu().numpy()
    seas_raw = model.seasonality_detector.extract_seasonal_components_per_region(y_orig)
    return S, seas_raw, y_mean, y_padded, y_orig, min(52, n // 2)


def _independent_seasonal(y_orig: np.ndarray, period: int) -> np.ndarray:
    import pandas as pd
    from statsmodels.tsa.seasonal import seasonal_decompose

    rows = []
    for r in range(y_orig.shape[0]):
        s = seasonal_decompose(pd.Series(y_orig[r]), model="additive", period=period).seasonal.values
        s = s.astype(np.float32)
        mn, mx = s.min(), s.max()
        rows.append((s - mn) / (mx - mn) if mx > mn else np.full_like(s, 0.5))
    return np.stack(rows)


def make_seasonality_fixture(seed: int) -> dict:
    rng = np.random.default_rng(seed)

    def panel(n):
        t = np.arange(n)
        levels = np.array([[1e4], [5e4], [2e5]])
        amp = np.array([[0.2], [0.35], [0.1]])
        phase = np.array([[0.0], [1.3], [-0.7]])
        trend = np.array([[0.002], [-0.001], [0.004]])
        y = levels * (1.0 + amp * np.sin(2 * np.pi * t / 52 + phase) + trend * t
                      + 0.03 * rng.normal(size=(3, n)))
        return y.astype(np.float32)

    y96 = panel(96)
    y110 = panel(110)
    S, seas_raw, y_mean, y_padded, y_orig, period = _run_original_seasonal(y96)
    S_l, seas_raw_l, y_mean_l, y_padded_l, y_orig_l, period_l = _run_original_seasonal(y110)
    np.testing.assert_allclose(_np(S), _independent_seasonal(y_orig, period), atol=1e-6)
    np.testing.assert_allclose(_np(S_l), _independent_seasonal(y_orig_l, period_l), atol=1e-6)
    assert period == 48 and period_l == 52
    out = {
        "in/y": y96,
        "in/y_mean_per_region": _np(y_mean),
        "in/y_scaled_padded": _np(y_padded),
        "in/y_orig": y_orig,  # float64: (float32 y/ybar) * ybar, what statsmodels sees
        "out/S": _np(S),
        "out/seasonal_raw": _np(seas_raw),
        "out/period": np.array(period, dtype=np.int64),
        "in/y_long": y110,
        "in/y_long_orig": y_orig_l,
        "out/S_long": _np(S_l),
        "out/period_long": np.array(period_l, dtype=np.int64),
    }
    meta = {
        "n_regions": 3,
        "n_weeks": 96,
        "n_weeks_long": 110,
        "burn_in_weeks": P_BURN,
        "period": period,
        "period_long": period_l,
        "planted_period": 52,
        "decomposition": "statsmodels seasonal_decompose(model='additive', period=min(52, n//2)), "
        "two_sided=True, extrapolate_trend=0; float32 profile; per-region min-max",
        "seed": seed,
        **_versions(),
    }
    out["meta"] = _meta_array(meta)
    _assert_finite(out, "parity_seasonality")
    return out


# ----------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/fixtures", help="output folder")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    jobs = {
        "parity_triangular.npz": lambda: make_model_fixture("triangular", seed=11),
        "parity_notears.npz": lambda: make_model_fixture("notears", seed=22),
        "parity_scaler.npz": lambda: make_scaler_fixture(seed=33),
        "parity_seasonality.npz": lambda: make_seasonality_fixture(seed=44),
    }
    total = 0
    for fname, fn in jobs.items():
        arrs = fn()
        path = os.path.join(args.out, fname)
        np.savez_compressed(path, **arrs)
        size = os.path.getsize(path)
        total += size
        print(f"{path}: {len(arrs)} arrays, {size / 1024:.1f} KiB")
    print(f"total {total / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
