"""Training samples from a survey: labels from the database, network inputs cached on disk.

Labels
    :func:`quality_labels` reads the *current* quality labels (latest event per plateifu,
    field, kind, expert; a NULL value clears) through
    :class:`kinview.labels.store.LabelStore` when it is installed, else straight from the
    ``labels`` table with the same rule.  A label source is ``"expert:NAME"``, ``"consensus"``
    (majority vote; ties are left out) or ``"all"`` (every expert's label is its own sample).
    ``None`` picks the only expert when there is one, else the consensus.
Inputs
    32×32 velocity-field inputs (:func:`kinview.kinematics.inputs.vfield_input`) of every
    galaxy's stellar and gas field, and 80×80×3 colour-image inputs, are cached in
    ``SURVEY/.kinview-cache/*.npz``.  Each galaxy's entry is keyed by its file's path, size and
    modification time, so re-training re-reads only the files that changed.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from kinview.data.images import ImageFormatError
from kinview.data.survey import Survey
from kinview.errors import KinviewError
from kinview.kinematics.inputs import image_input, seed32_input, vfield_input
from kinview.kinematics.lambda_r import lambda_re
from kinview.labels.store import LabelStore, label_hash as store_hash
from kinview.progress import NULL_STATE, TaskState

CACHE_DIR = ".kinview-cache"
FIELDS = ("stellar", "gas")
#: bump when the way inputs are made changes (invalidates caches)
VFIELD_CACHE_VERSION = 2
IMAGE_CACHE_VERSION = 1


# ----------------------------------------------------------------------------- labels
def current_labels(survey_dir: Union[str, Path]) -> pd.DataFrame:
    """Current labels of every expert: columns ``plateifu, field, kind, expert, value, text``
    (the label store's rule)."""
    store = LabelStore(survey_dir)
    try:
        return store.current().reset_index(drop=True)
    finally:
        store.close()


def _check_source(source: str) -> str:
    if source in ("consensus", "all") or (source.startswith("expert:") and len(source) > 7):
        return source
    raise KinviewError(f"label source {source!r}: use expert:NAME, consensus or all")


def training_labels(survey_dir: Union[str, Path], source: str) -> pd.DataFrame:
    """Quality labels ``plateifu, field, quality, expert`` for a label source (the label
    store's :meth:`~kinview.labels.store.LabelStore.training_labels`)."""
    source = _check_source(source)
    store = LabelStore(survey_dir)
    try:
        return store.training_labels(source)
    finally:
        store.close()


def quality_labels(survey_dir: Union[str, Path], source: Optional[str] = None) -> Tuple[pd.DataFrame, str]:
    """Quality labels (0/1/2) per field from a label source.

    ``source=None`` picks ``expert:NAME`` when exactly one expert labelled quality, else
    ``consensus``.

    Returns
    -------
    (DataFrame with ``plateifu, field, value, expert``, resolved source string)
    """
    if not source:
        everyone = training_labels(survey_dir, "all")
        experts = sorted(set(everyone["expert"]))
        source = f"expert:{experts[0]}" if len(experts) == 1 else "consensus"
        df = everyone if len(experts) == 1 else training_labels(survey_dir, source)
    else:
        df = training_labels(survey_dir, source)
        if source.startswith("expert:") and df.empty:
            everyone = training_labels(survey_dir, "all")
            if len(everyone):
                known = ", ".join(sorted(set(everyone["expert"])))
                raise KinviewError(f"no quality labels by expert {source[7:]!r} in {survey_dir}; "
                                   f"experts with quality labels: {known}")
    df = df.rename(columns={"quality": "value"})
    df["value"] = df["value"].astype(float)
    return df[["plateifu", "field", "value", "expert"]].reset_index(drop=True), source


def label_hash(labels: pd.DataFrame, source: str) -> str:
    """Hash of a label set (``plateifu, field, value, expert`` rows), computed by
    :func:`kinview.labels.store.label_hash` on the ``training_labels`` form, so the GUI can
    tell whether a model's labels are current."""
    df = labels.rename(columns={"value": "quality"})[["plateifu", "field", "quality", "expert"]]
    return str(store_hash(df.astype({"quality": "int64"})))


# ----------------------------------------------------------------------------- caches
def _file_key(path: Optional[Path], root: Optional[Path] = None) -> str:
    """``relative path|size|mtime_ns`` of an input file (relative to the survey root, so a
    survey moved with its modification times kept keeps its cache)."""
    if path is None:
        return "none"
    try:
        st = os.stat(path)
    except OSError:
        return f"missing:{path}"
    name = str(path)
    if root is not None:
        try:
            name = Path(path).relative_to(root).as_posix()
        except ValueError:
            pass
    return f"{name}|{st.st_size}|{st.st_mtime_ns}"


def _cache_path(root: Path, name: str) -> Path:
    return root / CACHE_DIR / f"{name}.npz"


def _load_cache(path: Path) -> Dict[str, object]:
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception:  # a corrupt or foreign cache is rebuilt, never trusted
        return {}


def _save_cache(path: Path, arrays: Dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        os.close(fd)
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError:  # read-only survey: work without a cache
        pass


def _reuse_cache(cache: Dict[str, object], keys: Sequence[str], out: Dict[str, np.ndarray],
                 arrays: Sequence[str], texts: Sequence[str] = ()) -> List[int]:
    """Fill ``out`` from a per-galaxy cache where a galaxy's input file is unchanged; return
    the indices still to compute.

    Parameters
    ----------
    cache : dict
        A loaded cache (:func:`_load_cache`; empty for none) with a ``keys`` array.
    keys : sequence of str
        Each galaxy's current :func:`_file_key`; a row is reused when its key is in the cache
        and names an existing file (not ``none`` / ``missing:…``).
    out : dict of arrays
        The arrays being built, one row per galaxy of ``keys``.
    arrays, texts : sequence of str
        Names copied from the cache; ``texts`` (reasons) as ``str`` and only when the cache
        has them (older caches do not).
    """
    old = {k: i for i, k in enumerate(cache["keys"].tolist())} if cache and "keys" in cache else {}
    todo = []
    for i, k in enumerate(keys):
        j = old.get(k)
        if j is None or k.startswith(("none", "missing")):
            todo.append(i)
            continue
        for name in arrays:
            out[name][i] = cache[name][j]
        for name in texts:
            if name in cache:
                out[name][i] = str(cache[name][j])
    return todo


#: velocity-field input styles: kinview's own, and the seed's published preprocessing
VFIELD_STYLES = ("kinview", "seed32")


def vfield_arrays(survey, size: int = 32, state: TaskState = NULL_STATE, style: str = "kinview"
                  ) -> Dict[str, np.ndarray]:
    """32×32 inputs of every galaxy's stellar and gas field (cached).

    Parameters
    ----------
    survey : kinview.data.survey.Survey
    style : {'kinview', 'seed32'}
        :func:`~kinview.kinematics.inputs.vfield_input` (default) or the seed's preprocessing
        :func:`~kinview.kinematics.inputs.seed32_input` (for imported seed models); each style
        has its own cache file.

    Returns
    -------
    dict: ``plateifu`` (n,) str, ``stellar``/``gas`` float32 (n, size, size), ``has_stellar``/
    ``has_gas`` bool (n,), ``lambda_re_maps`` float (n,) (λR_e from the maps, NaN if unknown).
    """
    if style not in VFIELD_STYLES:
        raise KinviewError(f"unknown velocity-field input {style!r}; known: {', '.join(VFIELD_STYLES)}")
    make_input = seed32_input if style == "seed32" else vfield_input
    root = Path(survey.root)
    pifus = survey.plateifus()
    keys = [_file_key(survey.maps_path(p), root) for p in pifus]
    prefix = "vfield" if style == "kinview" else f"vfield-{style}-"
    cache_file = _cache_path(root, f"{prefix}{size}-v{VFIELD_CACHE_VERSION}")
    n = len(pifus)
    out = {"plateifu": np.asarray(pifus, dtype=str), "keys": np.asarray(keys, dtype=str),
           "stellar": np.zeros((n, size, size), np.float32), "gas": np.zeros((n, size, size), np.float32),
           "has_stellar": np.zeros(n, bool), "has_gas": np.zeros(n, bool),
           "lambda_re_maps": np.full(n, np.nan),
           "why_stellar": np.full(n, "", dtype=object), "why_gas": np.full(n, "", dtype=object)}
    todo = _reuse_cache(_load_cache(cache_file), keys, out,
                        ("stellar", "gas", "has_stellar", "has_gas", "lambda_re_maps"), ("why_stellar", "why_gas"))
    if todo:
        state.set_status(f"reading {len(todo)} MAPS files")
        state.set_total(len(todo))
        for done, i in enumerate(todo):
            state.check_cancelled()
            why = "no MAPS file" if keys[i].startswith("none") else "MAPS file has disappeared"
            if not keys[i].startswith(("none", "missing")):
                try:
                    maps = survey.read_maps(pifus[i])
                except KinviewError as exc:
                    maps = None
                    why = f"unreadable MAPS ({str(exc).split(': ', 1)[-1][:120]})"
                if maps is not None:
                    for name in FIELDS:
                        fld = maps.field(name)
                        if fld is not None and fld.valid.any():
                            out[name][i] = make_input(fld, size)
                            out["has_" + name][i] = True
                        else:
                            out["why_" + name][i] = (maps.missing.get(name, f"no {name} maps")
                                                     if fld is None else "no valid spaxels")
                    try:   # NaN when the maps cannot give it; never stops the dataset
                        out["lambda_re_maps"][i] = float(lambda_re(maps))
                    except Exception:  # noqa: BLE001
                        pass
            for name in FIELDS:
                if not out["has_" + name][i] and not out["why_" + name][i]:
                    out["why_" + name][i] = why
            state.set_progress(done + 1, len(todo))
    for name in ("why_stellar", "why_gas"):   # text, so the cache loads without pickle
        out[name] = np.asarray([str(v) for v in out[name]], dtype=str)
    if todo:
        _save_cache(cache_file, out)
    return out


def image_arrays(survey, size: int = 80, state: TaskState = NULL_STATE) -> Dict[str, np.ndarray]:
    """``size``×``size``×3 colour-image inputs in [0, 1] of every galaxy (cached; uint8 on disk).

    Returns
    -------
    dict: ``plateifu`` (n,), ``images`` float32 (n, size, size, 3), ``has_image`` bool (n,).
    """
    root = Path(survey.root)
    pifus = survey.plateifus()
    keys = [_file_key(survey.image_path(p), root) for p in pifus]
    cache_file = _cache_path(root, f"image{size}-v{IMAGE_CACHE_VERSION}")
    n = len(pifus)
    out = {"plateifu": np.asarray(pifus, dtype=str), "keys": np.asarray(keys, dtype=str),
           "images_u8": np.zeros((n, size, size, 3), np.uint8), "has_image": np.zeros(n, bool),
           "why_image": np.full(n, "", dtype=object)}
    todo = _reuse_cache(_load_cache(cache_file), keys, out, ("images_u8", "has_image"), ("why_image",))
    if todo:
        state.set_status(f"reading {len(todo)} images")
        state.set_total(len(todo))
        for done, i in enumerate(todo):
            state.check_cancelled()
            rgb = None
            if keys[i].startswith(("none", "missing")):
                out["why_image"][i] = "no image" if keys[i] == "none" else "image file has disappeared"
            else:
                try:
                    rgb = survey.read_image(pifus[i])
                except ImageFormatError as exc:  # one bad cutout must not stop a survey
                    out["why_image"][i] = f"unreadable image ({str(exc).split(': ', 1)[-1][:120]})"
            if rgb is not None:
                arr = image_input(rgb, size)
                out["images_u8"][i] = np.clip(np.round(arr * 255), 0, 255).astype(np.uint8)
                out["has_image"][i] = True
            state.set_progress(done + 1, len(todo))
    out["why_image"] = np.asarray([str(v) for v in out["why_image"]], dtype=str)
    if todo:
        _save_cache(cache_file, out)
    out["images"] = out["images_u8"].astype(np.float32) / 255.0
    return out


def open_survey(workspace_dir: Union[str, Path], state: TaskState = NULL_STATE):
    """Open (and ingest if new) a survey directory for training or prediction."""
    return Survey.open(workspace_dir, ingest=True, state=state)
