"""Partitioned Parquet results: one file per catalogue partition, resumable.

Layout of ``PRED.parquet/`` (a directory that pandas, pyarrow, Dask, Spark and TOPCAT-via-
pyarrow read as one table)::

    _kinview.json          the run's manifest (task, model, catalogue, partitioning)
    _common_metadata       the schema, with the manifest under the ``kinview`` key
    part-000000.parquet    rows 0 .. P-1 of the catalogue, in catalogue order
    part-000001.parquet    ...

Each part carries the manifest (and its own row range) in its schema metadata.  Parts are
written to a hidden temporary file and renamed into place, so a part either exists whole or
not at all: an interrupted run is resumed by computing only the parts that are missing.
Files starting with ``_`` or ``.`` are ignored by Parquet dataset readers.
"""
from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any, Dict, Set, Union

import pandas as pd

from kinview.errors import KinviewError

__all__ = ["open_output", "write_part", "done_parts", "read_output", "read_manifest",
           "MANIFEST", "METADATA_KEY"]

MANIFEST = "_kinview.json"
METADATA_KEY = b"kinview"
PART = re.compile(r"^part-(\d{6})\.parquet$")
#: Manifest keys that must match for a run to resume into an existing output.
RESUME_KEYS = ("task", "model_sha256", "catalogue_fingerprint", "n_rows", "partition_rows")


def part_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


def read_manifest(out: Union[str, Path]) -> Dict[str, Any]:
    """The manifest of an output directory ({} when it has none)."""
    path = Path(out) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KinviewError(f"{path}: unreadable manifest ({exc})") from None


def _write_json(path: Path, data: Dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def open_output(out: Union[str, Path], manifest: Dict[str, Any], overwrite: bool = False) -> Set[int]:
    """Create (or reopen to resume) an output directory; return the parts already written.

    Parameters
    ----------
    out : path-like
        The ``PRED.parquet`` directory.
    manifest : dict
        Run description (JSON-serialisable); the keys in :data:`RESUME_KEYS` must equal the
        existing manifest's for a resume.
    overwrite : bool
        Remove existing parts (and the manifest) first, instead of resuming.

    Raises
    ------
    KinviewError
        ``out`` is a file, or holds another run's parts (other model, catalogue, task or
        partitioning) and ``overwrite`` is false.
    """
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise KinviewError(f"{out}: exists and is not a directory (the output is a directory of parts)")
    old = read_manifest(out) if out.is_dir() else {}
    if out.is_dir() and overwrite:
        for p in out.iterdir():
            if PART.match(p.name) or p.name in (MANIFEST, "_common_metadata") or p.name.startswith(".part-"):
                p.unlink()
        old = {}
    elif out.is_dir() and not old and any(PART.match(p.name) for p in out.iterdir()):
        raise KinviewError(f"{out}: holds parts without a {MANIFEST}; use another --out or --overwrite")
    if old:
        diff = [k for k in RESUME_KEYS if old.get(k) != manifest.get(k)]
        if diff:
            raise KinviewError(f"{out}: holds results of another run (different {', '.join(diff)}); "
                               "use another --out, or --overwrite to replace them")
    out.mkdir(parents=True, exist_ok=True)
    for p in out.glob(".part-*.tmp"):        # leftovers of an interrupted write
        p.unlink(missing_ok=True)
    merged = dict(manifest)
    if old.get("created"):
        merged["created"] = old["created"]   # the first start of the run
    _write_json(out / MANIFEST, merged)
    return done_parts(out)


def done_parts(out: Union[str, Path]) -> Set[int]:
    """Indices of the parts present in an output directory."""
    out = Path(out)
    if not out.is_dir():
        return set()
    return {int(m.group(1)) for m in (PART.match(p.name) for p in out.iterdir()) if m}


def _table(df: pd.DataFrame, manifest: Dict[str, Any], extra: Dict[str, Any]):
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[METADATA_KEY] = json.dumps({**manifest, **extra}, sort_keys=True).encode()
    return table.replace_schema_metadata(meta)


def write_part(out: Union[str, Path], index: int, df: pd.DataFrame, manifest: Dict[str, Any],
               extra: Dict[str, Any]) -> Path:
    """Write one part atomically (temporary file, then rename); the first one also writes
    ``_common_metadata``.  ``extra`` (e.g. the row range) joins the manifest in its metadata."""
    import pyarrow.parquet as pq

    out = Path(out)
    table = _table(df, manifest, extra)
    final = out / part_name(index)
    tmp = out / f".{final.name}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    common = out / "_common_metadata"
    if not common.exists():
        ctmp = out / f".common.{uuid.uuid4().hex}.tmp"
        try:
            pq.write_metadata(_table(df.iloc[:0], manifest, {}).schema, ctmp)
            os.replace(ctmp, common)
        finally:
            ctmp.unlink(missing_ok=True)
    return final


def read_output(out: Union[str, Path]) -> pd.DataFrame:
    """Every part of an output directory as one DataFrame, in catalogue row order."""
    out = Path(out)
    parts = sorted(done_parts(out))
    if not parts:
        raise KinviewError(f"{out}: no finished parts")
    frames = [pd.read_parquet(out / part_name(i)) for i in parts]
    return pd.concat(frames, ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True)
