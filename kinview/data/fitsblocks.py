"""A small, fast reader for FITS image extensions (header cards and image data only).

kinview reads one MAPS file per keypress in a prefetch thread; astropy's general machinery
spends tens of milliseconds parsing the ~60 headers of a DAP MAPS file.  This reader walks the
2880-byte blocks, keeps each header as raw cards (parsed into a dict only when asked for), and
reads only the data of the extensions requested.  It handles plain and gzip-compressed files
(the whole file is decompressed in memory: DAP MAPS are gzipped as a whole, not tile-compressed)
and reports truncation precisely.  Anything it does not understand raises :class:`FitsError`;
callers may then fall back to astropy.
"""
from __future__ import annotations

import re
import zlib
from typing import Dict, List, Optional

import numpy as np

BLOCK = 2880
CARD = 80
_DTYPES = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


class FitsError(Exception):
    """The bytes are not FITS this reader understands (message says why)."""


class Truncated(FitsError):
    """The file ends before a header or data block it announces."""


def _value(text: str):
    """Parse the value field of a card (after ``= ``); comments are dropped."""
    text = text.strip()
    if text.startswith("'"):
        out = []
        i = 1
        while i < len(text):
            ch = text[i]
            if ch == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    out.append("'")
                    i += 2
                    continue
                break
            out.append(ch)
            i += 1
        return "".join(out).rstrip()
    text = text.split("/", 1)[0].strip()
    if text == "T":
        return True
    if text == "F":
        return False
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text.replace("D", "E"))
    except ValueError:
        return text


_CHANNEL_CARD = re.compile(rb"C(\d{1,3}) *= '((?:[^']|'')*)'")


class Header:
    """Raw header cards with dict-like access (parsed on first use)."""

    def __init__(self, raw: bytes):
        self._raw = raw
        self._cards: Optional[Dict[str, object]] = None
        self._channels: Optional[Dict[int, str]] = None

    def has_raw(self, key: bytes) -> bool:
        """Whether a card with this (8-byte-padded) keyword may be present (cheap check)."""
        return key in self._raw

    def channels(self) -> Dict[int, str]:
        """``{n: name}`` from the ``C<n>`` string cards (fast: no full header parse)."""
        if self._channels is None:
            out = {}
            raw = self._raw
            for m in _CHANNEL_CARD.finditer(raw):
                if m.start() % CARD == 0:
                    n = int(m.group(1))
                    out.setdefault(n, m.group(2).decode("ascii", "replace")
                                   .replace("''", "'").rstrip())
            self._channels = out
        return self._channels

    def _parse(self) -> Dict[str, object]:
        if self._cards is None:
            cards = {}
            raw = self._raw
            for k in range(0, len(raw), CARD):
                card = raw[k:k + CARD].decode("ascii", "replace")
                key = card[:8].strip()
                if key == "END":
                    break
                if card[8:10] != "= " or key in ("COMMENT", "HISTORY", ""):
                    continue
                cards.setdefault(key, _value(card[10:]))
            self._cards = cards
        return self._cards

    def __getitem__(self, key):
        return self._parse()[key]

    def __contains__(self, key):
        return key in self._parse()

    def get(self, key, default=None):
        return self._parse().get(key, default)

    def keys(self):
        return self._parse().keys()

    def items(self):
        return self._parse().items()


class HDU:
    """One header-data unit: ``name``, ``header``, ``shape`` (numpy order) and lazy ``data``."""

    def __init__(self, source, name, header, shape, bitpix, data_offset):
        self._source = source
        self.name = name
        self.header = header
        self.shape = shape
        self.bitpix = bitpix
        self.data_offset = data_offset
        self._data = None

    @property
    def ndim(self):
        return len(self.shape)

    def _read(self, offset, shape):
        dtype = np.dtype(_DTYPES[self.bitpix])
        count = int(np.prod(shape))
        raw = self._source.read(self.data_offset + offset, count * dtype.itemsize)
        if len(raw) < count * dtype.itemsize:
            raise Truncated(f"extension {self.name} is cut off: its data end at byte "
                            f"{self.data_offset + offset + count * dtype.itemsize}, "
                            f"the file has {self._source.size}")
        arr = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)
        arr = arr.astype(dtype.newbyteorder("="))
        if not self.header.has_raw(b"BSCALE") and not self.header.has_raw(b"BZERO "):
            return arr
        bscale = self.header.get("BSCALE", 1)
        bzero = self.header.get("BZERO", 0)
        if bscale not in (1, 1.0, None) or bzero not in (0, 0.0, None):
            arr = arr * float(bscale or 1) + float(bzero or 0)
        return arr

    @property
    def data(self) -> Optional[np.ndarray]:
        """The image as a numpy array (native byte order; BSCALE/BZERO applied)."""
        if not self.shape:
            return None
        if self._data is None:
            self._data = self._read(0, self.shape)
        return self._data

    def plane(self, k: int) -> np.ndarray:
        """Plane ``k`` (0-based, first numpy axis) of a 3-D image, reading only that plane."""
        if len(self.shape) != 3 or not 0 <= k < self.shape[0]:
            raise IndexError(f"extension {self.name} of shape {self.shape} has no plane {k}")
        if self._data is not None:
            return self._data[k]
        plane_shape = self.shape[1:]
        nbytes = abs(self.bitpix) // 8 * int(np.prod(plane_shape))
        return self._read(k * nbytes, plane_shape)


def gunzip(raw: bytes) -> bytes:
    """Decompress a (possibly multi-member) gzip stream; :class:`Truncated` if cut short."""
    parts = []
    rest = raw
    try:
        while rest:
            dec = zlib.decompressobj(wbits=31)
            parts.append(dec.decompress(rest))
            if not dec.eof:
                raise Truncated("gzip stream is truncated (it ends inside compressed data)")
            rest = dec.unused_data
            if rest and rest[:2] != b"\x1f\x8b":
                break                       # trailing padding after the last member
    except zlib.error as exc:
        raise Truncated(f"gzip stream is corrupt ({exc})") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _BytesSource:
    def __init__(self, data: bytes):
        self._data = data
        self.size = len(data)

    def read(self, offset, n):
        return self._data[offset:offset + n]


class _FileSource:
    def __init__(self, fh):
        self._fh = fh
        fh.seek(0, 2)
        self.size = fh.tell()

    def read(self, offset, n):
        self._fh.seek(offset)
        return self._fh.read(n)


class FitsFile:
    """Open a FITS file (``.fits`` or gzip) and index its HDUs lazily.

    Use as a context manager; ``ff[name]`` returns the :class:`HDU` with that ``EXTNAME``
    (``ff[0]`` the primary HDU), scanning headers only as far as needed.
    """

    def __init__(self, path):
        self.path = str(path)
        self._fh = open(path, "rb")
        magic = self._fh.read(2)
        self._fh.seek(0)
        if magic == b"\x1f\x8b":
            raw = self._fh.read()
            self._fh.close()
            self._fh = None
            self._source = _BytesSource(gunzip(raw))
        else:
            self._source = _FileSource(self._fh)
        self._hdus: List[HDU] = []
        self._next = 0          # byte offset of the next unscanned HDU
        self._done = False

    # context manager ------------------------------------------------------------------
    def close(self):
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # scanning --------------------------------------------------------------------------
    def _scan_one(self) -> Optional[HDU]:
        if self._done:
            return None
        offset = self._next
        if offset >= self._source.size:
            self._done = True
            return None
        chunks = []
        pos = offset
        end_found = False
        structural = {}
        while not end_found:
            block = self._source.read(pos, BLOCK)
            if len(block) < BLOCK:
                if not self._hdus and pos == offset:
                    raise FitsError("not a FITS file (shorter than one FITS header block)")
                raise Truncated(f"header of HDU {len(self._hdus)} is cut off at byte "
                                f"{self._source.size}")
            if not self._hdus and pos == offset and not block.startswith(b"SIMPLE  ="):
                raise FitsError("not a FITS file (it does not start with a SIMPLE card)")
            pos += BLOCK
            chunks.append(block)
            for k in range(0, BLOCK, CARD):
                key = block[k:k + 8]
                if key == b"END     ":
                    end_found = True
                    break
                if key[:5] in (b"BITPI", b"NAXIS", b"PCOUN", b"GCOUN", b"EXTNA", b"SIMPL",
                               b"XTENS"):
                    name = key.decode("ascii", "replace").strip()
                    structural[name] = _value(block[k + 10:k + CARD].decode("ascii", "replace"))
        if not self._hdus and structural.get("SIMPLE") is not True:
            raise FitsError("not a FITS file (no SIMPLE = T card)")
        if self._hdus and "XTENSION" not in structural:
            # Trailing junk after the last HDU: treat as end of file.
            self._done = True
            return None
        try:
            bitpix = int(structural["BITPIX"])
            naxis = int(structural["NAXIS"])
            dims = [int(structural[f"NAXIS{i}"]) for i in range(1, naxis + 1)]
        except (KeyError, TypeError, ValueError):
            raise FitsError(f"HDU {len(self._hdus)} has no valid BITPIX/NAXIS cards") from None
        if bitpix not in _DTYPES:
            raise FitsError(f"HDU {len(self._hdus)} has unsupported BITPIX {bitpix}")
        pcount = int(structural.get("PCOUNT", 0) or 0)
        gcount = int(structural.get("GCOUNT", 1) or 1)
        nbytes = (abs(bitpix) // 8) * (int(np.prod(dims)) if dims else 0)
        nbytes = (nbytes + pcount) * gcount if dims else 0
        padded = nbytes + (-nbytes % BLOCK)
        name = structural.get("EXTNAME") or ("PRIMARY" if not self._hdus else "")
        is_image = not self._hdus or structural.get("XTENSION") == "IMAGE"
        shape = tuple(reversed(dims)) if (is_image and dims) else ()
        hdu = HDU(self._source, str(name).strip().upper(), Header(b"".join(chunks)), shape,
                  bitpix, pos)
        hdu.nbytes = nbytes
        self._hdus.append(hdu)
        self._next = pos + padded
        return hdu

    def __getitem__(self, key) -> HDU:
        if isinstance(key, int):
            while len(self._hdus) <= key:
                if self._scan_one() is None:
                    raise KeyError(key)
            return self._hdus[key]
        want = str(key).upper()
        for hdu in self._hdus:
            if hdu.name == want:
                return hdu
        while True:
            hdu = self._scan_one()
            if hdu is None:
                raise KeyError(key)
            if hdu.name == want:
                return hdu

    def __contains__(self, key) -> bool:
        try:
            self[key]
            return True
        except KeyError:
            return False

    def check_scanned(self) -> None:
        """Raise :class:`Truncated` if the data of any HDU scanned so far run past the end,
        or the file is not a whole number of 2880-byte FITS blocks."""
        for hdu in self._hdus:
            end = hdu.data_offset + getattr(hdu, "nbytes", 0)
            if end > self._source.size:
                raise Truncated(f"extension {hdu.name} is cut off: its data end at byte "
                                f"{end}, the file has {self._source.size}")
        if self._source.size % BLOCK:
            raise Truncated(f"{self._source.size} bytes is not a whole number of 2880-byte "
                            f"FITS blocks")

    def names(self) -> List[str]:
        """All EXTNAMEs (scans the whole file)."""
        while self._scan_one() is not None:
            pass
        return [h.name for h in self._hdus]
