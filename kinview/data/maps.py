"""Read MaNGA DAP MAPS files into :class:`~kinview.data.fields.MapsData`.

Handles the DAPTYPEs of DR15 (``VOR10-GAU-MILESHC``, ``HYB10-GAU-MILESHC``; DAP 2.2.1) and
DR17 (``SPX|VOR10|HYB10-MILESHC-MASTARSSP``, ``HYB10-MILESHC-MASTARHC2``; DAP 3.1.0), plain or
gzipped.  Emission-line channels are found by *name* from the ``C<n>`` header keys (Hα is C19
in DR15 and C24 in DR17), never by a fixed index.  Only the extensions kinview needs are read.

Conventions (SPEC §1): ``SPX_SKYCOO`` x = (α−α₀)cos δ₀ East positive, y = δ−δ₀ North positive,
arcsec; velocities in km/s relative to ``SCINPVEL`` (each velocity extension's ``BUNIT``
is honoured: m/s and cm/s are converted, other units refused); masks True = do not use (any bit of
:data:`kinview.data.dapbits.DONOTUSE_SET`, ivar ≤ 0 or a non-finite value).

Every problem with a file raises :class:`~kinview.errors.MapsFormatError` with one line that
names the file and what is wrong.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import numpy as np

from kinview.data.dapbits import default_donotuse_mask
from kinview.data.fields import MapsData, VelocityField
from kinview.data.fitsblocks import FitsError, FitsFile, Truncated
from kinview.errors import MapsFormatError

#: Name of the Hα channel in the emission-line extensions.
HALPHA = "Ha-6564"
#: BINID channel names (DAP >= 2.x) of the stellar-continuum and emission-line-model modules,
#: with the 0-based index to fall back on when a file has no channel names.
BINID_STELLAR = ("STELLAR_CONTINUA", 1)
BINID_GAS = ("EM_LINE_MODELS", 3)

_MAPS_NAME = re.compile(r"manga-(\d+)-(\d+)-MAPS-([A-Z0-9-]+?)\.fits(\.gz)?$", re.I)
_DONOTUSE = default_donotuse_mask()


def _norm(name) -> str:
    return str(name).strip().lower().replace("_", "").replace(" ", "")


def channel_names(header) -> list:
    """Channel names from the ``C<n>`` keys of an extension header, in channel order."""
    if hasattr(header, "channels"):
        ch = header.channels()
        return [ch[k] for k in sorted(ch)]
    names = {}
    for key in header.keys():
        m = re.fullmatch(r"C(\d+)", key)
        if m:
            names[int(m.group(1))] = str(header[key]).strip()
    return [names[k] for k in sorted(names)]


def find_channel(header, name: str) -> int:
    """0-based index of the channel called ``name`` (e.g. ``'Ha-6564'``) in an extension.

    The DAP names channel n (1-based) in header keyword ``C<n>`` (``C01`` … ``C35``);
    matching ignores case, spaces and underscores.  Raises KeyError when there is no such
    channel.

    Examples
    --------
    >>> find_channel({"C01": "Hb-4862", "C02": "Ha-6564 "}, "Ha-6564")
    1
    """
    want = _norm(name)
    if hasattr(header, "channels"):        # kinview.data.fitsblocks.Header: fast path
        for n, cname in sorted(header.channels().items()):
            if _norm(cname) == want:
                return n - 1
        raise KeyError(name)
    for key in header.keys():
        m = re.fullmatch(r"C(\d+)", str(key))
        if m and _norm(header[key]) == want:
            return int(m.group(1)) - 1
    raise KeyError(name)


def _channel(header, name, fallback):
    try:
        return find_channel(header, name)
    except KeyError:
        return fallback


def _fail(path, problem):
    raise MapsFormatError(f"{path}: {problem}")


#: Velocity units kinview converts to km/s (``BUNIT`` normalised: lower case, no spaces,
#: ``s-1``/``s^-1`` → ``/s``).  A velocity extension without ``BUNIT`` is taken as km/s.
VELOCITY_UNITS = {"km/s": 1.0, "m/s": 1e-3, "cm/s": 1e-5}


def velocity_scale(path, name, header) -> float:
    """Factor that turns the values of velocity extension ``name`` into km/s, from its
    ``BUNIT`` (km/s, m/s or cm/s; absent → km/s).  Any other unit is refused."""
    unit = header.get("BUNIT") if header is not None else None
    if unit is None or not str(unit).strip():
        return 1.0
    key = re.sub(r"\s+", "", str(unit).strip().lower())
    key = re.sub(r"s\^?\{?-1\}?$", "/s", key).replace("//", "/")
    if key.endswith("./s"):
        key = key[:-3] + "/s"
    if key not in VELOCITY_UNITS:
        _fail(path, f"extension {name} has BUNIT {str(unit).strip()!r}; expected a velocity "
              f"(km/s, m/s or cm/s)")
    return VELOCITY_UNITS[key]


class _Reader:
    """Reads extensions of one open HDUList with checks that name file and extension."""

    def __init__(self, path, hdul):
        self.path = path
        self.hdul = hdul
        self.shape = None

    def has(self, name):
        return name in self.hdul

    def hdu(self, name, required=True):
        try:
            return self.hdul[name]
        except KeyError:
            if required:
                _fail(self.path, f"not a DAP MAPS file: missing extension {name}")
            return None

    def data(self, name, required=True, channel=None, dtype=np.float64):
        hdu = self.hdu(name, required)
        if hdu is None:
            return None
        shape = hdu.shape
        if not shape:
            _fail(self.path, f"extension {name} holds no data")
        if channel is not None and len(shape) == 3:
            if not 0 <= channel < shape[0]:
                _fail(self.path, f"extension {name} has {shape[0]} channels, "
                      f"channel {channel + 1} is missing")
            shape = shape[1:]
        elif channel is not None and len(shape) == 2 and channel != 0:
            _fail(self.path, f"extension {name} has one channel, channel {channel + 1} "
                  f"is missing")
        if len(shape) != 2:
            _fail(self.path, f"extension {name} has shape {hdu.shape}, expected a 2-D map")
        if self.shape is None:
            self.shape = shape
        elif shape != self.shape:
            _fail(self.path, f"extension {name} has shape {shape}, expected "
                  f"{self.shape} like SPX_SKYCOO")
        data = hdu.plane(channel) if len(hdu.shape) == 3 else hdu.data
        return np.asarray(data, dtype=dtype)

    def velocity(self, name, ivar_name=None, required=True, channel=None, ivar_channel=None):
        """A velocity-like map in km/s (``BUNIT`` honoured) and its inverse variance in
        (km/s)⁻², or ``(None, None)`` when the optional extension is absent."""
        vel = self.data(name, required, channel=channel)
        if vel is None:
            return None, None
        scale = velocity_scale(self.path, name, self.hdu(name).header)
        ivar = None
        if ivar_name is not None:
            ivar = self.data(ivar_name, required=False,
                             channel=channel if ivar_channel is None else ivar_channel)
        if scale != 1.0:
            vel = vel * scale
            if ivar is not None:
                ivar = ivar / scale ** 2
        return vel, ivar


def _mask(maskbits, ivar, values):
    bad = (maskbits.astype(np.int64) & _DONOTUSE) != 0
    if ivar is not None:
        bad |= ~(ivar > 0)
    return bad | ~np.isfinite(values)


def _stellar(r: _Reader, x, y, flux) -> VelocityField:
    vel, ivar = r.velocity("STELLAR_VEL", "STELLAR_VEL_IVAR")
    bits = r.data("STELLAR_VEL_MASK", dtype=np.int64)
    if ivar is None:
        ivar = np.where(np.isfinite(vel), 1.0, 0.0)
    sigma, sigma_ivar = r.velocity("STELLAR_SIGMA", "STELLAR_SIGMA_IVAR", required=False)
    sigma_mask = sigma_corr = None
    if sigma is not None:
        sbits = r.data("STELLAR_SIGMA_MASK", required=False, dtype=np.int64)
        sigma_mask = _mask(sbits if sbits is not None else np.zeros(sigma.shape, np.int64),
                           sigma_ivar, sigma)
        corr_hdu = r.hdu("STELLAR_SIGMACORR", required=False)
        if corr_hdu is not None:
            # DR15: one plane; DR17: 'resolution_difference' and 'fit' -- the DAP recommends
            # the first channel.
            ch = _channel(corr_hdu.header, "resolution_difference", 0)
            sigma_corr = r.velocity("STELLAR_SIGMACORR", channel=ch)[0]
    binid = _binid(r, *BINID_STELLAR)
    return VelocityField(kind="stellar", x=x, y=y, vel=vel, vel_ivar=ivar,
                         mask=_mask(bits, ivar, vel), maskbits=bits, sigma=sigma,
                         sigma_ivar=sigma_ivar, sigma_corr=sigma_corr, sigma_mask=sigma_mask,
                         flux=flux, binid=binid)


def _binid(r: _Reader, name, fallback):
    hdu = r.hdu("BINID", required=False)
    if hdu is None:
        return None
    ch = _channel(hdu.header, name, fallback)
    if len(hdu.shape) == 2:
        ch = 0
    return r.data("BINID", channel=ch, dtype=np.int64)


def _gas(r: _Reader, x, y, missing: list) -> Optional[VelocityField]:
    hdu = r.hdu("EMLINE_GVEL", required=False)
    if hdu is None:
        return None
    try:
        ha = find_channel(hdu.header, HALPHA)
    except KeyError:
        names = channel_names(hdu.header)
        # the stellar field is still good: keep it, and say why there is no gas field
        missing[0] = (f"EMLINE_GVEL has no {HALPHA} channel (channels: "
                      f"{', '.join(names[:6]) + (' ...' if len(names) > 6 else '') or 'none named'})")
        return None

    def chan(ext, required=True):
        h = r.hdu(ext, required)
        if h is None:
            return None
        return _channel(h.header, HALPHA, ha)  # each extension names its channels

    def line(ext, required=True, dtype=np.float64):
        ch = chan(ext, required)
        return None if ch is None else r.data(ext, channel=ch, dtype=dtype)

    def speed(ext, ivar_ext=None, required=True):
        ch = chan(ext, required)
        if ch is None:
            return None, None
        ich = chan(ivar_ext, False) if ivar_ext else None
        return r.velocity(ext, ivar_ext if ich is not None else None, required, channel=ch,
                          ivar_channel=ich)

    vel, ivar = speed("EMLINE_GVEL", "EMLINE_GVEL_IVAR")
    bits = line("EMLINE_GVEL_MASK", dtype=np.int64)
    if ivar is None:
        ivar = np.where(np.isfinite(vel), 1.0, 0.0)
    sigma, sigma_ivar = speed("EMLINE_GSIGMA", "EMLINE_GSIGMA_IVAR", required=False)
    sigma_mask = None
    if sigma is not None:
        sbits = line("EMLINE_GSIGMA_MASK", required=False, dtype=np.int64)
        sigma_mask = _mask(sbits if sbits is not None else np.zeros(sigma.shape, np.int64),
                           sigma_ivar, sigma)
    inst = speed("EMLINE_INSTSIGMA", required=False)[0]
    flux = line("EMLINE_GFLUX", required=False)
    binid = _binid(r, *BINID_GAS)
    return VelocityField(kind="gas", x=x, y=y, vel=vel, vel_ivar=ivar,
                         mask=_mask(bits, ivar, vel), maskbits=bits, sigma=sigma,
                         sigma_ivar=sigma_ivar, sigma_corr=inst, sigma_mask=sigma_mask,
                         flux=flux, binid=binid)


_HEADER_KEYS = ("PLATEIFU", "MANGAID", "OBJRA", "OBJDEC", "IFURA", "IFUDEC", "DAPTYPE",
                "VERSDAP", "DAPVER", "SCINPVEL", "Z", "EBVGAL", "REFF", "ECOOPA", "ECOOELL",
                "IFUSIZE", "DRPRELS", "RFWHM")


#: Extensions whose map shape fixes the grid (the most common shape among those present).
_GRID_EXTENSIONS = ("SPX_SKYCOO", "STELLAR_VEL", "STELLAR_VEL_MASK", "STELLAR_VEL_IVAR",
                    "EMLINE_GVEL", "EMLINE_GVEL_MASK", "BINID", "SPX_ELLCOO")


def _grid_shape(r: _Reader) -> None:
    """Fix the map shape by majority of the core extensions, so that an error names the
    extension that is odd (a wrong-shaped ``STELLAR_VEL`` is reported as such)."""
    shapes = {}
    for name in _GRID_EXTENSIONS:
        hdu = r.hdu(name, required=False)
        if hdu is not None and hdu.shape and len(hdu.shape) in (2, 3):
            shapes[name] = tuple(hdu.shape[-2:])
    if not shapes:
        return
    counts = {}
    for shp in shapes.values():
        counts[shp] = counts.get(shp, 0) + 1
    best = max(counts.values())
    # ties: SPX_SKYCOO (the coordinate grid) decides
    ref = shapes.get("SPX_SKYCOO") if counts.get(shapes.get("SPX_SKYCOO"), 0) == best else \
        next(s for s in shapes.values() if counts[s] == best)
    like = [n for n, shp in shapes.items() if shp == ref]
    for name, shp in shapes.items():
        if shp != ref:
            _fail(r.path, f"extension {name} has maps of shape {shp}, expected {ref} like "
                  f"{', '.join(like[:3])}")
    r.shape = ref


def _read(path: Path, hdul) -> MapsData:
    r = _Reader(path, hdul)
    if not r.has("STELLAR_VEL"):
        _fail(path, "not a DAP MAPS file: missing extension STELLAR_VEL")
    sky = r.hdu("SPX_SKYCOO")
    if len(sky.shape) != 3 or sky.shape[0] < 2:
        _fail(path, f"extension SPX_SKYCOO has shape {sky.shape}, expected (2, ny, nx)")
    _grid_shape(r)
    x = r.data("SPX_SKYCOO", channel=0)
    y = r.data("SPX_SKYCOO", channel=1)
    if not (np.isfinite(x) & np.isfinite(y)).any():
        _fail(path, "extension SPX_SKYCOO has no finite sky coordinates")

    ell = r.hdu("SPX_ELLCOO", required=False)
    if ell is not None and len(ell.shape) == 3:
        n = ell.shape[0]
        h = ell.header
        r_arc = r.data("SPX_ELLCOO", channel=_channel(h, "Elliptical radius", 0))
        r_re = r.data("SPX_ELLCOO", channel=_channel(h, "R/Re", 1)) if n >= 3 else \
            np.full(r.shape, np.nan)
        theta = r.data("SPX_ELLCOO", channel=_channel(h, "Elliptical azimuth", n - 1))
    else:
        r_arc = np.hypot(x, y)
        r_re = np.full(r.shape, np.nan)
        theta = np.mod(np.degrees(np.arctan2(x, y)), 360.0)

    mflux = r.data("SPX_MFLUX", required=False)
    if mflux is None:
        mflux = r.data("BIN_MFLUX", required=False)
    snr = r.data("SPX_SNR", required=False)
    stellar = _stellar(r, x, y, mflux)
    why = [None]
    gas = _gas(r, x, y, why)
    missing = {"gas": why[0] or "no EMLINE_GVEL extension (no emission-line maps)"} \
        if gas is None else {}

    prim = hdul[0].header
    header = {k: prim[k] for k in _HEADER_KEYS if k in prim}
    if "DAPVER" not in header and "VERSDAP" in header:
        header["DAPVER"] = header["VERSDAP"]
    m = _MAPS_NAME.search(path.name)
    plateifu = str(header.get("PLATEIFU") or (f"{m.group(1)}-{m.group(2)}" if m else ""))
    daptype = str(header.get("DAPTYPE") or (m.group(3) if m else ""))
    ecooell = float(header.get("ECOOELL", np.nan))
    reff = float(header.get("REFF", np.nan))
    if not reff > 0:
        reff = float("nan")
    if np.all(~np.isfinite(r_re)) and np.isfinite(reff):
        r_re = r_arc / reff
    return MapsData(plateifu=plateifu, path=str(path), daptype=daptype, stellar=stellar,
                    gas=gas, r_arcsec=r_arc, r_re=r_re, theta=theta,
                    ell_ba=1.0 - ecooell, ell_pa=float(header.get("ECOOPA", np.nan)),
                    reff=reff, snr=snr, header=header, missing=missing)


def read_maps(path) -> MapsData:
    """Read one DAP MAPS file (``.fits`` or ``.fits.gz``).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    MapsData
        Stellar field (``STELLAR_VEL``/``SIGMA``/``SIGMACORR``, ``SPX_MFLUX`` as flux, the
        stellar-continuum ``BINID`` channel), Hα gas field (``EMLINE_GVEL``/``GSIGMA``/
        ``INSTSIGMA``/``GFLUX``, channel ``Ha-6564`` found by name, the emission-line-model
        ``BINID`` channel) or None when the file has no ``EMLINE_GVEL``, ``SPX_ELLCOO``
        coordinates, ``SPX_SNR`` and selected primary-header keywords.

    Raises
    ------
    MapsFormatError
        Missing, empty, truncated or non-FITS file; a FITS file that is not a MAPS file
        (missing ``STELLAR_VEL``, ``STELLAR_VEL_MASK`` or ``SPX_SKYCOO``); maps of the
        wrong shape; a velocity ``BUNIT`` that is not km/s, m/s or cm/s; ``SPX_SKYCOO``
        without a finite coordinate.  An ``EMLINE_GVEL`` without an ``Ha-6564`` channel is
        not an error: the gas field is None and ``missing['gas']`` says why.
    """
    path = Path(path)
    if not path.exists():
        _fail(path, "no such file")
    if path.is_dir():
        _fail(path, "is a directory, not a MAPS file")
    try:
        if path.stat().st_size == 0:
            _fail(path, "empty file, not a FITS file")
        with FitsFile(path) as ff:
            maps = _read(path, ff)
            ff.check_scanned()
            return maps
    except MapsFormatError:
        raise
    except Truncated as exc:
        _fail(path, f"truncated file: {exc}")
    except FitsError as exc:
        _fail(path, str(exc))
    except OSError as exc:
        _fail(path, f"cannot be read ({exc.strerror or exc})")
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _fail(path, f"corrupt MAPS file ({text})")
