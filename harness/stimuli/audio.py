"""Audio files of a stimulus set: header checks (at load time) and decoding (one sound at a time).

Shared by the folder format and Hub datasets, so both accept and reject the same files with the
same messages. A source is a file path or a binary file object; `where` names it in errors
(the file, or `hf:ORG/NAME@commit`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from audioprobe.errors import AudioprobeError

#: Shortest sound the harness accepts: one 25 ms analysis frame (the usual speech/audio frame, e.g.
#: the Kaldi filter bank's default frame length).
MIN_DURATION_S = 0.025

FORMATS_HINT = "Use a format libsndfile reads (WAV, FLAC, OGG, MP3)"


def _open(source):
    return str(source) if isinstance(source, Path) else source


def check_audio_header(source, sound_id: str, where=None, declared_rate: int | None = None) -> "sf._SoundFileInfo":
    """Validate a sound from its header only (fast): readable, non-empty, long enough, rate as declared.

    Multi-channel files are allowed (the front end mixes them to mono) and so are mixed sample
    rates (the front end resamples), unless the set declares one `sample_rate` (dataset.yaml).
    """
    where = source if where is None else where
    try:
        info = sf.info(_open(source))
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise AudioprobeError(
            f"{where}: sound {sound_id!r} cannot be read as audio ({exc}). {FORMATS_HINT}, or remove the sound."
        ) from None
    check_length(where, sound_id, info.frames, info.samplerate)
    if declared_rate is not None and info.samplerate != declared_rate:
        raise AudioprobeError(
            f"{where}: sound {sound_id!r} is at {info.samplerate} Hz but dataset.yaml declares sample_rate "
            f"{declared_rate}; resample the file, or remove sample_rate from dataset.yaml (mixed rates are "
            f"allowed and resampled for each model)."
        )
    return info


def check_length(where, sound_id: str, frames: int, rate: int) -> None:
    """A sound must have samples and last at least MIN_DURATION_S."""
    if frames <= 0:
        raise AudioprobeError(f"{where}: sound {sound_id!r} is empty; remove it or replace the file.")
    if frames < MIN_DURATION_S * rate:
        raise AudioprobeError(
            f"{where}: sound {sound_id!r} lasts {frames / rate * 1000:.1f} ms; the shortest allowed is "
            f"{MIN_DURATION_S * 1000:.0f} ms (one analysis frame)."
        )


def decode_audio(source, sound_id: str, where=None) -> tuple[np.ndarray, int]:
    """Decode a sound and check its samples: float32 `[samples]` or `[samples, channels]`, and its rate."""
    where = source if where is None else where
    try:
        wave, sr = sf.read(_open(source), dtype="float32", always_2d=False)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise AudioprobeError(f"{where}: sound {sound_id!r} cannot be decoded ({exc}). {FORMATS_HINT}.") from None
    check_length(where, sound_id, wave.shape[0], sr)
    if not np.all(np.isfinite(wave)):
        raise AudioprobeError(f"{where}: sound {sound_id!r} contains NaN or infinite samples.")
    return wave, sr
