"""Ensembles: N seeds (or hyper-parameter settings) trained in one compiled program.

The train state of N members is one pytree with a leading member axis; ``jax.vmap`` maps the
chunk function over it, and :func:`place_on_devices` shards that axis over devices
(``jax.sharding.NamedSharding`` on a 1-D mesh named ``"member"``).  On one CPU, a multi-device
host for tests: ``XLA_FLAGS=--xla_force_host_platform_device_count=4``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..model.mmm import ModelSpec
from .loop import make_chunk

__all__ = ["stack_trees", "unstack_tree", "batched_runner", "place_on_devices", "member_mesh"]


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


def member_mesh(devices: int | None = None) -> Mesh:
    devs = jax.devices()[: devices or len(jax.devices())]
    return Mesh(np.array(devs), ("member",))


def place_on_devices(tree, devices: int | None):
    """Shard the leading member axis of ``tree`` over ``devices`` devices (no-op for None or 1)."""
    if not devices or devices <= 1:
        return tree
    n_members = jax.tree_util.tree_leaves(tree)[0].shape[0]
    if devices > len(jax.devices()):
        from ..errors import ConfigError

        raise ConfigError(f"--devices {devices} asked for, but JAX sees {len(jax.devices())} device(s).")
    if n_members % devices:
        from ..errors import ConfigError

        raise ConfigError(f"the ensemble size ({n_members}) must be a multiple of the device count ({devices}).")
    sharding = NamedSharding(member_mesh(devices), PartitionSpec("member"))
    return jax.device_put(tree, sharding)
