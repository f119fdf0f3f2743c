"""How the galaxy view frames the sky (no Qt here): zoom state, physical scale bar, PSF and the
colour maps offered.

Conventions: sky offsets in arcsec, x East-positive, y North-positive; a view range is
``((x_min, x_max), (y_min, y_max))`` in those coordinates (the panels draw x inverted, East
left).  Distances use the Planck 2018 cosmology of :mod:`astropy.cosmology` (angular-diameter
distance), lengths on the sky in kpc.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Tuple

#: MaNGA's typical reconstructed PSF FWHM (arcsec; Law et al. 2015/2016 median ~2.5″), used
#: when the MAPS header gives none (``RFWHM``).
DEFAULT_PSF_FWHM_ARCSEC = 2.5

#: Colour maps offered for velocity fields: diverging, so v = v_sys is the neutral middle.
#: ``RdBu_r`` is kinview's own ColorBrewer RdBu reversed (red = receding); the others are
#: pyqtgraph's bundled colorcet diverging maps (``pyqtgraph.colormap.get``).
VELOCITY_CMAPS = ("RdBu_r", "CET-D1", "CET-D1A", "CET-D3", "CET-D9")
#: Colour maps offered for dispersion and flux (sequential, light = low except where noted).
SEQUENTIAL_CMAPS = ("YlGnBu", "viridis", "magma", "inferno", "cividis", "CET-L17")
DEFAULT_CMAPS = {"velocity": VELOCITY_CMAPS[0], "sequential": SEQUENTIAL_CMAPS[0]}

Range = Tuple[Tuple[float, float], Tuple[float, float]]

#: RGBA of masked spaxels inside the IFU footprint: a flat dark grey, distinct from every
#: colour of the offered maps.
MASKED_RGBA = (95, 95, 95, 255)


def colourise(data, lo: float, hi: float, lut, masked=None):
    """RGBA uint8 image of ``data`` through ``lut`` (256×4 uint8) between ``lo`` and ``hi``.

    NaN is transparent; ``masked`` spaxels are drawn in :data:`MASKED_RGBA`.  Plain numpy
    (tens of microseconds for a MAPS grid), so the loader threads can colour a galaxy before
    it is shown and the image item needs no rescaling.
    """
    import numpy as np

    finite = np.isfinite(data)
    t = np.where(finite, (data - lo) / (hi - lo), 0.0)
    idx = np.clip(np.rint(t * 255.0), 0, 255).astype(np.uint8)
    rgba = lut[idx]
    rgba[~finite] = 0
    if masked is not None:
        rgba[masked & ~finite] = MASKED_RGBA
    return rgba


def cmap_choices(kind: str) -> tuple:
    """Colour-map names offered for ``kind`` (``'velocity'`` or ``'sequential'``)."""
    if kind == "velocity":
        return VELOCITY_CMAPS
    if kind == "sequential":
        return SEQUENTIAL_CMAPS
    raise ValueError(f"kind must be 'velocity' or 'sequential', not {kind!r}")


def valid_cmap(kind: str, name) -> str:
    """``name`` when it is offered for ``kind``, else the default for ``kind``."""
    return name if name in cmap_choices(kind) else DEFAULT_CMAPS[kind]


@lru_cache(maxsize=4096)
def _kpc_per_arcsec(z: float) -> float:
    from astropy.cosmology import Planck18

    return float(Planck18.kpc_proper_per_arcmin(z).value) / 60.0


def kpc_per_arcsec(z) -> float:
    """Proper kpc per arcsec at redshift ``z`` (Planck 2018); NaN for a missing or
    non-positive redshift."""
    try:
        z = float(z)
    except (TypeError, ValueError):
        return float("nan")
    if not (math.isfinite(z) and z > 0):
        return float("nan")
    return _kpc_per_arcsec(round(z, 5))


def nice_length(value: float) -> float:
    """The largest 1, 2 or 5 × 10^n not above ``value`` (> 0)."""
    if not (value > 0 and math.isfinite(value)):
        return float("nan")
    exp = math.floor(math.log10(value))
    for m in (5.0, 2.0, 1.0):
        if m * 10 ** exp <= value * (1 + 1e-9):
            return m * 10 ** exp
    return 10 ** exp


def scale_bar(z, view_width_arcsec: float, fraction: float = 0.3) -> Optional[Tuple[float, float, str]]:
    """A round physical scale bar for a view ``view_width_arcsec`` wide at redshift ``z``.

    Returns ``(length_arcsec, length_kpc, label)`` with the length at most ``fraction`` of the
    width, or None when the redshift is unknown.
    """
    scale = kpc_per_arcsec(z)
    if not (math.isfinite(scale) and view_width_arcsec > 0):
        return None
    kpc = nice_length(view_width_arcsec * fraction * scale)
    if not math.isfinite(kpc):
        return None
    label = f"{kpc:g} kpc"
    return kpc / scale, kpc, label


def psf_fwhm(value) -> Tuple[float, bool]:
    """(FWHM arcsec, measured?) from a header value; the MaNGA typical value when missing."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if math.isfinite(v) and v > 0:
        return v, True
    return DEFAULT_PSF_FWHM_ARCSEC, False


def square_range(half: float) -> Range:
    """±``half`` arcsec around the centre."""
    h = float(half)
    return (-h, h), (-h, h)


@dataclass
class ZoomState:
    """The zoom shared by the linked sky panels.

    ``range`` is the last range the user chose by hand (None: the galaxy's default framing).
    With ``keep`` the range carries over to the next galaxy; otherwise each galaxy opens at its
    default framing.  ``Home`` (:meth:`reset`) forgets the hand-chosen range.
    """

    keep: bool = False
    range: Optional[Range] = None

    def user_zoomed(self, rng: Range) -> None:
        """Record a range the user set by zooming or panning."""
        (x0, x1), (y0, y1) = rng
        self.range = ((float(min(x0, x1)), float(max(x0, x1))),
                      (float(min(y0, y1)), float(max(y0, y1))))

    def reset(self) -> None:
        self.range = None

    def next_galaxy(self) -> None:
        """A new galaxy is shown: forget the hand-set range unless it is kept."""
        if not self.keep:
            self.range = None

    def range_for(self, default: Range) -> Range:
        """The range to show: the kept hand-set one, else ``default``."""
        return self.range if self.range is not None else default
