"""Marvin (``sdss-marvin``) as a data source: optional, imported only when asked for.

Install with ``pip install 'kinview[marvin]'``.  Marvin pins ``numpy<2`` while kinview's
main environment uses numpy 2, so Marvin lives in a second environment (see the README,
"Real data"; ``.ci/run`` builds one and runs ``tests/marvin/`` there).

What kinview does with Marvin
-----------------------------
- :func:`open_maps` opens a galaxy as a ``marvin.tools.Maps``: from a local MAPS file, or by
  plate-IFU (Marvin's ``auto`` mode: its local SAS tree, else its remote API).
- :func:`write_kinview_maps` writes the maps kinview uses (sky offsets, stellar and Hα
  velocity, dispersion, instrumental corrections, fluxes, bin ids, masks, the ellipse and the
  header values) from a Marvin ``Maps`` into a DAP-format MAPS file at its SAS path in a
  survey, so ``ingest``, ``pa`` and the GUI read it as any other file.  Works the same for
  Maps read from a file and from Marvin's API.
- :func:`fetch_maps` is ``kinview fetch-maps --via marvin``: Marvin's download utility
  (``marvin.utils.general.downloadList``, rsync/HTTP through sdss-access) into the survey
  directory as SAS root.

Marvin accepts only released DAP versions: a file written by a development DAP (such as the
``VERSDAP = 2.2.3dev`` example run in ``../shared/realdata``) is refused with one line;
kinview's own reader opens it directly.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from kinview.data import sas
from kinview.data.fetch_sas import SasFetchReport, _ingest, check_fits_file
from kinview.data.maps_writer import write_maps
from kinview.errors import KinviewError

INSTALL_HINT = ("Marvin is not installed: pip install 'kinview[marvin]' (Marvin needs "
                "numpy<2, so install it in a separate environment; see README, Real data)")
#: Marvin release name -> the DAP layout kinview writes (DR16 re-served DR15's MaNGA data).
LAYOUT = {"DR15": "DR15", "DR16": "DR15", "MPL-7": "DR15", "DR17": "DR17", "MPL-11": "DR17"}


def require_marvin():
    """Import Marvin (quietly) or raise KinviewError with the install line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import marvin  # noqa: F401
    except ImportError:
        raise KinviewError(INSTALL_HINT) from None
    return marvin


def _split_daptype(daptype: str):
    binning, _, template = str(daptype).upper().partition("-")
    return binning, template


def open_maps(source: Union[str, Path], release: Optional[str] = None,
              daptype: Optional[str] = None, mode: str = "auto"):
    """A ``marvin.tools.Maps`` from a MAPS file path or a plate-IFU.

    Parameters
    ----------
    source : path or str
        A MAPS file (Marvin local mode) or a plate-IFU such as ``7815-3702``.
    release : str, optional
        ``DR15`` or ``DR17`` (plate-IFU only; default Marvin's configured release).
    daptype : str, optional
        e.g. ``HYB10-GAU-MILESHC`` (plate-IFU only): Marvin's ``bintype`` + ``template``.
    mode : {'auto', 'local', 'remote'}
        Marvin's data mode for a plate-IFU.

    Raises
    ------
    KinviewError
        Marvin missing, or Marvin cannot open the source (one line, Marvin's reason).
    """
    require_marvin()
    from marvin.tools import Maps

    kwargs = {}
    path = Path(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path.suffix in (".gz", ".fits") or path.exists():
                if not path.is_file():
                    raise KinviewError(f"{path}: no such MAPS file")
                _check_released(path)
                return Maps(filename=str(path), mode="local")
            if release:
                kwargs["release"] = release.upper()
            if daptype:
                kwargs["bintype"], kwargs["template"] = _split_daptype(daptype)
            return Maps(plateifu=str(source), mode=mode, **kwargs)
    except KinviewError:
        raise
    except Exception as exc:  # noqa: BLE001 - Marvin's errors become one line
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise KinviewError(f"Marvin cannot open {source}: {text}") from None


def _check_released(path: Path) -> None:
    """Refuse, in one line, a file whose DRP/DAP versions Marvin cannot place in a release."""
    from astropy.io import fits
    from marvin import config

    header = fits.getheader(path, 0)
    versdap = str(header.get("VERSDAP", "")).strip()
    versdrp = str(header.get("VERSDRP3", "")).strip()
    try:
        release = config.lookUpRelease(versdrp)
        expected = config.lookUpVersions(release)[1]
    except Exception:  # noqa: BLE001 - MarvinError: unknown DRP version
        raise KinviewError(f"Marvin cannot open {path.name}: DRP version {versdrp or '?'} is "
                           "not in Marvin's releases (kinview reads it directly: kinview "
                           "ingest)") from None
    if versdap != expected:
        raise KinviewError(f"Marvin cannot open {path.name}: DAP version {versdap!r} is not "
                           f"the released one for {release} ({expected}); kinview reads it "
                           "directly: kinview ingest")


def _map(maps, name, channel=None):
    m = maps.getMap(name, channel=channel) if channel else maps.getMap(name)
    return (np.asarray(m.value, float), None if m.ivar is None else np.asarray(m.ivar, float),
            None if m.mask is None else np.asarray(m.mask, np.int64))


def _optional(maps, name, channel=None):
    try:
        return _map(maps, name, channel)
    except Exception:  # noqa: BLE001 - a map this release does not have
        return None, None, None


def write_kinview_maps(maps, survey_dir: Union[str, Path]) -> Path:
    """Write a Marvin ``Maps`` as a DAP MAPS file at its SAS path under ``survey_dir``.

    Returns the path written (atomic: written to a temporary name, then renamed).
    """
    release = LAYOUT.get(str(maps.release).upper())
    if release is None:
        raise KinviewError(f"{maps.plateifu}: Marvin release {maps.release} has no DAP layout "
                           "kinview writes (DR15/DR16 or DR17)")
    header = maps.header
    daptype = str(header.get("DAPTYPE") or f"{maps.bintype.name}-{maps.template.name}").strip()
    try:
        rel_path = sas.maps_path(maps.plateifu, release, daptype)
    except KinviewError:
        plate, ifu = maps.plateifu.split("-")
        rel_path = f"{daptype}/{plate}/{ifu}/manga-{maps.plateifu}-MAPS-{daptype}.fits.gz"
    x, _, _ = _map(maps, "spx_skycoo", "on_sky_x")
    y, _, _ = _map(maps, "spx_skycoo", "on_sky_y")
    sv, sv_ivar, sv_mask = _map(maps, "stellar_vel")
    ss, ss_ivar, ss_mask = _optional(maps, "stellar_sigma")
    corr = _optional(maps, "stellar_sigmacorr")[0]
    if corr is None:
        corr = _optional(maps, "stellar_sigmacorr", "resolution_difference")[0]
    gv, gv_ivar, gv_mask = _optional(maps, "emline_gvel", "ha_6564")
    gs, gs_ivar, gs_mask = _optional(maps, "emline_gsigma", "ha_6564")
    gi = _optional(maps, "emline_instsigma", "ha_6564")[0]
    gf, gf_ivar, gf_mask = _optional(maps, "emline_gflux", "ha_6564")
    mflux, mflux_ivar, _ = _optional(maps, "spx_mflux")
    snr = _optional(maps, "spx_snr")[0]
    bin_s = _optional(maps, "binid", "stellar_continua")[0]
    bin_g = _optional(maps, "binid", "em_line_models")[0]

    def hv(key, default):
        try:
            value = float(header.get(key, default))
        except (TypeError, ValueError):
            return default
        return value if np.isfinite(value) else default

    z = hv("SCINPVEL", 0.0) / 299792.458 if "SCINPVEL" in header else hv("Z", 0.0)
    target = Path(survey_dir) / rel_path
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_maps(
        target, maps.plateifu, daptype, x, y, sv, stellar_vel_ivar=sv_ivar,
        stellar_vel_mask=sv_mask, stellar_sigma=ss, stellar_sigma_ivar=ss_ivar,
        stellar_sigma_mask=ss_mask, stellar_sigmacorr=corr, gas_vel=gv, gas_vel_ivar=gv_ivar,
        gas_vel_mask=gv_mask, gas_sigma=gs, gas_sigma_ivar=gs_ivar, gas_sigma_mask=gs_mask,
        gas_instsigma=gi, gas_flux=gf, gas_flux_ivar=gf_ivar, gas_flux_mask=gf_mask,
        spx_mflux=mflux, spx_mflux_ivar=mflux_ivar, spx_snr=snr,
        binid_stellar=None if bin_s is None else bin_s.astype(np.int64),
        binid_gas=None if bin_g is None else bin_g.astype(np.int64),
        ell_ba=1.0 - hv("ECOOELL", 0.0), ell_pa=hv("ECOOPA", 0.0), reff=hv("REFF", np.nan),
        objra=hv("OBJRA", 180.0), objdec=hv("OBJDEC", 30.0), z=z,
        mangaid=str(header.get("MANGAID", "")).strip() or None,
        ifudesignsize=int(maps.plateifu.split("-")[1]) // 100, release=release,
        extra_header={"KVSOURCE": f"marvin {maps.data_origin}"})


def open_into_survey(plateifus: Sequence[str], survey_dir: Union[str, Path],
                     release: Optional[str] = None, daptype: Optional[str] = None,
                     mode: str = "auto") -> list:
    """``kinview gui --plateifu``: each galaxy through ``marvin.tools.Maps`` into a survey.

    Galaxies already in the survey's SAS tree are not asked for again.  Returns the paths.
    """
    out = []
    for p in plateifus:
        sas.parse_plateifu(p)
        maps = open_maps(p, release=release, daptype=daptype, mode=mode)
        out.append(write_kinview_maps(maps, survey_dir))
    return out


def fetch_maps(survey_dir: Union[str, Path], plateifus: Sequence[str], release: str,
               daptype: str):
    """``kinview fetch-maps --via marvin``: Marvin's downloadList into ``survey_dir``.

    Marvin downloads to ``$SAS_BASE_DIR`` at SAS paths, so the survey directory is made the
    SAS root for the call.  Returns a :class:`kinview.data.fetch_sas.SasFetchReport`.
    """
    require_marvin()
    root = Path(survey_dir).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    rels = {p: sas.maps_path(p, release, daptype) for p in plateifus}
    report = SasFetchReport(requested=len(rels))
    todo = [p for p, rel in rels.items() if not (root / rel).is_file()]
    report.skipped = len(rels) - len(todo)
    if todo:
        from marvin import config
        from marvin.utils.general import downloadList

        saved = os.environ.get("SAS_BASE_DIR")
        os.environ["SAS_BASE_DIR"] = str(root.resolve())
        try:
            config.setRelease(release.upper())
            binning, template = _split_daptype(daptype)
            downloadList(todo, dltype="map", bintype=binning, template=template)
        except Exception as exc:  # noqa: BLE001
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise KinviewError(f"Marvin download failed: {text}") from None
        finally:
            if saved is None:
                os.environ.pop("SAS_BASE_DIR", None)
            else:
                os.environ["SAS_BASE_DIR"] = saved
    for p, rel in rels.items():
        path = root / rel
        if p in todo:
            problem = check_fits_file(path) if path.is_file() else "not downloaded by Marvin"
            if problem:
                report.failed[p] = problem
                if path.is_file():
                    path.unlink()
                continue
            report.fetched += 1
        report.paths[p] = rel
    if report.paths:
        _ingest(root)
    return report
