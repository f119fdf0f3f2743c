"""With no network, every client names the root cause in one line (never a cut URL)."""

import pandas as pd
import pytest

from kinview.cli.main import main as cli_main
from kinview.data import net_errors
from sas_support import closed_port


def _hosts():
    port = closed_port()
    return [(f"http://127.0.0.1:{port}", f"cannot reach 127.0.0.1:{port}: connection refused"),
            ("http://skyserver.sdss.invalid", "cannot reach skyserver.sdss.invalid: name "
             "resolution failed")]


def _survey(root):
    root.mkdir()
    pd.DataFrame({"plateifu": ["8485-1901", "8485-1902"], "objra": [150.0, 151.0],
                  "objdec": [2.0, 2.5]}).to_csv(root / "catalogue.csv", index=False)


def test_fetch_images_without_network(tmp_path, capsys):
    _survey(tmp_path / "s")
    for base, cause in _hosts():
        rc = cli_main(["fetch-images", "--survey", str(tmp_path / "s"), "--retries", "0",
                       "--url-template", base + "/cut?ra={ra}&dec={dec}&width={width}"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and err == [f"kinview: error: {cause}"], err
    assert not (tmp_path / "s" / "images").exists() or not any(
        (tmp_path / "s" / "images").iterdir())


def test_sdss_query_without_network(tmp_path, capsys, monkeypatch):
    for base, cause in _hosts():
        monkeypatch.setenv("KINVIEW_SKYSERVER_URL", base)
        rc = cli_main(["sdss", "query", "--out", str(tmp_path / "q"), "--timeout", "5"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and err == [f"kinview: error: SDSS query failed: {cause}"], err
    assert not (tmp_path / "q" / "catalogue.csv").exists()


def test_one_line_never_cuts_a_word():
    url = "https://data.sdss.org/sas/dr17/" + "x" * 80
    text = net_errors.one_line("failed " * 30 + url, limit=240)
    assert url not in text and text.endswith(" ...") and "xxxx" not in text
    assert net_errors.one_line(f"bad {url}\n  trace") == f"bad {url} trace"
