"""The learned channel-interaction graph as tables and a networkx DiGraph.

``W [C,C]`` (``transform_params(params)["W"]``; member mean for ensembles): entry ``W[i, j]`` is
the gate from source channel i (row) to target channel j (column), i.e. column j holds the parents
of j.  The thresholded graph keeps entries ``|W| ≥ threshold`` (default
``analysis.dag_threshold``, the original's 0.3).  This is an interaction layer learned with the
MMM, not an identified causal graph: in ``triangular`` mode the order is the data's column order.
"""

from __future__ import annotations

import os
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from .._io_util import atomic_write_text
from ..train.result import FitResult

__all__ = ["dag_report", "write_dag_csv"]


def dag_report(result: FitResult, threshold: float | None = None) -> dict:
    """Adjacency tables, edge list, graph and degrees.

    Returns a dict with ``adjacency`` (continuous ``[C,C]`` DataFrame, index = source, columns =
    target, media column names), ``thresholded`` (same, entries below ``threshold`` set to 0),
    ``adjacency_std`` (member std for ensembles, else None), ``mix`` (Series: per target channel,
    the share of its signal taken from its parents), ``edges`` (DataFrame ``source, target,
    weight`` of the thresholded graph, largest first), ``graph`` (``networkx.DiGraph`` of those
    edges with every channel as a node), ``degrees`` (DataFrame ``channel, in_degree, out_degree,
    weighted_in, weighted_out``), ``threshold``, ``is_dag``, ``dag_mode``."""
    cfg = result.spec.config
    thr = float(result.config.analysis.dag_threshold if threshold is None else threshold)
    names = list(result.panel.channels)
    c = len(names)
    if cfg.dag_mode == "off":
        w_all = np.zeros((1, c, c))
        mix_all = np.zeros((1, c))
    else:
        t = result.transforms()  # [N, ...]
        w_all, mix_all = np.asarray(t["W"], np.float64), np.asarray(t["mix"], np.float64)
    w = w_all.mean(axis=0)
    np.fill_diagonal(w, 0.0)
    pruned = np.where(np.abs(w) >= thr, w, 0.0)
    frame = lambda a: pd.DataFrame(a, index=pd.Index(names, name="source"), columns=names)  # noqa: E731
    src, tgt = np.nonzero(pruned)
    edges = pd.DataFrame({"source": [names[i] for i in src], "target": [names[j] for j in tgt],
                          "weight": pruned[src, tgt]})
    edges = edges.sort_values("weight", ascending=False, key=np.abs, ignore_index=True)
    g = nx.DiGraph()
    g.add_nodes_from(names)
    g.add_weighted_edges_from(edges[["source", "target", "weight"]].itertuples(index=False, name=None))
    degrees = pd.DataFrame({
        "channel": names,
        "in_degree": [g.in_degree(n) for n in names], "out_degree": [g.out_degree(n) for n in names],
        "weighted_in": [g.in_degree(n, weight="weight") for n in names],
        "weighted_out": [g.out_degree(n, weight="weight") for n in names]})
    return {"adjacency": frame(w), "thresholded": frame(pruned),
            "adjacency_std": frame(w_all.std(axis=0)) if w_all.shape[0] > 1 else None,
            "mix": pd.Series(mix_all.mean(axis=0), index=names, name="mix"),
            "edges": edges, "graph": g, "degrees": degrees, "threshold": thr,
            "is_dag": bool(nx.is_directed_acyclic_graph(g)), "dag_mode": cfg.dag_mode}


def write_dag_csv(report: dict, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``dag_adjacency.csv`` (continuous), ``dag_adjacency_thresholded.csv``, ``dag_edges.csv``
    and ``dag_degrees.csv`` to ``out_dir`` atomically; returns the paths."""
    out = Path(out_dir)
    files = {"dag_adjacency.csv": report["adjacency"].to_csv(float_format="%.10g"),
             "dag_adjacency_thresholded.csv": report["thresholded"].to_csv(float_format="%.10g"),
             "dag_edges.csv": report["edges"].to_csv(index=False, float_format="%.10g"),
             "dag_degrees.csv": report["degrees"].to_csv(index=False, float_format="%.10g")}
    return [atomic_write_text(out / name, text) for name, text in files.items()]
