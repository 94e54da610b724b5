"""Stimulus sets built in code for tests: one factory instead of a StimulusSet written out in each file.

`make_set(categories, truth=...)` gives silent sounds labelled with their true categories and judged
unanimously (`votes` votes each); `responses=` gives a listener panel instead, whose counts become the
judgments (as a folder's responses.csv does). The `make_set` fixture in conftest.py returns this function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audioprobe.stimuli import StimulusSet


def silent(index: int) -> tuple[np.ndarray, int]:
    """400 samples of silence at 16 kHz: tests that never listen to the sounds still need a loader."""
    return np.zeros(400, np.float32), 16000


def make_set(categories: dict[str, list[str]], truth: dict[str, np.ndarray] | None = None, *, votes: int = 5,
             judgments: dict[str, np.ndarray] | None = None, responses: dict[str, np.ndarray] | None = None,
             labels: dict[str, list[str]] | None = None, name: str = "tiny", synthetic: bool = True,
             audio: bool = True, **fields: Any) -> StimulusSet:
    """A set of n sounds (the length of `truth`'s or `responses`' arrays).

    categories: dimension -> category names. truth: dimension -> true category index per sound; the
    labels are those categories' names unless `labels` is given. Judgments: `judgments` as given, else
    the counts of `responses` (dimension -> [listeners, sounds] category indices, -1 not judged) with
    listeners l0, l1, ..., else `votes` votes for the true category of every dimension in `truth`.
    audio False: no loader (tests that never extract)."""
    truth = {d: np.asarray(t) for d, t in (truth or {}).items()}
    n = len(next(iter(truth.values()))) if truth else next(iter(responses.values())).shape[1]
    if labels is None:
        labels = {d: [categories[d][k] for k in t] for d, t in truth.items()}
    if judgments is None and responses is None:
        judgments = {d: np.eye(len(categories[d]), dtype=np.int64)[t] * votes for d, t in truth.items()}
    if responses is not None:
        fields.setdefault("listeners", [f"l{i}" for i in range(next(iter(responses.values())).shape[0])])
    s = StimulusSet(name=name, sound_ids=[f"s{i}" for i in range(n)], dimensions=categories, labels=labels,
                    judgments=judgments if judgments is not None else {}, load_audio=silent if audio else None,
                    responses=responses, synthetic=synthetic, **fields)
    if judgments is None:
        s.judgments = s.counts_from_responses()
    return s


def wilson(p: float, var: float, dof: float, n_max: float, level: float = 0.95) -> list[float]:
    """Wilson's interval (1927) on the effective size p (1 - p) / var (n_max at p = 0 or 1), t(dof) quantile,
    written out for the tests (the harness's is `intervals.proportion_interval`)."""
    from scipy.stats import t

    z = t.ppf(0.5 + level / 2, dof)
    n = p * (1 - p) / var if var > 0 and 0 < p < 1 else n_max
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [max(centre - half, 0.0), min(centre + half, 1.0)]
