"""Measures of the timbre literature computed beside the RSA (the `measures` key).

Each measure (metrics/similarity.py) per layer, on the same bootstrap resamples of the sounds as the
RSA, and at the layer the RSA's headline chose: reported, never used to choose.
"""

from __future__ import annotations

import numpy as np

from audioprobe.metrics import intervals, similarity
from audioprobe.tasktypes.common import interval, json_float


def timbre_measures(wanted: list[str], names: list[str], model_rdms: np.ndarray, target: np.ndarray,
                    counts: np.ndarray, head_layer: str | None, level: float) -> dict:
    """Each requested measure (metrics/similarity.py) per layer, with a percentile interval over the RSA's own
    bootstrap resamples of the sounds (the target fixed), and at the RSA's headline layer (chosen by the RSA,
    not by the measure: no second selection)."""
    from scipy.spatial.distance import squareform

    human = squareform(target, checks=False)
    out = {}
    for name in wanted:
        func, kwargs, lower, under_weights = similarity.MEASURES[name]
        rows = []
        for k, layer in enumerate(names):
            model = squareform(model_rdms[k], checks=False)
            value = func(model, human, **kwargs)
            if not counts.size:
                reps = np.empty(0)
            elif under_weights is not None:
                reps = under_weights(model, human, counts, **kwargs)
            else:
                reps = similarity.bootstrap_measure(func, model, human, counts, **kwargs)
            rows.append({"layer": layer, "value": json_float(value),
                         "ci": interval(intervals.percentile_interval(reps[:, None], level)[0]) if reps.size else None})
        at_head = next((dict(r) for r in rows if r["layer"] == head_layer), None)
        out[name] = {"lower_is_better": lower, "per_layer": rows, "at_headline_layer": at_head,
                     "method": f"{func.__name__}({', '.join(f'{k}={v}' for k, v in kwargs.items())}), "
                               f"{'lower' if lower else 'higher'} is better; interval: percentile bootstrap over sounds"}
    return out
