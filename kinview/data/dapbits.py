"""The MaNGA DAP ``DAPPIXMASK`` bits used in the ``*_MASK`` extensions of a MAPS file.

The bit numbers are those of DAP 2.2.1 (DR15) and 3.1.0 (DR17), which agree: bits 0–10 plus
``DONOTUSE`` = bit 30.  A map value should not be used for science when any bit of
:data:`DONOTUSE_SET` is set in its mask (``DONOTUSE`` alone is what the DAP recommends; the
others are listed so files written by other tools that forget ``DONOTUSE`` are still masked).

Examples
--------
>>> decode(bit_value("NOCOV") | bit_value("DONOTUSE"))
['NOCOV', 'DONOTUSE']
>>> int(default_donotuse_mask()) & bit_value("DONOTUSE") != 0
True
"""
from __future__ import annotations

from typing import Dict, Iterable, List

import numpy as np

#: Bit number -> (name, what it means), in the DAP's words paraphrased.
DAPPIXMASK_BITS: Dict[int, tuple] = {
    0: ("NOCOV", "no coverage in this spaxel (from the DRP)"),
    1: ("LOWCOV", "low coverage in this spaxel (from the DRP)"),
    2: ("DEADFIBER", "main contributing fibre is dead (from the DRP)"),
    3: ("FORESTAR", "foreground star (from the DRP)"),
    4: ("NOVALUE", "spaxel not analysed: did not meet the selection criteria"),
    5: ("UNRELIABLE", "value deemed unreliable"),
    6: ("MATHERROR", "mathematical error computing the value"),
    7: ("FITFAILED", "fit optimisation failed"),
    8: ("NEARBOUND", "fitted parameter at or near an imposed boundary"),
    9: ("NOCORRECTION", "no appropriate correction available"),
    10: ("MULTICOMP", "multi-component velocity features present"),
    30: ("DONOTUSE", "do not use this spaxel for science"),
}

#: Name -> bit number.
BIT_NUMBER: Dict[str, int] = {name: bit for bit, (name, _) in DAPPIXMASK_BITS.items()}

#: Flags that make a value unusable (kinview's default "do not use" set).
DONOTUSE_SET = ("NOCOV", "DEADFIBER", "FORESTAR", "NOVALUE", "UNRELIABLE", "MATHERROR",
                "FITFAILED", "DONOTUSE")


def bit_value(name: str) -> int:
    """Integer value (``1 << bit``) of one flag, e.g. ``bit_value('DONOTUSE') == 2**30``."""
    try:
        return 1 << BIT_NUMBER[name.upper()]
    except KeyError:
        raise ValueError(f"unknown DAPPIXMASK flag {name!r}; known: "
                         f"{', '.join(BIT_NUMBER)}") from None


def mask_value(names: Iterable[str]) -> int:
    """OR of the values of several flags."""
    value = 0
    for name in names:
        value |= bit_value(name)
    return value


def default_donotuse_mask() -> int:
    """The bit mask of :data:`DONOTUSE_SET` (spaxels with any of these bits are masked)."""
    return mask_value(DONOTUSE_SET)


def decode(bits) -> List[str]:
    """Names of the flags set in one mask value, lowest bit first.

    Unknown bits are reported as ``'BIT<n>'`` so nothing is hidden from the user.
    """
    value = int(bits)
    if value < 0:  # int32 with bit 31 set
        value &= 0xFFFFFFFF
    names = []
    bit = 0
    while value:
        if value & 1:
            names.append(DAPPIXMASK_BITS.get(bit, (f"BIT{bit}",))[0])
        value >>= 1
        bit += 1
    return names


def is_masked(maskbits: np.ndarray, flags: Iterable[str] = DONOTUSE_SET) -> np.ndarray:
    """Boolean array: True where any of ``flags`` is set in ``maskbits``."""
    return (np.asarray(maskbits).astype(np.int64) & mask_value(flags)) != 0
