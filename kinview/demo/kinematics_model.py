"""Velocity, dispersion and flux maps of one synthetic galaxy on a MaNGA MAPS grid.

Model: Sérsic bulge + exponential disk light; arctan rotation curves (stars: a fraction
``k_rot`` of the circular speed, gas: the full speed); dispersion falling with radius from a
Faber–Jackson-like central value; 2.5″ FWHM beam smearing (flux-weighted); S/N from the light
profile with a sky term; DAP-like S/N ≈ 10 block binning of the stellar maps (HYB10: the gas
stays per spaxel); pPXF-like errors with a few outliers; DAPPIXMASK masks (NOCOV outside the
hexagonal footprint, NOVALUE|DONOTUSE where S/N < 1, FORESTAR, UNRELIABLE patches).  Each
quality scenario of :mod:`kinview.demo.population` changes what the maps show.

Conventions: x = East offset (arcsec, decreasing with column), y = North offset (increasing
with row); PAs in degrees E of N; v > 0 toward the receding-side PA.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage, special

from kinview.data.dapbits import bit_value
from kinview.demo.population import IFU_DIAMETER, IFU_GRID, Galaxy

SPAXEL = 0.5
PSF_FWHM_MAPS = 2.5           # arcsec, MaNGA reconstructed PSF
SIGMA_CORR_STAR = 25.0        # km/s, DAP STELLAR_SIGMACORR-like
NOCOV = bit_value("NOCOV")
DONOTUSE = bit_value("DONOTUSE")
NOVALUE = bit_value("NOVALUE")
UNRELIABLE = bit_value("UNRELIABLE")
FORESTAR = bit_value("FORESTAR")


# ----------------------------------------------------------------------------- geometry
def sky_grid(n: int, scale: float = SPAXEL):
    """MAPS-grid offsets: x East (decreasing with column), y North (increasing with row)."""
    j, i = np.mgrid[:n, :n]
    c = (n - 1) / 2.0
    return -(i - c) * scale, (j - c) * scale


def hexagon(x, y, diameter: float):
    """True inside a hexagon of vertex-to-vertex ``diameter`` (vertices East and West)."""
    r = diameter / 2.0
    ax, ay = np.abs(x), np.abs(y)
    return (ay <= r * np.sqrt(3) / 2) & (np.sqrt(3) * ax + ay <= np.sqrt(3) * r)


def ellipse_radius(x, y, pa, ba):
    """Semi-major-axis radius of the ellipse (axis ratio ``ba``, major axis at ``pa``)."""
    p = np.radians(pa)
    along = x * np.sin(p) + y * np.cos(p)
    across = -x * np.cos(p) + y * np.sin(p)
    return np.hypot(along, across / max(ba, 0.05))


def disk_coords(x, y, pa, inc):
    """In-plane radius and cos(azimuth) from the receding major axis ``pa`` (may be an array)."""
    p = np.radians(pa)
    along = x * np.sin(p) + y * np.cos(p)
    across = -x * np.cos(p) + y * np.sin(p)
    ci = max(np.cos(np.radians(inc)), 0.12)
    yy = across / ci
    r = np.hypot(along, yy)
    with np.errstate(invalid="ignore", divide="ignore"):
        cth = np.where(r > 0, along / np.maximum(r, 1e-9), 0.0)
    return r, cth


# ----------------------------------------------------------------------------- light
def sersic_b(n):
    return 2.0 * n - 1.0 / 3.0 + 0.009876 / n


def sersic_sb(r, re, n, total, ba):
    """Sérsic surface brightness (per arcsec²) at semi-major radius r for luminosity total."""
    b = sersic_b(n)
    ie = total / (2 * np.pi * n * re ** 2 * ba * np.exp(b) * b ** (-2 * n) * special.gamma(2 * n))
    return ie * np.exp(-b * ((np.maximum(r, 1e-3) / re) ** (1.0 / n) - 1.0))


def components(g: Galaxy):
    """Bulge and disk parameters (semi-major half-light radii in arcsec, axis ratios)."""
    re = g.re_arcsec
    re_b = re * (0.3 + 0.6 * g.bulge_frac)
    re_d = re * (1.15 - 0.1 * g.bulge_frac)
    ci = np.cos(np.radians(g.inclination))
    ba_b = float(np.sqrt(ci ** 2 + 0.75 ** 2 * (1 - ci ** 2)))
    return dict(re_b=re_b, re_d=re_d, n_b=g.sersic_n_bulge, ba_b=min(ba_b, 1.0), ba_d=g.ba)


def half_light_radius(g: Galaxy) -> float:
    """Semi-major-axis radius (arcsec) enclosing half the model light (each component on its
    own isophotes): the catalogue's ``nsa_elpetro_th50_r`` and the λRₑ aperture."""
    c = components(g)
    a = np.linspace(0.05, 6 * g.re_arcsec, 600)
    fb = special.gammainc(2 * c["n_b"], sersic_b(c["n_b"]) * (a / c["re_b"]) ** (1 / c["n_b"]))
    fd = special.gammainc(2.0, sersic_b(1.0) * (a / c["re_d"]))
    frac = g.bulge_frac * fb + (1 - g.bulge_frac) * fd
    return float(np.interp(0.5, frac, a))


def light(x, y, g: Galaxy, pa=None):
    """Bulge and disk surface brightness (total luminosity bulge_frac and 1-bulge_frac)."""
    c = components(g)
    pa = g.phi if pa is None else pa
    rb = ellipse_radius(x, y, pa, c["ba_b"])
    rd = ellipse_radius(x, y, pa, c["ba_d"])
    bulge = sersic_sb(rb, c["re_b"], c["n_b"], g.bulge_frac, c["ba_b"])
    disk = sersic_sb(rd, c["re_d"], 1.0, 1.0 - g.bulge_frac, c["ba_d"])
    return bulge, disk


# ----------------------------------------------------------------------------- helpers
def smooth_field(rng, shape, scale_pix):
    """A smooth zero-mean unit-rms random field."""
    f = ndimage.gaussian_filter(rng.normal(size=shape), scale_pix, mode="wrap")
    return f / max(f.std(), 1e-9)


def beam_smear(flux, vel, sig, sigma_pix):
    """Flux-weighted PSF smoothing of v and σ (σ² gains the smeared velocity gradient)."""
    f = ndimage.gaussian_filter(flux, sigma_pix, mode="constant")
    fv = ndimage.gaussian_filter(flux * vel, sigma_pix, mode="constant")
    fv2 = ndimage.gaussian_filter(flux * (vel ** 2 + sig ** 2), sigma_pix, mode="constant")
    f = np.maximum(f, 1e-30)
    v = fv / f
    s2 = np.maximum(fv2 / f - v ** 2, 1.0)
    return v, np.sqrt(s2), f


def rotation(r, vmax, rt):
    return vmax * (2 / np.pi) * np.arctan(r / max(rt, 0.1))


def block_binning(snr, cover, target=10.0, min_snr=1.0):
    """DAP-like spatial binning: spaxels with S/N ≥ target alone, the others grouped in
    growing square blocks until the block S/N reaches the target.  Spaxels with S/N < min_snr
    are not binned (-1).  Returns binid (-1 = not analysed) and the S/N of every bin."""
    n = snr.shape[0]
    binid = np.full(snr.shape, -1, np.int64)
    use = cover & (snr >= min_snr)
    single = use & (snr >= target)
    nb = int(single.sum())
    binid[single] = np.arange(nb)
    left = use & ~single
    jj, ii = np.mgrid[:n, :n]
    for b in (2, 3, 4, 6, 8, 12):
        if not left.any():
            break
        key = (jj // b) * 1000 + (ii // b)
        k = key[left]
        uniq, inv = np.unique(k, return_inverse=True)
        s2 = np.bincount(inv, weights=snr[left] ** 2)
        cnt = np.bincount(inv)
        comb = np.sqrt(s2) / (1 + 1.62 * np.log10(np.maximum(cnt, 1)))   # covariance
        ok = comb >= target if b < 12 else comb >= 3.0
        if ok.any():
            newid = np.full(len(uniq), -1)
            newid[ok] = nb + np.arange(ok.sum())
            nb += int(ok.sum())
            vals = newid[inv]
            idx = np.flatnonzero(left.ravel())
            assigned = vals >= 0
            binid.ravel()[idx[assigned]] = vals[assigned]
            left.ravel()[idx[assigned]] = False
    # bin S/N
    flat = binid.ravel()
    inb = flat >= 0
    s2 = np.bincount(flat[inb], weights=snr.ravel()[inb] ** 2, minlength=nb)
    cnt = np.bincount(flat[inb], minlength=nb)
    bsnr = np.sqrt(s2) / (1 + 1.62 * np.log10(np.maximum(cnt, 1)))
    if bsnr.size == 0:
        bsnr = np.zeros(1)
    return binid, bsnr


def bin_average(values, weights, binid):
    """Weighted mean of ``values`` per bin, broadcast back to the spaxels of each bin."""
    flat = binid.ravel()
    inb = flat >= 0
    nb = flat[inb].max() + 1 if inb.any() else 0
    out = np.full(values.size, np.nan)
    if nb:
        w = weights.ravel()[inb]
        s = np.bincount(flat[inb], weights=w * values.ravel()[inb], minlength=nb)
        ws = np.bincount(flat[inb], weights=w, minlength=nb)
        out[inb] = (s / np.maximum(ws, 1e-30))[flat[inb]]
    return out.reshape(values.shape)


def holes(rng, x, y, n, rmin, rmax, rlim):
    """Boolean map of n random circular holes (centres within radius rlim)."""
    m = np.zeros(x.shape, bool)
    centres = []
    for _ in range(n):
        rr = rlim * np.sqrt(rng.uniform(0.05, 1))
        a = rng.uniform(0, 2 * np.pi)
        cx, cy, rad = rr * np.cos(a), rr * np.sin(a), rng.uniform(rmin, rmax)
        m |= np.hypot(x - cx, y - cy) < rad
        centres.append((cx, cy, rad))
    return m, centres


# ----------------------------------------------------------------------------- the model
def make_maps(g: Galaxy, rng: np.random.Generator) -> dict:
    """All maps of one galaxy, ready for :func:`kinview.data.maps_writer.write_maps`.

    Returns a dict with the writer's keyword arguments plus ``lambda_re`` (observed λRₑ from
    the noise-free model V, σ and flux inside the half-light ellipse), ``stars`` (foreground
    stars placed in the IFU, for the image) and ``neighbour`` (the merger companion, if any).
    """
    n = IFU_GRID[g.ifudesignsize]
    x, y = sky_grid(n)
    cover = hexagon(x, y, IFU_DIAMETER[g.ifudesignsize])
    psf_pix = PSF_FWHM_MAPS / 2.3548 / SPAXEL
    re = g.re_arcsec
    inc = g.inclination
    sini = np.sin(np.radians(inc))
    extras = {}

    bulge, disk = light(x, y, g)
    flux = bulge + disk
    # reference surface brightness at 1 Re on the major axis
    b_re, d_re = light(np.array([re * np.sin(np.radians(g.phi))]),
                       np.array([re * np.cos(np.radians(g.phi))]), g)
    f_re = float(b_re[0] + d_re[0])

    # ---------------------------------------------------------------- stellar velocity
    scen = g.stel_scenario
    rt = 0.25 * re + 0.5
    pa_map = np.full(x.shape, g.stellar_pa)
    if g.stel_feature == 2:                       # warp: PA twists outside ~0.7 Re
        twist = rng.uniform(15, 35) * rng.choice([-1, 1]) * (0.5 if g.stel_qual == 2 else 1)
        r0, _ = disk_coords(x, y, g.stellar_pa, inc)
        pa_map = g.stellar_pa + twist * np.clip((r0 - 0.7 * re) / (1.5 * re), 0, 1)
        extras["warp_deg"] = float(twist)
    r_d, cth = disk_coords(x, y, pa_map, inc)
    vstar_max = g.k_rot * g.vc
    v = rotation(r_d, vstar_max, rt) * sini * cth
    if g.stel_feature == 1:                       # KDC: counter/orthogonal rotating core
        dpa = rng.choice([180.0, rng.uniform(60, 120)])
        rk = max(0.25 * re, 1.5)
        r_k, cth_k = disk_coords(x, y, g.stellar_pa + dpa, inc)
        vk = rotation(r_k, rng.uniform(40, 90), 0.3 * rk) * sini * cth_k
        w = 1.0 / (1.0 + np.exp((r_k - rk) / 0.4))
        v = v * (1 - w) + vk * w
        extras["kdc_dpa"] = float(dpa)
        extras["kdc_radius"] = float(rk)
    rr = ellipse_radius(x, y, g.phi, g.ba)
    sig = np.maximum(g.sigma0 * (1 + rr / max(0.5 * re, 0.5)) ** -0.45, 35.0)
    if scen == "irregular" and g.stel_feature == 0:
        v = v + 0.25 * vstar_max * sini * smooth_field(rng, x.shape, 4.0)
    if scen == "chaotic":
        v = rng.uniform(30, 70) * smooth_field(rng, x.shape, rng.uniform(1.5, 3.0)) + \
            0.15 * v
    neighbour = None
    flux_tot = flux.copy()
    if g.stel_feature == 3:
        strong = scen == "merger"
        d = rng.uniform(3, 7) if strong else rng.uniform(0.55, 0.8) * \
            IFU_DIAMETER[g.ifudesignsize] / 2
        a = rng.uniform(0, 2 * np.pi)
        cx, cy = d * np.sin(a), d * np.cos(a)
        ratio = rng.uniform(0.5, 1.3) if strong else rng.uniform(0.1, 0.3)
        re2 = re * rng.uniform(0.4, 0.8)
        pa2 = rng.uniform(0, 360)
        ba2 = rng.uniform(0.35, 0.9)
        dv = rng.uniform(80, 350) * rng.choice([-1, 1])
        f2 = sersic_sb(ellipse_radius(x - cx, y - cy, pa2, ba2), re2, 1.5, ratio, ba2)
        r2, c2 = disk_coords(x - cx, y - cy, pa2, np.degrees(np.arccos(ba2)))
        v2 = dv + rotation(r2, rng.uniform(80, 200), 1.0) * np.sqrt(1 - ba2 ** 2) * c2
        if strong:   # tidal disturbance of the primary
            v = 0.3 * v + rng.uniform(70, 130) * smooth_field(rng, x.shape, rng.uniform(1.5, 3.0))
        w2 = f2 / (flux + f2)
        vmix = v * (1 - w2) + v2 * w2
        sig = np.sqrt(sig ** 2 * (1 - w2) + 70.0 ** 2 * w2 + w2 * (1 - w2) * (v - v2) ** 2)
        v = vmix
        flux_tot = flux + f2
        neighbour = dict(x=float(cx), y=float(cy), ratio=float(ratio), re=float(re2),
                         pa=float(pa2), ba=float(ba2), dv=float(dv))

    v_obs, sig_obs, _ = beam_smear(flux_tot, v, sig, psf_pix)

    # λRe of the model itself (noise-free, beam-smeared V and σ; flux; half-light ellipse)
    re_half = g.re_arcsec
    inside = cover & (rr <= re_half)
    if inside.sum() < 5:
        inside = cover & (rr <= np.sort(rr[cover])[min(20, cover.sum() - 1)])
    wgt = flux_tot[inside] * rr[inside]
    lam = float(np.sum(wgt * np.abs(v_obs[inside])) /
                np.sum(wgt * np.sqrt(v_obs[inside] ** 2 + sig_obs[inside] ** 2)))

    # ---------------------------------------------------------------- S/N, bins, noise
    fr = flux_tot / f_re
    snr = g.snr_scale * fr / np.sqrt((fr + 0.3) / 1.3)
    if scen == "tiny":
        snr = np.where(rr < rng.uniform(1.5, 2.5), np.maximum(snr, 12.0), np.minimum(snr, 0.5))
    snr = np.where(cover, snr, 0.0)
    if g.stel_qual >= 1:
        # usable fields cover a good part of the IFU (a human would not call a sliver usable)
        want = 0.45 if g.stel_qual == 2 else 0.3
        for _ in range(8):
            if (snr[cover] >= 1.0).mean() >= want:
                break
            snr = snr * 1.6
    binid, bsnr = block_binning(snr, cover)
    inbin = binid >= 0
    v_bin = bin_average(v_obs, flux_tot, binid)
    s_bin = bin_average(sig_obs, flux_tot, binid)
    bin_snr = np.where(inbin, bsnr[np.maximum(binid, 0)], 0.0)
    seff = np.sqrt(s_bin ** 2 + 40.0 ** 2)
    err_scale = {"noisy": 1.7, "lowsn": 3.0, "weak": 1.4, "faceon": 1.3,
                 "tiny": 2.5}.get(scen, 1.0)
    ev = np.where(inbin, np.maximum(1.1 * seff / np.maximum(bin_snr, 0.1), 2.0) * err_scale,
                  np.inf)
    es = ev * 1.3
    # one noise draw per bin (repeated over its spaxels, as the DAP does)
    nb = int(binid.max()) + 1 if inbin.any() else 0
    z_v = rng.standard_t(6, size=max(nb, 1)) * 0.9
    z_s = rng.normal(size=max(nb, 1))
    out_frac = {"clean": 0.003, "noisy": 0.05, "patchy": 0.03, "weak": 0.03,
                "irregular": 0.03, "lowsn": 0.2, "chaotic": 0.08,
                "tiny": 0.1}.get(scen, 0.02)
    bad = rng.random(max(nb, 1)) < out_frac
    z_v = np.where(bad, rng.uniform(-6, 6, size=max(nb, 1)), z_v)
    bidx = np.maximum(binid, 0)
    vel = np.where(inbin, v_bin + ev * z_v[bidx], np.nan)
    s_obs_raw = np.sqrt(s_bin ** 2 + SIGMA_CORR_STAR ** 2)
    sigma = np.where(inbin, np.abs(s_obs_raw + es * z_s[bidx]), np.nan)

    mask = np.zeros(x.shape, np.int32)
    mask[~cover] = NOCOV | DONOTUSE
    mask[cover & ~inbin] = NOVALUE | DONOTUSE
    stars = []
    if scen == "patchy":
        diam = IFU_DIAMETER[g.ifudesignsize]
        hm, centres = holes(rng, x, y, int(rng.integers(3, 7)), 0.05 * diam, 0.1 * diam,
                            diam / 2 * 0.8)
        mask[hm & cover] |= UNRELIABLE | DONOTUSE
        # one of them is a foreground star
        cx, cy, rad = centres[0]
        star = np.hypot(x - cx, y - cy) < rad + 0.5
        mask[star & cover] |= FORESTAR | DONOTUSE
        stars.append(dict(x=float(cx), y=float(cy), mag=float(rng.uniform(16, 18.5))))
    if scen in ("lowsn",):
        mask[cover & inbin & (rng.random(x.shape) < 0.15)] |= UNRELIABLE | DONOTUSE
    good = mask == 0
    ivar = np.where(good & np.isfinite(ev), 1.0 / np.where(np.isfinite(ev), ev, 1) ** 2, 0.0)
    sivar = np.where(good & np.isfinite(es), 1.0 / np.where(np.isfinite(es), es, 1) ** 2, 0.0)
    vel = np.where(good, vel, 0.0)
    sigma = np.where(good, sigma, 0.0)

    # ---------------------------------------------------------------- gas (Hα, per spaxel)
    gas = make_gas(g, rng, x, y, cover, flux, f_re, psf_pix, inc, re, neighbour, v, sig)

    mflux_unit = 2.0 / f_re       # SPX_MFLUX ~ 2e-17 erg/s/cm²/Å/spaxel at 1 Re
    spx_mflux = np.where(cover, flux_tot * mflux_unit, 0.0)
    spx_ivar = np.where(cover, (snr / np.maximum(spx_mflux, 1e-6)) ** 2, 0.0)
    out = dict(x=x, y=y, stellar_vel=vel, stellar_vel_ivar=ivar, stellar_vel_mask=mask,
               stellar_sigma=sigma, stellar_sigma_ivar=sivar, stellar_sigma_mask=mask.copy(),
               stellar_sigmacorr=np.where(cover, SIGMA_CORR_STAR, 0.0),
               spx_mflux=spx_mflux, spx_mflux_ivar=spx_ivar, spx_snr=snr,
               binid_stellar=binid, lambda_re=lam, stars=stars, neighbour=neighbour,
               extras=extras)
    out.update(gas)
    return out


def make_gas(g, rng, x, y, cover, flux, f_re, psf_pix, inc, re, neighbour, v_star, sig_star):
    """Hα velocity, dispersion and flux maps (per spaxel, as in the DAP's HYB scheme)."""
    scen = g.gas_scenario
    sini = np.sin(np.radians(inc))
    rd_g = 1.25 * re / 1.678
    rr = ellipse_radius(x, y, g.phi, g.ba)
    fha = np.exp(-rr / rd_g)
    clump_amp = {"clean": 0.25, "patchy": 0.8, "noisy": 0.4, "warp": 0.3}.get(scen, 0.5)
    fha = fha * np.exp(clump_amp * smooth_field(rng, x.shape, 2.0))
    pa_map = np.full(x.shape, g.gas_pa)
    if g.halpha_feature == 2:
        twist = rng.uniform(20, 40) * rng.choice([-1, 1])
        r0, _ = disk_coords(x, y, g.gas_pa, inc)
        pa_map = g.gas_pa + twist * np.clip((r0 - 0.6 * re) / (1.4 * re), 0, 1)
    r_d, cth = disk_coords(x, y, pa_map, inc)
    v = rotation(r_d, g.vc, 0.15 * re + 0.5) * sini * cth
    sg = 25.0 + 10 * np.exp(-rr / max(re, 1))
    if scen == "norotation" or (scen == "merger"):
        v = rng.uniform(30, 70) * smooth_field(rng, x.shape, rng.uniform(1.2, 2.5)) + 0.1 * v
        sg = sg + 40
    if scen == "depleted":          # gas only in a few clumps or a ring
        keep = smooth_field(rng, x.shape, 2.5) > rng.uniform(1.2, 1.8)
        fha = np.where(keep, fha, fha * 0.02)
    if scen == "poor":
        fha = fha * 0.05
    if scen == "biased":            # gas in a one-sided wedge only
        a = rng.uniform(0, 360)
        ang = np.degrees(np.arctan2(x, y))
        wedge = np.abs((ang - a + 180) % 360 - 180) < rng.uniform(30, 55)
        fha = np.where(wedge & (np.hypot(x, y) > 1.0), fha, fha * 0.01)
    if neighbour is not None and scen == "merger":
        nb = neighbour
        fha = fha + nb["ratio"] * np.exp(-np.hypot(x - nb["x"], y - nb["y"]) / 2.0)
    v_obs, sg_obs, _ = beam_smear(np.maximum(fha, 1e-6), v, sg, psf_pix)
    fref = np.exp(-1.0 / 1.25 * 1.678)   # Hα surface brightness at 1 Re (before clumps)
    fr = fha / fref
    snr = g.gas_snr_scale * fr / np.sqrt((fr + 0.3) / 1.3)
    snr = np.where(cover, snr, 0.0)
    fitted = cover & (snr >= 2.0)
    ev = np.where(fitted, np.maximum(35.0 / np.maximum(snr, 0.1), 2.0), np.inf)
    if scen == "noisy":
        ev = ev * 1.5
    if scen == "lowsn":
        ev = ev * 2.0
    zz = rng.standard_t(5, size=x.shape)
    bad = rng.random(x.shape) < {"clean": 0.003, "patchy": 0.03, "noisy": 0.05}.get(scen, 0.04)
    zz = np.where(bad, rng.uniform(-8, 8, size=x.shape), zz)
    vel = np.where(fitted, v_obs + ev * zz, 0.0)
    inst = 65.0 + 3.0 * (x / 10.0)
    gsig = np.where(fitted, np.sqrt(sg_obs ** 2 + inst ** 2) + 1.3 * ev * rng.normal(size=x.shape), 0)
    mask = np.zeros(x.shape, np.int32)
    mask[~cover] = NOCOV | DONOTUSE
    mask[cover & ~fitted] = NOVALUE | DONOTUSE
    good = mask == 0
    ivar = np.where(good, 1.0 / np.where(np.isfinite(ev), ev, 1) ** 2, 0.0)
    flux_unit = 3.0 / fref
    gflux = np.where(cover, fha * flux_unit + rng.normal(size=x.shape) * flux_unit * fref /
                     np.maximum(g.gas_snr_scale, 0.5), 0.0)
    gflux_ivar = np.where(cover, (g.gas_snr_scale / (flux_unit * fref)) ** 2, 0.0)
    binid_gas = np.where(good, np.cumsum(good.ravel()).reshape(x.shape) - 1, -1)
    return dict(gas_vel=vel, gas_vel_ivar=ivar, gas_vel_mask=mask,
                gas_sigma=np.abs(gsig), gas_sigma_ivar=ivar / 1.7, gas_sigma_mask=mask.copy(),
                gas_instsigma=np.where(cover, inst, 0.0), gas_flux=gflux,
                gas_flux_ivar=gflux_ivar, gas_flux_mask=np.where(cover, 0, NOCOV | DONOTUSE),
                binid_gas=binid_gas)
