"""A real HTTP server on 127.0.0.1 serving a SAS-like tree, with scripted failures.

Serves files under ``root`` at ``http://127.0.0.1:PORT/sas/<path>`` with ``Content-Length``
and HTTP ``Range`` support (206 + ``Content-Range``), as the SDSS SAS does.  Failures can be
scripted per file name: drop the connection mid-body, serve corrupt bytes, answer 503.
"""
from __future__ import annotations

import shutil
import socket
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

    def __init__(self, root: Path, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.root = Path(root)
        self.lock = threading.Lock()
        self.requests = []         # (path, Range header or None)
        self.drop = {}             # file name -> number of requests to cut mid-body
        self.corrupt = {}          # file name -> number of requests answered with junk
        self.busy = {}             # file name -> number of 503 answers
        self.ignore_range = False
        self.errors = []           # exceptions raised in handlers (see handle_error)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sas/"

    def handle_error(self, request, client_address):
        """Keep a handler's exception (a client hanging up mid-answer, say) instead of printing
        it: the server shares the test's stderr, where only kinview's own output belongs."""
        import sys

        self.errors.append(repr(sys.exc_info()[1]))

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


def serve_mirror(tmp_path_factory):
    """Generator for a fixture: :func:`build_mirror` in a fresh folder, served on 127.0.0.1;
    yields its info dict plus ``server`` and ``root``, and stops the server afterwards."""
    root = tmp_path_factory.mktemp("mirror")
    info = build_mirror(root, tmp_path_factory.mktemp("demo"))
    srv = start(root)
    info["server"] = srv
    info["root"] = root
    try:
        yield info
    finally:
        stop(srv)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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


# --- catalogue fixtures written from the SDSS datamodel (real names, dtypes, HDUs) ----------
DR17_DAPTYPES = ("SPX-MILESHC-MASTARSSP", "VOR10-MILESHC-MASTARSSP", "HYB10-MILESHC-MASTARSSP",
                 "HYB10-MILESHC-MASTARHC2")


def write_drpall(path: Path, rows) -> None:
    """A drpall-v3_1_1-style file: PRIMARY, MANGA (one row per cube), MASTAR extensions.

    ``rows``: dicts with plateifu, mangaid, objra, objdec, nsa_z, th50 (arcsec), ba, phi,
    sersic_n, mass (Msun/h^2).  Types follow the datamodel: PLATE int32, IFUDSGN/PLATEIFU/
    MANGAID strings, OBJRA/OBJDEC float64, IFUDESIGNSIZE int32, NSA_* float32, 7-band
    NSA_ELPETRO_ABSMAG float32[7]; TUNITs on the NSA angles (TH50 written in arcmin here to
    check the unit conversion).
    """
    import numpy as np
    from astropy.io import fits

    n = len(rows)
    plate = np.array([int(r["plateifu"].split("-")[0]) for r in rows], dtype=np.int32)
    ifu = [r["plateifu"].split("-")[1] for r in rows]
    f32 = lambda k: np.array([r[k] for r in rows], dtype=np.float32)  # noqa: E731
    cols = [
        fits.Column("PLATE", "J", array=plate),
        fits.Column("IFUDSGN", "6A", array=np.array(ifu)),
        fits.Column("PLATEIFU", "11A", array=np.array([r["plateifu"] for r in rows])),
        fits.Column("MANGAID", "9A", array=np.array([r["mangaid"] for r in rows])),
        fits.Column("VERSDRP3", "8A", array=np.array(["v3_1_1"] * n)),
        fits.Column("OBJRA", "D", unit="deg", array=np.array([r["objra"] for r in rows])),
        fits.Column("OBJDEC", "D", unit="deg", array=np.array([r["objdec"] for r in rows])),
        fits.Column("IFUDESIGNSIZE", "J", array=np.array([int(i) // 100 for i in ifu],
                                                         dtype=np.int32)),
        fits.Column("DRP3QUAL", "J", array=np.zeros(n, dtype=np.int32)),
        fits.Column("MNGTARG1", "J", array=np.full(n, 1216, dtype=np.int32)),
        fits.Column("Z", "D", array=np.array([r["nsa_z"] for r in rows])),
        fits.Column("NSA_Z", "E", array=f32("nsa_z")),
        fits.Column("NSA_ZDIST", "E", array=f32("nsa_z")),
        fits.Column("NSA_ELPETRO_TH50_R", "E", unit="arcmin", array=f32("th50") / 60.0),
        fits.Column("NSA_ELPETRO_BA", "E", array=f32("ba")),
        fits.Column("NSA_ELPETRO_PHI", "E", unit="deg", array=f32("phi")),
        fits.Column("NSA_SERSIC_N", "E", array=f32("sersic_n")),
        fits.Column("NSA_ELPETRO_MASS", "E", unit="Msun/h^2", array=f32("mass")),
        fits.Column("NSA_ELPETRO_ABSMAG", "7E", array=np.tile(np.arange(7, dtype=np.float32)
                                                              - 20, (n, 1))),
    ]
    manga = fits.BinTableHDU.from_columns(cols, name="MANGA")
    mastar = fits.BinTableHDU.from_columns(
        [fits.Column("PLATEIFU", "11A", array=np.array(["8078-12701"])),
         fits.Column("MANGAID", "9A", array=np.array(["3-1"]))], name="MASTAR")
    fits.HDUList([fits.PrimaryHDU(), manga, mastar]).writeto(path, overwrite=True)


def write_dapall(path: Path, rows, daptypes=DR17_DAPTYPES, dr15: bool = False) -> None:
    """A DAPall file: DR17 layout (one extension per DAPTYPE) or DR15 (one DAPALL table).

    ``rows``: dicts with plateifu and, per DAPTYPE, ``sigma_1re`` (km/s).  Columns from the
    datamodel: PLATE int32, IFUDESIGN int32, PLATEIFU, MANGAID, DAPTYPE strings, DAPDONE
    bool, NSA_Z float64, STELLAR_SIGMA_1RE / HA_GSIGMA_1RE float64 (km/s), SFR_TOT float64,
    SNR_MED float64[4].
    """
    import numpy as np
    from astropy.io import fits

    def table(pairs):
        """Columns for [(row, daptype, k)]."""
        n = len(pairs)
        rs = [r for r, _, _ in pairs]
        return [
            fits.Column("PLATE", "J", array=np.array([int(r["plateifu"].split("-")[0])
                                                       for r in rs], dtype=np.int32)),
            fits.Column("IFUDESIGN", "J", array=np.array([int(r["plateifu"].split("-")[1])
                                                           for r in rs], dtype=np.int32)),
            fits.Column("PLATEIFU", "11A", array=np.array([r["plateifu"] for r in rs])),
            fits.Column("MANGAID", "10A", array=np.array([r["mangaid"] for r in rs])),
            fits.Column("DAPTYPE", "24A", array=np.array([d for _, d, _ in pairs])),
            fits.Column("DAPDONE", "L", array=np.ones(n, dtype=bool)),
            fits.Column("NSA_Z", "D", array=np.array([r["nsa_z"] for r in rs])),
            fits.Column("STELLAR_SIGMA_1RE", "D", unit="km/s",
                        array=np.array([r["sigma_1re"] + k for r, _, k in pairs])),
            fits.Column("HA_GSIGMA_1RE", "D", unit="km/s",
                        array=np.array([60.0 + k for _, _, k in pairs])),
            fits.Column("SFR_TOT", "D", unit="Msun/yr", array=np.full(n, 0.5)),
            fits.Column("SNR_MED", "4D", array=np.ones((n, 4))),
        ]

    if dr15:
        pairs = [(r, d, k) for k, d in enumerate(daptypes) for r in rows]
        hdus = [fits.PrimaryHDU(), fits.BinTableHDU.from_columns(table(pairs), name="DAPALL")]
    else:
        hdus = [fits.PrimaryHDU()] + [
            fits.BinTableHDU.from_columns(table([(r, d, k) for r in rows]), name=d)
            for k, d in enumerate(daptypes)]
    fits.HDUList(hdus).writeto(path, overwrite=True)


CAT_ROWS = [
    dict(plateifu="7815-3702", mangaid="1-113540", objra=317.903201533, objdec=11.4969433994,
         nsa_z=0.0293, th50=3.77, ba=0.889, phi=163.2, sersic_n=1.4, mass=2.1e10,
         sigma_1re=80.0),
    dict(plateifu="8485-1901", mangaid="1-209232", objra=232.544703894, objdec=48.6902009334,
         nsa_z=0.0408, th50=2.5, ba=0.45, phi=20.0, sersic_n=3.1, mass=5.0e10,
         sigma_1re=120.0),
    # The same galaxy observed again on another plate: a second drpall row.
    dict(plateifu="8486-1901", mangaid="1-209232", objra=232.544703894, objdec=48.6902009334,
         nsa_z=0.0408, th50=2.5, ba=0.45, phi=20.0, sersic_n=3.1, mass=5.0e10,
         sigma_1re=121.0),
]


def demo_rows(work: Path):
    """drpall rows (``write_drpall`` keys) for the demo galaxies written under ``work``."""
    from kinview.data.catalogue import read_catalogue

    cat = read_catalogue(work / "catalogue.fits")
    return [dict(plateifu=r.plateifu, mangaid=r.mangaid, objra=r.objra, objdec=r.objdec,
                 nsa_z=r.nsa_z, th50=r.nsa_elpetro_th50_r, ba=r.nsa_elpetro_ba,
                 phi=r.nsa_elpetro_phi, sersic_n=r.nsa_sersic_n, mass=r.nsa_elpetro_mass,
                 sigma_1re=100.0) for r in cat.itertuples()]


def build_full_mirror(root: Path, work: Path) -> dict:
    """:func:`build_mirror` plus a DR17 drpall and DAPall listing every galaxy served."""
    from kinview.data import sas

    info = build_mirror(root, work)
    rows = [CAT_ROWS[0]] + demo_rows(work)
    rels = sas.catalogue_paths("DR17")
    for key, writer in (("drpall", write_drpall), ("dapall", write_dapall)):
        target = root / rels[key]
        target.parent.mkdir(parents=True, exist_ok=True)
        writer(target, rows)
    return info


if __name__ == "__main__":
    # A loopback SAS mirror to try the README's "Real data" steps without a network:
    #   python tests/sas_support.py [PORT]
    import sys
    import tempfile

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    tmp = Path(tempfile.mkdtemp(prefix="kinview-sas-mirror-"))
    info = build_full_mirror(tmp / "mirror", tmp / "demo")
    server = SasServer(tmp / "mirror", port)
    print(f"SAS mirror at http://127.0.0.1:{port}/sas/ serving {tmp / 'mirror'}")
    print(f"  DR15: {info['dr15']} ({'the real DAP file' if info['real'] else 'a demo file'})")
    print(f"  DR17: {' '.join(info['dr17'])} (demo files), drpall and DAPall")
    sys.stdout.flush()
    server.serve_forever()
