"""Prosodic features of the audio, sampled at the animation frame rate.

`intensity_envelope` is what drives jaw opening (louder speech -> wider jaw); `pitch_track` is
optional and slower (Praat's autocorrelation pitch).
"""

from __future__ import annotations

import numpy as np

from voxface.core.audio import Audio
from voxface.core.curves import Curves

# Analysis window for loudness. 40 ms spans several glottal periods even for low voices, so
# the envelope does not ripple at F0, yet is short enough to follow syllables (~5 per second).
INTENSITY_WINDOW_S = 0.040
BLOCK_S = 0.004  # power is summed in blocks of this length before windowing
# Normalisation: the loud end is a high percentile of the utterance (robust to a few clicks or
# plosive bursts); the quiet end is the noise floor, but never more than DYNAMIC_RANGE_DB below
# the loud end, so a very clean recording does not squash all speech toward 1.
LOUD_PERCENTILE = 95.0
FLOOR_PERCENTILE = 5.0
DYNAMIC_RANGE_DB = 40.0
MIN_RANGE_DB = 6.0


_CHUNK_BLOCKS = 1 << 14   # power blocks summed per pass over the samples (memory bound)
_CHUNK_FRAMES = 1 << 13   # output frames windowed per pass


def block_power(samples: np.ndarray, block: int, *, pre_emphasis: float | None = None
                ) -> np.ndarray:
    """Mean power of consecutive `block`-sample blocks (the last one zero-padded): float64
    [ceil(N / block)]. With `pre_emphasis` c, of the pre-emphasised signal y[0] = x[0],
    y[n] = x[n] - c x[n-1] (float32, as the samples). Works through the samples a chunk at a
    time, so it needs no copy of the signal."""
    x = np.asarray(samples, dtype=np.float32)
    n_blocks = max(1, -(-x.shape[0] // block))
    out = np.empty(n_blocks, np.float64)
    step = _CHUNK_BLOCKS * block
    for start in range(0, n_blocks * block, step):
        stop = min(start + step, n_blocks * block)
        chunk = np.zeros(stop - start, np.float32)
        have = max(0, min(stop, x.shape[0]) - start)
        if pre_emphasis is None:
            chunk[:have] = x[start:start + have]
        elif have:
            if start == 0:
                chunk[0] = x[0]
                chunk[1:have] = x[1:have] - pre_emphasis * x[:have - 1]
            else:
                chunk[:have] = x[start:start + have] - pre_emphasis * x[start - 1:start + have - 1]
        rows = chunk.reshape(-1, block)
        out[start // block:stop // block] = np.einsum("ij,ij->i", rows, rows).astype(
            np.float64) / block
    return out


def intensity_db(audio: Audio, fps: float, *, n_frames: int | None = None,
                 window_s: float = INTENSITY_WINDOW_S,
                 pre_emphasis: float | None = None) -> np.ndarray:
    """Hann-weighted RMS level in dB (re full scale) centred on each frame.

    Args:
        audio: mono samples at audio.sample_rate.
        fps: frame rate; frame i is centred at i / fps seconds.
        n_frames: number of frames; default Curves.n_frames_for(audio.duration, fps).
        window_s: analysis window length in seconds.
        pre_emphasis: the level of the pre-emphasised signal (see `block_power`) instead.

    Returns:
        float64 [T] level in dB, -120 for digital silence.

    Memory: the block powers ([N / 64] floats) and a fixed-size chunk of frames at a time.
    """
    sr = audio.sample_rate
    n = Curves.n_frames_for(audio.duration, fps) if n_frames is None else int(n_frames)
    # Mean power in short blocks first (one pass over the samples), then a Hann-weighted sum
    # of the blocks around each frame: ~40x less work than windowing the samples per frame,
    # and a 4 ms block is fine-grained enough for a 40 ms window.
    block = max(1, int(round(BLOCK_S * sr)))
    power_blocks = block_power(audio.samples, block, pre_emphasis=pre_emphasis)
    n_blocks = power_blocks.shape[0]
    win = window_s * sr
    reach = int(np.ceil(0.5 * win / block)) + 1
    out = np.empty(n, np.float64)
    for f0 in range(0, n, _CHUNK_FRAMES):
        f1 = min(f0 + _CHUNK_FRAMES, n)
        centre = np.arange(f0, f1) * (sr / fps)                   # frame centres, in samples
        idx = np.floor(centre / block).astype(np.int64)[:, None] + np.arange(-reach, reach + 1)
        offset = (idx + 0.5) * block - centre[:, None]            # block centre - frame centre
        hann = np.where(np.abs(offset) < 0.5 * win, np.cos(np.pi * offset / win) ** 2, 0.0)
        inside = (idx >= 0) & (idx < n_blocks)
        # Blocks outside the signal count as silence, so the ends fade rather than renormalise.
        power = (hann * np.where(inside, power_blocks[np.clip(idx, 0, n_blocks - 1)],
                                 0.0)).sum(1)
        power /= np.maximum(hann.sum(axis=1), 1e-12)
        out[f0:f1] = 10.0 * np.log10(np.maximum(power, 1e-12))
    return out


def intensity_envelope(audio: Audio, fps: float, *, n_frames: int | None = None) -> np.ndarray:
    """Loudness per output frame, normalised to 0..1 within the utterance.

    0 is the utterance's noise floor (or DYNAMIC_RANGE_DB below its loud end), 1 its loud end
    (95th percentile); percentiles make it robust to clicks and long pauses. Digital silence
    or a constant-level signal with under MIN_RANGE_DB of range gives all zeros.

    Args:
        audio: 16 kHz mono Audio.
        fps: output frame rate (frame i at i / fps s).
        n_frames: number of frames; default Curves.n_frames_for(audio.duration, fps).

    Returns:
        float32 [T] in 0..1.

    Cost: one pass over the samples plus [T, ~12] block sums: a few ms per minute of audio.
    """
    db = intensity_db(audio, fps, n_frames=n_frames)
    if db.size == 0:
        return np.zeros(0, np.float32)
    hi = float(np.percentile(db, LOUD_PERCENTILE))
    lo = max(float(np.percentile(db, FLOOR_PERCENTILE)), hi - DYNAMIC_RANGE_DB)
    if hi - lo < MIN_RANGE_DB or hi <= -110.0:
        return np.zeros(db.shape, np.float32)
    return np.clip((db - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def pitch_track(audio: Audio, fps: float, *, n_frames: int | None = None,
                floor_hz: float = 75.0, ceiling_hz: float = 500.0) -> np.ndarray:
    """Fundamental frequency per output frame (Praat autocorrelation via parselmouth).

    Returns float32 [T] in Hz, 0 where unvoiced. Slower than the envelope (~10-20 ms per second
    of audio); the engine does not need it for jaw motion.
    """
    import parselmouth

    n = Curves.n_frames_for(audio.duration, fps) if n_frames is None else int(n_frames)
    snd = parselmouth.Sound(np.asarray(audio.samples, np.float64), float(audio.sample_rate))
    pitch = snd.to_pitch(time_step=1.0 / fps, pitch_floor=floor_hz, pitch_ceiling=ceiling_hz)
    f0 = pitch.selected_array["frequency"]
    times = pitch.xs()
    t = np.arange(n) / fps
    if f0.size == 0:
        return np.zeros(n, np.float32)
    # Nearest analysis frame; pitch frames start half a window in, so clamp at the ends.
    idx = np.clip(np.searchsorted(times, t), 0, f0.size - 1)
    prev = np.clip(idx - 1, 0, f0.size - 1)
    idx = np.where(np.abs(times[prev] - t) < np.abs(times[idx] - t), prev, idx)
    return f0[idx].astype(np.float32)


EFFORT_RANGE_DB = 8.0   # tilt change (dB) that counts as full effort (+1) or full laxness (-1)
PRE_EMPHASIS = 0.95


def effort_envelope(audio: Audio, fps: float, *, n_frames: int | None = None,
                    loudness: np.ndarray | None = None) -> np.ndarray:
    """Vocal effort per frame from spectral tilt, -1..1 (0 = the utterance's typical voice).

    Effortful (loud, clear, shouted) voice puts relatively more energy into the formants
    above 1 kHz: the level of the pre-emphasised signal (x[n] - 0.95 x[n-1]) minus the plain
    level rises. That difference, relative to its median over the utterance's speech frames
    (loudness >= 0.3) and scaled by EFFORT_RANGE_DB, is the effort; it drives lip intensity
    (JALI's lip axis). Frames quieter than that fade to 0, so pauses and noise do not count.
    A signal whose tilt never changes (white noise) gives all zeros.

    Args:
        audio: mono Audio; fps: frame rate; n_frames: default Curves.n_frames_for(...).
        loudness: intensity_envelope(audio, fps) when already computed (saves a pass).

    Returns float64 [T] in -1..1. Cost: one extra pass over the samples (~1 ms per s).
    """
    n = Curves.n_frames_for(audio.duration, fps) if n_frames is None else int(n_frames)
    if np.asarray(audio.samples).size < 2 or n == 0:
        return np.zeros(n)
    db = intensity_db(audio, fps, n_frames=n)
    db_e = intensity_db(audio, fps, n_frames=n, pre_emphasis=PRE_EMPHASIS)
    tilt = db_e - db
    env = (intensity_envelope(audio, fps, n_frames=n) if loudness is None
           else np.asarray(loudness, np.float64))
    speech = env >= 0.3
    if speech.sum() < 3:
        return np.zeros(n)
    ref = float(np.median(tilt[speech]))
    effort = np.clip((tilt - ref) / EFFORT_RANGE_DB, -1.0, 1.0)
    # Quantise away sub-0.1 dB estimator noise so a constant-tilt signal is exactly neutral.
    effort = np.where(np.abs(tilt - ref) < 0.25, 0.0, effort)
    return effort * np.clip(env / 0.3, 0.0, 1.0)
