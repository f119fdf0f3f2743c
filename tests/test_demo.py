"""The demo survey generator: files of SPEC §5, determinism, physics sign, class mix."""
import csv

import numpy as np
import pytest
from astropy.table import Table

from kinview.cli.main import main
from kinview.data.dapbits import bit_value
from kinview.data.images import load_image
from kinview.data.maps import read_maps
from kinview.demo import generate_survey
from kinview.demo.writer import CATALOGUE_COLUMNS, TRUTH_COLUMNS, maps_relpath
from kinview.progress import TaskState

N = 10
GRID = {19: 34, 37: 44, 61: 54, 91: 64, 127: 74}


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    seen = []
    state = TaskState(on_progress=lambda done, total: seen.append((done, total)))
    summary = generate_survey(out, n=N, seed=3, jobs=1, state=state)
    return out, summary, seen


def _truth(out):
    with open(out / "truth.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_files_of_spec_section_5(survey):
    out, summary, seen = survey
    assert summary["n"] == N and seen[-1] == (N, N)
    cat = Table.read(out / "catalogue.fits")
    for col in ("plateifu", "mangaid", "objra", "objdec", "ifudesignsize", "nsa_z",
                "nsa_elpetro_th50_r", "nsa_elpetro_ba", "nsa_elpetro_phi", "nsa_sersic_n",
                "nsa_elpetro_mass", "lambda_re"):
        assert col in cat.colnames
    assert list(cat.colnames) == list(CATALOGUE_COLUMNS)
    assert len(cat) == N and len(set(cat["plateifu"])) == N
    truth = _truth(out)
    assert list(truth[0].keys()) == list(TRUTH_COLUMNS)
    assert [r["plateifu"] for r in truth] == list(cat["plateifu"])
    for row in cat:
        pifu = str(row["plateifu"])
        plate, ifu = (int(v) for v in pifu.split("-"))
        size = int(row["ifudesignsize"])
        assert 7443 <= plate <= 12000 and ifu // 100 == size and 1 <= ifu % 100 <= 5
        maps = out / maps_relpath(plate, ifu)
        assert maps.is_file() and maps.name == \
            f"manga-{plate}-{ifu}-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz"
        img = load_image(out / "images" / f"{pifu}.jpg")
        assert img.shape == (256, 256, 3) and img.dtype == np.uint8
        assert img[118:138, 118:138].mean() > img[:20, :20].mean() + 20  # galaxy in centre
        assert 0.005 <= row["nsa_z"] <= 0.16 and 0 < row["nsa_elpetro_ba"] <= 1
        assert 0 <= row["nsa_elpetro_phi"] < 180 and row["nsa_elpetro_th50_r"] > 0.5
        assert 0 <= row["lambda_re"] <= 1


def test_maps_footprint_masks_and_catalogue_consistency(survey):
    out, _, _ = survey
    cat = Table.read(out / "catalogue.fits")
    nocov, donotuse = bit_value("NOCOV"), bit_value("DONOTUSE")
    for row in cat:
        plate, ifu = (int(v) for v in str(row["plateifu"]).split("-"))
        m = read_maps(out / maps_relpath(plate, ifu))
        n = GRID[int(row["ifudesignsize"])]
        assert m.stellar.vel.shape == (n, n)
        bits = m.stellar.maskbits
        outside = (bits & nocov) != 0
        assert (bits[outside] & donotuse).all()           # NOCOV implies DONOTUSE
        assert outside[0, 0] and outside[0, -1] and outside[-1, 0] and outside[-1, -1]
        assert not outside[n // 2, n // 2]                 # the centre is covered
        assert 0.2 < (~outside).mean() < 0.8               # a hexagon, not the square
        assert m.reff == pytest.approx(row["nsa_elpetro_th50_r"], rel=1e-4)
        assert m.ell_ba == pytest.approx(row["nsa_elpetro_ba"], rel=1e-4)
        assert m.header["Z"] == pytest.approx(row["nsa_z"])
        assert m.gas is not None and m.gas.vel.shape == (n, n)


def test_receding_side_at_true_pa(survey):
    """In clean fields, v > 0 toward the true PA and v < 0 on the opposite side."""
    out, _, _ = survey
    checked = 0
    for row in _truth(out):
        for kind, pa_key, q_key in (("stellar", "stellar_pa", "stel_qual"),
                                    ("gas", "gas_pa", "halpha_qual")):
            if int(row[q_key]) != 2:
                continue
            plate, ifu = (int(v) for v in row["plateifu"].split("-"))
            f = read_maps(out / maps_relpath(plate, ifu)).field(kind)
            pa = np.radians(float(row[pa_key]))
            ok = f.valid & (np.hypot(f.x, f.y) > 1.5)
            ang = np.arctan2(f.x, f.y)                     # deg E of N of each spaxel
            d = np.angle(np.exp(1j * (ang - pa)))
            near, far = ok & (np.abs(d) < np.radians(30)), ok & (np.abs(d) > np.radians(150))
            assert near.sum() > 5 and far.sum() > 5
            assert np.median(f.vel[near]) > 15, (row["plateifu"], kind)
            assert np.median(f.vel[far]) < -15, (row["plateifu"], kind)
            checked += 1
    assert checked >= 3


def test_class_mix(survey):
    truth = _truth(survey[0])
    stel = {int(r["stel_qual"]) for r in truth}
    assert len(stel) >= 2 and 2 in stel
    assert all(0 <= float(r["stellar_pa"]) < 360 and 0 <= float(r["gas_pa"]) < 360
               for r in truth)


def test_deterministic_for_a_seed_whatever_the_jobs(survey, tmp_path):
    out, _, _ = survey
    n = 4
    a, b = tmp_path / "a", tmp_path / "b"
    generate_survey(a, n=n, seed=3, jobs=1)
    generate_survey(b, n=n, seed=3, jobs=2)
    ta, tb = (a / "truth.csv").read_bytes(), (b / "truth.csv").read_bytes()
    assert ta == tb
    # the first galaxies of the N-galaxy survey with the same seed are the same galaxies
    assert ta.splitlines()[1:n + 1] == (out / "truth.csv").read_bytes().splitlines()[1:n + 1]
    for row in _truth(a):
        plate, ifu = (int(v) for v in row["plateifu"].split("-"))
        ma = read_maps(a / maps_relpath(plate, ifu))
        mb = read_maps(b / maps_relpath(plate, ifu))
        np.testing.assert_array_equal(ma.stellar.vel, mb.stellar.vel)
        np.testing.assert_array_equal(ma.gas.vel, mb.gas.vel)
        assert (a / maps_relpath(plate, ifu)).read_bytes() == \
            (b / maps_relpath(plate, ifu)).read_bytes()
        ia = load_image(a / "images" / f"{row['plateifu']}.jpg")
        ib = load_image(b / "images" / f"{row['plateifu']}.jpg")
        np.testing.assert_array_equal(ia, ib)
    c = tmp_path / "c"
    generate_survey(c, n=n, seed=4, jobs=1)
    assert (c / "truth.csv").read_bytes() != ta


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["demo", "--out", str(out), "--n", "2", "--seed", "1", "--jobs", "1"]) == 0
    assert (out / "catalogue.fits").is_file() and (out / "truth.csv").is_file()
    capsys.readouterr()
    # refuses to overwrite a survey without --force: one line, exit status 2
    assert main(["demo", "--out", str(out), "--n", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kinview: error:") and "--force" in err and "\n" not in err
    # --force with another seed replaces the demo: no stale MAPS files or images are left
    assert main(["demo", "--out", str(out), "--n", "1", "--seed", "2", "--jobs", "1",
                 "--force"]) == 0
    truth = _truth(out)
    assert len(truth) == 1
    assert len(list(out.rglob("manga-*-MAPS-*.fits.gz"))) == 1
    assert [p.stem for p in (out / "images").glob("*.jpg")] == [truth[0]["plateifu"]]
