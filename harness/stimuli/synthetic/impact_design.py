"""The design table of the `impacts` set: which objects are struck, of what, and with which modes.

7 materials x 5 (extent, hollowness) cells x 7 variants: each object's physical parameters are
drawn from a generator seeded by (seed, material, cell, variant), turned into modes by the laws
of `modal_laws`, and given the design choices that are not textbook physics (support losses,
jitter, metal doublets, air coupling). The result, an `ImpactDesign` per sound, is what
`rendering` turns into a waveform. A change here that alters the audio bumps `impacts.SYNTH_VERSION`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from audioprobe.stimuli.synthetic.modal_laws import (
    AIR_SPEED,
    CONTACT_RANGE_S,
    bar_frequencies,
    block_frequencies,
    closed_cylinder_frequencies,
    contact_duration,
    contact_spectrum,
    free_free_beta_l,
    free_free_shape,
    helmholtz_frequency,
    open_tube_frequencies,
    plate_frequencies,
    ring_frequencies,
)

F_MIN, F_MAX = 20.0, 16000.0  # modes kept: the audible range, below the 0.45 * rendering.SAMPLE_RATE guard
MAX_STRUCTURAL_MODES = 60  # enough to fill 20 Hz-16 kHz for plates and blocks; keeps generation fast

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


def loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One draw, uniform in log between lo and hi (sizes and loss factors span decades)."""
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


# ---------------------------------------------------------------------------------------------
# The design: one object per (material, cell, variant)

#: What a cell's mode function returns: (physical parameters, structural f, weight from the mode
#: shape at the strike point, air f, air weight).
Modes = tuple[dict, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _bar_modes(mat: Material, youngs: float, density: float, poisson: float, rng: np.random.Generator) -> Modes:
    """1D full: a solid bar, rectangular section, struck on its face."""
    length, h = rng.uniform(0.15, 0.5), loguniform(rng, 5e-3, 2.5e-2)
    x = rng.uniform(0.05, 0.45)
    n = 24
    f = bar_frequencies(length, h / math.sqrt(12), youngs, density, n)
    w = free_free_shape(free_free_beta_l(n), x)
    params = {"length_m": length, "thickness_m": h, "strike_x": x}
    return params, f, w, np.zeros(0), np.zeros(0)


def _tube_modes(mat: Material, youngs: float, density: float, poisson: float, rng: np.random.Generator) -> Modes:
    """1D hollow: a thin-walled tube open at both ends (bending, ovalling, and its air column)."""
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
    return params, f, w, air_f, air_w


def _plate_modes(mat: Material, youngs: float, density: float, poisson: float, rng: np.random.Generator) -> Modes:
    """2D full: a simply supported rectangular plate."""
    a = rng.uniform(0.15, 0.5)
    b = a * rng.uniform(0.6, 1.0)
    h = loguniform(rng, 2e-3, 1.2e-2)
    xs, ys = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)
    f, m, nn = plate_frequencies(a, b, h, youngs, density, poisson)
    w = np.sin(m * math.pi * xs) * np.sin(nn * math.pi * ys)
    params = {"width_m": a, "height_m": b, "thickness_m": h, "strike_x": xs, "strike_y": ys}
    return params, f, w, np.zeros(0), np.zeros(0)


def _block_modes(mat: Material, youngs: float, density: float, poisson: float, rng: np.random.Generator) -> Modes:
    """3D full: a solid block."""
    dims = tuple(sorted((rng.uniform(0.06, 0.3) for _ in range(3)), reverse=True))
    shear = math.sqrt(youngs / (2 * (1 + poisson) * density))
    xs, ys = rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95)
    f, l, m, nn = block_frequencies(dims, shear)
    w = np.cos(l * math.pi * xs) * np.cos(m * math.pi * ys)  # struck on the z = 0 face
    params = {"size_x_m": dims[0], "size_y_m": dims[1], "size_z_m": dims[2], "strike_x": xs, "strike_y": ys}
    return params, f, w, np.zeros(0), np.zeros(0)


def _container_modes(mat: Material, youngs: float, density: float, poisson: float, rng: np.random.Generator
                     ) -> Modes:
    """3D hollow: a thin-walled cylindrical container, open (jar) or closed (canister)."""
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


#: The mode function of each (extent, hollowness) cell of the design (the draws of its parameters, in order).
CELL_MODES = {("1D", "full"): _bar_modes, ("1D", "hollow"): _tube_modes, ("2D", "full"): _plate_modes,
              ("3D", "full"): _block_modes, ("3D", "hollow"): _container_modes}


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
    params, f, w, air_f, air_w = CELL_MODES[(extent, hollowness)](mat, youngs, density, poisson, rng)

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
