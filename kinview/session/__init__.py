"""The labelling session and the loaders it drives (no Qt here).

:mod:`kinview.session.loading` reads one galaxy for the view (plain functions run in worker
threads by the GUI, called directly by tests and benchmarks).
"""
