"""Map a DeepCausalMMM 1.0.21 ``state_dict`` (as NumPy arrays) to our parameter tree.

Used by the parity tests (fixtures in ``tests/fixtures``) and by anyone moving a trained
original model over.  Torch ``Linear`` weights are ``[out, in]`` (ours ``[in, out]``); the GRU's
r/z biases are merged (``b_i = b_ih + b_hh`` for r and z) while ``b_hn`` stays separate because
PyTorch applies it inside ``r ⊙ (W_hn h + b_hn)``.  Dead parameters and buffers of the original
(``coeff_range_raw``, momentum buffers, trend buffers, ...) are ignored.  The model must use
``parameterization="clamped"`` and ``hill_a_range=(2, 5)`` to reproduce the original's forward.
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
import numpy as np

from .mmm import ModelSpec

__all__ = ["params_from_torch"]


def params_from_torch(sd: Mapping[str, np.ndarray], spec: ModelSpec) -> dict:
    """``sd``: state_dict name → array.  Returns a params tree for :func:`causalmmm_jax.model.apply`."""
    f = lambda k: jnp.asarray(np.asarray(sd[k], dtype=np.float32))  # noqa: E731
    scalar = lambda k: f(k).reshape(())  # noqa: E731
    h = spec.config.hidden_dim
    b_hh = f("gru.bias_hh_l0")
    b_i = f("gru.bias_ih_l0") + jnp.concatenate([b_hh[: 2 * h], jnp.zeros(h)])

    def head(prefix: str) -> dict:
        return {f"dense_{i}": {"kernel": f(f"{prefix}.{j}.weight").T, "bias": f(f"{prefix}.{j}.bias")}
                for i, j in enumerate((0, 2, 4))}

    p = {
        "adstock_raw": f("alpha"),
        "hill_a_raw": f("hill_a"),
        "hill_g_raw": f("hill_g"),
        "gru": {"w_i": f("gru.weight_ih_l0").T, "b_i": b_i, "w_h": f("gru.weight_hh_l0").T,
                "b_hn": b_hh[2 * h:], "h0": f("h0").reshape(h)},
        "coeff_head": head("coeff_gen"),
        "media_coeff_max_raw": f("media_coeff_max_raw"),
        "stable_media_coeff": f("stable_media_coeff"),
        "region_baseline": f("region_baseline"),
        "global_bias": scalar("global_bias"),
        "prediction_scale": scalar("prediction_scale"),
        "seasonal_coeff": scalar("seasonal_coeff"),
    }
    if spec.config.dag_mode != "off":
        p["dag_logits"] = f("adj_logits")
        p["dag_mix_raw"] = f("interaction_weight")
    if spec.n_controls:
        p["ctrl_mlp"] = {"dense": {"kernel": f("ctrl_mlp.0.weight").T, "bias": f("ctrl_mlp.0.bias")}}
        p["ctrl_coeff_head"] = head("ctrl_coeff_gen")
        p["ctrl_coeff_max_raw"] = f("ctrl_coeff_max_raw")
        p["stable_ctrl_coeff"] = f("stable_ctrl_coeff")
    return p
