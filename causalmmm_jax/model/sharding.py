"""Region sharding inside the model's programs: the mesh axis names and the constraint that splits
the region axis of the model's arrays across devices.

:func:`constrain_regions` reads the mesh of the surrounding ``jax.set_mesh`` context while a
program is traced (``jax.sharding.get_abstract_mesh``).  Outside such a context, or when the mesh's
``"region"`` axis has one device, it returns its argument unchanged, so single-device programs are
exactly what they were.  Inside one, it pins the leading (region) axis to the ``"region"`` mesh
axis; XLA's partitioner then runs each region block of the GRU, the heads and the loss on its own
device and reduces the shared parameters' gradients across devices.  A region count that does not
divide the device count is padded by the partitioner (training pads explicitly, with masked regions:
:mod:`causalmmm_jax.train.sharding`).  The programs ``jit`` caches are keyed on the context mesh,
so the same function traced with and without a mesh gives two programs.
"""

from __future__ import annotations

import jax
from jax.sharding import PartitionSpec

__all__ = ["MEMBER_AXIS", "REGION_AXIS", "region_shards", "constrain_regions"]

#: mesh axis of ensemble members (the leading axis of stacked train states)
MEMBER_AXIS = "member"
#: mesh axis of the panel's regions
REGION_AXIS = "region"


def region_shards() -> int:
    """Devices on the ``"region"`` axis of the mesh being traced under (1 without one)."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or REGION_AXIS not in mesh.axis_names:
        return 1
    return int(dict(zip(mesh.axis_names, mesh.axis_sizes))[REGION_AXIS])


def constrain_regions(x, axis: int = 0):
    """``x`` with its ``axis`` (the region axis) sharded over the mesh's ``"region"`` axis, the other
    axes left to the partitioner; a no-op without a region mesh (see the module docstring)."""
    if region_shards() <= 1:
        return x
    spec: list = [PartitionSpec.UNCONSTRAINED] * x.ndim
    spec[axis] = REGION_AXIS
    return jax.lax.with_sharding_constraint(x, PartitionSpec(*spec))
