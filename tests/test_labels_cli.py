"""``kinview labels import|export|stats`` from the command line."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from kinview.cli.main import main
from kinview.db import connect, transaction
from kinview.labels import LabelStore, cohen_kappa

PIFUS = [f"8485-{1901 + i}" for i in range(30)]


@pytest.fixture
def survey(tmp_path):
    root = tmp_path / "survey"
    root.mkdir()
    conn = connect(root)
    with transaction(conn):
        conn.executemany("INSERT INTO galaxies (plateifu, row_index) VALUES (?, ?)",
                         [(p, i) for i, p in enumerate(PIFUS)])
    conn.close()
    return root


def _catalogue(path, values):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["", "plateifu", "stellar_pa", "halpha_pa", "pa_offset", "stel_qual", "stel_feature",
                    "halpha_qual", "halpha_feature", "halpha_notes"])
        for i, (p, q) in enumerate(zip(PIFUS, values)):
            w.writerow([i, p, f"{10.0 + i}", f"{20.5 + i}", "10.5", q, 0, 2, 0, 0])
    return path


def test_import_export_and_stats_with_two_experts(survey, tmp_path, capsys):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, len(PIFUS))
    b = np.where(rng.random(len(PIFUS)) < 0.6, a, rng.integers(0, 3, len(PIFUS)))
    cat_a = _catalogue(tmp_path / "alice.csv", a)
    cat_b = _catalogue(tmp_path / "bob.csv", b)
    assert main(["labels", "import", str(cat_a), "--survey", str(survey), "--expert", "alice"]) == 0
    assert main(["labels", "import", str(cat_b), "--survey", str(survey), "--expert", "bob"]) == 0
    out = capsys.readouterr().out
    assert "imported 30 galaxies as expert 'alice'" in out

    assert main(["labels", "export", str(tmp_path / "alice-out.csv"), "--survey", str(survey),
                 "--expert", "alice"]) == 0
    with open(cat_a, newline="") as f1, open(tmp_path / "alice-out.csv", newline="") as f2:
        assert [r[1:10] for r in csv.reader(f1)] == [r[:9] for r in csv.reader(f2)]
    assert main(["labels", "export", str(tmp_path / "cons.fits"), "--survey", str(survey),
                 "--consensus"]) == 0
    assert (tmp_path / "cons.fits").stat().st_size > 0

    capsys.readouterr()
    assert main(["labels", "stats", "--survey", str(survey)]) == 0
    text = capsys.readouterr().out
    kappa = cohen_kappa(a, b, [0, 1, 2])
    assert "alice" in text and "bob" in text
    assert f"stellar quality  Cohen kappa = {kappa:.3f} over 30 galaxies" in text
    assert "gas quality      Cohen kappa = n/a (every label in one class)" in text
    assert f"disagreements: {int((a != b).sum())} labels" in text

    assert main(["labels", "stats", "--survey", str(survey), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["per_expert"]["alice"]["galaxies"] == 30
    assert stats["classes"]["stellar quality"]["bob"] == {str(c): int((b == c).sum()) for c in range(3)}
    assert stats["agreement"]["stellar quality"]["kappa"] == pytest.approx(kappa)


def test_bad_input_gives_one_line_and_exit_2(survey, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("plateifu,stellar_pa\n8485-1901,10.0\n")
    assert main(["labels", "import", str(bad), "--survey", str(survey)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kinview: error: ")
    assert "bad.csv" in err and "missing column(s)" in err
    assert LabelStore(survey, expert="x").events().empty
    assert main(["labels", "stats", "--survey", str(tmp_path / "nowhere")]) == 2
    assert "no such survey directory" in capsys.readouterr().err
    assert main(["labels", "export", str(tmp_path / "x.csv"), "--survey", str(tmp_path)]) == 2
    assert "no catalogue" in capsys.readouterr().err      # nothing to index: ingest's own words
    indexable = tmp_path / "indexable"
    indexable.mkdir()
    (indexable / "catalogue.csv").write_text("plateifu\n7443-1901\n")
    assert main(["labels", "export", str(tmp_path / "x.csv"), "--survey", str(indexable)]) == 2
    assert "run 'kinview ingest" in capsys.readouterr().err
    assert not (indexable / "kinview.sqlite").exists()
    with pytest.raises(SystemExit) as exc:
        main(["labels", "export", str(tmp_path / "x.csv"), "--expert", "a", "--consensus"])
    assert exc.value.code == 2


def test_python_m_kinview_labels_runs(survey):
    run = subprocess.run([sys.executable, "-m", "kinview", "labels", "stats", "--survey", str(survey)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "no labels yet" in run.stdout
