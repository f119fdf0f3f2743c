"""Issue 15, item 2: no text is clipped at 1280×800 or 1920×1080 — titles, buttons (a bold
``:checked`` font included), wrapped labels, table headers and columns, the status bar, plot
titles — on the Galaxy tab, the Model tab, with the reveal strip shown and in the adjudication
queue, with and without the training dock.  The checker itself is tested on small widgets
built to clip, so each of its rules can fail."""
import pytest
from PyQt5 import QtCore, QtWidgets

from gui_support import add_predictions, add_raters, make_survey, standard_specs
from kinview.gui.screenshot import clipped_texts, settle, show_view
from kinview.settings import Settings

SPECS = standard_specs(6)
P = [s["plateifu"] for s in SPECS]
LONG_PATH = "/tmp/kinview-xdotool-abcdefgh/a-rather-long-folder-name/survey-of-many-galaxies"


@pytest.fixture(scope="module")
def rated_survey(tmp_path_factory):
    """Six galaxies; ann, bob and a published catalogue disagree on the first; an active
    model's predictions for all (the label panel's "Model:" line)."""
    root = make_survey(tmp_path_factory.mktemp("clipping") / "survey", SPECS)
    add_raters(root, P[:2] + P[5:])
    add_predictions(root, P)
    return root


def _host(qtbot, *widgets, size=(400, 300)):
    """A shown main window holding ``widgets`` in a column (the checker wants a window)."""
    win = QtWidgets.QMainWindow()
    qtbot.addWidget(win)
    body = QtWidgets.QWidget()
    lay = QtWidgets.QVBoxLayout(body)
    for w in widgets:
        lay.addWidget(w)
    lay.addStretch(1)
    win.setCentralWidget(body)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    settle()
    return win


def _kinds(win):
    return {kind for kind, *_ in clipped_texts(win)}


# --- the checker's rules, each on a widget built to clip -----------------------------------
def test_checked_bold_button_is_measured_in_its_drawn_font(qtbot):
    """A ``:checked { font-weight:bold }`` rule widens the text beyond a button laid out for
    the regular font ("0 do not us"); widget.font() does not show it, the drawing does."""
    box = QtWidgets.QWidget()
    box.setStyleSheet("QPushButton { padding:3px 4px; text-align:left; }"
                      " QPushButton:checked { font-weight:bold; }")
    lay = QtWidgets.QHBoxLayout(box)
    b = QtWidgets.QPushButton("0 do not use with a long text")
    b.setCheckable(True)
    lay.addWidget(b)
    lay.addStretch(1)
    win = _host(qtbot, box)
    b.setFixedWidth(b.sizeHint().width())
    settle()
    assert "button" not in _kinds(win)
    b.setChecked(True)
    settle()
    found = [c for c in clipped_texts(win) if c[0] == "button"]
    assert found and found[0][1].startswith("0 do not use"), clipped_texts(win)

    # the label panel's own style: checked is the blue fill only, so nothing clips
    from kinview.gui.label_panel import LabelPanel

    panel = LabelPanel()
    win2 = _host(qtbot, panel, size=(1280, 260))
    for b in panel.buttons.values():
        b.setChecked(True)
    settle()
    assert [c for c in clipped_texts(win2) if c[0] == "button"] == []


def test_style_sheet_font_and_wrapped_label_height(qtbot):
    big = QtWidgets.QLabel("a title in a big style-sheet font")
    plain_width = big.fontMetrics().horizontalAdvance(big.text()) + 4
    big.setStyleSheet("font-size:20pt; font-weight:bold;")
    big.setFixedWidth(plain_width)                 # wide enough for the default font only
    wrapped = QtWidgets.QLabel("one two three four five six seven eight nine ten " * 3)
    wrapped.setWordWrap(True)
    wrapped.setFixedSize(120, 20)                  # one line high, needs several
    elided = QtWidgets.QLabel("a shortened text…")
    win = _host(qtbot, big, wrapped, elided)
    found = clipped_texts(win)
    assert ("label", "a title in a big style-sheet font") in [(k, t) for k, t, *_ in found]
    assert "wrapped label" in _kinds(win)
    assert "label elided without tooltip" in _kinds(win)
    elided.setToolTip("a shortened text that was long")
    wrapped.setFixedSize(120, wrapped.heightForWidth(120))
    big.setFixedWidth(big.sizeHint().width())
    settle()
    assert clipped_texts(win) == []


def test_table_headers_columns_and_squeezed_tables(qtbot):
    table = QtWidgets.QTableWidget(3, 6)
    table.setHorizontalHeaderLabels(["plate-ifu", "z", "a long header", "PA★", "PAgas", "ΔPA"])
    table.setColumnWidth(2, 30)                    # header text wider than its column
    table.setFixedSize(250, 200)
    win = _host(qtbot, table)
    kinds = clipped_texts(win)
    assert ("column header", "a long header") in [(k, t) for k, t, *_ in kinds]
    # columns past the edge: reachable by the scroll bar, unless the view calls them essential
    assert "column off-screen" not in _kinds(win)
    table.setProperty("essential_columns", 6)
    assert "column off-screen" in _kinds(win)
    table.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
    table.setProperty("essential_columns", 0)
    settle()
    assert "column off-screen" in _kinds(win)      # no scroll bar: cut for good
    # a table cut to its header by a short parent ("κ squeezed to a single clipped row")
    holder = QtWidgets.QWidget()
    kappa = QtWidgets.QTableWidget(5, 2, holder)
    kappa.setHorizontalHeaderLabels(["label", "κ"])
    kappa.setGeometry(0, 0, 200, 200)
    holder.setFixedSize(200, kappa.horizontalHeader().sizeHint().height() + 4)
    win2 = _host(qtbot, holder)
    assert "table squeezed" in _kinds(win2)


def test_status_bar_message_is_elided_in_the_middle_of_its_path(qtbot):
    from kinview.gui.status_bar import ElidingStatusBar

    win = QtWidgets.QMainWindow()
    qtbot.addWidget(win)
    win.setCentralWidget(QtWidgets.QWidget())
    win.statusBar().addPermanentWidget(QtWidgets.QLabel("expert: someone with a long name"))
    win.resize(720, 200)
    win.show()
    qtbot.waitExposed(win)
    message = f"6 galaxies in {LONG_PATH}"
    win.statusBar().showMessage(message)
    settle()
    assert "status message" in _kinds(win)        # a plain QStatusBar cuts it
    sb = ElidingStatusBar(win)
    win.setStatusBar(sb)
    sb.addPermanentWidget(QtWidgets.QLabel("expert: someone with a long name"))
    settle()
    shown_full = []
    sb.message_shown.connect(shown_full.append)
    sb.showMessage(message, 60000)
    settle()
    assert shown_full == [message]
    assert clipped_texts(win) == []
    shown = sb.currentMessage()
    assert shown != message and "…" in shown
    assert shown.startswith("6 galaxies in /tmp/") and shown.endswith("survey-of-many-galaxies")
    assert sb.toolTip() == message and sb.full_message == message
    win.resize(1400, 200)                          # room again: the whole message comes back
    settle()
    assert sb.currentMessage() == message and sb.toolTip() == ""


def test_plot_titles_past_the_panel_edge_are_found(qtbot):
    import pyqtgraph as pg

    plot = pg.PlotWidget()
    plot.setTitle("Predicted usability of every field — click a bar to list its galaxies")
    plot.setFixedSize(200, 200)
    win = _host(qtbot, plot)
    assert "plot text" in _kinds(win)
    short = pg.PlotWidget()
    short.setTitle("usability")
    short.setFixedSize(200, 200)
    assert "plot text" not in _kinds(_host(qtbot, short))


# --- the window: every view, both sizes, with and without the training dock -----------------
@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_no_text_clipped_in_any_view(qtbot, rated_survey, make_main_window, size):
    w = make_main_window(rated_survey, "bob", settings=Settings(), size=size)
    w.statusBar().showMessage(f"{len(P)} galaxies in {LONG_PATH}", 60000)
    strip = w.label_panel.reveal_strip
    for view in ("galaxy", "model", "reveal", "adjudication"):
        if view == "adjudication":
            w.switch_expert("carol")        # the adjudicator: the strip shows every rater
        for dock in (False, True):
            show_view(w, view, plateifu=P[0])
            w.model_panels.dock.setVisible(dock)
            if view in ("reveal", "adjudication"):
                # bob sees ann and the catalogue; carol, adjudicating, sees ann, bob and it
                n = 3 if view == "adjudication" else 2
                qtbot.waitUntil(lambda: w.view.drawn_plateifu == P[0] and strip.reveal is not None
                                and strip.reveal.plateifu == P[0] and len(strip.reveal.raters) == n,
                                timeout=30000)
                qtbot.wait(50)
            settle(10)
            assert (w.width(), w.height()) == size, view      # the window is not forced bigger
            assert clipped_texts(w) == [], (size, view, dock)
            if view == "adjudication":
                kappa = w.adjudication.kappa
                assert kappa.rowCount() > 0
                if size == (1920, 1080):       # the κ table whole, not squeezed under the card
                    assert kappa.visibleRegion().boundingRect().height() == kappa.height()
    w.model_panels.dock.hide()
    # the galaxy list shows the PA columns; the label panel needs no scrolling
    area = w.label_dock.widget()
    assert not area.verticalScrollBar().isVisible() and not area.horizontalScrollBar().isVisible()


def test_an_elided_label_that_elides_is_not_reported_as_clipped(qtbot):
    """An :class:`~kinview.gui.elided_label.ElidedLabel` (the galaxy view's "missing" line)
    elides its text and gives the whole of it in its tooltip: shown whole or elided, it is
    not clipped — while a plain one-line label with the same text is."""
    from kinview.gui.elided_label import ElidedLabel

    text = "missing: " + "gas MAPS file not found in the survey folder, " * 5
    label = ElidedLabel(text)
    win = _host(qtbot, label, size=(300, 120))
    settle()
    assert label.text() == text and label.toolTip() == text
    assert QtWidgets.QLabel.text(label).endswith("…")
    assert clipped_texts(win) == []
    label.setText("missing: gas")                  # short: shown whole, nothing to skip
    settle()
    assert QtWidgets.QLabel.text(label) == "missing: gas" and clipped_texts(win) == []
    plain = QtWidgets.QLabel(text)                 # squeezed to the window: cut at its edge
    plain.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Fixed)
    win2 = _host(qtbot, plain, size=(300, 120))
    assert "label" in _kinds(win2)
