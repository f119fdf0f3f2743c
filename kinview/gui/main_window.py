"""The classification workspace: galaxy list, galaxy view, label panel, status bar.

Layout: the galaxy view is the first tab of the central tab area; the galaxy list is a dock on
the left and the label panel a dock on the right.  Other panels (training, confidence browser,
cluster view) are added with one call, :meth:`MainWindow.add_panel`.

Threading: the galaxy table is read, and galaxies are loaded (FITS, JPEG, PA fits), in worker
threads (:mod:`kinview.gui.worker`, :mod:`kinview.gui.prefetch`).  The only disk work on the
GUI thread is the label commit itself (:meth:`kinview.labels.store.LabelStore.add` returns
after commit + fsync), which is the durability contract: a label is on disk before the next
galaxy is shown.
"""
from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import Dict, Optional

from PyQt5 import QtCore, QtGui, QtWidgets

from kinview import viewstate as vs
from kinview.gui import settings as qsettings
from kinview.gui import worker
from kinview.gui.galaxy_list import GalaxyList
from kinview.gui.galaxy_view import GalaxyView
from kinview.gui.label_panel import LABEL_KEYS, OTHER_KEYS, LabelPanel
from kinview.gui.prefetch import Prefetcher
from kinview.session.labelling import LabellingSession, load_table_job
from kinview.settings import Settings

#: Delay (ms) before the neighbours of the galaxy on screen start loading (after its paint).
PREFETCH_DELAY_MS = 40
#: Delay (ms) before the reveal strip is filled: after the galaxy's paint, and once per burst
#: of key presses (two small indexed queries, ~0.1 ms).
REVEAL_DELAY_MS = 40
#: Delay (ms) after the last move before the position is saved to the settings file.
SETTINGS_SAVE_DELAY_MS = 1500

#: Colour-clip percentiles the ``[``/``]`` keys step through.  The default (98) sits in the
#: middle, so five presses either way and back return to where they started.
CLIP_STEPS = (50.0, 60.0, 70.0, 80.0, 85.0, 90.0, 93.0, 95.0, 97.0, 98.0,
              98.5, 99.0, 99.3, 99.5, 99.7, 99.8, 99.9, 100.0)

APP_STYLE = """
QMainWindow, QWidget { background:#f7f7f7; color:#111111; }
QDockWidget::title { background:#e4e4e4; padding:3px; font-weight:bold; }
QStatusBar { background:#e9e9e9; color:#111111; }
QTabWidget::pane { border:1px solid #c8c8c8; }
QTabBar::tab { background:#e4e4e4; color:#111111; padding:4px 12px; }
QTabBar::tab:selected { background:#ffffff; border-bottom:2px solid #1f6fd1; }
QToolBar { background:#eeeeee; border:none; spacing:6px; }
QTableView { background:#ffffff; alternate-background-color:#f0f4fa; }
QComboBox, QSpinBox, QDoubleSpinBox, QLineEdit { background:#ffffff; color:#111111; }
QProgressBar { border:1px solid #9a9a9a; border-radius:3px; background:#ffffff; color:#111111;
               text-align:center; min-width:180px; }
QProgressBar::chunk { background:#7fb8e6; }
"""


class _FitScroll(QtWidgets.QScrollArea):
    """A scroll area that gives its widget the whole viewport, and scrolls only when the
    viewport is smaller than the widget's *minimum* size.  (``widgetResizable`` would size a
    widget with word-wrapped labels to its preferred height-for-width and scroll needlessly.)"""

    def __init__(self, widget, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(False)
        self.setWidget(widget)
        widget.installEventFilter(self)

    def _fit(self) -> None:
        w = self.widget()
        if w is None:
            return
        vp = self.maximumViewportSize()
        m = w.minimumSizeHint().expandedTo(w.minimumSize())

        def min_height(width):
            # word-wrapped labels need more height when narrower: their height for this width
            # (the minimum size hint assumes the narrowest width and overstates it)
            return w.heightForWidth(width) if w.hasHeightForWidth() else m.height()

        width = max(vp.width(), m.width())
        height = max(vp.height(), min_height(width))
        # a scroll bar on one axis takes room from the other
        if width > vp.width():
            height = max(vp.height() - self.horizontalScrollBar().sizeHint().height(), min_height(width))
        if height > vp.height():
            width = max(vp.width() - self.verticalScrollBar().sizeHint().width(), m.width())
            height = max(height, min_height(width))
        if w.size() != QtCore.QSize(width, height):
            w.resize(width, height)

    def resizeEvent(self, ev):  # noqa: N802 - Qt name
        self._fit()
        super().resizeEvent(ev)

    def eventFilter(self, obj, ev):  # noqa: N802 - Qt name
        if obj is self.widget() and ev.type() == QtCore.QEvent.LayoutRequest:
            QtCore.QTimer.singleShot(0, self._fit)
        return False


def _scroll_if_narrow(widget: QtWidgets.QWidget, min_height: int = 220) -> QtWidgets.QScrollArea:
    """``widget`` in a frameless scroll area: it is laid out at its full size when there is
    room, and scrolls (rather than forcing the window wider than the screen, or being
    clipped) when there is not."""
    area = _FitScroll(widget)
    area.setFrameShape(QtWidgets.QFrame.NoFrame)
    area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAsNeeded)
    area.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAsNeeded)
    hint = widget.minimumSizeHint()
    area.setMinimumHeight(min(hint.height(), min_height))
    area.setMinimumWidth(min(hint.width(), 200))
    return area


class _Tabs(QtWidgets.QTabWidget):
    """The central tabs.  Pages other than the galaxy view sit in a scroll area (so a page's
    minimum size never forces the window past a 1280×800 screen); the tab widget's methods
    still take and return the page itself, not its scroll area."""

    def add_page(self, widget, name: str, scroll: bool = True) -> int:
        page = widget
        if scroll:
            page = _scroll_if_narrow(widget, min_height=0)
            page.inner = widget
        return self.addTab(page, name)

    def indexOf(self, widget):  # noqa: N802 - Qt name
        i = super().indexOf(widget)
        if i >= 0:
            return i
        for j in range(self.count()):
            if getattr(super().widget(j), "inner", None) is widget:
                return j
        return -1

    def setCurrentWidget(self, widget):  # noqa: N802 - Qt name
        i = self.indexOf(widget)
        if i >= 0:
            self.setCurrentIndex(i)

    def widget(self, index):
        page = super().widget(index)
        return getattr(page, "inner", page)

    def currentWidget(self):  # noqa: N802 - Qt name
        page = super().currentWidget()
        return getattr(page, "inner", page)


class MainWindow(QtWidgets.QMainWindow):
    """The main window.

    Parameters
    ----------
    survey_dir : path-like
        An existing survey directory (ingested on first open, in a worker).
    expert : str, optional
        Name stored with every label (default: the settings, then the login name).
    settings : kinview.settings.Settings, optional
        Loaded from the user settings folder when not given.

    Signals
    -------
    table_loaded()        the galaxy table is in memory
    galaxy_drawn(str)     a galaxy's panels were drawn (plate-ifu)
    labelled(str, str, str, object)   a label was committed (plateifu, field, kind, value)
    """

    table_loaded = QtCore.pyqtSignal()
    galaxy_drawn = QtCore.pyqtSignal(str)
    labelled = QtCore.pyqtSignal(str, str, str, object)

    def __init__(self, survey_dir, expert: Optional[str] = None,
                 settings: Optional[Settings] = None, parent=None):
        super().__init__(parent)
        self.settings = settings if settings is not None else Settings.load()
        self.survey_dir = Path(survey_dir).expanduser().resolve()
        if expert is None:
            try:
                from kinview.labels.experts import default_expert

                expert = default_expert(self.settings.expert)
            except Exception:  # noqa: BLE001
                expert = self.settings.expert or getpass.getuser() or "expert"
        # the model: the window adapts it to Qt (actions call its operations, widgets follow
        # its events)
        self.session = LabellingSession(self.survey_dir, expert)
        self.state = self.session.state
        self.state.clip_percentile = float(self.settings.clip_percentile or 98.0)
        self.state.toggles.setdefault("blind", True)   # others' labels hidden until I label
        self.state.toggles.update({k: bool(v) for k, v in self.settings.toggles.items()
                                   if k in self.state.toggles})
        saved_filter = self.settings.filters.get(Settings.survey_key(self.survey_dir))
        if isinstance(saved_filter, list) and saved_filter and saved_filter[0] in vs.FILTERS:
            self.state.filter_name = saved_filter[0]
            self.state.filter_k = saved_filter[1] if len(saved_filter) > 1 else None
        self.prefetcher: Optional[Prefetcher] = None
        self._closing = False
        self._relist = False
        self._predictions_job = worker.LatestSlot(self)
        self.panels: Dict[str, QtWidgets.QWidget] = {}
        self.load_error: Optional[str] = None
        self._prefetch_timer: Optional[QtCore.QTimer] = None
        self._settings_timer: Optional[QtCore.QTimer] = None

        # read the table in a worker while the widgets are built
        self._table_expert = self.state.expert     # whose labels the table job reads
        self._table_job = worker.submit(load_table_job, str(self.survey_dir), self.state.expert,
                                        self.session.blind, pass_state=False)
        self.setWindowTitle(f"kinview — {self.survey_dir.name}")
        self.setStyleSheet(APP_STYLE)
        self.view = GalaxyView()
        self.view.set_toggles(self.state.toggles)
        self.view.percentile = self.state.clip_percentile
        self.tabs = _Tabs()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.view, "Galaxy")
        self.setCentralWidget(self.tabs)
        self.galaxy_list = GalaxyList()
        self.label_panel = LabelPanel()
        self.list_dock = self.add_panel("Galaxies", self.galaxy_list, "left")
        label_area = _scroll_if_narrow(self.label_panel)
        # at 1280×800 and up the label panel fits its dock without scrolling (the clipping
        # check, kinview.gui.screenshot.clipped_texts, counts what it would scroll to as cut)
        label_area.setProperty("must_fit", True)
        self.label_dock = self.add_panel("Label", label_area, "bottom")
        self.panels["Label"] = self.label_panel
        # the label panel spans the whole width (its five groups of buttons need it at 1280 px);
        # the galaxy list and the training dock stop above it
        self.setCorner(QtCore.Qt.BottomLeftCorner, QtCore.Qt.BottomDockWidgetArea)
        self.setCorner(QtCore.Qt.BottomRightCorner, QtCore.Qt.BottomDockWidgetArea)
        self._build_status()
        self._build_actions()
        self._build_toolbar()
        self.setDockOptions(QtWidgets.QMainWindow.AnimatedDocks | QtWidgets.QMainWindow.AllowTabbedDocks)

        self.session.subscribe(self._on_session)
        self.galaxy_list.activated.connect(self.goto)
        self.galaxy_list.filter_changed.connect(self.set_filter)
        self.galaxy_list.sort_requested.connect(self._sort)
        self.label_panel.label_requested.connect(lambda f, k, v: self.label(f, k, v))
        self.label_panel.note_committed.connect(self._note)
        self.view.pa_overridden.connect(self._pa_override)
        self.view.drawn.connect(self.galaxy_drawn.emit)
        self.galaxy_list.set_filter(self.state.filter_name, self.state.filter_k)

        from kinview.gui.model_panels import install as install_model_panels

        self.model_panels = install_model_panels(self)
        side = getattr(self.model_panels, "dock", None)
        if isinstance(side, QtWidgets.QDockWidget):
            # deferred: moving a dock from inside its own visibility signal crashes Qt
            side.visibilityChanged.connect(lambda on, d=side: QtCore.QTimer.singleShot(
                0, lambda: self._place_side_dock(d, on)))
        self._install_experts()
        from kinview.gui import catalogue_panel, survey_menu

        catalogue_panel.install(self)
        survey_menu.install(self)
        self._layout_restored = qsettings.restore_window(self, self.settings)
        self._shown_once = False
        self.statusBar().showMessage(f"opening {self.survey_dir} …")
        w = self._table_job
        w.finished.connect(self._table_ready)
        w.failed.connect(self._table_failed)

    # ------------------------------------------------------------------------------------------
    # building
    # ------------------------------------------------------------------------------------------
    def add_panel(self, name: str, widget: QtWidgets.QWidget, area: str = "right"):
        """Add a panel: ``area`` is ``'tab'`` (central tab), ``'left'``, ``'right'`` or ``'bottom'``
        (a dock).  Returns the dock widget (or the widget itself for a tab)."""
        self.panels[name] = widget
        if area == "tab":
            self.tabs.add_page(widget, name)
            return widget
        areas = {"left": QtCore.Qt.LeftDockWidgetArea, "right": QtCore.Qt.RightDockWidgetArea,
                 "bottom": QtCore.Qt.BottomDockWidgetArea, "top": QtCore.Qt.TopDockWidgetArea}
        if area not in areas:
            raise ValueError(f"area must be tab, left, right, bottom or top, not {area!r}")
        dock = QtWidgets.QDockWidget(name, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(widget)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFloatable
                         | QtWidgets.QDockWidget.DockWidgetClosable)
        self.addDockWidget(areas[area], dock)
        if hasattr(self, "view_menu"):
            self.view_menu.addAction(dock.toggleViewAction())
        return dock

    def _build_status(self) -> None:
        from kinview.gui.status_bar import ElidingStatusBar

        # long messages (survey paths) are elided to the room left, full text in the tooltip
        self.setStatusBar(ElidingStatusBar(self))
        sb = self.statusBar()
        self.progress = QtWidgets.QProgressBar()
        self.progress.setFormat("%v / %m labelled")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.rate = QtWidgets.QLabel("")
        self.expert_label = QtWidgets.QLabel(f"expert: <b>{self.state.expert}</b>")
        for w in (self.rate, self.expert_label):
            w.setStyleSheet("color:#111111; padding:0 6px;")
        sb.addPermanentWidget(self.rate)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.expert_label)
        # as tall as its tallest occupant from the start: the PA-fit progress and its Cancel
        # button come and go, and must not move the sky panels by a pixel when they do
        button = QtWidgets.QToolButton()
        button.setText("Cancel")
        sb.setFixedHeight(max(sb.sizeHint().height(), button.sizeHint().height() + 4,
                              self.progress.sizeHint().height() + 4))

    def _action(self, text, keys, slot, menu, checkable=False, checked=False):
        act = QtWidgets.QAction(text, self)
        if keys:
            if isinstance(keys, (list, tuple)):
                act.setShortcuts([QtGui.QKeySequence(k) for k in keys])
            else:
                act.setShortcut(QtGui.QKeySequence(keys))
        act.setShortcutContext(QtCore.Qt.WindowShortcut)
        if checkable:
            act.setCheckable(True)
            act.setChecked(checked)
            act.toggled.connect(slot)
        else:
            act.triggered.connect(lambda _=False: slot())
        menu.addAction(act)
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        mb = self.menuBar()
        mb.setStyleSheet("QMenuBar { background:#eeeeee; color:#111111; }")
        fm = mb.addMenu("&File")
        self._action("Save screenshot…", "Ctrl+Shift+S", self._save_screenshot, fm)
        self._action("Switch expert…", "Ctrl+Shift+E", self.prompt_expert, fm)
        self._action("Quit", "Ctrl+Q", self.quit, fm)
        lm = mb.addMenu("&Label")
        from kinview.gui.label_panel import _VOCAB

        self.label_actions = {}
        for key, fld, kind, value in LABEL_KEYS:
            name = _VOCAB[kind][value]
            act = self._action(f"{fld} {kind.replace('_', ' ')} = {value} ({name})", key,
                               lambda f=fld, k=kind, v=value: self.label(f, k, v), lm)
            self.label_actions[(fld, kind, value)] = act
        lm.addSeparator()
        #: actions that change this expert's labels: off while adjudicating
        self.labelling_actions = list(self.label_actions.values()) + [
            self._action("Type a note", "T", self.label_panel.edit_note, lm),
            self._action("Clear hand-set PAs", "R", self.clear_pa_overrides, lm),
            self._action("Undo last label", "Ctrl+Z", self.undo, lm)]
        lm.addSeparator()
        self._action("Adjudication queue", "Ctrl+J", self.toggle_adjudication, lm)
        # while adjudicating, the digits are the final label wherever the focus is (the label
        # actions on 1-3 are disabled meanwhile, so no shortcut is ambiguous)
        am = lm.addMenu("Adjudicate")
        self.adjudication_actions = [
            self._action(f"Final label {code}", str(code),
                         lambda c=code: self._adjudication_key(c), am) for code in range(4)]
        self.adjudication_actions.append(
            self._action("Withdraw the final label", "Backspace", lambda: self._adjudication_key(None), am))
        for act in self.adjudication_actions:
            act.setEnabled(False)
        gm = mb.addMenu("&Go")
        keys: Dict[str, list] = {}
        for seq, name, _ in OTHER_KEYS:
            keys.setdefault(name, []).append(seq)
        self._action("Next unlabelled", keys["next_unlabelled"], self.next_unlabelled, gm)
        self._action("Next", keys["next"], self.next, gm)
        self._action("Previous", keys["previous"], self.previous, gm)
        self._action("First", keys["first"], self.session.first, gm)
        self.view_menu = mb.addMenu("&View")
        t = self.state.toggles
        self.toggle_actions = {
            "sigma": self._action("Dispersion maps", "Ctrl+D", lambda on: self.set_toggle("sigma", on),
                                  self.view_menu, True, t["sigma"]),
            "flux": self._action("Flux map", "Ctrl+F", lambda on: self.set_toggle("flux", on),
                                 self.view_menu, True, t["flux"]),
            "cleaned": self._action("Mark spaxels removed by cleaning", "Ctrl+K",
                                    lambda on: self.set_toggle("cleaned", on), self.view_menu, True,
                                    t["cleaned"]),
            "wedge": self._action("PA error wedge", "Ctrl+E", lambda on: self.set_toggle("wedge", on),
                                  self.view_menu, True, t["wedge"]),
            "auto_advance": self._action("Advance when both qualities are set", None,
                                         lambda on: self.set_toggle("auto_advance", on),
                                         self.view_menu, True, t["auto_advance"]),
            "blind": self._action("Blind mode (others' labels after mine)", None,
                                  lambda on: self.set_toggle("blind", on), self.view_menu, True,
                                  t.get("blind", True)),
        }
        self._action("Narrower colour clip", "[", lambda: self.step_clip(-1), self.view_menu)
        self._action("Wider colour clip", "]", lambda: self.step_clip(+1), self.view_menu)
        self.view_menu.addSeparator()
        self._build_view_options(self.view_menu)
        self.view_menu.addSeparator()
        for dock in self.findChildren(QtWidgets.QDockWidget):
            self.view_menu.addAction(dock.toggleViewAction())
        hm = mb.addMenu("&Help")
        self._action("Keyboard help", ["F1", "?"], self.show_help, hm)

    def _build_view_options(self, menu) -> None:
        """Zoom, framing, scale and colour-map options of the sky panels (View menu)."""
        t = self.state.toggles
        self._action("Reset zoom", "Home", self.view.reset_zoom, menu)
        for key, text, keys in (
                ("keep_zoom", "Keep the zoom between galaxies", None),
                ("wide_image", "Wide colour image (whole cutout)", "Ctrl+I"),
                ("shared_vscale", "One velocity scale for both maps", "Ctrl+L"),
                ("marks", "Scale bar (kpc) and PSF", "Ctrl+B")):
            self.toggle_actions[key] = self._action(
                text, keys, lambda on, k=key: self.set_toggle(k, on), menu, True, t.get(key, False))
        from kinview import viewing

        self.cmap_actions = {}
        for kind, title in (("velocity", "Velocity colour map"),
                            ("sequential", "Dispersion/flux colour map")):
            sub = menu.addMenu(title)
            group = QtWidgets.QActionGroup(self)
            group.setExclusive(True)
            current = viewing.valid_cmap(kind, self.settings.colormaps.get(kind))
            for name in viewing.cmap_choices(kind):
                act = QtWidgets.QAction(name, self, checkable=True)
                act.setChecked(name == current)
                act.triggered.connect(lambda _=False, k=kind, n=name: self.set_cmap(k, n))
                group.addAction(act)
                sub.addAction(act)
                self.cmap_actions[(kind, name)] = act
            self.view.set_cmap(kind, current)

    def set_cmap(self, kind: str, name: str) -> None:
        """Use colour map ``name`` for ``kind`` ('velocity' or 'sequential'); remembered."""
        from kinview import viewing

        name = viewing.valid_cmap(kind, name)
        self.view.set_cmap(kind, name)
        self.settings.colormaps[kind] = name
        act = self.cmap_actions.get((kind, name))
        if act is not None and not act.isChecked():
            act.setChecked(True)

    def _build_toolbar(self) -> None:
        # the view toolbar sits in the menu bar's row: a toolbar row of its own costs the maps
        # 30 px of height, which a 1280×800 screen does not have
        tb = QtWidgets.QToolBar("View", self)
        tb.setObjectName("toolbar-view")
        tb.setMovable(False)
        tb.setIconSize(QtCore.QSize(12, 12))
        self.menuBar().setCornerWidget(tb, QtCore.Qt.TopRightCorner)
        self.view_toolbar = tb
        lab = QtWidgets.QLabel(" colour clip ")
        tb.addWidget(lab)
        self.clip_box = QtWidgets.QDoubleSpinBox()
        self.clip_box.setRange(50.0, 100.0)
        self.clip_box.setSingleStep(0.5)
        self.clip_box.setDecimals(1)
        self.clip_box.setSuffix(" %")
        self.clip_box.setValue(self.state.clip_percentile)
        self.clip_box.setFocusPolicy(QtCore.Qt.ClickFocus)
        self.clip_box.setToolTip("Percentile of |v − v_sys| at the ends of the colour scale ([ and ] keys)")
        self.clip_box.valueChanged.connect(lambda v: self.state.set("clip_percentile", float(v)))
        tb.addWidget(self.clip_box)
        tb.addSeparator()
        for key, text in (("sigma", "σ maps"), ("flux", "flux"), ("cleaned", "cleaned-away"),
                          ("wedge", "PA wedge"), ("auto_advance", "auto-advance")):
            act = self.toggle_actions[key]
            act.setIconText(text)
            tb.addAction(act)
        tb.addSeparator()
        help_act = QtWidgets.QAction("Keys (F1)", self)
        help_act.triggered.connect(self.show_help)
        tb.addAction(help_act)

    # ------------------------------------------------------------------------------------------
    # loading
    # ------------------------------------------------------------------------------------------
    def _table_failed(self, exc, tb) -> None:
        self.load_error = str(exc)
        self.statusBar().showMessage(f"cannot open survey: {exc}")
        self.view.header.setText(f"<span style='color:#b00000'>Cannot open {self.survey_dir}: {exc}</span>")

    def _table_ready(self, result) -> None:
        if self.table is not None:
            return
        table, mine = result
        s = self.session
        # the galaxy list and the prefetcher exist before the session lists and shows galaxies
        self.prefetcher = Prefetcher(self.survey_dir, self.row, db_path=self.store_db_path(),
                                     clean=self.state.toggles.get("cleaned", False))
        self.prefetcher.paint_of = self.view.paint_spec
        self.prefetcher.loaded.connect(self._galaxy_loaded)
        self.prefetcher.fitted.connect(self._pa_fitted)
        s.attach(table, mine, table_expert=self._table_expert,
                 keep=self.settings.position(self.survey_dir))
        self.adjudication.bind(self.store, self.state.expert)
        if self.adjudication_dock.isVisible():
            self.adjudication.refresh()
        self.statusBar().showMessage(f"{len(table)} galaxies in {self.survey_dir}", 5000)
        self._watch_models()
        self.table_loaded.emit()

    def _watch_models(self) -> None:
        """Re-read the predictions whenever the models table changes, from any process (a CLI
        ``kinview train``/``predict`` included): :class:`kinview.gui.model_watch.ModelWatcher`."""
        from kinview.gui.model_watch import ModelWatcher

        self.model_watch = ModelWatcher(self.store_db_path(), parent=self)
        self.model_watch.changed.connect(self._models_changed)
        self.model_watch.start()

    def _models_changed(self) -> None:
        panels = getattr(self, "model_panels", None)
        if panels is not None:
            panels.reload_predictions()
            listing = getattr(panels, "model_list", None)
            if listing is not None and self.tabs.currentWidget() is listing:
                listing.refresh()
            self.statusBar().showMessage("the survey's models changed: predictions re-read", 5000)

    def store_db_path(self) -> Path:
        return self.survey_dir / "kinview.sqlite"

    def row(self, plateifu: str) -> dict:
        """The table row of ``plateifu`` as a dict (safe to hand to a worker)."""
        return self.session.row(plateifu)

    # the session's state, as the window's attributes (read by the model panels and tests) -----
    table = property(lambda self: self.session.table)
    mine = property(lambda self: self.session.mine)
    no_gas = property(lambda self: self.session.no_gas)
    store = property(lambda self: self.session.store)
    undo_stack = property(lambda self: self.session.undo_stack)
    session_done = property(lambda self: self.session.session_done)
    n_labelled = property(lambda self: self.session.n_labelled)

    @property
    def model_id(self) -> Optional[int]:
        return self.session.model_id

    @model_id.setter
    def model_id(self, value) -> None:
        self.session.model_id = value

    # ------------------------------------------------------------------------------------------
    # view state
    # ------------------------------------------------------------------------------------------
    def _on_session(self, name, value) -> None:
        """Bring the widgets in line with a session event (:mod:`kinview.session.labelling`)."""
        s = self.session
        if name == "index":
            self._show_current()
        elif name == "order":
            if s.table is None:
                return
            model = self.galaxy_list.model
            if self._relist or model.table is not s.table or model.order != value:
                # (a list someone already put in the galaxy list, with its own caption, stays)
                self.galaxy_list.set_data(s.table, value)
            self._relist = False
            if value or not len(s.table):
                self.label_panel.setEnabled(True)
            else:
                name = vs.FILTERS.get(self.state.filter_name, self.state.filter_name)
                self.view.show_empty(f"No galaxy passes the filter “{name}”.\n"
                                     "Choose another filter in the galaxy list.")
                self.label_panel.setEnabled(False)
        elif name == "filter":
            self.galaxy_list.set_filter(*value)
            self._relist = True          # the values may have changed too: list them afresh
        elif name == "row":
            self.galaxy_list.model.refresh_row(value)
            if value == s.current:
                self._show_labels(value)
                self._update_reveal_soon()
        elif name == "counts":
            self._show_counts(value)
        elif name == "labelled":
            self.labelled.emit(*value)
        elif name == "undone":
            if value[2] == "pa_override":
                self._redraw_current()
        elif name == "no_gas":
            if value == s.current:
                self._update_reveal_soon()
        elif name == "expert":
            self.expert_label.setText(f"expert: <b>{value}</b>")
            if s.store is not None:
                self.adjudication.bind(s.store, value)
        elif name == "pa_fits":
            # the list shows the new values; its order (filter) is recomputed when the filter
            # is next chosen, so the galaxy on screen and the expert's place never jump
            self.galaxy_list.set_data(s.table, self.state.order)
            if s.current is not None:
                self.galaxy_list.select(s.current)
        elif name == "predictions":
            cur = s.current
            if cur is not None:
                self._show_labels(cur)
        elif name == "message":
            self.statusBar().showMessage(*value)
        elif name == "adjudicating":
            self._adjudicating_changed(value)
        elif name == "clip_percentile":
            self.view.set_percentile(value)
            if abs(self.clip_box.value() - value) > 1e-9:
                self.clip_box.blockSignals(True)
                self.clip_box.setValue(value)
                self.clip_box.blockSignals(False)
        elif name.startswith("toggles."):
            key = name.split(".", 1)[1]
            act = self.toggle_actions.get(key)
            if act is not None and act.isChecked() != value:
                act.blockSignals(True)
                act.setChecked(value)
                act.blockSignals(False)
            self.view.set_toggles(self.state.toggles)
            if key == "blind":
                self._update_reveal_soon()
            if key == "cleaned" and self.prefetcher is not None:
                self.prefetcher.set_clean(value)      # the cleaning runs in the loader
                self.view.drawn_plateifu = None
                self._show_current()

    def set_toggle(self, key: str, on: bool) -> None:
        self.state.set(f"toggles.{key}", bool(on))

    def step_clip(self, direction: int) -> None:
        cur = self.state.clip_percentile
        if direction > 0:
            nxt = next((s for s in CLIP_STEPS if s > cur + 1e-9), CLIP_STEPS[-1])
        else:
            nxt = next((s for s in reversed(CLIP_STEPS) if s < cur - 1e-9), CLIP_STEPS[0])
        self.state.set("clip_percentile", nxt)
        self.statusBar().showMessage(f"colour clip at the {nxt:g}th percentile of |v − v_sys|", 3000)

    def _show_current(self) -> None:
        pifu = self.state.current
        if pifu is None or self.table is None:
            return
        self.galaxy_list.select(pifu)
        row = self.row(pifu)
        labels = self.mine.get(pifu, {})
        data = self.prefetcher.get(pifu)
        self._show_labels(pifu, row)
        self._update_reveal_soon()
        self._save_settings_soon()
        if data is not None:
            self.view.show_galaxy(data, row, labels)
            self._prefetch_around_soon()
        else:
            # the galaxies around are queued once this one has arrived (it loads alone),
            # unless the expert is travelling (a key held down): then they keep coming.  A
            # request for the galaxy on screen drops the previous one if it has not started
            # (latest wins: a held key never waits for the galaxies it passed)
            self.view.show_loading(pifu, row)
            self.prefetcher.request(pifu, priority=self.prefetcher.NOW)
            if self.prefetcher.travelling:
                self._prefetch_around_soon()

    def _show_labels(self, plateifu: str, row: Optional[dict] = None) -> None:
        """Show ``plateifu`` in the label panel: this expert's labels, whether it has gas, its
        table row (``row``, when the caller has it already) and the expert."""
        s = self.session
        self.label_panel.set_galaxy(plateifu, s.labels(plateifu), plateifu not in s.no_gas,
                                    s.row(plateifu) if row is None else row, s.expert)

    def _galaxy_loaded(self, plateifu: str, data) -> None:
        self.session.galaxy_data_loaded(plateifu, data)
        if plateifu == self.state.current and self.view.drawn_plateifu != plateifu:
            row = self.row(plateifu)
            self._show_labels(plateifu, row)
            self.view.show_galaxy(data, row, self.mine.get(plateifu, {}))
        if plateifu == self.state.current or self.prefetcher.travelling:
            self._prefetch_around_soon()

    def _save_settings_soon(self) -> None:
        """Save the position (and layout) a moment after the expert moves, not only on quit,
        so a crash or a killed session still reopens where the expert was."""
        if self._settings_timer is None:
            self._settings_timer = QtCore.QTimer(self)
            self._settings_timer.setSingleShot(True)
            self._settings_timer.timeout.connect(self.save_settings)
        self._settings_timer.start(SETTINGS_SAVE_DELAY_MS)

    def _prefetch_around_soon(self) -> None:
        """Queue the neighbours' loads once the galaxy just shown has been painted.

        Loading (FITS inflate, live PA fits) runs in worker threads, but on two cores it still
        competes with the paint for CPU and the GIL; starting it a moment later keeps the
        keypress-to-drawn time short.
        """
        if self._prefetch_timer is None:
            self._prefetch_timer = QtCore.QTimer(self)
            self._prefetch_timer.setSingleShot(True)
            self._prefetch_timer.timeout.connect(
                lambda: self.prefetcher.around(self.state.order, self.state.index))
        if not self._prefetch_timer.isActive():   # a burst of presses must not starve it
            self._prefetch_timer.start(PREFETCH_DELAY_MS)

    def _pa_fitted(self, plateifu, kind, pa, err, vsyst) -> None:
        self.session.pa_fitted(plateifu, kind, pa, err)

    # ------------------------------------------------------------------------------------------
    # navigation
    # ------------------------------------------------------------------------------------------
    def goto(self, plateifu: str) -> bool:
        return self.session.goto(plateifu)

    def next(self) -> None:
        """Next galaxy; while adjudicating, the next disagreement."""
        if self.session.adjudicating:
            self.adjudication.step(+1)
        else:
            self.session.next()

    def previous(self) -> None:
        """Previous galaxy; while adjudicating, the previous disagreement."""
        if self.session.adjudicating:
            self.adjudication.step(-1)
        else:
            self.session.previous()

    def is_labelled(self, plateifu: str) -> bool:
        return self.session.is_labelled(plateifu)

    def next_unlabelled(self) -> None:
        """Next unlabelled galaxy; while adjudicating, the next disagreement."""
        if self.session.adjudicating:
            self.adjudication.step(+1)
        else:
            self.session.next_unlabelled()

    def set_filter(self, name: str, k=None) -> None:
        self.session.set_filter(name, k)

    def _sort(self, column: str) -> None:
        self.session.sort(column)

    # ------------------------------------------------------------------------------------------
    # labelling (the rules live in the session)
    # ------------------------------------------------------------------------------------------
    def label(self, field: str, kind: str, value, advance: bool = True) -> Optional[int]:
        """Commit one label of the current galaxy: :meth:`LabellingSession.label`."""
        return self.session.label(field, kind, value, advance=advance)

    def _note(self, text: str) -> None:
        self.label("galaxy", "note", text or None, advance=False)

    def _pa_override(self, plateifu: str, kind: str, pa: float) -> None:
        if plateifu != self.state.current:
            return
        self.label(kind, "pa_override", float(pa), advance=False)
        self._redraw_current()

    def clear_pa_overrides(self) -> None:
        pifu = self.state.current
        if pifu is None:
            return
        labels = self.mine.get(pifu, {})
        cleared = False
        for kind in ("stellar", "gas"):
            if (kind, "pa_override") in labels:
                self.label(kind, "pa_override", None, advance=False)
                cleared = True
        if cleared:
            self._redraw_current()

    def _redraw_current(self) -> None:
        pifu = self.state.current
        data = self.prefetcher.get(pifu) if (pifu and self.prefetcher) else None
        if data is not None:
            row = self.row(pifu)
            self.view.show_galaxy(data, row, self.mine.get(pifu, {}))

    def undo(self) -> Optional[dict]:
        """Undo this expert's last label and show its galaxy: :meth:`LabellingSession.undo`."""
        return self.session.undo()

    def _show_counts(self, counts: dict) -> None:
        if counts.get("adjudicating"):
            # the adjudicator's progress is the queue's, not a labelling count of their own
            done, total = counts["adjudicated"], counts["disagreements"]
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)
            self.progress.setFormat(f"{done} / {total} disagreements adjudicated")
            self.rate.setText("")
            return
        self.progress.setFormat("%v / %m labelled")
        self.progress.setRange(0, max(counts["total"], 1))
        self.progress.setValue(counts["labelled"])
        done = counts["session"]
        if counts["per_hour"] is not None:
            self.rate.setText(f"{done} this session · {counts['per_hour']:,.0f} / hour")
        elif done == 1:
            self.rate.setText("1 this session")
        else:
            self.rate.setText("")

    # ------------------------------------------------------------------------------------------
    # the window's background jobs: PA fits (progress, cancel, the list refreshed as fits
    # land), then the shipped models' predictions; predictions re-read, latest wins
    # ------------------------------------------------------------------------------------------
    def start_pa_fits(self) -> None:
        """At every start: fit (fast method, long-job pool) the fields that have no stored PA
        fit yet — a new survey's, or the rest of an interrupted fit — with progress and a Cancel
        button in the status bar; then run the shipped models on a survey without a model of
        its own (:meth:`start_shipped_predictions`).  The check itself runs in the worker too."""
        from kinview.session.loading import fit_pas_if_none

        if self._closing:
            return
        w = worker.submit_long(fit_pas_if_none, str(self.survey_dir))
        self.attach_pa_fit(w)            # progress bar + Cancel; the list refreshes as fits land
        w.finished.connect(self._pa_fits_finished)
        w.done.connect(self.start_shipped_predictions)

    def _pa_fits_finished(self, count) -> None:
        if count:
            self.statusBar().showMessage(f"fitted {count} position angles", 5000)

    def start_shipped_predictions(self) -> None:
        """Run the shipped default models (long-job pool) on a survey that has no model of its
        own, then refresh the prediction columns, filters and queues."""
        from kinview.training.shipped import predict_with_shipped_models

        if self._closing:
            return
        w = worker.submit_long(predict_with_shipped_models, str(self.survey_dir))
        self.shipped_worker = w
        w.status.connect(self.statusBar().showMessage)
        w.finished.connect(self._shipped_finished)
        w.failed.connect(self._shipped_failed)

    def _shipped_finished(self, tasks) -> None:
        if tasks:
            self.statusBar().showMessage(
                f"predictions from the shipped {', '.join(tasks)} models (trained on the demo survey)", 8000)
            panels = getattr(self, "model_panels", None)
            if panels is not None:
                panels.reload_predictions()

    def _shipped_failed(self, exc, tb) -> None:
        self.statusBar().showMessage(f"shipped models not run: {exc}", 8000)

    def reload_predictions(self) -> None:
        """Re-read the active model's predictions into the session (a worker; a newer re-read
        supersedes an older one)."""
        from kinview.session.labelling import prediction_table_job

        if self.table is None:
            return
        self._predictions_job.submit(
            prediction_table_job, str(self.survey_dir), self.state.expert,
            on_result=self.session.apply_predictions,
            on_error=lambda exc, tb: self.statusBar().showMessage(f"cannot re-read predictions: {exc}", 8000))

    def attach_pa_fit(self, w) -> None:
        """Show the progress of a background PA fit (a :mod:`kinview.gui.worker` worker running
        :func:`kinview.session.loading.fit_pas_if_none`) with a Cancel button in the status bar,
        and refresh the list's PA columns as fits land.  Cancelled fits resume at the next start."""
        if not hasattr(self, "pa_progress"):
            self.pa_progress = QtWidgets.QProgressBar()
            self.pa_progress.setObjectName("pa-fit-progress")
            self.pa_progress.setFormat("PA fits %v / %m galaxies")
            self.pa_progress.setToolTip("Position angles (fast method) of the galaxies not fitted "
                                        "yet, in the background; labelling goes on meanwhile")
            self.pa_cancel = QtWidgets.QToolButton()
            self.pa_cancel.setText("Cancel PA fits")
            self.pa_cancel.setFocusPolicy(QtCore.Qt.NoFocus)
            self.statusBar().insertPermanentWidget(0, self.pa_progress)
            self.statusBar().insertPermanentWidget(1, self.pa_cancel)
        self.pa_worker = w
        self._pa_refreshed = time.monotonic()
        self.pa_progress.setRange(0, 0)      # busy until the worker knows how many
        self.pa_progress.show()
        self.pa_cancel.show()
        self.pa_cancel.setEnabled(True)
        try:
            self.pa_cancel.clicked.disconnect()
        except TypeError:
            pass
        self.pa_cancel.clicked.connect(self.cancel_pa_fits)
        w.progress.connect(self._pa_fit_progress)
        w.cancelled.connect(self._pa_fit_cancelled)
        w.failed.connect(self._pa_fit_failed)
        w.done.connect(self._pa_fit_done)

    def _pa_fit_cancelled(self) -> None:
        self.statusBar().showMessage(
            "PA fitting cancelled: the fits done so far are kept; the rest resume at the next start", 10000)

    def _pa_fit_failed(self, exc, tb) -> None:
        self.statusBar().showMessage(f"PA fitting failed: {exc}", 10000)

    def cancel_pa_fits(self) -> None:
        w = getattr(self, "pa_worker", None)
        if w is not None and not w.is_done:
            w.cancel()
            self.pa_cancel.setEnabled(False)
            self.statusBar().showMessage("cancelling the PA fits …")

    def _pa_fit_progress(self, done: int, total) -> None:
        if total:
            self.pa_progress.setRange(0, int(total))
        self.pa_progress.setValue(int(done))
        if time.monotonic() - self._pa_refreshed > 5.0:
            self.reload_pa_fits()

    def _pa_fit_done(self) -> None:
        self.pa_progress.hide()
        self.pa_cancel.hide()
        self.reload_pa_fits()

    def reload_pa_fits(self) -> None:
        """Re-read the stored PA fits into the galaxy table, the list and its filters."""
        self._pa_refreshed = time.monotonic()
        self.session.reload_pa_fits()

    # ------------------------------------------------------------------------------------------
    # several experts: who labels, blind mode and the reveal strip, adjudication
    # ------------------------------------------------------------------------------------------
    def _install_experts(self) -> None:
        from kinview.gui.adjudication_panel import AdjudicationPanel

        self.adjudication = AdjudicationPanel()
        # a tab beside the galaxy list: the queue is the list of galaxies to settle, and the
        # maps keep their room
        self.adjudication_dock = self.add_panel("Adjudication", self.adjudication, "left")
        self.tabifyDockWidget(self.list_dock, self.adjudication_dock)
        self.adjudication_dock.hide()
        self.adjudication_dock.visibilityChanged.connect(self._adjudication_visible)
        self.adjudication.galaxy_selected.connect(self.goto)
        self.adjudication.on_screen = lambda: self.state.current
        self.adjudication.visible = self.session.revealed_galaxies     # blind mode for raters
        self.adjudication.decided.connect(lambda *_: self._update_reveal_soon())
        self.adjudication.counts_changed.connect(self.session.set_adjudication_counts)
        self._reveal_timer = QtCore.QTimer(self)
        self._reveal_timer.setSingleShot(True)
        self._reveal_timer.timeout.connect(self._update_reveal)
        self._adjudication_timer = QtCore.QTimer(self)
        self._adjudication_timer.setSingleShot(True)
        self._adjudication_timer.timeout.connect(self._refresh_adjudication)
        self.labelled.connect(lambda *_: self._adjudication_timer.start(300))

    def _adjudication_visible(self, visible: bool) -> None:
        """The queue shown (its tab in front) is adjudicating; hidden (closed, or the Galaxies
        tab in front) is labelling (:meth:`LabellingSession.set_adjudicating`)."""
        if self._closing:
            return
        self._dock_follows = True
        try:
            self.session.set_adjudicating(visible)
        finally:
            self._dock_follows = False
        if visible:
            self._refresh_adjudication()
        self._update_reveal_soon()

    def _adjudicating_changed(self, on: bool) -> None:
        """Bind the window to the session's mode: while adjudicating the label keys and
        buttons are off and the digits, Backspace and the arrows work the queue."""
        for act in self.labelling_actions:
            act.setEnabled(not on)
        for act in self.adjudication_actions:
            act.setEnabled(on)
        self.label_panel.set_adjudicating(on, self.state.expert)
        if on:
            self.label_panel.note.clearFocus()
        elif not getattr(self, "_dock_follows", False) and self.adjudication_dock.isVisible():
            # the session stopped adjudicating by itself (the expert was switched): close the
            # queue (not when the change came from the dock: its Galaxies tab was chosen)
            self.adjudication_dock.hide()
        cur = self.state.current
        if not on and cur is not None and self.table is not None:
            self._show_labels(cur)
        self._update_reveal_soon()

    def _adjudication_key(self, code) -> None:
        """A digit (or Backspace: None) pressed anywhere while adjudicating."""
        if self.session.adjudicating:
            self.adjudication.decide(code)

    def _refresh_adjudication(self) -> None:
        if self.store is not None and self.adjudication_dock.isVisible():
            self.adjudication.refresh()

    def toggle_adjudication(self) -> None:
        """Show (and focus) or hide the adjudication queue.  While it is open the reveal strip
        shows every rater's labels: adjudicating needs them, blind mode or not."""
        if self.adjudication_dock.isVisible():
            self.adjudication_dock.hide()
            self._restack_card()
            return
        self._tab_card_for_queue()        # before the queue shows: no visibility flip-flop
        self.adjudication_dock.show()
        self.adjudication_dock.raise_()
        self.size_adjudication_dock()
        self.adjudication.table.setFocus(QtCore.Qt.ShortcutFocusReason)

    def size_adjudication_dock(self) -> None:
        """Give the adjudication queue the whole left column: the catalogue card, when it is
        stacked under the galaxy list, becomes a tab beside it while the queue is open (the
        κ table was squeezed to its header row under the card at 1920×1080)."""
        if self._tab_card_for_queue():
            self.adjudication_dock.raise_()
        self.resizeDocks([self.adjudication_dock], [int(self.height() * 0.7)], QtCore.Qt.Vertical)

    def _tab_card_for_queue(self) -> bool:
        """Make the stacked catalogue card a tab beside the galaxy list; True if it moved."""
        card = getattr(self, "catalogue_dock", None)
        if isinstance(card, QtWidgets.QDockWidget) and not card.isFloating() and card.isVisible() \
                and card not in self.tabifiedDockWidgets(self.list_dock):
            self.tabifyDockWidget(self.list_dock, card)
            card._kinview_tabbed_for_queue = True
            return True
        return False

    def _restack_card(self) -> None:
        """Put the catalogue card back under the galaxy list once the queue closes (where the
        window is tall enough for both, :attr:`STACKED_LEFT_HEIGHT`)."""
        card = getattr(self, "catalogue_dock", None)
        if not getattr(card, "_kinview_tabbed_for_queue", False):
            return
        card._kinview_tabbed_for_queue = False
        if self.height() >= self.STACKED_LEFT_HEIGHT and not card.isFloating():
            self.splitDockWidget(self.list_dock, card, QtCore.Qt.Vertical)
            self.default_dock_sizes()

    def _update_reveal_soon(self) -> None:
        """Refresh the reveal strip after the galaxy is painted (one small query, off the
        keypress-to-paint path)."""
        self._reveal_timer.start(REVEAL_DELAY_MS)

    def _update_reveal(self) -> None:
        pifu = self.state.current
        strip = self.label_panel.reveal_strip
        if pifu is None or self.store is None:
            strip.clear_reveal()
            return
        from kinview.labels.adjudication import reveal

        s = self.session
        try:
            r = reveal(self.store, pifu, self.state.expert, has_gas=pifu not in self.no_gas,
                       blind=s.blind, adjudicating=s.adjudicating, rater=s.is_rater)
        except Exception as exc:  # noqa: BLE001 - the strip is information, never a crash
            strip.setText(f"<span style='color:#b00000'>other experts' labels unavailable: {exc}</span>")
            return
        strip.show_reveal(r)
        QtCore.QTimer.singleShot(0, self.fit_label_dock)     # after the strip's relayout

    def prompt_expert(self, first_run: bool = False) -> Optional[str]:
        """Ask for the expert's name (File ▸ Switch expert, and the first run); switch to it."""
        from kinview.gui.expert_dialog import ask_expert

        known = self.store.experts() if self.store is not None else []
        name = ask_expert(self, self.state.expert, known, first_run=first_run)
        if name is not None:
            self.switch_expert(name)
        return name

    def switch_expert(self, name: str) -> None:
        """Label as ``name`` from now on (:meth:`LabellingSession.switch_expert`); the name is
        saved in the settings."""
        name = self.session.switch_expert(name)
        self._refresh_adjudication()
        self.settings.expert = name
        self._save_settings_soon()

    # ------------------------------------------------------------------------------------------
    # help, screenshot, settings
    # ------------------------------------------------------------------------------------------
    def show_help(self) -> None:
        from kinview.gui.help_dialog import HelpDialog

        HelpDialog(self).exec_()

    def _save_screenshot(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save screenshot", "kinview.png",
                                                        "PNG (*.png)")
        if path:
            self.grab().save(path, "PNG")

    def save_settings(self) -> None:
        s = self.settings
        s.expert = self.state.expert
        s.last_survey = str(self.survey_dir)
        s.set_position(self.survey_dir, self.state.current)
        s.filters[Settings.survey_key(self.survey_dir)] = [self.state.filter_name, self.state.filter_k]
        s.clip_percentile = float(self.state.clip_percentile)
        s.toggles = dict(self.state.toggles)
        qsettings.store_window(self, s)
        try:
            s.save()
        except OSError as exc:
            self.statusBar().showMessage(f"settings not saved: {exc}", 5000)

    def default_dock_sizes(self) -> None:
        """Galaxy list ≈ 23 % of the width, label panel at its natural height (≤ 260 px), and
        the galaxy list at least ~60 % of the left column (the catalogue card under it)."""
        # the list at least as wide as its columns through ΔPA (no PA column off-screen)
        list_w = max(self.galaxy_list.essential_width(), int(self.width() * 0.23))
        self.resizeDocks([self.list_dock], [min(list_w, int(self.width() * 0.36))], QtCore.Qt.Horizontal)
        self.fit_label_dock(force=True)
        card = getattr(self, "catalogue_dock", None)
        if isinstance(card, QtWidgets.QDockWidget) and not card.isFloating():
            if self.height() < self.STACKED_LEFT_HEIGHT:
                # too short for the list and the card one above the other: the list would
                # show a row or two; the card becomes a tab beside it
                self.tabifyDockWidget(self.list_dock, card)
                QtCore.QTimer.singleShot(0, self.list_dock.raise_)
            else:
                left = max(self.list_dock.height() + card.height(), 200)
                self.resizeDocks([self.list_dock, card], [int(left * 0.6), left - int(left * 0.6)],
                                 QtCore.Qt.Vertical)

    def fit_label_dock(self, force: bool = False) -> None:
        """Make the label dock as tall as the label panel needs at its width (its wrapped
        labels, the reveal strip's lines), at most 42 % of the window; with ``force`` also
        shrink it to that, otherwise only grow it (the expert may have resized it)."""
        if self.label_dock.isFloating() or not self.label_dock.isVisible():
            return
        area = self.label_dock.widget()
        chrome = self.label_dock.height() - area.height() if area is not None else 30
        width = area.viewport().width() if area is not None else self.width()
        need = self.label_panel.height_for(width) + max(chrome, 0) + 4
        need = min(need, int(self.height() * 0.42))
        if force or need > self.label_dock.height():
            self.resizeDocks([self.label_dock], [need], QtCore.Qt.Vertical)

    #: Below this window height the catalogue card is a tab beside the galaxy list.
    STACKED_LEFT_HEIGHT = 950

    #: Below this window width a side dock (the training panel) opens as a tab beside the
    #: galaxy list instead of taking the maps' width (three maps need ~1000 px).
    SIDE_BY_SIDE_WIDTH = 1700

    def _place_side_dock(self, dock: QtWidgets.QDockWidget, visible: bool) -> None:
        """On a narrow window, open ``dock`` as a tab beside the galaxy list (and bring it to
        the front) rather than as a third column that squeezes the maps."""
        if dock.isHidden() or dock.isFloating():
            return
        tabbed = dock in self.tabifiedDockWidgets(self.list_dock)
        if self.width() >= self.SIDE_BY_SIDE_WIDTH:
            if tabbed and getattr(dock, "_kinview_tabbed", False):
                # put there for a narrow window: a wide one has room for it on the right again
                dock._kinview_tabbed = False
                self.addDockWidget(QtCore.Qt.RightDockWidgetArea, dock)
                self.resizeDocks([dock], [380], QtCore.Qt.Horizontal)
            return
        if tabbed or self.dockWidgetArea(dock) != QtCore.Qt.RightDockWidgetArea:
            return
        self.tabifyDockWidget(self.list_dock, dock)
        dock._kinview_tabbed = True
        QtCore.QTimer.singleShot(0, dock.raise_)

    def showEvent(self, ev):  # noqa: N802 - Qt name
        super().showEvent(ev)
        if not self._shown_once:
            self._shown_once = True
            if not self._layout_restored:
                self.default_dock_sizes()

    def quit(self) -> None:
        """Close this window and every other kinview window (cluster view, dialogs), so the
        process ends whatever is open; settings are saved by :meth:`closeEvent`."""
        self.close()

    def closeEvent(self, ev):  # noqa: N802 - Qt name
        # the main window going away ends the session: close the other top-level windows too
        # (a cluster view left open kept the process running after Quit)
        for other in QtWidgets.QApplication.topLevelWidgets():
            if other is not self and other.isWindow() and other.isVisible():
                other.close()
        self._closing = True
        self.save_settings()
        watch = getattr(self, "model_watch", None)
        if watch is not None:
            watch.stop()
        for name in ("pa_worker", "shipped_worker"):
            background = getattr(self, name, None)
            if background is not None:
                background.cancel()
        self._predictions_job.cancel()
        worker.pool("prefetch").clear()       # queued loads are not needed any more
        self.session.close()
        super().closeEvent(ev)
