"""Modal laws: the vibration frequencies and mode shapes of struck objects, their enclosed air and the hammer.

Textbook physics only, each law with its source (beams, plates, rings, blocks, air columns,
cavities, Hertz contact): no design choice and no randomness, so each law can be checked
against its reference on its own (tests/test_impacts.py). `impact_design` picks the objects and
draws their parameters; a change here that alters the audio bumps `impacts.SYNTH_VERSION`.
"""

from __future__ import annotations

import math

import numpy as np

AIR_SPEED = 343.0  # m/s, speed of sound in air at 20 degrees C (Kinsler et al. 2000, Fundamentals of Acoustics, 4th ed., table A10)

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
