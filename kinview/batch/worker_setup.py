"""Dask worker preload of kinview's local clusters: Ctrl-C belongs to the client.

A terminal's Ctrl-C reaches every process of the foreground group, local Dask workers
included.  The client cancels the work and closes the cluster itself
(:func:`kinview.batch.engine.run_tasks`); a worker that also raised KeyboardInterrupt would
only print a traceback on the way down.
"""
from __future__ import annotations

import signal
import threading


def dask_setup(worker=None) -> None:
    """Ignore SIGINT in this worker process (called by Dask when the worker starts)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
