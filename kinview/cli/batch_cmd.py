"""``kinview predict TASK --catalogue FILE --images DIR --out PRED.parquet``: catalogue-scale
predictions on Dask (the options are added to ``kinview predict`` by :func:`add_arguments`).

::

    kinview predict spin --catalogue sdss.parquet --images cutouts/ --out spin.parquet
                    [--scheduler ADDRESS | --workers N] [--model PATH|ID [--survey DIR]]
                    [--partition-rows N] [--batch-size N] [--memory-limit SIZE] [--overwrite]
"""
from __future__ import annotations

import json
from pathlib import Path

from kinview.errors import KinviewError


def add_arguments(p) -> None:
    """Add the catalogue options to the ``predict`` sub-parser."""
    g = p.add_argument_group("catalogue scale (Dask)", "predict an image task for every row of "
                             "a catalogue into partitioned Parquet; resumable")
    g.add_argument("--catalogue", default=None, metavar="FILE",
                   help="Parquet, FITS or CSV with plateifu or objid, ra, dec")
    g.add_argument("--images", default=None, metavar="DIR", help="colour cutouts DIR/<id>.jpg")
    g.add_argument("--out", default=None, metavar="PRED.parquet",
                   help="output directory of Parquet parts (a rerun finishes what is missing)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address (tcp://host:8786) or scheduler file, or "
                        "slurm/pbs/sge/lsf/htcondor/oar/moab to start workers through "
                        "dask-jobqueue (default: a local cluster)")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: CPU cores; 0: in this process "
                        "without Dask); with --scheduler slurm etc.: workers to request")
    g.add_argument("--partition-rows", type=int, default=None, metavar="N",
                   help="catalogue rows per task and per output part (default: rows/64, "
                        "at least 500, at most 10000)")
    g.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="images per network call (default 256)")
    g.add_argument("--memory-limit", default="auto", metavar="SIZE",
                   help="memory per local worker, e.g. 2GiB (default: machine memory / workers)")
    g.add_argument("--overwrite", action="store_true",
                   help="replace an output made by another run instead of refusing")
    g.add_argument("--json", action="store_true", help="print the summary as JSON")


#: options that only make sense with --catalogue
CATALOGUE_OPTIONS = ("catalogue", "images", "out", "scheduler", "workers", "partition_rows",
                     "batch_size", "overwrite")


def requested(args) -> bool:
    """Whether a ``predict`` command line asks for the catalogue path (any of its options)."""
    return any(getattr(args, k, None) not in (None, False) for k in CATALOGUE_OPTIONS)


def run(args) -> int:
    from kinview.batch.engine import JOBQUEUE_KINDS
    from kinview.batch.predict import DEFAULT_BATCH_SIZE, predict_catalogue
    from kinview.progress import tqdm_state

    missing = [o for o, v in (("--catalogue", args.catalogue), ("--images", args.images),
                              ("--out", args.out)) if not v]
    if missing:
        raise KinviewError(f"predicting a catalogue needs {', '.join(missing)} "
                           "(--catalogue FILE --images DIR --out PRED.parquet)")
    if args.workers is not None and args.workers < 0:
        raise KinviewError(f"--workers must be 0 or more, not {args.workers}")
    for opt, val in (("--partition-rows", args.partition_rows), ("--batch-size", args.batch_size)):
        if val is not None and val < 1:
            raise KinviewError(f"{opt} must be at least 1, not {val}")
    if args.scheduler and args.workers is not None and args.scheduler.lower() not in JOBQUEUE_KINDS:
        raise KinviewError("--workers starts local workers; with --scheduler ADDRESS the "
                           "scheduler's own workers do the work")
    survey = Path(args.survey).expanduser() if args.survey else None
    if survey is not None and not survey.is_dir():
        raise KinviewError(f"{survey}: no such survey directory")
    with tqdm_state(f"predict {args.task}", unit="img") as state:
        summary = predict_catalogue(
            args.task, args.catalogue, args.images, args.out, scheduler=args.scheduler,
            workers=args.workers, model=args.model, survey=survey,
            partition_rows=args.partition_rows,
            batch_size=args.batch_size or DEFAULT_BATCH_SIZE, overwrite=args.overwrite,
            memory_limit=args.memory_limit, state=state)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        skipped = f", {summary['parts_skipped']} already done" if summary["parts_skipped"] else ""
        print(f"{summary['rows_done']} rows predicted in {summary['parts_done']} parts{skipped} "
              f"({summary['flagged']} flagged) with model {summary['model_id']}, "
              f"{summary['images_per_second']:.0f} images/s {summary['where'] or ''}".rstrip())
        print(f"{summary['rows']} rows in {summary['out']}")
    return 0
