"""Sub-commands for survey data: ``ingest``, ``fetch-images`` and ``sdss query``.

::

    kinview ingest DIR
    kinview fetch-images --survey DIR [--url-template T] [--size 256] [--scale 0.25]
                         [--jobs 4] [--retries 4] [--timeout 30]
    kinview sdss query --out DIR [--z-min Z] [--z-max Z] [--mag-max M] [--limit N] ... [--refresh]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from kinview.errors import KinviewError


def register(sub) -> None:
    p = sub.add_parser("ingest", help="index a survey directory into DIR/kinview.sqlite",
                       description="Find the catalogue, MAPS files (any depth) and images of a "
                       "survey directory and index them into DIR/kinview.sqlite. Labels are "
                       "never touched; re-run after adding files.")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=_ingest)

    p = sub.add_parser("fetch-images", help="download SDSS colour cutouts for catalogue rows",
                       description="Download a colour cutout (SkyServer ImgCutout, North up, "
                       "East left) for every catalogue row with coordinates and no image yet, "
                       "into DIR/images/<plateifu>.jpg. Resumable: existing valid images are "
                       "kept; Ctrl-C never leaves a partial file.")
    p.add_argument("--survey", type=Path, required=True, metavar="DIR")
    p.add_argument("--url-template", default=None, metavar="T",
                   help="URL with {ra} {dec} {scale} {width} {height} placeholders (default: "
                   "$KINVIEW_IMGCUTOUT_URL or SDSS DR17 ImgCutout)")
    p.add_argument("--size", type=int, default=None,
                   help="cutout width = height in pixels (default 256; photo-z uses 128)")
    p.add_argument("--scale", type=float, default=None, help="arcsec per pixel (default 0.25)")
    p.add_argument("--jobs", type=int, default=4, help="parallel downloads (default 4)")
    p.add_argument("--retries", type=int, default=4,
                   help="retries on connection errors, 5xx and 429 (default 4)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--overwrite", action="store_true", help="download even existing images")
    p.add_argument("--limit", type=int, default=None, help="fetch at most N images")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_fetch_images)

    sdss = sub.add_parser("sdss", help="SDSS SkyServer queries",
                          description="Queries of the SDSS database through astroquery.")
    ssub = sdss.add_subparsers(dest="sdss_command", metavar="SUBCOMMAND",
                               parser_class=type(sdss))
    ssub.required = True
    q = ssub.add_parser("query", help="select spectroscopic galaxies (photo-z training set)",
                        description="Select galaxies from SDSS SpecObj with the photo-z seed's "
                        "cuts and write them as DIR/catalogue.csv (cached by cuts).")
    q.add_argument("--out", type=Path, required=True, metavar="DIR")
    from kinview.data.sdss_query import add_cut_arguments

    add_cut_arguments(q)
    q.add_argument("--data-release", type=int, default=17, metavar="N",
                   help="SDSS data release (default 17)")
    q.add_argument("--refresh", action="store_true", help="query again even if cached")
    q.add_argument("--show-sql", action="store_true", help="print the SQL and exit")
    q.add_argument("--timeout", type=float, default=600.0, help="query timeout, seconds")
    q.set_defaults(func=_sdss_query)


def _print_report(report: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=1, default=str))
        return
    for key, value in report.items():
        if isinstance(value, (list, dict)):
            continue
        print(f"{key}: {value}")


def _ingest(args: argparse.Namespace) -> int:
    from kinview.data.survey import Survey
    from kinview.progress import tqdm_state

    survey = Survey.open(args.dir, ingest=False)
    with tqdm_state("ingest", unit="galaxy") as state:
        report = survey.ingest(state=state)
    _print_report(report, args.json)
    if report["catalogue_only"] and report["with_maps"]:
        print(f"note: {report['catalogue_only']} catalogue row(s) have no MAPS file",
              file=sys.stderr)
    return 0


def _fetch_images(args: argparse.Namespace) -> int:
    from kinview.data import fetch_images as fi
    from kinview.data.survey import Survey
    from kinview.progress import tqdm_state

    if args.jobs < 1:
        raise KinviewError("--jobs must be at least 1")
    if args.retries < 0:
        raise KinviewError("--retries must be 0 or more")
    survey = Survey.open(args.survey)
    template = args.url_template or os.environ.get(fi.URL_ENV) or fi.DEFAULT_DR17_TEMPLATE
    kwargs = {}
    if args.size is not None:
        kwargs["size"] = args.size
    if args.scale is not None:
        kwargs["scale"] = args.scale
    with tqdm_state("fetch-images", unit="image") as state:
        report = fi.fetch_images(survey, url_template=template, jobs=args.jobs,
                                 retries=args.retries, timeout=args.timeout,
                                 overwrite=args.overwrite, limit=args.limit, state=state,
                                 **kwargs)
    _print_report(report.as_dict() if hasattr(report, "as_dict") else report, args.json)
    failures = getattr(report, "failed", {})
    for pifu, reason in list(failures.items())[:10]:
        print(f"failed: {pifu}: {reason}", file=sys.stderr)
    if len(failures) > 10:
        print(f"failed: ... and {len(failures) - 10} more", file=sys.stderr)
    return 1 if failures else 0


def _sdss_query(args: argparse.Namespace) -> int:
    from kinview.data import sdss_query as sq

    cuts = sq.cuts_from_args(args)
    if args.show_sql:
        print(sq.build_specobj_sql(cuts))
        return 0
    result = sq.query_specobj(cuts, args.out, data_release=args.data_release,
                              refresh=args.refresh, timeout=args.timeout)
    cached = " (cached)" if result.cached else ""
    print(f"{result.n_rows} galaxies -> {result.path}{cached}")
    print(f"next: kinview fetch-images --survey {args.out} --size 128")
    return 0
