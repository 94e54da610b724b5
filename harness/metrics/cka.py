"""Centred kernel alignment (CKA): how alike two representations of the same sounds are, as a whole.

RSA compares distances; CKA compares Gram (inner-product) matrices, and is the representational
similarity of the machine-learning literature (Kornblith et al. 2019). Both sides describe the same n
sounds in the same order: a layer's activations `[n, p]`, a target's `[n, q]` (e.g. the listeners'
response proportions per category), or a Gram matrix built from an RDM (`gram_from_rdm`).

**Linear CKA** (Kornblith, Norouzi, Lee & Hinton 2019, ICML, "Similarity of neural network
representations revisited", eqs. 2-4): with Gram matrices K = X X^T and L = Y Y^T and H = I - 11^T/n,

    HSIC(K, L) = tr(K H L H) / (n - 1)^2          (Gretton et al. 2005; the biased estimator)
    CKA(K, L)  = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))

which for linear kernels equals ||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F) on column-centred
X_c, Y_c. It lies in [0, 1], is 1 for X against itself, and does not change under an orthogonal
transform, an isotropic scaling or a shift of either side (it does under other invertible linear maps).

**Its bias with few stimuli and many features.** The biased HSIC includes the diagonal of the Gram
matrices: for two *independent* random representations of n sounds with p, q features, linear CKA is far
from 0 when p and q are not small against n (tests/test_cka.py shows it). **Debiased CKA** replaces each
HSIC by the unbiased estimator of Song, Smola, Gretton, Bedo & Borgwardt (2012, JMLR 13:1393, eq. 5),
with K~, L~ the Gram matrices with zero diagonals:

    HSIC_u(K, L) = [tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n (n-3))

as used for CKA by Nguyen, Raghu & Kornblith (2021, ICLR) and Murphy, Zylberberg & Fyshe (2024). It is
centred on 0 for independent representations, can be negative, and needs n >= 4.

**From an RDM.** For Euclidean distances D between the rows of X, G = -1/2 H (D o D) H equals the Gram
matrix of the centred rows X_c X_c^T (classical scaling; Torgerson 1952), so CKA of two such Gram
matrices is linear CKA of the representations. For other dissimilarities (cosine, KL) G is their
double-centred form and may be indefinite; CKA is computed from it the same way, but it is then a
comparison of double-centred matrices, not of a feature space. A matrix with a missing pair has no
double-centred form: NaN.

Undefined values (a constant side, too few sounds) are NaN, never an exception.
"""

from __future__ import annotations

import numpy as np


def gram(x: np.ndarray) -> np.ndarray:
    """The linear kernel `[n, n]` of the rows of x `[n, p]` (a vector is one feature)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    return x @ x.T


def gram_from_rdm(rdm: np.ndarray) -> np.ndarray:
    """-1/2 H (D o D) H of a square dissimilarity matrix `[n, n]` (NaN throughout when a pair is missing)."""
    d = np.asarray(rdm, dtype=np.float64)
    if not np.all(np.isfinite(d)):
        return np.full(d.shape, np.nan)
    sq = d * d
    return -0.5 * (sq - sq.mean(axis=0, keepdims=True) - sq.mean(axis=1, keepdims=True) + sq.mean())


def hsic(k: np.ndarray, l_: np.ndarray) -> float:
    """The biased HSIC estimator tr(K H L H) / (n - 1)^2 of two symmetric Gram matrices."""
    n = k.shape[0]
    kc = k - k.mean(axis=0, keepdims=True) - k.mean(axis=1, keepdims=True) + k.mean()  # H K H
    return float(np.sum(kc * l_) / (n - 1) ** 2)


def hsic_unbiased(k: np.ndarray, l_: np.ndarray) -> float:
    """Song et al.'s (2012) unbiased HSIC estimator of two symmetric Gram matrices (NaN for n < 4)."""
    n = k.shape[0]
    if n < 4:
        return float("nan")
    kt, lt = k.copy(), l_.copy()
    np.fill_diagonal(kt, 0.0)
    np.fill_diagonal(lt, 0.0)
    k_rows, l_rows = kt.sum(axis=1), lt.sum(axis=1)
    value = (np.sum(kt * lt) + k_rows.sum() * l_rows.sum() / ((n - 1) * (n - 2))
             - 2.0 / (n - 2) * float(k_rows @ l_rows))
    return float(value / (n * (n - 3)))


def cka_from_grams(k: np.ndarray, l_: np.ndarray, debiased: bool = False) -> float:
    """CKA of two Gram matrices of the same sounds: HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), the biased or
    the unbiased HSIC; NaN where a self-term is not positive (a constant side) or not finite."""
    k, l_ = np.asarray(k, dtype=np.float64), np.asarray(l_, dtype=np.float64)
    if k.shape != l_.shape or k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"Gram matrices must be square and of one shape, got {k.shape} and {l_.shape}")
    estimator = hsic_unbiased if debiased else hsic
    kk, ll = estimator(k, k), estimator(l_, l_)
    # a self-term within rounding of 0 relative to the kernel's size is a constant side
    scale = max(float(np.abs(k).max(initial=0.0)) ** 2, 1e-300), max(float(np.abs(l_).max(initial=0.0)) ** 2, 1e-300)
    if not (np.isfinite(kk) and np.isfinite(ll) and kk > 1e-12 * scale[0] and ll > 1e-12 * scale[1]):
        return float("nan")
    return float(estimator(k, l_) / np.sqrt(kk * ll))


def linear_cka(x: np.ndarray, y: np.ndarray, debiased: bool = False) -> float:
    """Linear CKA of two representations of the same sounds, x `[n, p]` and y `[n, q]` (rows: sounds)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"the representations describe {x.shape[0]} and {y.shape[0]} sounds")
    return cka_from_grams(gram(x), gram(y), debiased)
