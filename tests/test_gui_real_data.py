"""Real data in the GUI, offscreen: catalogue panel and links, Open survey / Recent surveys,
Add galaxies (download in a worker from a loopback SAS mirror, cancellable)."""

import pytest
from PyQt5 import QtWidgets

import sas_support as ss
from kinview.data import fetch_sas, galaxy_card
from kinview.data.survey import Survey
from kinview.gui import survey_menu, worker
from kinview.gui.main_window import MainWindow
from kinview.settings import Settings


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    yield from ss.serve_mirror(tmp_path_factory)


@pytest.fixture
def real_survey(tmp_path, mirror):
    """7815-3702 fetched from the mirror (DR15), with a drpall holding its NSA values."""
    d = tmp_path / "real"
    fetch_sas.fetch_maps(d, ["7815-3702"], "DR15", base_url=mirror["server"].base)
    ss.write_drpall(d / "drpall-v3_1_1.fits", ss.CAT_ROWS)
    Survey.open(d).ingest()
    return d


def _menu_texts(w):
    fm = next(a.menu() for a in w.menuBar().actions() if a.text() == "&File")
    return [a.text() for a in fm.actions()]


def test_catalogue_panel_links_menus_and_cancelled_download(qtbot, real_survey, mirror,
                                                            tmp_path, make_main_window):
    settings = Settings(recent_surveys=[str(tmp_path / "elsewhere")])
    w = make_main_window(real_survey, "tester", settings or Settings(), size=(1400, 900))
    srv = mirror["server"]
    try:
        qtbot.waitUntil(lambda: w.catalogue_panel.card is not None
                        and w.catalogue_panel.card["plateifu"] == w.state.current,
                        timeout=30000)
        card = w.catalogue_panel.card
        assert card["plateifu"] == "7815-3702"
        text = w.catalogue_panel.text.text()
        kpc = 3.77 * galaxy_card.kpc_per_arcsec(0.0293)
        for expected in ("1-113540", "317.90320 +11.49694", "0.02930",
                         f"3.77″ = {kpc:.2f} kpc", "0.889", "163.2° E of N", "1.40",
                         "log M* = 10.32", "37 fibres, 17.5″"):
            assert expected in text, (expected, text)
        opened = []
        w.catalogue_panel.open_url = opened.append
        w.catalogue_panel.sky_button.click()
        w.catalogue_panel.marvin_button.click()
        assert opened == [
            "https://skyserver.sdss.org/dr17/VisualTools/explore/summary?ra=317.903202"
            "&dec=11.496943",
            "https://dr17.sdss.org/marvin/galaxy/7815-3702/"]
        assert {"Open survey…", "Recent surveys", "Add galaxies…"} <= set(_menu_texts(w))
        assert [a.text() for a in w.recent_menu.actions()] == [str(tmp_path / "elsewhere")]
        assert settings.recent_surveys[0] == str(real_survey.resolve())

        dialog = survey_menu.AddGalaxiesDialog(w)
        dialog.text.setPlainText("7815-3702 banana")
        dialog._accept()
        assert "'banana' is not a plate-IFU" in dialog.error.text()
        dialog.release.setCurrentText("DR17")
        assert dialog.daptype.currentText() == "HYB10-MILESHC-MASTARSSP"

        # A download the user cancels (the server keeps answering 503) leaves nothing.
        srv.busy = {f"manga-{p}-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz": 50
                    for p in mirror["dr17"]}
        srv.requests.clear()
        job = survey_menu.start_add_galaxies(w, mirror["dr17"], "DR17",
                                             "HYB10-MILESHC-MASTARSSP", srv.base)
        qtbot.waitUntil(lambda: len(srv.requests) > 0, timeout=10000)
        w.add_galaxies_dialog.findChild(QtWidgets.QPushButton).click()  # its Cancel button
        qtbot.waitUntil(lambda: job.is_done, timeout=30000)
        assert getattr(w, "add_galaxies_cancelled", False)
        assert not list(real_survey.rglob("manga-*-MASTARSSP.fits.gz"))
    finally:
        srv.busy = {}
        w.close()
        worker.wait_all(30000)


def test_add_galaxies_downloads_in_a_worker_and_reopens(qtbot, real_survey, mirror, make_main_window):
    settings = Settings()
    w = make_main_window(real_survey, "tester", settings or Settings(), size=(1400, 900))
    dialog = survey_menu.AddGalaxiesDialog(w)
    dialog.release.setCurrentText("DR17")
    dialog.text.setPlainText(", ".join(mirror["dr17"]))
    dialog.base_url.setText(mirror["server"].base)
    dialog._accept()
    assert dialog.result() == QtWidgets.QDialog.Accepted
    job = survey_menu.start_add_galaxies(w, **dialog.request())
    qtbot.waitUntil(lambda: job.is_done, timeout=30000)
    qtbot.waitUntil(lambda: any(isinstance(x, MainWindow) and x.isVisible() and x is not w
                                for x in QtWidgets.QApplication.topLevelWidgets()),
                    timeout=10000)
    new = next(x for x in QtWidgets.QApplication.topLevelWidgets()
               if isinstance(x, MainWindow) and x.isVisible() and x is not w)
    qtbot.addWidget(new)
    try:
        assert not w.isVisible()
        assert w.add_galaxies_report.fetched == len(mirror["dr17"])
        qtbot.waitUntil(lambda: new.table is not None, timeout=30000)
        assert set(mirror["dr17"]) | {"7815-3702"} <= set(new.table.index)
        assert new.settings is settings and settings.recent_surveys == [
            str(real_survey.resolve())]
    finally:
        new.close()
        worker.wait_all(30000)
