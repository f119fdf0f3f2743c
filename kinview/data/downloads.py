"""The one HTTP download machinery of kinview: retries, partial files, a pool of workers.

Both clients use it: the image cutouts (:mod:`kinview.data.fetch_images`) and the SAS MAPS
files and catalogues (:mod:`kinview.data.fetch_sas`).  What they share:

- :class:`Downloader`: one :class:`requests.Session` per worker thread; :meth:`Downloader.fetch`
  retries a file with exponential back-off (``backoff * 2**attempt`` seconds with a little
  jitter, or the server's ``Retry-After``, at most :data:`MAX_RETRY_AFTER`) on
  :class:`Transient` failures (connection errors, timeouts, HTTP 5xx and 429, bad bodies) and
  gives up at once on :class:`Permanent` ones (other 4xx); :meth:`Downloader.write_body`
  streams a body to a partial file, checking for cancellation between chunks and counting
  the bytes.  A client subclasses it and writes ``_download(url, target)``: where the
  partial file lives, whether it resumes, how the content is verified before it is moved
  into place.
- :func:`download_all`: ``jobs`` workers over a list of files, one progress step of the
  :class:`~kinview.progress.TaskState` per file, cancellation within a chunk or a back-off,
  and one clear line when the host cannot be reached at all (no point trying the others).
"""
from __future__ import annotations

import math
import os
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

from kinview.data import net_errors
from kinview.errors import KinviewError
from kinview.progress import TaskState

#: Longest wait honoured from a ``Retry-After`` header (seconds).
MAX_RETRY_AFTER = 60.0
USER_AGENT = "kinview (MaNGA kinematics labelling; +https://www.sdss.org)"
#: The error :meth:`Downloader.fetch` returns for a file it stopped because of a cancel.
CANCELLED = "cancelled"


class Permanent(Exception):
    """A failure that retrying will not fix (HTTP 4xx other than 429)."""


class Transient(Exception):
    """A failure worth retrying; ``retry_after`` in seconds when the server said."""

    def __init__(self, message: str, retry_after: Optional[float] = None):
        super().__init__(message)
        self.retry_after = retry_after


def retry_after(headers) -> Optional[float]:
    """The ``Retry-After`` of a response in seconds (0 .. :data:`MAX_RETRY_AFTER`), or None."""
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER)) if math.isfinite(seconds) else None


class Downloader:
    """Retrying downloads of single files, shared by worker threads.

    Parameters
    ----------
    retries : int
        Retries per file after the first attempt, on :class:`Transient` failures.
    backoff : float
        First back-off in seconds, doubled after each retry.
    timeout : float
        Seconds per HTTP request (connect and read).
    state : TaskState
        Cancellation (progress is :func:`download_all`'s).
    stop : threading.Event
        Set to stop every worker (a cancel, an unreachable host).

    Attributes
    ----------
    n_retries : int
        Requests that were retried.
    n_bytes : int
        Body bytes received (a resumed file counts only what was new).
    """

    def __init__(self, retries: int, backoff: float, timeout: float, state: TaskState,
                 stop: threading.Event):
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.state = state
        self.stop = stop
        self._local = threading.local()
        self._sessions: List[object] = []
        self._lock = threading.Lock()
        self.n_retries = 0
        self.n_bytes = 0

    def session(self):
        """This thread's :class:`requests.Session`."""
        s = getattr(self._local, "session", None)
        if s is None:
            import requests

            s = requests.Session()
            s.headers["User-Agent"] = USER_AGENT
            self._local.session = s
            with self._lock:
                self._sessions.append(s)
        return s

    def close(self) -> None:
        """Close every thread's session."""
        with self._lock:
            for s in self._sessions:
                try:
                    s.close()
                except Exception:  # noqa: BLE001
                    pass
            self._sessions.clear()

    def cancelled(self) -> bool:
        """True once the run is to stop (a cancel also stops the other workers)."""
        if self.stop.is_set() or self.state.cancelled:
            self.stop.set()
            return True
        return False

    def _sleep(self, seconds: float) -> None:
        # Interruptible wait: a cancel stops the back-off at once.
        end = time.monotonic() + seconds
        while not self.stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            self.stop.wait(min(left, 0.05))
            if self.state.cancelled:
                self.stop.set()

    def fetch(self, key: str, url: str, target: Path) -> Tuple[str, Optional[str]]:
        """Download ``url`` to ``target`` with retries; return ``(key, error or None)``
        (error :data:`CANCELLED` when stopped by a cancel)."""
        last = "not tried"
        for attempt in range(self.retries + 1):
            if self.cancelled():
                return key, CANCELLED
            if attempt:
                with self._lock:
                    self.n_retries += 1
            try:
                self._download(url, target)
                return key, None
            except Permanent as exc:
                return key, str(exc)
            except Transient as exc:
                if self.cancelled():
                    return key, CANCELLED
                last = str(exc)
                if attempt == self.retries:
                    break
                wait_s = exc.retry_after if exc.retry_after is not None else \
                    self.backoff * (2 ** attempt) * (1.0 + 0.25 * random.random())
                self._sleep(min(wait_s, MAX_RETRY_AFTER))
        return key, f"gave up after {self.retries + 1} attempts: {last}"

    def write_body(self, chunks: Iterable[bytes], path: Path, mode: str = "wb") -> None:
        """Write a response body to ``path`` (``"ab"``: append, for a resumed file), flushed
        to disk; :class:`Transient` ``cancelled`` as soon as the run is stopped."""
        with open(path, mode) as fh:
            for chunk in chunks:
                if self.cancelled():
                    raise Transient(CANCELLED)
                fh.write(chunk)
                with self._lock:
                    self.n_bytes += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())

    def _download(self, url: str, target: Path) -> None:
        """One attempt: fetch ``url`` into ``target`` (complete and verified, or not at all);
        raise :class:`Transient` or :class:`Permanent`."""
        raise NotImplementedError


def download_all(loader: Downloader, todo: Sequence[Tuple[str, str, Path]], jobs: int,
                 state: TaskState, on_result: Callable[[str, Optional[str]], None],
                 thread_name: str = "kinview-download") -> bool:
    """Download files with ``jobs`` workers; return whether the run was cancelled.

    Parameters
    ----------
    loader : Downloader
        Its ``stop`` event is set when the run stops early.
    todo : sequence of (key, url, target)
    jobs : int
        Worker threads.
    state : TaskState
        One step (:meth:`~kinview.progress.TaskState.advance`) per file done; its cancel
        stops the workers after their current chunk or back-off.
    on_result : callable(key, error)
        Called in this thread for every file, as it finishes: ``error`` None (downloaded),
        :data:`CANCELLED`, or the reason it failed.

    Raises
    ------
    KinviewError
        The first failure, before any file arrived, says the host cannot be reached at all
        (e.g. ``cannot reach data.sdss.org: name resolution failed``): the others are not tried.
    """
    stop = loader.stop
    fetched = 0
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix=thread_name)
    try:
        pending = {pool.submit(loader.fetch, key, url, target) for key, url, target in todo}
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            for future in done:
                key, error = future.result()
                on_result(key, error)
                state.advance()
                if error is None:
                    fetched += 1
                    continue
                cause = error.rpartition("attempts: ")[2]
                if fetched == 0 and net_errors.is_unreachable(cause):
                    stop.set()  # the host cannot be reached: one line, not one per file
                    raise KinviewError(cause)
            if state.cancelled:
                stop.set()
    except BaseException:
        stop.set()
        raise
    finally:
        stopped = stop.is_set()
        pool.shutdown(wait=True, cancel_futures=True)
        loader.close()
    return stopped or state.cancelled
