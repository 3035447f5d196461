#!/usr/bin/env python
"""Worker: where one training epoch of the ORIGINAL DeepCausalMMM 1.0.21 spends its time, stage by stage.

The counterpart of ``benchmarks/epoch_profile.py`` (same stage names, same JSON layout for the
stages), run under the parity venv's python (torch CPU, deepcausalmmm==1.0.21), never under
causalmmm-jax's venv; ``epoch_profile.py --original run`` starts it as a subprocess::

    /work/parity-venv/bin/python benchmarks/_original_epoch_profile.py --epochs 10 --out /tmp/origprof.json

What runs: the example CSV through the original's pipeline with its default configuration (hidden
280, seed 42, ``torch.set_num_threads(--threads)``, 2 by default), as ``_original_worker.py`` builds
it; the set-up ``ModelTrainer.train`` does before its loop (scaling constants, baseline,
seasonality, stable coefficients and Hill initialisation; no warm start); then epochs of the
loop's own body (behaviour spec §3.2/§3.6): ``train_epoch`` and, on every 10th epoch (``epoch %
10 == 0``), ``evaluate_holdout`` with ``scheduler.step(holdout_rmse)`` and the early-stopping
check, else ``scheduler.step(train_rmse)``.  ``--warmup`` untimed epochs, ``--epochs`` timed
without the profiler (``seconds_per_epoch_untraced``), then ``--epochs`` more under
``torch.profiler.profile(activities=[CPU], record_shapes=True)`` (``traced_seconds_per_epoch``).
The epoch index of the timed and traced blocks starts at a multiple of 10 (the index only sets the
evaluation cadence), so 10 epochs hold one holdout evaluation, like the JAX chunk of 10 epochs.

Every recorded event's self CPU time (its duration less its children's, on its thread) is charged
to one stage.  Which code an event belongs to comes from ``torch.profiler.record_function`` ranges
this worker opens around the original's own calls, without changing them:

* forward pre/post hooks on the model and each of its child modules (``model``, ``model.gru``,
  ``model.coeff_gen``, ``model.ctrl_coeff_gen``, ``model.ctrl_mlp``): the module hierarchy by
  attribute name (``with_modules`` would name modules by class and a counter, ``Sequential_0..2``
  for the control MLP and the two heads, and needs the Python tracer);
* wrappers around ``train_epoch``, ``evaluate_holdout``, ``get_dag_loss``/``get_sparsity_loss``,
  ``optimizer.step``/``zero_grad``, ``torch.nn.utils.clip_grad_norm_``, ``scheduler.step`` and the
  trainer's sklearn metrics (``mean_squared_error``, ``r2_score``).

An event's scope is the innermost of these ranges around it, except that everything inside
``evaluate_holdout`` is ``validation``.  Backward events run inside autograd nodes
(``autograd::engine::evaluate_function: XBackward0``); a node's sequence number is that of the
forward op that created it (the last forward op to start with that number on that thread; where
no forward op recorded the number, the one that last recorded a lower one: an op that creates
several nodes, such as an in-place write into a slice and its ``CopySlices``, records only the
first's), and the node is charged by that forward op's scope.  The stages (:func:`stage_of`):

* ``gru_forward`` / ``gru_backward``: ops in ``model.gru`` (torch's CPU GRU runs one
  linear/gate step per week) / nodes created there;
* ``heads_forward`` / ``heads_backward``: ``model.coeff_gen`` and ``model.ctrl_coeff_gen`` (3
  linear layers each) / their nodes;
* ``control_mlp``: ``model.ctrl_mlp`` (linear, tanh, dropout), forward and backward;
* ``media_and_decomposition``: the rest of the model's forward (adstock's loop over weeks, Hill,
  DAG, h0, sigmoid/tanh bounds, burn-in blend, contributions, baseline, seasonality, the sum, the
  forward's two ``.item()`` additivity checks), forward and backward;
* ``loss_and_priors``: the two priors the original computes inside its forward (``mse_loss``:
  attribution and seasonal prior) and everything ``train_epoch`` runs outside the model, the
  optimiser, clipping and metrics (Huber loss, ``get_dag_loss``/``get_sparsity_loss``, the L1/L2
  sums over all parameters, the dynamic scaling, its ``.item()`` checks, and the few ops that
  copy predictions to numpy for the metrics), forward and backward;
* ``validation``: all of ``evaluate_holdout`` (no-grad forward, loss, metrics);
* ``optimizer_and_bookkeeping``: ``zero_grad``, both ``clip_grad_norm_`` calls, AdamW's step,
  ``scheduler.step``, the sklearn metrics;
* ``unseparated``: backward events whose node has no forward op (``AccumulateGrad`` nodes have
  no sequence number) are charged by the parameter shapes they touch when those shapes belong to
  one stage only (``AccumulateGrad`` of a [840, 280] gradient: GRU), else here (the [140] biases
  of the control MLP and of the heads' second layers share a shape);
* ``unattributed``: traced wall time covered by no recorded event: Python between ops in
  ``train_epoch`` and the loop (building the clip groups, the loss expression, list appends, the
  early-stopping check) and the profiler's own time there.

A range's own self time (Python between the ops of a module's forward or of a wrapped call,
including the profiler's per-op cost there) goes to the range's stage and is reported separately
as ``python_glue_seconds_per_epoch``, except ``train_epoch``'s own, which stays unattributed.  The
profiler records ops on the calling thread only (torch's intra-op threads work inside an op), so
self times add up to at most the wall time; ``coverage`` reports how close.  Seconds are per
epoch (the traced block's totals over ``--epochs``).
"""

from __future__ import annotations

import bisect
import collections
import importlib.metadata as md
import math
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

STAGES = ("gru_forward", "gru_backward", "heads_forward", "heads_backward", "control_mlp", "media_and_decomposition",
          "loss_and_priors", "validation", "optimizer_and_bookkeeping", "unattributed", "unseparated")

PREFIX = "orig::"  # this worker's record_function ranges
NODE_PREFIX = "autograd::engine::evaluate_function: "
# child module of the model -> (forward stage, backward stage); "" = the model's own forward
MODULE_STAGES = {"gru": ("gru_forward", "gru_backward"), "coeff_gen": ("heads_forward", "heads_backward"),
                 "ctrl_coeff_gen": ("heads_forward", "heads_backward"), "ctrl_mlp": ("control_mlp", "control_mlp"),
                 "": ("media_and_decomposition", "media_and_decomposition")}
PRIOR_OPS = ("mse_loss", "mselossbackward")  # the attribution and seasonal priors inside the model's forward
LOSS_SCOPES = ("train_epoch", "loss_terms")


def range_scope(name: str) -> str | None:
    """The scope a recorded range opens (``orig::model.gru`` -> ``model.gru``; torch's own
    ``Optimizer.step#AdamW.step`` / ``Optimizer.zero_grad#...`` -> ``optimizer``); None for ops."""
    if name.startswith(PREFIX):
        return name[len(PREFIX):]
    if name.startswith("Optimizer."):
        return "optimizer"
    return None


def _module_stages(scope: str) -> tuple[str, str]:
    child = scope.partition(".")[2].split(".", 1)[0]
    return MODULE_STAGES.get(child, MODULE_STAGES[""])


def stage_of(op: str, scope: str | None, *, backward: bool = False, shapes=(), params=None) -> str:
    """The stage of one profiler event (pure; see the module docstring).

    ``op``: the op's name (forward ``aten::addmm``; backward: the autograd node's, ``AddmmBackward0``,
    ``torch::autograd::AccumulateGrad``); ``scope``: the innermost range around the op (for a
    backward op: around the forward op that created its node), ``""`` outside every range, None
    for a backward node without a recorded forward op; ``shapes``: input shapes of the node's
    events; ``params``: ``{shape: {module scope, ...}}`` of the model's parameters (both only used
    when ``scope`` is None)."""
    if scope == "validation":
        return "validation"
    if scope is None:
        return _stage_from_shapes(shapes, params) if backward else "unseparated"
    if scope == "model" or scope.startswith("model."):
        if any(p in op.lower() for p in PRIOR_OPS):
            return "loss_and_priors"
        fwd, bwd = _module_stages(scope)
        return bwd if backward else fwd
    if scope in LOSS_SCOPES:
        return "loss_and_priors"
    return "optimizer_and_bookkeeping"  # optimizer, clip_grad_norm_, scheduler.step, metrics, the loop


def _stage_from_shapes(shapes, params) -> str:
    """A backward node without its forward op: the backward stage of the module whose parameters
    have the shapes it touches, when they name one stage (2-D shapes first); else ``unseparated``."""
    if not params:
        return "unseparated"
    found = [tuple(s) for s in shapes or () if s and tuple(s) in params]
    if any(len(s) >= 2 for s in found):
        found = [s for s in found if len(s) >= 2]
    stages = {_module_stages(scope)[1] for s in found for scope in params[s]}
    return stages.pop() if len(stages) == 1 else "unseparated"


def param_scopes(named_parameters) -> dict[tuple, set]:
    """``{shape: {"model.gru", ...}}`` of ``model.named_parameters()``."""
    out: dict[tuple, set] = collections.defaultdict(set)
    for name, p in named_parameters:
        child = name.split(".", 1)[0] if "." in name else ""
        out[tuple(p.shape)].add(f"model.{child}" if child in MODULE_STAGES and child else "model")
    return dict(out)


def charge(events, params=None) -> dict:
    """Self CPU time (µs) of every event charged to a stage.  ``events``: profiler
    ``FunctionEvent``-like objects (``name``, ``thread``, ``fwd_thread``, ``sequence_nr``,
    ``input_shapes``, ``cpu_parent``, ``time_range.start``, ``self_cpu_time_total``)."""
    scopes: dict[int, str] = {}
    nodes: dict[int, object] = {}

    def scope(e) -> str:
        k = id(e)
        if k not in scopes:
            parent = scope(e.cpu_parent) if e.cpu_parent is not None else ""
            own = range_scope(e.name)
            scopes[k] = "validation" if parent == "validation" else (own if own is not None else parent)
        return scopes[k]

    def node(e):
        k = id(e)
        if k not in nodes:
            nodes[k] = e if e.name.startswith(NODE_PREFIX) else (node(e.cpu_parent) if e.cpu_parent is not None
                                                                   else None)
        return nodes[k]

    events = sorted(events, key=lambda e: e.time_range.start)
    fwd: dict[tuple, tuple[str, str]] = {}  # (sequence nr, thread) -> (op, scope) of the node's forward op
    node_shapes: dict[int, list] = collections.defaultdict(list)
    for e in events:
        n = node(e)
        if n is not None:
            node_shapes[id(n)].extend(s for s in (e.input_shapes or []) if s)
        elif range_scope(e.name) is None and e.sequence_nr is not None and e.sequence_nr >= 0:
            fwd[(e.sequence_nr, e.thread)] = (e.name, scope(e))  # the last to start is the node's creator

    seqs = collections.defaultdict(list)
    for seq, thread in fwd:
        seqs[thread].append(seq)
    for v in seqs.values():
        v.sort()

    def creator(n) -> tuple[tuple[str, str] | None, str]:
        """The forward op that created node ``n`` (its sequence number, else the op that last
        recorded a lower one: an op creating several nodes records only the first's number)."""
        seq, thread = n.sequence_nr, n.fwd_thread
        if seq is None or seq < 0:
            return None, ""
        if (seq, thread) in fwd:
            return fwd[(seq, thread)], "sequence_nr"
        keys = seqs.get(thread, [])
        i = bisect.bisect_right(keys, seq) - 1
        return (fwd[(keys[i], thread)], "preceding_sequence_nr") if i >= 0 else (None, "")

    per_stage: collections.Counter = collections.Counter()
    glue: collections.Counter = collections.Counter()
    per_op: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    resolved: collections.Counter = collections.Counter()
    threads: collections.Counter = collections.Counter()
    train_epoch_self = 0.0
    for e in events:
        us = float(e.self_cpu_time_total)
        threads[e.thread] += us
        own = range_scope(e.name)
        if own == "train_epoch":
            train_epoch_self += us  # Python between train_epoch's ops: unattributed
            continue
        n = node(e)
        if n is None:
            st = stage_of(e.name, scope(e))
            label = e.name
        else:
            node_name = n.name[len(NODE_PREFIX):]
            hit, how = creator(n)
            st = stage_of(node_name, hit[1] if hit else None, backward=True, shapes=node_shapes[id(n)],
                          params=params)
            resolved[how if hit else ("shapes" if st != "unseparated" else "unseparated")] += us
            label = node_name if e is n else f"{e.name} ({node_name})"
        per_stage[st] += us
        if own is not None:
            glue[st] += us
        per_op[(label, st)] += us
        calls[(label, st)] += 1
    return {"stages": per_stage, "glue": glue, "ops": per_op, "calls": calls, "backward_resolved": resolved,
            "threads": threads, "train_epoch_self": train_epoch_self}


# ---------------------------------------------------------------------------------------------
# the original's loop, annotated


def annotate(trainer, model, torch, trainer_module) -> None:
    """Open a ``record_function`` range around each module's forward and the loop's calls (see
    the docstring); the original's code runs unchanged."""
    rf = torch.profiler.record_function
    open_ranges: list = []

    def pre(name):
        def hook(_mod, _args):
            r = rf(PREFIX + name)
            r.__enter__()
            open_ranges.append(r)
        return hook

    def post(_mod, _args, _out):
        open_ranges.pop().__exit__(None, None, None)

    for name, mod in [("model", model)] + [(f"model.{n}", m) for n, m in model.named_children()]:
        mod.register_forward_pre_hook(pre(name))
        mod.register_forward_hook(post)

    def wrap(fn, name):
        def wrapped(*a, **k):
            with rf(PREFIX + name):
                return fn(*a, **k)
        return wrapped

    trainer.train_epoch = wrap(trainer.train_epoch, "train_epoch")
    trainer.evaluate_holdout = wrap(trainer.evaluate_holdout, "validation")
    model.get_dag_loss = wrap(model.get_dag_loss, "loss_terms")
    model.get_sparsity_loss = wrap(model.get_sparsity_loss, "loss_terms")
    trainer.optimizer.step = wrap(trainer.optimizer.step, "optimizer")
    trainer.optimizer.zero_grad = wrap(trainer.optimizer.zero_grad, "optimizer")
    trainer.scheduler.step = wrap(trainer.scheduler.step, "scheduler")
    torch.nn.utils.clip_grad_norm_ = wrap(torch.nn.utils.clip_grad_norm_, "clip_grad_norm_")
    trainer_module.mean_squared_error = wrap(trainer_module.mean_squared_error, "metrics")
    trainer_module.r2_score = wrap(trainer_module.r2_score, "metrics")


def loop_epoch(trainer, epoch: int, train, hold) -> None:
    """One pass of the body of ``ModelTrainer.train``'s main loop (verbose off)."""
    cfg, model = trainer.config, trainer.model
    train_loss, train_rmse, train_r2 = trainer.train_epoch(*train)
    is_notears = cfg.get("dag_mode", "triangular") == "notears"
    warmup = int(cfg.get("notears_warmup_epochs", 0))
    if is_notears and warmup > 0 and epoch == warmup and hasattr(model, "notears_active"):
        model.notears_active.fill_(True)
    every = cfg.get("notears_dual_update_every", 100)
    if is_notears and epoch > 0 and epoch % every == 0 and hasattr(model, "notears_update_duals"):
        model.notears_update_duals(factor=float(cfg.get("notears_dual_factor", 3.0)))
    trainer.train_losses.append(train_loss)
    trainer.train_rmses.append(train_rmse)
    trainer.train_r2s.append(train_r2)
    cosine = cfg.get("use_cosine_annealing", False)
    rmse = train_rmse
    if epoch % 10 == 0:
        _, rmse, _ = trainer.evaluate_holdout(*hold)
    if cosine:
        trainer.scheduler.step()  # (the warm-up scheduler is off in the default config)
    else:
        trainer.scheduler.step(rmse)
    if rmse < trainer.best_rmse:
        trainer.best_rmse = rmse
    if epoch % 10 == 0:
        trainer.should_stop_early(rmse)  # with the default patience it stops only after 300 evaluations


def parse_args(argv=None):
    p = C.base_parser("_original_epoch_profile", __doc__.split("\n\n")[0])
    p.add_argument("--csv", type=Path, default=C.DEFAULT_CSV,
                   help="the example CSV (default ../shared/data/mmm_data.csv)")
    p.add_argument("--epochs", type=int, default=10, help="epochs timed, then traced (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="untimed epochs first (default 3)")
    p.add_argument("--hidden", type=int, default=None, help="hidden size (default 280; --quick 8)")
    p.add_argument("--regions", type=int, default=None, help="keep the first N regions (default all; --quick 5)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--top", type=int, default=15, help="ops listed in top_ops (default 15)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    hidden = args.hidden or (8 if args.quick else 280)
    regions = args.regions or (5 if args.quick else None)

    import logging

    import _original_worker as W
    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile

    logging.disable(logging.WARNING)
    import deepcausalmmm.core.trainer as trainer_module

    torch.set_num_threads(args.threads)
    xm, xc, y, shape, _ = W.load_like_original(str(args.csv), regions)
    config, pipeline, _, (tr, ho), trainer, model = W.build_original(xm, xc, y, args.seed, {"hidden_dim": hidden})
    trainer.pipeline = pipeline

    # ModelTrainer.train's set-up before its loop (no warm start: its cost is not an epoch's)
    dev = trainer.device
    train = tuple(tr[k].to(dev) for k in ("X_media", "X_control", "R", "y"))
    hold = tuple(ho[k].to(dev) for k in ("X_media", "X_control", "R", "y"))
    model.scaling_constants = pipeline.get_scaler().scaling_constants
    model.initialize_baseline(train[3])
    model.initialize_stable_coefficients_from_data(train[0], train[1], train[3])
    model.initialize_hill_from_data(train[0])
    if config.get("dag_mode", "triangular") == "notears" and int(config.get("notears_warmup_epochs", 0)) > 0:
        model.notears_active.fill_(False)
    annotate(trainer, model, torch, trainer_module)

    epoch = 0

    def run(n: int) -> list[float]:
        nonlocal epoch
        secs = []
        for _ in range(n):
            t0 = time.perf_counter()
            loop_epoch(trainer, epoch, train, hold)
            secs.append(time.perf_counter() - t0)
            epoch += 1
        return secs

    def to_tens() -> None:  # timed blocks start at an evaluation epoch (the index only sets the cadence)
        nonlocal epoch
        epoch = -(-epoch // 10) * 10

    run(args.warmup)
    to_tens()
    untraced = run(args.epochs)
    to_tens()
    first_traced = epoch
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        t0 = time.perf_counter()
        run(args.epochs)
        wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    events = prof.events()
    ch = charge(events, param_scopes(model.named_parameters()))
    parse_seconds = time.perf_counter() - t1

    n = args.epochs
    per = {s: ch["stages"].get(s, 0.0) * 1e-6 / n for s in STAGES}
    charged = sum(per.values())
    per["unattributed"] = max(wall / n - charged, 0.0)
    ops_self = sum(v for (label, _), v in ch["ops"].items() if range_scope(label) is None) * 1e-6 / n
    all_self = sum(ch["threads"].values()) * 1e-6 / n
    top = [{"op": label, "stage": st, "seconds_per_epoch": us * 1e-6 / n,
            "calls_per_epoch": ch["calls"][(label, st)] / n} for (label, st), us in ch["ops"].most_common(args.top)]
    by_stage = {s: [{"op": label, "seconds_per_epoch": us * 1e-6 / n, "calls_per_epoch": ch["calls"][(label, st)] / n}
                    for (label, st), us in ch["ops"].most_common() if st == s][:5] for s in STAGES}
    evals = sum(1 for e in range(first_traced, first_traced + n) if e % 10 == 0)
    report = {
        "benchmark": "original_epoch_profile", "schema": C.SCHEMA_VERSION, "quick": args.quick,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": C.machine_info(with_jax=False), "tool": "deepcausalmmm",
        "versions": {"deepcausalmmm": md.version("deepcausalmmm"), "torch": torch.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "torch_threads": torch.get_num_threads(), "device": str(dev),
        "data": {**shape, "path": str(Path(args.csv).resolve())}, "hidden": hidden,
        "tensor_shape": {"train": list(train[0].shape), "holdout": list(hold[0].shape)},
        "epochs": n, "warmup_epochs": args.warmup, "first_traced_epoch": first_traced, "holdout_evaluations": evals,
        "seconds_per_epoch_untraced": statistics.fmean(untraced) if untraced else None,
        "seconds_per_epoch_untraced_median": statistics.median(untraced) if untraced else None,
        "seconds_per_epoch_untraced_epochs": untraced,
        "traced_seconds_per_epoch": wall / n,
        "stages": per,
        "shares": {s: v / (wall / n) for s, v in per.items()},
        "python_glue_seconds_per_epoch": {s: ch["glue"].get(s, 0.0) * 1e-6 / n for s in STAGES},
        "coverage": {"op_self_seconds_per_epoch": ops_self, "self_seconds_per_epoch": all_self,
                     "train_epoch_python_seconds_per_epoch": ch["train_epoch_self"] * 1e-6 / n,
                     "charged_seconds_per_epoch": charged, "uncovered_seconds_per_epoch": wall / n - all_self,
                     "charged_over_wall": charged / (wall / n), "op_self_over_wall": ops_self / (wall / n)},
        "backward_resolved_seconds_per_epoch": {k: v * 1e-6 / n for k, v in ch["backward_resolved"].items()},
        "threads_self_seconds_per_epoch": {str(k): v * 1e-6 / n for k, v in ch["threads"].items()},
        "events": len(events), "profile_parse_seconds": parse_seconds, "top_ops": top,
        "top_ops_by_stage": by_stage,
        "peak_rss_mb": C.peak_rss_mb(),
    }
    if args.quick:
        report["warning"] = "--quick: tiny sizes, the figures mean nothing"
    C.write_json(args.out, report)
    rows = [{"stage": s, "s": per[s], "share": 100 * per[s] / (wall / n)} for s in STAGES]
    C.print_table(rows, [("stage", "stage", "s"), ("s", "s/epoch", ".4f"), ("share", "%", ".1f")],
                  title=f"original: traced {wall / n:.3f} s/epoch "
                        f"(untraced {report['seconds_per_epoch_untraced']:.3f}); charged to stages "
                        f"{charged / (wall / n):.1%} of it, ops' own {ops_self / (wall / n):.1%}")
    return 0 if all(math.isfinite(v) for v in per.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
