"""Sub-commands for darkCNN cluster-map datasets (the ``darkmatter`` task's workspace).

``kinview demo-clusters --out DIR [--n N] [--seed S]``
    Write synthetic CDM / SIDM cluster maps (:mod:`kinview.clusters.generator`) in the native
    format (``clusters.npz`` + ``clusters.csv`` + ``clusters.json``).
``kinview clusters import FILE --out DIR [--trust]``
    Convert a darkCNN pickle (``params, images``) to the native format.  Refused without
    ``--trust`` (a pickle can run code); with it, read by a restricted unpickler.
"""
from __future__ import annotations

import json


def _demo_clusters(args) -> int:
    from kinview.clusters.generator import write_demo_clusters
    from kinview.progress import tqdm_state

    with tqdm_state("demo-clusters", unit="cluster") as state:
        summary = write_demo_clusters(args.out, n=args.n, seed=args.seed, state=state)
    print(json.dumps(summary))
    return 0


def _import(args) -> int:
    from kinview.clusters.pickle_import import import_pickle

    summary = import_pickle(args.file, args.out, trust=args.trust)
    print(json.dumps(summary))
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo-clusters", help="write synthetic multi-channel cluster maps (CDM/SIDM)",
                       description="Write synthetic galaxy-cluster maps (50x50 px of 40 kpc; "
                       "channels mass, xray, stellar; classes CDM, SIDM0.1, SIDM0.3, SIDM1) "
                       "with their attributes, for the darkmatter task.")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset directory to write")
    p.add_argument("--n", type=int, default=800, help="number of maps (3 projections per cluster; default 800)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=_demo_clusters)

    c = sub.add_parser("clusters", help="cluster-map datasets (darkCNN pickle import)")
    csub = c.add_subparsers(dest="clusters_command", metavar="ACTION", required=True)
    i = csub.add_parser("import", help="convert a darkCNN pickle to kinview's safe format",
                        description="Convert a darkCNN pickle (params, images) to clusters.npz/"
                        ".csv/.json.  A pickle can run code when loaded: kinview refuses unless "
                        "--trust is given, and even then only builds arrays, dicts and lists.")
    i.add_argument("file", metavar="FILE", help="darkCNN pickle")
    i.add_argument("--out", required=True, metavar="DIR", help="dataset directory to write")
    i.add_argument("--trust", action="store_true",
                   help="I trust this file: read it (with a restricted unpickler)")
    i.set_defaults(func=_import)
