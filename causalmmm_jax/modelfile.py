"""Save and load a fitted model without pickle.

Layout of ``RUN_DIR/model/`` (format version 3; version 2, whose single fits stored parameters
without the member axis, still loads):

* ``model.json``: format version, package version, configuration, sizes, column mapping,
  channel/control/region names, time grid, split, seeds, fitted scaler and seasonal profile,
  history summary, and the SHA-256 of every other file;
* ``params.msgpack``: the parameter pytree (``flax.serialization`` msgpack; member axis first);
* ``panel.npz``: the fitted panel's arrays (media, controls, target, mask, spend), needed to
  continue the sequence from the fitted history when predicting new weeks
  (``np.load(..., allow_pickle=False)``);
* ``draws.msgpack`` (runs with ``train.interval_draws``): the anchored draws of the structural model
  that give the intervals (member axis first), listed with its hash in ``model.json``.

Writes go to a temporary folder next to the target, then one ``os.replace``; an interrupted save
leaves the previous model (or nothing), never a partial one.  Loading verifies the format
version and every hash and says what is wrong.
"""

from __future__ import annotations

import hashlib
import io as _io
import json
import os
import shutil
import tempfile
from pathlib import Path

import jax
import numpy as np
from flax import serialization

from ._version import __version__
from .config import Config
from .data.panel import ColumnMapping, Panel
from .data.scaling import ScalerState
from .data.seasonality import SeasonalProfile
from .data.split import Split
from .errors import ModelFileError
from .model.mmm import ModelSpec
from .train.result import FitResult, with_member_axis

__all__ = ["save_model", "load_model", "FORMAT_VERSION", "MODEL_DIR"]

FORMAT_VERSION = 3
#: formats this version reads (2: a single fit's parameters without the member axis)
READABLE_FORMATS = (2, 3)
MODEL_DIR = "model"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _times_to_json(times: np.ndarray) -> dict:
    if np.issubdtype(times.dtype, np.datetime64):
        return {"kind": "date", "values": [str(t)[:10] for t in times.astype("datetime64[D]")]}
    return {"kind": "integer", "values": [int(t) for t in times]}


def _times_from_json(d: dict) -> np.ndarray:
    if d["kind"] == "date":
        return np.array(d["values"], dtype="datetime64[D]").astype("datetime64[ns]")
    return np.array(d["values"], dtype=np.int64)


def _regions_to_json(regions: np.ndarray) -> dict:
    if np.issubdtype(np.asarray(regions).dtype, np.integer):
        return {"kind": "integer", "values": [int(r) for r in regions]}
    return {"kind": "string", "values": [str(r) for r in regions]}


def _regions_from_json(d: dict) -> np.ndarray:
    return np.array(d["values"], dtype=np.int64 if d["kind"] == "integer" else object)


def _panel_bytes(panel: Panel) -> bytes:
    arrays = {"media": panel.media, "controls": panel.controls, "target": panel.target, "mask": panel.mask}
    if panel.spend is not None:
        arrays["spend"] = panel.spend
    buf = _io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as its allow_pickle
    return buf.getvalue()


def save_model(result: FitResult, run_dir: str | os.PathLike) -> Path:
    """Write ``result`` (a :class:`~causalmmm_jax.train.fit.FitResult`) to ``run_dir/model``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    params_b = serialization.msgpack_serialize(jax.tree_util.tree_map(np.asarray, result.params))
    panel_b = _panel_bytes(result.panel)
    files = {"params.msgpack": _sha256(params_b), "panel.npz": _sha256(panel_b)}
    draws_b = None
    if result.draws is not None:  # the anchored draws that give the intervals
        draws_b = serialization.msgpack_serialize(jax.tree_util.tree_map(np.asarray, result.draws))
        files["draws.msgpack"] = _sha256(draws_b)
    p = result.panel
    meta = {
        "format_version": FORMAT_VERSION,
        "package": "causalmmm-jax",
        "version": __version__,
        "config": result.config.to_dict(),
        "spec": {"n_regions": result.spec.n_regions, "n_channels": result.spec.n_channels,
                 "n_controls": result.spec.n_controls, "n_knots": result.spec.n_knots},
        "mapping": None if result.mapping is None else result.mapping.to_dict(),
        "channels": list(p.channels), "control_names": list(p.control_names), "target_name": p.target_name,
        "spend_columns": None if p.spend_columns is None else list(p.spend_columns),
        "regions": _regions_to_json(p.regions), "times": _times_to_json(p.times),
        "split": {"n_weeks": result.split.n_weeks, "n_train": result.split.n_train, "n_val": result.split.n_val},
        "seeds": list(result.seeds),
        "scaler": result.scaler.to_dict(), "seasonal": result.seasonal.to_dict(),
        "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "stopped_early": result.stopped_early,
        "timing": {k: float(v) for k, v in result.timing.items()},
        "lift_tests": result.lift_tests,
        "files": files,
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIR}.", suffix=".tmp", dir=run_dir))
    target, old = run_dir / MODEL_DIR, run_dir / f".{MODEL_DIR}.old"
    moved = False
    try:
        (tmp / "params.msgpack").write_bytes(params_b)
        (tmp / "panel.npz").write_bytes(panel_b)
        if draws_b is not None:
            (tmp / "draws.msgpack").write_bytes(draws_b)
        (tmp / "model.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if target.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
            moved = True
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if moved and not target.exists():
            os.replace(old, target)  # put the previous model back
        raise
    if moved:
        shutil.rmtree(old, ignore_errors=True)
    return run_dir / MODEL_DIR


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path} is missing: {what}. Re-run 'causalmmm-jax fit' to recreate the model.") from None


def load_model(run_dir: str | os.PathLike):
    """Read a model saved by :func:`save_model` (``run_dir`` or ``run_dir/model``) → ``FitResult``."""
    run_dir = Path(run_dir)
    mdir = run_dir if (run_dir / "model.json").exists() else run_dir / MODEL_DIR
    if not mdir.is_dir():
        raise ModelFileError(f"no saved model in {run_dir} (expected {run_dir / MODEL_DIR}/model.json); "
                             "pass the RUN_DIR given to 'causalmmm-jax fit --out'.")
    try:
        meta = json.loads(_read(mdir / "model.json", "the model description").decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{mdir / 'model.json'} is corrupted (not valid JSON: {e}).") from None
    fv = meta.get("format_version")
    if fv not in READABLE_FORMATS:
        raise ModelFileError(
            f"{mdir} has model format version {fv!r} (written by causalmmm-jax {meta.get('version', '?')}); "
            f"this is causalmmm-jax {__version__}, which reads formats {list(READABLE_FORMATS)}. "
            "Install the version that wrote it, or re-fit.")
    blobs = {}
    for name, digest in meta["files"].items():
        b = _read(mdir / name, "part of the saved model")
        if _sha256(b) != digest:
            raise ModelFileError(f"{mdir / name} is corrupted: its SHA-256 does not match model.json. "
                                 "Restore it from a backup or re-fit.")
        blobs[name] = b
    try:
        cfg = Config.from_dict(meta["config"])
        spec = ModelSpec(**meta["spec"], config=cfg.model)
        params = jax.tree_util.tree_map(np.asarray, serialization.msgpack_restore(blobs["params.msgpack"]))
        if fv == 2 and len(meta["seeds"]) == 1:
            params = with_member_axis(params)
        arr = np.load(_io.BytesIO(blobs["panel.npz"]), allow_pickle=False)
        panel = Panel(media=arr["media"], controls=arr["controls"], target=arr["target"], mask=arr["mask"],
                      regions=_regions_from_json(meta["regions"]), times=_times_from_json(meta["times"]),
                      channels=tuple(meta["channels"]), control_names=tuple(meta["control_names"]),
                      target_name=meta["target_name"], spend=arr["spend"] if "spend" in arr.files else None,
                      spend_columns=None if meta["spend_columns"] is None else tuple(meta["spend_columns"]))
        result = FitResult(
            config=cfg, spec=spec, params=params,
            scaler=ScalerState.from_dict(meta["scaler"]), seasonal=SeasonalProfile.from_dict(meta["seasonal"]),
            split=Split(**meta["split"]), panel=panel, seeds=tuple(meta["seeds"]), history={},
            timing=meta["timing"], epochs_run=meta["epochs_run"], best_epoch=meta["best_epoch"],
            stopped_early=meta["stopped_early"],
            mapping=None if meta["mapping"] is None else ColumnMapping.from_dict(meta["mapping"]),
            version=meta["version"], lift_tests=meta.get("lift_tests"),
            draws=(jax.tree_util.tree_map(np.asarray, serialization.msgpack_restore(blobs["draws.msgpack"]))
                   if "draws.msgpack" in blobs else None))
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{mdir} is not a valid causalmmm-jax model ({type(e).__name__}: {e}).") from None
    return result
