"""Asking who is labelling: the first-run prompt and File ▸ Switch expert."""
from __future__ import annotations

from typing import Iterable, Optional

from PyQt5 import QtCore, QtWidgets

from kinview.errors import KinviewError
from kinview.labels.experts import validate_expert


class ExpertDialog(QtWidgets.QDialog):
    """An editable list of the survey's experts; OK only with a usable name.

    Parameters
    ----------
    current : str
        The name shown first.
    known : iterable of str
        Experts who already labelled this survey (offered in the list).
    first_run : bool
        Word the dialog as the first-run question.
    """

    def __init__(self, current: str = "", known: Iterable[str] = (), first_run: bool = False,
                 parent=None):
        super().__init__(parent)
        self.setObjectName("expert-dialog")
        self.setWindowTitle("kinview — who is labelling?" if first_run else "kinview — switch expert")
        lay = QtWidgets.QVBoxLayout(self)
        text = ("<b>Welcome to kinview.</b> Every label you give is stored under your name, so that "
                "several experts can label the same survey and be compared. What is your name?"
                if first_run else
                "Labels from now on are stored under this name; each expert sees and undoes only "
                "their own labels. Pick an expert of this survey or type a new name.")
        intro = QtWidgets.QLabel(text)
        intro.setWordWrap(True)
        intro.setStyleSheet("color:#111111;")
        lay.addWidget(intro)
        self.name = QtWidgets.QComboBox()
        self.name.setEditable(True)
        self.name.setInsertPolicy(QtWidgets.QComboBox.NoInsert)
        names = list(dict.fromkeys([n for n in known if n]))
        if current and current not in names:
            names.insert(0, current)
        self.name.addItems(names)
        self.name.setCurrentText(current)
        lay.addWidget(self.name)
        self.error = QtWidgets.QLabel("")
        self.error.setStyleSheet("color:#b00000;")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        box = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Ok | QtWidgets.QDialogButtonBox.Cancel)
        box.accepted.connect(self._accept)
        box.rejected.connect(self.reject)
        lay.addWidget(box)
        self.setMinimumWidth(420)
        self.value: Optional[str] = None
        self.name.lineEdit().selectAll()
        self.name.setFocus(QtCore.Qt.OtherFocusReason)

    def _accept(self) -> None:
        try:
            self.value = validate_expert(self.name.currentText())
        except KinviewError as exc:
            self.error.setText(str(exc))
            return
        self.accept()


def ask_expert(parent, current: str = "", known: Iterable[str] = (),
               first_run: bool = False) -> Optional[str]:
    """Show :class:`ExpertDialog` modally; return the chosen name, or None when cancelled."""
    dlg = ExpertDialog(current, known, first_run, parent)
    return dlg.value if dlg.exec_() == QtWidgets.QDialog.Accepted else None
