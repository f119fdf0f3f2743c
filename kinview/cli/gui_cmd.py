"""Sub-command ``kinview gui`` (also what ``kinview`` with no arguments runs).

::

    kinview                          the GUI on the default survey (the demo, created on first run)
    kinview gui [--survey DIR] [--expert NAME]
    kinview gui --screenshot FILE    render the main window offscreen to a PNG and exit

Without a display (no DISPLAY/WAYLAND_DISPLAY and no headless QT_QPA_PLATFORM) it prints a
one-line hint (``xvfb-run kinview`` or ``--screenshot``) and exits with status 3 instead of
letting Qt abort.  Qt is imported only when the command runs.
"""
from __future__ import annotations


def register(sub):
    p = sub.add_parser("gui", help="open the classification GUI (the default command)",
                       description="Open the classification workspace on a survey directory "
                       "(default: the demo survey in the user data folder, created on first run).")
    p.add_argument("--survey", metavar="DIR", help="survey directory (default: the demo survey)")
    p.add_argument("--expert", metavar="NAME", help="name stored with every label "
                   "(default: settings, KINVIEW_EXPERT, login name)")
    p.add_argument("--screenshot", metavar="FILE", help="render the main window offscreen "
                   "to a PNG (first galaxy drawn) and exit")
    p.add_argument("--size", metavar="WxH", default="1600x1000",
                   help="window size for --screenshot (default 1600x1000)")
    p.add_argument("--plateifu", nargs="+", metavar="ID",
                   help="open these galaxies through Marvin (marvin.tools.Maps: local files "
                   "or Marvin's API; needs the marvin extra) into --survey (default: the "
                   "'marvin' survey in the user data folder)")
    p.add_argument("--release", default=None, help="with --plateifu: DR15 or DR17")
    p.add_argument("--daptype", default=None, help="with --plateifu: DAPTYPE")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from kinview.errors import KinviewError

    try:
        w, h = (int(v) for v in str(args.size).lower().split("x"))
    except ValueError:
        raise KinviewError(f"--size {args.size!r}: give WIDTHxHEIGHT, e.g. 1600x1000") from None
    expert = None
    if args.expert is not None:
        from kinview.labels.experts import validate_expert

        expert = validate_expert(args.expert)
    if getattr(args, "plateifu", None):
        args.survey = _marvin_survey(args)
    from kinview.gui.app import has_display, NO_DISPLAY_HINT

    if not args.screenshot and not has_display():
        import sys

        print(NO_DISPLAY_HINT, file=sys.stderr)
        return 3
    from kinview.gui.app import run as run_gui

    return run_gui(args.survey, expert=expert, screenshot=args.screenshot, size=(w, h))


def _marvin_survey(args) -> str:
    """Open ``--plateifu`` galaxies through Marvin into a survey; return its directory."""
    from pathlib import Path

    from kinview.data import marvin_source
    from kinview.data.survey import Survey

    marvin_source.require_marvin()
    if args.survey:
        survey = Path(args.survey).expanduser()
    else:
        from kinview import paths

        survey = Path(paths.user_data_dir()) / "marvin"
    survey.mkdir(parents=True, exist_ok=True)
    marvin_source.open_into_survey(args.plateifu, survey, release=args.release,
                                   daptype=args.daptype)
    s = Survey.open(survey, ingest=False)
    try:
        s.ingest()
    finally:
        s.close()
    return str(survey)
