"""The label panel and the keyboard scheme.

Keyboard scheme (one key per label, left hand on the labels, right hand on navigation; an
expert can keep a pace of 1,000 galaxies an hour):

=========  =====================================================================
Q W E      stellar quality 0 (do not use) / 1 (messy) / 2 (clean)
A S D      gas quality 0 / 1 / 2
1 2 3 4    stellar feature: none / KDC / warp / merger-neighbour
5 6 7 8    gas feature: none / KDC / warp / merger-neighbour
Z X C V    gas note: none / depletion / no clear rotation / rotation but biased
T          type a free-text note (Enter saves, Esc cancels)
R          clear this galaxy's hand-set PAs (drag a PA handle to set one)
N, Space   next unlabelled galaxy
→ / ←      next / previous galaxy (also PgDn / PgUp)
Ctrl+Z     undo the last label (the galaxy it belonged to is shown)
[ / ]      narrower / wider velocity colour clip (percentile of |v − v_sys|)
Ctrl+J     adjudication queue: open it to adjudicate, again to go back to labelling
Ctrl+Sh+E  switch expert (File menu)
F1, ?      this help
=========  =====================================================================

While adjudicating (the adjudication queue is open, :data:`ADJUDICATION_KEYS`) the keyboard
settles disagreements and never labels: ``0``–``3`` record the final label of the selected
disagreement (whose galaxy is on screen), ``Backspace`` withdraws it, ``Enter`` (in the queue)
takes the majority, ``→ ←`` (also ``N``, Space, PgDn / PgUp, ``↑ ↓`` in the queue) move to the
next / previous disagreement.  The label keys (``Q``…``V``, ``T``, ``R``, ``Ctrl+Z``) and the
label buttons are off; the label panel says so.  ``Ctrl+J`` (or the Galaxies tab) goes back to
labelling.

Set features and notes first (optional); the galaxy advances to the next unlabelled one as
soon as both qualities are set (stellar only when the gas map has no valid spaxels: gas is then
recorded as quality 0 with the note "no gas") — switch this off in the View menu.  Correcting a
label of a galaxy that is already labelled stays on that galaxy.  Every label is committed to disk (fsynced) before the next galaxy is shown.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
from PyQt5 import QtCore, QtGui, QtWidgets

from kinview.conventions import QUALITY
from kinview.gui.reveal_strip import RevealStrip
from kinview.labels.workflow import NO_GAS_NOTE

#: (key, field, kind, value): the label keys.
LABEL_KEYS: List[Tuple[str, str, str, int]] = (
    [(k, "stellar", "quality", v) for k, v in zip("QWE", range(3))]
    + [(k, "gas", "quality", v) for k, v in zip("ASD", range(3))]
    + [(k, "stellar", "feature", v) for k, v in zip("1234", range(4))]
    + [(k, "gas", "feature", v) for k, v in zip("5678", range(4))]
    + [(k, "gas", "gas_note", v) for k, v in zip("ZXCV", range(4))]
)

#: Navigation and other keys: (key sequence, action name, description).
OTHER_KEYS: List[Tuple[str, str, str]] = [
    ("N", "next_unlabelled", "next unlabelled galaxy"),
    ("Space", "next_unlabelled", "next unlabelled galaxy"),
    ("Right", "next", "next galaxy"),
    ("PgDown", "next", "next galaxy"),
    ("Left", "previous", "previous galaxy"),
    ("PgUp", "previous", "previous galaxy"),
    ("Ctrl+Z", "undo", "undo the last label"),
    ("T", "note", "type a note (Enter saves)"),
    ("R", "clear_pa", "clear hand-set PAs of this galaxy"),
    ("[", "clip_down", "narrower colour clip"),
    ("]", "clip_up", "wider colour clip"),
    ("Home", "reset_zoom", "reset the zoom of the sky panels"),
    ("Ctrl+Home", "first", "first galaxy of the list"),
    ("Ctrl+J", "adjudicate", "adjudication queue: open it to adjudicate (keys below), again to label"),
    ("Ctrl+Shift+E", "switch_expert", "switch expert"),
    ("F1", "help", "keyboard help"),
    ("?", "help", "keyboard help"),
]

#: Keys while adjudicating (the adjudication queue is open): (key, what it does).  The label
#: keys are off meanwhile.
ADJUDICATION_KEYS: List[Tuple[str, str]] = [
    ("0 1 2 3", "final label of the selected disagreement (its galaxy is on screen); next one"),
    ("Backspace", "withdraw the final label (the majority applies again)"),
    ("Enter", "in the queue: the majority as the final label (not for a tie)"),
    ("→ / ←", "next / previous disagreement (also N, Space, PgDown / PgUp; ↑ ↓ in the queue)"),
    ("Q … V, 1–8, T, R, Ctrl+Z", "off: an adjudicator does not label (Ctrl+J goes back to labelling)"),
    ("Ctrl+J", "close the queue and label again"),
]

#: The label panel's key hints, while labelling and while adjudicating: one line under the
#: buttons across the panel (wrapped when narrower than it needs).
LABEL_HINT = ("<b>N</b>/<b>Space</b> next unlabelled · <b>→ ←</b> next/prev · "
              "<b>Ctrl+Z</b> undo · <b>R</b> clear hand PA · <b>[ ]</b> colour clip · "
              "<b>F1</b> all keys")
ADJUDICATION_HINT = ("<b>0</b>–<b>3</b> final label · <b>Enter</b> majority · "
                     "<b>Backspace</b> withdraw · <b>→ ←</b> next/prev · "
                     "<b>Ctrl+J</b> back to labelling")

_VOCAB = {"quality": QUALITY, "feature": {0: "none", 1: "KDC", 2: "warp", 3: "merger/neighb."},
          "gas_note": {0: "none", 1: "depletion", 2: "no clear rot.", 3: "rot. but biased"}}

ROWS = [("stellar", "quality", "Stellar quality"), ("gas", "quality", "Gas quality"),
        ("stellar", "feature", "Stellar feature"), ("gas", "feature", "Gas feature"),
        ("gas", "gas_note", "Gas note")]

# the checked state is the blue fill, not a bold font: bold text is wider than the button
# sized for the regular one and clipped ("0 do not us")
BUTTON_STYLE = """
QPushButton { color:#111111; background:#f4f4f4; border:1px solid #9a9a9a; border-radius:3px;
              padding:3px 4px; text-align:left; }
QPushButton:checked { background:#1f6fd1; color:#ffffff; border:1px solid #0b4a99; }
QPushButton:hover { border:1px solid #1f6fd1; }
QPushButton:disabled { color:#9a9a9a; background:#ececec; border:1px solid #c8c8c8; }
QPushButton:checked:disabled { color:#ffffff; background:#8fb3e0; border:1px solid #6f93c0; }
"""


def key_for(field: str, kind: str, value: int) -> str:
    for key, f, k, v in LABEL_KEYS:
        if (f, k, v) == (field, kind, value):
            return key
    return ""


class LabelPanel(QtWidgets.QWidget):
    """Shows the current galaxy's labels with their keys; buttons label by mouse too.

    Signals
    -------
    label_requested(str field, str kind, object value)
    note_committed(str text)
    """

    label_requested = QtCore.pyqtSignal(str, str, object)
    note_committed = QtCore.pyqtSignal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setStyleSheet(BUTTON_STYLE)
        root = QtWidgets.QVBoxLayout(self)
        root.setContentsMargins(6, 2, 6, 2)
        root.setSpacing(3)
        outer = QtWidgets.QHBoxLayout()
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(5)
        root.addLayout(outer, 1)

        #: the key hints and other experts' labels of this galaxy (blind mode: once you have
        #: labelled it), under the buttons
        self.reveal_strip = RevealStrip()
        info = QtWidgets.QVBoxLayout()
        info.setSpacing(3)
        self.title = QtWidgets.QLabel("—")
        self.title.setTextFormat(QtCore.Qt.RichText)
        self.title.setStyleSheet("color:#111111; font-size:13pt; font-weight:bold;")
        info.addWidget(self.title)
        self.state_label = QtWidgets.QLabel("")
        self.state_label.setStyleSheet("color:#333333;")
        self.state_label.setWordWrap(True)
        info.addWidget(self.state_label)
        self.pa_label = QtWidgets.QLabel("")
        self.pa_label.setWordWrap(True)
        self.pa_label.setStyleSheet("color:#333333;")
        info.addWidget(self.pa_label)
        self.model_label = QtWidgets.QLabel("")
        self.model_label.setWordWrap(True)
        self.model_label.setStyleSheet("color:#333333;")
        info.addWidget(self.model_label)
        keys = QtWidgets.QLabel(LABEL_HINT)
        self.keys_hint = keys
        keys.setStyleSheet("color:#333333;")
        keys.setWordWrap(True)
        info.addStretch(1)
        info_w = QtWidgets.QWidget()
        info_w.setLayout(info)
        # the key hints span the panel under the buttons (one line at 1280 px, wrapped when
        # narrower), not the info column, where they took five lines and were cut; every
        # label of the column wraps, and the panel is as tall as they need (its scroll area
        # gives it its height for its width)
        fm = self.fontMetrics()
        bold = QtGui.QFont(self.font())
        bold.setBold(True)
        info_w.setMinimumWidth(QtGui.QFontMetrics(bold).horizontalAdvance("partly labelled") + 16)
        info_w.setMaximumWidth(max(340, info_w.minimumWidth()))
        outer.addWidget(info_w, 1)
        group_style = ("QGroupBox { color:#111111; font-weight:bold; border:1px solid #c4c4c4;"
                       " border-radius:4px; margin-top:14px; padding-top:4px; }"
                       "QGroupBox::title { subcontrol-origin: margin; subcontrol-position: top left;"
                       " left:6px; padding:0 3px; }")
        self.buttons: Dict[Tuple[str, str, int], QtWidgets.QPushButton] = {}
        for fld, kind, text in ROWS:
            box = QtWidgets.QGroupBox(text)
            box.setStyleSheet(group_style)
            col = QtWidgets.QVBoxLayout(box)
            col.setContentsMargins(5, 6, 5, 5)
            col.setSpacing(3)
            vocab = _VOCAB[kind]
            for value, name in vocab.items():
                key = key_for(fld, kind, value)
                b = QtWidgets.QPushButton(f"{key}   {value} {name}")
                b.setCheckable(True)
                b.setFocusPolicy(QtCore.Qt.NoFocus)
                b.setToolTip(f"Key {key}: {text.lower()} = {value} ({name})")
                b.clicked.connect(lambda _=False, f=fld, k=kind, v=value: self.label_requested.emit(f, k, v))
                col.addWidget(b)
                self.buttons[(fld, kind, value)] = b
            col.addStretch(1)
            outer.addWidget(box)
        note_box = QtWidgets.QGroupBox("Note (T)")
        note_box.setStyleSheet(group_style)
        nl = QtWidgets.QVBoxLayout(note_box)
        nl.setContentsMargins(5, 6, 5, 5)
        self.note = QtWidgets.QLineEdit()
        self.note.setPlaceholderText("free text about this galaxy")
        self.note.setStyleSheet("color:#111111; background:#ffffff;")
        self.note.returnPressed.connect(self._commit_note)
        nl.addWidget(self.note)
        note_help = QtWidgets.QLabel("Enter saves, Esc cancels; an empty note clears it.")
        note_help.setWordWrap(True)
        note_help.setStyleSheet("color:#555555; font-weight:normal;")
        nl.addWidget(note_help)
        nl.addStretch(1)
        note_box.setMinimumWidth(fm.horizontalAdvance("free text") + 40)
        outer.addWidget(note_box, 1)
        root.addWidget(keys)
        root.addWidget(self.reveal_strip)
        self._note_saved = ""
        #: adjudicating: the label buttons and the note are off (:meth:`set_adjudicating`)
        self.adjudicating = False

    def height_for(self, width: int) -> int:
        """Height (px) the panel needs at ``width`` (its wrapped labels laid out; their
        minimum size hints assume the narrowest width and would overstate it)."""
        if self.hasHeightForWidth():
            return self.heightForWidth(max(width, self.minimumSizeHint().width()))
        return self.minimumSizeHint().height()

    def keyPressEvent(self, ev):  # noqa: N802 - Qt name
        if ev.key() == QtCore.Qt.Key_Escape and self.note.hasFocus():
            self.note.setText(self._note_saved)
            self.note.clearFocus()
            return
        super().keyPressEvent(ev)

    def _commit_note(self) -> None:
        text = self.note.text().strip()
        self.note.clearFocus()
        if text != self._note_saved:
            self.note_committed.emit(text)

    def edit_note(self) -> None:
        self.note.setFocus(QtCore.Qt.ShortcutFocusReason)
        self.note.selectAll()

    def set_adjudicating(self, on: bool, expert: str = "") -> None:
        """While adjudicating the buttons and the note do not label: they are disabled, the key
        hints are the adjudication keys and the state line names the adjudicator."""
        self.adjudicating = bool(on)
        for b in self.buttons.values():
            b.setEnabled(not on)
        self.note.setEnabled(not on)
        self.keys_hint.setText(ADJUDICATION_HINT if on else LABEL_HINT)
        if on:
            self.state_label.setText(self._adjudicating_text(expert))

    @staticmethod
    def _adjudicating_text(expert: str) -> str:
        return f"<b style='color:#1f4e96'>adjudicating as {expert}</b>: label keys off"

    def set_galaxy(self, plateifu: Optional[str], labels: Dict[tuple, object], has_gas: bool = True,
                   row: Optional[dict] = None, expert: str = "") -> None:
        """Show ``labels`` ({(field, kind): value}) of ``plateifu``."""
        row = row or {}
        self.title.setText(plateifu or "—")
        for (fld, kind, value), b in self.buttons.items():
            cur = labels.get((fld, kind))
            b.setChecked(cur is not None and int(round(float(cur))) == value)
            b.setEnabled(not self.adjudicating)
        sq = labels.get(("stellar", "quality"))
        gq = labels.get(("gas", "quality"))
        done = sq is not None and (gq is not None or not has_gas)
        state = "<b style='color:#0a7a0a'>labelled</b>" if done else (
            "<b style='color:#b36b00'>partly labelled</b>" if (sq is not None or gq is not None)
            else "<b style='color:#555555'>not labelled</b>")
        if has_gas:
            gas_text = ""
        elif labels.get(("gas", "note")) == NO_GAS_NOTE and gq is not None:
            gas_text = (f" · <b>no valid gas spaxels</b>: gas quality {int(round(float(gq)))},"
                        f" note “{NO_GAS_NOTE}”")
        else:
            gas_text = " · <b>no valid gas spaxels</b>: the stellar quality alone labels it"
        self.state_label.setText(self._adjudicating_text(expert) if self.adjudicating
                                 else f"{state} by {expert}" + gas_text)
        self.state_label.setTextFormat(QtCore.Qt.RichText)
        note = labels.get(("galaxy", "note"))
        self._note_saved = "" if note is None else str(note)
        if not self.note.hasFocus():
            self.note.setText(self._note_saved)
        texts = []
        for fld in ("stellar", "gas"):
            ov = labels.get((fld, "pa_override"))
            if ov is not None:
                texts.append(f"{fld} PA set by hand: {float(ov):.1f}°")
        self.pa_label.setText(" · ".join(texts) + (" (R clears)" if texts else ""))
        mtexts, tips = [], []
        for fld in ("stellar", "gas"):
            p = row.get(f"pred_{fld}")
            c = row.get(f"conf_{fld}")
            if p is not None and np.isfinite(p):
                known = c is not None and np.isfinite(c)
                # compact: "★ 0.81 (0.81)"; the tooltip spells it out
                mtexts.append(f"{'★' if fld == 'stellar' else 'gas'} {p:.2f}"
                              + (f" ({c:.2f})" if known else ""))
                tips.append(f"{fld}: predicted quality {p:.2f}"
                            + (f", confidence {c:.2f}" if known else ""))
        self.model_label.setText(("Model: " + " · ".join(mtexts)) if mtexts else "")
        self.model_label.setToolTip("The active model's prediction (confidence): "
                                    + "; ".join(tips) if tips else "")
