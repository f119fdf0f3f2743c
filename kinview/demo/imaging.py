"""SDSS-like gri colour cutouts of synthetic galaxies (256×256 px, 0.25″/px, North up, East left).

Each band is a Sérsic bulge + exponential disk (+ a two-armed spiral pattern for star-forming
disks) with the galaxy's axis ratio and PA, its apparent brightness from a mass-to-light
relation and the luminosity distance, rest-frame colours reddened by a simple k-correction
(so redshift changes size, surface brightness *and* colour), convolved with a ~1.4″ PSF, plus
sky noise, foreground stars, faint background galaxies and, for mergers, the companion.  The
colour image uses the asinh stretch of Lupton et al. (2004).

Array row 0 is the North (top) edge and column 0 the East (left) edge.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from kinview.demo.kinematics_model import components, ellipse_radius, sersic_sb
from kinview.demo.population import Galaxy, angular_diameter_distance_kpc

SIZE = 256
SCALE = 0.25                       # arcsec per pixel
SKY_NOISE = {"g": 0.0045, "r": 0.0060, "i": 0.0085}   # nanomaggies per pixel
PIX_AREA = SCALE ** 2


def image_grid(size: int = SIZE, scale: float = SCALE):
    """Pixel offsets: x East (decreasing with column: East left), y North (row 0 = North)."""
    r, c = np.mgrid[:size, :size].astype(np.float32)
    h = (size - 1) / 2.0
    return -(c - h) * np.float32(scale), -(r - h) * np.float32(scale)


_GRID = image_grid()


def _window(cx, cy, half_arcsec):
    """Row/column slices of the image around sky offset (cx, cy)."""
    h = (SIZE - 1) / 2.0
    col = h - cx / SCALE
    row = h - cy / SCALE
    w = int(half_arcsec / SCALE) + 1
    r0, r1 = max(int(row) - w, 0), min(int(row) + w + 1, SIZE)
    c0, c1 = max(int(col) - w, 0), min(int(col) + w + 1, SIZE)
    if r0 >= r1 or c0 >= c1:
        return None
    return slice(r0, r1), slice(c0, c1)


def apparent_r_mag(g: Galaxy) -> float:
    """r-band apparent magnitude from stellar mass, colour (M/L) and luminosity distance."""
    dl_mpc = angular_diameter_distance_kpc(g.z) / 1e3 * (1 + g.z) ** 2
    colour = g.bulge_frac * 0.78 + (1 - g.bulge_frac) * g.color_disk
    m_abs = -20.9 - 1.9 * (g.log_mass - 10.5) + 1.1 * (colour - 0.65)
    return float(m_abs + 5 * np.log10(dl_mpc * 1e5))


def _band_colours(g: Galaxy):
    """Flux ratios g/r and i/r of bulge, disk and arms, observed frame (k-corrected)."""
    kz = g.z
    gr_b = 0.78 + 2.0 * kz
    gr_d = g.color_disk + 1.2 * kz
    gr_a = max(g.color_disk - 0.35, 0.05) + 0.8 * kz
    ri = lambda gr: 0.12 + 0.35 * gr + 0.6 * kz  # noqa: E731
    out = {}
    for name, gr in (("bulge", gr_b), ("disk", gr_d), ("arms", gr_a)):
        out[name] = (10 ** (-0.4 * gr), 10 ** (0.4 * ri(gr)))
    return out


def _star(x, y, cx, cy, flux, fwhm):
    s = fwhm / 2.3548
    core = np.exp(-0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / s ** 2) / (2 * np.pi * s ** 2)
    wing = np.exp(-0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / (3 * s) ** 2) / (2 * np.pi * 9 * s ** 2)
    return flux * (0.9 * core + 0.1 * wing) * PIX_AREA


def render(g: Galaxy, rng: np.random.Generator, neighbour=None, stars=()) -> np.ndarray:
    """The colour cutout of one galaxy as uint8 (256, 256, 3) RGB.

    Parameters
    ----------
    neighbour : dict, optional
        Merger companion from the maps model (offsets x, y in arcsec, flux ratio, re, pa, ba).
    stars : list of dict
        Foreground stars that the maps masked (x, y in arcsec, r magnitude).
    """
    x, y = _GRID
    total = 10 ** (-0.4 * (apparent_r_mag(g) - 22.5))            # nanomaggies
    c = components(g)
    rb = ellipse_radius(x, y, g.phi, c["ba_b"])
    rd = ellipse_radius(x, y, g.phi, c["ba_d"])
    bulge = sersic_sb(rb, c["re_b"], c["n_b"], g.bulge_frac, c["ba_b"]) * PIX_AREA * total
    disk = sersic_sb(rd, c["re_d"], 1.0, 1.0 - g.bulge_frac, c["ba_d"]) * PIX_AREA * total
    arms = np.zeros_like(disk)
    if g.sfr_arms > 0:
        p = np.radians(g.phi)
        along = x * np.sin(p) + y * np.cos(p)
        across = (-x * np.cos(p) + y * np.sin(p)) / max(c["ba_d"], 0.1)
        theta = np.arctan2(across, along)
        rr = np.hypot(along, across) + 0.1
        pitch = np.radians(rng.uniform(12, 25))
        phase = rng.uniform(0, 2 * np.pi)
        pattern = np.cos(2 * (theta - np.log(rr) / np.tan(pitch)) + phase)
        knots = np.exp(0.6 * ndimage.gaussian_filter(rng.normal(size=x.shape), 2.0) * 3)
        arms = g.sfr_arms * disk * np.clip(pattern, 0, None) ** 2 * knots * \
            (1 - np.exp(-(rr / (0.5 * c["re_d"])) ** 2))
        disk = disk * (1 - 0.5 * g.sfr_arms)
    col = _band_colours(g)
    bands = {}
    for k, band in enumerate("gri"):
        f = 0
        for name, comp in (("bulge", bulge), ("disk", disk), ("arms", arms)):
            gr, ir = col[name]
            f = f + comp * (gr if band == "g" else ir if band == "i" else 1.0)
        bands[band] = np.asarray(f, np.float32)
    # companion (mergers/neighbours): a second, slightly redder galaxy
    if neighbour is not None:
        nb = neighbour
        rn = ellipse_radius(x - nb["x"], y - nb["y"], nb["pa"], nb["ba"])
        comp = sersic_sb(rn, nb["re"], 1.5, nb["ratio"], nb["ba"]) * PIX_AREA * total
        # a faint tidal feature between them
        tail = 0.04 * total * PIX_AREA * np.exp(
            -0.5 * (np.hypot(x - nb["x"] * 1.6, y - nb["y"] * 0.4) / (1.5 * nb["re"])) ** 2) / \
            (2 * np.pi * (1.5 * nb["re"]) ** 2)
        for band, fac in (("g", 0.45), ("r", 1.0), ("i", 1.35)):
            bands[band] = bands[band] + (comp + tail) * fac
    # faint background galaxies
    for _ in range(int(rng.poisson(2.0))):
        cx, cy = rng.uniform(-30, 30, 2)
        re_bg = rng.uniform(0.5, 1.5)
        ba_bg = rng.uniform(0.3, 1)
        flux_bg = 10 ** (-0.4 * (rng.uniform(19.5, 22.5) - 22.5))
        pa_bg = rng.uniform(0, 180)
        gr = rng.uniform(0.5, 1.4)
        win = _window(cx, cy, 8 * re_bg)
        if win is None:
            continue
        comp = sersic_sb(ellipse_radius(x[win] - cx, y[win] - cy, pa_bg, ba_bg), re_bg, 1.0,
                         flux_bg, ba_bg) * PIX_AREA
        for band, fac in (("g", 10 ** (-0.4 * gr)), ("r", 1.0), ("i", 10 ** (0.4 * 0.4 * gr))):
            bands[band][win] += comp * fac
    # PSF (SDSS ~1.4″ FWHM, a bit worse in g)
    fwhm = {"g": 1.5, "r": 1.35, "i": 1.3}
    for band in "gri":
        bands[band] = ndimage.gaussian_filter(bands[band], fwhm[band] / 2.3548 / SCALE)
    # foreground stars: the ones the maps masked plus random ones outside the galaxy
    allstars = list(stars)
    for _ in range(int(rng.poisson(0.8))):
        cx, cy = rng.uniform(-30, 30, 2)
        if np.hypot(cx, cy) < 2 * g.re_arcsec:
            continue
        allstars.append(dict(x=float(cx), y=float(cy), mag=float(rng.uniform(15.5, 21))))
    for s in allstars:
        flux = 10 ** (-0.4 * (s["mag"] - 22.5))
        gr = rng.uniform(0.3, 1.3)
        win = _window(s["x"], s["y"], 6.0)
        if win is None:
            continue
        for band, fac in (("g", 10 ** (-0.4 * gr)), ("r", 1.0), ("i", 10 ** (0.4 * 0.35 * gr))):
            bands[band][win] += _star(x[win], y[win], s["x"], s["y"], flux * fac, fwhm[band])
    for band in "gri":
        bands[band] = bands[band] + rng.normal(0, SKY_NOISE[band], size=x.shape).astype(np.float32)
    return asinh_rgb(bands["i"], bands["r"], bands["g"])


def asinh_rgb(i, r, g, q: float = 8.0, stretch: float = 0.22, scales=(0.9, 1.15, 1.9)):
    """Lupton et al. (2004) asinh colour composite (R = i, G = r, B = g), uint8."""
    rr = np.asarray(i, np.float32) * np.float32(scales[0])
    gg = np.asarray(r, np.float32) * np.float32(scales[1])
    bb = np.asarray(g, np.float32) * np.float32(scales[2])
    inten = np.maximum((rr + gg + bb) / np.float32(3.0), np.float32(1e-12))
    fac = np.arcsinh(inten * np.float32(q / stretch)) / (np.float32(q) * inten)
    mx = np.maximum(np.maximum(rr, gg), bb) * fac
    fac = fac / np.maximum(mx, np.float32(1.0))          # keep the hue where saturated
    out = np.empty(rr.shape + (3,), np.uint8)
    for k, band in enumerate((rr, gg, bb)):
        out[..., k] = np.clip(band * fac * np.float32(255) + np.float32(0.5), 0, 255)
    return out
