"""File-menu actions for surveys: Open survey…, Recent surveys, Add galaxies….

- **Open survey…** picks a directory and opens it in a new window (the old one closes after
  saving its settings); every opened survey goes first in ``Settings.recent_surveys``.
- **Add galaxies…** takes pasted plate-IFUs, a release and a DAPTYPE, and downloads their
  MAPS files into the current survey with :func:`kinview.data.fetch_sas.fetch_maps` in a
  worker, behind a cancellable progress dialog; then the survey is opened again with them.

Only widgets live here: parsing, paths and downloads are plain functions of
:mod:`kinview.data.sas` and :mod:`kinview.data.fetch_sas`.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from PyQt5 import QtCore, QtWidgets

from kinview.data import sas
from kinview.data.fetch_sas import fetch_maps
from kinview.errors import KinviewError
from kinview.gui import worker
from kinview.gui.main_window import MainWindow

#: Windows opened from a menu are kept here (Qt would otherwise collect them).
_WINDOWS: List[QtWidgets.QMainWindow] = []


def open_survey(window, survey_dir) -> QtWidgets.QMainWindow:
    """Open ``survey_dir`` in a new MainWindow in place of ``window``; return the new one."""
    path = Path(survey_dir).expanduser().resolve()
    if not path.is_dir():
        raise KinviewError(f"{path}: no such survey directory")
    # Closing a main window closes every other kinview window, so the old one goes first;
    # the application must not quit in between, when no window is open.
    app = QtWidgets.QApplication.instance()
    quit_on_last = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)
    try:
        size = window.size()
        window.close()                      # saves its settings (position, filters, layout)
        new = MainWindow(path, expert=window.state.expert, settings=window.settings)
        # as at start-up: unfinished PA fits resume, then the shipped models' predictions
        new.table_loaded.connect(new.start_pa_fits)
        new.resize(size)
        new.setAttribute(QtCore.Qt.WA_DeleteOnClose, True)
        new.show()
    finally:
        app.setQuitOnLastWindowClosed(quit_on_last)
    _WINDOWS.append(new)
    new.destroyed.connect(lambda *_: new in _WINDOWS and _WINDOWS.remove(new))
    return new


class AddGalaxiesDialog(QtWidgets.QDialog):
    """Plate-IFUs (pasted, any separator), release, DAPTYPE and SAS mirror."""

    def __init__(self, parent=None):
        super().__init__(parent)

        self.setWindowTitle("Add galaxies from the SDSS SAS")
        self.text = QtWidgets.QPlainTextEdit()
        self.text.setPlaceholderText("plate-IFUs, e.g.\n7815-3702\n8485-1901, 8138-12704")
        self.release = QtWidgets.QComboBox()
        self.release.addItems(list(sas.RELEASES))
        self.daptype = QtWidgets.QComboBox()
        self.base_url = QtWidgets.QLineEdit(sas.base_url(""))
        self.release.currentTextChanged.connect(self._daptypes)
        self._daptypes(self.release.currentText())
        self.error = QtWidgets.QLabel("")
        self.error.setStyleSheet("color:#b00000")
        form = QtWidgets.QFormLayout()
        form.addRow("Plate-IFUs", self.text)
        form.addRow("Release", self.release)
        form.addRow("DAPTYPE", self.daptype)
        form.addRow("SAS root", self.base_url)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Ok
                                             | QtWidgets.QDialogButtonBox.Cancel)
        buttons.button(QtWidgets.QDialogButtonBox.Ok).setText("Download")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.plateifus: List[str] = []

    def _daptypes(self, release: str) -> None:
        rel = sas.release(release)
        self.daptype.clear()
        self.daptype.addItems(list(rel.daptypes))
        self.daptype.setCurrentText(rel.default_daptype)

    def _accept(self) -> None:
        try:
            self.plateifus = sas.parse_plateifu_list(self.text.toPlainText())
            if not self.plateifus:
                raise KinviewError("paste at least one plate-IFU")
            sas.base_url(self.base_url.text())
        except KinviewError as exc:
            self.error.setText(str(exc))
            return
        self.accept()

    def request(self) -> dict:
        return dict(plateifus=self.plateifus, release=self.release.currentText(),
                    daptype=self.daptype.currentText(), base_url=self.base_url.text().strip())


def start_add_galaxies(window, plateifus, release: str, daptype: str,
                       base_url: Optional[str] = None) -> worker.Worker:
    """Download MAPS files in a worker with a cancellable progress dialog; reopen when done."""
    dialog = QtWidgets.QProgressDialog(f"Downloading {len(plateifus)} MAPS file(s)…",
                                       "Cancel", 0, max(1, len(plateifus)), window)
    dialog.setWindowTitle("Add galaxies")
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    w = worker.submit_long(fetch_maps, str(window.survey_dir), list(plateifus), release=release,
                      daptype=daptype, base_url=base_url or None)
    window.add_galaxies_worker = w
    window.add_galaxies_dialog = dialog
    w.progress.connect(lambda done, total: (dialog.setMaximum(max(1, int(total or 1))),
                                            dialog.setValue(int(done))))
    w.status.connect(dialog.setLabelText)
    dialog.canceled.connect(w.cancel)

    def finished(report):
        dialog.close()
        failed = "; ".join(f"{k}: {v}" for k, v in list(report.failed.items())[:3])
        msg = (f"added {report.fetched} galaxies ({report.skipped} were here)"
               + (f"; failed {failed}" if failed else ""))
        window.statusBar().showMessage(msg, 15000)
        window.add_galaxies_report = report
        if report.fetched:
            new = open_survey(window, window.survey_dir)
            new.statusBar().showMessage(msg, 15000)

    def failed(exc, tb):
        dialog.close()
        window.statusBar().showMessage(f"add galaxies: {exc}", 15000)
        window.add_galaxies_error = str(exc)

    def cancelled():
        dialog.close()
        window.add_galaxies_cancelled = True
        window.statusBar().showMessage("add galaxies: cancelled; nothing half-written", 8000)

    w.finished.connect(finished)
    w.failed.connect(failed)
    w.cancelled.connect(cancelled)
    return w


def install(window) -> None:
    """Add Open survey…, Recent surveys and Add galaxies… to the window's File menu."""
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    first = file_menu.actions()[0] if file_menu.actions() else None

    def add(text, keys, slot):
        act = QtWidgets.QAction(text, window)
        if keys:
            act.setShortcut(keys)
        act.triggered.connect(lambda _=False: slot())
        file_menu.insertAction(first, act)
        return act

    def choose():
        path = QtWidgets.QFileDialog.getExistingDirectory(window, "Open survey",
                                                          str(window.survey_dir.parent))
        if path:
            _open_or_report(window, path)

    def add_galaxies():
        dialog = AddGalaxiesDialog(window)
        if dialog.exec_() == QtWidgets.QDialog.Accepted:
            start_add_galaxies(window, **dialog.request())

    window.open_survey_action = add("Open survey…", "Ctrl+O", choose)
    recent = QtWidgets.QMenu("Recent surveys", file_menu)
    file_menu.insertMenu(first, recent)
    window.recent_menu = recent
    window.add_galaxies_action = add("Add galaxies…", None, add_galaxies)
    file_menu.insertSeparator(first)
    window.settings.add_recent(window.survey_dir)
    for path in window.settings.recent_surveys:
        if Path(path) == window.survey_dir:
            continue
        act = recent.addAction(path)
        act.triggered.connect(lambda _=False, p=path: _open_or_report(window, p))
    recent.setEnabled(bool(recent.actions()))


def _open_or_report(window, path) -> None:
    try:
        open_survey(window, path)
    except KinviewError as exc:
        window.statusBar().showMessage(str(exc), 8000)
