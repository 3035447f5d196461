#!/usr/bin/env bash
# Quick benchmark run on any GPU machine: scaling, ensemble and flops with GPU presets, < 5 min.
# Needs a JAX with CUDA in the python used (e.g. pip install -c constraints.txt -e . "jax[cuda12]").
#
#   bash benchmarks/gpu.sh                      # JSON in benchmarks/results/gpu/
#   PYTHON=/path/to/python bash benchmarks/gpu.sh --out-dir /tmp/gpu-results
#
# Extra arguments go to benchmarks/run_all.py (--only, --budget, --allow-cpu, --out-dir).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
# allocate on demand, so the device memory statistics show what each program uses
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"
exec "$PY" benchmarks/run_all.py --device gpu "$@"
