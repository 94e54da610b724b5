"""Class labels as the probes need them: listeners' modal responses as labels, class sizes in words,
and how many stratified folds a set of labels allows.

Light on purpose (numpy only): reading task files (`list tasks`) needs `modal_labels`.
"""

from __future__ import annotations

import numpy as np


def modal_labels(counts: np.ndarray, categories: list[str]) -> list[str | None]:
    """Each sound's most frequent response; None where the top count is tied (no single mode)."""
    c = np.asarray(counts)
    top = c == c.max(axis=1, keepdims=True)
    return [categories[int(np.argmax(row))] if row.sum() == 1 else None for row in top]


def fold_count(labels: np.ndarray, wanted: int) -> int:
    """As many stratified folds as asked, but no more than the smallest class allows (>= 2)."""
    smallest = int(np.min(np.unique(labels, return_counts=True)[1]))
    return max(2, min(wanted, smallest))


def class_counts_text(labels) -> str:
    """'wood 10, metal 1': the classes of some labels and their sizes, for messages."""
    classes, counts = np.unique(np.asarray(labels), return_counts=True)
    return ", ".join(f"{c} {n}" for c, n in zip(classes, counts))
