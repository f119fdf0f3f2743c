"""``kinview predict TASK --catalogue FILE --images DIR --out PRED.parquet``: image tasks at
catalogue scale (millions of SDSS galaxies with only an image), on Dask.

The catalogue is planned into partitions (:mod:`kinview.batch.catalogue`); each partition is
one Dask task that reads its rows, loads ``DIR/<id>.jpg`` in batches (``batch_size`` images
at a time, so a worker's memory does not depend on the catalogue or partition size), runs the
model and returns a small table.  Every worker loads the model once (Keras ``safe_mode``,
after checking the file's SHA-256 against the client's) and keeps it for all its partitions.
The client writes each returned partition as one Parquet part (:mod:`kinview.batch.output`);
a rerun skips the parts already written.

Output columns, one row per catalogue row, in catalogue order:

``row``            int64, 0-based row of the catalogue file
``<id>``           str, the catalogue's id column (``plateifu``, ``objid`` or ``specobjid``)
``ra``, ``dec``    float64, degrees as in the catalogue (NaN when it has none)
``value``          float64, the prediction (the task's target and units: ``λR_e`` for
                   ``spin``, ``z`` for ``photoz``, class index or P(class 1) for classifiers);
                   NaN when ``flag`` is not 0
``confidence``     float64, classifiers' confidence in [0, 1]; NaN for regressors
``flag``           int16 bit mask, 0 = predicted: 1 no id, 2 no image file, 4 unreadable image
``error``          str, why the row is flagged (null when ``flag`` is 0)

The Parquet metadata (key ``kinview``) holds the task, the model id, path and SHA-256, the
SHA-256 of the model card, the kinview version, the catalogue and its partitioning.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
import pandas as pd

from kinview import __version__
from kinview.batch.catalogue import CataloguePlan, Partition, plan_catalogue, read_partition
from kinview.batch.engine import dask_client, describe, run_tasks
from kinview.batch.output import open_output, write_part
from kinview.blas_threads import single_threaded
from kinview.data.images import load_image
from kinview.errors import KinviewError
from kinview.progress import NULL_STATE, TaskState
from kinview.tasks.base import Dataset
from kinview.tasks.registry import get, names
from kinview.training.model_card import read_card
from kinview.training.registry import active_model, shipped_model_path
from kinview.training.use import load_model, resolve_model as registry_model, setup_keras

__all__ = ["predict_catalogue", "predict_partition", "resolve_model", "ModelRef", "image_tasks",
           "FLAG_NO_ID", "FLAG_NO_IMAGE", "FLAG_BAD_IMAGE", "DEFAULT_BATCH_SIZE"]

FLAG_NO_ID = 1
FLAG_NO_IMAGE = 2
FLAG_BAD_IMAGE = 4
#: Images per network call: big enough to keep the network busy, small enough that a
#: worker's memory stays at a few tens of MB of inputs.
DEFAULT_BATCH_SIZE = 256
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


# ----------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class ModelRef:
    """A model file as the workers will load it.

    Attributes
    ----------
    path : str          absolute model path, a ``.keras``/``.h5`` file or a SavedModel
                        directory (the same on every worker)
    sha256 : str        of its contents: workers refuse a different model at the same path
    model_id : str      the survey registry id, else the file name without suffix
    card_sha256 : str   SHA-256 of the model card (canonical JSON), '' without a card
    card : dict
    """

    path: str
    sha256: str
    model_id: str
    card_sha256: str
    card: Dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _sha256_file(path: Union[str, Path]) -> str:
    """SHA-256 of a model file, or of a model directory's files (names and contents)."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _card_hash(card: Dict[str, Any]) -> str:
    if not card:
        return ""
    return hashlib.sha256(json.dumps(card, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


def image_tasks():
    """Names of the registered tasks that predict from one colour image (``image_size`` set)."""
    return [n for n in names() if getattr(get(n), "image_size", None)]


def resolve_model(task, model: Optional[str] = None, survey: Optional[Union[str, Path]] = None) -> ModelRef:
    """The model to run: a ``.keras`` path, a model id of ``survey``'s registry, the survey's
    active model (no ``model``, a survey given), else the task's shipped default.

    Raises
    ------
    KinviewError
        No such file or id, a model card of another task, no model at all.
    """
    rec = None
    if model is not None and str(model).strip().isdigit() and not Path(model).exists():
        if survey is None:
            raise KinviewError(f"--model {model} is a model id: give the survey it belongs to (--survey DIR)")

        path, rec, _ = registry_model(survey, task, str(model).strip())
    elif model is not None:
        path = Path(model).expanduser().resolve()
    elif survey is not None and active_model(survey, task) is not None:
        rec = active_model(survey, task)
        path = Path(rec.path)
    else:
        path = shipped_model_path(task)
        if path is None:
            raise KinviewError(f"no shipped {task.name} model: give one with --model PATH")
    if not path.exists():
        raise KinviewError(f"{path}: no such model file")
    card = (rec.card if rec is not None and rec.card else None) or read_card(path)
    if card.get("task") and card["task"] != task.name:
        raise KinviewError(f"{path}: a {card['task']} model, not {task.name}")
    model_id = str(rec.id) if rec is not None else path.stem
    return ModelRef(str(path.resolve()), _sha256_file(path), model_id, _card_hash(card), card)


_MODELS: Dict[tuple, Any] = {}
_MODELS_LOCK = threading.Lock()
#: How many times this process loaded a model (what the tests read on every worker).
MODEL_LOADS = [0]


def _worker_threads() -> Optional[int]:
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return None


def worker_model(ref: ModelRef, image_size: int):
    """The model, loaded once per process (safe mode) and kept for every later partition."""
    key = (ref.path, ref.sha256)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is not None:
            return model
        if not Path(ref.path).exists():
            raise KinviewError(f"{ref.path}: no such model file on this worker")
        if _sha256_file(ref.path) != ref.sha256:
            raise KinviewError(f"{ref.path}: the model file on this worker differs from the client's")

        setup_keras(threads=_worker_threads())
        model = load_model(ref.path)
        shape = getattr(model, "input_shape", None)       # imported models: an adapter
        shape = tuple(shape[1:]) if isinstance(shape, tuple) else None
        if shape is not None and shape != (image_size, image_size, 3):
            raise KinviewError(f"{ref.path}: the model takes inputs of shape {shape}, not the "
                               f"task's {image_size}×{image_size}×3 colour images")
        _MODELS.clear()
        _MODELS[key] = model
        MODEL_LOADS[0] += 1
        return model


def model_loads() -> int:
    """Models loaded by this process so far (run on workers with ``client.run``)."""
    return MODEL_LOADS[0]


def _predict_fixed(model, X: np.ndarray, batch_size: int) -> np.ndarray:
    """Network outputs for ``X`` in batches of exactly ``batch_size`` (the last padded), so the
    backend traces one function however many images a batch lost to flags."""
    out = []
    for s in range(0, len(X), batch_size):
        xb = X[s:s + batch_size]
        m = len(xb)
        if m < batch_size:
            xb = np.concatenate([xb, np.zeros((batch_size - m,) + xb.shape[1:], xb.dtype)])
        out.append(np.asarray(model.predict_on_batch(xb))[:m])
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


# ----------------------------------------------------------------------------- one partition
@dataclass(frozen=True)
class PredictJob:
    """Everything a worker needs besides the partition (small: sent with every task)."""

    task: str
    model: ModelRef
    catalogue: CataloguePlan       # without its partition list
    images: str
    batch_size: int = DEFAULT_BATCH_SIZE


def _image_file(images: Path, sid: str) -> Optional[Path]:
    for suffix in IMAGE_SUFFIXES:
        p = images / f"{sid}{suffix}"
        if p.is_file():
            return p
    return None


def _one_blas_thread():
    """Single-threaded BLAS for the per-image resampling (:mod:`kinview.blas_threads`): its
    matrices are tiny, and a threaded BLAS only spins (0.67 ms per 128-pixel image with one
    thread, 36 ms with two on a busy machine)."""
    return single_threaded()


def _load_batch(task, images: Path, ids) -> tuple:
    """(uint8 inputs (n, s, s, 3), flags int16 (n,), errors list) for one batch of ids."""
    s = int(task.image_size)
    u8 = np.zeros((len(ids), s, s, 3), np.uint8)
    flags = np.zeros(len(ids), np.int16)
    errors = [None] * len(ids)
    for j, sid in enumerate(ids):
        if not sid or "/" in sid or "\\" in sid or sid.startswith("."):
            flags[j], errors[j] = FLAG_NO_ID, ("no id" if not sid else f"invalid id {sid!r}")
            continue
        path = _image_file(images, sid)
        if path is None:
            flags[j], errors[j] = FLAG_NO_IMAGE, f"no image {sid}.jpg"
            continue
        try:
            u8[j] = task.image_input(load_image(path))
        except (KinviewError, OSError, ValueError) as exc:
            flags[j], errors[j] = FLAG_BAD_IMAGE, str(exc).splitlines()[0][:300]
    return u8, flags, errors


def predict_partition(part: Partition, job: PredictJob):
    """Predict one catalogue partition (runs on a worker, or in this process).

    Returns
    -------
    (DataFrame, dict)
        The partition's output rows (columns in the module docstring) and ``{"seconds",
        "worker", "flagged"}``.
    """
    t0 = time.perf_counter()
    task = get(job.task)
    model = worker_model(job.model, int(task.image_size))
    rows = read_partition(job.catalogue, part)
    n = len(rows)
    value = np.full(n, np.nan)
    conf = np.full(n, np.nan)
    flags = np.zeros(n, np.int16)
    errors = np.full(n, None, dtype=object)
    images = Path(job.images)
    ids = rows["id"].tolist()
    bs = int(job.batch_size)
    for s in range(0, n, bs):
        chunk = ids[s:s + bs]
        with _one_blas_thread():
            u8, f, e = _load_batch(task, images, chunk)
        flags[s:s + len(chunk)] = f
        errors[s:s + len(chunk)] = e
        ok = np.flatnonzero(f == 0)
        if len(ok) == 0:
            continue
        X = u8[ok].astype(np.float32) / 255.0
        pred = _predict_fixed(model, X, min(bs, n))      # one shape per partition size
        ds = Dataset(X=X, y=np.full(len(ok), np.nan, np.float32), ids=[(chunk[k], "galaxy") for k in ok],
                     groups=np.asarray([chunk[k] for k in ok], dtype=object))
        for k, (_, _, v, c, _) in zip(ok, task.to_predictions(pred, ds)):
            value[s + k] = np.nan if v is None else float(v)
            conf[s + k] = np.nan if c is None else float(c)
    df = pd.DataFrame({"row": rows["row"].to_numpy(np.int64),
                       job.catalogue.id_name: rows["id"].astype(str).to_numpy(),
                       "ra": rows["ra"].to_numpy(float), "dec": rows["dec"].to_numpy(float),
                       "value": value, "confidence": conf, "flag": flags,
                       "error": pd.array(errors, dtype="string")})
    try:
        from distributed import get_worker

        where = get_worker().address
    except (ImportError, ValueError):
        where = "client"
    return df, {"seconds": time.perf_counter() - t0, "worker": where, "flagged": int((flags != 0).sum())}


# ----------------------------------------------------------------------------- the whole run
def _version() -> str:
    return __version__


def predict_catalogue(task, catalogue: Union[str, Path], images: Union[str, Path], out: Union[str, Path],
                      scheduler: Any = None, workers: Optional[int] = None, model: Optional[str] = None,
                      survey: Optional[Union[str, Path]] = None,
                      partition_rows: Optional[int] = None, batch_size: int = DEFAULT_BATCH_SIZE,
                      overwrite: bool = False, memory_limit: Any = "auto",
                      state: TaskState = NULL_STATE) -> Dict[str, Any]:
    """Predict an image task for every row of a catalogue into partitioned Parquet.

    Parameters
    ----------
    task : str or Task
        A task with ``image_size`` (see :func:`image_tasks`).
    catalogue : path-like
        Parquet, FITS or CSV with ``plateifu`` or ``objid`` (``specobjid``) and ``ra``, ``dec``.
    images : path-like
        Directory of ``<id>.jpg`` colour cutouts (``.jpeg``/``.png`` also found).
    out : path-like
        Output directory ``PRED.parquet`` (created; resumed when it holds parts of the same run).
    scheduler : str, Client or cluster, optional
        See :func:`kinview.batch.engine.dask_client`; None starts a local cluster.
    workers : int, optional
        Local cluster size (default: CPU cores); 0 predicts in this process without Dask.
    model : str, optional
        ``.keras`` path or a model id of ``survey``; default: the survey's active model, else
        the shipped one.
    survey : path-like, optional
        Survey whose model registry ``model`` ids refer to.
    partition_rows : int, optional
        Rows per task and output part (default: n/64 clipped to [500, 10,000], see
        :func:`kinview.batch.catalogue.default_partition_rows`).
    batch_size : int
        Images per network call.
    overwrite : bool
        Replace an existing output of another run instead of refusing.
    memory_limit : str or int
        Per local worker (Dask syntax, e.g. ``"2GiB"``).
    state : TaskState
        Progress in catalogue rows; cancellation.

    Returns
    -------
    dict
        ``rows``, ``parts``, ``parts_done`` (this run), ``parts_skipped`` (already there),
        ``rows_done``, ``flagged``, ``seconds``, ``images_per_second`` (rows of this run per
        second of wall time), ``where``, ``out``, ``model_id``.

    Raises
    ------
    KinviewError
        Bad catalogue, task without image input, model problems, a failed partition.
    KeyboardInterrupt, kinview.errors.Cancelled
        After writing every part already received; rerun to finish.
    """
    t0 = time.perf_counter()
    task = get(task) if isinstance(task, str) else task
    if not getattr(task, "image_size", None):
        raise KinviewError(f"task {task.name} does not predict from images; --catalogue works for: "
                           f"{', '.join(image_tasks()) or 'no task'}")
    if int(batch_size) < 1:
        raise KinviewError(f"--batch-size must be at least 1, not {batch_size}")
    images = Path(images).expanduser().resolve()
    if not images.is_dir():
        raise KinviewError(f"{images}: no such image directory")
    plan = plan_catalogue(catalogue, partition_rows)
    ref = resolve_model(task, model, survey)
    manifest = {"task": task.name, "model_id": ref.model_id, "model_path": ref.path,
                "model_sha256": ref.sha256, "model_card_sha256": ref.card_sha256,
                "model_architecture": ref.card.get("architecture"),
                "kinview_version": _version(), "catalogue": plan.path,
                "catalogue_format": plan.format, "catalogue_fingerprint": plan.fingerprint,
                "id_column": plan.id_name, "n_rows": plan.n_rows,
                "partition_rows": plan.partitions[0].n_rows, "n_parts": len(plan.partitions),
                "images": str(images), "target": task.target, "kind": task.kind,
                "flags": {"1": "no id", "2": "no image file", "4": "unreadable image"},
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    done = open_output(out, manifest, overwrite=overwrite)
    todo = [p for p in plan.partitions if p.index not in done]
    job = PredictJob(task.name, ref, replace(plan, partitions=()), str(images), int(batch_size))
    summary = {"rows": plan.n_rows, "parts": len(plan.partitions), "parts_done": 0,
               "parts_skipped": len(plan.partitions) - len(todo), "rows_done": 0, "flagged": 0,
               "out": str(Path(out).expanduser()), "model_id": ref.model_id, "where": ""}
    state.set_total(sum(p.n_rows for p in todo))
    state.set_progress(0)
    if todo:
        with dask_client(scheduler, workers, memory_limit=memory_limit) as client:
            summary["where"] = describe(client)
            state.set_status(f"{len(todo)} parts {summary['where']}")
            t_run = time.perf_counter()
            for i, (df, info) in run_tasks(client, predict_partition, todo, (job,), state,
                                           name=f"kinview-predict-{task.name}"):
                part = todo[i]
                write_part(out, part.index, df, manifest,
                           {"part": part.index, "start": part.start, "stop": part.stop,
                            "worker": info["worker"], "seconds": round(info["seconds"], 3)})
                summary["parts_done"] += 1
                summary["rows_done"] += len(df)
                summary["flagged"] += info["flagged"]
                state.advance(len(df))
            summary["run_seconds"] = time.perf_counter() - t_run
    summary["seconds"] = time.perf_counter() - t0
    run_s = summary.get("run_seconds") or summary["seconds"]
    summary["images_per_second"] = summary["rows_done"] / run_s if run_s > 0 else 0.0
    return summary
