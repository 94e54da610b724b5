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
    if not d.size or not np.all(np.isfinite(d)):
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
    if k.shape[0] < 2:
        return float("nan")
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


# ---------------------------------------------------------------------------------------------
# The same statistics under weights of the sounds: bootstrap resamples, half-splits, both at once


def _weighted_terms(k: np.ndarray, l_: np.ndarray, w: np.ndarray, kw: tuple, lw: tuple, debiased: bool,
                    sums: tuple) -> np.ndarray:
    """`[m]` HSIC(K, L) under each row of the weights w `[m, n]` (kw = (w K~, w^2 K~), lw likewise, K~ and L~ the
    Gram matrices with zero diagonals; sums: the weights' powers and power sums), up to a factor common to
    HSIC(K, K) and HSIC(L, L) in the biased case."""
    s1, s2, s3, s4, w2, w3 = sums
    m_kl = k * l_
    np.fill_diagonal(m_kl, 0.0)  # K~ o L~
    (kw1, kw2), (lw1, lw2) = kw, lw
    mw = w @ m_kl  # (K~ o L~) c, per row; by symmetry u^T (K~ o L~) v = v^T (K~ o L~) u
    ckc = np.einsum("mi,mi->m", w, kw1)
    clc = np.einsum("mi,mi->m", w, lw1)
    a = np.einsum("mi,mi->m", w, mw)  # sum_ij c_i c_j K~_ij L~_ij
    if not debiased:
        # the V-statistic on the resampled rows: tr(K_r H L_r H), the diagonals of K and L kept
        dk, dl = np.diag(k), np.diag(l_)
        kl_rows = np.einsum("mi,mi->m", w * (kw1 + w * dk), lw1 + w * dl)
        return (a + w2 @ (dk * dl)) - 2.0 * kl_rows / s1 + (ckc + w2 @ dk) * (clc + w2 @ dl) / s1 ** 2
    # sums over distinct sounds of c-weighted tuples, by inclusion-exclusion on the full sums
    m2w2 = np.einsum("mi,mi->m", w2, w2 @ m_kl)  # sum_ij c_i^2 c_j^2 K~ L~
    w2_mw, w3_mw = np.einsum("mi,mi->m", w2, mw), np.einsum("mi,mi->m", w3, mw)
    kl = kw1 * lw1
    t_i = np.einsum("mi,mi->m", w2, kl) - m2w2  # sum over distinct (i, j, q) of c_i^2 c_j c_q K_ij L_iq
    t_j = np.einsum("mi,mi->m", w * kw2, lw1) - w3_mw  # ... c_i c_j^2 c_q K_ij L_iq
    t_q = np.einsum("mi,mi->m", w * kw1, lw2) - w3_mw  # ... c_i c_j c_q^2 K_ij L_iq
    t_c = np.einsum("mi,mi->m", w, kl) - w2_mw  # ... c_i c_j c_q K_ij L_iq
    # each sum over distinct (i, j, q, r), the term's own indices fixed and the others summed out
    pairs = (s1 ** 2 - s2) * a - 4.0 * s1 * w2_mw + 4.0 * w3_mw + 2.0 * m2w2  # K_ij L_ij
    triples = s1 * t_c - t_i - t_j - t_q  # K_ij L_iq
    quads = ckc * clc - 4.0 * t_i - 2.0 * m2w2  # K_ij L_qr
    n4 = s1 ** 4 - 6.0 * s1 ** 2 * s2 + 3.0 * s2 ** 2 + 8.0 * s1 * s3 - 6.0 * s4
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pairs + quads - 2.0 * triples) / n4


def weighted_cka(grams_x, gram_y: np.ndarray, weights: np.ndarray, debiased: bool = False) -> np.ndarray:
    """`[len(grams_x), m]`: CKA of each Gram matrix of grams_x `[n, n]` with gram_y `[n, n]` under each row of
    weights `[m, n]` (how often each sound is drawn: bootstrap counts, a half's 0/1 mask, or their product).

    Why written here: no library computes HSIC under sampling weights. Biased: the estimator on the resampled
    rows (`np.repeat` of each sound by its count; a copy of a sound is a sound like any other), tr(K_r H L_r H)
    from weighted sums. Debiased: Song et al.'s U-statistic over *distinct* sounds, each ordered quadruple
    (i, j, q, r) weighted by the product of its sounds' weights, of K_ij L_ij + K_ij L_qr - 2 K_ij L_iq: the
    U-statistic of the resampled sounds with the tuples that hold two copies of one sound left out (as RSA's
    resamples leave out the pairs of a sound with its copy), and `hsic_unbiased` under weights 1. Each sum
    over distinct indices comes from full sums by inclusion-exclusion: O(n^2) per row, six matrix products
    of the weights per Gram pair. Rows with fewer than 4 weighted sounds
    (debiased) or a constant side are NaN.
    """
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    gy = np.asarray(gram_y, dtype=np.float64)
    n = gy.shape[0]
    if w.shape[1] != n:
        raise ValueError(f"weights have {w.shape[1]} columns for {n} sounds")
    w2 = w * w
    w3 = w2 * w
    sums = (w.sum(axis=1), w2.sum(axis=1), w3.sum(axis=1), (w2 * w2).sum(axis=1), w2, w3)
    enough = (w > 0).sum(axis=1) >= (4 if debiased else 2)

    def off(g):
        g = np.array(g, dtype=np.float64)
        np.fill_diagonal(g, 0.0)
        return g

    gy_off = off(gy)
    ly = (w @ gy_off, w2 @ gy_off)
    yy = _weighted_terms(gy, gy, w, ly, ly, debiased, sums)
    out = []
    for gx in grams_x:
        gx = np.asarray(gx, dtype=np.float64)
        gx_off = off(gx)
        kx = (w @ gx_off, w2 @ gx_off)
        xx = _weighted_terms(gx, gx, w, kx, kx, debiased, sums)
        xy = _weighted_terms(gx, gy, w, kx, ly, debiased, sums)
        scale_x = max(float(np.abs(gx).max(initial=0.0)) ** 2, 1e-300)
        scale_y = max(float(np.abs(gy).max(initial=0.0)) ** 2, 1e-300)
        ok = enough & np.isfinite(xx) & np.isfinite(yy) & (xx > 1e-12 * scale_x) & (yy > 1e-12 * scale_y)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(ok, xy / np.sqrt(np.where(ok, xx * yy, 1.0)), np.nan))
    return np.array(out).reshape(-1, w.shape[0])


# ---------------------------------------------------------------------------------------------
# A permutation test of no alignment

#: Bytes a block of permuted target matrices may occupy (the general path, without a factor).
PERMUTATION_BYTES = 64 * 2 ** 20


def permuted_cka(grams_x, gram_y: np.ndarray, permutations: np.ndarray, debiased: bool = False,
                 factor: np.ndarray | None = None) -> np.ndarray:
    """`[len(grams_x), m]`: CKA of each Gram matrix of grams_x with gram_y's sounds permuted by each row of
    permutations `[m, n]` (L_pi[i, j] = L[pi_i, pi_j]): the null distribution of a permutation test of no
    alignment (exact: under independence every permutation is as likely; Gretton et al. 2008, NIPS, "A kernel
    statistical test of independence"). Only the cross term moves (HSIC(L_pi, L_pi) = HSIC(L, L)); with
    factor `[n, q]` (gram_y = factor factor^T, e.g. response proportions) it is sum_a f_pi,a^T A f_pi,a for
    all permutations in one matrix product, else a gather of L_pi per permutation, in blocks."""
    perms = np.atleast_2d(np.asarray(permutations, dtype=np.int64))
    gy = np.asarray(gram_y, dtype=np.float64)
    n = gy.shape[0]
    estimator = hsic_unbiased if debiased else hsic
    yy = estimator(gy, gy)
    out = []
    for gx in grams_x:
        gx = np.asarray(gx, dtype=np.float64)
        xx = estimator(gx, gx)
        if debiased:
            kt = gx.copy()
            np.fill_diagonal(kt, 0.0)
            lt = gy.copy()
            np.fill_diagonal(lt, 0.0)
            a_mat, k_rows, l_rows = kt, kt.sum(axis=1), lt.sum(axis=1)
            trace = _permuted_trace(a_mat, gy if factor is None else None, factor, perms)
            cross = (trace + k_rows.sum() * l_rows.sum() / ((n - 1) * (n - 2))
                     - 2.0 / (n - 2) * (l_rows[perms] @ k_rows)) / (n * (n - 3))
        else:
            kc = gx - gx.mean(axis=0, keepdims=True) - gx.mean(axis=1, keepdims=True) + gx.mean()
            cross = _permuted_trace(kc, gy if factor is None else None, factor, perms) / (n - 1) ** 2
        ok = np.isfinite(xx) and np.isfinite(yy) and xx > 0 and yy > 0 and n >= (4 if debiased else 2)
        out.append(cross / np.sqrt(xx * yy) if ok else np.full(perms.shape[0], np.nan))
    return np.array(out).reshape(-1, perms.shape[0])


def _permuted_trace(a: np.ndarray, gram: np.ndarray | None, factor: np.ndarray | None, perms: np.ndarray
                    ) -> np.ndarray:
    """`[m]`: sum_ij a_ij L[pi_i, pi_j] for every permutation (the diagonal of L left out when a's is zero)."""
    m, n = perms.shape
    out = np.empty(m)
    if factor is not None:
        f = np.asarray(factor, dtype=np.float64)
        block = max(1, PERMUTATION_BYTES // (8 * n * f.shape[1]))
        for start in range(0, m, block):
            p = perms[start:start + block]
            stacked = f[p].transpose(1, 0, 2).reshape(n, -1)  # [n, b q]: column (b, a) is f[pi_b, a]
            # with a's diagonal zero (debiased) L's diagonal never enters, in either path
            out[start:start + block] = np.einsum("ij,ij->j", stacked, a @ stacked).reshape(p.shape[0], -1).sum(axis=1)
        return out
    block = max(1, PERMUTATION_BYTES // (8 * n * n))
    for start in range(0, m, block):
        p = perms[start:start + block]
        permuted = gram[p[:, :, None], p[:, None, :]]  # [b, n, n]
        out[start:start + block] = np.einsum("ij,bij->b", a, permuted)
    return out
