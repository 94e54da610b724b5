"""The embedded default stimulus set `impacts`: physically grounded modal synthesis of struck objects.

A stand-in for the 246 recorded impact sounds of the reference study (Bost et al., 2024), which
are not public. Every sound is the response of a linear modal model to a hammer blow:

    s(t) = sum_n a_n exp(-alpha_n t) sin(2 pi f_n t),

with modal frequencies f_n from the vibration law of the object's shape (extent, hollowness),
decay rates alpha_n from the material's loss factor, amplitudes a_n from the mode shape at the
strike point times the spectrum of a half-sine contact force, and, for hollow objects, the
resonances of the enclosed air. Every label is a physical parameter of the design, never a
post-hoc rule. The judgments come from `audioprobe.stimuli.synthetic.listeners`, a panel of simulated listeners
that hear cues measured on these waveforms. SYNTHETIC: not a recording, not human data.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import math

import numpy as np

from audioprobe.metrics.responses import counts_from_responses
from audioprobe.stimuli.stimulus_set import StimulusSet
from audioprobe.stimuli.synthetic import listeners

log = logging.getLogger(__name__)

#: Bump whenever the audio can change (it changes the fingerprint and the disk cache key).
SYNTH_VERSION = "4"
SAMPLE_RATE = 44100  # CD rate; the reference recordings were made at 44.1 kHz (Bost et al., 2024)
DURATION_S = 1.0  # about the length of the reference sounds
FADE_S = 0.02  # raised-cosine fade-out, so the last sample is 0 (no click at truncation)
PEAK = 10 ** (-1 / 20)  # peak-normalised to -1 dBFS: headroom for 16-bit export
F_MIN, F_MAX = 20.0, 16000.0  # modes kept: the audible range, below the 0.45 * SAMPLE_RATE guard
MAX_STRUCTURAL_MODES = 60  # enough to fill 20 Hz-16 kHz for plates and blocks; keeps generation fast
AIR_SPEED = 343.0  # m/s, speed of sound in air at 20 degrees C (Kinsler et al. 2000, Fundamentals of Acoustics, 4th ed., table A10)

HOLLOWNESS = ["full", "hollow"]
EXTENTS = ["1D", "2D", "3D"]
#: (extent, hollowness) cells of the design; a hollow 2D object does not exist.
CELLS = [("1D", "full"), ("1D", "hollow"), ("2D", "full"), ("3D", "full"), ("3D", "hollow")]
#: Object kind per cell, recorded in the `object` label column.
OBJECTS = {("1D", "full"): "bar", ("1D", "hollow"): "tube", ("2D", "full"): "plate",
           ("3D", "full"): "block", ("3D", "hollow"): "container"}
VARIANTS = 7  # 7 materials x 5 cells x 7 = 245 sounds, the size of the reference set (246)


@dataclasses.dataclass(frozen=True)
class Material:
    """Elastic constants and damping of one material category.

    youngs (Pa), density (kg/m^3), poisson: typical handbook values (Ashby, Materials Selection in
    Mechanical Design, 4th ed. 2011, appendix C charts; metals: ASM handbook values). loss: range of
    the loss factor eta (alpha_n = pi f_n eta; Cremer, Heckl & Petersson, Structure-Borne Sound,
    3rd ed. 2005, table of loss factors; the ordering glass ~1e-3, metals 1e-4..1e-3, ceramic and
    stone between, wood ~1e-2, plastic 2e-2..3e-2, cardboard higher).
    wall: wall thickness range (m) of hollow objects of that material: a design choice (typical
    everyday objects: tin cans, jars, pots, boxes), not a published constant.
    """

    name: str
    youngs: float
    density: float
    poisson: float
    loss: tuple[float, float]
    wall: tuple[float, float]
    alloys: tuple[tuple[float, float, float], ...] = ()  # (youngs, density, poisson) alternatives


MATERIALS: dict[str, Material] = {m.name: m for m in [
    # Wood along the grain (oak/beech/pine: E 9-13 GPa, rho 500-750); eta 6e-3..1.5e-2 brackets the
    # 8e-3..1e-2 of oak and fir in Cremer-Heckl.
    Material("wood", 11e9, 650, 0.35, (6e-3, 1.5e-2), (4e-3, 1e-2)),
    # Soda-lime glass: E 70 GPa, rho 2500, nu 0.22; eta 6e-4..2e-3 (Cremer-Heckl).
    Material("glass", 70e9, 2500, 0.22, (6e-4, 2e-3), (2e-3, 4e-3)),
    # Steel (200 GPa, 7850), aluminium (69 GPa, 2700), brass (100 GPa, 8500); eta 1e-4..6e-4
    # (Cremer-Heckl: steel 1e-4..6e-4, aluminium ~1e-4).
    Material("metal", 200e9, 7850, 0.29, (1e-4, 6e-4), (5e-4, 1.5e-3),
             alloys=((200e9, 7850, 0.29), (69e9, 2700, 0.33), (100e9, 8500, 0.34))),
    # Granite/marble: E 50 GPa, rho 2700, nu 0.25; eta 2e-3..8e-3, between ceramic and wood
    # (Cremer-Heckl give ~1e-2 for brick and concrete, less for dense stone).
    Material("stone", 50e9, 2700, 0.25, (2e-3, 8e-3), (8e-3, 1.5e-2)),
    # Corrugated board / paperboard: effective E ~2 GPa, effective density ~300 kg/m^3 (Ashby,
    # paper and board); eta 4e-2..1e-1, "higher" than plastics: no standard table value.
    Material("cardboard", 2e9, 300, 0.3, (4e-2, 1e-1), (2e-3, 5e-3)),
    # Porcelain/stoneware: E 70 GPa, rho 2400, nu 0.2; eta 1.5e-3..4e-3, between glass and stone.
    Material("ceramic", 70e9, 2400, 0.2, (1.5e-3, 4e-3), (4e-3, 8e-3)),
    # ABS/PMMA/PP: E 2.5 GPa, rho 1150, nu 0.37; eta 1.5e-2..4e-2 (Cremer-Heckl: Plexiglas 2e-2..4e-2).
    Material("plastic", 2.5e9, 1150, 0.37, (1.5e-2, 4e-2), (1.5e-3, 3e-3)),
]}
MATERIAL_NAMES = list(MATERIALS)

#: Mounting and radiation losses added to every structural mode (s^-1): a design choice giving
#: long-ringing metal a finite decay (at most about 7-23 s to -60 dB), as held objects have; kept
#: small so that the material's loss factor still dominates the decay above a few hundred Hz.
SUPPORT_DECAY = (0.3, 1.0)

#: Free-free Euler-Bernoulli beam: roots beta_n L of cos(x) cosh(x) = 1 (Blevins, Formulas for
#: Natural Frequency and Mode Shape, 1979, table 8-1); ratios (beta_n L / beta_1 L)^2 = 1, 2.757,
#: 5.404, 8.933, 13.344, 18.638. Beyond the listed roots, beta_n L = (2n + 1) pi / 2 to 1e-7.
FREE_FREE_BETA_L = (4.7300407, 7.8532046, 10.9956078, 14.1371655, 17.2787597)

#: Zeros j'_mn of the Bessel derivative J'_m, for the transverse modes of a rigid closed cylinder,
#: as (m, j'_mn): (0, 0) plane wave, (1, 1) 1.8412, (2, 1) 3.0542, (0, 1) 3.8317 (Kinsler et al.
#: 2000, Fundamentals of Acoustics, 4th ed., table 9.5.1).
CYLINDER_BESSEL = ((0, 0.0), (1, 1.8412), (2, 3.0542), (0, 3.8317))

#: End corrections of an air column: 0.6133 a per unflanged open end (Levine & Schwinger 1948);
#: 1.7 a for a Helmholtz neck, flanged inside and out (Kinsler et al. 2000, section 10.8).
UNFLANGED_END = 0.6133
HELMHOLTZ_END = 1.7

#: Hertz contact (Johnson, Contact Mechanics, 1985, eq. 11.24): the contact time of a sphere on a
#: flat scales as E*^(-2/5), E* the effective modulus of hammer and object. Anchored at 0.5 ms for
#: a steel hammer on steel, clipped to the 0.5-2 ms range of hand-held hammer blows.
HAMMER = (200e9, 0.29)  # steel hammer head: (youngs, poisson)
CONTACT_REF_S, CONTACT_RANGE_S = 0.5e-3, (0.5e-3, 2.0e-3)

#: Mode splitting of metal objects: slight asymmetry splits degenerate mode pairs into doublets
#: that beat (Rossing & Fletcher, Principles of Vibration and Sound, 2004, ch. 3 and bells).
#: Relative split 0.5e-3..3e-3, i.e. beats of 0.5-3 Hz at 1 kHz: a design choice in that spirit.
METAL_SPLIT = (5e-4, 3e-3)

#: Air-mode quality factors (radiation and wall losses of small cavities, Q ~ 10-50: Kinsler et al.
#: section 10.8); coupling of the cavity to the shell relative to the strongest structural mode.
AIR_Q = (15.0, 40.0)
AIR_COUPLING = (0.25, 0.6)

#: Seeded jitter (a design choice): frequency (relative sd), amplitude (log sd), decay (log sd).
JITTER_FREQ, JITTER_AMP, JITTER_DECAY = 0.005, 0.3, 0.1


@dataclasses.dataclass
class ImpactDesign:
    """The physical parameters of one sound and its resulting modes (all in SI units)."""

    sound_id: str
    material: str
    extent: str
    hollowness: str
    object: str
    params: dict[str, float]
    freqs: np.ndarray  # Hz
    amps: np.ndarray  # signed, before peak normalisation
    decays: np.ndarray  # alpha_n, s^-1
    kinds: list[str]  # "structure" or "air" per mode
    contact_s: float
    loss: float  # the loss factor eta of this object


# ---------------------------------------------------------------------------------------------
# Modal laws


def free_free_beta_l(n_modes: int) -> np.ndarray:
    """beta_n L of the first n free-free beam modes (Blevins 1979, table 8-1)."""
    listed = list(FREE_FREE_BETA_L)
    return np.array(listed[:n_modes] + [(2 * k + 1) * math.pi / 2 for k in range(len(listed) + 1, n_modes + 1)])


def free_free_shape(beta_l: np.ndarray, x: float) -> np.ndarray:
    """Free-free beam mode shapes at relative position x in [0, 1] (value 2 at the free ends).

    phi = cosh(bx) + cos(bx) - s (sinh(bx) + sin(bx)), s = (cosh b - cos b) / (sinh b - sin b),
    evaluated in a form without the catastrophic cancellation of cosh - s sinh at large b.
    """
    b = np.asarray(beta_l, dtype=np.float64)
    bx = b * x
    denom = np.sinh(b) - np.sin(b)
    sigma = (np.cosh(b) - np.cos(b)) / denom
    one_minus_sigma = (np.cos(b) - np.sin(b) - np.exp(-b)) / denom
    # cosh(bx) - sigma sinh(bx) = ((1 - sigma) e^{bx} + (1 + sigma) e^{-bx}) / 2
    hyper = 0.5 * (one_minus_sigma * np.exp(bx) + (1 + sigma) * np.exp(-bx))
    return hyper + np.cos(bx) - sigma * np.sin(bx)


def bar_frequencies(length: float, gyration: float, youngs: float, density: float, n_modes: int) -> np.ndarray:
    """Bending modes of a free-free bar: f_n = (beta_n L)^2 / (2 pi L^2) sqrt(E / rho) r_g."""
    return free_free_beta_l(n_modes) ** 2 / (2 * math.pi * length ** 2) * math.sqrt(youngs / density) * gyration


def plate_frequencies(a: float, b: float, h: float, youngs: float, density: float, poisson: float,
                      max_index: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simply supported rectangular plate: f_mn = (pi / 2) sqrt(D / (rho h)) ((m/a)^2 + (n/b)^2).

    D = E h^3 / (12 (1 - nu^2)) (Leissa, Vibration of Plates, NASA SP-160, 1969, section 4.1).
    Returns (frequencies, m, n), ascending.
    """
    stiffness = youngs * h ** 3 / (12 * (1 - poisson ** 2))
    m, n = np.meshgrid(np.arange(1, max_index + 1), np.arange(1, max_index + 1), indexing="ij")
    f = math.pi / 2 * math.sqrt(stiffness / (density * h)) * ((m / a) ** 2 + (n / b) ** 2)
    order = np.argsort(f, axis=None, kind="stable")
    return f.ravel()[order], m.ravel()[order], n.ravel()[order]


def ring_frequencies(radius: float, wall: float, youngs: float, density: float, poisson: float,
                     n_max: int) -> np.ndarray:
    """In-plane flexural modes n = 2..n_max of a thin ring or shell section.

    f_n = t / (2 pi sqrt(12) R^2) sqrt(E / (rho (1 - nu^2))) n (n^2 - 1) / sqrt(n^2 + 1): ratios 1,
    2.828, 5.423, 8.771, 12.866 (Rossing & Fletcher, Principles of Vibration and Sound, 2004, sec. 3.8).
    """
    n = np.arange(2, n_max + 1, dtype=np.float64)
    coeff = wall / (2 * math.pi * math.sqrt(12) * radius ** 2) * math.sqrt(youngs / (density * (1 - poisson ** 2)))
    return coeff * n * (n ** 2 - 1) / np.sqrt(n ** 2 + 1)


def block_frequencies(dims: tuple[float, float, float], wave_speed: float, max_index: int = 12):
    """Modes of a rectangular solid, (c / 2) sqrt((l/Lx)^2 + (m/Ly)^2 + (n/Lz)^2), l, m, n >= 0.

    An approximation of a free elastic block by the box modes of its shear wave: it has the mode
    count of Weyl's law, N(f) ~ 4 pi V f^3 / (3 c^3) (Weyl 1911), i.e. modal density growing as f^2,
    which is the property that distinguishes volumes from bars and plates. Returns (f, l, m, n).
    """
    idx = np.arange(0, max_index + 1)
    l, m, n = np.meshgrid(idx, idx, idx, indexing="ij")
    f = wave_speed / 2 * np.sqrt((l / dims[0]) ** 2 + (m / dims[1]) ** 2 + (n / dims[2]) ** 2)
    keep = f.ravel() > 0
    order = np.argsort(f.ravel()[keep], kind="stable")
    return (f.ravel()[keep][order], l.ravel()[keep][order], m.ravel()[keep][order], n.ravel()[keep][order])


def helmholtz_frequency(volume: float, neck_radius: float, neck_length: float) -> float:
    """f = (c / 2 pi) sqrt(A / (V L_eff)), L_eff = L + 1.7 a (Kinsler et al. 2000, eq. 10.8.11)."""
    area = math.pi * neck_radius ** 2
    return AIR_SPEED / (2 * math.pi) * math.sqrt(area / (volume * (neck_length + HELMHOLTZ_END * neck_radius)))


def open_tube_frequencies(length: float, radius: float, n_modes: int) -> np.ndarray:
    """Air column open at both ends: f_k = k c / (2 (L + 2 * 0.6133 a)) (Levine & Schwinger 1948)."""
    k = np.arange(1, n_modes + 1, dtype=np.float64)
    return k * AIR_SPEED / (2 * (length + 2 * UNFLANGED_END * radius))


def closed_cylinder_frequencies(radius: float, height: float, max_axial: int = 2) -> np.ndarray:
    """Rigid closed cylinder: f = (c / 2 pi) sqrt((j'_mn / R)^2 + (p pi / H)^2) (Kinsler et al. sec. 9.5)."""
    f = [AIR_SPEED / (2 * math.pi) * math.sqrt((j / radius) ** 2 + (p * math.pi / height) ** 2)
         for _, j in CYLINDER_BESSEL for p in range(max_axial + 1)]
    return np.array(sorted(x for x in f if x > 0))


def contact_spectrum(freqs: np.ndarray, duration: float) -> np.ndarray:
    """|F(f)| / F(0) of a half-sine force pulse of the given duration.

    F(f) ~ cos(pi f tau) / (1 - (2 f tau)^2), first zero at 1.5 / tau: the hammer's low-pass.
    """
    x = 2 * np.asarray(freqs) * duration
    denom = 1 - x ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.abs(np.cos(np.pi * x / 2) / denom)
    return np.where(np.abs(denom) < 1e-9, np.pi / 4, val)


def contact_duration(youngs: float, poisson: float) -> float:
    """Hertz contact time of the steel hammer on this material, E*^(-2/5) scaling (Johnson 1985)."""
    def effective(e1, n1, e2, n2):
        return 1 / ((1 - n1 ** 2) / e1 + (1 - n2 ** 2) / e2)
    ref = effective(*HAMMER, 200e9, 0.29)
    tau = CONTACT_REF_S * (ref / effective(*HAMMER, youngs, poisson)) ** 0.4
    return float(np.clip(tau, *CONTACT_RANGE_S))


def loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


# ---------------------------------------------------------------------------------------------
# The design: one object per (material, cell, variant)


def _object_modes(mat: Material, youngs: float, density: float, poisson: float, extent: str, hollowness: str,
                  rng: np.random.Generator) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Physical parameters and (structural f, weight from the mode shape, air f, air weight)."""
    air_f = np.zeros(0)
    air_w = np.zeros(0)
    if (extent, hollowness) == ("1D", "full"):  # solid bar, rectangular section, struck on its face
        length, h = rng.uniform(0.15, 0.5), loguniform(rng, 5e-3, 2.5e-2)
        x = rng.uniform(0.05, 0.45)
        n = 24
        f = bar_frequencies(length, h / math.sqrt(12), youngs, density, n)
        w = free_free_shape(free_free_beta_l(n), x)
        params = {"length_m": length, "thickness_m": h, "strike_x": x}
    elif (extent, hollowness) == ("1D", "hollow"):  # thin-walled tube open at both ends
        length, radius = rng.uniform(0.2, 0.6), rng.uniform(0.01, 0.04)
        wall = min(loguniform(rng, *mat.wall), 0.3 * radius)
        inner = radius - wall
        x = rng.uniform(0.05, 0.45)
        n = 24
        f_bend = bar_frequencies(length, math.sqrt(radius ** 2 + inner ** 2) / 2, youngs, density, n)
        w_bend = free_free_shape(free_free_beta_l(n), x)
        f_oval = ring_frequencies(radius - wall / 2, wall, youngs, density, poisson, 12)
        w_oval = 1.0 / np.arange(1, len(f_oval) + 1)  # radial blow excites the ovalling family, 1/k
        f, w = np.concatenate([f_bend, f_oval]), np.concatenate([w_bend, w_oval])
        air_f = open_tube_frequencies(length, inner, 4)
        air_w = 1.0 / np.arange(1, 5)
        params = {"length_m": length, "radius_m": radius, "wall_m": wall, "strike_x": x}
    elif (extent, hollowness) == ("2D", "full"):  # simply supported rectangular plate
        a = rng.uniform(0.15, 0.5)
        b = a * rng.uniform(0.6, 1.0)
        h = loguniform(rng, 2e-3, 1.2e-2)
        xs, ys = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)
        f, m, nn = plate_frequencies(a, b, h, youngs, density, poisson)
        w = np.sin(m * math.pi * xs) * np.sin(nn * math.pi * ys)
        params = {"width_m": a, "height_m": b, "thickness_m": h, "strike_x": xs, "strike_y": ys}
    elif (extent, hollowness) == ("3D", "full"):  # solid block
        dims = tuple(sorted((rng.uniform(0.06, 0.3) for _ in range(3)), reverse=True))
        shear = math.sqrt(youngs / (2 * (1 + poisson) * density))
        xs, ys = rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95)
        f, l, m, nn = block_frequencies(dims, shear)
        w = np.cos(l * math.pi * xs) * np.cos(m * math.pi * ys)  # struck on the z = 0 face
        params = {"size_x_m": dims[0], "size_y_m": dims[1], "size_z_m": dims[2], "strike_x": xs, "strike_y": ys}
    else:  # 3D hollow: thin-walled cylindrical container, open (jar) or closed (canister)
        radius, height = rng.uniform(0.03, 0.12), rng.uniform(0.06, 0.3)
        wall = loguniform(rng, *mat.wall)
        z = rng.uniform(0.2, 0.8)
        ring = ring_frequencies(radius, wall, youngs, density, poisson, 14)
        # Axial bending of the wall as a strip of length H, combined with the ring law by adding
        # stiffness contributions (Rayleigh's principle; cf. Soedel, Vibrations of Shells and
        # Plates, 2004, ch. 15): an approximation that keeps the shell's dense low modes.
        strip = math.pi / 2 * math.sqrt(youngs * wall ** 2 / (12 * density * (1 - poisson ** 2)))
        f_list, w_list = [], []
        for axial in range(3):
            fa = strip * (axial / height) ** 2
            f_list.append(np.sqrt(ring ** 2 + fa ** 2))
            w_list.append(np.full(len(ring), abs(math.sin((axial + 1) * math.pi * z))) / np.arange(1, len(ring) + 1) ** 0.5)
        f, w = np.concatenate(f_list), np.concatenate(w_list)
        inner_r, inner_h = radius - wall, height - wall
        open_top = bool(rng.integers(0, 2))
        if open_top:  # a jar: Helmholtz resonance of its neck and volume, then the axial mode
            neck_r = radius * rng.uniform(0.3, 0.8)
            neck_l = rng.uniform(0.005, 0.03)
            air_f = np.array([helmholtz_frequency(math.pi * inner_r ** 2 * inner_h, neck_r, neck_l),
                              AIR_SPEED / (2 * inner_h)])
            params_extra = {"neck_radius_m": neck_r, "neck_length_m": neck_l}
        else:  # a closed canister: the modes of a rigid closed cylinder
            air_f = closed_cylinder_frequencies(inner_r, inner_h)[:4]
            params_extra = {}
        air_w = 1.0 / np.arange(1, len(air_f) + 1)
        params = {"radius_m": radius, "height_m": height, "wall_m": wall, "strike_z": z,
                  "open": float(open_top), **params_extra}
    return params, f, w, air_f, air_w


def design_one(material: str, extent: str, hollowness: str, variant: int, seed: int) -> ImpactDesign:
    """The object (material, extent, hollowness, variant) and its modes; deterministic in seed."""
    mat = MATERIALS[material]
    cell = CELLS.index((extent, hollowness))
    rng = np.random.default_rng([seed, MATERIAL_NAMES.index(material), cell, variant])
    youngs, density, poisson = mat.youngs, mat.density, mat.poisson
    if mat.alloys:
        youngs, density, poisson = mat.alloys[int(rng.integers(0, len(mat.alloys)))]
    eta = loguniform(rng, *mat.loss)
    support = rng.uniform(*SUPPORT_DECAY)
    tau = float(np.clip(contact_duration(youngs, poisson) * rng.uniform(0.9, 1.1), *CONTACT_RANGE_S))
    params, f, w, air_f, air_w = _object_modes(mat, youngs, density, poisson, extent, hollowness, rng)

    keep = (f > F_MIN) & (f < F_MAX) & (np.abs(w) > 1e-3)
    f, w = f[keep][:MAX_STRUCTURAL_MODES], w[keep][:MAX_STRUCTURAL_MODES]
    f = f * (1 + JITTER_FREQ * rng.standard_normal(len(f)))
    amps = w * contact_spectrum(f, tau) * np.exp(JITTER_AMP * rng.standard_normal(len(f)))
    # Loss-factor damping plus the support loss (Cremer-Heckl: alpha = pi f eta for hysteretic damping).
    decays = (math.pi * f * eta + support) * np.exp(JITTER_DECAY * rng.standard_normal(len(f)))
    kinds = ["structure"] * len(f)
    if material == "metal":  # each mode becomes a doublet that beats
        split = rng.uniform(*METAL_SPLIT, size=len(f))
        share = rng.uniform(0.3, 0.7, size=len(f))
        f = np.concatenate([f * (1 - split / 2), f * (1 + split / 2)])
        amps = np.concatenate([amps * share, amps * (1 - share)])
        decays = np.concatenate([decays, decays])
        kinds = kinds * 2

    if len(air_f):
        keep = (air_f > F_MIN) & (air_f < F_MAX)
        air_f, air_w = air_f[keep], air_w[keep]
        coupling = rng.uniform(*AIR_COUPLING)
        a_air = coupling * np.max(np.abs(amps)) * air_w * contact_spectrum(air_f, tau) / contact_spectrum(air_f[:1], tau)
        q = rng.uniform(*AIR_Q, size=len(air_f))
        f = np.concatenate([f, air_f])
        amps = np.concatenate([amps, a_air * rng.choice([-1.0, 1.0], size=len(air_f))])
        decays = np.concatenate([decays, math.pi * air_f / q])
        kinds = kinds + ["air"] * len(air_f)

    sid = f"{material}-{extent}-{hollowness}-{variant}"
    params = {"youngs_pa": youngs, "density_kg_m3": density, "poisson": poisson, "loss_factor": eta,
              "support_decay_s": support, "contact_s": tau, **params}
    return ImpactDesign(sid, material, extent, hollowness, OBJECTS[(extent, hollowness)], params,
                        np.asarray(f, np.float64), np.asarray(amps, np.float64), np.asarray(decays, np.float64),
                        kinds, tau, eta)


def design(seed: int = 0) -> list[ImpactDesign]:
    """All 245 objects: 7 materials x 5 (extent, hollowness) cells x 7 variants."""
    return [design_one(mat, ext, hol, v, seed)
            for mat in MATERIAL_NAMES for ext, hol in CELLS for v in range(VARIANTS)]


# ---------------------------------------------------------------------------------------------
# Rendering


def render_modes(freqs: np.ndarray, amps: np.ndarray, decays: np.ndarray, sample_rate: int = SAMPLE_RATE,
                 n_samples: int | None = None, block: int = 441) -> np.ndarray:
    """sum_n a_n exp(-alpha_n t) sin(2 pi f_n t) in float64.

    Computed block-wise: exp(s t) for t = k B + j is exp(s k B) exp(s j), so the whole sound is one
    complex (blocks x modes) @ (modes x B) product instead of modes x samples transcendental calls.
    """
    n_samples = int(round(DURATION_S * sample_rate)) if n_samples is None else n_samples
    n_blocks = -(-n_samples // block)
    s = -np.asarray(decays, np.float64) + 2j * np.pi * np.asarray(freqs, np.float64)
    inner = np.exp(s[:, None] * (np.arange(block) / sample_rate)[None, :])  # modes x B
    outer = np.asarray(amps, np.float64)[None, :] * np.exp((np.arange(n_blocks) * block / sample_rate)[:, None] * s[None, :])
    return (outer @ inner).imag.reshape(-1)[:n_samples]


def render(d: ImpactDesign, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The float32 waveform of one design: modes, peak normalisation to -1 dBFS, fade-out."""
    wave = render_modes(d.freqs, d.amps, d.decays, sample_rate)
    fade = int(FADE_S * sample_rate)
    wave[-fade:] *= 0.5 * (1 + np.cos(np.pi * np.arange(1, fade + 1) / fade))
    return (wave * (PEAK / np.max(np.abs(wave)))).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The stimulus set, cached in memory and on disk


def version(seed: int = 0) -> str:
    """Generator version recorded in `source`: synthesiser, listener panel and seed."""
    return f"synth-{SYNTH_VERSION}+panel-{listeners.PANEL_VERSION}+seed-{seed}"


def _cache_path(seed: int):
    from audioprobe.files import default_cache_dir

    return default_cache_dir().parent / "stimuli" / f"impacts-{version(seed)}.npz"


def generate(seed: int = 0) -> dict[str, np.ndarray]:
    """Synthesise every sound and run the listener panel (no caching): arrays for the npz cache."""
    from threadpoolctl import threadpool_limits

    designs = design(seed)
    with threadpool_limits(1):  # small products: threads only contend (and one thread fixes the summation order)
        waves = np.stack([render(d) for d in designs])
    labels = {"material": [d.material for d in designs], "hollowness": [d.hollowness for d in designs],
              "extent": [d.extent for d in designs], "object": [d.object for d in designs]}
    dims = dimensions()
    responses = listeners.simulate_panel(waves, SAMPLE_RATE, {k: labels[k] for k in dims}, dims, seed=seed)
    out = {"version": np.array(version(seed)), "sound_ids": np.array([d.sound_id for d in designs]),
           "waves": waves}
    out.update({f"label_{k}": np.array(v) for k, v in labels.items()})
    out.update({f"responses_{k}": v for k, v in responses.items()})
    return out


def dimensions() -> dict[str, list[str]]:
    return {"material": list(MATERIAL_NAMES), "hollowness": list(HOLLOWNESS), "extent": list(EXTENTS)}


def _read_cache(path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError):
        return None
    return arrays


@functools.lru_cache(maxsize=4)
def _arrays(seed: int) -> dict[str, np.ndarray]:
    path = _cache_path(seed)
    arrays = _read_cache(path) if path.is_file() else None
    if arrays is not None and str(arrays.get("version")) == version(seed):
        return arrays
    arrays = generate(seed)
    try:
        from audioprobe.files import atomic_write_bytes

        def write(fh):
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            fh.write(buf.getvalue())

        atomic_write_bytes(path, write)
    except OSError as exc:  # a read-only cache folder costs time, not correctness
        log.warning("could not cache the impacts set at %s (%s)", path, exc)
    return arrays


def load_impacts(seed: int = 0) -> StimulusSet:
    """The embedded synthetic set: 245 modal impact sounds judged by 17 simulated listeners."""
    arrays = _arrays(seed)
    waves = arrays["waves"]
    dims = dimensions()
    labels = {k: [str(x) for x in arrays[f"label_{k}"]] for k in ("material", "hollowness", "extent", "object")}
    responses = {k: arrays[f"responses_{k}"].astype(np.int64) for k in dims}
    return StimulusSet(
        name="impacts",
        sound_ids=[str(s) for s in arrays["sound_ids"]],
        dimensions=dims,
        labels=labels,
        judgments={k: counts_from_responses(responses[k], len(cats)) for k, cats in dims.items()},
        load_audio=lambda i: (waves[i], SAMPLE_RATE),
        description=(f"{len(waves)} synthetic impact sounds (modal synthesis of struck bars, tubes, plates, "
                     f"blocks and containers of 7 materials) judged by {listeners.N_LISTENERS} SIMULATED "
                     f"listeners. SYNTHETIC: not human data; conclusions about perception need real data."),
        license="CC0-1.0",
        citation="audioprobe synthetic impacts set; design after Bost et al. (2024), Principled probing of "
                 "foundation models in the auditory modality.",
        synthetic=True,
        source=f"embedded:impacts@{version(seed)}",
        listeners=[f"sim{i:02d}" for i in range(listeners.N_LISTENERS)],
        responses=responses,
    ).validate()
