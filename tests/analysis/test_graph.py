"""DAG report: shapes, thresholding, graph degrees, CSV export, dag_mode off, ensembles."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from causalmmm_jax.analysis.graph import dag_report, write_dag_csv
from causalmmm_jax.model.mmm import transform_params


def test_report_shapes_and_values(fitted):
    rep = dag_report(fitted)
    names = list(fitted.panel.channels)
    c = len(names)
    adj = rep["adjacency"]
    assert adj.shape == (c, c) and list(adj.index) == names and list(adj.columns) == names
    w = np.asarray(transform_params(fitted.member(0), fitted.spec)["W"], np.float64)
    np.testing.assert_allclose(adj.to_numpy(), w, rtol=1e-6)  # triangular: zero diagonal already
    assert np.all(np.tril(adj.to_numpy()) == 0)  # strictly upper-triangular in triangular mode
    assert rep["threshold"] == fitted.config.analysis.dag_threshold
    assert rep["is_dag"] and rep["dag_mode"] == "triangular" and rep["adjacency_std"] is None
    assert rep["mix"].between(0, 1).all()


@pytest.mark.parametrize("thr", [0.0, 0.05, 0.5, 1.0])
def test_thresholding(fitted, thr):
    rep = dag_report(fitted, threshold=thr)
    adj, pruned = rep["adjacency"].to_numpy(), rep["thresholded"].to_numpy()
    keep = np.abs(adj) >= thr
    np.testing.assert_array_equal(pruned, np.where(keep, adj, 0.0))
    edges = rep["edges"]
    assert list(edges.columns) == ["source", "target", "weight"]
    assert len(edges) == int(np.count_nonzero(pruned))
    assert edges["weight"].abs().is_monotonic_decreasing
    g = rep["graph"]
    assert isinstance(g, nx.DiGraph) and g.number_of_nodes() == adj.shape[0]
    assert g.number_of_edges() == len(edges)
    deg = rep["degrees"].set_index("channel")
    assert deg["out_degree"].sum() == deg["in_degree"].sum() == len(edges)
    np.testing.assert_allclose(deg["weighted_out"], pruned.sum(axis=1))
    np.testing.assert_allclose(deg["weighted_in"], pruned.sum(axis=0))
    if thr == 0.0:
        assert len(edges) == adj.shape[0] * (adj.shape[0] - 1) // 2  # every allowed edge
    if thr == 1.0:
        assert edges.empty


def test_write_csv(fitted, tmp_path):
    rep = dag_report(fitted, threshold=0.05)
    paths = write_dag_csv(rep, tmp_path / "dag")
    assert sorted(p.name for p in paths) == ["dag_adjacency.csv", "dag_adjacency_thresholded.csv",
                                             "dag_degrees.csv", "dag_edges.csv"]
    back = pd.read_csv(tmp_path / "dag" / "dag_adjacency.csv", index_col=0)
    np.testing.assert_allclose(back.to_numpy(), rep["adjacency"].to_numpy(), rtol=1e-9)
    assert list(back.columns) == list(fitted.panel.channels)
    edges = pd.read_csv(tmp_path / "dag" / "dag_edges.csv")
    assert len(edges) == len(rep["edges"])


def test_ensemble_and_off(fitted, ensemble):
    rep = dag_report(ensemble)
    assert rep["adjacency_std"] is not None and rep["adjacency"].shape == (5, 5)
    off_cfg = dataclasses.replace(fitted.spec.config, dag_mode="off")
    off = dataclasses.replace(fitted, spec=dataclasses.replace(fitted.spec, config=off_cfg))
    rep = dag_report(off)
    assert (rep["adjacency"].to_numpy() == 0).all() and rep["edges"].empty and rep["dag_mode"] == "off"
