"""``kinview pa``: fit the stellar and gas kinematic PAs of a survey and store them.

::

    kinview pa --survey DIR [--method fast|pafit] [--jobs N | --scheduler ADDRESS] [--refit]
               [--nsteps N] [--field stellar|gas] [--json] [--verbose]

PAs are degrees East of North to the receding side, [0, 360), stored in the survey's
``pa_fits`` table as they complete.  Re-running skips fields already fitted with the method
(``--refit`` fits them again); Ctrl-C keeps everything committed so far.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from kinview.errors import KinviewError


def register(sub):
    p = sub.add_parser("pa", help="fit stellar and gas kinematic PAs of a survey",
                       description="Fit the global kinematic position angle (degrees E of N to "
                       "the receding side) of every stellar and Hα velocity field of a survey, "
                       "in parallel, storing results in DIR/kinview.sqlite as they complete. "
                       "Resumable: fields already fitted with the method are skipped unless "
                       "--refit; Ctrl-C loses at most the fields in flight.")
    p.add_argument("--survey", type=Path, required=True, metavar="DIR", help="survey directory")
    p.add_argument("--method", choices=("fast", "pafit"), default="fast",
                   help="fast (kinview, default) or pafit (reference, ~100x slower)")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes (default: number of CPUs; 1 fits in one worker, "
                        "so that Ctrl-C stops at once)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="fit on Dask: a scheduler address (tcp://host:8786) or scheduler file, "
                        "or slurm/pbs/... through dask-jobqueue; workers must see the survey's "
                        "files at the same paths (default: local processes, --jobs)")
    p.add_argument("--refit", action="store_true", help="refit fields that already have a fit")
    p.add_argument("--nsteps", type=int, default=361,
                   help="angles sampled in [0, 180] (default 361: 0.5 degree steps)")
    p.add_argument("--field", choices=("stellar", "gas"), action="append", default=None,
                   help="fit only this field (repeatable; default both)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--verbose", action="store_true",
                   help="list every field left without a PA and why (default: a summary)")
    p.set_defaults(func=run)


def run(args) -> int:
    from kinview.kinematics.survey_fit import FIELDS, fit_survey
    from kinview.progress import tqdm_state

    if args.jobs is not None and args.jobs < 1:
        raise KinviewError(f"--jobs must be at least 1, not {args.jobs}")
    if args.jobs is not None and args.scheduler:
        raise KinviewError("--jobs sets local processes; with --scheduler the scheduler's workers fit")
    if args.nsteps < 3:
        raise KinviewError(f"--nsteps must be at least 3, not {args.nsteps}")
    if not args.survey.is_dir():
        raise KinviewError(f"{args.survey}: no such survey directory")
    fields = tuple(dict.fromkeys(args.field)) if args.field else FIELDS
    with tqdm_state(f"PA fits ({args.method})", unit="galaxy") as state:
        summary = fit_survey(args.survey, method=args.method, jobs=args.jobs,
                             refit=args.refit, nsteps=args.nsteps, state=state, fields=fields,
                             scheduler=args.scheduler)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        from kinview.cli.reasons import summarise

        print(f"{summary['fitted']} fields fitted, {summary['failed']} without a PA, "
              f"{summary['skipped']} already done ({summary['method']}, "
              f"{summary.get('where') or str(summary['jobs']) + ' jobs'}, "
              f"{summary['seconds']:.1f} s)")
        for line in summarise(summary.get("failures", ()), verbose=args.verbose):
            print(line)
    return 0
