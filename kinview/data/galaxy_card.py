"""What the catalogue panel shows for one galaxy, computed without Qt.

:func:`catalogue_card` turns a ``galaxies`` record (see :func:`kinview.db.galaxies.
galaxy_record`) into labelled lines: MaNGA-ID, RA/Dec, redshift, the effective radius in
arcsec and in kpc, axis ratio b/a, photometric PA, Sérsic index, stellar mass, IFU size, and
other observations of the same target.  :func:`skyserver_url` and :func:`marvin_url` give
the galaxy's pages on SkyServer's Explore tool and Marvin's web app.

Conventions
-----------
- R_e is the NSA elliptical-Petrosian r-band half-light radius (arcsec); kpc uses the angular
  scale of :data:`COSMOLOGY` (astropy's Planck18, proper distances) at the catalogue z.
- The photometric PA is the NSA elliptical-Petrosian angle, degrees E of N, in [0, 180).
- M* is the NSA elliptical-Petrosian stellar mass as drpall gives it, in M_sun h^-2 (h = 1);
  the card shows log10 of it and the value for h = 0.7 (M_sun, divided by 0.49).
- IFU size: fibres and the bundle's diameter on the sky (19: 12.5″ ... 127: 32.5″).
"""
from __future__ import annotations

import math
from typing import Iterable, List, Optional, Tuple

from kinview.data.sas import PLATEIFU_RE
from kinview.db.connection import connect
from kinview.db.galaxies import galaxy_record, observations_of

#: Bundle diameter (arcsec) per fibre count (Drory et al. 2015).
IFU_DIAMETER_ARCSEC = {7: 7.5, 19: 12.5, 37: 17.5, 61: 22.5, 91: 27.5, 127: 32.5}
SKYSERVER_EXPLORE = ("https://skyserver.sdss.org/dr17/VisualTools/explore/summary"
                     "?ra={ra:.6f}&dec={dec:.6f}")
MARVIN_GALAXY = "https://dr17.sdss.org/marvin/galaxy/{plateifu}/"
COSMOLOGY_NAME = "Planck18"


def _num(value) -> Optional[float]:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > -999 else None


def kpc_per_arcsec(z: float) -> Optional[float]:
    """Proper kpc per arcsec at redshift ``z`` in :data:`COSMOLOGY_NAME`; None if z <= 0."""
    z = _num(z)
    if z is None or z <= 0:
        return None
    from astropy import cosmology, units as u

    cosmo = getattr(cosmology, COSMOLOGY_NAME)
    return float(cosmo.kpc_proper_per_arcmin(z).to(u.kpc / u.arcsec).value)


def catalogue_card(record: dict, others: Iterable[str] = ()) -> List[Tuple[str, str]]:
    """Labelled lines for the catalogue panel (``—`` where the catalogue has no value)."""
    r = record or {}
    extra = r.get("extra") or {}
    dash = "—"

    def fmt(value, spec, unit=""):
        v = _num(value)
        return dash if v is None else f"{v:{spec}}{unit}"

    ra, dec, z = _num(r.get("ra")), _num(r.get("dec")), _num(r.get("z"))
    re = _num(r.get("re_arcsec"))
    scale = kpc_per_arcsec(z) if z is not None else None
    re_text = dash if re is None else f"{re:.2f}″" + (
        f" = {re * scale:.2f} kpc" if scale else "")
    mass = _num(r.get("mass"))
    mass_text = dash if mass is None or mass <= 0 else (
        f"log M* = {math.log10(mass):.2f} M☉/h² ({math.log10(mass / 0.49):.2f}, h=0.7)")
    ifu = _num(r.get("ifusize"))
    ifu_text = dash if ifu is None else f"{int(ifu)} fibres" + (
        f", {IFU_DIAMETER_ARCSEC[int(ifu)]:g}″" if int(ifu) in IFU_DIAMETER_ARCSEC else "")
    lines = [
        ("plate-IFU", str(r.get("plateifu") or dash)),
        ("MaNGA-ID", str(r.get("mangaid") or dash)),
        ("RA, Dec (°)", dash if ra is None or dec is None else f"{ra:.5f} {dec:+.5f}"),
        ("z", fmt(z, ".5f")),
        ("R_e", re_text),
        ("b/a", fmt(r.get("ba"), ".3f")),
        ("phot. PA", fmt(r.get("phi"), ".1f", "° E of N")),
        ("Sérsic n", fmt(r.get("sersic_n"), ".2f")),
        ("M*", mass_text),
        ("IFU", ifu_text),
    ]
    if r.get("daptype"):
        lines.append(("DAPTYPE", str(r["daptype"])))
    sigma = _num(extra.get("stellar_sigma_1re"))
    if sigma is not None:
        lines.append(("σ* (R_e)", f"{sigma:.1f} km/s (DAPall)"))
    repeat = [p for p in others if p != r.get("plateifu")]
    if repeat:
        lines.append(("also as", ", ".join(repeat)))
    return lines


def skyserver_url(ra, dec) -> Optional[str]:
    """SkyServer DR17 Explore page at (ra, dec) in degrees; None without coordinates."""
    ra, dec = _num(ra), _num(dec)
    if ra is None or dec is None:
        return None
    return SKYSERVER_EXPLORE.format(ra=ra, dec=dec)


def marvin_url(plateifu: str) -> Optional[str]:
    """Marvin's web page of a plate-IFU (DR17); None for names that are not plate-IFUs."""
    return MARVIN_GALAXY.format(plateifu=plateifu) if plateifu and PLATEIFU_RE.match(
        str(plateifu)) else None


def load_card(survey_dir: str, plateifu: str) -> dict:
    """Worker function: the record, card lines and links of one galaxy of a survey."""
    conn = connect(survey_dir)
    try:
        record = galaxy_record(conn, plateifu) or {"plateifu": plateifu}
        others = observations_of(conn, record.get("mangaid"))
    finally:
        conn.close()
    return {"plateifu": plateifu, "record": record, "lines": catalogue_card(record, others),
            "skyserver": skyserver_url(record.get("ra"), record.get("dec")),
            "marvin": marvin_url(plateifu)}
