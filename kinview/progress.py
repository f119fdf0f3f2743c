"""Progress and cancellation for long work, shared by the CLI, the GUI and the tests.

Long work in kinview is a plain function that takes a :class:`TaskState` (after Orange's
``run(data, state)``)::

    def fit_survey(survey, state: TaskState = NULL_STATE): ...
        state.set_total(n)
        for i, item in enumerate(items):
            state.check_cancelled()          # raises kinview.errors.Cancelled
            ...
            state.advance()

The command line adapts a state to a tqdm bar (:func:`tqdm_state`); the GUI adapts it to Qt
signals in ``kinview.gui.worker``.  A state never touches widgets: it only calls the callbacks
it was given, from whatever thread the work runs in.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator, Optional

from kinview.errors import Cancelled

Callback = Optional[Callable[..., None]]


class TaskState:
    """Progress, status text, events and a cancel flag for one piece of long work.

    Parameters
    ----------
    on_progress : callable(done, total), optional
        Called when progress changes; ``total`` may be None when unknown.
    on_status : callable(text), optional
        Called with a short human-readable status line.
    on_event : callable(kind, payload), optional
        Called for structured events, e.g. ``("epoch", {"epoch": 3, "loss": 0.2})`` or
        ``("prediction", {...})``.  Used by the GUI's live training plot.
    """

    def __init__(self, on_progress: Callback = None, on_status: Callback = None,
                 on_event: Callback = None):
        self._on_progress = on_progress
        self._on_status = on_status
        self._on_event = on_event
        self._cancel = threading.Event()
        self.done = 0
        self.total: Optional[int] = None
        self.status = ""

    # progress -------------------------------------------------------------
    def set_total(self, total: Optional[int]) -> None:
        self.total = total
        self._progress()

    def set_progress(self, done: int, total: Optional[int] = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        self._progress()

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._progress()

    def _progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.done, self.total)

    # status and events ----------------------------------------------------
    def set_status(self, text: str) -> None:
        self.status = text
        if self._on_status is not None:
            self._on_status(text)

    def emit(self, kind: str, payload: Any = None) -> None:
        if self._on_event is not None:
            self._on_event(kind, payload)

    # cancellation ---------------------------------------------------------
    def cancel(self) -> None:
        """Ask the work to stop at its next :meth:`check_cancelled`."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`kinview.errors.Cancelled` if :meth:`cancel` was called."""
        if self._cancel.is_set():
            raise Cancelled()


class _NullState(TaskState):
    """A state that reports nowhere and is never cancelled (the default argument)."""

    def cancel(self) -> None:  # pragma: no cover - the shared null state must stay usable
        raise RuntimeError("NULL_STATE cannot be cancelled; pass your own TaskState")


NULL_STATE = _NullState()


@contextlib.contextmanager
def tqdm_state(desc: str, unit: str = "it", disable: Optional[bool] = None) -> Iterator[TaskState]:
    """A :class:`TaskState` that drives a tqdm progress bar on stderr.

    The bar is shown only on a terminal unless ``disable=False``; Ctrl-C raises
    KeyboardInterrupt in the caller as usual, and the work is expected to leave everything it
    has already committed intact.
    """
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit=unit, disable=disable, dynamic_ncols=True, leave=True)

    def on_progress(done, total):
        if total is not None and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    def on_status(text):
        bar.set_postfix_str(text, refresh=True)

    def on_event(kind, payload):
        if kind == "epoch" and isinstance(payload, dict):
            shown = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in payload.items()
                     if k != "epoch"}
            bar.set_postfix(shown, refresh=True)

    state = TaskState(on_progress=on_progress, on_status=on_status, on_event=on_event)
    try:
        yield state
    finally:
        bar.close()
