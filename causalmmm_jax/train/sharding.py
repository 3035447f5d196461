"""Fits spread over devices: a 2-D ``("member", "region")`` mesh, region padding, placement, gathering.

A fit on D devices (``fit(..., devices=D)``) lays its devices out as a mesh of ``member_shards ×
region_shards``: ensemble members (seeds, sweep points) split over the first axis, the panel's
regions over the second.  By default members take as many devices as divide both counts (members
need no communication); the regions take the rest, so one model on 4 devices is a ``1 × 4`` mesh
and 8 seeds on 4 devices ``4 × 1``.

Region sharding is data parallelism over regions: the training inputs, masks and target, and the
per-region parameters (region baselines, seasonal offsets, and their optimiser moments), are split
over the ``"region"`` axis; every shared parameter is replicated; the compiler
(``jax.sharding.NamedSharding`` and XLA's partitioner, with :func:`~causalmmm_jax.model.sharding.constrain_regions`
inside the model) runs each device's regions and reduces the shared gradients across devices.
When the region count does not divide the region shards, the panel is padded with masked regions:
zero inputs and weights, per-region parameters at 0; they add nothing to the loss, its gradient or
the priors, and are removed again from everything a fit returns.

The same code runs multi-process (``jax.distributed``): the mesh then spans every process's
devices, host values are identical on all processes, each process places only its own shards, and
:func:`gather` brings sharded values back to every host (see :mod:`.distributed`).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..errors import ConfigError
from ..model.groups import is_regional
from ..model.sharding import MEMBER_AXIS, REGION_AXIS

__all__ = ["Layout", "make_mesh", "default_mesh_shape", "layout_for", "pad_data", "pad_regions", "unpad_regions",
           "place_state", "place_data", "gather", "to_host", "broadcast_from_first", "use_devices", "MEMBER_AXIS",
           "REGION_AXIS"]

Devices = int | Sequence[Any] | Mesh | None

#: fields of :class:`~.objective.TrainData` (and its inputs and lift rows) whose axis 0 is the region
_REGION_FIELDS = {"media", "controls", "seasonal", "region", "target", "fit_w", "val_w", "observed", "target_mean",
                  "region_w"}


@dataclass(frozen=True)
class Layout:
    """Where a fit runs: ``mesh`` (axes ``"member"``, ``"region"``) and the panel's real region count
    ``n_regions``; ``n_padded`` is that count rounded up to a multiple of the region shards."""

    mesh: Mesh
    n_regions: int

    @property
    def member_shards(self) -> int:
        return int(self.mesh.shape[MEMBER_AXIS])

    @property
    def region_shards(self) -> int:
        return int(self.mesh.shape[REGION_AXIS])

    @property
    def n_padded(self) -> int:
        return -(-self.n_regions // self.region_shards) * self.region_shards

    def describe(self) -> dict:
        """The layout as plain numbers (for ``timing`` / metrics.json)."""
        return {"devices": int(self.mesh.devices.size), "member_shards": self.member_shards,
                "region_shards": self.region_shards, "padded_regions": self.n_padded - self.n_regions,
                "processes": int(jax.process_count())}


def _device_list(devices: int | Sequence[Any] | None) -> list:
    everything = jax.devices()
    if devices is None:
        return list(everything)
    if isinstance(devices, (int, np.integer)):
        if devices < 1:
            raise ConfigError(f"devices must be a positive number, got {devices}")
        if devices > len(everything):
            raise ConfigError(f"--devices {devices} asked for, but JAX sees {len(everything)} device(s). On a CPU, "
                              f"XLA_FLAGS=--xla_force_host_platform_device_count={devices} gives that many host "
                              "devices (set before JAX starts).")
        return list(everything[: int(devices)])
    return list(devices)


def make_mesh(devices: int | Sequence[Any] | None = None, *, member_shards: int = 1) -> Mesh:
    """A ``("member", "region")`` mesh over ``devices`` (a count of the first global devices, a list
    of devices, or None for all): ``member_shards`` rows, the rest of the devices on the region axis."""
    devs = _device_list(devices)
    if member_shards < 1 or len(devs) % member_shards:
        raise ConfigError(f"member_shards={member_shards} must divide the device count {len(devs)}")
    return Mesh(np.array(devs, dtype=object).reshape(member_shards, len(devs) // member_shards),
                (MEMBER_AXIS, REGION_AXIS))


def default_mesh_shape(n_devices: int, n_members: int) -> tuple[int, int]:
    """``(member_shards, region_shards)``: members take the most devices that divide both counts
    (members need no communication), the regions the rest."""
    m = math.gcd(n_devices, n_members)
    return m, n_devices // m


def layout_for(devices: Devices, n_members: int, n_regions: int, *,
               mesh_shape: tuple[int, int] | None = None) -> Layout | None:
    """The layout of a fit of ``n_members`` members on ``n_regions`` regions over ``devices``: None
    for one device (nothing to lay out).  ``devices``: a count, a list of devices, a ready
    ``("member", "region")`` mesh, or None (every device when JAX runs multi-process, else none).
    ``mesh_shape``: ``(member_shards, region_shards)`` instead of the default split (members take
    the largest device count dividing both the devices and the members)."""
    if isinstance(devices, Mesh):
        if tuple(devices.axis_names) != (MEMBER_AXIS, REGION_AXIS):
            raise ConfigError(f"a mesh for fit needs the axes ('member', 'region'), got {devices.axis_names}")
        mesh = devices
    else:
        if devices is None and mesh_shape is not None:
            devices = int(mesh_shape[0]) * int(mesh_shape[1])
        if devices is None and jax.process_count() == 1:
            return None
        devs = _device_list(devices)
        missing = set(range(jax.process_count())) - {d.process_index for d in devs}
        if missing:
            raise ConfigError(f"under jax.distributed every process needs devices in the mesh, but process(es) "
                              f"{sorted(missing)} have none among the {len(devs)} chosen; leave --devices out "
                              "(every global device) or give a count that covers every process.")
        if len(devs) == 1 and mesh_shape is None:
            return None
        if mesh_shape is not None:
            m, r = (int(v) for v in mesh_shape)
            if m * r != len(devs) or m < 1 or r < 1:
                raise ConfigError(f"mesh_shape {tuple(mesh_shape)} must multiply to the device count {len(devs)}")
        else:
            m, _ = default_mesh_shape(len(devs), n_members)
        mesh = make_mesh(devs, member_shards=m)
    layout = Layout(mesh, n_regions)
    if n_members % layout.member_shards:
        raise ConfigError(f"the ensemble size ({n_members}) must be a multiple of the member shards "
                          f"({layout.member_shards}); choose mesh_shape so that it is")
    return layout


# --- padding -------------------------------------------------------------------------------------

def _pad_axis(a, n: int, axis: int):
    extra = n - a.shape[axis]
    if extra < 0:
        raise ValueError(f"cannot pad an axis of {a.shape[axis]} to {n}")
    if extra == 0:
        return a
    widths = [(0, 0)] * a.ndim
    widths[axis] = (0, extra)
    return np.pad(np.asarray(a), widths)


def _key(k) -> str:
    return str(getattr(k, "key", getattr(k, "name", k)))


def _data_axis(path) -> int | None:
    """Region axis of a :class:`TrainData` leaf, None when it has none."""
    names = [_key(k) for k in path]
    if not names or names[-1] not in _REGION_FIELDS:
        return None
    return 1 if names[-2:] == ["lift", "region"] else 0


def pad_data(data, n_padded: int):
    """``data`` (a :class:`~.objective.TrainData`) with ``n_padded`` regions: the added regions have
    zero inputs, target and weights (masked: they never enter the loss), region indices continuing
    the real ones, and ``region_w`` 0 (their per-region parameters stay out of the regularisers)."""
    def pad(path, a):
        axis = _data_axis(path)
        if axis is None or a.shape[axis] == n_padded:
            return a
        if [_key(k) for k in path][-2:] == ["inputs", "region"]:
            return np.arange(n_padded, dtype=np.asarray(a).dtype)
        return _pad_axis(a, n_padded, axis)

    n_real = int(np.shape(data.target)[0])
    if n_real == n_padded:
        return data
    region_w = np.zeros(n_padded, np.float32)
    region_w[:n_real] = 1.0
    return jax.tree_util.tree_map_with_path(pad, data).replace(region_w=region_w)


def pad_regions(tree, n_padded: int, *, batched: bool = False):
    """Per-region parameter leaves of ``tree`` (params, or a train state: their optimiser moments
    too) padded with zeros to ``n_padded`` regions (axis 1 when ``batched``: a member axis first)."""
    axis = 1 if batched else 0
    return jax.tree_util.tree_map_with_path(
        lambda p, a: _pad_axis(to_host(a), n_padded, axis) if is_regional(p) else a, tree)


def unpad_regions(tree, n_regions: int, *, batched: bool = False):
    """The inverse of :func:`pad_regions`: per-region leaves cut back to the real ``n_regions``."""
    axis = 1 if batched else 0
    sl = (slice(None),) * axis + (slice(0, n_regions),)
    return jax.tree_util.tree_map_with_path(lambda p, a: a[sl] if is_regional(p) else a, tree)


# --- placement -----------------------------------------------------------------------------------

def to_host(a):
    """A host numpy array of ``a`` (every process gets the whole value of a sharded global array)."""
    if isinstance(a, jax.Array):
        if a.is_fully_addressable:
            return np.asarray(a)
        if a.is_fully_replicated:
            return np.asarray(a.addressable_data(0))
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(a, tiled=True))
    return a if isinstance(a, np.ndarray) else np.asarray(a)


def broadcast_from_first(tree):
    """``tree`` as process 0 has it, on every process (a collective under ``jax.distributed``; the
    identity in one process): values every process computed for itself (the data-driven start, the
    prepared data) are made bit-identical before they are placed as replicas."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    return multihost_utils.broadcast_one_to_all(tree)


def gather(tree):
    """Every leaf of ``tree`` as a host numpy array (a collective when leaves span processes)."""
    return jax.tree_util.tree_map(to_host, tree)


def _put(a, sharding: NamedSharding):
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        if a.sharding.is_equivalent_to(sharding, a.ndim):
            return a
        return jax.jit(lambda x: x, out_shardings=sharding)(a)
    host = to_host(a)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def place_state(tree, layout: Layout, *, batched: bool):
    """Put a (padded) train state or parameter tree on ``layout``'s mesh: the member axis (when
    ``batched``) on ``"member"``, per-region leaves' region axis on ``"region"``, the rest replicated."""
    lead = (MEMBER_AXIS,) if batched else ()

    def put(path, a):
        spec = PartitionSpec(*lead, REGION_AXIS) if is_regional(path) else PartitionSpec(*lead)
        return _put(a, NamedSharding(layout.mesh, spec))

    return jax.tree_util.tree_map_with_path(put, tree)


def place_data(data, layout: Layout):
    """Pad ``data`` (a :class:`~.objective.TrainData`) to the layout's region count and put it on
    the mesh: region axes on ``"region"``, everything else replicated (shared by the members)."""
    data = pad_data(data, layout.n_padded)

    def put(path, a):
        axis = _data_axis(path)
        spec = [None] * np.ndim(a)
        if axis is not None:
            spec[axis] = REGION_AXIS
        return _put(a, NamedSharding(layout.mesh, PartitionSpec(*spec)))

    return jax.tree_util.tree_map_with_path(put, data)


@contextlib.contextmanager
def use_devices(devices: Devices) -> Iterator[Mesh | None]:
    """Run the model's programs inside the block with the regions split over ``devices`` (a count,
    a device list or a ``("member", "region")`` mesh; None or 1: no change)::

        with causalmmm_jax.use_devices(4):
            contributions, curves = cm.contributions(result), cm.response_curves(result)

    Predictions, contributions, response curves and the budget optimiser's model route run each
    device's regions on that device (the compiler pads a region count that does not divide)."""
    if devices is None or (isinstance(devices, (int, np.integer)) and devices == 1):
        yield None
        return
    mesh = devices if isinstance(devices, Mesh) else make_mesh(devices)
    with jax.set_mesh(mesh):
        yield mesh

