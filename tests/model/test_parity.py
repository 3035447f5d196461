"""Forward parity with DeepCausalMMM 1.0.21 on fixtures made by benchmarks/parity/make_fixtures.py."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from causalmmm_jax.config import ModelConfig
from causalmmm_jax.model import ModelInputs, ModelSpec, apply
from causalmmm_jax.model import dag as dag_lib
from causalmmm_jax.model.torch_import import params_from_torch

FIX = Path(__file__).parents[1] / "fixtures"
RTOL, ATOL = 1e-5, 1e-6


def load(mode):
    d = np.load(FIX / f"parity_{mode}.npz", allow_pickle=False)
    meta = json.loads(str(d["meta"]))
    sd = {k[3:]: d[k] for k in d.files if k.startswith("sd/")}
    cfg = ModelConfig(hidden_dim=meta["hidden_dim"], dropout=0.0, parameterization="clamped", hill_a_range=(2.0, 5.0),
                      seasonality="decompose",
                      dag_mode=mode, dag_temperature=meta["dag_temperature"], burn_in_weeks=meta["burn_in_weeks"],
                      attribution="target")
    spec = ModelSpec(meta["n_regions"], meta["n_media"], meta["n_controls"], cfg)
    params = params_from_torch(sd, spec)
    x = ModelInputs(media=jnp.asarray(d["in/Xm"]), controls=jnp.asarray(d["in/Xc"]),
                    seasonal=jnp.asarray(d["in/S_eff"]), region=jnp.asarray(d["in/R"]),
                    time=jnp.zeros(d["in/Xm"].shape[1]))
    return d, meta, spec, params, x


@pytest.fixture(params=["triangular", "notears"])
def case(request):
    return (request.param, *load(request.param))


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL)


def test_forward_matches_original(case):
    mode, d, meta, spec, params, x = case
    out = jax.jit(apply, static_argnums=2)(params, x, spec)
    s = out.scale
    close(out.prediction, d["out/y_hat"])
    close(s, d["out/prediction_scale"][0])
    close(out.media / s, d["out/contributions"])
    close(out.controls / s, d["out/control_contributions"])
    close(out.baseline / s, d["out/baseline"])
    close(out.seasonality / s, d["out/seasonal_contribution"])
    close(out.trend, d["out/trend_contribution"])
    close(out.media_coef, d["out/coefficients"])
    close(out.control_coef, d["out/control_coefficients"])
    close(out.adstocked, d["out/media_adstock"])
    close(out.saturated, d["out/media_hill"])
    close(out.interacted, d["out/media_dag"])
    close(out.prediction / s, d["out/raw_prediction"])


def test_dag_quantities_match_original(case):
    mode, d, meta, spec, params, x = case
    mask = dag_lib.dag_mask(spec.n_channels, mode)
    w = dag_lib.adjacency(params["dag_logits"], mask, spec.config.dag_temperature)
    close(w, d["dag/W"])
    close(dag_lib.h_acyclicity(w), d["dag/h"])
    nt = None
    if mode == "notears":
        nt = dag_lib.notears_init(rho=2.0, alpha=0.5, active=True)
        inactive = dag_lib.notears_init(rho=2.0, alpha=0.5, active=False)
        close(dag_lib.dag_loss(params["dag_logits"], mask, 0.5, mode, inactive,
                               meta["notears_lambda1"], meta["notears_group_l1"]), d["dag/loss_inactive"])
        # two dual updates in a row (factor 3), as the original's notears_update_duals
        nt1, h1 = dag_lib.notears_update(nt, w, 3.0, meta["notears_rho_max"])
        close(h1, d["dag/dual1_h"]); close(nt1.rho, d["dag/dual1_rho"]); close(nt1.alpha, d["dag/dual1_alpha"])
        nt2, h2 = dag_lib.notears_update(nt1, w, 3.0, meta["notears_rho_max"])
        close(h2, d["dag/dual2_h"]); close(nt2.rho, d["dag/dual2_rho"]); close(nt2.alpha, d["dag/dual2_alpha"])
    loss = dag_lib.dag_loss(params["dag_logits"], mask, spec.config.dag_temperature, mode, nt,
                            meta.get("notears_lambda1", 0.005), meta.get("notears_group_l1", 0.01))
    close(loss, d["dag/loss"])
