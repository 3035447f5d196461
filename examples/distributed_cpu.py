"""Two JAX processes on one CPU machine with ``jax.distributed`` (a rehearsal of multi-host).

Each process sees its own CPU device plus the other's (2 global devices); a ``jit``-ed sum over an
array sharded across both processes checks the cross-process collective.

    .venv/bin/python examples/distributed_cpu.py            # starts both processes itself
"""

import os
import socket
import subprocess
import sys


def worker(pid: int, port: int) -> None:
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid)
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(jax.devices()), ("member",))
    local = np.full((1, 4), float(pid + 1), np.float32)  # this process's member
    x = jax.make_array_from_process_local_data(NamedSharding(mesh, PartitionSpec("member")), local)
    total = jax.jit(lambda a: a.sum())(x)
    print(f"process {pid}: {jax.process_count()} processes, {len(jax.devices())} global devices, "
          f"global sum {float(total)} (expected 12.0)", flush=True)
    jax.distributed.shutdown()


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, __file__, str(i), str(port)], env=dict(os.environ, JAX_PLATFORMS="cpu"))
             for i in range(2)]
    codes = [p.wait(timeout=300) for p in procs]
    return max(codes)


if __name__ == "__main__":
    if len(sys.argv) == 3:
        worker(int(sys.argv[1]), int(sys.argv[2]))
    else:
        sys.exit(main())
