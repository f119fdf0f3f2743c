"""Sub-commands that download real MaNGA data from the SDSS SAS.

::

    kinview fetch-maps --survey DIR (--plateifu ID ... | --from-catalogue)
                       [--release DR17|DR15] [--daptype TYPE] [--base-url URL] [--jobs N]
                       [--via sas|marvin]
    kinview fetch-catalogue --survey DIR [--release DR17] [--no-dapall] [--base-url URL]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kinview.errors import KinviewError


def register(sub) -> None:
    from kinview.data.sas import DEFAULT_RELEASE, RELEASES

    releases = ", ".join(f"{r.name}: {' '.join(r.daptypes)}" for r in RELEASES.values())
    p = sub.add_parser("fetch-maps", help="download DAP MAPS files from the SDSS SAS",
                       description="Download MaNGA DAP MAPS files into DIR, at their SAS "
                       "paths (from sdss-access), then index DIR. Resumable and safe to "
                       f"interrupt. DAPTYPEs per release: {releases}.")
    p.add_argument("--survey", type=Path, required=True, metavar="DIR")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--plateifu", nargs="+", metavar="ID", help="plate-IFUs, e.g. 7815-3702")
    which.add_argument("--from-catalogue", action="store_true",
                       help="every plate-IFU of DIR's catalogue (drpall, catalogue.csv, ...)")
    _common(p, DEFAULT_RELEASE, jobs=4)
    p.add_argument("--daptype", default=None, metavar="TYPE",
                   help="DAPTYPE (default DR17 HYB10-MILESHC-MASTARSSP, DR15 HYB10-GAU-MILESHC)")
    p.add_argument("--via", choices=("sas", "marvin"), default="sas",
                   help="download directly from the SAS (default) or through Marvin "
                   "(needs the marvin extra)")
    p.set_defaults(func=_fetch_maps)

    p = sub.add_parser("fetch-catalogue", help="download drpall and DAPall from the SDSS SAS",
                       description="Download the release's drpall (one row per data cube, NSA "
                       "values) and DAPall (DAP summary per DAPTYPE) into DIR at their SAS "
                       "paths; ingest then uses them as the survey catalogue.")
    p.add_argument("--survey", type=Path, required=True, metavar="DIR")
    _common(p, DEFAULT_RELEASE, jobs=2)
    p.add_argument("--no-dapall", action="store_true",
                   help="skip the DAPall (large for DR17)")
    p.set_defaults(func=_fetch_catalogue)


def _common(p, default_release: str, jobs: int) -> None:
    p.add_argument("--release", default=default_release, metavar="DR",
                   help=f"MaNGA data release, DR17 or DR15 (default {default_release})")
    p.add_argument("--base-url", default=None, metavar="URL",
                   help="SAS root of a mirror (default $KINVIEW_SAS_URL or "
                   "https://data.sdss.org/sas/)")
    p.add_argument("--jobs", type=int, default=jobs, help=f"parallel downloads ({jobs})")
    p.add_argument("--retries", type=int, default=4,
                   help="retries on dropped connections, 5xx and 429 (default 4)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    p.add_argument("--overwrite", action="store_true", help="download files already here")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _finish(report, args, what: str) -> int:
    from kinview.cli.survey_cmd import _print_report

    d = report.as_dict()
    d.pop("paths", None)
    _print_report(d, args.json)
    failures = report.failed
    if failures and not report.paths:
        first, reason = next(iter(failures.items()))
        more = f" (and {len(failures) - 1} more failed)" if len(failures) > 1 else ""
        raise KinviewError(f"{first}: {reason}{more}; nothing {what}")
    for key, reason in list(failures.items())[:10]:
        print(f"failed: {key}: {reason}", file=sys.stderr)
    if len(failures) > 10:
        print(f"failed: ... and {len(failures) - 10} more", file=sys.stderr)
    return 1 if failures else 0


def _fetch_maps(args: argparse.Namespace) -> int:
    from kinview.data import fetch_sas, sas
    from kinview.progress import tqdm_state

    rel = sas.release(args.release)
    daptype = sas.check_daptype(rel, args.daptype or rel.default_daptype)
    if args.plateifu:
        pifus = list(args.plateifu)
        for p in pifus:
            sas.parse_plateifu(p)
    else:
        pifus = fetch_sas.catalogue_plateifus(args.survey)
        if not pifus:
            raise KinviewError(f"{args.survey}: the catalogue has no plate-IFUs")
    if args.via == "marvin":
        from kinview.data import marvin_source

        report = marvin_source.fetch_maps(args.survey, pifus, release=rel.name,
                                          daptype=daptype)
        return _finish(report, args, "downloaded")
    with tqdm_state("fetch-maps", unit="file") as state:
        report = fetch_sas.fetch_maps(args.survey, pifus, release=rel.name, daptype=daptype,
                                      base_url=args.base_url, jobs=args.jobs,
                                      retries=args.retries, timeout=args.timeout,
                                      overwrite=args.overwrite, state=state)
    return _finish(report, args, "downloaded")


def _fetch_catalogue(args: argparse.Namespace) -> int:
    from kinview.data import fetch_sas
    from kinview.progress import tqdm_state

    with tqdm_state("fetch-catalogue", unit="file") as state:
        report = fetch_sas.fetch_catalogue(args.survey, release=args.release,
                                           base_url=args.base_url, dapall=not args.no_dapall,
                                           jobs=args.jobs, retries=args.retries,
                                           timeout=args.timeout, overwrite=args.overwrite,
                                           state=state)
    return _finish(report, args, "downloaded")
