"""Colour cutouts (SDSS ImgCutout style JPEG/PNG) as uint8 RGB arrays.

Images are displayed North up, East left (SPEC §1); the array row 0 is the *top* (North) edge,
as in the file, so show them with ``origin='upper'``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kinview.errors import KinviewError


class ImageFormatError(KinviewError):
    """A colour cutout cannot be read (missing, empty, truncated or not an image)."""


def load_image(path) -> np.ndarray:
    """Read a JPEG/PNG colour image.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
        RGB; greyscale images are repeated into three channels, alpha is dropped.

    Raises
    ------
    ImageFormatError
        One line naming the file: missing, empty, truncated or not an image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageFormatError(f"{path}: no such image file")
    try:
        if path.stat().st_size == 0:
            raise ImageFormatError(f"{path}: empty file, not an image")
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
            return np.asarray(rgb, dtype=np.uint8).copy()
    except ImageFormatError:
        raise
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
