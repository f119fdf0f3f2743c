"""Download SDSS colour cutouts (SkyServer ImgCutout) for the galaxies of a survey.

One JPEG per catalogue row with coordinates, ``SURVEY/images/<plateifu>.jpg``, centred on
(``objra``, ``objdec``), North up and East left as SkyServer draws them; ``size`` × ``size``
pixels at ``scale`` arcsec per pixel (defaults 256 px at 0.25″/px, the spin seed's cutouts;
the photo-z seed uses 128 px).

Robustness
----------
- **Atomic**: the body is streamed to a hidden temporary file in ``images/``, checked to be a
  complete JPEG (decoded with Pillow), and moved into place with :func:`os.replace`.  An
  interrupted download (Ctrl-C, kill, network error) never leaves a partial ``.jpg``.
- **Resumable**: the images folder is the cache; an existing, complete image is not fetched
  again (``overwrite=True`` to force).
- **Retries** with exponential back-off (``backoff * 2**attempt`` seconds, or the server's
  ``Retry-After``) on connection errors, timeouts, HTTP 5xx and 429, and bodies that are not
  a JPEG.  Any other 4xx is permanent: recorded in the report and not retried.
- **Bounded concurrency**: ``jobs`` worker threads, one :class:`requests.Session` each.
- Retries, workers and progress are the shared machinery of :mod:`kinview.data.downloads`.
- Progress and cancellation through :class:`~kinview.progress.TaskState`; after the run the
  ``image_path`` column of the survey's ``galaxies`` table is updated (also when cancelled).
"""
from __future__ import annotations

import math
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from kinview.conventions import IMAGE_SCALE_ARCSEC, IMAGE_SIZE_PX
from kinview.data import net_errors
from kinview.data.downloads import CANCELLED, Downloader, Permanent, Transient, download_all, retry_after
from kinview.data.survey import Survey
from kinview.errors import Cancelled, KinviewError
from kinview.progress import NULL_STATE, TaskState

#: SkyServer DR17 ImgCutout (JPEG).  Placeholders: {ra} {dec} (degrees), {scale}
#: (arcsec/pixel), {width} {height} (pixels); {size} and {plateifu} are also available.
DEFAULT_DR17_TEMPLATE = ("https://skyserver.sdss.org/dr17/SkyServerWS/ImgCutout/getjpeg"
                         "?ra={ra}&dec={dec}&scale={scale}&width={width}&height={height}")
#: Environment variable overriding the URL template.
URL_ENV = "KINVIEW_IMGCUTOUT_URL"
IMAGES_DIR = "images"


@dataclass
class FetchReport:
    """What :func:`fetch_images` did.

    Attributes
    ----------
    requested : int
        Galaxies with coordinates considered.
    fetched : int
        Images downloaded in this run.
    skipped : int
        Images already present and complete (not downloaded again).
    no_coordinates : int
        Catalogue rows without finite ra/dec (nothing to fetch).
    failed : dict plateifu -> reason
        Permanent failures (HTTP 4xx other than 429, or retries exhausted).
    retries : int
        Requests that were retried.
    cancelled : bool
    seconds : float
    """

    requested: int = 0
    fetched: int = 0
    skipped: int = 0
    no_coordinates: int = 0
    failed: Dict[str, str] = field(default_factory=dict)
    retries: int = 0
    cancelled: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["n_failed"] = len(self.failed)
        return d


def image_url(template: str, ra: float, dec: float, size: int = IMAGE_SIZE_PX,
              scale: float = IMAGE_SCALE_ARCSEC, plateifu: str = "") -> str:
    """Fill a cutout URL template (see :data:`DEFAULT_DR17_TEMPLATE`).

    ``ra``/``dec`` are written in degrees with 7 decimals (0.0004″), ``scale`` in arcsec per
    pixel with up to 6 significant digits.
    """
    try:
        return template.format(ra=f"{ra:.7f}", dec=f"{dec:.7f}", scale=f"{scale:.6g}",
                               width=int(size), height=int(size), size=int(size),
                               plateifu=plateifu)
    except (KeyError, IndexError, ValueError) as exc:
        raise KinviewError(f"bad image URL template {template!r}: unknown or malformed "
                           f"placeholder {exc}") from None


def check_template(template: str) -> None:
    """Raise KinviewError unless ``template`` is an http(s) URL with {ra} and {dec}."""
    if not isinstance(template, str) or not template.startswith(("http://", "https://")):
        raise KinviewError(f"bad image URL template {template!r}: must start with http:// "
                           "or https://")
    if "{ra}" not in template or "{dec}" not in template:
        raise KinviewError(f"bad image URL template {template!r}: needs {{ra}} and {{dec}}")
    image_url(template, 0.0, 0.0)


def is_complete_image(path: Union[str, Path], full: bool = False) -> bool:
    """True when ``path`` is a complete JPEG (SOI … EOI) or a readable PNG.

    The default check is cheap (file ends: resuming 10,000 images takes well under a second);
    ``full=True`` decodes it with Pillow.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size < 4:
            return False
        with open(path, "rb") as fh:
            head = fh.read(8)
            fh.seek(-2, os.SEEK_END)
            tail = fh.read(2)
    except OSError:
        return False
    is_jpeg = head[:3] == b"\xff\xd8\xff"
    is_png = head == b"\x89PNG\r\n\x1a\n"
    if not (is_jpeg or is_png):
        return False
    if is_jpeg and tail != b"\xff\xd9" and not full:
        return False
    if full or is_png:
        return _decodes(path)
    return True


def _decodes(path: Path, expect_jpeg: bool = False) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            if expect_jpeg and im.format != "JPEG":
                return False
            im.load()
            return im.size[0] > 0 and im.size[1] > 0
    except Exception:  # noqa: BLE001 - any decoder failure means "not a complete image"
        return False


def _existing_image(images_dir: Path, pifu: str) -> Optional[str]:
    for ext in (".jpg", ".jpeg", ".png"):
        path = images_dir / f"{pifu}{ext}"
        if path.exists() and is_complete_image(path):
            return f"{IMAGES_DIR}/{path.name}"
    return None


def _safe_name(pifu: str) -> bool:
    return bool(pifu) and "/" not in pifu and "\\" not in pifu and pifu not in (".", "..") \
        and not pifu.startswith(".")


class _ImageDownloader(Downloader):
    """One cutout per attempt: streamed to a hidden temporary file beside the target (a name of
    its own, removed whatever happens), decoded as a JPEG, then moved into place."""

    def _download(self, url: str, target: Path) -> None:
        import requests

        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            try:
                with self.session().get(url, stream=True, timeout=self.timeout) as r:
                    status = r.status_code
                    if status == 429 or 500 <= status < 600:
                        raise Transient(f"HTTP {status}", retry_after(r.headers))
                    if status >= 400:
                        raise Permanent(f"HTTP {status} {r.reason or ''}".strip())
                    if status != 200:
                        raise Transient(f"HTTP {status}")
                    self.write_body(r.iter_content(chunk_size=64 * 1024), tmp)
            except requests.RequestException as exc:
                raise Transient(net_errors.describe(exc, url)) from None
            if not _decodes(tmp, expect_jpeg=True):
                raise Transient("response is not a complete JPEG image")
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                try:
                    tmp.unlink()
                except OSError:
                    pass


def fetch_images(survey, url_template: Optional[str] = None, size: int = IMAGE_SIZE_PX,
                 scale: float = IMAGE_SCALE_ARCSEC, jobs: int = 4, retries: int = 4,
                 backoff: float = 0.5, timeout: float = 30.0, overwrite: bool = False,
                 limit: Optional[int] = None, plateifus: Optional[List[str]] = None,
                 state: TaskState = NULL_STATE) -> FetchReport:
    """Download a colour cutout for every galaxy of a survey that has coordinates.

    Parameters
    ----------
    survey : Survey or path-like
        The survey (opened, and ingested if needed, when a path is given).
    url_template : str, optional
        Cutout URL with ``{ra} {dec} {scale} {width} {height}`` placeholders; default
        ``$KINVIEW_IMGCUTOUT_URL`` or :data:`DEFAULT_DR17_TEMPLATE`.
    size : int
        Width = height in pixels (256; the photo-z seed uses 128).
    scale : float
        Arcsec per pixel (0.25).
    jobs : int
        Concurrent downloads (worker threads).
    retries : int
        Retries per image after the first attempt, on transient failures.
    backoff : float
        First back-off in seconds; doubled after each retry.
    timeout : float
        Seconds per HTTP request (connect and read).
    overwrite : bool
        Download even when a complete image exists.
    limit : int, optional
        Fetch at most this many (missing) images.
    plateifus : list of str, optional
        Only these galaxies.
    state : TaskState
        Progress (one step per image to fetch) and cancellation.

    Returns
    -------
    FetchReport

    Raises
    ------
    KinviewError
        Bad template or arguments.
    Cancelled
        When ``state`` was cancelled; images fetched until then are kept and recorded.
    """
    if not isinstance(survey, Survey):
        survey = Survey.open(survey)
    template = url_template or os.environ.get(URL_ENV) or DEFAULT_DR17_TEMPLATE
    check_template(template)
    if int(size) < 1 or int(size) > 2048:
        raise KinviewError(f"image size must be 1..2048 pixels, not {size}")
    if not (scale > 0 and math.isfinite(scale)):
        raise KinviewError(f"image scale must be a positive number of arcsec/pixel, not {scale}")
    if jobs < 1:
        raise KinviewError(f"jobs must be at least 1, not {jobs}")
    if retries < 0:
        raise KinviewError(f"retries must be 0 or more, not {retries}")

    t0 = time.perf_counter()
    report = FetchReport()
    images_dir = survey.root / IMAGES_DIR
    images_dir.mkdir(exist_ok=True)
    galaxies = survey.galaxies()
    if plateifus is not None:
        missing = [p for p in plateifus if p not in galaxies.index]
        if missing:
            raise KinviewError(f"{missing[0]}: no such galaxy in survey {survey.root}")
        galaxies = galaxies.loc[list(plateifus)]

    paths: Dict[str, Optional[str]] = {}
    todo: List[Tuple[str, str]] = []
    for pifu, ra, dec in zip(galaxies.index, galaxies["ra"], galaxies["dec"]):
        if not (math.isfinite(ra) and math.isfinite(dec)):
            report.no_coordinates += 1
            continue
        report.requested += 1
        if not _safe_name(pifu):
            report.failed[pifu] = "plate-ifu is not a valid file name"
            continue
        if not overwrite:
            existing = _existing_image(images_dir, pifu)
            if existing is not None:
                report.skipped += 1
                paths[pifu] = existing
                continue
        if limit is not None and len(todo) >= limit:
            continue
        todo.append((pifu, image_url(template, ra, dec, size, scale, pifu)))

    state.set_total(len(todo))
    state.set_status(f"{len(todo)} images to fetch, {report.skipped} already here")

    def on_result(pifu: str, error: Optional[str]) -> None:
        if error is None:
            report.fetched += 1
            paths[pifu] = f"{IMAGES_DIR}/{pifu}.jpg"
        elif error != CANCELLED:
            report.failed[pifu] = error

    loader = _ImageDownloader(retries, backoff, timeout, state, threading.Event())
    try:
        report.cancelled = download_all(loader, [(p, url, images_dir / f"{p}.jpg") for p, url in todo],
                                        jobs, state, on_result, "kinview-fetch")
    finally:
        report.retries = loader.n_retries
        report.seconds = round(time.perf_counter() - t0, 3)
        if paths:
            survey.set_image_paths(paths)
    if report.cancelled:
        raise Cancelled()
    state.set_status(f"fetched {report.fetched}, skipped {report.skipped}, "
                     f"failed {len(report.failed)}")
    return report
