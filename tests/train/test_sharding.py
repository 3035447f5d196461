"""Region-sharded fits: padding with masked regions changes nothing, and fits, ensembles and the
analyses on 4 (forced host) devices equal the same on one device."""

import dataclasses
import json
import textwrap

import jax
import numpy as np
import pytest
from train_config import small_config

from causalmmm_jax.errors import ConfigError
from causalmmm_jax.model.groups import is_regional
from causalmmm_jax.train.fit import initial_params, prepare_data
from causalmmm_jax.train.objective import objective
from causalmmm_jax.train.sharding import default_mesh_shape, layout_for, pad_data, pad_regions, unpad_regions


def test_default_mesh_shape_gives_members_what_divides():
    assert default_mesh_shape(4, 1) == (1, 4)  # one model: every device on the regions
    assert default_mesh_shape(4, 8) == (4, 1)  # members need no communication
    assert default_mesh_shape(4, 2) == (2, 2)
    assert default_mesh_shape(4, 3) == (1, 4)
    assert default_mesh_shape(1, 5) == (1, 1)


def test_one_device_has_no_layout_and_too_many_devices_are_refused():
    assert layout_for(None, 1, 5) is None and layout_for(1, 2, 5) is None
    with pytest.raises(ConfigError, match="JAX sees 1 device"):
        layout_for(len(jax.devices()) + 1, 1, 5)
    with pytest.raises(ConfigError, match="JAX sees 1 device"):  # a mesh shape alone asks for its devices
        layout_for(None, 2, 5, mesh_shape=(2, 2))


def test_padded_regions_add_nothing_to_the_loss_or_its_gradient(small_panel):
    """Three masked padding regions (zero inputs and weights, per-region parameters at 0): the same
    loss, the same gradient for every shared parameter, the real regions' gradients unchanged and
    zero gradient on the padding; with dropout on (its mask of the real regions is unchanged) and
    with the regularisers over every parameter."""
    cfg = small_config(regularize_transforms=True)
    *_, spec, data = prepare_data(small_panel, cfg)
    params, data = initial_params([jax.random.PRNGKey(0)], spec, data, cfg)
    params = params[0]
    r = spec.n_regions
    spec_p = dataclasses.replace(spec, n_regions=r + 3)
    data_p, params_p = pad_data(data, r + 3), pad_regions(params, r + 3)
    assert np.asarray(data_p.fit_w)[r:].sum() == 0 and np.asarray(data_p.inputs.region).tolist() == list(range(r + 3))
    key = jax.random.PRNGKey(7)
    grad = jax.jit(jax.value_and_grad(lambda p, d, s: objective(p, d, s, cfg.train, None, key)[0]),
                   static_argnums=2)
    loss, g = grad(params, data, spec)
    loss_p, g_p = grad(params_p, data_p, spec_p)
    np.testing.assert_allclose(float(loss_p), float(loss), rtol=1e-6)
    flat, flat_p = jax.tree_util.tree_leaves_with_path(g), jax.tree_util.tree_leaves_with_path(g_p)
    for (path, a), (_, b) in zip(flat, flat_p):
        b = np.asarray(b)
        if is_regional(path):
            assert np.all(b[r:] == 0), path
            b = b[:r]
        np.testing.assert_allclose(b, np.asarray(a), rtol=2e-5, atol=1e-7, err_msg=jax.tree_util.keystr(path))
    back = unpad_regions(params_p, r)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in
               zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(params)))


SCRIPT = textwrap.dedent("""
    import json, os, sys, numpy as np, jax
    sys.path.insert(0, {tests})
    from train_config import small_config
    from causalmmm_jax._cache import enable_compilation_cache
    from causalmmm_jax.data.synthetic import generate
    from causalmmm_jax.train.fit import fit
    from causalmmm_jax.train.sharding import use_devices
    from causalmmm_jax.analysis.curves import response_curves
    from causalmmm_jax.analysis.budget import optimize_budget
    from causalmmm_jax.predict import predict
    enable_compilation_cache(os.environ["CAUSALMMM_CACHE_DIR"])
    assert len(jax.devices()) == 4, jax.devices()
    panel = generate(1, n_regions=5, n_weeks=70, n_channels=3, n_controls=1).panel()  # 5 regions: 3 padded
    cfg = small_config(epochs=20)

    def rel(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return float(np.max(np.abs(a - b)) / max(np.mean(np.abs(b)), 1e-12))

    def param_diff(a, b):
        return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)) / np.maximum(1.0, np.abs(np.asarray(y)))))
                   for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params)))

    out = {}
    one, four = fit(panel, cfg), fit(panel, cfg, devices=4)
    out["single"] = dict(params=param_diff(four, one), pred=rel(four.decompose().prediction, one.decompose().prediction),
                         rmse=rel(four.metrics["holdout"]["rmse"], one.metrics["holdout"]["rmse"]),
                         layout=[four.timing[k] for k in ("member_shards", "region_shards", "padded_regions")],
                         epochs=[four.epochs_run, one.epochs_run])
    cfg_e = small_config(epochs=20, static_epochs=0)  # (the single fits ran the pre-fit sharded)
    e1, e4 = fit(panel, cfg_e, seeds=2), fit(panel, cfg_e, seeds=2, devices=4)
    out["ensemble"] = dict(params=param_diff(e4, e1), pred=rel(e4.decompose().prediction, e1.decompose().prediction),
                           layout=[e4.timing[k] for k in ("member_shards", "region_shards", "padded_regions")])
    # the analyses inside use_devices: the model's programs split the regions over the 4 devices
    plain = (predict(one, panel), response_curves(one), optimize_budget(one, on="model"))
    with use_devices(4):
        sharded = (predict(one, panel), response_curves(one), optimize_budget(one, on="model"))
        from causalmmm_jax.model.mmm import apply
        hlo = jax.jit(lambda p, x: apply(p, x, one.spec).prediction).lower(one.member(0), one.prepared().inputs).as_text()
    out["analysis"] = dict(predict=rel(sharded[0]["prediction"], plain[0]["prediction"]),
                           curves=rel(sharded[1]["kpi"], plain[1]["kpi"]),
                           budget=rel(list(sharded[2].allocation.values()), list(plain[2].allocation.values())),
                           budget_kpi=rel(sharded[2].predicted_response, plain[2].predicted_response),
                           partitioned="region" in hlo)
    json.dump(out, open({out_path}, "w"))
""")


@pytest.mark.xdist_group("train-fit")
def test_region_sharded_fits_and_analyses_equal_one_device(tmp_path, run_on_devices):
    """On 4 forced host devices (a subprocess): one model (a 1 x 4 mesh, 5 regions padded to 8)
    and a 2-seed ensemble (2 x 2, one padded region) equal their one-device fits (float32 reduction order: parameters
    to 1e-3 of max(1, |value|), predictions to 1e-4 of their mean size); predictions, response curves
    and the model-route budget under ``use_devices(4)`` equal the same without."""
    out = tmp_path / "out.json"
    run_on_devices(SCRIPT.replace("{out_path}", repr(str(out))), 4, tmp_path)
    res = json.loads(out.read_text())
    single, ens, an = res["single"], res["ensemble"], res["analysis"]
    assert single["layout"] == [1, 4, 3] and ens["layout"] == [2, 2, 1]
    assert single["epochs"][0] == single["epochs"][1]
    assert single["params"] < 1e-3 and ens["params"] < 1e-3, (single, ens)
    assert single["pred"] < 1e-4 and ens["pred"] < 1e-4 and single["rmse"] < 1e-4, (single, ens)
    assert an["predict"] < 1e-5 and an["curves"] < 1e-5, an
    assert an["budget"] < 1e-3 and an["budget_kpi"] < 1e-4 and an["partitioned"], an
