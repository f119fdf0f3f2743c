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
    from kinview.gui.app import has_display, NO_DISPLAY_HINT

    if not args.screenshot and not has_display():
        import sys

        print(NO_DISPLAY_HINT, file=sys.stderr)
        return 3
    from kinview.gui.app import run as run_gui

    return run_gui(args.survey, expert=expert, screenshot=args.screenshot, size=(w, h))
