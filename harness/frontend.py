"""Audio front end: decode, mix to mono, resample to the model's rate.

Its settings are part of every activation cache key and every result, since they change what
the model hears.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import soxr

from audioprobe.errors import AudioprobeError


@dataclasses.dataclass(frozen=True)
class FrontEnd:
    """Mono mixdown (mean of channels) and soxr resampling to `target_rate`."""

    target_rate: int
    resampler: str = "soxr"
    quality: str = "HQ"  # soxr quality recipe: QQ, LQ, MQ, HQ, VHQ
    mono: str = "mean"

    def settings(self) -> dict:
        return dataclasses.asdict(self) | {"soxr_version": soxr.__version__}

    def __call__(self, wave: np.ndarray, rate: int, sound_id: str = "?") -> np.ndarray:
        """1-D float32 waveform at `target_rate`."""
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim == 2:
            wave = wave.mean(axis=1, dtype=np.float32)
        elif wave.ndim != 1:
            raise AudioprobeError(f"sound {sound_id!r}: expected [samples] or [samples, channels], got {wave.shape}.")
        if wave.size == 0:
            raise AudioprobeError(f"sound {sound_id!r} is empty.")
        if rate != self.target_rate:
            wave = soxr.resample(wave, rate, self.target_rate, quality=self.quality).astype(np.float32)
        return wave
