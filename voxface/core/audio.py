"""Audio in: any wav/flac/ogg/opus/mp3 file -> 16 kHz mono float32 for analysis.

The original file is only read, never written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxface.core import bytealign
from voxface.core.errors import InputError

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
        clipped: fraction of the file's samples (all channels) at full scale (|x| >= 0.99),
            the sign of a clipped recording; 0 for audio not read from a file.
        misread: stretches of a 16-bit file whose bytes were read wrongly (one byte off or
            byte-swapped) and were repaired on loading (voxface.core.bytealign):
            ((start_s, end_s, how), ...) with `how` one of bytealign.READINGS; () when none.
    """

    samples: np.ndarray
    sample_rate: int
    duration: float
    path: Path | None = None
    original_rate: int = ANALYSIS_RATE
    original_channels: int = 1
    clipped: float = 0.0
    misread: tuple[tuple[float, float, str], ...] = ()

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
    misread = _repair_bytes(p, sf, data, int(rate))
    clipped = _full_scale_fraction(data)
    mono = _mix_down(data)
    del data
    duration = mono.shape[0] / float(rate)
    samples = resample(mono, int(rate), ANALYSIS_RATE)
    return Audio(samples=samples, sample_rate=ANALYSIS_RATE, duration=duration, path=p,
                 original_rate=int(rate), original_channels=channels, clipped=clipped,
                 misread=misread)


def _repair_bytes(p: Path, sf, data: np.ndarray, rate: int
                  ) -> tuple[tuple[float, float, str], ...]:
    """Repair, in place in `data` [N, 1], the stretches of a mono 16-bit PCM file that read
    one byte off or byte-swapped (voxface.core.bytealign); returns them in seconds.

    Only mono 16-bit files: there the faults are exactly reversible from the samples (the
    float32 values are the int16 samples / 32768). In interleaved multichannel data a lost
    byte also moves samples between channels, which this does not undo."""
    if data.shape[1] != 1 or sf.info(str(p)).subtype != "PCM_16":
        return ()
    pcm = np.round(data[:, 0] * 32768.0).astype(np.int16)
    fixed, spans = bytealign.repair(pcm)
    if not spans:
        return ()
    data[:, 0] = fixed.astype(np.float32) / 32768.0
    return tuple((a / rate, b / rate, bytealign.READINGS[s]) for a, b, s in spans)


_MIX_ROWS = 1 << 20  # frames mixed down at a time (the float64 mean is per chunk)


FULL_SCALE = 0.99


def _full_scale_fraction(data: np.ndarray) -> float:
    """Fraction of the samples of `data` [N, C] with |x| >= FULL_SCALE (chunked)."""
    count = 0
    for a in range(0, data.shape[0], _MIX_ROWS):
        count += int(np.count_nonzero(np.abs(data[a:a + _MIX_ROWS]) >= FULL_SCALE))
    return count / max(1, data.size)


def _mix_down(data: np.ndarray) -> np.ndarray:
    """float32 [N, C] -> the float32 mean of the channels [N], computed in float64 a chunk at a
    time (an hour of audio is ~80 M frames: no float64 copy of the whole). Mono is returned
    as it is (the mean of one value is the value)."""
    if data.shape[1] == 1:
        return np.ascontiguousarray(data[:, 0])
    out = np.empty(data.shape[0], np.float32)
    for a in range(0, data.shape[0], _MIX_ROWS):
        out[a:a + _MIX_ROWS] = data[a:a + _MIX_ROWS].mean(axis=1, dtype=np.float64)
    return out


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality). samples: float32 [N] -> float32 [M]."""
    if rate_in == rate_out:
        return np.ascontiguousarray(samples, dtype=np.float32)
    import soxr

    # No extra copies of the input or the output (an hour of 48 kHz audio is 690 MB).
    return np.asarray(soxr.resample(np.ascontiguousarray(samples, dtype=np.float32), rate_in,
                                    rate_out, quality="HQ"), dtype=np.float32)


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
