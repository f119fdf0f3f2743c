"""How good is the model, measured on which samples: a small panel shared by the Training dock
and the Model tab.

It shows, for the chosen task, the active model's held-out test-split figures and the latest
out-of-fold run (``kinview evaluate TASK --survey DIR --oof K``), each with 95 % bootstrap
intervals and a line saying which samples they use (e.g. "out-of-fold, 153 labelled fields,
5 folds" against "held-out test split, n=31"), and a button that runs a 5-fold out-of-fold
check in the background.  The figures come from :func:`kinview.training.oof.evaluation_summary`
(read in a worker); nothing here names a task.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

from PyQt5 import QtCore, QtWidgets

from kinview.gui import worker
from kinview.training.oof import evaluate_oof, evaluation_summary, summary_line

OOF_FOLDS = 5


def _summary_job(survey_dir: str, task: str):
    return evaluation_summary(survey_dir, task)


def _oof_job(task: str, survey_dir: str, k: int, state):
    return evaluate_oof(task, survey_dir, k=k, state=state)


class EvaluationView(QtWidgets.QWidget):
    """Held-out and out-of-fold figures of one task on one survey.

    Signals
    -------
    refreshed(dict)   the summary just shown (:func:`~kinview.training.oof.evaluation_summary`)
    oof_finished(dict) an out-of-fold run started here finished (its result)
    """

    refreshed = QtCore.pyqtSignal(object)
    oof_finished = QtCore.pyqtSignal(object)

    def __init__(self, survey_dir=None, task: Optional[str] = None, parent=None):
        super().__init__(parent)
        self.survey_dir = Path(survey_dir) if survey_dir else None
        self.task = task
        self.summary: Optional[dict] = None
        self.job = None
        self._pending = False
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.text = QtWidgets.QLabel("")
        self.text.setWordWrap(True)
        self.text.setTextFormat(QtCore.Qt.RichText)
        self.text.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        lay.addWidget(self.text)
        row = QtWidgets.QHBoxLayout()
        self.oof_button = QtWidgets.QPushButton(f"Out-of-fold check ({OOF_FOLDS} folds)")
        self.oof_button.setToolTip("Train the recipe K times, each time holding out a fifth of the "
                                   "labelled galaxies, and score every label once (in the background)")
        self.oof_button.setFocusPolicy(QtCore.Qt.NoFocus)
        self.oof_button.clicked.connect(lambda: self.run_oof())
        row.addWidget(self.oof_button)
        row.addStretch(1)
        lay.addLayout(row)

    def set_task(self, task: Optional[str]) -> None:
        if task != self.task:
            self.task = task
            self.refresh()

    def refresh(self) -> None:
        """Re-read the figures (worker); :attr:`refreshed` fires when they are shown."""
        if not self.task or self.survey_dir is None:
            self.text.setText("")
            return
        job = worker.submit(_summary_job, str(self.survey_dir), self.task, pass_state=False)
        job.finished.connect(self._show)
        job.failed.connect(lambda exc, tb: self.text.setText(
            f"<span style='color:#b00000'>cannot read the evaluation: {html.escape(str(exc))}</span>"))

    def _show(self, summary: dict) -> None:
        if summary.get("task") != self.task:
            return
        self.summary = summary
        head = summary.get("headline") or []
        parts = []
        for key, title in (("test", "active model"), ("oof", "recipe")):
            block = summary.get(key)
            if not block:
                continue
            who = (f"model #{block['model_id']} ({block['architecture']})" if key == "test"
                   else f"run #{block['run_id']} ({block['architecture']}, {block.get('created', '')[:16]})")
            note = ""
            if key == "oof" and block.get("same_labels_as_active_model") is False:
                note = " <i>(labels changed since)</i>"
            parts.append(f"<b>{html.escape(block['samples'])}</b> — {title}, {html.escape(who)}{note}<br>"
                         f"{html.escape(summary_line(block, head))}")
        if not parts:
            parts.append("no held-out figures yet: train a model, or run an out-of-fold check")
        else:
            parts.append("<span style='color:#555555'>[95% bootstrap intervals over galaxies]</span>")
        self.text.setText("<br>".join(parts))
        self.refreshed.emit(summary)

    def is_running(self) -> bool:
        return self.job is not None

    def run_oof(self, k: int = OOF_FOLDS):
        """Start a K-fold out-of-fold run in the background; returns its worker (None if busy)."""
        if self.job is not None or not self.task or self.survey_dir is None:
            return None
        self.oof_button.setEnabled(False)
        self.oof_button.setText("out-of-fold check running…")
        job = worker.submit_long(_oof_job, self.task, str(self.survey_dir), int(k))
        self.job = job
        job.finished.connect(self._oof_done)
        job.failed.connect(lambda exc, tb: self.text.setText(
            f"<span style='color:#b00000'>out-of-fold check failed: "
            f"{html.escape(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}</span>"))
        job.done.connect(self._oof_over)
        return job

    def _oof_done(self, result: dict) -> None:
        self.oof_finished.emit(result)
        self.refresh()

    def _oof_over(self) -> None:
        self.job = None
        self.oof_button.setEnabled(True)
        self.oof_button.setText(f"Out-of-fold check ({OOF_FOLDS} folds)")

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
