"""Import darkCNN's pickled cluster data into kinview's safe native format.

darkCNN stores its data as one pickle: ``params, images = pickle.load(f)``, ``params`` a dict
of per-map sequences (``label``, ``redshift``, ``mass``, ``clusterID``, ``galaxy_catalogue``,
``BCG_e1``, ``BCG_e2``, ``xrayConc``, ``lensing_norm``, ``xray_norm``, sometimes ``sim``) and
``images`` an array or list of ``(h, w, channels)`` maps (total mass, X-ray, stellar).

Unpickling can run arbitrary code, so :func:`import_pickle` refuses to open a pickle unless
the caller passes ``trust=True`` (``--trust`` on the command line); even then it unpickles
with :class:`RestrictedUnpickler`, which resolves only the few numpy and builtin types that
arrays, dicts and lists need, and refuses every other global (``os.system``, ``eval``,
``subprocess.Popen``...) before it can be called.  The result is written as
``clusters.npz`` / ``clusters.csv`` / ``clusters.json`` (see :mod:`kinview.clusters.dataset`).
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Dict, Union

import numpy as np

from kinview.clusters.dataset import ClusterFormatError, save_clusters
from kinview.clusters.generator import CLASSES
from kinview.errors import KinviewError

#: (module, name) pairs the restricted unpickler may resolve.
ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
    ("collections", "OrderedDict"),
    ("builtins", "list"), ("builtins", "dict"), ("builtins", "tuple"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "int"), ("builtins", "float"),
    ("builtins", "complex"), ("builtins", "str"), ("builtins", "bytes"),
    ("builtins", "bytearray"), ("builtins", "bool"), ("builtins", "slice"), ("builtins", "range"),
    ("__builtin__", "list"), ("__builtin__", "dict"), ("__builtin__", "tuple"),
    ("__builtin__", "set"), ("__builtin__", "int"), ("__builtin__", "float"),
    ("__builtin__", "long"),
})
#: numpy's scalar-type classes may be referenced as ``numpy.float64`` etc.; allowed by name.
_NUMPY_SCALARS = frozenset({"float16", "float32", "float64", "int8", "int16", "int32", "int64",
                            "uint8", "uint16", "uint32", "uint64", "bool_", "complex64",
                            "complex128", "str_", "bytes_"})

UNTRUSTED_MESSAGE = ("{path}: refusing to unpickle: a pickle can run arbitrary code when loaded; "
                     "if you trust where this file came from, re-run with --trust "
                     "(it is then read with a restricted unpickler that only builds arrays, "
                     "dicts and lists)")


class UnsafePickleError(KinviewError):
    """The pickle references a global outside :data:`ALLOWED_GLOBALS`; nothing was run."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only numpy arrays/dtypes/scalars and builtin containers."""

    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED_GLOBALS or (module == "numpy" and name in _NUMPY_SCALARS):
            if module == "__builtin__":
                module = "builtins"
                name = {"long": "int"}.get(name, name)
            return super().find_class(module, name)
        raise UnsafePickleError(f"refused to load global {module}.{name} (only numpy arrays, "
                                "dicts and lists are allowed); nothing in the file was run")

    def persistent_load(self, pid):  # pragma: no cover - darkCNN pickles have none
        raise UnsafePickleError("refused a persistent reference in the pickle")


def restricted_load(fh) -> Any:
    """Unpickle from an open binary file with :class:`RestrictedUnpickler` (latin1 for py2 pickles)."""
    return RestrictedUnpickler(fh, encoding="latin1").load()


def _class_name(value) -> str:
    """darkCNN labels are cross-sections (0, 0.1, 0.3, 1) or simulation names."""
    if isinstance(value, bytes):
        value = value.decode("latin1")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            return text
    v = float(value)
    if v == 0:
        return "CDM"
    return f"SIDM{v:g}"


def darkcnn_to_table(params: Dict[str, Any], n: int):
    """darkCNN's ``params`` dict -> attribute DataFrame (one row per map)."""
    import pandas as pd

    if not isinstance(params, dict):
        raise ClusterFormatError(f"params is a {type(params).__name__}, expected a dict")
    columns: Dict[str, Any] = {}
    for key, values in params.items():
        key = key.decode("latin1") if isinstance(key, bytes) else str(key)
        if key == "galaxy_catalogue":
            continue                      # per-map catalogues of galaxies: not tabular
        arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
        if arr.ndim != 1 or len(arr) != n:
            continue                      # not one value per map
        columns[key] = arr
    if "label" not in columns:
        raise ClusterFormatError("params has no 'label' entry with one value per map")
    table = pd.DataFrame(columns)
    table["label"] = [_class_name(v) for v in columns["label"]]
    if "cross_section" not in table:
        table["cross_section"] = [_cross_section(c) for c in table["label"]]
    if "clusterID" not in table:
        table["clusterID"] = np.arange(n)
    for col in table.columns:
        if col != "label" and table[col].dtype == object:
            try:
                table[col] = pd.to_numeric(table[col])
            except (ValueError, TypeError):
                table[col] = table[col].astype(str)
    return table


def _cross_section(name: str) -> float:
    """cm^2/g from a class name (``CDM`` -> 0, ``SIDM0.3`` -> 0.3); NaN if not of that form."""
    if name.upper().startswith("CDM"):
        return 0.0
    if name.upper().startswith("SIDM"):
        try:
            return float(name[4:])
        except ValueError:
            return float("nan")
    return float("nan")


def import_pickle(path: Union[str, Path], out_dir: Union[str, Path], trust: bool = False) -> Dict[str, Any]:
    """Convert a darkCNN pickle to the native format in ``out_dir``.

    Parameters
    ----------
    path : path-like
        The pickle (``params, images``).
    out_dir : path-like
        Destination dataset directory (``clusters.npz/.csv/.json``).
    trust : bool
        Without it nothing is unpickled and :class:`KinviewError` explains why.  With it the
        file is read by :class:`RestrictedUnpickler` (no arbitrary code runs even then).

    Returns
    -------
    dict : ``n``, ``channels``, ``per_class``, ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise KinviewError(f"{path}: no such file")
    if not trust:
        raise KinviewError(UNTRUSTED_MESSAGE.format(path=path))
    try:
        with open(path, "rb") as fh:
            loaded = restricted_load(fh)
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path}: {exc}") from None
    except Exception as exc:
        raise ClusterFormatError(f"{path}: not a readable pickle ({exc.__class__.__name__}: {exc})") from None
    if not (isinstance(loaded, (tuple, list)) and len(loaded) == 2):
        raise ClusterFormatError(f"{path}: expected 'params, images' (a pair), got {type(loaded).__name__}")
    params, images = loaded
    try:
        maps = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ClusterFormatError(f"{path}: images are not an array of equal-shaped maps ({exc})") from None
    if maps.ndim == 3:
        maps = maps[..., None]
    if maps.ndim != 4:
        raise ClusterFormatError(f"{path}: images must be (n, h, w, channels), got shape {maps.shape}")
    try:
        table = darkcnn_to_table(params, len(maps))
    except ClusterFormatError as exc:
        raise ClusterFormatError(f"{path}: {exc}") from None
    present = sorted(table["label"].unique())
    classes = [c for c in CLASSES if c in present] + [c for c in present if c not in CLASSES]
    channels = ["mass", "xray", "stellar"][: maps.shape[-1]] + \
        [f"channel{i}" for i in range(3, maps.shape[-1])]
    meta = {"source": f"darkCNN pickle {path.name}", "channels": channels, "classes": classes,
            "pixel_kpc": None}
    out = save_clusters(out_dir, maps, table, meta)
    return {"n": int(len(maps)), "channels": channels,
            "per_class": {c: int((table["label"] == c).sum()) for c in classes}, "path": str(out)}
