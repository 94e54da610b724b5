"""Pooling over frames: a layer's `[batch, frames, dim]` to one vector per sound.

The harness's job, never a wrapper's: pooling reads only each sound's valid frames, so padding
never leaks into a sound's vector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

POOLINGS = ("mean", "max", "mean+std")


def pool(values: torch.Tensor, n_frames: torch.Tensor, how: str) -> torch.Tensor:
    """Pool `[batch, frames, dim]` over each sound's first `n_frames` frames -> `[batch, dim']`.

    mean: average; max: elementwise maximum; mean+std: mean and (population) standard
    deviation concatenated, `[batch, 2 * dim]`.
    """
    import torch  # here, not at module level: task files name poolings without loading torch

    if how not in POOLINGS:
        raise ValueError(f"unknown pooling {how!r}; choose from {', '.join(POOLINGS)}")
    if torch.any(n_frames < 1):
        raise ValueError("a sound has no frames in this layer; it is too short for the model")
    b, t, _ = values.shape
    mask = (torch.arange(t, device=values.device)[None, :] < n_frames[:, None].to(values.device))[..., None]
    x = values.double()
    count = n_frames.to(values.device).double()[:, None]
    mean = torch.where(mask, x, 0.0).sum(dim=1) / count
    if how == "mean":
        return mean
    if how == "max":
        return torch.where(mask, x, -torch.inf).amax(dim=1)
    var = torch.where(mask, (x - mean[:, None, :]) ** 2, 0.0).sum(dim=1) / count
    return torch.cat([mean, var.sqrt()], dim=1)
