"""Entry point of the ``kinview`` command (also ``python -m kinview``).

Each command group lives in its own module with a ``register(subparsers)`` function that adds
its sub-commands and sets ``func`` (called with the parsed arguments, returning an exit code).
Bad input raises :class:`~kinview.errors.KinviewError`: printed as one line, exit status 2.
Ctrl-C stops long work after its last commit: exit status 130, nothing corrupted.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from kinview import __version__
from kinview.errors import KinviewError

#: Modules that contribute sub-commands, in ``--help`` order.
COMMAND_MODULES = (
    "kinview.cli.gui_cmd",
    "kinview.cli.demo_cmd",
    "kinview.cli.survey_cmd",
    "kinview.cli.fetch_cmd",
    "kinview.cli.pa_cmd",
    "kinview.cli.labels_cmd",
    "kinview.cli.model_cmd",
    "kinview.cli.models_cmd",
    "kinview.cli.clusters_cmd",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other kinview error
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kinview", description="Classify MaNGA stellar and gas velocity fields, "
                     "with SDSS images, kinematic position angles and models in the loop. "
                     "With no command, opens the GUI on the default survey.")
    parser.add_argument("--version", action="version", version=f"kinview {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("--") and argv[0] not in ("--help", "--version"):
        argv = ["gui"] + argv
    args = parser.parse_args(argv)
    import sqlite3

    from kinview.db import connection

    connection.COMMAND = " ".join(["kinview"] + argv)[:200]
    try:
        return int(args.func(args) or 0)
    except KinviewError as exc:
        return _error(exc)
    except sqlite3.Error as exc:   # locked past the busy timeout, read-only, damaged file
        return _error(connection.explain(exc))
    except OSError as exc:         # a file or folder that cannot be read or written
        return _error(_os_error(exc))
    except KeyboardInterrupt:
        print("kinview: interrupted; everything committed so far is kept", file=sys.stderr)
        return 130


def cli() -> None:
    """The ``kinview`` command and ``python -m kinview``: :func:`main`, then exit with its code.

    Once the outcome is decided, a Ctrl-C that lands while the interpreter shuts down (joining a
    process pool's threads, say) is ignored: without this, Python turns a KeyboardInterrupt
    raised after :func:`main` returned into death by SIGINT, and the work already committed
    would be reported as a crash instead of exit status 0 or 130.
    """
    import signal

    try:
        code = main()
    except KeyboardInterrupt:      # between main()'s own handler and here
        code = 130
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:             # not the main thread
        pass
    if code == 130:
        exit_now(code)
    sys.exit(code)


def exit_now(code: int) -> None:
    """End an interrupted command at once: flush the output, run the ``atexit`` handlers, and
    skip the interpreter's teardown.

    Tearing down an interpreter that holds numpy, scipy and astropy (freeing every module and
    object) costs about 0.2 s of CPU; on a loaded machine, with a small share of the cores,
    that was most of the time between Ctrl-C and the exit.  Nothing is lost by skipping it:
    every command commits its work in SQLite transactions with ``synchronous=FULL`` (fsynced at
    each commit) and closes its connections before the interrupt reaches this point; the
    ``atexit`` handlers (multiprocessing's clean-up of child processes among them) still run.
    """
    import atexit
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed or broken stream must not block the exit
            pass
    try:
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - exiting regardless
        pass
    os._exit(code)


def _error(message) -> int:
    text = " ".join(str(message).split("\n")).strip() or "failed"
    print(f"kinview: error: {text}", file=sys.stderr)
    return 2


def _os_error(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else ""
    what = exc.strerror or type(exc).__name__
    return f"{where}: {what}" if where else f"{what} ({exc})"


if __name__ == "__main__":  # pragma: no cover
    cli()
