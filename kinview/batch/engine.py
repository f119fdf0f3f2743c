"""A Dask client for kinview's batch work, and the loop that follows its futures.

:func:`dask_client` gives a :class:`distributed.Client` on

- a new ``LocalCluster`` of worker *processes* on this machine (``workers=N``, one thread
  each, loopback only, BLAS/OpenMP single-threaded),
- any running scheduler: an address (``tcp://host:8786``) or a scheduler file (the JSON that
  ``dask scheduler --scheduler-file`` writes on a shared file system),
- a batch-system cluster started through dask-jobqueue (``slurm``, ``pbs``, ``sge``, ``lsf``,
  ``htcondor``, ``oar``, ``moab``), configured as dask-jobqueue documents
  (``~/.config/dask/jobqueue.yaml``) and scaled to ``workers`` workers,
- or nothing (``workers=0``): the work runs in this process, in order, without Dask.

:func:`run_tasks` submits one task per item and yields results as they complete: a worker
that dies has its tasks rerun elsewhere by the scheduler (each result still arrives once);
Ctrl-C or a cancelled :class:`~kinview.progress.TaskState` cancels every pending task before
the exception propagates, so the caller's ``finally`` can keep what it already received.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple

from kinview.errors import KinviewError
from kinview.progress import NULL_STATE, TaskState

__all__ = ["dask_client", "run_tasks", "WORKER_ENV", "WORKER_MALLOC", "LOCAL_CLUSTER_CONFIG",
           "JOBQUEUE_KINDS", "describe"]

#: Environment of local worker processes: one BLAS/OpenMP thread each (one worker per core).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
              "TF_CPP_MIN_LOG_LEVEL": "1", "TF_ENABLE_ONEDNN_OPTS": "0", "MPLBACKEND": "Agg"}
#: glibc malloc settings of local worker processes, set before they start (Dask's
#: ``pre-spawn-environ``).  Dask's default, ``MALLOC_TRIM_THRESHOLD_=65536``, hands freed
#: memory back to the system at once; image batches then fault their pages in again on
#: every batch (~220 page faults per image), which cost 60 % more CPU per image than the
#: same code in a plain process (measured; README "Beyond one machine").  Memory stays
#: flat without it: a worker's allocations are the same for every batch.
WORKER_MALLOC = {"MALLOC_TRIM_THRESHOLD_": str(1 << 30), "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}
#: Dask settings of kinview's local clusters (scheduler, nannies and workers take them when the
#: cluster starts).  Their defaults feed the dashboard, which a kinview local cluster does not
#: serve, and cost CPU the workers' images need: the statistical profiler samples every worker's
#: stack every 10 ms on its event loop, the event loops tick every 20 ms, system statistics are
#: collected every 0.5 s and the nannies poll their worker's memory every 0.1 s.  With these,
#: the event loops and the client process together spend 0.03 instead of 0.13 ms of CPU per
#: image (measured; README "Scale figures").  Memory is still watched twice a second, so a
#: worker over its limit is still paused and, at 95 %, restarted.
LOCAL_CLUSTER_CONFIG = {"distributed.worker.profile.enabled": False,
                        "distributed.admin.tick.interval": "1s",
                        "distributed.admin.system-monitor.interval": "5s",
                        "distributed.worker.memory.monitor-interval": "500ms"}
#: ``--scheduler`` values that start a dask-jobqueue cluster (class ``<KIND>Cluster``).
JOBQUEUE_KINDS = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
                  "lsf": "LSFCluster", "htcondor": "HTCondorCluster", "oar": "OARCluster",
                  "moab": "MoabCluster"}
POLL_SECONDS = 0.1


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise KinviewError("Dask is not installed: pip install 'dask[distributed]'") from None
    return distributed


@contextlib.contextmanager
def dask_client(scheduler: Any = None, workers: Optional[int] = None,
                memory_limit: Any = "auto", quiet: bool = True) -> Iterator[Any]:
    """A Dask client for the duration of a ``with`` block (``None`` with ``workers=0``).

    Parameters
    ----------
    scheduler : str, distributed.Client or cluster object, optional
        ``tcp://host:port`` (or ``host:port``), a scheduler-file path, a dask-jobqueue kind
        (:data:`JOBQUEUE_KINDS`), an existing client or cluster (used, not closed); None for
        a new local cluster.
    workers : int, optional
        Local cluster: worker processes (default: CPU cores); 0 runs in this process.
        dask-jobqueue: workers to ask the batch system for (default 1).
    memory_limit : str or int
        Per local worker, e.g. ``"2GiB"`` (default ``auto``: the machine's memory / workers).
    quiet : bool
        Log only errors from the local cluster (keeps the progress bar readable).

    Raises
    ------
    KinviewError
        Dask missing, the scheduler unreachable, a bad scheduler file or jobqueue setup.
    """
    if scheduler is None and workers is not None and int(workers) < 0:
        raise KinviewError(f"--workers must be 0 or more, not {workers}")
    if scheduler is None and workers == 0:
        yield None
        return
    distributed = _import_distributed()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if scheduler is not None and not isinstance(scheduler, str):   # a cluster object
        client = distributed.Client(scheduler, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
        return
    cluster = None
    try:
        if scheduler is None:
            import dask

            n = int(workers or os.cpu_count() or 1)
            spawn_env = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_MALLOC.items()}
            with dask.config.set({**LOCAL_CLUSTER_CONFIG, **spawn_env}):
                cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, memory_limit=memory_limit, env=dict(WORKER_ENV),
                    preload=["kinview.batch.worker_setup"],
                    silence_logs=logging.ERROR if quiet else logging.WARNING)
            client = distributed.Client(cluster, set_as_default=False)
        elif scheduler.lower() in JOBQUEUE_KINDS:
            cluster = _jobqueue_cluster(scheduler.lower(), workers)
            client = distributed.Client(cluster, set_as_default=False)
        else:
            client = _connect(distributed, scheduler)
    except KinviewError:
        if cluster is not None:
            cluster.close()
        raise
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _connect(distributed, scheduler: str):
    import dask

    path = Path(scheduler).expanduser()
    timeout = dask.config.get("distributed.comm.timeouts.connect", "30s")
    try:
        if "://" not in scheduler and path.is_file():
            return distributed.Client(scheduler_file=str(path), timeout=timeout, set_as_default=False)
        return distributed.Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KinviewError(f"cannot connect to the Dask scheduler at {scheduler} ({text[:200]})") from None


def _jobqueue_cluster(kind: str, workers: Optional[int]):
    try:
        import dask_jobqueue
    except ImportError:
        raise KinviewError(f"--scheduler {kind} needs dask-jobqueue: pip install 'kinview[jobqueue]'") from None
    try:
        cluster = getattr(dask_jobqueue, JOBQUEUE_KINDS[kind])()
    except Exception as exc:  # noqa: BLE001 - missing cores/memory in jobqueue.yaml, ...
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KinviewError(f"cannot set up a {kind} cluster ({text[:200]}); configure it in "
                           "~/.config/dask/jobqueue.yaml as dask-jobqueue documents") from None
    submit = getattr(getattr(cluster, "job_cls", None), "submit_command", None)
    if submit and shutil.which(str(submit).split()[0]) is None:
        cluster.close()
        raise KinviewError(f"--scheduler {kind}: '{submit}' not found; run on a {kind} login node")
    try:
        cluster.scale(n=int(workers or 1))
    except Exception as exc:  # noqa: BLE001 - sbatch missing, queue refused the job, ...
        cluster.close()
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KinviewError(f"the {kind} batch system refused the worker jobs ({text[:200]})") from None
    return cluster


def describe(client) -> str:
    """One line about where work runs: ``in this process`` or the scheduler and its workers."""
    if client is None:
        return "in this process"
    try:
        info = client.scheduler_info()
        workers = info.get("workers", {})
        threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        return f"{client.scheduler.address}: {len(workers)} workers, {threads} threads"
    except Exception:  # noqa: BLE001 - purely informative
        return str(getattr(client.scheduler, "address", "dask"))


def run_tasks(client, fn: Callable, items: Sequence, args: Tuple = (), state: TaskState = NULL_STATE,
              name: str = "kinview") -> Iterator[Tuple[int, Any]]:
    """Run ``fn(item, *args)`` for every item and yield ``(index, result)`` as each completes.

    Parameters
    ----------
    client : distributed.Client or None
        None runs the items in this process, in order.
    fn : callable
        Importable by the workers (a module-level function of kinview).
    items : sequence
        One task each (small, picklable descriptions of the work, not the data).
    args : tuple
        Extra arguments, the same for every task.
    state : TaskState
        Checked for cancellation between results; progress is the caller's.
    name : str
        Prefix of the task keys (what the Dask dashboard shows).

    Raises
    ------
    KinviewError
        A task failed (its exception's message, one line), or a task's workers kept dying.
    KeyboardInterrupt, kinview.errors.Cancelled
        After cancelling every task not yet finished.
    """
    if client is None:
        for i, item in enumerate(items):
            state.check_cancelled()
            yield i, fn(item, *args)
        return
    distributed = _import_distributed()
    token = uuid.uuid4().hex[:8]
    futures = {}
    for i, item in enumerate(items):
        fut = client.submit(fn, item, *args, key=f"{name}-{i}-{token}", pure=False)
        futures[fut] = i
    interrupted = []
    old = None
    # Ctrl-C must not land inside Dask's own machinery: note it and stop between two polls.
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    ac = distributed.as_completed(list(futures), loop=client.loop)
    try:
        while not ac.is_empty():
            if interrupted:
                raise KeyboardInterrupt
            state.check_cancelled()
            batch = ac.next_batch(block=False)
            if not batch:
                time.sleep(POLL_SECONDS)
                continue
            for fut in batch:
                if interrupted:                 # set while the caller handled a result
                    raise KeyboardInterrupt
                state.check_cancelled()
                i = futures.pop(fut)
                if fut.status != "finished":
                    raise KinviewError(_failure(name, i, fut))
                result = fut.result()
                fut.release()
                yield i, result
    finally:
        if futures:
            try:
                client.cancel(list(futures))
            except Exception:  # noqa: BLE001 - the client may already be closing
                pass
        if old is not None:
            signal.signal(signal.SIGINT, old)


def _failure(name: str, i: int, fut) -> str:
    try:
        exc = fut.exception(timeout=5)
    except Exception as err:  # noqa: BLE001
        exc = err
    if isinstance(exc, KinviewError):
        return str(exc)
    text = str(exc).splitlines()[0] if exc is not None and str(exc) else type(exc).__name__
    if type(exc).__name__ == "KilledWorker":
        return (f"{name} task {i} killed every worker that ran it (out of memory?); "
                f"raise the workers' memory or lower --batch-size ({text[:200]})")
    return f"{name} task {i} failed on a worker: {type(exc).__name__}: {text[:300]}"
