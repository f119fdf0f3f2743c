"""Fit the stellar and gas PAs of a whole survey: parallel, resumable, safe to interrupt.

Work is split per galaxy (one MAPS file read, both fields fitted) across a process pool.
Results come back to the main process, which alone writes to the survey database
(``pa_fits``), in small transactions (every ``BATCH_ROWS`` rows or ``BATCH_SECONDS``):
an interruption (Ctrl-C, a cancelled :class:`~kinview.progress.TaskState`, a crash) loses at
most the fields in flight and never leaves a half-written row.  Fields that already have a
row for the method are skipped unless ``refit=True``.
"""
from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import kinview
from kinview.batch.engine import dask_client, describe, run_tasks
from kinview.data.maps import read_maps
from kinview.data.survey import Survey
from kinview.db.connection import connect, transaction
from kinview.db.galaxies import count as count_galaxies, maps_paths as galaxy_maps_paths
from kinview.db.pa_fits import count_fitted_fields, fitted_fields, write_fits
from kinview.errors import KinviewError, SurveyError
from kinview.kinematics.pa import METHODS, fit_pa
from kinview.progress import NULL_STATE, TaskState

__all__ = ["fit_survey", "fit_galaxy", "FIELDS"]

FIELDS = ("stellar", "gas")
BATCH_ROWS = 32
BATCH_SECONDS = 1.0

Row = Tuple  # (plateifu, field, method, pa, pa_err, vsyst, n_used, nsteps, reason, seconds)


def _num(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def fit_galaxy(plateifu: str, maps_path: Optional[str], fields: Sequence[str], method: str,
               nsteps: int) -> List[Row]:
    """Read one MAPS file and fit the requested fields; never raises for bad data.

    Returns one row per field for ``pa_fits`` (see :mod:`kinview.db.schema`); failures are
    rows with ``pa = None`` and a reason.  ``seconds`` includes the field's share of the
    file read.
    """
    t0 = time.perf_counter()
    if not maps_path:
        return [(plateifu, f, method, None, None, None, 0, nsteps, "no MAPS file", 0.0)
                for f in fields]
    try:
        maps = read_maps(maps_path)
    except Exception as exc:  # KinviewError for bad files, OSError, ...
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [(plateifu, f, method, None, None, None, 0, nsteps, f"unreadable MAPS: {msg}",
                 time.perf_counter() - t0) for f in fields]
    read_s = (time.perf_counter() - t0) / max(len(fields), 1)
    rows = []
    for f in fields:
        field = maps.field(f)
        if field is None:
            rows.append((plateifu, f, method, None, None, None, 0, nsteps,
                         getattr(maps, "missing", {}).get(f, f"no {f} maps in file"), read_s))
            continue
        try:
            res = fit_pa(field, method=method, nsteps=nsteps)
        except Exception as exc:  # a bug must not stop a survey run: record it
            rows.append((plateifu, f, method, None, None, None, 0, nsteps,
                         f"fit error: {type(exc).__name__}: {exc}"[:200], read_s))
            continue
        rows.append((plateifu, f, method, _num(res.pa), _num(res.pa_err), _num(res.vsys_correction),
                     int(res.n_used), nsteps, res.reason, read_s + res.seconds))
    return rows


def _fit_chunk(items, method, nsteps):
    out = []
    for pifu, path, fields in items:
        out.extend(fit_galaxy(pifu, path, fields, method, nsteps))
    return out


def _worker_init(method: str = "fast"):
    # Ctrl-C goes to the whole process group; only the main process handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _preload(method)


def _write(conn, rows: List[Row]) -> None:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with transaction(conn):
        write_fits(conn, rows, replace=True, created=now)


def _todo(survey, conn, method: str, refit: bool, fields: Sequence[str], any_method: bool = False):
    done = set()
    if not refit:
        done = fitted_fields(conn, None if any_method else method)
    items = []
    for pifu, rel in galaxy_maps_paths(conn):
        need = [f for f in fields if (pifu, f) not in done]
        if need:
            path = str(survey.root / rel) if rel else None
            items.append((pifu, path, need))
    return items


def _preload(method: str) -> None:
    """Import what the workers need once, before forking (each worker would import it)."""
    import importlib

    mods = ["kinview.data.maps", "kinview.kinematics.pa", "scipy.ndimage", "scipy.sparse.linalg",
            "scipy.spatial", "scipy.interpolate"]
    if method == "pafit":
        os.environ.setdefault("MPLBACKEND", "Agg")
        mods.append("pafit.fit_kinematic_pa")
    for name in mods:
        try:
            importlib.import_module(name)
        except ImportError:
            pass   # reported per field by fit_galaxy


#: Environment of the worker processes: one BLAS/OpenMP thread each (the fits are many
#: tiny linear-algebra calls; threaded BLAS only spins, and there is one worker per core).
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "MPLBACKEND": "Agg"}


def _stop_workers(pool) -> None:
    """Terminate the pool's workers now (their fields in flight are lost, nothing else):
    Ctrl-C must end ``kinview pa`` in a second, not when the slowest fit finishes."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            proc.terminate()
        except Exception:  # already gone
            pass


def _worker_env() -> Dict[str, str]:
    """:data:`WORKER_ENV` plus what makes the workers import *this* kinview.

    The forkserver is started with ``python -c``, which puts the working directory first on
    ``sys.path``: a folder named ``kinview`` there would be imported instead of the package.
    ``PYTHONSAFEPATH`` (Python >= 3.11) drops that entry, and the directory holding the
    kinview package this process imported goes first on ``PYTHONPATH``.
    """
    env = dict(WORKER_ENV)
    env["PYTHONSAFEPATH"] = "1"
    home = str(Path(kinview.__file__).resolve().parent.parent)
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != home]
    env["PYTHONPATH"] = os.pathsep.join([home] + rest)
    return env


def _mp_context():
    """A forkserver context (a fresh process: safe after Qt/TF threads, and its numpy reads
    :data:`WORKER_ENV`), with kinview's fitting modules preloaded once for all workers."""
    import multiprocessing as mp

    if sys.platform == "win32":
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["kinview.kinematics.survey_fit", "kinview.data.maps",
                                "scipy.spatial", "scipy.sparse.linalg", "scipy.ndimage",
                                "scipy.interpolate"])
    return ctx


def _start_forkserver(ctx) -> None:
    """Start ``ctx``'s forkserver, if it uses one, with SIGINT blocked.

    The forkserver is in the terminal's process group, so a Ctrl-C reaches it too, and it
    ignores SIGINT only once its start-up imports (scipy, pandas: a second or two on a busy
    machine) are done: a Ctrl-C before that printed their traceback.  It inherits the blocked
    signal (so do the workers it forks, which ignore SIGINT anyway); in this process a
    Ctrl-C that arrives meanwhile stays pending and is handled as soon as it is unblocked.
    """
    if ctx.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver, resource_tracker

    # the resource tracker first: starting it unblocks SIGINT (having spawned its own process
    # with it blocked, the same protection), which would undo the block below
    resource_tracker.ensure_running()
    block = (hasattr(signal, "pthread_sigmask")
             and threading.current_thread() is threading.main_thread())
    if block:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        forkserver.ensure_running()
    finally:
        if block:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _noop() -> None:
    """The forkserver warm-up process's work (none)."""


def _wait_for_forkserver(ctx) -> None:
    """Return once ``ctx``'s forkserver has done its start-up imports and forks at once.

    It starts a process that does nothing: its start waits for the forkserver.  A Ctrl-C
    during that wait interrupts this process at once and the forkserver then forks that empty
    process, which ends on its own; a pool worker requested then would instead find its
    queues' semaphores gone with this process, and print their traceback.
    """
    if ctx.get_start_method() != "forkserver":
        return
    proc = ctx.Process(target=_noop, daemon=True)
    proc.start()
    proc.join()


def _fit_on_dask(scheduler, items, method, nsteps, chunk, state, take, summary) -> None:
    """Fit ``items`` on Dask, handing each chunk's rows to ``take`` (the one writer)."""
    if not items:
        return
    size = chunk or (1 if method == "pafit" else 8)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    with dask_client(scheduler) as client:
        summary["where"] = describe(client)
        summary["jobs"] = sum(int(w.get("nthreads", 1)) for w in
                              client.scheduler_info().get("workers", {}).values())
        for i, rows in run_tasks(client, _fit_chunk, chunks, (method, nsteps), state,
                                 name=f"kinview-pa-{method}"):
            take(rows)
            state.advance(len(chunks[i]))


def _can_start_workers() -> bool:
    """False in a daemonic process (a pool worker's own process may not have children)."""
    import multiprocessing as mp

    return not mp.current_process().daemon


def _fit_in_pool(items, method: str, nsteps: int, jobs: int, chunk: Optional[int],
                 state: TaskState, take, flush_if_due) -> None:
    """Fit ``items`` in ``jobs`` worker processes (one for ``jobs=1``), handing each chunk's
    rows to ``take`` (the one writer, in this process).

    This process only submits, waits and writes: it never sits in compiled fitting code
    (scipy's triangulation and interpolation hold the main thread for seconds on a loaded
    machine, where Python's signal handler cannot run), so Ctrl-C is seen within a
    twentieth of a second (it polls) and the workers are terminated without waiting for the
    fits in flight.
    The workers run with one BLAS/OpenMP thread (:data:`WORKER_ENV`) and import the kinview
    this process imported, whatever the working directory holds (:func:`_worker_env`).
    """
    env = _worker_env()
    saved_env = {k: os.environ.get(k) for k in env}
    os.environ.update(env)    # inherited by the forkserver and workers
    size = chunk or (1 if method == "pafit" else max(1, min(4, len(items) // (jobs * 8))))
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    # Ctrl-C must not interrupt concurrent.futures' internals while the pool runs (a
    # half-acquired lock deadlocks the shutdown): once the forkserver is ready, it is noted
    # and acted on between two waits.  Before that (the forkserver's start-up imports take a
    # second or two on a busy machine) it interrupts at once, as usual.
    interrupted = []
    started = []
    old_handler = None

    def on_sigint(signum, frame):
        if not started:
            raise KeyboardInterrupt
        interrupted.append(True)

    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGINT, on_sigint)
    pool = None
    aborted = False
    try:
        ctx = _mp_context()
        _start_forkserver(ctx)
        _wait_for_forkserver(ctx)
        started.append(True)
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                                   initializer=_worker_init, initargs=(method,))
        it = iter(chunks)
        inflight = {}
        for c in it:
            inflight[pool.submit(_fit_chunk, c, method, nsteps)] = len(c)
            if len(inflight) >= jobs * 2:
                break
        while inflight:
            done, _ = wait(inflight, timeout=0.05, return_when=FIRST_COMPLETED)
            if interrupted:
                raise KeyboardInterrupt
            state.check_cancelled()
            for fut in done:
                n = inflight.pop(fut)
                try:
                    rows = fut.result()
                except BrokenProcessPool as exc:
                    raise KinviewError(
                        f"a PA worker process died ({exc}); the fields fitted "
                        "so far are kept: run the command again to resume") from None
                take(rows)
                state.advance(n)
                nxt = next(it, None)
                if nxt is not None:
                    inflight[pool.submit(_fit_chunk, nxt, method, nsteps)] = len(nxt)
            if not done:
                flush_if_due()
    except BaseException:
        aborted = True
        raise
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
        if pool is not None:
            if aborted:
                _stop_workers(pool)  # a pafit fit in flight can take a minute
            # a finished run joins its idle workers (quick): shutdown(wait=False) left
            # the executor's manager thread closing its wake-up pipe while the
            # interpreter's exit hook wrote to it ("Bad file descriptor" traceback at exit)
            pool.shutdown(wait=not aborted, cancel_futures=True)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def fit_survey(survey_dir, method: str = "fast", jobs: Optional[int] = None,
               refit: bool = False, nsteps: int = 361, state: TaskState = NULL_STATE,
               fields: Sequence[str] = FIELDS, chunk: Optional[int] = None,
               only_unfitted: bool = False, scheduler=None,
               in_process: bool = False) -> Dict[str, object]:
    """Fit the PAs of every galaxy of a survey and store them in ``pa_fits``.

    Parameters
    ----------
    survey_dir : path-like
        The survey directory (ingested first if its database is empty).
    method : {'fast', 'pafit'}
    jobs : int, optional
        Worker processes (default: all CPU cores).  ``jobs=1`` fits in one worker process
        too, so that this process stays responsive to Ctrl-C (see ``in_process``).
    refit : bool
        Refit fields that already have a row for ``method``.
    nsteps : int
        Angles in [0, 180] (361 → 0.5°).
    state : TaskState
        Progress (one step per galaxy) and cancellation.
    fields : sequence of {'stellar', 'gas'}
    chunk : int, optional
        Galaxies per task sent to a worker (default: small, so an interruption loses little).
    only_unfitted : bool
        Skip fields that have a stored fit of *any* method (resuming an interrupted survey
        fit without redoing fields another method already fitted).
    scheduler : str, distributed.Client or cluster, optional
        Fit on Dask instead of a local process pool (``jobs`` is then ignored): a scheduler
        address or file, a dask-jobqueue kind, or a client (see
        :func:`kinview.batch.engine.dask_client`).  Workers read the MAPS files at the paths
        this process sees; results come back here and this process alone writes them.
    in_process : bool
        Fit in this process, one galaxy after another (``jobs`` ignored): no worker start-up,
        but an interruption waits for the compiled code of the fit in progress (seconds on a
        busy machine).  Used anyway inside a daemonic process, which may not start workers.

    Returns
    -------
    dict
        ``{'galaxies', 'fitted', 'failed', 'skipped', 'seconds', 'method', 'jobs',
        'fields_per_second', 'failures'}`` (counts of fields; ``skipped`` already had a row;
        ``failures`` lists ``(plateifu, field, reason)`` of the fields left without a PA).

    Raises
    ------
    SurveyError
        The directory is not a usable survey.
    KeyboardInterrupt, kinview.errors.Cancelled
        After committing every result received so far.
    """
    if method not in METHODS:
        raise KinviewError(f"unknown PA method {method!r}; choose from {', '.join(METHODS)}")
    if int(nsteps) < 3:
        raise KinviewError(f"--nsteps must be at least 3, not {nsteps}")
    nsteps = int(nsteps)
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise KinviewError(f"unknown field(s) {bad}; choose from {FIELDS}")
    t0 = time.perf_counter()
    survey = Survey.open(survey_dir)
    conn = survey.connect()
    try:
        n_gal = count_galaxies(conn)
        if n_gal == 0:
            raise SurveyError(f"{survey.root}: the survey has no galaxies")
        items = _todo(survey, conn, method, refit, fields, any_method=only_unfitted)
        n_all = n_gal * len(fields)
        n_todo = sum(len(it[2]) for it in items)
        summary = {"galaxies": n_gal, "fitted": 0, "failed": 0, "skipped": n_all - n_todo,
                   "method": method, "nsteps": nsteps, "failures": []}
        state.set_total(len(items))
        state.set_status(f"{method}: {len(items)} galaxies to fit")
        jobs = (os.cpu_count() or 1) if jobs is None else max(1, int(jobs))
        summary["jobs"] = jobs
        pending: List[Row] = []
        last = time.monotonic()

        def take(rows):
            pending.extend(rows)
            for r in rows:
                summary["fitted" if r[3] is not None else "failed"] += 1
                if r[3] is None:
                    summary["failures"].append((r[0], r[1], r[8]))
            if len(pending) >= BATCH_ROWS or time.monotonic() - last >= BATCH_SECONDS:
                flush()

        def flush():
            nonlocal last
            if pending:
                _write(conn, pending)
                pending.clear()
            last = time.monotonic()

        try:
            if scheduler is not None:
                _fit_on_dask(scheduler, items, method, nsteps, chunk, state, take, summary)
            elif in_process or not _can_start_workers():
                summary["jobs"] = 1
                for item in items:
                    state.check_cancelled()
                    take(fit_galaxy(item[0], item[1], item[2], method, nsteps))
                    state.advance()
            elif items:
                _fit_in_pool(items, method, nsteps, jobs, chunk, state, take,
                             lambda: time.monotonic() - last >= BATCH_SECONDS and flush())
        finally:
            flush()   # whatever happened, keep every result already received
    finally:
        conn.close()
    summary["seconds"] = time.perf_counter() - t0
    done_fields = summary["fitted"] + summary["failed"]
    summary["fields_per_second"] = done_fields / summary["seconds"] if summary["seconds"] else 0.0
    return summary


def unfitted_fields(survey_dir) -> int:
    """Number of (galaxy, field) pairs with no stored PA fit of any method (0 when the survey
    is fully fitted; failed fits count as fitted: they have a row saying why)."""
    conn = connect(survey_dir)
    try:
        n_gal = count_galaxies(conn)
        n_done = count_fitted_fields(conn)
    finally:
        conn.close()
    return max(n_gal * len(FIELDS) - n_done, 0)


def resume_fits(survey_dir, state: TaskState = NULL_STATE, jobs: Optional[int] = None) -> int:
    """Fit (fast method) every field of the survey that has no stored fit yet: the first fit of
    a new survey, or the rest of one that was interrupted.  Returns the number of fields
    fitted or failed now (0 when nothing was left).  Cancellable through ``state``; the fits
    done so far are committed and the next call goes on from there."""
    if unfitted_fields(survey_dir) == 0:
        return 0
    result = fit_survey(survey_dir, method="fast", jobs=jobs, state=state, only_unfitted=True)
    return int(result.get("fitted", 0)) + int(result.get("failed", 0))
