"""Backends of the Pearson engine: who computes the heavy products, and with how many threads.

A backend provides `weighted_pearson_blocks` (the cross-validation's halves), `permuted_pearson` (the
Mantel test) and `paired_rows` (ceilings' comparisons of formed RDMs), with the signatures and results
of the numpy functions, and `threads(n_sounds)`, the thread policy of its products. `NUMPY` is this
package's (numba kernels inside `permuted_pearson` for large sets, `kernels.py`); `for_device("cuda")`
gives the torch one (`backend_torch.py`), equal within float rounding. Task types ask `for_device`;
statistics take a backend and never import torch.
"""

from __future__ import annotations

import types
from typing import Any, Protocol

from audioprobe.metrics.mantel import permuted_pearson
from audioprobe.metrics.pearson import paired_rows, small_problem_threads, weighted_pearson_blocks


class Backend(Protocol):
    def weighted_pearson_blocks(self, model_rdms, target_rdm, blocks, present=None) -> Any: ...
    def permuted_pearson(self, model_rdms, target_rdm, permutations, present=None) -> Any: ...
    def paired_rows(self, a, b, method: str) -> Any: ...
    def threads(self, n_sounds: int) -> Any: ...


#: numpy (and numba for the Mantel test of large sets), with the small-problem thread policy
NUMPY: Backend = types.SimpleNamespace(weighted_pearson_blocks=weighted_pearson_blocks,
                                       permuted_pearson=permuted_pearson, paired_rows=paired_rows,
                                       threads=small_problem_threads)


def for_device(device: str) -> Backend:
    """NUMPY, or the torch backend on a CUDA device."""
    if device.startswith("cuda"):
        from audioprobe.metrics import backend_torch

        return backend_torch.on(device)
    return NUMPY
