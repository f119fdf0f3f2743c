"""Small real surveys for the GUI tests: DAP-format MAPS files, JPEG images, a CSV catalogue.

Each galaxy is a rotating disk with a known receding-side PA (degrees E of N) for the stars
and for the gas, written with :func:`kinview.data.maps_writer.write_maps`, and a colour image
with a bright elongated galaxy whose major axis lies along the stellar PA.  Optional stored
PA fits put the true PAs in ``pa_fits`` (method ``pafit``) so tests know what must be drawn.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable

import numpy as np

DAPTYPE = "HYB10-MILESHC-MASTARSSP"


def disk_image(pa: float, size: int = 256, scale: float = 0.25, ba: float = 0.5,
               seed: int = 0) -> np.ndarray:
    """A 256×256 RGB galaxy image, North up / East left, major axis along ``pa``."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2.0
    x = (c - cols) * scale            # East positive, to the left
    y = (c - rows) * scale            # North positive, up (row 0 = North)
    t = np.radians(pa)
    xm = x * np.sin(t) + y * np.cos(t)
    ym = -x * np.cos(t) + y * np.sin(t)
    r = np.hypot(xm, ym / ba)
    light = np.exp(-r / 2.5)
    img = np.stack([light * 255, light * 200, light * 150], axis=-1)
    img += rng.normal(0, 4, img.shape) + 10
    return np.clip(img, 0, 255).astype(np.uint8)


def make_survey(root, specs: Iterable[Dict], store_pa: bool = True) -> Path:
    """Write a survey; each spec: plateifu, pa_star, pa_gas (None = no gas), ifusize,
    image (bool), maps (bool), z.  Returns the survey root (ingested)."""
    from kinview.data.images import save_jpeg
    from kinview.data.maps_writer import write_maps
    from kinview.data.survey import Survey
    from kinview.kinematics.synthetic import disk_field

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    radius = {19: 6.0, 37: 8.5, 61: 11.0, 91: 13.5, 127: 16.0}
    lines = ["plateifu,mangaid,objra,objdec,ifudesignsize,nsa_z,nsa_elpetro_th50_r,"
             "nsa_elpetro_ba,nsa_elpetro_phi"]
    specs = list(specs)
    for i, s in enumerate(specs):
        pifu = s["plateifu"]
        ifu = int(s.get("ifusize", 61))
        pa_s = float(s["pa_star"])
        pa_g = s.get("pa_gas", pa_s)
        lines.append(f"{pifu},1-{i},{180 + i * 0.1},{30.0},{ifu},{s.get('z', 0.03)},4.0,0.5,"
                     f"{pa_s % 180:.1f}")
        if s.get("maps", True):
            star = disk_field(pa_s, radius=radius[ifu], noise=5.0, seed=i)
            valid = ~star.mask
            kw = {}
            if pa_g is not None:
                gas = disk_field(float(pa_g), radius=radius[ifu], noise=5.0, seed=100 + i,
                                 vmax=230.0, kind="gas")
                kw = dict(gas_vel=np.where(valid, gas.vel, np.nan),
                          gas_sigma=np.where(valid, gas.sigma, np.nan),
                          gas_flux=np.where(valid, gas.flux * 10, np.nan))
            write_maps(root / "sas" / f"manga-{pifu}-MAPS-{DAPTYPE}.fits", pifu, DAPTYPE,
                       x=star.x, y=star.y, stellar_vel=np.where(valid, star.vel, np.nan),
                       stellar_sigma=np.where(valid, star.sigma, np.nan),
                       spx_mflux=np.where(valid, star.flux, np.nan),
                       ell_ba=0.5, ell_pa=pa_s % 180, reff=4.0, ifudesignsize=ifu, **kw)
        if s.get("image", True):
            save_jpeg(root / "images" / f"{pifu}.jpg", disk_image(pa_s, seed=i))
    (root / "catalogue.csv").write_text("\n".join(lines) + "\n")
    survey = Survey.open(root, ingest=True)
    if store_pa:
        conn = survey.connect()
        with conn:
            for s in specs:
                if not s.get("maps", True):
                    continue
                for fld, key in (("stellar", "pa_star"), ("gas", "pa_gas")):
                    pa = s.get(key, s["pa_star"]) if fld == "gas" else s["pa_star"]
                    if pa is None:
                        continue
                    conn.execute("INSERT OR REPLACE INTO pa_fits (plateifu, field, method, pa, "
                                 "pa_err, vsyst, n_used, nsteps, reason, seconds, created) VALUES "
                                 "(?,?,?,?,?,?,?,?,?,?,?)",
                                 (s["plateifu"], fld, "pafit", float(pa) % 360, 3.0, 0.0, 100, 361,
                                  None, 0.1, "2026-01-01T00:00:00"))
        conn.close()
    survey.close()
    return root


def standard_specs(n: int = 6):
    """``n`` galaxies: varied PAs, one misaligned gas disk, one without gas, one without an
    image and one without a MAPS file (the last two only when n ≥ 6)."""
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        pa = float(rng.uniform(0, 360))
        out.append({"plateifu": f"{8000 + i}-{12701 + i}", "pa_star": round(pa, 1),
                    "pa_gas": round((pa + (120 if i == 1 else 5)) % 360, 1),
                    "ifusize": (19, 37, 61, 91, 127)[i % 5], "z": 0.02 + 0.005 * i})
    if n >= 6:
        out[2]["pa_gas"] = None
        out[3]["image"] = False
        out[4]["maps"] = False
    return out


def labelled_demo_survey(root, n: int, seed: int, expert: str = "kim") -> Path:
    """A demo survey (:func:`kinview.demo.generate_survey`, ``n`` galaxies) in which
    ``expert`` has labelled every field with the generator's truth; returns its root."""
    from kinview.demo import generate_survey
    from kinview.training.truth_labels import import_truth_as_expert

    generate_survey(root, n=n, seed=seed, jobs=1)
    import_truth_as_expert(root, expert)
    return Path(root)


def close_window(w) -> None:
    """Close a main window (it saves its settings) and wait for the worker pools to drain."""
    from kinview.gui import worker

    w.close()
    worker.wait_all(30000)


def press(qtbot, w, key, modifier=None) -> None:
    """A key press on the window, as the expert types it."""
    from PyQt5 import QtCore

    qtbot.keyClick(w, key, QtCore.Qt.NoModifier if modifier is None else modifier)


def wait_drawn(qtbot, w, pifu) -> None:
    qtbot.waitUntil(lambda: w.view.drawn_plateifu == pifu, timeout=30000)


def current_labels(survey, expert) -> dict:
    """``{(plateifu, field, kind): value}`` of ``expert``'s current labels, read from disk."""
    from kinview.labels.store import LabelStore

    store = LabelStore(survey, expert=expert)
    try:
        return {(r.plateifu, r.field, r.kind): r.value for r in
                store.current(expert).itertuples(index=False)}
    finally:
        store.close()


def add_raters(survey, plateifus, catalogue: bool = True) -> None:
    """Labels of two experts, ``ann`` and ``bob``, on ``plateifus``, who disagree on the
    first galaxy's stellar and gas qualities (and ``bob`` leaves a note there); with
    ``catalogue``, a published catalogue's labels (expert ``mpl7``, imported from a file)."""
    from kinview.labels.store import LabelStore

    rows = {"ann": [], "bob": [], "mpl7": []}
    for i, pifu in enumerate(plateifus):
        q = 2 - i % 3
        rows["ann"] += [(pifu, "stellar", "quality", q), (pifu, "gas", "quality", q)]
        bob = (q + 1) % 3 if i == 0 else q
        rows["bob"] += [(pifu, "stellar", "quality", bob), (pifu, "gas", "quality", bob),
                        (pifu, "stellar", "feature", 1), (pifu, "gas", "gas_note", 3)]
        rows["mpl7"] += [(pifu, "stellar", "quality", q), (pifu, "gas", "quality", bob),
                         (pifu, "stellar", "feature", 0), (pifu, "gas", "feature", 2),
                         (pifu, "gas", "gas_note", 1)]
    rows["bob"].append((plateifus[0], "galaxy", "note", "bar-driven twist in the inner 3″?"))
    for who, items in rows.items():
        if who == "mpl7" and not catalogue:
            continue
        store = LabelStore(survey, expert=who)
        try:
            for pifu, fld, kind, value in items:
                store.add(pifu, fld, kind, value,
                          source="import:mpl7-like-catalogue.csv" if who == "mpl7" else "gui")
        finally:
            store.close()


def add_predictions(survey, plateifus) -> int:
    """An active field-quality model with a prediction and confidence for each field of
    ``plateifus`` (no model file: only what the table and the Model tab read).  Returns its id."""
    from kinview.db import models as db_models
    from kinview.db.connection import connect
    from kinview.tasks.registry import field_quality_tasks

    conn = connect(Path(survey) / "kinview.sqlite")
    try:
        with conn:
            mid = db_models.insert(conn, field_quality_tasks()[0], "cnn", "none.keras",
                                   {"accuracy": 0.8}, "", {"date": "2026-01-01T00:00:00"})
            rng = np.random.default_rng(7)
            db_models.write_predictions(conn, mid, [
                (p, f, float(rng.uniform(0, 2)), float(rng.uniform(0.3, 1.0)), None)
                for p in plateifus for f in ("stellar", "gas")])
        return mid
    finally:
        conn.close()
