"""``kinview demo``: write the synthetic demo survey (SPEC §5)."""
from __future__ import annotations

import os
from pathlib import Path

from kinview.errors import KinviewError


def register(sub):
    p = sub.add_parser("demo", help="write a synthetic MaNGA-like survey (MAPS files, images, "
                       "catalogue, truth)",
                       description="Write a synthetic survey: DAP MAPS files in a SAS-like "
                       "tree, gri colour cutouts, catalogue.fits and truth.csv.")
    p.add_argument("--out", required=True, help="output survey directory")
    p.add_argument("--n", type=int, default=400, help="number of galaxies (default 400)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes (default: number of CPUs)")
    p.add_argument("--style", default="default", metavar="NAME",
                   help="generator family: 'default' (the embedded demo: HYB10 block binning, "
                        "colour images) or 'vor10' (a second family built to differ from it: "
                        "DR15 VOR10 Voronoi binning, another noise model and mask patterns, "
                        "slow rotators, mergers, twin disks; no images), for testing that "
                        "a classifier learned galaxies, not one generator")
    p.add_argument("--force", action="store_true",
                   help="write into a directory that already holds a survey")
    p.set_defaults(func=run)


def run(args) -> int:
    from kinview.demo import generate_survey
    from kinview.progress import tqdm_state

    styles = {"default": generate_survey}
    from kinview.demo.vor10_style import STYLE, generate_vor10_survey

    styles[STYLE] = generate_vor10_survey
    if args.style not in styles:
        raise KinviewError(f"--style must be one of {', '.join(styles)}, not {args.style!r}")
    out = Path(args.out)
    if args.n < 1:
        raise KinviewError(f"--n must be at least 1, not {args.n}")
    if args.jobs is not None and args.jobs < 1:
        raise KinviewError(f"--jobs must be at least 1, not {args.jobs}")
    if out.exists() and not out.is_dir():
        raise KinviewError(f"{out}: exists and is not a directory")
    if not args.force and out.is_dir():
        held = [name for name in ("catalogue.fits", "kinview.sqlite") if (out / name).exists()]
        if held:
            raise KinviewError(f"{out}: already holds a survey ({', '.join(held)}); "
                               f"use --force to overwrite the demo files")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KinviewError(f"{out}: cannot create directory ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise KinviewError(f"{out}: directory is not writable")
    with tqdm_state("demo survey", unit="galaxy") as state:
        summary = styles[args.style](out, n=args.n, seed=args.seed, jobs=args.jobs, state=state)
    style = "" if args.style == "default" else f" ({args.style} style)"
    print(f"wrote {summary['n']} galaxies{style} to {out} in {summary['seconds']:.1f} s "
          f"({summary['seconds_per_galaxy'] * 1000:.0f} ms/galaxy, {summary['jobs']} jobs); "
          f"stellar quality 2/1/0: {summary['stel_qual'][2]}/{summary['stel_qual'][1]}/"
          f"{summary['stel_qual'][0]}, Ha: {summary['halpha_qual'][2]}/"
          f"{summary['halpha_qual'][1]}/{summary['halpha_qual'][0]}")
    return 0
