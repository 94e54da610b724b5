"""RSA targets from listeners' answers: response counts to a condensed target RDM (symmetric KL,
Jensen-Shannon or modal distances, the mean over dimensions), its low-rank factors, and the target
rebuilt from a draw of the listeners (for the two-factor bootstrap and the noise ceilings).

Arrays in, arrays out: the task type says which kind, dimensions and smoothing; the statistics
(`rsa_inference`, `ceiling`) receive the functions made here and never call back into a task type.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from audioprobe.metrics import geometry
from audioprobe.metrics.responses import counts_from_responses

Counts = dict[str, np.ndarray]  # dimension -> [n_sounds, n_categories] response counts

#: targets whose square form has a low-rank factorisation (rsa.*_factors): Pearson ceilings use it
FACTORED = {"kl": geometry.symmetric_kl_factors, "modal": geometry.modal_factors}

#: added to every category count before KL / JS (the paper's choice): the RSA tasks' default and the set
#: summary's targets
DEFAULT_SMOOTHING = 0.5


def from_counts(kind: str, counts: Counts, dims: list[str], smoothing: float) -> np.ndarray:
    """The condensed target of `kind` ("kl", "js", "modal") from response counts; several dimensions: the
    mean of their RDMs."""
    funcs = {"kl": lambda c: geometry.symmetric_kl_rdm(c, smoothing),
             "js": lambda c: geometry.jensen_shannon_rdm(c, smoothing),
             "modal": geometry.modal_rdm}
    return np.mean([funcs[kind](counts[d]) for d in dims], axis=0)


def factors(kind: str, counts: Counts, dims: list[str], smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) with A @ B.T the square form of `from_counts` (the mean over dims: the factors side by side,
    A scaled by 1/len(dims)); `kind` in FACTORED."""
    func = FACTORED[kind]
    parts = [func(counts[d], smoothing) if kind == "kl" else func(counts[d]) for d in dims]
    return np.hstack([a / len(dims) for a, _ in parts]), np.hstack([b for _, b in parts])


def or_nan(kind: str, counts: Counts, dims: list[str], smoothing: float) -> np.ndarray:
    """The target of a subset of the listeners, or NaN where it is undefined (js without smoothing on a
    sound none of them judged): that draw or split is then left out, not the whole task."""
    try:
        return from_counts(kind, counts, dims, smoothing)
    except ValueError:
        n = next(iter(counts.values())).shape[0]
        return np.full(n * (n - 1) // 2, np.nan)


def drawn_counts(responses: dict[str, np.ndarray], n_categories: dict[str, int]) -> Callable[[np.ndarray], Counts]:
    """responses: dim -> `[n_listeners, n_sounds]` category indices (-1: not judged). Returns weights
    `[n_listeners]` (how often each listener is drawn) -> dim -> `[n_sounds, n_categories]` response counts
    of those listeners (a listener drawn twice counted twice)."""
    dims = list(responses)
    who = np.arange(responses[dims[0]].shape[0])

    def counts(weights: np.ndarray) -> Counts:
        drawn = np.repeat(who, weights)
        return {d: counts_from_responses(responses[d][drawn], n_categories[d]) for d in dims}

    return counts


def rebuilt_targets(responses: dict[str, np.ndarray], n_categories: dict[str, int], kind: str, smoothing: float
                    ) -> Callable[[np.ndarray], np.ndarray]:
    """weights `[m, n_listeners]` -> `[m, n_pairs]`: the target rebuilt from each row's drawn listeners
    (`drawn_counts`). All ones gives the target of the whole panel; a target undefined for a draw is a row
    of NaN (`or_nan`)."""
    dims = list(responses)
    counts_of = drawn_counts(responses, n_categories)
    n_sounds = responses[dims[0]].shape[1]

    def targets(weights: np.ndarray) -> np.ndarray:
        weights = np.atleast_2d(np.asarray(weights, dtype=np.int64))
        out = np.empty((weights.shape[0], n_sounds * (n_sounds - 1) // 2))
        for row, w in zip(out, weights):
            row[:] = or_nan(kind, counts_of(w), dims, smoothing)
        return out

    return targets
