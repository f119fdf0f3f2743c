"""SkyServer ImgCutout client against a real HTTP server on 127.0.0.1 (no mocks)."""
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table
from PIL import Image

from kinview.cli.main import main as cli_main
from kinview.data.fetch_images import fetch_images, is_complete_image
from kinview.data.survey import Survey
from kinview.errors import Cancelled, KinviewError
from kinview.progress import TaskState

TEMPLATE = "/cutout?ra={ra}&dec={dec}&scale={scale}&width={width}&height={height}"


def _jpeg(width, height, ra):
    shade = int(ra * 7) % 256
    img = Image.new("RGB", (width, height), (shade, 255 - shade, 128))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


class CutoutServer(ThreadingHTTPServer):
    """Serves generated JPEGs for ?ra&dec&scale&width&height, with scripted failures."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests = []           # parsed query dicts, in arrival order
        self.active = 0
        self.max_active = 0
        self.fail_first = 0          # answer the first k requests with 503
        self.not_found_ra = set()    # ra strings answered with 404
        self.delay = 0.0             # seconds before answering
        self.truncate_first = 0      # send half a body, then close, for the first k requests
        self.hold = None             # threading.Event: stall mid-body until set

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        with srv.lock:
            srv.requests.append(q)
            n = len(srv.requests)
            srv.active += 1
            srv.max_active = max(srv.max_active, srv.active)
        try:
            if srv.delay:
                time.sleep(srv.delay)
            if n <= srv.fail_first:
                return self._send(503, b"busy", "text/plain")
            if q.get("ra") in srv.not_found_ra:
                return self._send(404, b"no such field", "text/plain")
            body = _jpeg(int(q["width"]), int(q["height"]), float(q["ra"]))
            if n <= srv.fail_first + srv.truncate_first or srv.hold is not None:
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                if srv.hold is not None:
                    srv.hold.wait(10)
                    self.wfile.write(body[len(body) // 2:])
                    return
                self.close_connection = True
                return
            return self._send(200, body, "image/jpeg")
        finally:
            with srv.lock:
                srv.active -= 1

    def _send(self, code, body, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = CutoutServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield srv
    if srv.hold is not None:
        srv.hold.set()
    srv.shutdown()
    srv.server_close()


def _survey(root: Path, n=6) -> Survey:
    root.mkdir(parents=True, exist_ok=True)
    pifus = [f"8485-{1901 + k}" for k in range(n)] + ["9999-1901"]
    ra = list(np.round(150.0 + 0.123456789 * np.arange(n), 9)) + [np.nan]
    dec = list(np.round(-2.5 + 0.5 * np.arange(n), 9)) + [np.nan]
    Table({"plateifu": pifus, "objra": ra, "objdec": dec}).write(root / "catalogue.fits")
    return Survey.open(root)


def _images(root):
    return sorted(p.name for p in (root / "images").iterdir())


def test_fetches_every_image_with_the_right_query(server, tmp_path):
    survey = _survey(tmp_path / "s")
    state = TaskState()
    report = fetch_images(survey, server.base + TEMPLATE, size=128, scale=0.396, jobs=3,
                          state=state)
    assert report.fetched == 6 and report.no_coordinates == 1 and not report.failed
    assert state.done == state.total == 6
    g = survey.galaxies()
    for pifu, row in g.iterrows():
        if np.isnan(row["ra"]):
            assert pd.isna(row["image_path"])
            continue
        assert row["image_path"] == f"images/{pifu}.jpg"
        with Image.open(survey.image_path(pifu)) as im:
            assert im.format == "JPEG" and im.size == (128, 128)
    got = sorted((float(q["ra"]), float(q["dec"])) for q in server.requests)
    want = sorted(zip(g["ra"].dropna(), g["dec"].dropna()))
    assert np.allclose(got, want, atol=1e-7)
    assert {(q["scale"], q["width"], q["height"]) for q in server.requests} == {("0.396", "128", "128")}


def test_retries_transient_errors_then_succeeds(server, tmp_path):
    survey = _survey(tmp_path / "s", n=2)
    server.fail_first = 3          # 503 x3
    server.truncate_first = 1      # then one body cut short (connection dropped)
    report = fetch_images(survey, server.base + TEMPLATE, jobs=1, retries=5, backoff=0.01)
    assert report.fetched == 2 and not report.failed
    assert report.retries == 4 and len(server.requests) == 6
    for name in _images(tmp_path / "s"):
        assert is_complete_image(tmp_path / "s" / "images" / name, full=True)


def test_gives_up_after_the_retry_limit(server, tmp_path):
    survey = _survey(tmp_path / "s", n=1)
    server.fail_first = 100
    report = fetch_images(survey, server.base + TEMPLATE, jobs=1, retries=2, backoff=0.01)
    assert report.fetched == 0 and "gave up after 3 attempts: HTTP 503" in report.failed["8485-1901"]
    assert len(server.requests) == 3
    assert _images(tmp_path / "s") == []


def test_404_is_permanent_and_reported_not_retried(server, tmp_path):
    survey = _survey(tmp_path / "s", n=3)
    bad_ra = f"{survey.galaxies().loc['8485-1902', 'ra']:.7f}"
    server.not_found_ra.add(bad_ra)
    report = fetch_images(survey, server.base + TEMPLATE, jobs=2, retries=4, backoff=0.01)
    assert report.fetched == 2 and list(report.failed) == ["8485-1902"]
    assert report.failed["8485-1902"].startswith("HTTP 404")
    assert sum(q["ra"] == bad_ra for q in server.requests) == 1
    assert survey.image_path("8485-1902") is None


def test_concurrency_is_bounded_by_jobs(server, tmp_path):
    survey = _survey(tmp_path / "s", n=8)
    server.delay = 0.15
    report = fetch_images(survey, server.base + TEMPLATE, jobs=2)
    assert report.fetched == 8
    assert server.max_active == 2            # parallel, but never more than jobs


def test_resume_skips_existing_images(server, tmp_path):
    root = tmp_path / "s"
    survey = _survey(root, n=4)
    fetch_images(survey, server.base + TEMPLATE, plateifus=["8485-1901", "8485-1902"])
    assert len(server.requests) == 2
    # a broken leftover (no JPEG end marker) is fetched again; complete ones are not
    broken = root / "images" / "8485-1903.jpg"
    broken.write_bytes(_jpeg(64, 64, 1.0)[:200])
    server.requests.clear()
    report = fetch_images(survey, server.base + TEMPLATE)
    assert report.skipped == 2 and report.fetched == 2
    asked = {q["ra"] for q in server.requests}
    g = survey.galaxies()
    assert asked == {f"{g.loc[p, 'ra']:.7f}" for p in ("8485-1903", "8485-1904")}
    assert is_complete_image(broken, full=True)
    server.requests.clear()
    again = fetch_images(survey, server.base + TEMPLATE)
    assert again.fetched == 0 and again.skipped == 4 and server.requests == []


def test_half_written_download_never_appears_as_an_image(server, tmp_path):
    root = tmp_path / "s"
    survey = _survey(root, n=3)
    server.hold = threading.Event()      # every response stalls after half its body
    state = TaskState()
    seen = []

    def watch():
        while not state.cancelled:
            for p in (root / "images").glob("*.jpg"):
                seen.append(is_complete_image(p, full=True))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    result = {}

    def run():
        try:
            fetch_images(survey, server.base + TEMPLATE, jobs=3, retries=0, timeout=5,
                         state=state)
        except Cancelled:
            result["cancelled"] = True

    runner = threading.Thread(target=run)
    (root / "images").mkdir(exist_ok=True)
    watcher.start()
    runner.start()
    deadline = time.time() + 5
    while len(server.requests) < 3 and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    # half bodies are on the wire (partly on disk in temp files): no .jpg yet
    assert list((root / "images").glob("*.jpg")) == []
    state.cancel()
    server.hold.set()
    runner.join(10)
    watcher.join(5)
    assert result.get("cancelled")
    assert all(seen)                                        # never a partial .jpg
    leftovers = [p.name for p in (root / "images").iterdir() if not p.name.endswith(".jpg")]
    assert leftovers == []                                  # temp files cleaned up
    for p in (root / "images").glob("*.jpg"):
        assert survey.image_path(p.stem) == p               # recorded even when cancelled


def test_bad_template_and_arguments(tmp_path, server):
    survey = _survey(tmp_path / "s", n=1)
    with pytest.raises(KinviewError, match="needs \\{ra\\}"):
        fetch_images(survey, server.base + "/cutout?x={x}")
    with pytest.raises(KinviewError, match="placeholder"):
        fetch_images(survey, server.base + "/c?ra={ra}&dec={dec}&f={flux}")
    with pytest.raises(KinviewError, match="jobs"):
        fetch_images(survey, server.base + TEMPLATE, jobs=0)


def test_cli_fetch_images_uses_env_template(server, tmp_path, monkeypatch, capsys):
    root = tmp_path / "s"
    _survey(root, n=2)
    monkeypatch.setenv("KINVIEW_IMGCUTOUT_URL", server.base + TEMPLATE)
    assert cli_main(["fetch-images", "--survey", str(root), "--size", "128", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "fetched: 2" in out
    assert {q["width"] for q in server.requests} == {"128"}
    server.not_found_ra.add(f"{150.0:.7f}")
    (root / "images" / "8485-1901.jpg").unlink()
    assert cli_main(["fetch-images", "--survey", str(root)]) == 1     # a failure -> non-zero
    assert "failed: 8485-1901: HTTP 404" in capsys.readouterr().err
