"""Where MaNGA files live on the SDSS Science Archive Server (SAS).

Paths come from SDSS's own path templates, shipped in the ``sdss-access`` package (through
``sdss-tree``): product ``mangadap`` for DAP MAPS files, ``drpall`` and ``dapall`` for the
catalogues.  The templates are data files inside the package, so no network is needed to
build a path.  For example (DR15)::

    dr15/manga/spectro/analysis/v2_4_3/2.2.1/HYB10-GAU-MILESHC/7815/3702/
        manga-7815-3702-MAPS-HYB10-GAU-MILESHC.fits.gz

Every path is relative to the SAS root (``https://data.sdss.org/sas/`` by default, or a
mirror given as ``base_url``), and the same relative path is used under a survey directory,
so a downloaded survey *is* a piece of the SAS tree.

``sdss_access`` changes the process environment when imported (it sets ``SAS_BASE_DIR``,
``MANGA_SPECTRO_ANALYSIS`` and friends) and creates ``~/sas``; :func:`sas_path` imports it
with a temporary ``SAS_BASE_DIR`` and puts the environment back afterwards, so kinview never
touches the user's home or leaves variables behind.
"""
from __future__ import annotations

import os
import re
import tempfile
import threading
from dataclasses import dataclass
from typing import Dict, Tuple

from kinview.errors import KinviewError

#: The SAS root on the internet.
DEFAULT_SAS_URL = "https://data.sdss.org/sas/"
#: Environment variable overriding :data:`DEFAULT_SAS_URL` (a mirror).
SAS_URL_ENV = "KINVIEW_SAS_URL"


@dataclass(frozen=True)
class Release:
    """A public MaNGA data release: pipeline versions and the DAPTYPEs it published."""

    name: str
    drpver: str
    dapver: str
    daptypes: Tuple[str, ...]
    default_daptype: str


#: Public releases with DAP output (DR15: MPL-7; DR17: MPL-11, the final one).
RELEASES: Dict[str, Release] = {
    "DR15": Release("DR15", "v2_4_3", "2.2.1", ("HYB10-GAU-MILESHC", "VOR10-GAU-MILESHC"),
                    "HYB10-GAU-MILESHC"),
    "DR17": Release("DR17", "v3_1_1", "3.1.0",
                    ("HYB10-MILESHC-MASTARSSP", "VOR10-MILESHC-MASTARSSP",
                     "SPX-MILESHC-MASTARSSP", "HYB10-MILESHC-MASTARHC2"),
                    "HYB10-MILESHC-MASTARSSP"),
}
DEFAULT_RELEASE = "DR17"

PLATEIFU_RE = re.compile(r"^(\d{4,5})-(\d{3,5})$")
_lock = threading.Lock()
_paths: Dict[tuple, str] = {}


def release(name: str) -> Release:
    """The :class:`Release` called ``name`` (case-insensitive); KinviewError if unknown."""
    key = str(name).strip().upper()
    if key not in RELEASES:
        raise KinviewError(f"unknown MaNGA release {name!r}: use one of "
                           f"{', '.join(RELEASES)}")
    return RELEASES[key]


def check_daptype(rel: Release, daptype: str) -> str:
    """``daptype`` upper-cased, or KinviewError when ``rel`` did not publish it."""
    d = str(daptype).strip().upper()
    if d not in rel.daptypes:
        raise KinviewError(f"{rel.name} has no DAPTYPE {daptype}: it published "
                           f"{', '.join(rel.daptypes)}")
    return d


def parse_plateifu(text: str) -> Tuple[int, int]:
    """``'7815-3702'`` -> ``(7815, 3702)``; KinviewError when it is not a plate-IFU."""
    m = PLATEIFU_RE.match(str(text).strip())
    if not m:
        raise KinviewError(f"{text!r} is not a plate-IFU (like 7815-3702)")
    return int(m.group(1)), int(m.group(2))


def parse_plateifu_list(text: str) -> list:
    """Plate-IFUs pasted as text (spaces, commas, semicolons or lines), in order, unique.

    Raises KinviewError naming the first entry that is not a plate-IFU.
    """
    items = [t for t in re.split(r"[\s,;]+", str(text)) if t]
    for item in items:
        parse_plateifu(item)
    return list(dict.fromkeys(items))


def _expand(release_name: str, product: str, keys: dict) -> str:
    """Fill an sdss-access template; the environment and excepthook are put back after."""
    import sys

    base = tempfile.gettempdir()  # exists, so sdss-tree creates nothing
    with _lock:
        saved = dict(os.environ)
        hook = sys.excepthook
        try:
            os.environ["SAS_BASE_DIR"] = base
            try:
                from sdss_access.path import Path as AccessPath
            except ImportError:
                raise KinviewError("the sdss-access package is missing: pip install "
                                   "sdss-access") from None
            try:
                # sdss-tree is one global object: a Path replants it for its release.
                full = AccessPath(release=release_name, preserve_envvars=False).full(
                    product, **keys)
            except Exception as exc:  # noqa: BLE001 - a template problem is one line
                raise KinviewError(f"sdss-access cannot build the {product} path for "
                                   f"{release_name}: {exc}") from None
        finally:
            sys.excepthook = hook  # sdsstools installs its own on import
            os.environ.clear()
            os.environ.update(saved)
    rel = os.path.relpath(full, base)
    if rel.startswith(".."):
        raise KinviewError(f"sdss-access gave {full}, outside the SAS root")
    return rel.replace(os.sep, "/")


def sas_path(product: str, release_name: str = DEFAULT_RELEASE, **keys) -> str:
    """Path of a product relative to the SAS root, from sdss-access's templates.

    Parameters
    ----------
    product : str
        ``mangadap`` (keys ``plate``, ``ifu``, ``daptype``, ``mode``), ``drpall`` or
        ``dapall``.
    release_name : str
        ``DR15`` or ``DR17``; ``drpver``/``dapver`` default to the release's versions.

    Returns
    -------
    str
        POSIX path such as ``dr17/manga/spectro/redux/v3_1_1/drpall-v3_1_1.fits``.
    """
    rel = release(release_name)
    keys.setdefault("drpver", rel.drpver)
    keys.setdefault("dapver", rel.dapver)
    cache_key = (rel.name, product, tuple(sorted(keys.items())))
    if cache_key not in _paths:
        _paths[cache_key] = _expand(rel.name, product, keys)
    return _paths[cache_key]


def maps_path(plateifu: str, release_name: str = DEFAULT_RELEASE, daptype: str = "") -> str:
    """SAS-relative path of the DAP MAPS file of one galaxy (checked plate-IFU and DAPTYPE)."""
    rel = release(release_name)
    daptype = check_daptype(rel, daptype or rel.default_daptype)
    plate, ifu = parse_plateifu(plateifu)
    return sas_path("mangadap", rel.name, plate=plate, ifu=ifu, daptype=daptype, mode="MAPS")


def catalogue_paths(release_name: str = DEFAULT_RELEASE) -> Dict[str, str]:
    """SAS-relative paths of ``drpall`` and ``dapall`` for a release."""
    rel = release(release_name)
    return {"drpall": sas_path("drpall", rel.name), "dapall": sas_path("dapall", rel.name)}


def base_url(url: str = "") -> str:
    """The SAS root to download from, ending in ``/`` (argument, env, or the SDSS SAS)."""
    url = (url or os.environ.get(SAS_URL_ENV) or DEFAULT_SAS_URL).strip()
    if not url.startswith(("http://", "https://")):
        raise KinviewError(f"bad SAS URL {url!r}: must start with http:// or https://")
    return url if url.endswith("/") else url + "/"
