"""The keyboard help dialog (text from ``kinview/resources/help.html``, package data)."""
from __future__ import annotations

from PyQt5 import QtWidgets

from kinview import paths
from kinview.gui.label_panel import ADJUDICATION_KEYS, LABEL_KEYS, OTHER_KEYS, _VOCAB


def help_html() -> str:
    """The help text: ``kinview/resources/help.html`` plus the key table generated from the key map."""
    rows = []
    for key, fld, kind, value in LABEL_KEYS:
        rows.append(f"<tr><td><b>{key}</b></td><td>{fld} {kind.replace('_', ' ')} = {value} "
                    f"({_VOCAB[kind][value]})</td></tr>")
    for seq, _, text in OTHER_KEYS:
        rows.append(f"<tr><td><b>{seq}</b></td><td>{text}</td></tr>")
    table = "<table cellspacing='2' cellpadding='2'>" + "".join(rows) + "</table>"
    adj = "".join(f"<tr><td><b>{seq}</b></td><td>{text}</td></tr>" for seq, text in ADJUDICATION_KEYS)
    table += ("<h3>While adjudicating (Ctrl+J)</h3><p>The keyboard settles disagreements and "
              "never labels:</p><table cellspacing='2' cellpadding='2'>" + adj + "</table>")
    try:
        intro = paths.resource_text("help.html")
    except OSError:
        intro = "<h2>kinview keys</h2>"
    return intro.replace("{{KEYS}}", table) if "{{KEYS}}" in intro else intro + table


class HelpDialog(QtWidgets.QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("kinview — keyboard help")
        lay = QtWidgets.QVBoxLayout(self)
        text = QtWidgets.QTextBrowser()
        text.setHtml(help_html())
        text.setStyleSheet("color:#111111; background:#ffffff;")
        lay.addWidget(text)
        box = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Close)
        box.rejected.connect(self.reject)
        lay.addWidget(box)
        self.resize(620, 720)
