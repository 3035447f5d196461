"""Training phases as data, and the training API: ``init`` / ``step`` with the tuned values as arguments.

A :class:`Phase` is a frozen record of one training phase: its kind (``"structural"``: the
constant-coefficient model, only the structural leaves train; ``"full"``: the whole model), its
traced values (:class:`~.hyper.Hyper`: epochs, loss weights, prior scales, early stopping; the
built-in optimiser's numbers in ``optimizer_values``), an optional user ``optax`` transformation,
the chunk length and the key fold.  :func:`default_phases` gives ``fit``'s three (structural
pre-fit, warm start, main phase)::

    phases = default_phases(config)                        # (static, warm, main)
    state = init(phases[-1], params, key)                  # a TrainState holding the phase's values
    step = jax.jit(make_step(spec, None, phases[-1]))      # pure, unbatched: (state, data) -> (state, metrics)
    state, metrics = step(state, data)                     # one epoch
    run = run_phases([params], [key], data, spec, phases)  # every phase in lax.scan chunks, as fit does

``make_step`` is one epoch, unbatched (``jax.vmap`` it over members yourself, or let
:func:`run_phase` do it); the compiled chunk programs are keyed on structure only (model spec,
phase kind, user optimiser object, chunk length, batching), so new values reuse them.

A user optimiser (``default_phases(config, optimizer=optax.adam(1e-3))`` or ``fit(...,
optimizer=...)``) replaces the built-in one in the warm start and the main phase (the structural
pre-fit keeps its own: it trains only the structural leaves).  Anything ``optax`` builds works;
wrap it in ``optax.inject_hyperparams`` to see its learning rate in the history (``lr``) and to
sweep it as data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._memory import release_host_memory
from ..config import Config, TrainConfig
from ..errors import ConfigError
from ..model import dag as dag_lib
from ..model.mmm import ModelSpec
from .ensemble import batched_runner, stack_trees, unstack_tree
from .handover import handover_params, with_static_coefficients
from .hyper import Hyper, phase_hyper
from .loop import METRIC_NAMES, TrainState, _epoch
from .objective import TrainData
from .optim import optimizer_hyperparams, phase_optimizer
from .sharding import (
    Devices,
    Layout,
    broadcast_from_first,
    gather,
    layout_for,
    pad_regions,
    place_data,
    place_state,
    to_host,
    unpad_regions,
)

__all__ = ["Phase", "KINDS", "default_phases", "stack_phases", "chunk_length", "phase_spec", "init", "init_state",
           "init_members",
           "make_step", "compile_phase", "run_phase", "run_phases", "PhaseRun", "TrainRun",
           "with_static_coefficients", "handover_params"]

#: ``"structural"``: the constant-coefficient model (GRU skipped), only the structural leaves train;
#: ``"full"``: the whole model
KINDS = ("structural", "full")


@dataclass(frozen=True, eq=False)
class Phase:
    """One training phase.

    ``name`` tags its history (``"<name>_loss"``; the last phase of a run is untagged) and timing
    (``"<name>_seconds"``).  ``hyper`` holds its traced values (a leading member axis when members
    differ, see :func:`stack_phases`); ``optimizer`` a user ``optax`` transformation or None for the
    built-in one of the kind, whose numbers ``optimizer_values`` are stored in the optimiser state at
    :func:`init` (``optax.inject_hyperparams``).  ``chunk_epochs`` epochs run per compiled call;
    ``key_fold`` derives the phase's key from a member's seed key.  ``notears_init``: the NOTEARS
    penalty's (ρ, α) at the start of the phase."""

    name: str
    kind: str
    hyper: Hyper
    optimizer: optax.GradientTransformation | None = None
    optimizer_values: Mapping[str, Any] | None = None
    chunk_epochs: int = 50
    key_fold: int = 2
    notears_init: tuple[Any, Any] = (1.0, 0.0)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"phase {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.chunk_epochs, int) or self.chunk_epochs < 1:
            raise ConfigError(f"phase {self.name!r}: chunk_epochs must be a positive integer, "
                              f"got {self.chunk_epochs!r}")
        if self.optimizer is None and self.optimizer_values is None:
            raise ConfigError(f"phase {self.name!r}: the built-in optimiser needs optimizer_values "
                              "(default_phases builds them from a TrainConfig), or pass an optax optimizer")
        if not self.name or not self.name.isidentifier():
            raise ConfigError(f"phase name must be a Python identifier (it prefixes history columns), "
                              f"got {self.name!r}")

    @property
    def n_epochs(self) -> int:
        """Epochs the phase runs (the largest over members)."""
        return int(np.max(np.asarray(self.hyper.n_epochs))) if np.size(self.hyper.n_epochs) else 0

    @property
    def n_members(self) -> int | None:
        """Size of the member axis of the values, None when every member shares them."""
        n = np.ndim(self.hyper.n_epochs)
        return int(np.shape(self.hyper.n_epochs)[0]) if n else None

    def member(self, i: int) -> "Phase":
        """The phase of member ``i`` (itself when members share the values)."""
        if self.n_members is None:
            return self
        take = functools.partial(jax.tree_util.tree_map, lambda a: a[i])
        values = None if self.optimizer_values is None else {k: np.asarray(v)[i] for k, v in
                                                              self.optimizer_values.items()}
        return dataclasses.replace(self, hyper=take(self.hyper), optimizer_values=values,
                                   notears_init=tuple(np.asarray(v)[i] for v in self.notears_init))

    def replace(self, **changes) -> "Phase":
        return dataclasses.replace(self, **changes)


def chunk_length(tcfg: TrainConfig, phase: str) -> int:
    """Epochs per compiled chunk: ``chunk_epochs``, shortened for short runs; the warm start and
    the main phase use the same length so that they share one program."""
    if phase == "static":
        return min(tcfg.chunk_epochs, max(tcfg.static_epochs, 1))
    return min(tcfg.chunk_epochs, max(tcfg.warm_start_epochs, tcfg.epochs, 1))


def default_phases(config: Config | TrainConfig, *, optimizer: optax.GradientTransformation | None = None,
                   early_stop: bool | None = None) -> tuple[Phase, Phase, Phase]:
    """``fit``'s phases under ``config``: the structural pre-fit (``"static"``, ``train.static_epochs``),
    the warm start (``"warm"``) and the main phase (``"main"``, early stopping per
    ``train.early_stopping`` unless ``early_stop`` says otherwise).  A phase with 0 epochs is
    skipped by :func:`run_phases`.  ``optimizer``: a user ``optax`` transformation for the warm
    start and the main phase."""
    tcfg = config.train if isinstance(config, Config) else config
    nt = (tcfg.notears_rho_init, tcfg.notears_alpha_init)
    user = optimizer is not None

    def full(name: str, fold: int, **kw) -> Phase:
        return Phase(name, "full", phase_hyper(tcfg, name, **kw), optimizer,
                     None if user else optimizer_hyperparams(tcfg, name), chunk_length(tcfg, name), fold, nt)

    static = Phase("static", "structural", phase_hyper(tcfg, "static"), None, optimizer_hyperparams(tcfg, "static"),
                   chunk_length(tcfg, "static"), 3, nt)
    return static, full("warm", 1), full("main", 2, early_stop=early_stop)


def stack_phases(per_member: Sequence[Sequence[Phase]]) -> tuple[Phase, ...]:
    """One phase list whose values carry a leading member axis, from one phase list per member
    (e.g. :func:`default_phases` of each point of a sweep).  The members' phases must agree in
    structure (names, kinds, optimiser object, schedule kind, prior mode); chunk lengths become the
    longest."""
    first = per_member[0]
    out = []
    for j, ph in enumerate(first):
        col = [m[j] for m in per_member]
        for other in col[1:]:
            same = (other.name, other.kind, other.key_fold) == (ph.name, ph.kind, ph.key_fold) and \
                other.optimizer is ph.optimizer and \
                str(jax.tree_util.tree_structure(other.hyper)) == str(jax.tree_util.tree_structure(ph.hyper)) and \
                set(other.optimizer_values or ()) == set(ph.optimizer_values or ()) and \
                (other.optimizer_values is None) == (ph.optimizer_values is None)
            if not same:
                raise ConfigError(f"phase {ph.name!r} differs in structure between members (name, kind, optimiser, "
                                  "schedule kind or prior mode); only values can vary across one compiled program")
        values = None if ph.optimizer_values is None else {
            k: np.stack([np.asarray(_values(m)[k]) for m in col]) for k in ph.optimizer_values}
        out.append(dataclasses.replace(
            ph, hyper=stack_trees([m.hyper for m in col]), optimizer_values=values,
            chunk_epochs=max(m.chunk_epochs for m in col),
            notears_init=(np.asarray([m.notears_init[0] for m in col], np.float64),
                          np.asarray([m.notears_init[1] for m in col], np.float64))))
    return tuple(out)


def _values(phase: Phase) -> Mapping[str, Any]:
    if phase.optimizer_values is None:
        raise ConfigError(f"phase {phase.name!r} has no built-in optimiser values")
    return phase.optimizer_values


def phase_spec(spec: ModelSpec, phase: Phase | str) -> ModelSpec:
    """The model a phase trains: ``spec`` with constant coefficients for a ``"structural"`` phase."""
    kind = phase if isinstance(phase, str) else phase.kind
    return dataclasses.replace(spec, constant_coefficients=kind == "structural")


def init(phase: Phase, params, key: jax.Array) -> TrainState:
    """A fresh :class:`~.loop.TrainState` for one member: ``params``, the optimiser state (holding
    the built-in optimiser's numbers, or the user optimiser's ``init``), the NOTEARS duals, the
    phase's values (``state.hyper``) and ``key`` for dropout."""
    if phase.n_members is not None:
        raise ValueError("this phase holds values for several members: init(phase.member(i), ...) per member, "
                         "or init_members")
    hp = phase.hyper
    if phase.optimizer is None:
        opt_kind = "static" if phase.kind == "structural" else "main"
        opt_state = phase_optimizer(opt_kind, hp.schedule, hp.regularize_transforms,
                                    dict(_values(phase))).init(params)
    else:
        opt_state = optax.with_extra_args_support(phase.optimizer).init(params)
    f32 = jnp.float32
    rho, alpha = phase.notears_init
    return TrainState(
        params=params, opt_state=opt_state,
        notears=dag_lib.notears_init(float(rho), float(alpha), active=int(hp.notears_warmup_epochs) == 0),
        key=key, epoch=jnp.int32(0), best_params=params, best_metric=f32(jnp.inf), best_epoch=jnp.int32(0),
        bad_evals=jnp.int32(0), last_val=f32(jnp.nan), stopped=jnp.bool_(False), nonfinite=jnp.bool_(False),
        hyper=hp)


def init_state(params, key: jax.Array, tcfg: TrainConfig, warm: bool = False, static: bool = False, *,
               early_stop: bool | None = None, hyper: Hyper | None = None) -> TrainState:
    """Shorthand for :func:`init` with one of :func:`default_phases` (structural pre-fit, warm
    start or main phase) under ``tcfg``; ``key`` is used as given; ``hyper`` overrides the phase's values."""
    static_phase, warm_phase, main_phase = default_phases(tcfg, early_stop=early_stop)
    phase = static_phase if static else warm_phase if warm else main_phase
    return init(phase if hyper is None else phase.replace(hyper=hyper), params, key)


def init_members(phase: Phase, params: Sequence, keys: Sequence[jax.Array], *, devices: Devices = None,
                 layout: Layout | None = None):
    """The stacked states of N members (``params`` and ``keys`` one per member; each key is folded
    with ``phase.key_fold``); N = 1 gives an unbatched state.  On a ``layout`` (or ``devices``, see
    :func:`~.sharding.layout_for`) the states are padded to its region count and placed on its mesh
    (:func:`~.sharding.place_state`)."""
    states = [init(phase.member(i), p, jax.random.fold_in(k, phase.key_fold))
              for i, (p, k) in enumerate(zip(params, keys))]
    batched = len(states) > 1
    tree = stack_trees(states) if batched else states[0]
    if layout is None and devices is not None:
        layout = layout_for(devices, len(states), _n_regions(params[0]))
    if layout is None:
        return tree
    return place_state(pad_regions(tree, layout.n_padded, batched=batched), layout, batched=batched)


def _n_regions(params) -> int:
    return int(np.shape(params["region_baseline"])[0])


def make_step(spec: ModelSpec, optimizer: optax.GradientTransformation | None = None,
              phase: Phase | str = "full") -> Callable[[TrainState, TrainData], tuple[TrainState, dict]]:
    """One training epoch of ``phase`` (a :class:`Phase` or its kind), pure and unbatched:
    ``step(state, data) -> (state, metrics)`` (one full-batch optimiser step, NOTEARS schedule,
    validation scoring and early stopping; see :mod:`.loop`).  ``optimizer``: a user ``optax``
    transformation (None: the built-in one of the kind, its numbers read from the state).
    Not jitted: ``jax.jit`` / ``jax.vmap`` / ``lax.scan`` it as you need."""
    step_spec = phase_spec(spec, phase)
    tx = None if optimizer is None else optax.with_extra_args_support(optimizer)
    return functools.partial(_epoch, spec=step_spec, optimizer=tx)


def compile_phase(states: TrainState, data: TrainData, spec: ModelSpec, phase: Phase, *, batched: bool):
    """``(compiled chunk, compile seconds)``: ``phase.chunk_epochs`` epochs per call (vmapped over
    the member axis when ``batched``), from the cache of programs keyed on structure."""
    runner = batched_runner(phase_spec(spec, phase), length=phase.chunk_epochs, batched=batched,
                            optimizer=phase.optimizer)
    release_host_memory()  # freed pages back to the system before the compiler's peak, and after it
    t0 = time.perf_counter()
    compiled = runner.lower(states, data).compile()
    seconds = time.perf_counter() - t0
    release_host_memory()
    return compiled, seconds


def program_bytes(compiled) -> float:
    """Device memory one call of a compiled program needs on each device (arguments + outputs +
    temporaries − buffers it aliases), from XLA's memory analysis; NaN where the backend gives none."""
    try:
        ma = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - backends without an analysis
        ma = None
    if ma is None:
        return float("nan")
    return float(ma.argument_size_in_bytes + ma.output_size_in_bytes + ma.temp_size_in_bytes
                 - ma.alias_size_in_bytes)


@dataclass
class PhaseRun:
    """What :func:`run_phase` returns: the final ``states``, the per-epoch ``history`` (metric →
    ``[..., epochs]``, member axis first when batched), compile and run seconds (host callbacks
    excluded), epochs done (largest over members), per-chunk seconds and epochs, and the device
    memory of the chunk program per device (:func:`program_bytes`; NaN when not compiled here)."""

    states: TrainState
    history: dict[str, np.ndarray]
    compile_seconds: float
    seconds: float
    epochs: int
    chunk_seconds: list[float]
    chunk_epochs: list[int]
    device_bytes: float = float("nan")


def run_phase(states: TrainState, data: TrainData, spec: ModelSpec, phase: Phase, *, batched: bool = False,
              progress: Callable | None = None, on_chunk: Callable | None = None, compiled=None) -> PhaseRun:
    """Train ``states`` through ``phase`` in compiled chunks of ``phase.chunk_epochs`` epochs until
    every member has run ``phase.n_epochs`` epochs or stopped.

    ``progress(name, epochs_done, epochs_total, chunk_metrics)`` and ``on_chunk(phase, states,
    chunk_metrics)`` (return True to end the phase) run on the host between chunks; their time is
    not counted.  ``compiled``: a program from :func:`compile_phase` (compiled here if None)."""
    n_epochs = phase.n_epochs
    if n_epochs <= 0:
        empty = {k: np.zeros(np.shape(states.epoch) + (0,), np.float32) for k in METRIC_NAMES}
        return PhaseRun(states, empty, 0.0, 0.0, 0, [], [])
    compile_seconds, device_bytes = 0.0, float("nan")
    if compiled is None:
        compiled, compile_seconds = compile_phase(states, data, spec, phase, batched=batched)
        device_bytes = program_bytes(compiled)
    history: dict[str, list] = {k: [] for k in METRIC_NAMES}
    chunk_seconds, chunk_epochs = [], []
    done = 0
    for _ in range(max(1, math.ceil(n_epochs / phase.chunk_epochs))):
        t0 = time.perf_counter()
        states, m = compiled(states, data)
        m = gather(m)  # the one host sync per chunk
        chunk_seconds.append(time.perf_counter() - t0)
        for k in METRIC_NAMES:
            history[k].append(np.asarray(m[k]))
        before, done = done, int(np.max(to_host(states.epoch)))
        chunk_epochs.append(done - before)
        if progress is not None:
            progress(phase.name, done, n_epochs, {k: np.asarray(v) for k, v in m.items()})
        stop = on_chunk(phase, states, m) if on_chunk is not None else False
        if stop or bool(np.all(to_host(states.stopped))):
            break
    hist = {k: np.concatenate(v, axis=-1) for k, v in history.items()}
    valid = ~np.all(np.isnan(hist["loss"].reshape(-1, hist["loss"].shape[-1])), axis=0)
    return PhaseRun(states, {k: v[..., valid] for k, v in hist.items()}, compile_seconds, float(sum(chunk_seconds)),
                    done, chunk_seconds, chunk_epochs, device_bytes)


@dataclass
class TrainRun:
    """What :func:`run_phases` returns: the last phase's ``states`` (member axis first when N > 1),
    the ``params`` it hands on (:func:`handover_params`), the history (the last phase's metrics
    untagged, earlier phases' as ``"<name>_<metric>"``), timing per phase (``<name>_compile_seconds``,
    ``<name>_seconds``, ``<name>_epochs``, ``<name>_device_mb``: the chunk program's memory per
    device), the phases that ran and the device layout (None on one device).  On a layout, states
    and params are gathered to the host with the padded regions removed."""

    states: TrainState
    params: Any
    history: dict[str, np.ndarray]
    timing: dict[str, float]
    runs: dict[str, PhaseRun]
    layout: Layout | None = None


def run_phases(params: Sequence, keys: Sequence[jax.Array], data: TrainData, spec: ModelSpec,
               phases: Sequence[Phase], *, devices: Devices = None, mesh_shape: tuple[int, int] | None = None,
               progress: Callable | None = None, on_chunk: Callable | None = None) -> TrainRun:
    """Train N members (``params`` and ``keys`` one per member; N > 1 runs vmapped) through
    ``phases`` in order, each phase starting from what the previous one hands on (after a
    structural phase, its constant coefficients become the stable ones,
    :func:`with_static_coefficients`).  Phases with 0 epochs are skipped, but the last phase always
    builds its states (so 0 epochs returns the starting point).  This is what ``fit`` runs.

    ``devices`` (a count, a device list or a ``("member", "region")`` mesh) spreads the members and
    the regions over devices (:func:`~.sharding.layout_for`; ``mesh_shape`` overrides the split);
    under ``jax.distributed`` every global device is used by default."""
    if len(params) != len(keys) or not params:
        raise ValueError(f"one key per member: {len(params)} parameter sets, {len(keys)} keys")
    if not phases:
        raise ConfigError("no training phases given")
    names = [p.name for p in phases]
    if len(set(names)) != len(names):
        raise ConfigError(f"phase names must be unique (they tag history and timing): {names}")
    n = len(params)
    for ph in phases:
        if ph.n_members not in (None, n):
            raise ConfigError(f"phase {ph.name!r} holds values for {ph.n_members} members, training {n}")
    batched = n > 1
    layout = layout_for(devices, n, _n_regions(params[0]), mesh_shape=mesh_shape)
    members = list(params)
    history: dict[str, np.ndarray] = {}
    timing: dict[str, float] = {}
    runs: dict[str, PhaseRun] = {}
    states: TrainState | None = None
    out: Any = None
    with jax.set_mesh(layout.mesh) if layout is not None else contextlib.nullcontext():
        run_data = data if layout is None else place_data(broadcast_from_first(data), layout)
        # the program's model has the padded region count; results are cut back to spec's
        run_spec = spec if layout is None else dataclasses.replace(spec, n_regions=layout.n_padded)
        for j, phase in enumerate(phases):
            last = j == len(phases) - 1
            if phase.n_epochs <= 0 and not last:
                continue
            if layout is not None:  # one start for every process (each computed its own)
                members = broadcast_from_first(members)
            states = init_members(phase, members, keys, layout=layout)
            run = run_phase(states, run_data, run_spec, phase, batched=batched, progress=progress, on_chunk=on_chunk)
            if layout is not None:  # back to the host, padded regions removed (a collective across processes)
                run.states = unpad_regions(gather(run.states), layout.n_regions, batched=batched)
            states = run.states
            runs[phase.name] = run
            timing.update({f"{phase.name}_compile_seconds": run.compile_seconds, f"{phase.name}_seconds": run.seconds,
                           f"{phase.name}_epochs": run.epochs, f"{phase.name}_device_mb": run.device_bytes / 2**20})
            history.update({(k if last else f"{phase.name}_{k}"): v for k, v in run.history.items()})
            if phase.kind == "structural":
                out = with_static_coefficients(states.params, phase_spec(spec, phase), batched=batched)
            else:
                out = handover_params(states)
            if layout is not None:  # host arrays, whatever the mesh context made of them
                out = gather(out)
            members = unstack_tree(out, n) if batched else [out]
    assert states is not None  # the last phase always runs
    if layout is not None:
        timing.update({k: float(v) for k, v in layout.describe().items()})
    return TrainRun(states=states, params=out, history=history, timing=timing, runs=runs, layout=layout)
