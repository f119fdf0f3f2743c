"""The reveal strip: other experts' (and a published catalogue's) labels of the galaxy on screen.

Binds a :class:`kinview.labels.adjudication.Reveal` to a rich-text line per rater.  In blind
mode the strip only says how many others labelled the galaxy until you have labelled it.
Values that differ between raters are marked; an adjudicator's final label is shown last.
"""
from __future__ import annotations

import html
from typing import Optional

from PyQt5 import QtCore, QtWidgets

from kinview.conventions import VOCABULARIES
from kinview.labels.adjudication import ADJUDICABLE, Reveal

#: Short names of the labels in the strip, in order.
SHORT = {("stellar", "quality"): "★Q", ("gas", "quality"): "gasQ", ("stellar", "feature"): "★feat",
         ("gas", "feature"): "gasfeat", ("gas", "gas_note"): "gasnote"}
_NAMES = {"quality": {0: "do not use", 1: "messy", 2: "clean"},
          "feature": {0: "none", 1: "KDC", 2: "warp", 3: "merger"},
          "gas_note": {0: "none", 1: "depletion", 2: "no clear rot.", 3: "rot. but biased"}}

DISPUTED_STYLE = "color:#b00000; font-weight:bold;"
#: Most lines the strip shows (the rest are in its tooltip).
MAX_LINES = 4


def value_text(kind: str, value) -> str:
    """``"2 clean"`` for a code, the number for anything else."""
    try:
        code = int(value)
    except (TypeError, ValueError):
        return str(value)
    name = _NAMES.get(kind, VOCABULARIES.get(kind, {})).get(code)
    return f"{code} {name}" if name else str(code)


def rater_html(labels: dict, disputed, name_html: str) -> str:
    """One rater's line: name, then the categorical labels (disputed ones marked), PAs, notes."""
    parts = []
    for key in ADJUDICABLE:
        if key in labels:
            text = f"{SHORT[key]} {html.escape(value_text(key[1], labels[key]))}"
            parts.append(f"<span style='{DISPUTED_STYLE}'>{text}</span>" if key in disputed else text)
    for fld in ("stellar", "gas"):
        pa = labels.get((fld, "pa_override"))
        if pa is not None:
            parts.append(f"PA{'★' if fld == 'stellar' else 'gas'} {float(pa):.0f}°")
    notes = [str(labels[(f, "note")]) for f in ("galaxy", "stellar", "gas") if labels.get((f, "note"))]
    if notes:
        parts.append("“" + html.escape(" | ".join(notes)[:80]) + "”")
    return f"{name_html}: " + (" · ".join(parts) if parts else "<i>no labels</i>")


class RevealStrip(QtWidgets.QLabel):
    """A wrapped rich-text strip; :meth:`show_reveal` fills it, :meth:`clear_reveal` empties it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("reveal-strip")
        self.setTextFormat(QtCore.Qt.RichText)
        # one line per rater, wrapped when longer than the panel is wide (never cut at the
        # edge); the label panel scrolls, so the strip never forces the window larger
        self.setWordWrap(True)
        self.setTextInteractionFlags(QtCore.Qt.NoTextInteraction)
        self.setFocusPolicy(QtCore.Qt.NoFocus)
        self.setStyleSheet("QLabel#reveal-strip { color:#111111; background:#fffbe6;"
                           " border:1px solid #e0d49a; border-radius:3px; padding:3px 6px; }")
        self.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Minimum)
        self.reveal: Optional[Reveal] = None
        self.clear_reveal()

    def clear_reveal(self) -> None:
        self.reveal = None
        self._set("<span style='color:#555555'>Other experts: —</span>")

    def _set(self, text: str) -> None:
        self.setText(text)
        self.setToolTip(text)

    def show_reveal(self, r: Reveal) -> None:
        """Show what ``r`` allows: a hidden notice, nobody else, or one line per rater."""
        self.reveal = r
        if r.hidden:
            who = "1 other expert has" if r.n_others == 1 else f"{r.n_others} other experts have"
            self._set(f"<span style='color:#555555'><b>Blind mode</b>: {who} labelled this galaxy — "
                         "their labels show once you have labelled it (View ▸ Blind mode).</span>"
                         if r.n_others else
                         "<span style='color:#555555'><b>Blind mode</b>: no other expert has "
                         "labelled this galaxy yet.</span>")
            return
        if not r.raters and not r.final:
            self._set("<span style='color:#555555'>Other experts: nobody else has labelled this "
                         "galaxy yet.</span>")
            return
        lines = []
        disputed = set(r.disputed)
        for rater in r.raters:
            if rater.catalogue:
                name = (f"<b>{html.escape(rater.name)}</b> <span style='color:#555555'>(catalogue "
                        f"{html.escape(rater.catalogue)})</span>")
            else:
                name = f"<b>{html.escape(rater.name)}</b>"
            lines.append(rater_html(rater.labels, disputed, name))
        if r.final:
            parts = [f"{SHORT[k]} {html.escape(value_text(k[1], v))} <span style='color:#555555'>by "
                     f"{html.escape(who)}</span>" for k, (v, who) in
                     sorted(r.final.items(), key=lambda kv: ADJUDICABLE.index(kv[0]))]
            lines.append("<b style='color:#0a5a0a'>final</b>: " + " · ".join(parts))
        full = list(lines)
        if len(lines) > MAX_LINES:
            lines = lines[:MAX_LINES - 1] + [f"<span style='color:#555555'>… and {len(lines) - MAX_LINES + 1}"
                                             " more (tooltip)</span>"]
        open_keys = [SHORT[k] for k in ADJUDICABLE if k in disputed and k not in r.final]
        if open_keys and lines:
            lines[0] = (f"<span style='{DISPUTED_STYLE}'>⚑ disagree on {', '.join(open_keys)}</span>"
                        " <span style='color:#555555'>(Ctrl+J)</span> &nbsp; " + lines[0])
        self.setText("<br>".join(lines))
        self.setToolTip("<br>".join(full))
