"""``kinview labels import|export|stats``: label catalogues and inter-expert agreement.

::

    kinview labels import FILE --survey DIR [--expert NAME] [--allow-codes]
    kinview labels export FILE --survey DIR [--expert NAME | --consensus] [--labelled-only]
    kinview labels stats --survey DIR [--json]
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from kinview.errors import SurveyError


def register(sub):
    p = sub.add_parser("labels", help="import, export and summarise expert labels",
                       description="Label catalogues (MPL-7 format and kinview's own) and "
                       "inter-expert agreement (Cohen's / Fleiss' kappa).")
    lsub = p.add_subparsers(dest="labels_command", metavar="ACTION", parser_class=type(p))
    lsub.required = True

    imp = lsub.add_parser("import", help="import a label catalogue (MPL-7 CSV or a kinview export)")
    imp.add_argument("file", type=Path, metavar="FILE")
    _survey_args(imp)
    imp.add_argument("--expert", metavar="NAME", help="store the labels under this expert name "
                     "(default: $KINVIEW_EXPERT, the settings, or your login name)")
    imp.add_argument("--allow-codes", action="store_true",
                     help="import flag codes outside the documented vocabulary as given "
                     "(the MPL-7 catalogue has two stel_qual = 3); default: refuse the file")
    imp.set_defaults(func=_import)

    exp = lsub.add_parser("export", help="export labels (.csv .fits .ecsv .vot .parquet)")
    exp.add_argument("file", type=Path, metavar="FILE", help="format from the suffix")
    _survey_args(exp)
    who = exp.add_mutually_exclusive_group()
    who.add_argument("--expert", metavar="NAME", help="export this expert's labels (default: you)")
    who.add_argument("--consensus", action="store_true",
                     help="export the majority of all experts (ties are -99 and listed in 'disputed')")
    exp.add_argument("--labelled-only", action="store_true",
                     help="only galaxies with at least one label (default: every galaxy)")
    exp.set_defaults(func=_export)

    st = lsub.add_parser("stats", help="labels per expert and class, agreement (kappa), disagreements")
    _survey_args(st)
    st.add_argument("--json", action="store_true", help="print the statistics as JSON")
    st.set_defaults(func=_stats)
    return p


def _survey_args(p):
    p.add_argument("--survey", type=Path, metavar="DIR", default=None,
                   help="survey directory (default: the demo survey in the user data folder)")


def _open(args, need_db: bool = True):
    from kinview.labels import LabelStore
    from kinview.paths import default_survey_dir

    root = args.survey if args.survey is not None else default_survey_dir()
    if not root.is_dir():
        raise SurveyError(f"{root}: no such survey directory")
    db = root / "kinview.sqlite"
    if db.is_dir():
        raise SurveyError(f"{db}: is a folder, not a database; move it away so that kinview "
                          f"can create kinview.sqlite there")
    if need_db and not db.is_file():
        from kinview.data.survey import empty_survey_message, has_survey_content

        if not has_survey_content(root):
            raise SurveyError(empty_survey_message(root))
        raise SurveyError(f"{root}: no kinview.sqlite; run 'kinview ingest {root}' first")
    return LabelStore(root, expert=getattr(args, "expert", None))


def _import(args) -> int:
    from kinview.labels import import_catalogue
    from kinview.progress import tqdm_state

    with _open(args) as store:
        with tqdm_state("import", unit="row") as state:
            report = import_catalogue(store, args.file, state=state,
                                      allow_codes=args.allow_codes)
    lines = report.summary().splitlines()
    print(lines[0])
    for line in lines[1:]:
        print(line, file=sys.stderr)
    return 0


def _export(args) -> int:
    from kinview.labels import export_catalogue
    from kinview.tasks import export_columns

    with _open(args) as store:
        df = export_catalogue(store, args.file, expert=args.expert, consensus=args.consensus,
                              labelled_only=args.labelled_only, prediction_columns=export_columns)
        who = "consensus of all experts" if args.consensus else f"expert {store._expert(args.expert)!r}"
    labelled = int((df["n_labels"] > 0).sum())
    print(f"{args.file}: {len(df)} galaxies ({labelled} labelled), {who}")
    return 0


def _fmt(x, digits=3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def collect_stats(store) -> dict:
    """Statistics printed by ``kinview labels stats`` (also its ``--json`` output)."""
    from kinview.conventions import VOCABULARIES
    from kinview.db.galaxies import count as count_galaxies

    current = store.current()
    experts = store.experts()
    n_events = store.n_events()
    n_gal = count_galaxies(store.conn)
    per_expert = {}
    for name in experts:
        mine = current[current["expert"] == name]
        per_expert[name] = {
            "galaxies": int(mine["plateifu"].nunique()),
            "labels": int(len(mine)),
            "events": store.n_events(name),
            "by_kind": {f"{f} {k}": int(n) for (f, k), n in
                        mine.groupby(["field", "kind"]).size().items()},
        }
    classes = {}
    for field, kind in (("stellar", "quality"), ("gas", "quality"), ("stellar", "feature"),
                        ("gas", "feature"), ("gas", "gas_note")):
        sel = current[(current["field"] == field) & (current["kind"] == kind)]
        table = {}
        for name in experts:
            vals = sel[sel["expert"] == name]["value"]
            table[name] = {str(int(c)): int((vals == c).sum()) for c in sorted(set(VOCABULARIES[kind])
                                                                               | set(vals.astype(int)))}
        classes[f"{field} {kind}"] = table
    agreement = {}
    for field, kind in (("stellar", "quality"), ("gas", "quality"), ("stellar", "feature"),
                        ("gas", "feature"), ("gas", "gas_note")):
        a = store.agreement(field, kind)
        agreement[f"{field} {kind}"] = {
            "method": a["method"], "kappa": a["kappa"], "n_items": a["n_items"],
            "observed": a["observed"], "per_class": {str(int(k)): v for k, v in a["per_class"].items()},
            "pairwise": a["pairwise"]}
    dis = store.disagreements()
    from kinview.labels.adjudication import queue_counts

    queue = queue_counts(store)
    return {
        "survey": str(store.path.parent), "galaxies": n_gal, "events": n_events, "experts": experts,
        "per_expert": per_expert, "classes": classes, "agreement": agreement,
        "disagreements": {"n": int(len(dis)), "galaxies": int(dis["plateifu"].nunique()),
                          "first": [f"{r.plateifu} {r.field} {r.kind} ({r.experts})"
                                    for r in dis.head(10).itertuples(index=False)],
                          "adjudicated": queue["resolved"], "open": queue["open"]},
    }


def _stats(args) -> int:
    with _open(args) as store:
        stats = collect_stats(store)
    if args.json:
        print(json.dumps(_no_nan(stats), indent=2, default=_json_default))
        return 0
    print(f"survey {stats['survey']}: {stats['galaxies']} galaxies, {stats['events']} label events, "
          f"{len(stats['experts'])} expert(s)")
    if not stats["experts"]:
        print("no labels yet")
        return 0
    print("\nper expert (current labels):")
    print(f"  {'expert':<20} {'galaxies':>8} {'labels':>7} {'events':>7}  by field/kind")
    for name, e in stats["per_expert"].items():
        kinds = ", ".join(f"{k} {n}" for k, n in e["by_kind"].items())
        print(f"  {name:<20} {e['galaxies']:>8} {e['labels']:>7} {e['events']:>7}  {kinds}")
    print("\ncounts per class:")
    for label, table in stats["classes"].items():
        for name, counts in table.items():
            if sum(counts.values()):
                print(f"  {label:<16} {name:<20} " + "  ".join(f"{c}:{n}" for c, n in counts.items()))
    print("\nagreement:")
    for label, a in stats["agreement"].items():
        if a["method"] is None:
            print(f"  {label:<16} fewer than two experts")
            continue
        name = "Cohen" if a["method"] == "cohen" else "Fleiss"
        per = ", ".join(f"{c}: {_fmt(k, 2)}" for c, k in a["per_class"].items())
        undefined = " (every label in one class)" if a["kappa"] != a["kappa"] else ""
        print(f"  {label:<16} {name} kappa = {_fmt(a['kappa'])}{undefined} over {a['n_items']} galaxies "
              f"(all agree on {_fmt(a['observed'] * 100 if a['observed'] == a['observed'] else float('nan'), 1)}%)"
              f"; per class {per}")
        if a["method"] == "fleiss":
            pairs = ", ".join(f"{p} {_fmt(k)}" for p, k in a["pairwise"].items())
            print(f"  {'':<16} pairwise Cohen kappa: {pairs}")
    d = stats["disagreements"]
    print(f"\ndisagreements: {d['n']} labels on {d['galaxies']} galaxies; {d['adjudicated']} adjudicated, "
          f"{d['open']} open (the consensus export uses the adjudicated final labels)")
    for line in d["first"]:
        print(f"  {line}")
    return 0


def _no_nan(o):
    if isinstance(o, dict):
        return {k: _no_nan(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_no_nan(v) for v in o]
    if isinstance(o, float) and math.isnan(o):
        return None
    return o


def _json_default(o):
    try:
        return float(o)
    except (TypeError, ValueError):
        return str(o)
