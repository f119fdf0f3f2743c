"""Synthetic galaxy-cluster maps for the ``darkmatter`` task (``kinview demo-clusters``).

Each cluster is a triaxial dark-matter halo with a *pseudo-cored* NFW profile,

    rho(m) = rho_s / ( sqrt(m^2 + r_c^2) / r_s * (1 + m / r_s)^2 ),

where ``m`` is the ellipsoidal radius and ``r_c`` the core radius.  Self-interacting dark
matter (SIDM) thermalises the inner halo: the core grows and the centre becomes rounder with
the cross-section sigma/m.  Four models are drawn in equal numbers:

=========  ===================  =====================================
class      sigma/m (cm^2/g)     core radius r_c (kpc, M200 = 1e15 Msun)
=========  ===================  =====================================
CDM        0                    0
SIDM0.1    0.1                  ~30
SIDM0.3    0.3                  ~58
SIDM1      1                    ~120
=========  ===================  =====================================

(r_c scales as (M200 / 1e15 Msun)^0.25 with 0.15 dex scatter, so neighbouring classes overlap
as in the hydrodynamical simulations darkCNN was trained on).  The centre is rounder in SIDM:
axis ratios q -> q + (1 - q) w(r), w = s(sigma) / (1 + (r / 3 r_c)^2), s = 0.6 sqrt(sigma).

Maps are 50 x 50 pixels of 40 kpc (2 Mpc on a side, physical units), centred on the halo,
with three channels in darkCNN's order:

0. ``mass``    total projected mass Sigma (dark matter + gas + stars), Msun / kpc^2, with
               lensing-reconstruction-like Gaussian noise;
1. ``xray``    X-ray surface brightness, proportional to the line-of-sight integral of the gas
               density squared (beta model, beta = 2/3, core 0.08 r200 + r_c / 2, rounder than
               the halo: gas follows the potential), arbitrary units scaled as L_X ~ M^1.5,
               Poisson-like noise; much more concentrated than the mass;
2. ``stellar`` projected stellar mass, Msun / kpc^2: a brightest cluster galaxy (BCG; de
               Vaucouleurs-like, its shape follows the projected inner halo, offset from the
               centre by a "wobble" growing with sigma/m) plus member galaxies that sample the
               projected halo, plus faint intracluster light.

Every cluster is seen in :data:`PROJECTIONS_PER_CLUSTER` orthogonal projections (one
``clusterID``; splits keep a cluster's projections together), at one of the redshift slices
:data:`REDSHIFTS` (the concentration evolves as (1+z)^-0.47 and r200 with rho_crit(z)), with
M200 log-uniform in [1e14, 1e15] Msun.

Attributes (one row per map, consistent with the maps): ``clusterID``, ``projection``,
``label`` (class name), ``cross_section`` (cm^2/g), ``redshift``, ``mass`` (M200, Msun),
``xrayConc`` (X-ray flux within 100 kpc over flux within 400 kpc of the noiseless map centre),
``BCG_e1``, ``BCG_e2`` (BCG ellipticity e = (1 - q) / (1 + q), e1 = e cos 2phi, e2 = e sin 2phi,
phi counter-clockwise from the +x axis of the map), ``lensing_norm`` (total mass in the map,
Msun) and ``xray_norm`` (total X-ray flux in the map).

The generator is deterministic for a given seed and ``n``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple, Union

import numpy as np

from kinview.clusters.dataset import save_clusters
from kinview.errors import KinviewError
from kinview.progress import NULL_STATE, TaskState

CLASSES: Tuple[str, ...] = ("CDM", "SIDM0.1", "SIDM0.3", "SIDM1")
CROSS_SECTIONS: Tuple[float, ...] = (0.0, 0.1, 0.3, 1.0)          # cm^2 / g
REDSHIFTS: Tuple[float, ...] = (0.0, 0.125, 0.25, 0.375)
CHANNELS: Tuple[str, ...] = ("mass", "xray", "stellar")
PIXEL_KPC = 40.0
MAP_SIZE = 50
PROJECTIONS_PER_CLUSTER = 3
RHO_CRIT0 = 136.0           # Msun / kpc^3 (h = 0.7)
OMEGA_M = 0.3

_SUB = 2                    # sub-pixels per axis (pixel integration)
_NZ = 32                    # line-of-sight nodes


def _rho_crit(z: float) -> float:
    return RHO_CRIT0 * (OMEGA_M * (1 + z) ** 3 + 1 - OMEGA_M)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3D rotation matrix (QR of a Gaussian matrix)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _sky_grid() -> Tuple[np.ndarray, np.ndarray]:
    """Sub-pixel centre coordinates (kpc) of the map, shape (MAP_SIZE*_SUB,)*2."""
    n = MAP_SIZE * _SUB
    c = (np.arange(n) + 0.5) / _SUB * PIXEL_KPC - MAP_SIZE * PIXEL_KPC / 2
    return np.meshgrid(c, c, indexing="xy")   # x along columns, y along rows


def _los_nodes(zmax: float) -> Tuple[np.ndarray, np.ndarray]:
    """Line-of-sight nodes (kpc) clustered near the plane of the sky, with trapezoid weights."""
    z0 = 25.0
    t = np.linspace(-np.arcsinh(zmax / z0), np.arcsinh(zmax / z0), _NZ)
    z = z0 * np.sinh(t)
    dz = np.gradient(z)
    return z, dz


def _bin(sub: np.ndarray) -> np.ndarray:
    n = MAP_SIZE
    return sub.reshape(n, _SUB, n, _SUB).mean(axis=(1, 3))


def _los_points(basis: np.ndarray, zmax: float) -> Tuple[np.ndarray, np.ndarray]:
    """Halo-frame points (ny, nx, nz, 3) kpc along each sub-pixel's line of sight, and dz.

    ``basis`` columns are the sky x, sky y and line-of-sight unit vectors in the halo frame.
    """
    x, y = _sky_grid()
    zl, dz = _los_nodes(zmax)
    p = (x[..., None, None] * basis[:, 0] + y[..., None, None] * basis[:, 1]
         + zl[:, None] * basis[:, 2])
    return p, dz


def _integrate(rho: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """Line-of-sight integral of ``rho`` (ny, nx, nz), binned to (MAP_SIZE, MAP_SIZE)."""
    return _bin(rho @ dz)


def _shape_moments(img: np.ndarray, rmax_kpc: float, centre=(0.0, 0.0)) -> Tuple[float, float]:
    """Axis ratio q and angle phi (rad, CCW from +x) from second moments within rmax."""
    c = (np.arange(MAP_SIZE) + 0.5) * PIXEL_KPC - MAP_SIZE * PIXEL_KPC / 2
    x, y = np.meshgrid(c - centre[0], c - centre[1], indexing="xy")
    w = np.where(x ** 2 + y ** 2 < rmax_kpc ** 2, np.clip(img, 0, None), 0.0)
    s = w.sum()
    if s <= 0:
        return 1.0, 0.0
    qxx, qyy, qxy = (w * x * x).sum() / s, (w * y * y).sum() / s, (w * x * y).sum() / s
    tr = qxx + qyy
    det = np.sqrt(max((qxx - qyy) ** 2 + 4 * qxy ** 2, 0.0))
    l1, l2 = (tr + det) / 2, max((tr - det) / 2, 1e-12)
    return float(np.sqrt(l2 / l1)), float(0.5 * np.arctan2(2 * qxy, qxx - qyy))


def _deposit(img: np.ndarray, xk: np.ndarray, yk: np.ndarray, values: np.ndarray) -> None:
    """Add point masses at (xk, yk) kpc to ``img`` (Msun / kpc^2) by bilinear (cloud-in-cell) deposit."""
    fx = (xk + MAP_SIZE * PIXEL_KPC / 2) / PIXEL_KPC - 0.5
    fy = (yk + MAP_SIZE * PIXEL_KPC / 2) / PIXEL_KPC - 0.5
    i0, j0 = np.floor(fy).astype(int), np.floor(fx).astype(int)
    wy, wx = fy - i0, fx - j0
    area = PIXEL_KPC ** 2
    for di, dj, wgt in ((0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx),
                        (1, 0, wy * (1 - wx)), (1, 1, wy * wx)):
        ii, jj = i0 + di, j0 + dj
        ok = (ii >= 0) & (ii < MAP_SIZE) & (jj >= 0) & (jj < MAP_SIZE)
        np.add.at(img, (ii[ok], jj[ok]), values[ok] * wgt[ok] / area)


def _one_cluster(rng: np.random.Generator, class_index: int, z: float, cluster_id: int):
    """Maps (nproj, 50, 50, 3) float32 and attribute dicts for one cluster."""
    sigma = CROSS_SECTIONS[class_index]
    m200 = 10 ** rng.uniform(14.0, 15.0)
    r200 = (3 * m200 / (4 * np.pi * 200 * _rho_crit(z))) ** (1 / 3)
    conc = 5.7 * (m200 / 2e12) ** -0.084 * (1 + z) ** -0.47 * 10 ** rng.normal(0, 0.11)
    rs = r200 / conc
    rho_s = m200 / (4 * np.pi * rs ** 3 * (np.log(1 + conc) - conc / (1 + conc)))
    rc = (120.0 * sigma ** 0.6 * (m200 / 1e15) ** 0.25 * 10 ** rng.normal(0, 0.15)) if sigma > 0 else 0.0
    round_s = 0.6 * np.sqrt(sigma)
    q_b = rng.uniform(0.55, 0.85)
    q_c = q_b * rng.uniform(0.65, 0.92)
    orient = _random_rotation(rng)     # columns: view frame axes in the halo frame
    zmax = 2.5 * r200

    def dm_density(p):
        r = np.sqrt((p ** 2).sum(-1))
        if rc > 0:
            w = round_s / (1 + (r / (3 * rc)) ** 2)
            qb = q_b + (1 - q_b) * w
            qc = q_c + (1 - q_c) * w
        else:
            qb, qc = q_b, q_c
        m = np.sqrt(p[..., 0] ** 2 + (p[..., 1] / qb) ** 2 + (p[..., 2] / qc) ** 2)
        return rho_s / (np.sqrt(m ** 2 + rc ** 2 + 1.0) / rs * (1 + m / rs) ** 2)

    rc_gas = 0.08 * r200 + 0.5 * rc
    gq_b, gq_c = np.sqrt(q_b), np.sqrt(q_c)      # gas traces the (rounder) potential

    def gas_density(p):
        m2 = p[..., 0] ** 2 + (p[..., 1] / gq_b) ** 2 + (p[..., 2] / gq_c) ** 2
        return 1.0 / (1 + m2 / rc_gas ** 2)      # beta = 2/3: (1 + x^2)^(-3 beta / 2)

    f_gas = 0.12
    lx_scale = (m200 / 1e14) ** 1.5
    maps, attrs = [], []
    c = (np.arange(MAP_SIZE) + 0.5) * PIXEL_KPC - MAP_SIZE * PIXEL_KPC / 2
    gx, gy = np.meshgrid(c, c, indexing="xy")
    rr = np.hypot(gx, gy)
    for k in range(PROJECTIONS_PER_CLUSTER):
        basis = np.roll(orient, -k, axis=1)      # LOS = view axis k
        pts, dz = _los_points(basis, zmax)
        sigma_dm = _integrate(dm_density(pts), dz)                       # Msun / kpc^2
        rho_gas = gas_density(pts)
        gas_col = _integrate(rho_gas, dz)
        sigma_gas = f_gas * sigma_dm.sum() / max(gas_col.sum(), 1e-30) * gas_col
        xray = _integrate(rho_gas * rho_gas, dz)
        xray = lx_scale * xray / max(xray.sum(), 1e-30) * 1e4          # map total ~1e4 L_X units

        # stellar channel: BCG shaped like the inner projected halo + members + ICL
        q_in, phi_in = _shape_moments(sigma_dm, 250.0)
        q_bcg = float(np.clip(q_in ** 0.8 * rng.uniform(0.85, 1.0), 0.3, 1.0))
        phi_bcg = phi_in + np.deg2rad(rng.normal(0, 10))
        wobble = 4.0 + 25.0 * np.sqrt(sigma)                           # kpc
        bx, by = rng.normal(0, wobble, 2)
        re_bcg = 30.0 * (m200 / 1e15) ** 0.3
        m_bcg = 1.0e12 * (m200 / 1e14) ** 0.4
        xs, ys = _sky_grid()
        dx, dy = xs - bx, ys - by
        u = dx * np.cos(phi_bcg) + dy * np.sin(phi_bcg)
        v = -dx * np.sin(phi_bcg) + dy * np.cos(phi_bcg)
        mb = np.sqrt(u ** 2 + (v / q_bcg) ** 2)
        prof = np.exp(-7.669 * ((mb + 1.0) / re_bcg) ** 0.25)
        stellar = _bin(prof)
        stellar *= m_bcg / max(stellar.sum() * PIXEL_KPC ** 2, 1e-30)
        n_mem = rng.poisson(40 * (m200 / 1e14) ** 0.8)
        prob = np.clip(sigma_dm, 0, None).ravel()
        pick = rng.choice(prob.size, size=n_mem, p=prob / prob.sum())
        mx = gx.ravel()[pick] + rng.uniform(-0.5, 0.5, n_mem) * PIXEL_KPC
        my = gy.ravel()[pick] + rng.uniform(-0.5, 0.5, n_mem) * PIXEL_KPC
        _deposit(stellar, mx, my, 10 ** rng.normal(10.5, 0.4, n_mem))
        stellar += 0.004 * sigma_dm                                    # intracluster light

        total = sigma_dm + sigma_gas + stellar
        # xrayConc from the noiseless X-ray map
        x_conc = float(xray[rr < 100.0].sum() / max(xray[rr < 400.0].sum(), 1e-30))
        e = (1 - q_bcg) / (1 + q_bcg)
        lensing_norm = float(total.sum() * PIXEL_KPC ** 2)
        xray_norm = float(xray.sum())
        # noise: lensing reconstruction, X-ray photon counting, stellar photometry
        total = total + rng.normal(0, 0.03 * np.median(total) + 1e6, total.shape)
        counts_per_unit = 10.0
        xray = rng.poisson(np.clip(xray * counts_per_unit, 0, None) + 0.2).astype(np.float64) / counts_per_unit
        stellar = stellar + rng.normal(0, 2e5, stellar.shape)
        maps.append(np.stack([total, xray, stellar], axis=-1).astype(np.float32))
        attrs.append({
            "clusterID": int(cluster_id), "projection": k, "label": CLASSES[class_index],
            "cross_section": float(sigma), "redshift": float(z), "mass": float(m200),
            "xrayConc": x_conc, "BCG_e1": float(e * np.cos(2 * phi_bcg)),
            "BCG_e2": float(e * np.sin(2 * phi_bcg)), "lensing_norm": lensing_norm,
            "xray_norm": xray_norm, "core_kpc": float(rc), "r200_kpc": float(r200),
            "concentration": float(conc),
        })
    return np.stack(maps), attrs


def generate_clusters(n: int = 800, seed: int = 0, state: TaskState = NULL_STATE):
    """Generate ``n`` synthetic cluster maps (balanced over the four dark-matter models).

    Parameters
    ----------
    n : int
        Number of maps (``ceil(n / 3)`` clusters, three projections each; the last cluster
        may contribute fewer).
    seed : int
        Random seed: the same ``(n, seed)`` gives identical maps and attributes.
    state : TaskState
        Progress (one step per cluster) and cancellation.

    Returns
    -------
    maps : float32 ndarray (n, 50, 50, 3)
        Channels ``mass`` (Msun/kpc^2), ``xray`` (arbitrary), ``stellar`` (Msun/kpc^2).
    table : pandas.DataFrame
        One row per map, columns described in the module docstring.
    """
    import pandas as pd

    if n < 1:
        raise KinviewError(f"--n must be at least 1 (got {n})")
    rng = np.random.default_rng(seed)
    n_clusters = -(-n // PROJECTIONS_PER_CLUSTER)
    classes = np.arange(n_clusters) % len(CLASSES)
    rng.shuffle(classes)
    redshifts = rng.choice(REDSHIFTS, size=n_clusters)
    child_seeds = rng.integers(0, 2 ** 63 - 1, size=n_clusters)
    state.set_total(n_clusters)
    all_maps, rows = [], []
    for i in range(n_clusters):
        state.check_cancelled()
        m, a = _one_cluster(np.random.default_rng(int(child_seeds[i])), int(classes[i]),
                            float(redshifts[i]), i)
        all_maps.append(m)
        rows.extend(a)
        state.advance()
    maps = np.concatenate(all_maps)[:n]
    table = pd.DataFrame(rows[:n])
    return maps, table


def write_demo_clusters(out_dir: Union[str, Path], n: int = 800, seed: int = 0,
                        state: TaskState = NULL_STATE) -> Dict[str, object]:
    """Generate clusters and save them in the native format under ``out_dir``.

    Returns a summary dict (``n``, ``clusters``, ``per_class``, ``path``).
    """
    maps, table = generate_clusters(n, seed, state)
    meta = {"source": "kinview demo-clusters", "seed": int(seed), "n": int(n),
            "pixel_kpc": PIXEL_KPC, "channels": list(CHANNELS), "classes": list(CLASSES),
            "cross_sections": list(CROSS_SECTIONS)}
    path = save_clusters(out_dir, maps, table, meta)
    return {"n": int(len(maps)), "clusters": int(table["clusterID"].nunique()),
            "per_class": {c: int((table["label"] == c).sum()) for c in CLASSES},
            "path": str(path)}
