"""Integer-overflow ("wrapped") audio: detection and a best-effort repair.

A recording whose gain was raised in 16-bit integers without saturation wraps around:
a sample that should be 1.3 x full scale comes out as -0.7. Where that happens the waveform
turns into broadband noise of near-full-scale level, while quiet stretches (pauses,
closures, weak fricatives) stay intact, and the aligner's silence/noise models win there.

Natural audio at 16 kHz essentially never steps by more than full scale between adjacent
samples (that needs a full-scale tone near 8 kHz), so the jump count is a safe detector.
(The shared TIMIT sample's noisy takes, first taken for wrapped audio, are 16-bit files read
one byte off, which voxface.core.bytealign repairs exactly on loading; docs/alignment.md.)
"""

from __future__ import annotations

import numpy as np

JUMP = 1.0            # |x[n+1] - x[n]| above this (half the -1..1 range) is a wrap
FRAME_S = 0.01
MIN_JUMPS = 2         # jumps per 10 ms frame that mark the frame as wrapped
MIN_FRACTION = 1e-3   # jumps per sample pair above which a clip counts as wrapped


def wrap_fraction(samples: np.ndarray) -> float:
    """Fraction of adjacent sample pairs that step by more than JUMP (0 for natural audio)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.size < 2:
        return 0.0
    return float(np.count_nonzero(np.abs(np.diff(x)) > JUMP)) / (x.size - 1)


FULL_SCALE = 0.999    # |x| at or above this counts as a full-scale sample


def is_wrapped(samples: np.ndarray) -> bool:
    """True when the audio looks integer-overflowed rather than clipped.

    Both make full-range steps between neighbours (a hard-clipped signal can swing from +1 to
    -1 in one sample), but clipping holds the peaks: its full-scale samples come in runs, while
    a wrapped waveform rarely has two full-scale samples side by side. So: enough full-range steps, and fewer full-scale plateau pairs than
    steps.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.size < 2 or wrap_fraction(x) <= MIN_FRACTION:
        return False
    jumps = np.count_nonzero(np.abs(np.diff(x)) > JUMP)
    high, low = x >= FULL_SCALE, x <= -FULL_SCALE
    plateaus = np.count_nonzero(high[1:] & high[:-1]) + np.count_nonzero(low[1:] & low[:-1])
    return bool(plateaus < jumps)


def wrapped_spans(samples: np.ndarray, rate: int, merge_s: float = 0.1
                  ) -> list[tuple[float, float]]:
    """[(start_s, end_s)] of the stretches whose 10 ms frames hold >= MIN_JUMPS wraps,
    merged across gaps shorter than `merge_s`. Empty for natural audio."""
    x = np.asarray(samples, dtype=np.float32)
    hop = max(1, int(round(FRAME_S * rate)))
    n = (x.size - 1) // hop
    if n <= 0:
        return []
    jumps = (np.abs(np.diff(x)) > JUMP)[:n * hop].reshape(n, hop).sum(axis=1)
    bad = np.flatnonzero(jumps >= MIN_JUMPS)
    spans: list[list[float]] = []
    for f in bad:
        t0, t1 = f * FRAME_S, (f + 1) * FRAME_S
        if spans and t0 - spans[-1][1] < merge_s:
            spans[-1][1] = t1
        else:
            spans.append([t0, t1])
    return [(round(a, 2), round(b, 2)) for a, b in spans]


def unwrap(samples: np.ndarray, rate: int) -> np.ndarray:
    """Best-effort inverse of the wrap: add the multiple of the full range (2.0) that keeps
    each step under JUMP, remove the drift that wrong guesses leave (50 Hz high-pass, zero
    phase) and scale to a 0.9 peak. float [N] -> float32 [N]. Where the gain was so high that
    true steps exceed JUMP the guess is ambiguous and the result stays noisy, but the
    envelope and the spectral balance come back closer to speech."""
    import scipy.signal as ss

    y = np.unwrap(np.asarray(samples, dtype=np.float64), discont=JUMP, period=2.0)
    sos = ss.butter(2, 50.0, btype="high", fs=rate, output="sos")
    y = ss.sosfiltfilt(sos, y)
    peak = float(np.abs(y).max())
    return (y * (0.9 / peak) if peak > 0 else y).astype(np.float32)


def describe(spans: list[tuple[float, float]], limit: int = 4) -> str:
    """'0.2-1.6 s, 2.0-2.4 s (+3 more)'."""
    shown = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in spans[:limit])
    return shown + (f" (+{len(spans) - limit} more)" if len(spans) > limit else "")
