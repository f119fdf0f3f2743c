"""Conventions shared by every part of kinview (SPEC §1).

Position angle (PA)
    Degrees in [0, 360), measured from North through East (counter-clockwise on the sky as
    displayed North up, East left) to the **receding** (redshifted) side of the velocity field.
    ``pafit.fit_kinematic_pa`` returns an angle in [0, 180) along the line of largest |v| and
    measures it counter-clockwise from +y in the (x, y) it is given; kinview feeds it
    ``x_west = -x_east`` so its angle is North-through-East, then picks the receding side.
ΔPA (kinematic misalignment)
    Smallest angle between the stellar and gas PA, in [0, 180] degrees.
Sky offsets
    ``SPX_SKYCOO`` gives x = (α−α₀)cos δ₀ (East positive) and y = δ−δ₀ (North positive), in
    arcsec, on 0.5″ spaxels.  Maps and images are displayed North up, East left.
Label vocabularies
    Quality 0/1/2, feature 0–3 and gas notes 0–3 as in Duckworth et al. (2020); −99 marks a
    missing value in exported catalogues.
"""
from __future__ import annotations

import numpy as np

#: Value used for a missing flag in exported catalogues (as in the MPL-7 catalogue).
MISSING = -99

#: Quality of one velocity field.
QUALITY = {0: "do not use", 1: "messy", 2: "clean"}
#: Kinematic feature of one velocity field.
FEATURE = {0: "none", 1: "kinematically decoupled core", 2: "warp", 3: "merger/neighbour"}
#: Notes on the gas field when stars are usable and gas is not.
GAS_NOTES = {0: "none", 1: "depletion", 2: "no clear rotation", 3: "rotation but biased"}

#: Which map a label refers to.  ``galaxy`` is for galaxy-wide notes.
FIELDS = ("stellar", "gas", "galaxy")
#: What a label says.  ``pa_override`` stores a PA in degrees set by hand.
KINDS = ("quality", "feature", "gas_note", "note", "pa_override")
#: Allowed values per categorical kind.
VOCABULARIES = {"quality": QUALITY, "feature": FEATURE, "gas_note": GAS_NOTES}

#: ΔPA at or above which a galaxy counts as kinematically misaligned (degrees).
MISALIGNED_DEG = 30.0
#: ΔPA at or above which the gas counter-rotates (degrees).
COUNTER_ROTATING_DEG = 150.0

#: MaNGA spaxel size (arcsec).
SPAXEL_ARCSEC = 0.5
#: MaNGA IFU bundle sizes (fibres) and their approximate on-sky diameters (arcsec).
IFU_DIAMETER_ARCSEC = {19: 12.5, 37: 17.5, 61: 22.5, 91: 27.5, 127: 32.5}

#: Default colour-cutout geometry (SDSS ImgCutout style, North up, East left).
IMAGE_SIZE_PX = 256
IMAGE_SCALE_ARCSEC = 0.25


def normalize_pa(pa):
    """Wrap angles (degrees) into [0, 360).  NaN stays NaN."""
    return np.mod(pa, 360.0)


def delta_pa(pa1, pa2):
    """Kinematic misalignment ΔPA in [0, 180] degrees between two receding-side PAs.

    Examples
    --------
    >>> float(delta_pa(350.0, 10.0))
    20.0
    >>> float(delta_pa(0.0, 180.0))
    180.0
    """
    d = np.abs(np.mod(np.asarray(pa1, float) - np.asarray(pa2, float), 360.0))
    return np.minimum(d, 360.0 - d)


def is_misaligned(dpa) -> bool:
    """True when ΔPA ≥ 30° (:data:`MISALIGNED_DEG`)."""
    return bool(np.asarray(dpa) >= MISALIGNED_DEG)


def is_counter_rotating(dpa) -> bool:
    """True when ΔPA ≥ 150° (:data:`COUNTER_ROTATING_DEG`)."""
    return bool(np.asarray(dpa) >= COUNTER_ROTATING_DEG)


def usable(quality):
    """The seeds' binary target: quality 1 or 2 → 1, quality 0 → 0 (NaN/None stays None)."""
    if quality is None:
        return None
    q = int(quality)
    if q not in QUALITY:
        raise ValueError(f"quality must be 0, 1 or 2, not {quality!r}")
    return int(q >= 1)


def parse_plateifu(text: str) -> tuple[int, int]:
    """Split ``"8485-1901"`` into ``(8485, 1901)``; raise ValueError otherwise."""
    plate, _, ifu = str(text).strip().partition("-")
    if not plate.isdigit() or not ifu.isdigit():
        raise ValueError(f"not a plate-ifu: {text!r}")
    return int(plate), int(ifu)
