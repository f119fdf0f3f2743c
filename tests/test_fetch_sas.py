"""fetch-maps / fetch-catalogue against a real loopback HTTP server serving a SAS-like tree."""
from pathlib import Path

import pytest

import sas_support as ss
from kinview.cli.main import main as cli_main
from kinview.data import fetch_sas, sas
from kinview.data.survey import Survey
from kinview.errors import Cancelled
from kinview.progress import TaskState


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    yield from ss.serve_mirror(tmp_path_factory)


@pytest.fixture
def server(mirror):
    srv = mirror["server"]
    srv.requests.clear()
    srv.drop.clear()
    srv.corrupt.clear()
    srv.busy.clear()
    srv.ignore_range = False
    return srv


def _visible_files(root: Path):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
                  and not p.name.startswith("."))


def test_paths_come_from_sdss_access_templates():
    assert sas.maps_path("7815-3702", "DR15", "HYB10-GAU-MILESHC") == ss.DR15_MAPS_REL
    assert sas.maps_path("8485-1901", "DR17") == (
        "dr17/manga/spectro/analysis/v3_1_1/3.1.0/HYB10-MILESHC-MASTARSSP/8485/1901/"
        "manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz")
    assert sas.catalogue_paths("DR17") == {
        "drpall": "dr17/manga/spectro/redux/v3_1_1/drpall-v3_1_1.fits",
        "dapall": "dr17/manga/spectro/analysis/v3_1_1/3.1.0/dapall-v3_1_1-3.1.0.fits"}


def test_done_when_dr15_fetch_then_ingest_then_pa(mirror, server, tmp_path, capsys):
    d = tmp_path / "D"
    rc = cli_main(["fetch-maps", "--survey", str(d), "--plateifu", "7815-3702", "--release",
                   "DR15", "--daptype", "HYB10-GAU-MILESHC", "--base-url", server.base])
    assert rc == 0, capsys.readouterr().err
    target = d / ss.DR15_MAPS_REL
    assert target.is_file()
    assert target.read_bytes() == (mirror["root"] / ss.DR15_MAPS_REL).read_bytes()
    assert _visible_files(d) == [ss.DR15_MAPS_REL, "kinview.sqlite"]
    assert cli_main(["ingest", str(d)]) == 0
    assert cli_main(["pa", "--survey", str(d)]) == 0
    survey = Survey.open(d)
    fits = survey.connect().execute(
        "SELECT field, pa FROM pa_fits WHERE plateifu='7815-3702'").fetchall()
    survey.close()
    pas = {f: pa for f, pa in fits}
    assert set(pas) == {"stellar", "gas"}
    if mirror["real"]:  # the real DAP run: both fields at 167 deg (issue 14)
        assert abs(pas["stellar"] - 167.0) < 3 and abs(pas["gas"] - 167.0) < 3
    # A second run downloads nothing.
    server.requests.clear()
    report = fetch_sas.fetch_maps(d, ["7815-3702"], "DR15", base_url=server.base)
    assert report.fetched == 0 and report.skipped == 1 and server.requests == []


def test_several_galaxies_in_parallel_and_404_is_reported(mirror, server, tmp_path):
    pifus = mirror["dr17"] + ["8485-9101"]
    report = fetch_sas.fetch_maps(tmp_path, pifus, base_url=server.base, jobs=3, retries=1,
                                  backoff=0.01)
    assert report.fetched == len(mirror["dr17"])
    assert report.failed == {"8485-9101": "not on the server (HTTP 404)"}
    assert server.count("manga-8485-9101-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz") == 1
    survey = Survey.open(tmp_path)
    assert sorted(survey.plateifus()) == sorted(mirror["dr17"])
    survey.close()


def test_connection_dropped_mid_file_is_resumed_with_range(mirror, server, tmp_path):
    name = Path(ss.DR15_MAPS_REL).name
    server.drop[name] = 1
    report = fetch_sas.fetch_maps(tmp_path, ["7815-3702"], "DR15", base_url=server.base,
                                  retries=2, backoff=0.01)
    assert report.fetched == 1 and report.retries == 1
    ranges = [r for p, r in server.requests if p.endswith(name)]
    size = (mirror["root"] / ss.DR15_MAPS_REL).stat().st_size
    assert ranges[0] is None and ranges[1] == f"bytes={size // 2}-"
    assert (tmp_path / ss.DR15_MAPS_REL).read_bytes() == (
        mirror["root"] / ss.DR15_MAPS_REL).read_bytes()
    assert not list(tmp_path.rglob(".*.part"))


def test_interrupted_run_resumes_next_time_and_never_shows_a_partial_file(
        mirror, server, tmp_path):
    name = Path(ss.DR15_MAPS_REL).name
    server.drop[name] = 1
    report = fetch_sas.fetch_maps(tmp_path, ["7815-3702"], "DR15", base_url=server.base,
                                  retries=0)
    assert "connection dropped mid-transfer" in report.failed["7815-3702"]
    assert not (tmp_path / ss.DR15_MAPS_REL).exists()
    parts = list(tmp_path.rglob(".*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size > 0
    server.requests.clear()
    report = fetch_sas.fetch_maps(tmp_path, ["7815-3702"], "DR15", base_url=server.base)
    assert report.fetched == 1
    assert server.requests[0][1] is not None  # asked only for the rest
    assert (tmp_path / ss.DR15_MAPS_REL).read_bytes() == (
        mirror["root"] / ss.DR15_MAPS_REL).read_bytes()


def test_server_ignoring_range_sends_it_all_again(mirror, server, tmp_path):
    name = Path(ss.DR15_MAPS_REL).name
    server.drop[name] = 1
    server.ignore_range = True
    report = fetch_sas.fetch_maps(tmp_path, ["7815-3702"], "DR15", base_url=server.base,
                                  retries=2, backoff=0.01)
    assert report.fetched == 1
    assert (tmp_path / ss.DR15_MAPS_REL).read_bytes() == (
        mirror["root"] / ss.DR15_MAPS_REL).read_bytes()


def test_corrupt_download_is_retried_then_refused_in_one_line(mirror, server, tmp_path,
                                                              capsys):
    name = Path(ss.DR15_MAPS_REL).name
    server.corrupt[name] = 1
    report = fetch_sas.fetch_maps(tmp_path / "a", ["7815-3702"], "DR15", base_url=server.base,
                                  retries=1, backoff=0.01)
    assert report.fetched == 1 and report.retries == 1
    server.corrupt[name] = 5
    d = tmp_path / "b"
    rc = cli_main(["fetch-maps", "--survey", str(d), "--plateifu", "7815-3702", "--release",
                   "DR15", "--base-url", server.base, "--retries", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith("kinview: error: 7815-3702: gave up after 2 attempts: corrupt "
                             "download")
    assert _visible_files(d) == []


@pytest.mark.parametrize("argv, message", [
    (["--plateifu", "7815"], "'7815' is not a plate-IFU"),
    (["--plateifu", "7815-3702", "--release", "DR16"], "unknown MaNGA release 'DR16'"),
    (["--plateifu", "7815-3702", "--release", "DR17", "--daptype", "HYB10-GAU-MILESHC"],
     "DR17 has no DAPTYPE HYB10-GAU-MILESHC"),
    (["--plateifu", "7815-3702", "--release", "DR15", "--daptype",
      "HYB10-MILESHC-MASTARSSP"], "DR15 has no DAPTYPE HYB10-MILESHC-MASTARSSP"),
    (["--from-catalogue"], "no catalogue to take plate-IFUs from"),
    (["--plateifu", "7815-3702", "--base-url", "ftp://x/"], "bad SAS URL"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    d = tmp_path / "D"
    d.mkdir()
    rc = cli_main(["fetch-maps", "--survey", str(d)] + argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message in err[0], err
    assert list(d.iterdir()) == []


def test_unknown_plateifu_is_one_line(server, tmp_path, capsys):
    rc = cli_main(["fetch-maps", "--survey", str(tmp_path / "D"), "--plateifu", "7815-9999",
                   "--release", "DR15", "--base-url", server.base])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == ["kinview: error: 7815-9999: not on the server (HTTP 404); "
                               "nothing downloaded"]
    assert _visible_files(tmp_path / "D") == []


@pytest.mark.parametrize("command", ["fetch-maps", "fetch-catalogue"])
def test_no_network_says_the_root_cause_in_one_line(tmp_path, capsys, command):
    port = ss.closed_port()
    extra = ["--plateifu", "7815-3702"] if command == "fetch-maps" else []
    for url, cause in ((f"http://127.0.0.1:{port}/sas/", f"cannot reach 127.0.0.1:{port}: "
                        "connection refused"),
                       ("http://data.sdss.invalid/sas/", "cannot reach data.sdss.invalid: "
                        "name resolution failed")):
        rc = cli_main([command, "--survey", str(tmp_path / "D"), "--base-url", url,
                       "--retries", "0"] + extra)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and err == [f"kinview: error: {cause}"], err


def test_cancel_keeps_nothing_visible(mirror, server, tmp_path):
    state = TaskState()
    state.cancel()
    with pytest.raises(Cancelled):
        fetch_sas.fetch_maps(tmp_path, mirror["dr17"], base_url=server.base, state=state)
    assert _visible_files(tmp_path) == []


@pytest.mark.skipif(__import__("importlib").util.find_spec("marvin") is not None,
                    reason="Marvin is installed here")
@pytest.mark.parametrize("argv", [
    ["fetch-maps", "--survey", "{d}", "--plateifu", "7815-3702", "--via", "marvin"],
    ["gui", "--plateifu", "7815-3702", "--survey", "{d}", "--screenshot", "{d}/x.png"],
])
def test_without_marvin_one_line_says_how_to_install(tmp_path, capsys, argv):
    rc = cli_main([a.replace("{d}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith("kinview: error: Marvin is not installed: pip install "
                             "'kinview[marvin]'")
    assert list(tmp_path.iterdir()) == []
