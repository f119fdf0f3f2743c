"""A real HTTP server on 127.0.0.1 serving a SAS-like tree, with scripted failures.

Serves files under ``root`` at ``http://127.0.0.1:PORT/sas/<path>`` with ``Content-Length``
and HTTP ``Range`` support (206 + ``Content-Range``), as the SDSS SAS does.  Failures can be
scripted per file name: drop the connection mid-body, serve corrupt bytes, answer 503.
"""
from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

REAL_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata" / "sdss_mangadap"
REAL_MAPS = REAL_DIR / "manga-7815-3702-MAPS-HYB10-GAU-MILESHC.fits.gz"
REAL_DRPCOMPLETE = REAL_DIR / "drpcomplete_v2_7_1.fits"
DR15_MAPS_REL = ("dr15/manga/spectro/analysis/v2_4_3/2.2.1/HYB10-GAU-MILESHC/7815/3702/"
                 "manga-7815-3702-MAPS-HYB10-GAU-MILESHC.fits.gz")


class SasServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = Path(root)
        self.lock = threading.Lock()
        self.requests = []         # (path, Range header or None)
        self.drop = {}             # file name -> number of requests to cut mid-body
        self.corrupt = {}          # file name -> number of requests answered with junk
        self.busy = {}             # file name -> number of 503 answers
        self.ignore_range = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sas/"

    def count(self, name: str) -> int:
        return sum(1 for p, _ in self.requests if p.endswith(name))

    def _take(self, table: dict, name: str) -> bool:
        with self.lock:
            if table.get(name, 0) > 0:
                table[name] -= 1
                return True
        return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        path = unquote(urlparse(self.path).path)
        rng = self.headers.get("Range")
        with srv.lock:
            srv.requests.append((path, rng))
        if not path.startswith("/sas/"):
            return self._plain(404, b"not found")
        rel = path[len("/sas/"):]
        file = (srv.root / rel).resolve()
        if srv.root.resolve() not in file.parents or not file.is_file():
            return self._plain(404, b"not found")
        name = file.name
        if srv._take(srv.busy, name):
            return self._plain(503, b"busy")
        body = file.read_bytes()
        if srv._take(srv.corrupt, name):
            body = bytes((b ^ 0x5A) for b in body[:4096]) + body[4096:]
        start = 0
        if rng and not srv.ignore_range and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        part = body[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(part)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if srv._take(srv.drop, name):
            self.wfile.write(part[: len(part) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(part)

    def _plain(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start(root: Path) -> SasServer:
    srv = SasServer(root)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    return srv


def stop(srv: SasServer) -> None:
    srv.shutdown()
    srv.server_close()


def demo_maps_files(tmp: Path, n: int = 3):
    """Write a tiny demo survey; return {plateifu: MAPS path} (DR17 DAPTYPE)."""
    from kinview.demo.writer import generate_survey

    generate_survey(tmp, n=n, seed=3, jobs=1)
    out = {}
    for path in sorted(tmp.rglob("manga-*-MAPS-*.fits.gz")):
        parts = path.name.split("-")
        out[f"{parts[1]}-{parts[2]}"] = path
    return out


def build_mirror(root: Path, work: Path) -> dict:
    """A SAS-like tree under ``root``: DR15 7815-3702 (the real file when present, else a
    demo file) and DR17 demo galaxies.  Returns {'dr15': pifu, 'dr17': [pifus], 'real': bool}.
    """
    from kinview.data import sas

    demo = demo_maps_files(work)
    real = REAL_MAPS.is_file()
    target = root / DR15_MAPS_REL
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REAL_MAPS if real else next(iter(demo.values())), target)
    for pifu, path in demo.items():
        dest = root / sas.maps_path(pifu, "DR17")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    return {"dr15": "7815-3702", "dr17": sorted(demo), "real": real}
