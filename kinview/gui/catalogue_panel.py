"""The catalogue panel: what the survey catalogue says about the galaxy on screen.

A dock (left, under the galaxy list) with MaNGA-ID, RA/Dec, z, R_e (arcsec and kpc), b/a, photometric PA, Sérsic
n, M*, IFU size (the lines come from :func:`kinview.data.galaxy_card.catalogue_card`), and
two buttons opening the galaxy in SkyServer's Explore tool and on Marvin's web page.  The
record is read in a worker (:func:`kinview.data.galaxy_card.load_card`); the panel only
shows what it gets back.
"""
from __future__ import annotations

import html
from typing import Callable, Optional

from PyQt5 import QtCore, QtGui, QtWidgets

from kinview.data.galaxy_card import load_card
from kinview.gui import worker


class CataloguePanel(QtWidgets.QWidget):
    """Catalogue values and web links of one galaxy.

    Attributes
    ----------
    open_url : callable(str)
        How links are opened (the desktop's browser; tests replace it).
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.open_url: Callable[[str], object] = lambda url: QtGui.QDesktopServices.openUrl(
            QtCore.QUrl(url))
        self.card: Optional[dict] = None
        self.text = QtWidgets.QLabel("no galaxy")
        self.text.setTextFormat(QtCore.Qt.RichText)
        self.text.setAlignment(QtCore.Qt.AlignTop | QtCore.Qt.AlignLeft)
        self.text.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.text.setWordWrap(True)
        self.sky_button = QtWidgets.QPushButton("SkyServer Explore")
        self.marvin_button = QtWidgets.QPushButton("Marvin")
        self.sky_button.setToolTip("Open this galaxy in SkyServer's Explore tool (DR17)")
        self.marvin_button.setToolTip("Open this galaxy's page in Marvin (DR17)")
        for b in (self.sky_button, self.marvin_button):
            b.setFocusPolicy(QtCore.Qt.NoFocus)
            b.setEnabled(False)
        self.sky_button.clicked.connect(lambda: self._open("skyserver"))
        self.marvin_button.clicked.connect(lambda: self._open("marvin"))
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.sky_button)
        buttons.addWidget(self.marvin_button)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.NoFrame)
        scroll.setWidget(self.text)
        # a few lines at least; the card scrolls when its dock is short (a larger minimum
        # forced the window past 800 px before the card was tabbed beside the list)
        scroll.setMinimumHeight(self.fontMetrics().lineSpacing() * 5 + 12)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)

    def show_card(self, card: dict) -> None:
        """Show the result of :func:`kinview.data.galaxy_card.load_card`."""
        self.card = card
        rows = "".join(f"<tr><td style='color:#555555; padding-right:8px'>{html.escape(k)}"
                       f"</td><td>{html.escape(v)}</td></tr>" for k, v in card["lines"])
        self.text.setText(f"<table>{rows}</table>")
        self.sky_button.setEnabled(bool(card.get("skyserver")))
        self.marvin_button.setEnabled(bool(card.get("marvin")))

    def _open(self, which: str) -> None:
        url = (self.card or {}).get(which)
        if url:
            self.open_url(url)


#: Milliseconds after the expert stops on a galaxy before its card is read: the read (a
#: worker thread, but sharing the GIL and the CPU) stays off the keypress-to-drawn path, and a
#: key held down reads only the card of the galaxy it stops on.
CARD_DELAY_MS = 60


def install(window) -> CataloguePanel:
    """Add the catalogue dock to a MainWindow; it follows the galaxy on screen."""
    panel = CataloguePanel()
    window.catalogue_dock = window.add_panel("Catalogue", panel, "left")  # under the list
    card_job = worker.LatestSlot(panel)     # the card of the galaxy just left is not shown
    timer = QtCore.QTimer(panel)
    timer.setSingleShot(True)

    def load():
        pifu = window.state.current
        if pifu is None:
            return
        card_job.submit(load_card, str(window.survey_dir), pifu, on_result=_show)

    def _show(card):
        if card.get("plateifu") == window.state.current:
            panel.text.setEnabled(True)
            panel.show_card(card)

    def refresh(name, value=None):
        if name != "index" or window.state.current is None:
            return
        card_job.cancel()                   # a card still loading is for a galaxy left behind
        if panel.card is not None and panel.text.isEnabled():
            panel.text.setEnabled(False)    # greyed until the new galaxy's card arrives
        timer.start(CARD_DELAY_MS)

    timer.timeout.connect(load)
    window.state.subscribe(refresh)
    window.catalogue_panel = panel
    panel.refresh_timer = timer
    return panel
