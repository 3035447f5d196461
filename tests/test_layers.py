"""The package's dependencies point one way: data → model → train → (modelfile, predict) → analysis
→ run → report → api → cli, and no module imports, even lazily inside a function, one that imports
it back.  Read from the source (every ``import`` statement, at any depth), not from a live import."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1] / "causalmmm_jax"

#: the layers, lowest first; a module may import its own layer and the layers below it
LAYERS = [("errors", "_version", "_cache", "_io_util", "_memory", "_hardware", "_config_fields", "config"), ("data",), ("model",), ("train",),
          ("modelfile", "predict"), ("analysis",), ("run",), ("report",), ("api",), ("cli",), ("",)]


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def import_graph() -> nx.DiGraph:
    mods = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in mods]
                found = subs + ([target] if len(subs) < len(node.names) else [])
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            else:
                continue
            g.add_edges_from((name, t) for t in found if t in mods and t != name)
    return g


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return next(i for i, names in enumerate(LAYERS) if top in names)


def test_the_graph_sees_the_package():
    g = import_graph()
    assert g.has_edge("causalmmm_jax.train.fit", "causalmmm_jax.train.phases")
    assert g.has_edge("causalmmm_jax.cli.product", "causalmmm_jax.run")  # a lazy import inside a function
    assert all(_layer(m) is not None for m in g.nodes)


def test_no_import_cycles():
    cycles = [c for c in nx.simple_cycles(import_graph()) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_dependencies_point_one_way():
    backward = [(a, b) for a, b in import_graph().edges if _layer(a) < _layer(b)]
    assert not backward, "a lower layer imports a higher one: " + ", ".join(f"{a} -> {b}" for a, b in backward)
