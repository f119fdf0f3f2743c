"""The classification workspace (PyQt5 + pyqtgraph).

Everything that imports Qt lives in this package; the widgets bind to the plain
:class:`kinview.viewstate.ViewState` and read the survey through worker threads
(:mod:`kinview.gui.worker`).  Entry point: :func:`kinview.gui.app.run`.
"""
