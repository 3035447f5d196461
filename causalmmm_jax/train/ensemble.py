"""Ensembles: N seeds (or hyper-parameter settings) trained in one compiled program.

The train state of N members is one pytree with a leading member axis; ``jax.vmap`` maps the
chunk function over it; :mod:`.sharding` places that axis (and the regions) on a device mesh.
On one CPU, a multi-device host for tests: ``XLA_FLAGS=--xla_force_host_platform_device_count=4``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ..model.mmm import ModelSpec
from .loop import make_chunk

__all__ = ["stack_trees", "unstack_tree", "batched_runner"]


def stack_trees(trees: list):
    """List of identical-structure pytrees → one pytree with a leading member axis."""
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *trees)


def unstack_tree(tree, n: int) -> list:
    """One pytree per member of ``tree``'s leading axis (size ``n``)."""
    return [jax.tree_util.tree_map(lambda a, i=i: a[i], tree) for i in range(n)]


@functools.lru_cache(maxsize=32)
def batched_runner(spec: ModelSpec, *, length: int, batched: bool, optimizer=None):
    """A jitted ``(state, data) -> (state, metrics)`` running ``length`` epochs; vmapped over the
    member axis if ``batched``; ``optimizer``: a user ``optax`` transformation (None: the built-in
    one of the phase kind).

    Keyed on structure only (the model spec, the chunk length, batching, the optimiser object; jit
    adds the states' tree structure): hyper-parameters are in the state, so fits that differ in seed, epochs,
    learning rate or loss weights reuse one compiled program, and so do the warm start and the
    main phase.  Members of a batched state may carry different hyper-parameters (a sweep)."""
    chunk = make_chunk(spec, length=length, optimizer=optimizer)
    return jax.jit(jax.vmap(chunk, in_axes=(0, None)) if batched else chunk)
