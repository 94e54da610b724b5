"""Listener responses: per-listener category answers turned into per-sound response counts.

The one place where answers are counted. Stimulus sets (folder, Hub, embedded) derive their
judgments with it, and split-half noise ceilings (`ceiling.split_half_reliability`) count each
half of the panel with it, so a ceiling and a score always count the same way. numpy only.
"""

from __future__ import annotations

import numpy as np

#: The code of "this listener did not judge this sound".
NO_RESPONSE = -1


def counts_from_responses(responses: np.ndarray, n_categories: int) -> np.ndarray:
    """`[n_sounds, n_categories]` int64 counts from `[n_listeners, n_sounds]` category indices.

    counts[i, k] = #{listeners l : responses[l, i] == k}; NO_RESPONSE (-1) entries are not counted.
    Any other code outside [0, n_categories) is an error (ValueError), never silently dropped.
    """
    r = np.asarray(responses)
    if r.ndim != 2:
        raise ValueError(f"responses must be [n_listeners, n_sounds], got shape {r.shape}")
    if not np.issubdtype(r.dtype, np.integer):
        raise ValueError(f"responses must be integer category indices, got {r.dtype}")
    n_sounds = r.shape[1]
    if r.size and (r.min() < NO_RESPONSE or r.max() >= n_categories):
        raise ValueError(
            f"responses must be category indices in [0, {n_categories}) or {NO_RESPONSE} (no response), "
            f"found values in [{r.min()}, {r.max()}]"
        )
    answered = r >= 0
    sound = np.broadcast_to(np.arange(n_sounds), r.shape)[answered]
    flat = np.bincount(sound * n_categories + r[answered], minlength=n_sounds * n_categories)
    return flat.reshape(n_sounds, n_categories).astype(np.int64, copy=False)
