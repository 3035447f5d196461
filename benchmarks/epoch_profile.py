#!/usr/bin/env python
"""Where one main-phase epoch's time goes, stage by stage, in the program ``fit`` runs.

The main phase's compiled chunk (example CSV, default configuration, hidden 280; ``--model``
overrides such as ``matmul_dtype=bfloat16``) runs one untimed chunk, then one chunk of
``--epochs`` epochs under ``jax.profiler``.  Every operation the trace records is an instruction
of the optimised program, and XLA keeps the JAX source path of each (``op_name``), so each
operation's time is charged to the stage that asked for it:

* ``gru_forward`` / ``gru_backward``: the GRU (input projection and weekly recurrence) in the
  loss's forward pass / its gradient (``jvp(MMM)/gru``, ``transpose(jvp(MMM))/gru``);
* ``heads_forward`` / ``heads_backward``: the two coefficient heads (3 dense layers over every
  region × week);
* ``control_mlp``: the control features and their dropout, forward and backward;
* ``media_and_decomposition``: adstock, Hill, DAG, baseline, seasonality, trend and the sum,
  forward and backward;
* ``loss_and_priors``: the Huber term, regularisers and priors outside the model;
* ``validation``: the deterministic forward that scores the validation block (every
  ``eval_every`` epochs);
* ``optimizer_and_bookkeeping``: the optimiser update, the non-finite guard, NOTEARS duals, early
  stopping and the epoch loop;
* ``unattributed``: the chunk's wall time when no recorded operation runs (host sync, thread
  hand-offs).

Operations run side by side on the CPU's threads, so their own durations add up to more than the
wall time (``thread_seconds_per_epoch``; ``overlap_seconds_per_epoch``: time with two or more
running).  Each instant is therefore split equally between the operations running then, and the
stages add up to the traced wall time.  Seconds are per epoch (the chunk's totals over
``--epochs``).  The profiler adds a little overhead, so the traced chunk is slightly slower than an
untraced one (both are reported).

``--original run`` then profiles the same number of epochs of the original PyTorch DeepCausalMMM
1.0.21 (``benchmarks/_original_epoch_profile.py`` under ``--parity-python``, torch CPU, 2 threads,
the same CSV and hidden size) after ours, puts its report under ``original`` and prints both
stage tables side by side (its stage ``unseparated``: backward work the original's trace does not
tie to one stage; its docstring says how each stage is recognised there).

    .venv/bin/python benchmarks/epoch_profile.py --out benchmarks/results/epoch_profile.json
    .venv/bin/python benchmarks/epoch_profile.py --model matmul_dtype=bfloat16
    .venv/bin/python benchmarks/epoch_profile.py --original run
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

STAGES = ("gru_forward", "gru_backward", "heads_forward", "heads_backward", "control_mlp", "media_and_decomposition",
          "loss_and_priors", "validation", "optimizer_and_bookkeeping", "unattributed")


def parse_args(argv=None):
    p = C.base_parser("epoch_profile", __doc__.split("\n\n")[0])
    p.add_argument("--csv", type=Path, default=C.DEFAULT_CSV,
                   help="the example CSV (default ../shared/data/mmm_data.csv)")
    p.add_argument("--epochs", type=int, default=10, help="epochs in the traced chunk (default 10)")
    p.add_argument("--hidden", type=int, default=None, help="hidden size (default 280; --quick 8)")
    p.add_argument("--model", action="append", default=[], metavar="KEY=VALUE",
                   help="model config override, e.g. matmul_dtype=bfloat16 (repeatable)")
    p.add_argument("--original", choices=("skip", "run"), default="skip",
                   help="run: profile the original DeepCausalMMM's epoch too, after ours (default skip)")
    p.add_argument("--parity-python", type=Path, default=C.DEFAULT_PARITY_PYTHON,
                   help="python of the venv that holds deepcausalmmm==1.0.21 + torch "
                        "(default /work/parity-venv/bin/python or $CAUSALMMM_PARITY_PYTHON)")
    p.add_argument("--original-timeout", type=float, default=1800.0,
                   help="seconds the original's worker may take (default 1800)")
    return p.parse_args(argv)


def stage_of(op_name: str) -> str:
    """The stage an operation belongs to, from its JAX source path (``op_name`` metadata)."""
    path = op_name.split("jit(chunk)/", 1)[-1]
    backward = "transpose(jvp(" in path
    if "MMM" in path and "jvp(MMM)" not in path:
        return "validation"  # the model outside differentiation: the validation forward
    if "jvp(MMM)" in path:
        inner = path.split("jvp(MMM))/" if backward else "jvp(MMM)/", 1)[-1]
        head = inner.split("/", 1)[0]
        if head == "gru":
            return "gru_backward" if backward else "gru_forward"
        if head in ("coeff_head", "ctrl_coeff_head"):
            return "heads_backward" if backward else "heads_forward"
        if head == "ctrl_mlp":
            return "control_mlp"
        return "media_and_decomposition"
    if "jvp(" in path:
        return "loss_and_priors"
    return "optimizer_and_bookkeeping"


def _op_names(hlo_text: str) -> dict[str, str]:
    names = {}
    for m in re.finditer(r"^\s*(?:ROOT )?%([\w.\-]+) = [^\n]*?op_name=\"([^\"]*)\"", hlo_text, re.M):
        names[m.group(1)] = m.group(2)
    for m in re.finditer(r"^\s*(?:ROOT )?%([\w.\-]+) = ", hlo_text, re.M):  # instructions without a source path
        names.setdefault(m.group(1), "")
    return names


def _leaf_events(events: list[dict]) -> list[dict]:
    """The operations that enclose no other recorded operation on their thread (a loop's or a
    branch's own event spans its body's operations, which are counted instead)."""
    leaves = []
    by_thread = collections.defaultdict(list)
    for e in events:
        by_thread[(e.get("pid"), e.get("tid"))].append(e)
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        for i, e in enumerate(evs):
            end = e["ts"] + e["dur"]
            nxt = evs[i + 1] if i + 1 < len(evs) else None
            if nxt is None or nxt["ts"] >= end:  # sorted by start: only the next event can start inside
                leaves.append(e)
    return leaves


def _time_shares(leaves: list[dict]) -> tuple[dict[int, float], float, float]:
    """Each operation's share of the wall time (µs): every instant is split equally between the
    operations running then, on any thread, so that shares add up to the busy time (operations
    run side by side on the CPU's threads; their own durations add up to more than the wall).
    Also returns the busy time (some operation running) and the time two or more overlap."""
    edges = sorted([(e["ts"], 1, i) for i, e in enumerate(leaves)] + [(e["ts"] + e["dur"], -1, i) for i, e in
                                                                       enumerate(leaves)])
    share: collections.Counter = collections.Counter()
    active: set[int] = set()
    busy = overlap = 0.0
    last = None
    for ts, kind, i in edges:
        if active and last is not None and ts > last:
            dt = ts - last
            for j in active:
                share[j] += dt / len(active)
            busy += dt
            overlap += dt if len(active) > 1 else 0.0
        last = ts
        (active.add if kind == 1 else active.discard)(i)
    return share, busy, overlap


def profile(compiled, states, data, epochs: int) -> dict:
    import jax

    names = _op_names(compiled.as_text())
    with tempfile.TemporaryDirectory() as tmp:
        jax.profiler.start_trace(tmp)
        t0 = time.perf_counter()
        out = compiled(states, data)
        jax.block_until_ready(out)
        wall = time.perf_counter() - t0
        jax.profiler.stop_trace()
        files = glob.glob(f"{tmp}/plugins/profile/*/*.trace.json.gz")
        trace = json.load(gzip.open(files[0])) if files else {"traceEvents": []}
    leaves = _leaf_events([e for e in trace["traceEvents"] if e.get("ph") == "X" and e.get("name") in names])
    share, busy, overlap = _time_shares(leaves)
    per_stage: collections.Counter = collections.Counter()
    per_op: collections.Counter = collections.Counter()
    for i, us in share.items():
        per_stage[stage_of(names[leaves[i]["name"]])] += us * 1e-6
        per_op[leaves[i]["name"]] += us * 1e-6
    per_stage["unattributed"] = max(wall - busy * 1e-6, 0.0)
    stages = {s: per_stage.get(s, 0.0) / epochs for s in STAGES}
    top = [{"op": k, "stage": stage_of(names[k]), "seconds_per_epoch": v / epochs,
            "source": names[k].split("jit(chunk)/", 1)[-1][-160:]} for k, v in per_op.most_common(15)]
    return {"traced_seconds_per_epoch": wall / epochs, "stages": stages,
            "shares": {s: v / (wall / epochs) for s, v in stages.items()},
            "overlap_seconds_per_epoch": overlap * 1e-6 / epochs,
            "thread_seconds_per_epoch": sum(e["dur"] for e in leaves) * 1e-6 / epochs, "top_ops": top}


def run_original(args, hidden: int) -> dict:
    """``_original_epoch_profile.py`` under the parity python, ``--epochs`` epochs, the same CSV and
    hidden size (``--quick``: its tiny sizes); its JSON, or ``{"error": ...}``."""
    if not Path(args.csv).exists():
        return {"error": f"{args.csv} not found: the original's worker reads the example CSV"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "original_epoch_profile.json"
        cmd = [str(args.parity_python), str(C.BENCH_DIR / "_original_epoch_profile.py"), "--csv", str(args.csv),
               "--epochs", str(args.epochs), "--hidden", str(hidden), "--out", str(out)] + (
            ["--quick"] if args.quick else [])
        rep = C.run_worker(cmd, out, args.original_timeout, "original")
    return rep if "error" not in rep else rep | {"command": cmd}


def side_by_side(ours: dict, orig: dict) -> list[dict]:
    """Rows of stage, ours and the original's s/epoch and shares (the original's stages, which add
    ``unseparated``, in its order; a stage one side lacks is None there)."""
    names = list(STAGES) + [s for s in orig.get("stages", {}) if s not in STAGES]
    rows = []
    for s in names:
        a, b = ours["stages"].get(s), orig.get("stages", {}).get(s)
        rows.append({"stage": s, "ours": a, "ours_pct": None if a is None else 100 * ours["shares"][s],
                     "orig": b, "orig_pct": None if b is None else 100 * orig["shares"][s],
                     "ratio": (b / a) if (a and b is not None) else None})
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.original == "run" and not Path(args.parity_python).exists():
        print(f"--original run: the parity python {args.parity_python} does not exist (the original DeepCausalMMM "
              "lives in its own venv, see benchmarks/parity/README.md; or pass --parity-python PATH)",
              file=sys.stderr)
        return 2
    overrides = {}
    for item in args.model:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)  # numbers, true/false, lists
        except json.JSONDecodeError:
            overrides[key] = value  # plain strings: bfloat16, notears, ...
    hidden = args.hidden or (8 if args.quick else 280)
    panel, source = C.data_panel(args.csv, (5, 70) if args.quick else None)
    cfg = C.make_config(hidden=hidden, epochs=1000, model=overrides)
    tr = C.prepare_training(panel, cfg)
    from causalmmm_jax.train.phases import compile_phase, init_members

    # fit's main phase as it runs, early stopping included (validation every eval_every epochs)
    phase = C.main_phase(tr, n_epochs=100_000, length=args.epochs, early_stop=True)
    states = init_members(phase, [tr.inits[0]], tr.keys)
    compiled, compile_seconds = compile_phase(states, tr.data, tr.spec, phase, batched=False)
    timed = C.time_chunks(compiled, states, tr.data, length=args.epochs, warmup=1, timed=2)
    prof = profile(compiled, timed["states"], tr.data, args.epochs)
    report = {"benchmark": "epoch_profile", "schema": C.SCHEMA_VERSION, "quick": args.quick,
              "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "machine": C.machine_info(), "data": source | C.panel_shape(panel), "hidden": hidden,
              "model_overrides": overrides, "compile_seconds": compile_seconds,
              "seconds_per_epoch_untraced": timed["seconds_per_epoch"],
              "seconds_per_epoch_untraced_chunks": timed["seconds_per_epoch_chunks"], **prof}
    if args.quick:
        report["warning"] = "--quick: tiny sizes, the figures mean nothing"
    orig = None
    if args.original == "run":
        orig = run_original(args, hidden)
        if overrides:
            orig["note"] = f"the original runs its default float32 model; --model {overrides} applies to ours only"
        report["original"] = orig
    C.write_json(args.out, report)
    rows = [{"stage": s, "s": prof["stages"][s], "share": 100 * prof["shares"][s]} for s in STAGES]
    C.print_table(rows, [("stage", "stage", "s"), ("s", "s/epoch", ".4f"), ("share", "%", ".1f")],
                  title=f"traced {prof['traced_seconds_per_epoch']:.3f} s/epoch "
                        f"(untraced {timed['seconds_per_epoch']:.3f})")
    if orig is None:
        return 0
    if "error" in orig:
        print(f"original: {orig['error']}\n{orig.get('stderr_tail', '')}", file=sys.stderr)
        return 1
    print()
    ours_t, orig_t = prof["traced_seconds_per_epoch"], orig["traced_seconds_per_epoch"]
    ours_u, orig_u = timed["seconds_per_epoch"], orig["seconds_per_epoch_untraced"]
    C.print_table(side_by_side(prof, orig),
                  [("stage", "stage", "s"), ("ours", "ours s/epoch", ".4f"), ("ours_pct", "%", ".1f"),
                   ("orig", "original s/epoch", ".4f"), ("orig_pct", "%", ".1f"), ("ratio", "orig/ours", ".1f")],
                  title=f"ours vs original (torch {orig['versions']['torch']}, {orig['torch_threads']} threads): "
                        f"traced {ours_t:.3f} vs {orig_t:.3f} s/epoch, untraced {ours_u:.3f} vs {orig_u:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
