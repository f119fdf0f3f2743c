"""SpecObj selection: the SQL builder, and astroquery against a local SkyServer stand-in."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from kinview.cli.main import main as cli_main
from kinview.data.sdss_query import SpecObjCuts, build_specobj_sql, query_specobj
from kinview.data.survey import Survey
from kinview.errors import KinviewError

SEED_CUTS = ("s.class = 'GALAXY'", "s.zWarning = 0", "s.zErr > 0", "s.z > 10000.0 * s.zErr",
             "s.velDisp > 10.0 * s.velDispErr")


def test_default_sql_is_the_photoz_seed_selection():
    sql = build_specobj_sql(SpecObjCuts())
    for cut in SEED_CUTS:
        assert cut in sql
    assert sql.startswith("SELECT s.specObjID") and "FROM SpecObj AS s" in sql
    assert "TOP" not in sql and "PhotoObj" not in sql


def test_each_option_appears_in_the_sql():
    sql = build_specobj_sql(SpecObjCuts(z_min=0.02, z_max=0.3, mag_max=17.77, mag_min=14,
                                        mag_type="modelmag", mag_band="i", limit=500,
                                        z_over_zerr=None, veldisp_over_err=3,
                                        zwarning_zero=False))
    assert sql.startswith("SELECT TOP 500 ")
    assert "s.z >= 0.02" in sql and "s.z <= 0.3" in sql
    assert "p.modelMag_i >= 14.0" in sql and "p.modelMag_i <= 17.77" in sql
    assert "JOIN PhotoObj AS p ON p.objID = s.bestObjID" in sql
    assert "s.velDisp > 3.0 * s.velDispErr" in sql
    assert "zWarning" not in sql.split("WHERE")[1] and "* s.zErr" not in sql
    assert "p.dered_g" in sql
    dered = build_specobj_sql(SpecObjCuts(mag_type="dered", mag_max=18))
    assert "p.dered_r <= 18.0" in dered


@pytest.mark.parametrize("bad", [
    dict(z_min="0.1; DROP TABLE SpecObj"), dict(z_max=float("nan")), dict(mag_max="inf"),
    dict(limit=0), dict(limit=2.5), dict(limit="10 UNION SELECT 1"), dict(spec_class="GALAXY' OR 1=1 --"),
    dict(mag_band="r; --"), dict(mag_type="petroMag_r FROM x"), dict(z_min=0.5, z_max=0.1),
    dict(z_over_zerr=-1), dict(zwarning_zero="yes"),
])
def test_bad_values_are_refused(bad):
    with pytest.raises(KinviewError):
        build_specobj_sql(SpecObjCuts(**bad))


class SkyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, csv_text):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.csv_text = csv_text
        self.requests = []

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        self.server.requests.append((url.path, {k: v[0] for k, v in parse_qs(url.query).items()}))
        body = self.server.csv_text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


CSV = ("#Table1\n"
       "specObjID,objid,ra,dec,z,zErr,zWarning,velDisp,velDispErr,plate,mjd,fiberID\n"
       "299489677444933632,1237648720693755918,146.71421,-1.0413043,0.021275453,7.787895E-06,0,"
       "91.15891,6.6473446,266,51630,1\n"
       "299490227200747520,1237648720693821440,146.91945,-0.99049,0.2144747,4.018512E-05,0,"
       "220.2123,12.84416,266,51630,3\n")


@pytest.fixture
def skyserver():
    srv = SkyServer(CSV)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_query_writes_a_catalogue_and_caches_it(skyserver, tmp_path):
    out = tmp_path / "photoz"
    cuts = SpecObjCuts(z_max=0.4, limit=2)
    result = query_specobj(cuts, out, base_url=skyserver.base)
    assert not result.cached and result.n_rows == 2
    path, params = skyserver.requests[0]
    assert path == "/dr17/en/tools/search/x_results.aspx"      # SkyServer's SQL search
    assert params["format"] == "csv" and params["searchtool"] == "SQL"
    assert "TOP 2" in params["cmd"] and "s.z <= 0.4" in params["cmd"]

    cat = pd.read_csv(out / "catalogue.csv", dtype={"specobjid": str, "objid": str})
    assert list(cat["plateifu"]) == ["sdss-299489677444933632", "sdss-299490227200747520"]
    assert cat["specobjid"].iloc[0] == "299489677444933632"   # 64-bit ids exact
    assert cat["objid"].iloc[1] == "1237648720693821440"
    assert cat["objra"].iloc[0] == pytest.approx(146.71421)
    assert cat["nsa_z"].iloc[1] == pytest.approx(0.2144747) and "zerr" in cat.columns

    # the directory is a survey: galaxies with coordinates and redshift, no MAPS
    g = Survey.open(out).galaxies()
    assert list(g.index) == list(cat["plateifu"])
    assert g.loc["sdss-299489677444933632", "z"] == pytest.approx(0.021275453)
    assert g["maps_path"].isna().all()

    again = query_specobj(cuts, out, base_url=skyserver.base)
    assert again.cached and again.n_rows == 2 and len(skyserver.requests) == 1
    query_specobj(cuts, out, base_url=skyserver.base, refresh=True)
    assert len(skyserver.requests) == 2
    query_specobj(SpecObjCuts(z_max=0.3, limit=2), out, base_url=skyserver.base)  # new cuts
    assert len(skyserver.requests) == 3


def test_server_error_and_empty_result_write_nothing(skyserver, tmp_path):
    skyserver.csv_text = "#Table1\nerror_message: Incorrect syntax near 'x'\n"
    with pytest.raises(KinviewError, match="SDSS query failed"):
        query_specobj(SpecObjCuts(), tmp_path / "a", base_url=skyserver.base)
    assert not (tmp_path / "a" / "catalogue.csv").exists()
    skyserver.csv_text = "#Table1\nspecObjID,objid,ra,dec,z\n"
    with pytest.raises(KinviewError, match="no rows"):
        query_specobj(SpecObjCuts(), tmp_path / "b", base_url=skyserver.base)
    assert not (tmp_path / "b" / "catalogue.csv").exists()


def test_cli_sdss_query(skyserver, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KINVIEW_SKYSERVER_URL", skyserver.base)
    out = tmp_path / "pz"
    assert cli_main(["sdss", "query", "--out", str(out), "--z-max", "0.5", "--limit", "10",
                     "--veldisp-over-err", "none"]) == 0
    assert "2 galaxies" in capsys.readouterr().out
    cmd = skyserver.requests[0][1]["cmd"]
    assert "TOP 10" in cmd and "velDisp" not in cmd.split("WHERE")[1]
    assert cli_main(["sdss", "query", "--out", str(out), "--z-max", "0.5", "--limit", "10",
                     "--veldisp-over-err", "none"]) == 0
    assert "(cached)" in capsys.readouterr().out and len(skyserver.requests) == 1
    assert cli_main(["sdss", "query", "--out", str(out), "--limit", "-3"]) == 2
    assert "limit must be a positive integer" in capsys.readouterr().err
