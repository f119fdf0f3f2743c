"""Draw the galaxies of a synthetic MaNGA-like survey (physical and observational parameters).

Every galaxy gets its own random generator seeded by ``(seed, index)``, so a survey is the same
whatever the number of worker processes.  The population is modelled on MaNGA and the MPL-7
kinematic classification catalogue (Duckworth et al. 2020): IFU sizes in MaNGA's proportions
covering ~1.9 Rₑ (primary) or ~2.8 Rₑ (secondary sample), so that redshift (0.01–0.15, median
≈ 0.037) follows from the physical size; a morphology mix from ellipticals to late spirals;
quality/feature/gas-note classes close to the catalogue's proportions (stellar quality 2/1/0
≈ 51/27/22 %, Hα ≈ 43/19/38 %; MPL-7: 54/26/20 and 48/18/35), features (KDC, warp,
merger/neighbour) a few per cent each, gas notes only where the stars are usable and the gas
is not (as in the catalogue); ~12 % of galaxies with usable stars and gas misaligned by more
than 30°, ~4 % counter-rotating.

Each quality class has *scenarios* that decide what the maps show: clean (regular rotation,
S/N ≥ ~18 at Rₑ, ≥ 45 % coverage); messy: noisy / patchy (masked holes, a foreground star) /
weak rotation / irregular (non-circular motions, KDC, warp) / neighbour; do not use: face-on
or slow rotator (noise-dominated), very low S/N, tiny coverage, chaotic, merger.  Gas has its
own (clean, patchy, noisy, warp; depleted, no rotation, biased, gas-poor, low S/N, merger,
face-on).

Angles: position angles in degrees East of North; kinematic PAs point to the receding side,
in [0, 360).  Sizes in arcsec; velocities and dispersions in km/s.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List

import numpy as np

#: IFU bundle sizes, their MAPS grid sizes (spaxels) and hexagon diameters (arcsec).
IFU_GRID = {19: 34, 37: 44, 61: 54, 91: 64, 127: 74}
IFU_DIAMETER = {19: 12.5, 37: 17.5, 61: 22.5, 91: 27.5, 127: 32.5}
#: IFUs per plate (as on a MaNGA plate) -> design numbers 1901-1902, 3701-3704, ...
IFU_PER_PLATE = {19: 2, 37: 4, 61: 4, 91: 2, 127: 5}

#: Morphology name -> (probability, bulge-to-total range, disk thickness q0, gas-rich prob.)
MORPHOLOGIES = {
    "E": (0.17, (0.75, 1.0), 0.65, 0.15),
    "S0": (0.20, (0.35, 0.7), 0.25, 0.35),
    "Sa": (0.20, (0.2, 0.45), 0.2, 0.8),
    "Sb": (0.22, (0.08, 0.3), 0.18, 0.92),
    "Sc": (0.21, (0.0, 0.12), 0.15, 0.97),
}

H0 = 70.0
OMEGA_M = 0.3
C_KMS = 299792.458


def angular_diameter_distance_kpc(z: float) -> float:
    """Angular-diameter distance (kpc) in flat ΛCDM (H0 = 70, Ωm = 0.3)."""
    zz = np.linspace(0.0, z, 64)
    ez = np.sqrt(OMEGA_M * (1 + zz) ** 3 + 1 - OMEGA_M)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 (Marvin env)
    dc = C_KMS / H0 * trapezoid(1.0 / ez, zz)  # Mpc
    return dc / (1 + z) * 1e3


def kpc_per_arcsec(z: float) -> float:
    return angular_diameter_distance_kpc(z) / 206264.806


_Z_GRID = np.linspace(0.002, 0.2, 200)
_KPC_PER_ARCSEC = np.array([kpc_per_arcsec(zz) for zz in _Z_GRID])


@dataclass
class Galaxy:
    """Everything the generator needs to draw one galaxy (and what truth.csv reports)."""

    index: int
    seed: int
    morphology: str
    log_mass: float
    z: float
    re_kpc: float
    re_arcsec: float              # model half-light semi-major axis (updated after imaging)
    bulge_frac: float
    sersic_n_bulge: float
    q0: float
    inclination: float            # degrees, 90 = edge-on
    ba: float
    phi: float                    # photometric major axis, deg E of N, [0, 180)
    ifudesignsize: int
    stellar_pa: float             # receding side, deg E of N, [0, 360)
    gas_pa: float
    vc: float                     # circular speed (km/s)
    k_rot: float                  # stellar rotation / circular speed
    sigma0: float                 # central stellar dispersion (km/s)
    slow_rotator: bool
    gas_rich: bool
    stel_qual: int
    stel_feature: int
    halpha_qual: int
    halpha_feature: int
    halpha_notes: int
    stel_scenario: str
    gas_scenario: str
    snr_scale: float              # stellar S/N at 1 Re
    gas_snr_scale: float          # Hα S/N at 1 Re
    color_disk: float             # g-r of the disk (rest frame)
    sfr_arms: float               # spiral-arm strength (0 = none)
    plate: int = 0
    ifudsgn: int = 0
    objra: float = 0.0
    objdec: float = 0.0
    mangaid: str = ""
    extras: Dict[str, float] = field(default_factory=dict)

    @property
    def plateifu(self) -> str:
        return f"{self.plate}-{self.ifudsgn}"

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("extras")
        d.update(self.extras)
        return d


def _choice(rng, options: Dict[object, float]):
    keys = list(options)
    p = np.array([options[k] for k in keys], float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def draw_galaxy(index: int, seed: int) -> Galaxy:
    """Draw one galaxy's parameters from its own generator ``default_rng([seed, index])``."""
    rng = np.random.default_rng([int(seed), int(index), 7])
    morph = _choice(rng, {k: v[0] for k, v in MORPHOLOGIES.items()})
    _, bt_range, q0, p_gas = MORPHOLOGIES[morph]
    bt = float(rng.uniform(*bt_range))
    early = morph in ("E", "S0")
    log_mass = float(np.clip(rng.normal(10.75 if early else 10.2, 0.5), 9.0, 11.8))
    # redshift rises with mass (MaNGA's luminosity-dependent selection), lognormal scatter
    z = float(np.clip(0.03 * 10 ** (0.3 * (log_mass - 10.3)) * np.exp(rng.normal(0, 0.35)),
                      0.01, 0.15))
    re_kpc = float(10 ** (0.65 + 0.22 * (log_mass - 10.5) - 0.12 * bt + rng.normal(0, 0.12)))
    # IFU sizes in MaNGA's proportions; the bundle covers ~1.9 Re (primary sample) or ~2.8 Re
    # (secondary), which fixes the apparent size and hence the redshift.
    ifu = _choice(rng, {19: 0.11, 37: 0.24, 61: 0.24, 91: 0.12, 127: 0.29})
    secondary = rng.random() < 0.35
    cover = rng.normal(2.8, 0.3) if secondary else rng.normal(1.9, 0.25)
    re_arcsec = float(np.clip(IFU_DIAMETER[ifu] / 2 / max(cover, 1.2), 1.5, 20.0))
    z = float(np.interp(re_kpc / re_arcsec, _KPC_PER_ARCSEC, _Z_GRID))
    z_clipped = float(np.clip(z * np.exp(rng.normal(0, 0.05)), 0.01, 0.15))
    if z_clipped != z:
        z = z_clipped
        re_kpc = re_arcsec * kpc_per_arcsec(z)

    # orientation: random for an oblate body of thickness q0
    cos_i = rng.uniform(0, 1)
    inc = float(np.degrees(np.arccos(cos_i)))
    q0_eff = float(np.clip(q0 + rng.normal(0, 0.05), 0.1, 0.95))
    ba = float(np.sqrt(cos_i ** 2 + q0_eff ** 2 * (1 - cos_i ** 2)))
    phi = float(rng.uniform(0, 180))

    vc = float(10 ** (2.22 + 0.27 * (log_mass - 10.5) + rng.normal(0, 0.04)))
    slow = morph == "E" and rng.random() < 0.35 and log_mass > 10.6
    k_rot = {"E": 0.5, "S0": 0.72, "Sa": 0.8, "Sb": 0.86, "Sc": 0.88}[morph]
    k_rot = float(np.clip(k_rot + rng.normal(0, 0.08 if not early else 0.14), 0.15, 0.97))
    if slow:
        k_rot = float(rng.uniform(0.0, 0.12))
    sigma0 = float(np.clip((60 + 150 * bt) * 10 ** (0.25 * (log_mass - 10.5))
                           * np.exp(rng.normal(0, 0.12)), 40, 320))
    gas_rich = bool(rng.random() < p_gas)
    color_disk = float(np.clip(0.35 + 0.5 * bt + rng.normal(0, 0.07)
                               + (0.2 if not gas_rich else 0.0), 0.2, 0.85))
    sfr_arms = float(0.0 if early else rng.uniform(0.2, 0.6) * (1 - bt))

    # --------------------------------------------------------------- stellar quality & feature
    stel_qual = _choice(rng, {2: 0.58, 1: 0.23, 0: 0.19})
    stel_feature = 0
    r = rng.random()
    if r < 0.03:
        stel_feature = 3                      # merger / neighbour
        stel_qual = 0 if rng.random() < 0.8 else 1
    elif r < 0.05:
        stel_feature = 1                      # KDC
        stel_qual = 1 if rng.random() < 0.7 else 2
    elif r < 0.07:
        stel_feature = 2                      # warp
        stel_qual = 1 if rng.random() < 0.7 else 2
    if stel_qual == 2:
        scen = "clean"
    elif stel_qual == 1:
        scen = _choice(rng, {"noisy": 0.35, "patchy": 0.3, "weak": 0.2, "irregular": 0.15})
        if stel_feature in (1, 2):
            scen = "irregular"
    else:
        scen = _choice(rng, {"faceon": 0.3, "lowsn": 0.3, "tiny": 0.2, "chaotic": 0.2})
        if stel_feature == 3:
            scen = "merger"
    if stel_feature == 3 and stel_qual == 1:
        scen = "neighbour"

    # make the geometry agree with the class
    if stel_qual == 2 or scen in ("noisy", "patchy", "irregular", "neighbour"):
        if inc < 35:
            inc = float(rng.uniform(35, 85))
        if slow:
            slow, k_rot = False, float(rng.uniform(0.35, 0.6))
    if scen == "weak":
        inc = float(rng.uniform(20, 35))
    if scen == "faceon":
        if rng.random() < 0.5 and morph == "E":
            slow, k_rot = True, float(rng.uniform(0.0, 0.06))
        else:
            inc = float(rng.uniform(0, 9))
    # projected stellar rotation amplitude the class needs
    sini = np.sin(np.radians(inc))
    need = {"clean": 70.0, "noisy": 60.0, "patchy": 55.0, "irregular": 60.0,
            "neighbour": 60.0}.get(scen)
    if need is not None and k_rot * vc * sini < need:
        k_rot = float(min(0.95, need / (vc * sini)))
        if k_rot * vc * sini < need:
            inc = float(np.degrees(np.arcsin(min(0.995, need / (k_rot * vc)))))
    if scen == "weak":
        k_rot = float(np.clip(rng.uniform(22, 35) / (vc * sini), 0.05, 0.95))
    if scen == "faceon" and not slow:
        inc = float(np.degrees(np.arcsin(min(rng.uniform(0, 6) / (k_rot * vc), 1.0))))
    cos_i = np.cos(np.radians(inc))
    ba = float(np.sqrt(cos_i ** 2 + q0_eff ** 2 * (1 - cos_i ** 2)))

    stellar_pa = float(np.mod(phi + (180.0 if rng.random() < 0.5 else 0.0)
                              + rng.normal(0, 3.0 if not early else 6.0), 360.0))

    # S/N at 1 Re for the stellar continuum
    snr_scale = {"clean": rng.uniform(18, 40), "noisy": rng.uniform(6, 10),
                 "patchy": rng.uniform(10, 20), "weak": rng.uniform(12, 25),
                 "irregular": rng.uniform(10, 25), "neighbour": rng.uniform(10, 25),
                 "faceon": rng.uniform(8, 25), "lowsn": rng.uniform(0.6, 1.5),
                 "tiny": rng.uniform(0.8, 2.0), "chaotic": rng.uniform(4, 15),
                 "merger": rng.uniform(8, 20)}[scen]

    # --------------------------------------------------------------- gas
    if stel_qual == 0:
        halpha_qual = 0 if rng.random() < 0.95 else 1
    elif stel_qual == 1:
        halpha_qual = _choice(rng, {1: 0.64, 0: 0.34, 2: 0.02})
    else:
        halpha_qual = _choice(rng, {2: 0.86, 0: 0.13, 1: 0.01})
    halpha_notes = 0
    halpha_feature = 0
    if halpha_qual >= 1:
        gas_rich = True
    if halpha_qual == 0 and stel_qual >= 1:
        halpha_notes = _choice(rng, {1: 0.58, 2: 0.21, 3: 0.21})
    if stel_feature == 3:
        halpha_feature = 3
    elif halpha_qual >= 1 and rng.random() < 0.04:
        halpha_feature = 2
    if halpha_qual == 2:
        gscen = "clean"
    elif halpha_qual == 1:
        gscen = "warp" if halpha_feature == 2 else _choice(rng, {"patchy": 0.6, "noisy": 0.4})
    elif stel_qual == 0:
        gscen = {"merger": "merger", "faceon": "faceon"}.get(scen, "poor")
    else:
        gscen = {1: "depleted", 2: "norotation", 3: "biased"}[halpha_notes]
    if gscen == "poor" and gas_rich and rng.random() < 0.5:
        gscen = "lowsn"
    if gscen in ("depleted", "poor"):
        gas_rich = False
    gas_snr_scale = {"clean": rng.uniform(15, 40), "patchy": rng.uniform(6, 15),
                     "noisy": rng.uniform(4, 8), "warp": rng.uniform(8, 20),
                     "depleted": rng.uniform(3, 8), "norotation": rng.uniform(5, 15),
                     "biased": rng.uniform(8, 20), "poor": rng.uniform(0.5, 2),
                     "lowsn": rng.uniform(0.6, 1.5), "merger": rng.uniform(5, 15),
                     "faceon": rng.uniform(5, 20)}[gscen]
    # gas kinematic PA: aligned, misaligned or counter-rotating (more often in early types)
    u = rng.random()
    p_mis = 0.26 if early else 0.08
    if u < p_mis * 0.7:
        dpa = rng.uniform(30, 150)
    elif u < p_mis:
        dpa = rng.uniform(150, 180)
    else:
        dpa = abs(rng.normal(0, 4))
    gas_pa = float(np.mod(stellar_pa + dpa * (1 if rng.random() < 0.5 else -1), 360.0))

    g = Galaxy(index=index, seed=int(seed), morphology=morph, log_mass=log_mass, z=z,
               re_kpc=float(re_kpc), re_arcsec=re_arcsec, bulge_frac=bt,
               sersic_n_bulge=float(rng.uniform(2.5, 4.5)), q0=q0_eff, inclination=inc,
               ba=ba, phi=phi, ifudesignsize=ifu, stellar_pa=stellar_pa, gas_pa=gas_pa,
               vc=vc, k_rot=k_rot, sigma0=sigma0, slow_rotator=bool(slow), gas_rich=gas_rich,
               stel_qual=int(stel_qual), stel_feature=int(stel_feature),
               halpha_qual=int(halpha_qual), halpha_feature=int(halpha_feature),
               halpha_notes=int(halpha_notes), stel_scenario=scen, gas_scenario=gscen,
               snr_scale=float(snr_scale), gas_snr_scale=float(gas_snr_scale),
               color_disk=color_disk, sfr_arms=sfr_arms)
    return g


def assign_plates(galaxies: List[Galaxy], seed: int) -> None:
    """Give every galaxy a unique, realistic plate-ifu, a MaNGA-ID and sky position.

    Plates (7443–12000) are filled in order with up to 2/4/4/2/5 IFUs of 19/37/61/91/127
    fibres (design numbers 1901–1902, 3701–3704, 6101–6104, 9101–9102, 12701–12705); the
    galaxies of a plate lie within 1.5° of its centre.
    """
    rng = np.random.default_rng([int(seed), 991])
    plates = rng.permutation(np.arange(7443, 12001))
    pi = 0
    open_plate = None
    used: Dict[int, int] = {}
    centre = (0.0, 0.0)
    for g in galaxies:
        size = g.ifudesignsize
        if open_plate is None or used.get(size, 0) >= IFU_PER_PLATE[size]:
            # next plate (the previous one keeps its unused IFUs free)
            open_plate = int(plates[pi % len(plates)])
            pi += 1
            used = {}
            prng = np.random.default_rng([int(seed), open_plate])
            centre = (float(prng.uniform(120, 250)), float(prng.uniform(-2, 60)))
        used[size] = used.get(size, 0) + 1
        g.plate = open_plate
        g.ifudsgn = size * 100 + used[size]
        grng = np.random.default_rng([int(seed), g.index, 13])
        rr = 1.5 * np.sqrt(grng.uniform())
        aa = grng.uniform(0, 2 * np.pi)
        g.objdec = float(centre[1] + rr * np.sin(aa))
        g.objra = float(np.mod(centre[0] + rr * np.cos(aa) / np.cos(np.radians(g.objdec)),
                               360.0))
        g.mangaid = f"1-{20000 + 37 * g.index + int(seed) % 37}"
