"""Colour cutouts (SDSS ImgCutout style JPEG/PNG) as uint8 RGB arrays.

Images are displayed North up, East left (SPEC §1); the array row 0 is the *top* (North) edge,
as in the file, so show them with ``origin='upper'``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kinview.errors import KinviewError


class ImageFormatError(KinviewError):
    """A colour cutout cannot be read (missing, empty, truncated, too large or not an image)."""


#: Images with more pixels than this are refused before they are decoded (a 20000×20000
#: PNG would take 1.2 GB): an SDSS cutout is well under a megapixel.
MAX_PIXELS = 40_000_000
#: Larger images are downsampled (by an integer factor) so that neither side exceeds this:
#: every view and model of kinview uses far fewer pixels.
MAX_SIDE = 2048


def load_image(path, max_side: int = MAX_SIDE) -> np.ndarray:
    """Read a JPEG/PNG colour image, downsampled when a side exceeds ``max_side``.

    Parameters
    ----------
    path : str or Path
    max_side : int
        Images whose width or height is larger are reduced by the smallest integer factor
        that brings both sides to at most ``max_side`` (box filter; JPEGs are decoded at
        the reduced scale directly).

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
        RGB; greyscale images are repeated into three channels, alpha is dropped.

    Raises
    ------
    ImageFormatError
        One line naming the file: missing, empty, truncated, more than :data:`MAX_PIXELS`
        pixels, or not an image.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageFormatError(f"{path}: no such image file")
    try:
        if path.stat().st_size == 0:
            raise ImageFormatError(f"{path}: empty file, not an image")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise ImageFormatError(f"{path}: image of {w}x{h} pixels is larger than "
                                           f"kinview reads ({MAX_PIXELS // 1_000_000} megapixels)")
                factor = -(-max(w, h) // max_side) if max(w, h) > max_side else 1
                if factor > 1 and im.format == "JPEG":
                    im.draft("RGB", (max(1, w // factor), max(1, h // factor)))
                im.load()
                rgb = im.convert("RGB")
                if factor > 1:
                    f = -(-max(rgb.size) // max_side)
                    if f > 1:
                        rgb = rgb.reduce(f)
                return np.asarray(rgb, dtype=np.uint8).copy()
    except ImageFormatError:
        raise
    except Image.DecompressionBombError:
        raise ImageFormatError(f"{path}: image is larger than kinview reads "
                               f"({MAX_PIXELS // 1_000_000} megapixels)") from None
    except UnidentifiedImageError:
        raise ImageFormatError(f"{path}: not a JPEG or PNG image") from None
    except (OSError, SyntaxError, ValueError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageFormatError(f"{path}: unreadable or truncated image ({text})") from None


def save_jpeg(path, rgb: np.ndarray, quality: int = 90) -> Path:
    """Write an (H, W, 3) uint8 array as a JPEG (atomically: temp file, then rename)."""
    import os

    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(
            tmp, format="JPEG", quality=quality)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
