"""The native, safe on-disk format of a cluster-map dataset (the ``darkmatter`` workspace).

A cluster dataset is a directory::

    DIR/
      clusters.npz       ``maps``: float32 (n, h, w, c) maps, loaded with allow_pickle=False
      clusters.csv       one row per map: attributes (clusterID, label, redshift, mass, ...)
      clusters.json      metadata: channels, classes, pixel size (kpc), source, format version
      kinview.sqlite     models and predictions (created by the trainer)

Nothing in it can run code when read: numpy arrays without pickles, CSV and JSON.

The CSV must have at least ``label`` (a class name such as ``CDM`` / ``SIDM0.1``, or empty
for unlabelled maps) and ``clusterID`` (maps of one cluster stay in one split).  Other known
columns: ``redshift``, ``mass`` (M200, Msun), ``xrayConc``, ``BCG_e1``, ``BCG_e2``,
``cross_section`` (cm^2/g), ``projection``, ``lensing_norm``, ``xray_norm``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np

from kinview.errors import KinviewError

FORMAT_VERSION = 1
MAPS_FILE = "clusters.npz"
TABLE_FILE = "clusters.csv"
META_FILE = "clusters.json"
DEFAULT_CHANNELS = ("mass", "xray", "stellar")


class ClusterFormatError(KinviewError):
    """A cluster-map dataset (or a file to import) cannot be used; nothing was written."""


@dataclass
class ClusterSet:
    """A loaded cluster-map dataset.

    Attributes
    ----------
    maps : float32 ndarray (n, h, w, c)
    table : pandas.DataFrame, one row per map (index 0..n-1)
    meta : dict (``channels``, ``classes``, ``pixel_kpc``, ``source`` ...)
    root : Path of the dataset directory
    """

    maps: np.ndarray
    table: Any
    meta: Dict[str, Any] = field(default_factory=dict)
    root: Optional[Path] = None

    @property
    def channels(self) -> List[str]:
        return list(self.meta.get("channels") or DEFAULT_CHANNELS[: self.maps.shape[-1]])

    @property
    def classes(self) -> List[str]:
        classes = self.meta.get("classes")
        if classes:
            return list(classes)
        return sorted(str(v) for v in self.table["label"].dropna().unique())

    def __len__(self) -> int:
        return int(self.maps.shape[0])


def sample_id(index: int) -> str:
    """The id of map ``index`` of a cluster dataset in the ``predictions`` table (``map000123``)."""
    return f"map{int(index):06d}"


def is_cluster_dir(path: Union[str, Path]) -> bool:
    """True if ``path`` holds a native cluster dataset."""
    p = Path(path)
    return (p / MAPS_FILE).is_file() and (p / TABLE_FILE).is_file()


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_clusters(out_dir: Union[str, Path], maps: np.ndarray, table, meta: Optional[Dict[str, Any]] = None) -> Path:
    """Write a cluster dataset to ``out_dir`` (created if needed); return the directory.

    Parameters
    ----------
    maps : array (n, h, w, c)
        Stored as float32.
    table : pandas.DataFrame or dict of columns
        One row per map; needs ``label`` and ``clusterID`` (``clusterID`` defaults to the row
        number when absent).
    meta : dict, optional
        Stored in ``clusters.json`` (``channels``, ``classes``, ``pixel_kpc``, ``source``...).

    Each file is written to a temporary name, fsynced and renamed, so an interrupted save
    never leaves a half-written file under the final name.
    """
    import pandas as pd

    out = Path(out_dir)
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 3:
        maps = maps[..., None]
    if maps.ndim != 4:
        raise ClusterFormatError(f"{out}: maps must have shape (n, h, w, channels), got {maps.shape}")
    table = pd.DataFrame(table).reset_index(drop=True)
    if len(table) != len(maps):
        raise ClusterFormatError(f"{out}: {len(maps)} maps but {len(table)} attribute rows")
    if "label" not in table:
        raise ClusterFormatError(f"{out}: attribute table has no 'label' column")
    if "clusterID" not in table:
        table["clusterID"] = np.arange(len(table))
    meta = dict(meta or {})
    meta.setdefault("channels", list(DEFAULT_CHANNELS[: maps.shape[-1]]))
    meta.setdefault("classes", sorted(str(v) for v in table["label"].dropna().unique()))
    meta["format_version"] = FORMAT_VERSION
    meta["n"] = int(len(maps))
    meta["shape"] = list(maps.shape[1:])
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write(out / MAPS_FILE, lambda fh: np.savez_compressed(fh, maps=maps))
    _atomic_write(out / TABLE_FILE, lambda fh: fh.write(table.to_csv(index=False).encode()))
    _atomic_write(out / META_FILE, lambda fh: fh.write(json.dumps(meta, indent=1).encode()))
    return out


def load_clusters(path: Union[str, Path]) -> ClusterSet:
    """Load a cluster dataset directory (never unpickles anything).

    Raises
    ------
    ClusterFormatError
        One line naming the file and what is wrong (missing file, bad shape, row mismatch).
    """
    import pandas as pd

    root = Path(path)
    if not root.is_dir():
        raise ClusterFormatError(f"{root}: no such cluster dataset directory "
                                 "(make one with 'kinview demo-clusters' or 'kinview clusters import')")
    for name in (MAPS_FILE, TABLE_FILE):
        if not (root / name).is_file():
            raise ClusterFormatError(f"{root / name}: missing; {root} is not a cluster dataset "
                                     "(make one with 'kinview demo-clusters' or 'kinview clusters import')")
    try:
        with np.load(root / MAPS_FILE, allow_pickle=False) as npz:
            if "maps" not in npz:
                raise ClusterFormatError(f"{root / MAPS_FILE}: no 'maps' array")
            maps = np.asarray(npz["maps"], dtype=np.float32)
    except ClusterFormatError:
        raise
    except Exception as exc:
        raise ClusterFormatError(f"{root / MAPS_FILE}: unreadable ({exc.__class__.__name__}: {exc})") from None
    if maps.ndim != 4:
        raise ClusterFormatError(f"{root / MAPS_FILE}: maps must be (n, h, w, channels), got {maps.shape}")
    try:
        table = pd.read_csv(root / TABLE_FILE, keep_default_na=True)
    except Exception as exc:
        raise ClusterFormatError(f"{root / TABLE_FILE}: unreadable CSV ({exc})") from None
    if len(table) != len(maps):
        raise ClusterFormatError(f"{root / TABLE_FILE}: {len(table)} rows but {len(maps)} maps")
    if "label" not in table:
        raise ClusterFormatError(f"{root / TABLE_FILE}: no 'label' column")
    if "clusterID" not in table:
        table["clusterID"] = np.arange(len(table))
    table["label"] = table["label"].astype("string")
    meta: Dict[str, Any] = {}
    if (root / META_FILE).is_file():
        try:
            meta = json.loads((root / META_FILE).read_text())
        except ValueError as exc:
            raise ClusterFormatError(f"{root / META_FILE}: not valid JSON ({exc})") from None
    channels = meta.get("channels")
    if channels and len(channels) != maps.shape[-1]:
        raise ClusterFormatError(f"{root / META_FILE}: {len(channels)} channel names for "
                                 f"{maps.shape[-1]} map channels")
    return ClusterSet(maps, table, meta, root)
