"""Audio in: any wav/flac/ogg/opus/mp3 file -> 16 kHz mono float32 for analysis.

The original file is only read, never written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxface.errors import InputError

ANALYSIS_RATE = 16_000
SUPPORTED_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif")


@dataclass(frozen=True)
class Audio:
    """Mono speech for analysis.

    Attributes:
        samples: float32, shape [N], in -1..1, at `sample_rate`.
        sample_rate: Hz (always ANALYSIS_RATE for loaded files).
        duration: seconds, of the original file (N / sample_rate up to resampling rounding).
        path: the file it came from, or None.
        original_rate: the file's own sample rate in Hz.
        original_channels: the file's channel count.
    """

    samples: np.ndarray
    sample_rate: int
    duration: float
    path: Path | None = None
    original_rate: int = ANALYSIS_RATE
    original_channels: int = 1

    @property
    def stem(self) -> str:
        return self.path.stem if self.path is not None else "audio"


def load_audio(path: str | os.PathLike) -> Audio:
    """Read an audio file, mix down to mono and resample to 16 kHz.

    Raises InputError (one line, naming the file) when the file is missing, not a file,
    empty, not decodable, or holds non-finite samples.
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise InputError("no such file", path=p)
    if p.is_dir():
        raise InputError("is a directory, expected an audio file", path=p)
    if p.stat().st_size == 0:
        raise InputError("file is empty (0 bytes), expected audio", path=p)
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile's messages are multi-line and vary by version
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot decode audio ({reason}); supported: {', '.join(SUPPORTED_SUFFIXES)}",
            path=p) from None
    if data.shape[0] == 0:
        raise InputError("audio holds no samples", path=p)
    if not np.all(np.isfinite(data)):
        raise InputError("audio holds NaN or infinite samples", path=p)
    channels = int(data.shape[1])
    mono = data.mean(axis=1, dtype=np.float64).astype(np.float32)
    duration = mono.shape[0] / float(rate)
    samples = resample(mono, int(rate), ANALYSIS_RATE)
    return Audio(samples=samples, sample_rate=ANALYSIS_RATE, duration=duration, path=p,
                 original_rate=int(rate), original_channels=channels)


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality). samples: float32 [N] -> float32 [M]."""
    if rate_in == rate_out:
        return np.ascontiguousarray(samples, dtype=np.float32)
    import soxr

    return soxr.resample(samples.astype(np.float32), rate_in, rate_out, quality="HQ").astype(
        np.float32)


def from_array(samples: np.ndarray, sample_rate: int, path: Path | None = None) -> Audio:
    """Wrap samples already in memory (float [N] or [N, C]) as analysis Audio."""
    x = np.asarray(samples, dtype=np.float32)
    channels = 1 if x.ndim == 1 else int(x.shape[1])
    if x.ndim == 2:
        x = x.mean(axis=1)
    duration = x.shape[0] / float(sample_rate)
    return Audio(samples=resample(x, sample_rate, ANALYSIS_RATE), sample_rate=ANALYSIS_RATE,
                 duration=duration, path=path, original_rate=sample_rate,
                 original_channels=channels)
