"""Download MaNGA DAP MAPS files and the drpall/DAPall catalogues from the SDSS SAS.

Files land under the survey directory at the same relative path they have on the SAS (paths
from sdss-access, see :mod:`kinview.data.sas`), e.g. ``SURVEY/dr15/manga/spectro/analysis/
v2_4_3/2.2.1/HYB10-GAU-MILESHC/7815/3702/manga-7815-3702-MAPS-HYB10-GAU-MILESHC.fits.gz``;
``kinview ingest`` finds them at any depth.

The transfer machinery is shared with the image client (:mod:`kinview.data.downloads`): one
:class:`requests.Session` per worker thread, ``jobs`` concurrent downloads, retries with
exponential back-off on connection errors, timeouts, 5xx and 429, interruptible by the
:class:`~kinview.progress.TaskState`.  On top of it, for large files:

- **Resume**: the body goes to a hidden ``.<name>.part`` file beside the target; after a
  dropped connection (or Ctrl-C) the next attempt, or the next run, asks for the rest with an
  HTTP ``Range`` request and appends it (a server that ignores ``Range`` sends it all again).
- **Verified, atomic**: a file becomes visible only after its size equals the server's
  ``Content-Length`` (or ``Content-Range`` total) and its content checks out (gzip stream
  complete with a good CRC, FITS header first, FITS length a multiple of 2880 bytes); then
  it is moved into place with :func:`os.replace`.  A partial or corrupt download is never
  taken for a MAPS file.
- **Cache**: a target that exists is complete by construction and is not fetched again.
- A host that cannot be reached at all stops the run at the first failure with one line
  (``cannot reach data.sdss.org: name resolution failed``).
"""
from __future__ import annotations

import gzip
import os
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from kinview.data import net_errors, sas
from kinview.data.catalogue import find_catalogue, read_catalogue
from kinview.data.downloads import CANCELLED, Downloader, Permanent, Transient, download_all, retry_after
from kinview.data.survey import Survey
from kinview.errors import Cancelled, KinviewError
from kinview.progress import NULL_STATE, TaskState

FITS_BLOCK = 2880
CHUNK = 256 * 1024


@dataclass
class SasFetchReport:
    """What a SAS download run did.

    Attributes
    ----------
    requested, fetched, skipped : int
        Files asked for, downloaded now, already present (not downloaded again).
    failed : dict key -> reason
        Permanent failures (e.g. ``HTTP 404``: not on the server) or retries exhausted.
    bytes : int
        Bytes received in this run (resumed parts count only what was new).
    retries : int
    cancelled : bool
    seconds : float
    paths : dict key -> path relative to the survey root (fetched and skipped files)
    """

    requested: int = 0
    fetched: int = 0
    skipped: int = 0
    failed: Dict[str, str] = field(default_factory=dict)
    bytes: int = 0
    retries: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    paths: Dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["n_failed"] = len(self.failed)
        return d


def check_fits_file(path: Union[str, Path]) -> Optional[str]:
    """None when ``path`` is a complete FITS file (optionally gzipped), else the reason.

    A ``.gz`` file is decompressed in full (gzip checks its CRC-32 and length); the FITS
    content must start with ``SIMPLE  =`` and be a whole number of 2880-byte blocks.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
        if magic == b"\x1f\x8b":
            n = 0
            head = b""
            with gzip.open(path, "rb") as gz:
                while True:
                    block = gz.read(1 << 20)
                    if not block:
                        break
                    if n == 0:
                        head = block[:9]
                    n += len(block)
        else:
            n = path.stat().st_size
            with open(path, "rb") as fh:
                head = fh.read(9)
    except (OSError, EOFError, zlib.error) as exc:
        return f"corrupt download ({type(exc).__name__}: {' '.join(str(exc).split())})"
    if head != b"SIMPLE  =":
        return "corrupt download (not a FITS file)"
    if n % FITS_BLOCK:
        return f"corrupt download (FITS length {n} is not a multiple of 2880)"
    return None


class _SasDownloader(Downloader):
    """The shared downloader with Range resume (a fixed ``.<name>.part`` kept across
    attempts and runs) and FITS verification."""

    def _download(self, url: str, target: Path) -> None:
        import requests

        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.part")
        have = part.stat().st_size if part.exists() else 0
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with self.session().get(url, stream=True, timeout=self.timeout,
                                    headers=headers) as r:
                status = r.status_code
                if status == 416 and have:
                    part.unlink()  # our part is not a prefix of this file: start again
                    raise Transient("HTTP 416 (restarting the download)")
                if status == 429 or 500 <= status < 600:
                    raise Transient(f"HTTP {status}", retry_after(r.headers))
                if status == 404:
                    raise Permanent("not on the server (HTTP 404)")
                if status >= 400:
                    raise Permanent(f"HTTP {status} {r.reason or ''}".strip())
                if status == 206:
                    start, total = _content_range(r.headers.get("Content-Range", ""))
                    if start != have:
                        part.unlink()
                        raise Transient("server resumed at the wrong byte; restarting")
                    mode = "ab"
                elif status == 200:
                    total = _int(r.headers.get("Content-Length"))
                    have, mode = 0, "wb"
                else:
                    raise Transient(f"HTTP {status}")
                self.write_body(r.raw.stream(CHUNK, decode_content=False), part, mode)
        except requests.RequestException as exc:
            raise Transient(net_errors.describe(exc, url)) from None
        except OSError as exc:
            if isinstance(exc, (ConnectionError, TimeoutError)) or "urllib3" in type(
                    exc).__module__:
                raise Transient(net_errors.describe(exc, url)) from None
            raise
        except Exception as exc:  # urllib3 ProtocolError / ReadTimeoutError from raw.stream
            if "urllib3" in type(exc).__module__ or "http.client" in type(exc).__module__:
                raise Transient(net_errors.describe(exc, url)) from None
            raise
        size = part.stat().st_size
        if total is not None and size != total:
            raise Transient(f"{net_errors.host_of(url)}: connection dropped mid-transfer "
                             f"({size} of {total} bytes; will resume)")
        problem = check_fits_file(part)
        if problem:
            part.unlink()
            raise Transient(problem)
        os.replace(part, target)


def _int(value) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _content_range(value: str) -> Tuple[Optional[int], Optional[int]]:
    """``bytes 100-199/1000`` -> (100, 1000); unknown parts are None."""
    try:
        unit, _, rest = value.partition(" ")
        span, _, total = rest.partition("/")
        start = int(span.split("-")[0])
        return start, (None if total.strip() == "*" else int(total))
    except (ValueError, IndexError):
        return None, None


def _run(root: Path, items: List[Tuple[str, str, str]], base: str, jobs: int, retries: int,
         backoff: float, timeout: float, overwrite: bool, state: TaskState
         ) -> SasFetchReport:
    """Download ``items`` = [(key, SAS-relative path, what)] under ``root``."""
    if jobs < 1:
        raise KinviewError(f"jobs must be at least 1, not {jobs}")
    if retries < 0:
        raise KinviewError(f"retries must be 0 or more, not {retries}")
    t0 = time.perf_counter()
    report = SasFetchReport(requested=len(items))
    todo = []
    for key, rel, _what in items:
        target = root / rel
        if target.is_file() and not overwrite:
            report.skipped += 1
            report.paths[key] = rel
            continue
        todo.append((key, rel, base + rel, target))
    state.set_total(len(todo))
    state.set_status(f"{len(todo)} files to fetch, {report.skipped} already here")
    rel_of = {key: rel for key, rel, _url, _target in todo}

    def on_result(key: str, error: Optional[str]) -> None:
        if error is None:
            report.fetched += 1
            report.paths[key] = rel_of[key]
        elif error != CANCELLED:
            report.failed[key] = error

    loader = _SasDownloader(retries, backoff, timeout, state, threading.Event())
    try:
        report.cancelled = download_all(loader, [(key, url, target) for key, _rel, url, target in todo],
                                        jobs, state, on_result, "kinview-sas")
    finally:
        report.retries = loader.n_retries
        report.bytes = loader.n_bytes
        report.seconds = round(time.perf_counter() - t0, 3)
    if report.cancelled:
        raise Cancelled()
    state.set_status(f"fetched {report.fetched}, skipped {report.skipped}, "
                     f"failed {len(report.failed)}")
    return report


def catalogue_plateifus(survey_dir: Union[str, Path]) -> List[str]:
    """Plate-IFUs of the survey's catalogue (drpall, DRPComplete, catalogue.csv ...)."""
    path = find_catalogue(survey_dir)
    if path is None:
        raise KinviewError(f"{survey_dir}: no catalogue to take plate-IFUs from (run "
                           "kinview fetch-catalogue first, or give --plateifu)")
    return [p for p in read_catalogue(path)["plateifu"] if sas.PLATEIFU_RE.match(p)]


def fetch_maps(survey_dir: Union[str, Path], plateifus: Sequence[str],
               release: str = sas.DEFAULT_RELEASE, daptype: Optional[str] = None,
               base_url: Optional[str] = None, jobs: int = 4, retries: int = 4,
               backoff: float = 0.5, timeout: float = 60.0, overwrite: bool = False,
               ingest: bool = True, state: TaskState = NULL_STATE) -> SasFetchReport:
    """Download the DAP MAPS files of some galaxies into a survey directory (SAS layout).

    Parameters
    ----------
    survey_dir : path-like
        Created if needed.
    plateifus : sequence of str
        Plate-IFUs such as ``7815-3702`` (checked before anything is downloaded).
    release : str
        ``DR17`` (default) or ``DR15``.
    daptype : str, optional
        A DAPTYPE published in that release; default DR17 ``HYB10-MILESHC-MASTARSSP``, DR15
        ``HYB10-GAU-MILESHC``.
    base_url : str, optional
        SAS root (default ``$KINVIEW_SAS_URL`` or ``https://data.sdss.org/sas/``).
    jobs, retries, backoff, timeout
        Concurrent downloads; retries per file on transient failures; first back-off (s,
        doubled each retry); seconds per request.
    overwrite : bool
        Download again files that are already there.
    ingest : bool
        Index the survey afterwards (:meth:`kinview.data.survey.Survey.ingest`).
    state : TaskState
        One step per file to fetch; cancellation keeps the partial file for resuming.

    Returns
    -------
    SasFetchReport
        Keys are plate-IFUs.

    Raises
    ------
    KinviewError
        Bad plate-IFU, release or DAPTYPE (nothing touched), or the SAS cannot be reached.
    Cancelled
    """
    rel = sas.release(release)
    daptype = sas.check_daptype(rel, daptype or rel.default_daptype)
    base = sas.base_url(base_url or "")
    wanted = list(dict.fromkeys(str(p).strip() for p in plateifus))
    if not wanted:
        raise KinviewError("no plate-IFUs to fetch")
    items = [(p, sas.maps_path(p, rel.name, daptype), "MAPS") for p in wanted]
    root = _survey_root(survey_dir)
    report = _run(root, items, base, jobs, retries, backoff, timeout, overwrite, state)
    if ingest and report.paths:
        _ingest(root)
    return report


def fetch_catalogue(survey_dir: Union[str, Path], release: str = sas.DEFAULT_RELEASE,
                    base_url: Optional[str] = None, dapall: bool = True, jobs: int = 2,
                    retries: int = 4, backoff: float = 0.5, timeout: float = 120.0,
                    overwrite: bool = False, ingest: bool = True,
                    state: TaskState = NULL_STATE) -> SasFetchReport:
    """Download ``drpall`` (and ``dapall``) of a release into the survey's SAS tree.

    Keys of the report are ``drpall`` and ``dapall``.  ``kinview ingest`` reads the drpall
    as the survey's catalogue and joins the DAPall on plate-IFU and DAPTYPE.  The DR17 DAPall
    is large (hundreds of MB); ``dapall=False`` skips it.  Other arguments as
    :func:`fetch_maps`.
    """
    rel = sas.release(release)
    base = sas.base_url(base_url or "")
    paths = sas.catalogue_paths(rel.name)
    items = [("drpall", paths["drpall"], "drpall")]
    if dapall:
        items.append(("dapall", paths["dapall"], "dapall"))
    root = _survey_root(survey_dir)
    report = _run(root, items, base, jobs, retries, backoff, timeout, overwrite, state)
    if ingest and "drpall" in report.paths:
        _ingest(root)
    return report


def _survey_root(survey_dir) -> Path:
    root = Path(survey_dir).expanduser()
    if root.exists() and not root.is_dir():
        raise KinviewError(f"{root}: not a directory")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _ingest(root: Path) -> None:
    survey = Survey.open(root, ingest=False)
    try:
        survey.ingest()
    finally:
        survey.close()
