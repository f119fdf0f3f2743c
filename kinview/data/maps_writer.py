"""Write MaNGA DAP MAPS files (the layout of DAP 2.2.1/DR15 and 3.1.0/DR17).

Used by the demo survey generator and by tests that need real FITS files.  The files carry the
extensions kinview reads plus the common coordinate/binning ones, with the DAP's ``EXTNAME``\\ s,
``HDUCLASS``/``ERRDATA``/``QUALDATA``/``SCIDATA`` keys, per-channel ``C<n>`` names, a TAN WCS,
float32 values and int32 ``DAPPIXMASK`` masks.  Emission-line extensions hold every channel of
the release's line list (so the ``C<n>`` keys and channel numbers are the real ones); only the
Hα (``Ha-6564``) channel carries data, the others are zero and flagged ``NOVALUE|DONOTUSE``,
which costs almost nothing once gzipped.

Coordinates follow the DAP: ``SPX_SKYCOO`` x = (α−α₀)cos δ₀ (East positive, decreasing with
column index), y = δ−δ₀ (North positive, increasing with row index), arcsec.
"""
from __future__ import annotations

import functools
import gzip as _gzip
import os
import re
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

from kinview.data.dapbits import bit_value

#: Speed of light, km/s (``SCINPVEL`` = c z).
C_KMS = 299792.458

#: Emission-line channel names of DAP 2.2.1 (DR15, ``ELPMILES``): Hα is channel 19 (C19).
EMLINE_CHANNELS_DR15: Sequence[str] = (
    "OII-3727", "OII-3729", "Hthe-3798", "Heta-3836", "NeIII-3869", "Hzet-3890",
    "NeIII-3968", "Heps-3971", "Hdel-4102", "Hgam-4341", "HeII-4687", "Hb-4862",
    "OIII-4960", "OIII-5008", "HeI-5877", "OI-6302", "OI-6365", "NII-6549", "Ha-6564",
    "NII-6585", "SII-6718", "SII-6732",
)

#: Emission-line channel names of DAP 3.1.0 (DR17, ``ELPMPL11``): Hα is channel 24 (C24).
EMLINE_CHANNELS_DR17: Sequence[str] = (
    "OII-3727", "OII-3729", "H12-3751", "H11-3771", "Hthe-3798", "Heta-3836", "NeIII-3869",
    "HeI-3889", "Hzet-3890", "NeIII-3968", "Heps-3971", "Hdel-4102", "Hgam-4341",
    "HeII-4687", "Hb-4862", "OIII-4960", "OIII-5008", "NI-5199", "NI-5201", "HeI-5877",
    "OI-6302", "OI-6365", "NII-6549", "Ha-6564", "NII-6585", "SII-6718", "SII-6732",
    "HeI-7067", "ArIII-7137", "ArIII-7753", "Peta-9017", "SIII-9071", "Pzet-9231",
    "SIII-9533", "Peps-9548",
)

#: Per release: line list, DAP version, default DAPTYPE, SPX_ELLCOO and STELLAR_SIGMACORR
#: channel names.
RELEASES: Dict[str, dict] = {
    "DR15": dict(lines=EMLINE_CHANNELS_DR15, versdap="2.2.1", daptype="HYB10-GAU-MILESHC",
                 ellcoo=("Elliptical radius", "R/Re", "Elliptical azimuth"),
                 sigmacorr=None),
    "DR17": dict(lines=EMLINE_CHANNELS_DR17, versdap="3.1.0",
                 daptype="HYB10-MILESHC-MASTARSSP",
                 ellcoo=("Elliptical radius", "R/Re", "R h/kpc", "Elliptical azimuth"),
                 sigmacorr=("resolution_difference", "fit")),
}

#: Channel names of the ``BINID`` extension (one per DAP module).
BINID_CHANNELS = ("BINNED_SPECTRA", "STELLAR_CONTINUA", "EM_LINE_MOMENTS", "EM_LINE_MODELS",
                  "SPECTRAL_INDICES")

_NOCOV = bit_value("NOCOV")
_DONOTUSE = bit_value("DONOTUSE")
_NOVALUE = bit_value("NOVALUE")
_PLATEIFU = re.compile(r"^(\d+)-(\d+)$")


def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def _i32(a):
    return np.ascontiguousarray(a, dtype=np.int32)


def _default_mask(values):
    """NOCOV|DONOTUSE where a value is not finite, else 0."""
    return np.where(np.isfinite(values), 0, _NOCOV | _DONOTUSE).astype(np.int32)


def _default_ivar(values, err=10.0):
    return np.where(np.isfinite(values), 1.0 / err ** 2, 0.0).astype(np.float32)


def ellcoo(x, y, ba: float, pa: float, reff: float):
    """Elliptical polar coordinates the way the DAP's ``SPX_ELLCOO`` gives them.

    Parameters
    ----------
    x, y : ndarray
        Sky offsets, arcsec (East, North positive).
    ba : float
        Axis ratio b/a of the ellipse.
    pa : float
        Position angle of the major axis, degrees E of N.
    reff : float
        Effective radius, arcsec (R/Re is NaN-free only when reff > 0).

    Returns
    -------
    r : ndarray  semi-major-axis radius, arcsec
    r_re : ndarray  r / reff
    theta : ndarray  azimuth in the disk plane, degrees [0, 360) from the major axis
        (towards the PA), counter-clockwise on the sky.
    """
    p = np.radians(pa)
    along = x * np.sin(p) + y * np.cos(p)           # along the major axis (toward the PA)
    across = (-x * np.cos(p) + y * np.sin(p)) / max(float(ba), 1e-3)
    r = np.hypot(along, across)
    theta = np.mod(np.degrees(np.arctan2(across, along)), 360.0)
    r_re = r / reff if reff and reff > 0 else np.full_like(r, np.nan)
    return r, r_re, theta


def _wcs_cards(shape, objra, objdec):
    ny, nx = shape
    return [("CRPIX1", (nx + 1) / 2.0, None), ("CRPIX2", (ny + 1) / 2.0, None),
            ("CRVAL1", float(objra), None), ("CRVAL2", float(objdec), None),
            ("CD1_1", -0.5 / 3600.0, None), ("CD2_2", 0.5 / 3600.0, None),
            ("CTYPE1", "RA---TAN", None), ("CTYPE2", "DEC--TAN", None),
            ("CUNIT1", "deg", None), ("CUNIT2", "deg", None)]


# ------------------------------------------------------------------ minimal FITS encoder
# astropy's Header/HDU machinery costs ~0.2 s for a 30-extension file; these few lines write
# the same standard FITS (80-character cards in 2880-byte blocks, big-endian data) in ~5 ms.

@functools.lru_cache(maxsize=8192)
def _card(key, value, comment=None) -> bytes:
    key = f"{key:<8}"
    if isinstance(value, bool):
        val = f"{'T' if value else 'F':>20}"
    elif isinstance(value, (int, np.integer)):
        val = f"{int(value):>20}"
    elif isinstance(value, (float, np.floating)):
        text = repr(float(value)).upper()
        if "E" not in text and "." not in text:
            text += ".0"
        val = f"{text:>20}"
    else:
        s = str(value).replace("'", "''")
        val = f"'{s:<8}'"
        val = f"{val:<20}"
    card = f"{key}= {val}"
    if comment:
        card += f" / {comment}"
    card = card[:80]
    return f"{card:<80}".encode("ascii", "replace")


_BITPIX = {np.dtype(np.float32): -32, np.dtype(np.float64): -64, np.dtype(np.int32): 32,
           np.dtype(np.int16): 16, np.dtype(np.uint8): 8, np.dtype(np.int64): 64}


class ChannelCube:
    """A 3-D extension whose channels are all one constant except channel ``index``.

    Written without materialising the constant channels (and gzipped once per size and value),
    which keeps 35-channel emission-line extensions cheap.
    """

    def __init__(self, nchan: int, index: int, plane: np.ndarray, fill, dtype):
        self.dtype = np.dtype(dtype)
        self.plane = np.ascontiguousarray(plane, dtype=self.dtype)
        self.nchan, self.index, self.fill = int(nchan), int(index), fill
        self.shape = (self.nchan,) + self.plane.shape
        self.ndim = 3

    def toarray(self) -> np.ndarray:
        out = np.full(self.shape, self.fill, self.dtype)
        out[self.index] = self.plane
        return out


def _header_bytes(data, cards, primary) -> bytes:
    out = []
    if primary:
        out.append(_card("SIMPLE", True, "conforms to FITS standard"))
    else:
        out.append(_card("XTENSION", "IMAGE", "Image extension"))
    if data is None:
        out.append(_card("BITPIX", 8, "array data type"))
        out.append(_card("NAXIS", 0, "number of array dimensions"))
    else:
        out.append(_card("BITPIX", _BITPIX[data.dtype], "array data type"))
        out.append(_card("NAXIS", len(data.shape), "number of array dimensions"))
        for k, n in enumerate(reversed(data.shape), start=1):
            out.append(_card(f"NAXIS{k}", int(n)))
    if primary:
        out.append(_card("EXTEND", True))
    else:
        out.append(_card("PCOUNT", 0, "number of parameters"))
        out.append(_card("GCOUNT", 1, "number of groups"))
    out.extend(_card(k, v, c) for k, v, c in cards)
    out.append(f"{'END':<80}".encode("ascii"))
    header = b"".join(out)
    return header + b" " * (-len(header) % 2880)


def fits_hdu_segments(data, cards, primary=False) -> list:
    """One HDU as a list of segments: ``bytes`` or ``(pattern, count)`` = pattern × count.

    Parameters
    ----------
    data : ndarray, ChannelCube or None
    cards : list of (key, value, comment)
    primary : bool
        Write a primary HDU (``SIMPLE``) instead of an ``IMAGE`` extension.
    """
    if data is not None and not isinstance(data, ChannelCube):
        data = np.asarray(data)
    segs = [_header_bytes(data, cards, primary)]
    if data is None:
        return segs
    be = data.dtype.newbyteorder(">")
    if isinstance(data, ChannelCube):
        pattern = np.array([data.fill], dtype=be).tobytes()
        per_plane = int(np.prod(data.plane.shape))
        if data.index:
            segs.append((pattern, data.index * per_plane))
        segs.append(np.ascontiguousarray(data.plane, dtype=be).tobytes())
        after = data.nchan - data.index - 1
        if after:
            segs.append((pattern, after * per_plane))
        nbytes = data.dtype.itemsize * data.nchan * per_plane
    else:
        raw = np.ascontiguousarray(data, dtype=be).tobytes()
        segs.append(raw)
        nbytes = len(raw)
    pad = -nbytes % 2880
    if pad:
        segs.append((b"\0", pad))
    return segs


def fits_hdu_bytes(data, cards, primary=False) -> bytes:
    """One HDU (header cards + data) as FITS bytes (see :func:`fits_hdu_segments`)."""
    return b"".join(s if isinstance(s, bytes) else s[0] * s[1]
                    for s in fits_hdu_segments(data, cards, primary))


@functools.lru_cache(maxsize=256)
def _gzip_fill(pattern: bytes, count: int, level: int) -> bytes:
    return _gzip.compress(pattern * count, compresslevel=level, mtime=0)


def _write_segments(fh, segments, gzip: bool, level: int) -> None:
    """Write segments; gzip as a multi-member stream (valid gzip: members concatenate)."""
    if not gzip:
        for s in segments:
            fh.write(s if isinstance(s, bytes) else s[0] * s[1])
        return
    pending = []
    for s in segments:
        if isinstance(s, bytes):
            pending.append(s)
            continue
        if s[1] * len(s[0]) < 65536:      # small fills: inline
            pending.append(s[0] * s[1])
            continue
        if pending:
            fh.write(_gzip.compress(b"".join(pending), compresslevel=level, mtime=0))
            pending = []
        fh.write(_gzip_fill(s[0], s[1], level))
    if pending:
        fh.write(_gzip.compress(b"".join(pending), compresslevel=level, mtime=0))


def write_maps(path, plateifu: str, daptype: Optional[str] = None, x=None, y=None,
               stellar_vel=None, *, stellar_vel_ivar=None, stellar_vel_mask=None,
               stellar_sigma=None, stellar_sigma_ivar=None, stellar_sigma_mask=None,
               stellar_sigmacorr=None,
               gas_vel=None, gas_vel_ivar=None, gas_vel_mask=None,
               gas_sigma=None, gas_sigma_ivar=None, gas_sigma_mask=None, gas_instsigma=None,
               gas_flux=None, gas_flux_ivar=None, gas_flux_mask=None,
               spx_mflux=None, spx_mflux_ivar=None, spx_snr=None,
               binid_stellar=None, binid_gas=None,
               ell_ba: float = 1.0, ell_pa: float = 0.0, reff: float = float("nan"),
               objra: float = 180.0, objdec: float = 30.0, z: float = 0.03,
               mangaid: Optional[str] = None, ifudesignsize: Optional[int] = None,
               release: str = "DR17", gzip: Optional[bool] = None, compresslevel: int = 1,
               extra_header: Optional[dict] = None) -> Path:
    """Write one DAP MAPS file.

    Parameters
    ----------
    path : str or Path
        Output file; ``.fits.gz`` is gzipped (``gzip=None`` decides from the suffix).  The file
        is written to a temporary name and renamed, so an interrupted write leaves no partial
        MAPS file.
    plateifu : str
        e.g. ``"8485-1901"``.
    daptype : str, optional
        Default: the release's hybrid type (``HYB10-GAU-MILESHC`` for DR15,
        ``HYB10-MILESHC-MASTARSSP`` for DR17).
    x, y : ndarray (ny, nx)
        ``SPX_SKYCOO`` offsets, arcsec (x East positive, y North positive).
    stellar_vel : ndarray (ny, nx)
        Stellar velocity, km/s relative to ``SCINPVEL`` = c z.
    stellar_vel_ivar, stellar_vel_mask : ndarray, optional
        Inverse variance (km/s)⁻² and int DAPPIXMASK bits.  Defaults: 1/(10 km/s)² and 0
        where the velocity is finite, 0 and ``NOCOV|DONOTUSE`` elsewhere.  NaN values are
        written as 0 (the DAP never writes NaN).
    stellar_sigma, stellar_sigma_ivar, stellar_sigma_mask : ndarray, optional
        Observed stellar dispersion (km/s) and its ivar/mask (defaults like the velocity).
    stellar_sigmacorr : ndarray, optional
        Instrumental correction (km/s); DR15: one plane, DR17: two channels
        (``resolution_difference``, ``fit``; both get this map).
    gas_vel, gas_vel_ivar, gas_vel_mask, gas_sigma, gas_sigma_ivar, gas_sigma_mask,
    gas_instsigma, gas_flux, gas_flux_ivar, gas_flux_mask : ndarray, optional
        Hα Gaussian-fit velocity (km/s), dispersion (km/s), instrumental dispersion (km/s) and
        flux (1e-17 erg/s/cm²/spaxel).  Without ``gas_vel`` the Hα maps are written fully
        masked (``NOVALUE|DONOTUSE``).
    spx_mflux, spx_mflux_ivar, spx_snr : ndarray, optional
        g-band-weighted mean flux, its ivar, and S/N per spaxel.
    binid_stellar, binid_gas : ndarray of int, optional
        Bin ids of the stellar-continuum and emission-line-model modules (-1 = not analysed).
        Default: every finite spaxel its own bin.
    ell_ba, ell_pa, reff : float
        Ellipse for ``SPX_ELLCOO`` (b/a; major-axis PA, degrees E of N; Rₑ in arcsec); written
        as ``ECOOELL`` = 1−b/a, ``ECOOPA`` and ``REFF``.
    objra, objdec, z, mangaid, ifudesignsize :
        Primary-header values (degrees; redshift).
    release : {'DR17', 'DR15'}
        Emission-line channel list (35 channels, Hα in C24 / 22 channels, Hα in C19) and the
        shapes of ``SPX_ELLCOO`` and ``STELLAR_SIGMACORR``.
    compresslevel : int
        gzip level (1 is fast and nearly as small for these files).
    extra_header : dict, optional
        More primary-header keywords.

    Returns
    -------
    Path of the written file.
    """

    if release not in RELEASES:
        raise ValueError(f"release must be one of {sorted(RELEASES)}, not {release!r}")
    rel = RELEASES[release]
    daptype = daptype or rel["daptype"]
    path = Path(path)
    if gzip is None:
        gzip = path.name.endswith(".gz")
    if x is None or y is None or stellar_vel is None:
        raise ValueError("write_maps needs x, y and stellar_vel")
    vel = np.asarray(stellar_vel, float)
    shape = vel.shape
    if vel.ndim != 2 or np.shape(x) != shape or np.shape(y) != shape:
        raise ValueError(f"x, y and stellar_vel must be 2-D maps of one shape, got "
                         f"{np.shape(x)}, {np.shape(y)}, {shape}")
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    m = _PLATEIFU.match(str(plateifu))
    plate, ifu = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    finite = np.isfinite(vel)

    def clean(a, fill=0.0):
        a = np.asarray(a, float)
        return _f32(np.where(np.isfinite(a), a, fill))

    # ---------------------------------------------------------------- primary header
    prim = []
    prim.append(("PLATEID", plate, "Current plate"))
    prim.append(("IFUDSGN", str(ifu), "IFU design id"))
    prim.append(("PLATEIFU", str(plateifu), "Plate-IFU"))
    prim.append(("MANGAID", str(mangaid or f"1-{plate * 7 + ifu}"), "MaNGA ID"))
    prim.append(("OBJRA", float(objra), "Object RA (deg)"))
    prim.append(("OBJDEC", float(objdec), "Object Dec (deg)"))
    prim.append(("IFURA", float(objra), "IFU centre RA (deg)"))
    prim.append(("IFUDEC", float(objdec), "IFU centre Dec (deg)"))
    if ifudesignsize:
        prim.append(("IFUSIZE", int(ifudesignsize), "Fibres in the IFU"))
    prim.append(("Z", float(z), "Redshift used for SCINPVEL"))
    prim.append(("SCINPVEL", C_KMS * float(z), "Initial guess stellar velocity (cz, km/s)"))
    prim.append(("SCINPSIG", 100.0, "Initial guess stellar velocity dispersion"))
    prim.append(("EBVGAL", 0.03, "Galactic E(B-V)"))
    prim.append(("MASKNAME", "MANGA_DAPPIXMASK", "Bits in the *_MASK extensions"))
    versdrp = {"DR15": "v2_4_3", "DR17": "v3_1_1"}.get(release, "v3_1_1")
    prim.append(("VERSDRP2", versdrp, "MaNGA DRP version (2d)"))
    prim.append(("VERSDRP3", versdrp, "MaNGA DRP version (3d)"))
    for key in ("MNGTARG1", "MNGTARG2", "MNGTARG3", "DRP3QUAL"):
        prim.append((key, 0, "Targeting / DRP quality bits"))
    prim.append(("VERSDAP", rel["versdap"], "MaNGA DAP version"))
    prim.append(("DAPVER", rel["versdap"], "MaNGA DAP version (alias)"))
    prim.append(("DAPTYPE", daptype, "DAP analysis method"))
    prim.append(("DAPFRMT", "MAPS", "DAP file format"))
    prim.append(("ECOOPA", float(ell_pa), "PA for ellip. coo (deg E of N)"))
    prim.append(("ECOOELL", float(1.0 - ell_ba), "Ellipticity (1-b/a) for ellip. coo"))
    prim.append(("REFF", float(reff) if np.isfinite(reff) else -1.0, "Effective radius (arcsec)"))
    prim.append(("BINKEY", daptype.split("-")[0], "Spatial binning method keyword"))
    prim.append(("DAPQUAL", 0, "DAP quality bit mask"))
    prim.append(("DRPRELS", release, "Data release of the layout"))
    for key, value in (extra_header or {}).items():
        prim.append((key, value, None))
    hdus = [(None, None, prim)]

    def image(name, data, *, kind="DATA", channels=None, bunit=None, sci=None):
        h = [("EXTNAME", name, None), ("HDUCLASS", "SDSS", "SDSS format class"),
             ("HDUCLAS1", "CUBE" if data.ndim == 3 else "IMAGE", None),
             ("HDUCLAS2", kind, None)]
        if kind == "DATA":
            if sci is not False:
                h.append(("ERRDATA", f"{name}_IVAR", "Associated inv. variance extension"))
                h.append(("QUALDATA", f"{name}_MASK", "Associated quality extension"))
        else:
            h.append(("SCIDATA", sci, "Associated data extension"))
            if kind == "ERROR":
                h.append(("ERRTYPE", "INVMSE", "Value is inverse mean-square error"))
            if kind == "QUALITY":
                h.append(("HDUCLAS3", "MASKZERO", "Zero values are good"))
        if bunit:
            h.append(("BUNIT", bunit, None))
        h.extend(_wcs_cards(shape, objra, objdec))
        for k, cname in enumerate(channels or (), start=1):
            h.append((f"C{k:02d}", cname, f"Data in channel {k}"))
        hdus.append((name, data, h))

    def triple(name, data, ivar, mask, bunit, channels=None):
        image(name, data, channels=channels, bunit=bunit)
        image(f"{name}_IVAR", ivar, kind="ERROR", channels=channels, sci=name)
        image(f"{name}_MASK", mask, kind="QUALITY", channels=channels, sci=name)

    # ---------------------------------------------------------------- coordinates, binning
    sky = np.stack([x, y])
    image("SPX_SKYCOO", _f32(sky), channels=("On-sky X", "On-sky Y"), bunit="arcsec",
          sci=False)
    r, r_re, theta = ellcoo(x, y, ell_ba, ell_pa, reff)
    planes = {"Elliptical radius": r, "R/Re": np.nan_to_num(r_re),
              "R h/kpc": r * (C_KMS * z / 100.0) * np.pi / 180 / 3600 * 1e3,
              "Elliptical azimuth": theta}
    image("SPX_ELLCOO", _f32(np.stack([planes[c] for c in rel["ellcoo"]])),
          channels=rel["ellcoo"], sci=False)
    mflux = clean(spx_mflux if spx_mflux is not None else np.where(finite, 1.0, 0.0))
    mflux_ivar = clean(spx_mflux_ivar if spx_mflux_ivar is not None
                       else np.where(finite, 1.0 / np.maximum(np.abs(mflux), 1e-3) ** 2 * 100, 0))
    image("SPX_MFLUX", mflux, bunit="1E-17 erg/s/cm^2/ang/spaxel")
    image("SPX_MFLUX_IVAR", mflux_ivar, kind="ERROR", sci="SPX_MFLUX")
    snr = clean(spx_snr if spx_snr is not None else np.where(finite, 10.0, 0.0))
    image("SPX_SNR", snr, sci=False)

    run = np.where(finite.ravel(), np.cumsum(finite.ravel()) - 1, -1).reshape(shape)
    b_st = _i32(binid_stellar if binid_stellar is not None else run)
    b_gas = _i32(binid_gas if binid_gas is not None else run)
    image("BINID", np.stack([b_st, b_st, b_gas, b_gas, b_gas]), channels=BINID_CHANNELS,
          sci=False)
    # Bin-averaged g-band flux (mean of the spaxels of each stellar bin).
    flat = b_st.ravel()
    inbin = flat >= 0
    bin_mflux = np.zeros(flat.size, np.float32)
    if inbin.any():
        sums = np.bincount(flat[inbin], weights=mflux.ravel()[inbin])
        counts = np.bincount(flat[inbin])
        means = sums / np.maximum(counts, 1)
        bin_mflux[inbin] = means[flat[inbin]]
    bin_mflux = bin_mflux.reshape(shape)
    bin_mask = np.where(b_st >= 0, 0, _NOCOV | _DONOTUSE).astype(np.int32)
    triple("BIN_MFLUX", bin_mflux, _f32(np.where(b_st >= 0, mflux_ivar, 0)), bin_mask,
           "1E-17 erg/s/cm^2/ang/spaxel")
    image("BIN_SNR", snr, sci=False)

    # ---------------------------------------------------------------- stellar kinematics
    triple("STELLAR_VEL", clean(vel),
           _f32(stellar_vel_ivar) if stellar_vel_ivar is not None else _default_ivar(vel),
           _i32(stellar_vel_mask) if stellar_vel_mask is not None else _default_mask(vel),
           "km/s")
    sig = np.asarray(stellar_sigma, float) if stellar_sigma is not None else \
        np.where(finite, 100.0, np.nan)
    triple("STELLAR_SIGMA", clean(sig),
           _f32(stellar_sigma_ivar) if stellar_sigma_ivar is not None else _default_ivar(sig),
           _i32(stellar_sigma_mask) if stellar_sigma_mask is not None else _default_mask(sig),
           "km/s")
    corr = clean(stellar_sigmacorr if stellar_sigmacorr is not None
                 else np.where(finite, 25.0, 0.0))
    if rel["sigmacorr"]:
        image("STELLAR_SIGMACORR", np.stack([corr] * len(rel["sigmacorr"])),
              channels=rel["sigmacorr"], bunit="km/s", sci=False)
    else:
        image("STELLAR_SIGMACORR", corr, bunit="km/s", sci=False)

    # ---------------------------------------------------------------- emission lines (Hα)
    lines = tuple(rel["lines"])
    iha = lines.index("Ha-6564")
    nchan = len(lines)
    have_gas = gas_vel is not None
    off_mask = np.int32(_NOVALUE | _DONOTUSE)

    def cube(plane, fill, dtype):
        return ChannelCube(nchan, iha, plane, fill, dtype)

    gvel = np.asarray(gas_vel, float) if have_gas else np.full(shape, np.nan)
    gfin = np.isfinite(gvel)

    def gmask(m, values):
        if m is not None:
            return _i32(m)
        if not have_gas:
            return np.full(shape, off_mask, np.int32)
        return _default_mask(values)

    gflux = np.asarray(gas_flux, float) if gas_flux is not None else np.where(gfin, 1.0, np.nan)
    gsig = np.asarray(gas_sigma, float) if gas_sigma is not None else np.where(gfin, 70., np.nan)
    inst = clean(gas_instsigma if gas_instsigma is not None else np.where(finite, 70.0, 0.0))

    def givar(iv, values, err):
        if iv is not None:
            return _f32(iv)
        return _default_ivar(values, err)

    triple("EMLINE_GFLUX", cube(clean(gflux), 0.0, np.float32),
           cube(givar(gas_flux_ivar, gflux, 0.1), 0.0, np.float32),
           cube(gmask(gas_flux_mask, gflux), off_mask, np.int32),
           "1E-17 erg/s/cm^2/spaxel", channels=lines)
    triple("EMLINE_GVEL", cube(clean(gvel), 0.0, np.float32),
           cube(givar(gas_vel_ivar, gvel, 10.0), 0.0, np.float32),
           cube(gmask(gas_vel_mask, gvel), off_mask, np.int32), "km/s", channels=lines)
    triple("EMLINE_GSIGMA", cube(clean(gsig), 0.0, np.float32),
           cube(givar(gas_sigma_ivar, gsig, 10.0), 0.0, np.float32),
           cube(gmask(gas_sigma_mask, gsig), off_mask, np.int32), "km/s", channels=lines)
    image("EMLINE_INSTSIGMA", cube(inst, 0.0, np.float32), channels=lines, bunit="km/s",
          sci=False)

    # ---------------------------------------------------------------- write atomically
    segments = []
    for i, (_, data, cards) in enumerate(hdus):
        segments.extend(fits_hdu_segments(data, cards, primary=(i == 0)))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            _write_segments(fh, segments, gzip, compresslevel)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
