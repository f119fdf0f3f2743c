"""The labelling session and the loaders it drives (no Qt here).

:class:`LabellingSession` (:mod:`kinview.session.labelling`) is the one model of an expert's
labelling session: the classification window binds to its events, and tests and benchmarks
drive the same object without Qt.  :mod:`kinview.session.loading` reads one galaxy for the
view (plain functions the GUI runs in worker threads).
"""
from kinview.session.labelling import LabellingSession

__all__ = ["LabellingSession"]
