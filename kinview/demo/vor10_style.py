"""A second synthetic survey family, ``kinview demo --style vor10``, built to differ from the
default demo generator (:mod:`kinview.demo.kinematics_model`) wherever a classifier could
learn the generator instead of the galaxies.

What differs from the default demo
    ============================  ==========================================  ==========================
    ingredient                    default demo                                ``vor10`` style
    ============================  ==========================================  ==========================
    DAP type                      DR17 ``HYB10-MILESHC-MASTARSSP``            DR15 ``VOR10-GAU-MILESHC``
    stellar binning               square blocks to S/N ≈ 10                   Voronoi tessellation
                                                                              (bin accretion to S/N 10,
                                                                              nearest-generator bins)
    rotation curve                arctan                                      Courteau-like
                                                                              v·x/(1+x^γ)^(1/γ),
                                                                              γ ∈ [1.2, 4]
    light                         Sérsic bulge + exponential disk             single exponential disk
                                                                              with a random centre offset
    noise                         Student-t per bin, uniform outliers         Gaussian per bin + a
                                                                              spatially correlated
                                                                              systematic term + Cauchy
                                                                              outliers
    masks                         S/N < 1, round holes, one star              S/N < 1 with ragged edges,
                                                                              dead stripes, stars, a
                                                                              wedge cut (vignetting)
    messy                         noisy, patchy, weak, irregular, neighbour   bar (m = 2 streaming),
                                                                              lopsided (m = 1), warp,
                                                                              KDC, stripes + stars,
                                                                              noisy
    do not use                    face-on / slow rotator, low S/N, tiny,      slow rotator, face-on,
                                  chaotic, merger                             equal-mass merger,
                                                                              counter-rotating twin
                                                                              disks (2σ), noise-
                                                                              dominated, sliver
    images                        SDSS-like gri cutouts                       none (kinematics only)
    ============================  ==========================================  ==========================

Gas (Hα) is written for about 60 % of the galaxies, per spaxel (no binning), with its own class
drawn from the same scenarios; the others have fully masked Hα maps (gas-poor) and no gas label.

Quality classes follow the catalogue's codes (2 clean, 1 messy, 0 do not use) in roughly
45/27/28 % proportions.  ``truth.csv`` holds them (``stel_qual``, ``halpha_qual``, −99 where no
gas) with the scenario of each field, for evaluation only.  Angles in degrees East of North,
velocities in km/s, sizes in arcsec.  Galaxy ``i`` uses ``default_rng([seed, i, 77])``, so the
survey does not depend on the number of worker processes.
"""
from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np
from scipy import ndimage

from kinview.data.maps_writer import write_maps
from kinview.demo.kinematics_model import (DONOTUSE, FORESTAR, NOCOV, NOVALUE, UNRELIABLE,
                                           disk_coords, ellipse_radius, hexagon, sky_grid)
from kinview.demo.population import IFU_DIAMETER, IFU_GRID
from kinview.demo.writer import _write_catalogue
from kinview.progress import NULL_STATE, TaskState

DAPTYPE = "VOR10-GAU-MILESHC"
STYLE = "vor10"
TRUTH_COLUMNS = ("plateifu", "stellar_pa", "gas_pa", "stel_qual", "halpha_qual", "stel_scenario",
                 "gas_scenario", "inclination", "vmax", "ifudesignsize", "n_bins", "lambda_re", "seed")
CLEAN = ("regular",)
MESSY = ("bar", "lopsided", "warp", "kdc", "masked", "noisy")
DO_NOT_USE = ("slow", "faceon", "merger", "twin", "noise", "sliver")


def maps_relpath(plate: int, ifu: int) -> str:
    return f"{DAPTYPE}/{plate}/{ifu}/manga-{plate}-{ifu}-MAPS-{DAPTYPE}.fits.gz"


# ----------------------------------------------------------------------------- binning
def voronoi_bins(snr: np.ndarray, ok: np.ndarray, target: float = 10.0, max_spaxels: int = 80) -> np.ndarray:
    """Voronoi binning of a S/N map (bin accretion, then nearest-generator tessellation).

    Spaxels with ``ok`` and S/N ≥ ``target`` are bins of their own; the others are accreted,
    brightest first, by adding the nearest unbinned spaxel until the bin reaches ``target``
    (noise added in quadrature) or ``max_spaxels``; accreted bins that fail are dropped (their
    spaxels stay unbinned).  Every binned spaxel is then reassigned to the nearest
    S/N-weighted bin centroid (a Voronoi tessellation).  Returns bin ids (−1 = not binned).
    """
    ny, nx = snr.shape
    jj, ii = np.mgrid[:ny, :nx]
    idx = np.flatnonzero(ok.ravel())
    s = snr.ravel()[idx]
    py, px = jj.ravel()[idx].astype(float), ii.ravel()[idx].astype(float)
    binned = np.full(len(idx), -1)
    order = np.argsort(-s)
    nb = 0
    for start in order:
        if binned[start] >= 0:
            continue
        members = [start]
        binned[start] = nb
        s2 = s[start] ** 2
        cy, cx = py[start], px[start]
        while np.sqrt(s2) < target and len(members) < max_spaxels:
            free = np.flatnonzero(binned < 0)
            if free.size == 0:
                break
            d = (py[free] - cy) ** 2 + (px[free] - cx) ** 2
            k = free[np.argmin(d)]
            if d.min() > 12.0 ** 2:
                break
            members.append(k)
            binned[k] = nb
            s2 += s[k] ** 2
            w = s[members] + 1e-6
            cy, cx = np.average(py[members], weights=w), np.average(px[members], weights=w)
        if np.sqrt(s2) < 0.6 * target and len(members) > 1:
            binned[members] = -2          # failed bin: left out
            continue
        nb += 1
    keep = binned >= 0
    if nb == 0:
        return np.full(snr.shape, -1, int)
    gy = np.bincount(binned[keep], weights=py[keep] * s[keep], minlength=nb)
    gx = np.bincount(binned[keep], weights=px[keep] * s[keep], minlength=nb)
    gw = np.bincount(binned[keep], weights=s[keep], minlength=nb) + 1e-9
    gy, gx = gy / gw, gx / gw
    out = np.full(ny * nx, -1, int)
    sel = np.flatnonzero(keep)
    d = (py[sel, None] - gy[None]) ** 2 + (px[sel, None] - gx[None]) ** 2
    out[idx[sel]] = np.argmin(d, axis=1)
    used = np.unique(out[out >= 0])
    remap = np.full(nb, -1)
    remap[used] = np.arange(len(used))
    out[out >= 0] = remap[out[out >= 0]]
    return out.reshape(ny, nx)


def _bin_mean(values, weights, binid):
    nb = int(binid.max()) + 1
    inb = binid >= 0
    sw = np.bincount(binid[inb], weights=weights[inb], minlength=nb) + 1e-30
    sv = np.bincount(binid[inb], weights=(weights * values)[inb], minlength=nb)
    return np.where(inb, (sv / sw)[np.maximum(binid, 0)], np.nan)


# ----------------------------------------------------------------------------- one field
def _curve(r, vmax, rt, gamma):
    q = r / max(rt, 0.2)
    return vmax * q / (1.0 + q ** gamma) ** (1.0 / gamma)


def _smooth(rng, shape, scale):
    f = ndimage.gaussian_filter(rng.normal(size=shape), scale, mode="reflect")
    return f / max(f.std(), 1e-9)


def _scenario(rng, quality: int) -> str:
    return str(rng.choice({2: CLEAN, 1: MESSY, 0: DO_NOT_USE}[quality]))


def _field(rng, x, y, cover, scen: str, pa: float, inc: float, vmax: float, h: float, binned: bool):
    """Velocity (km/s, NaN where not measured), ivar, mask, dispersion, flux, S/N and bin ids
    of one field under scenario ``scen``."""
    shape = x.shape
    ba = max(np.cos(np.radians(inc)), 0.15)
    x0, y0 = rng.normal(0, 0.6, 2)
    xs, ys = x - x0, y - y0
    gamma = rng.uniform(1.2, 4.0)
    rt = rng.uniform(0.3, 1.0) * h
    sini = np.sin(np.radians(inc))
    r_d, cth = disk_coords(xs, ys, pa, inc)
    rell = ellipse_radius(xs, ys, pa, ba)
    flux = np.exp(-rell / h) + 0.15 * np.exp(-rell / (0.3 * h))
    v = _curve(r_d, vmax, rt, gamma) * sini * cth
    sth = np.sqrt(np.clip(1 - cth ** 2, 0, 1)) * np.sign(-xs * np.cos(np.radians(pa)) + ys * np.sin(np.radians(pa)))
    sigma = 60 + 100 * np.exp(-r_d / h)
    snr0 = rng.uniform(25, 60)
    noise_mult, outlier_rate, sys_amp = 1.0, 0.004, 0.15
    if scen == "bar":
        phi = np.arctan2(sth, cth)
        v = v + rng.uniform(0.2, 0.35) * vmax * sini * np.sin(2 * (phi - rng.uniform(0, np.pi))) * \
            np.exp(-r_d / (2 * h)) * np.sign(cth + 1e-9)
    elif scen == "lopsided":
        v = v * (1 + rng.uniform(0.25, 0.45) * np.tanh(xs / (2 * h)) * rng.choice([-1, 1]))
    elif scen == "warp":
        tw = rng.uniform(20, 40) * rng.choice([-1, 1])
        r2, c2 = disk_coords(xs, ys, pa + tw * np.clip((r_d - 0.8 * h) / (1.5 * h), 0, 1), inc)
        v = _curve(r2, vmax, rt, gamma) * sini * c2
    elif scen == "kdc":
        rk = rng.uniform(1.5, 3.0)
        r3, c3 = disk_coords(xs, ys, pa + rng.choice([180.0, 90.0]), inc)
        w = 1.0 / (1.0 + np.exp((r3 - rk) / 0.5))
        v = v * (1 - w) + _curve(r3, 0.6 * vmax, 0.5, 2.0) * sini * c3 * w
    elif scen == "noisy":
        snr0, noise_mult, outlier_rate = rng.uniform(8, 14), 1.6, 0.03
    elif scen == "slow":
        v = v * rng.uniform(0.04, 0.15)
        sigma = sigma + 80
        snr0, sys_amp = rng.uniform(12, 30), 0.6
    elif scen == "faceon":
        r_d, cth = disk_coords(xs, ys, pa, rng.uniform(0, 10))
        v = _curve(r_d, vmax, rt, gamma) * np.sin(np.radians(rng.uniform(0, 10))) * cth
        sys_amp = 0.6
    elif scen == "merger":
        d = rng.uniform(2.5, 6.0)
        a = rng.uniform(0, 2 * np.pi)
        cx, cy = d * np.sin(a), d * np.cos(a)
        inc2 = rng.uniform(30, 80)
        r2, c2 = disk_coords(x - cx, y - cy, rng.uniform(0, 360), inc2)
        f2 = rng.uniform(0.6, 1.5) * np.exp(-ellipse_radius(x - cx, y - cy, rng.uniform(0, 180), 0.6) / h)
        v2 = rng.uniform(100, 300) * rng.choice([-1, 1]) + _curve(r2, vmax, rt, 2.0) * np.sin(np.radians(inc2)) * c2
        w2 = f2 / (flux + f2)
        v = (1 - w2) * v + w2 * v2 + 40 * _smooth(rng, shape, 3.0)
        flux = flux + f2
    elif scen == "twin":
        f = rng.uniform(0.4, 0.6)
        v = v * (1 - 2 * f) + 0.1 * vmax * _smooth(rng, shape, 4.0)
        sys_amp = 0.8
    elif scen == "noise":
        snr0, noise_mult, outlier_rate, sys_amp = rng.uniform(2, 5), 2.5, 0.2, 0.6
    # sky-limited S/N with a ragged edge
    snr = snr0 * flux / np.sqrt(flux + 0.05) * np.exp(0.25 * _smooth(rng, shape, 2.0))
    snr = np.where(cover, snr, 0.0)
    mask = np.zeros(shape, np.int32)
    mask[~cover] = NOCOV | DONOTUSE
    ok = cover & (snr >= 1.0)
    if scen == "sliver":
        ang = np.arctan2(x, y) - rng.uniform(-np.pi, np.pi)
        ok &= np.abs(np.angle(np.exp(1j * ang))) < rng.uniform(0.2, 0.45)
    if binned:
        binid = voronoi_bins(snr, ok)
    else:
        binid = np.where(ok, np.arange(ok.size).reshape(shape), -1)
        uniq = np.unique(binid[binid >= 0])
        lut = np.full(ok.size, -1)
        lut[uniq] = np.arange(len(uniq))
        binid = np.where(binid >= 0, lut[np.maximum(binid, 0)], -1)
    inb = binid >= 0
    if not inb.any():
        inb = cover & (np.hypot(x, y) < 1.5)
        binid = np.where(inb, 0, -1)
    nb = int(binid.max()) + 1
    bsnr = np.sqrt(np.bincount(binid[inb], weights=snr[inb] ** 2, minlength=nb))
    vb = _bin_mean(v, flux, binid)
    sb = _bin_mean(sigma, flux, binid)
    err = noise_mult * np.sqrt(sb ** 2 + 30.0 ** 2) / np.maximum(bsnr[np.maximum(binid, 0)], 0.5)
    err = np.where(inb, np.maximum(err, 3.0), np.inf)
    zb = rng.normal(size=nb)
    out = rng.random(nb) < outlier_rate
    zb = np.where(out, np.clip(rng.standard_cauchy(nb), -25, 25) * 3, zb)
    systematic = sys_amp * np.nanmedian(err[inb]) * _smooth(rng, shape, rng.uniform(2.0, 5.0))
    vel = np.where(inb, vb + err * zb[np.maximum(binid, 0)] + systematic, np.nan)
    sig_obs = np.where(inb, np.abs(sb + 1.2 * err * rng.normal(size=nb)[np.maximum(binid, 0)]), np.nan)
    mask[cover & ~inb] = NOVALUE | DONOTUSE
    if scen in ("masked", "noise") or rng.random() < 0.08:
        for _ in range(int(rng.integers(1, 4))):            # dead stripes (a fibre bundle column)
            t = np.radians(rng.uniform(0, 180))
            off = rng.uniform(-0.5, 0.5) * np.abs(x[cover]).max()
            band = np.abs(x * np.cos(t) - y * np.sin(t) - off) < rng.uniform(0.4, 1.2)
            mask[band & cover] |= UNRELIABLE | DONOTUSE
    if scen == "masked" or rng.random() < 0.1:
        for _ in range(int(rng.integers(1, 3))):            # foreground stars
            cx, cy = rng.uniform(-0.6, 0.6, 2) * np.abs(x[cover]).max()
            mask[(np.hypot(x - cx, y - cy) < rng.uniform(1.0, 2.5)) & cover] |= FORESTAR | DONOTUSE
    good = mask == 0
    vel = np.where(good, vel, 0.0)
    ivar = np.where(good & np.isfinite(err), 1.0 / np.where(np.isfinite(err), err, 1.0) ** 2, 0.0)
    sig_obs = np.where(good, sig_obs, 0.0)
    return dict(vel=vel, ivar=ivar, mask=mask, sigma=sig_obs, flux=flux, snr=snr, binid=binid,
                model_v=v, model_sigma=sigma, n_bins=nb)


def make_galaxy(out_dir: str, index: int, seed: int) -> Dict[str, dict]:
    """Draw, generate and write one galaxy; return its catalogue and truth rows."""
    rng = np.random.default_rng([seed, index, 77])
    ifu = int(rng.choice([19, 37, 61, 91, 127], p=[0.12, 0.2, 0.24, 0.18, 0.26]))
    plate, ifudsgn = 20000 + index // 8, ifu * 100 + 1 + index % 8
    pifu = f"{plate}-{ifudsgn}"
    n = IFU_GRID[ifu]
    x, y = sky_grid(n)
    cover = hexagon(x, y, IFU_DIAMETER[ifu])
    h = IFU_DIAMETER[ifu] / rng.uniform(3.0, 6.0)
    inc = float(np.degrees(np.arccos(rng.uniform(0.2, 0.95))))
    pa = float(rng.uniform(0, 360))
    vmax = float(rng.uniform(120, 280))
    q_star = int(rng.choice([2, 1, 0], p=[0.45, 0.27, 0.28]))
    s_scen = _scenario(rng, q_star)
    star = _field(rng, x, y, cover, s_scen, pa, inc, 0.7 * vmax, h, binned=True)
    has_gas = rng.random() < 0.6
    gas_kw = {}
    q_gas, g_scen, gas_pa = -99, "", float("nan")
    if has_gas:
        q_gas = int(rng.choice([2, 1, 0], p=[0.45, 0.27, 0.28]))
        g_scen = _scenario(rng, q_gas)
        gas_pa = float((pa + (rng.uniform(-180, 180) if rng.random() < 0.15 else rng.normal(0, 8))) % 360)
        gas = _field(rng, x, y, cover, g_scen, gas_pa, inc, vmax, 1.3 * h, binned=False)
        gas_kw = dict(gas_vel=gas["vel"], gas_vel_ivar=gas["ivar"], gas_vel_mask=gas["mask"],
                      gas_sigma=np.where(gas["mask"] == 0, np.abs(gas["sigma"]) * 0.4, 0.0),
                      gas_sigma_mask=gas["mask"].copy(),
                      gas_flux=np.where(cover, 5 * gas["flux"], 0.0), gas_flux_mask=gas["mask"].copy(),
                      binid_gas=gas["binid"])
    re = 1.68 * h
    inside = cover & (ellipse_radius(x, y, pa, max(np.cos(np.radians(inc)), 0.15)) <= re)
    fv, sv, fl = star["model_v"][inside], star["model_sigma"][inside], star["flux"][inside]
    lam = float(np.sum(fl * np.abs(fv)) / max(np.sum(fl * np.hypot(fv, sv)), 1e-9)) if inside.any() else float("nan")
    z = float(rng.uniform(0.015, 0.12))
    ra, dec = float(rng.uniform(120, 240)), float(rng.uniform(0, 60))
    mangaid = f"9-{100000 + index}"
    write_maps(Path(out_dir) / maps_relpath(plate, ifudsgn), pifu, DAPTYPE, x, y, star["vel"],
               stellar_vel_ivar=star["ivar"], stellar_vel_mask=star["mask"],
               stellar_sigma=star["sigma"], stellar_sigma_mask=star["mask"].copy(),
               stellar_sigma_ivar=np.where(star["mask"] == 0, star["ivar"] / 1.5, 0.0),
               spx_mflux=np.where(cover, 2 * star["flux"], 0.0), spx_snr=star["snr"],
               binid_stellar=star["binid"], ell_ba=float(np.cos(np.radians(inc))), ell_pa=pa % 180,
               reff=re, objra=ra, objdec=dec, z=z, mangaid=mangaid, ifudesignsize=ifu,
               release="DR15", gzip=True, **gas_kw)
    cat = dict(plateifu=pifu, mangaid=mangaid, plate=plate, ifudsgn=str(ifudsgn), objra=ra, objdec=dec,
               ifudesignsize=ifu, nsa_z=z, nsa_elpetro_th50_r=re, nsa_elpetro_ba=float(np.cos(np.radians(inc))),
               nsa_elpetro_phi=float(pa % 180), nsa_sersic_n=1.0, nsa_elpetro_mass=float(10 ** rng.uniform(9.5, 11.5)),
               lambda_re=lam)
    truth = dict(plateifu=pifu, stellar_pa=round(pa, 3), gas_pa=round(gas_pa, 3), stel_qual=q_star,
                 halpha_qual=q_gas, stel_scenario=s_scen, gas_scenario=g_scen, inclination=round(inc, 3),
                 vmax=round(vmax, 2), ifudesignsize=ifu, n_bins=star["n_bins"], lambda_re=round(lam, 5),
                 seed=seed)
    return dict(index=index, catalogue=cat, truth=truth)


def _work(args):
    return make_galaxy(*args)


def generate_vor10_survey(out_dir, n: int = 300, seed: int = 0, jobs: Optional[int] = None,
                          state: TaskState = NULL_STATE) -> dict:
    """Write a ``vor10``-style synthetic survey (see the module docstring); same return value
    as :func:`kinview.demo.writer.generate_survey`."""
    t0 = time.perf_counter()
    n = int(n)
    if n < 1:
        raise ValueError("n must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(int(jobs or os.cpu_count() or 1), n))
    state.set_total(n)
    state.set_status(f"writing {n} galaxies ({STYLE} style)")
    results = {}
    if jobs == 1:
        for i in range(n):
            state.check_cancelled()
            results[i] = make_galaxy(str(out), i, seed)
            state.advance()
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
            for r in pool.map(_work, [(str(out), i, seed) for i in range(n)], chunksize=8):
                state.check_cancelled()
                results[r["index"]] = r
                state.advance()
    ordered = [results[i] for i in range(n)]
    _write_catalogue(out / "catalogue.fits", [r["catalogue"] for r in ordered], seed)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(TRUTH_COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in ordered:
        w.writerow({k: r["truth"][k] for k in TRUTH_COLUMNS})
    tmp = out / f".truth.csv.{os.getpid()}.tmp"
    tmp.write_text(buf.getvalue())
    os.replace(tmp, out / "truth.csv")
    seconds = time.perf_counter() - t0
    counts = {}
    for key in ("stel_qual", "halpha_qual"):
        vals = [r["truth"][key] for r in ordered]
        counts[key] = {q: vals.count(q) for q in (0, 1, 2)}
    return dict(n=n, seconds=seconds, seconds_per_galaxy=seconds / n, jobs=jobs, out_dir=str(out),
                style=STYLE, **counts)
