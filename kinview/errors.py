"""Errors that reach the user as one line.

Every failure caused by bad input (a missing file, a truncated FITS file, an unknown
plate-ifu, a malformed catalogue) raises :class:`KinviewError` or a subclass with a message
that names the file and what is wrong.  The command line prints ``kinview: error: <message>``
and exits with status 2; the GUI shows the message in the status bar or a dialog.
"""


class KinviewError(Exception):
    """An error caused by the user's input, reported as one line without a traceback."""


class MapsFormatError(KinviewError):
    """A file is not a readable MaNGA DAP MAPS file (truncated, wrong extensions, wrong shape)."""


class SurveyError(KinviewError):
    """A survey directory or catalogue cannot be used."""


class LabelFormatError(KinviewError):
    """A label catalogue cannot be imported; nothing was written."""


class Cancelled(Exception):
    """Raised inside long work when its :class:`~kinview.progress.TaskState` was cancelled."""
