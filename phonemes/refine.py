"""Phone-boundary refinement from acoustic landmarks: moves each aligner boundary to the
steepest intensity change nearby when the phones on both sides predict one.

PocketSphinx works on 10 ms frames with a 25.6 ms window, and its boundaries between a
sonorant (vowel, nasal, liquid, glide) and an obstruent (stop, fricative, affricate), or at a
pause, land tens of ms from where the sound actually changes. Those boundaries have a clear
acoustic landmark (Stevens' abrupt landmarks): the intensity falls steeply where a vowel
closes into a stop, a nasal or a fricative, and rises steeply where speech starts after a
pause or a vowel opens out of a fricative. `refine_alignment` computes a 2.5 ms-hop
intensity track (10 ms Hann windows, a few ms of compute per second of audio), and for every
boundary whose phone classes are in `RULES` looks for the steepest fall or rise inside a
search window around the aligner's boundary; it moves the boundary there when the change is
strong enough (>= MIN_SLOPE_DB dB per 5 ms), and leaves it otherwise.

The windows and thresholds were chosen on espeak-ng renderings of CMU ARCTIC prompts
(`tools.evaluate.training_sentences`), never on the report sentences, and checked
against MFA's alignment of real speech (docs/eval.md): rules whose correction helped on
synthetic speech but hurt agreement with MFA were dropped, so that it is a property of the
acoustics, not of espeak, that is learned.

A second pass (`SPECTRAL_RULES`) handles what intensity cannot see: sonorant onsets, a stop's
release into its vowel, fricative edges, voicing onset after a voiceless obstruent, and the
gradual vowel <-> liquid / glide transitions. Per transition it moves a boundary to the
largest spectral change nearby ("peak"; `spectral_change`: RMS difference of 30 log-mel bands
10 ms apart, 20 ms Hann windows, 2.5 ms hop), to where the spectrum turns from the previous
phone's to this one's ("mid"), or to where the low bands (~100-700 Hz) rise most: voicing
onset ("rise"; only after a pause or a voiceless obstruent). Both passes key their rules by
`spectral_kind`, which keeps voiceless obstruents apart (a vowel after /t/ starts after the
aspiration, one after /d/ at the release); the intensity rules name the classes they were
chosen for, so they serve voiced obstruents and sonorants only. The rules were chosen by
bench/spectral_rules.py on MFA's alignments of real speech and espeak renderings of ARCTIC
prompts only, never on TIMIT (its licence allows evaluation only); on the TIMIT sample, fully
held out: mean start error 16.0 -> 13.4 ms, 72 -> 80.6 % within 20 ms (docs/alignment.md
"Spectral landmarks"). Cost: ~1.6 ms per second of audio (spectra only near boundaries).
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from voxface.core.alignment import Alignment, Interval
from voxface.phonemes.arpabet import VOICELESS, phone_class

HOP_S = 0.0025
WIN_S = 0.010
SLOPE_HALF_S = 0.005        # slope = dB(t + 5 ms) - dB(t - 5 ms)
MIN_SLOPE_DB = 15.0
MIN_PHONE_S = 0.015         # no phone is squeezed below this
GAP_S = 0.001               # a gap longer than this before a phone is a pause

SONORANT = "son"
OBSTRUENT = "obs"
PAUSE = "sil"

# (previous kind, this phone's kind) -> (direction, search from, search to) in seconds
# relative to the aligner's boundary; direction -1 = intensity falls there, +1 = rises.
# Kinds are `spectral_kind`s: "stop" and "fricative" here are the voiced ones (the rules
# predate the voiceless classes, whose boundaries the spectral pass places).
RULES: dict[tuple[str, str], tuple[int, float, float]] = {
    ("vowel", "stop"): (-1, -0.015, 0.050),
    ("vowel", "affricate"): (-1, -0.015, 0.050),
    ("vowel", "fricative"): (-1, -0.020, 0.030),
    ("vowel", "nasal"): (-1, -0.015, 0.030),
    ("nasal", "stop"): (-1, -0.015, 0.050),
    ("liquid", "stop"): (-1, -0.015, 0.050),
    ("glide", "stop"): (-1, -0.015, 0.050),
    # A sonorant out of a pause: the decoder starts it 40-50 ms before the level rises on
    # real speech (its 25.6 ms window hears the onset early, and breath or pre-voicing
    # before it tips the frames to speech; TIMIT: median -45 ms for vowels and glides), so
    # the search reaches 60 ms past it. Synthetic onsets are abrupt, and lose nothing.
    ("sil", "vowel"): (1, -0.030, 0.060),
    ("sil", "fricative"): (1, -0.030, 0.030),
    ("sil", "nasal"): (1, -0.030, 0.060),
    ("sil", "liquid"): (1, -0.030, 0.060),
    ("sil", "glide"): (1, -0.030, 0.060),
    ("fricative", "vowel"): (1, -0.020, 0.025),
}

# Second pass, (previous kind, this phone's kind) -> (method, search from, search to, shift,
# penalty), times in seconds relative to the boundary after the intensity pass:
# * "peak": the frame inside [from, to] where spectral change minus penalty x |distance in ms|
#   (dB per ms; 0 = the largest change wins) is largest: abrupt landmarks (a release, a
#   fricative edge, a nasal's onset);
# * "mid": where the spectrum stops looking like the previous phone and starts looking like
#   this one (log-mel distance to the middle half of each phone; the split of the window
#   with fewest frames on the wrong side): gradual transitions (vowel <-> liquid / glide),
#   whose hand-labelled boundary lies mid-transition. Only after a phone (not a pause).
# * "rise": as "peak" on the rise of the lowest LOW_BANDS bands (`_low_rise`): voicing onset,
#   offered by the fit only after a pause or a voiceless obstruent ("*_vl").
# then the boundary moves by `shift`. Fitted by bench/spectral_rules.py (docs/alignment.md
# "Spectral landmarks") on MFA's alignments of real speech and espeak renderings of ARCTIC
# prompts only: never on TIMIT, whose licence allows evaluation only (it scores the result
# as held out); the generated table follows.
SpectralRule = tuple[str, float, float, float, float]
SPECTRAL_RULES: dict[tuple[str, str], SpectralRule] = {
    ('affricate_vl', 'vowel'): ('mid', -0.010, 0.030, -0.005, 0.0),
    ('fricative', 'fricative'): ('peak', 0.000, 0.020, 0.000, 0.0),
    ('fricative', 'fricative_vl'): ('peak', 0.000, 0.030, -0.005, 0.1),
    ('fricative', 'glide'): ('peak', 0.000, 0.030, 0.000, 0.1),
    ('fricative', 'liquid'): ('peak', -0.010, 0.040, 0.000, 0.0),
    ('fricative', 'nasal'): ('peak', -0.020, 0.040, 0.000, 0.1),
    ('fricative', 'stop'): ('mid', -0.040, 0.040, 0.000, 0.0),
    ('fricative', 'stop_vl'): ('peak', 0.000, 0.040, 0.005, 0.0),
    ('fricative', 'vowel'): ('peak', -0.030, 0.020, 0.000, 0.1),
    ('fricative_vl', 'fricative'): ('mid', -0.040, 0.020, 0.005, 0.0),
    ('fricative_vl', 'fricative_vl'): ('mid', -0.010, 0.010, 0.000, 0.0),
    ('fricative_vl', 'glide'): ('peak', -0.030, 0.030, 0.000, 0.1),
    ('fricative_vl', 'liquid'): ('rise', 0.000, 0.020, 0.005, 0.0),
    ('fricative_vl', 'nasal'): ('rise', -0.020, 0.020, 0.005, 0.0),
    ('fricative_vl', 'stop'): ('peak', -0.030, 0.020, 0.000, 0.1),
    ('fricative_vl', 'stop_vl'): ('peak', 0.000, 0.010, 0.000, 0.0),
    ('fricative_vl', 'vowel'): ('mid', -0.010, 0.030, -0.005, 0.0),
    ('glide', 'vowel'): ('mid', -0.020, 0.010, 0.005, 0.0),
    ('liquid', 'fricative'): ('mid', -0.040, 0.030, -0.005, 0.0),
    ('liquid', 'fricative_vl'): ('mid', -0.040, 0.010, 0.005, 0.0),
    ('liquid', 'glide'): ('mid', -0.040, 0.020, -0.005, 0.0),
    ('liquid', 'liquid'): ('peak', 0.000, 0.040, 0.000, 0.0),
    ('liquid', 'nasal'): ('mid', -0.010, 0.010, 0.005, 0.0),
    ('liquid', 'stop'): ('peak', -0.030, 0.020, 0.000, 0.1),
    ('liquid', 'stop_vl'): ('mid', -0.010, 0.030, 0.000, 0.0),
    ('liquid', 'vowel'): ('mid', -0.030, 0.030, 0.005, 0.0),
    ('nasal', 'affricate'): ('peak', 0.000, 0.020, 0.000, 0.1),
    ('nasal', 'fricative'): ('peak', -0.020, 0.040, 0.000, 0.0),
    ('nasal', 'fricative_vl'): ('peak', 0.000, 0.010, 0.000, 0.0),
    ('nasal', 'glide'): ('peak', 0.000, 0.060, 0.005, 0.0),
    ('nasal', 'liquid'): ('peak', -0.020, 0.060, -0.005, 0.0),
    ('nasal', 'nasal'): ('peak', -0.010, 0.010, -0.005, 0.0),
    ('nasal', 'stop'): ('mid', -0.010, 0.020, 0.005, 0.0),
    ('nasal', 'stop_vl'): ('peak', -0.010, 0.010, 0.000, 0.1),
    ('nasal', 'vowel'): ('peak', -0.010, 0.010, 0.005, 0.0),
    ('sil', 'affricate_vl'): ('peak', -0.030, 0.010, -0.005, 0.0),
    ('sil', 'fricative'): ('peak', -0.030, 0.020, 0.000, 0.0),
    ('sil', 'fricative_vl'): ('rise', -0.010, 0.040, 0.005, 0.1),
    ('sil', 'liquid'): ('rise', -0.020, 0.020, -0.005, 0.0),
    ('sil', 'stop'): ('peak', -0.030, 0.040, 0.000, 0.1),
    ('sil', 'stop_vl'): ('peak', -0.030, 0.010, -0.005, 0.1),
    ('sil', 'vowel'): ('peak', -0.030, 0.010, 0.000, 0.0),
    ('stop', 'fricative'): ('peak', 0.000, 0.010, 0.000, 0.1),
    ('stop', 'fricative_vl'): ('peak', -0.010, 0.020, -0.005, 0.1),
    ('stop', 'glide'): ('peak', 0.000, 0.030, 0.000, 0.0),
    ('stop', 'liquid'): ('peak', 0.000, 0.020, 0.005, 0.1),
    ('stop', 'nasal'): ('peak', 0.000, 0.030, 0.000, 0.0),
    ('stop', 'stop'): ('peak', -0.010, 0.030, 0.005, 0.1),
    ('stop', 'stop_vl'): ('peak', -0.010, 0.010, -0.005, 0.0),
    ('stop', 'vowel'): ('peak', 0.000, 0.040, -0.005, 0.1),
    ('stop_vl', 'fricative'): ('rise', -0.020, 0.060, 0.005, 0.1),
    ('stop_vl', 'fricative_vl'): ('peak', -0.010, 0.040, 0.000, 0.0),
    ('stop_vl', 'glide'): ('peak', 0.000, 0.060, 0.000, 0.1),
    ('stop_vl', 'liquid'): ('peak', 0.000, 0.040, 0.000, 0.1),
    ('stop_vl', 'nasal'): ('peak', -0.020, 0.040, 0.000, 0.0),
    ('stop_vl', 'stop'): ('peak', 0.000, 0.010, 0.005, 0.0),
    ('stop_vl', 'stop_vl'): ('peak', -0.010, 0.010, 0.000, 0.1),
    ('stop_vl', 'vowel'): ('rise', 0.000, 0.020, -0.005, 0.0),
    ('vowel', 'affricate'): ('peak', -0.020, 0.010, -0.005, 0.1),
    ('vowel', 'affricate_vl'): ('peak', -0.010, 0.020, -0.005, 0.0),
    ('vowel', 'fricative'): ('peak', -0.020, 0.010, 0.005, 0.0),
    ('vowel', 'fricative_vl'): ('peak', -0.010, 0.030, 0.000, 0.1),
    ('vowel', 'glide'): ('peak', -0.030, 0.040, 0.005, 0.0),
    ('vowel', 'liquid'): ('mid', -0.010, 0.060, -0.005, 0.0),
    ('vowel', 'nasal'): ('peak', -0.010, 0.060, 0.000, 0.1),
    ('vowel', 'stop'): ('mid', -0.010, 0.030, -0.005, 0.0),
    ('vowel', 'stop_vl'): ('mid', -0.010, 0.060, -0.005, 0.0),
    ('vowel', 'vowel'): ('mid', -0.040, 0.010, -0.005, 0.0),
}
SPEC_WIN_S = 0.020
SPEC_BANDS = 30
SPEC_HALF = 4               # change = log-mel difference between frames 4 hops (10 ms) apart
SPEC_FMIN, SPEC_FMAX = 100.0, 6000.0
CORE = 0.25                 # "mid": each phone's spectrum is its middle half (25 % trimmed)
LOW_BANDS = 8               # "rise": bands 0-7 of SPEC_BANDS span ~100-700 Hz


def _kind(label: str) -> str:
    try:
        return phone_class(label)
    except KeyError:
        return "other"


def spectral_kind(label: str) -> str:
    """The class SPECTRAL_RULES are keyed by: `_kind`, with voiceless obstruents apart
    ('stop_vl', 'fricative_vl', 'affricate_vl'): a sonorant after /p t k/ starts at voicing
    onset, after the aspiration (TIMIT: the vowel after a voiceless stop started 16 ms
    earlier than labelled, after a voiced one on time), which a shared rule cannot serve."""
    base = label.rstrip("012").upper()
    kind = _kind(base)
    return kind + "_vl" if base in VOICELESS else kind


def _low_rise(lm: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Rise (dB) of the mean level of the lowest LOW_BANDS log-mel bands (~100-700 Hz: the
    voice's fundamental and first formant) between the frames SPEC_HALF hops after and
    before each wanted frame: voicing onset, the "rise" landmark. 0 elsewhere."""
    rise = np.zeros(len(lm))
    f = _centres(want, len(lm))
    low = lm[:, :LOW_BANDS]
    rise[f] = (low[f + SPEC_HALF].sum(axis=1) - low[f - SPEC_HALF].sum(axis=1)) / LOW_BANDS
    return rise


def intensity_track(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Hann-windowed level in dB every HOP_S seconds. Returns (db [F], time of frame 0 (s));
    frame f is centred at t0 + f * HOP_S."""
    x = np.asarray(samples, dtype=np.float32)
    hop = max(1, int(round(HOP_S * sample_rate)))
    win = max(hop, int(round(WIN_S * sample_rate)))
    n = (len(x) - win) // hop + 1
    if n <= 0:
        return np.zeros(0), 0.0
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:n]
    w = np.hanning(win).astype(np.float32) ** 2
    wsum = w.sum()
    power = np.empty(n, dtype=np.float64)
    # A block of frames at a time: `frames ** 2` of the whole is win x the audio's size
    # (an hour at 16 kHz: ~0.9 GB). einsum, not `@`: a BLAS product spins threads on every
    # core (half of this function's CPU time; see _sparse_bank).
    block = 1 << 15
    for f0 in range(0, n, block):
        power[f0:f0 + block] = np.einsum("ij,j->i", frames[f0:f0 + block] ** 2, w) / wsum
    return 10.0 * np.log10(power + 1e-10), 0.5 * win / sample_rate


@functools.lru_cache(maxsize=8)
def _mel_bank(sample_rate: int, nfft: int) -> np.ndarray:
    """Triangular mel filters [SPEC_BANDS, nfft // 2 + 1] from SPEC_FMIN to SPEC_FMAX."""
    f = np.fft.rfftfreq(nfft, 1 / sample_rate)
    mel = np.linspace(2595 * np.log10(1 + SPEC_FMIN / 700), 2595 * np.log10(1 + SPEC_FMAX / 700),
                      SPEC_BANDS + 2)
    hz = 700 * (10 ** (mel / 2595) - 1)
    return np.array([np.clip(np.minimum((f - hz[b]) / (hz[b + 1] - hz[b]),
                                        (hz[b + 2] - f) / (hz[b + 2] - hz[b + 1])), 0, None)
                     for b in range(SPEC_BANDS)], dtype=np.float32)


@functools.lru_cache(maxsize=8)
def _sparse_bank(sample_rate: int, nfft: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_mel_bank` as (bins, weights, first entry of each band): each band's nonzero FFT bins
    one after the other. Applied with np.add.reduceat rather than a matrix product, whose
    BLAS threads spin on every core for a product this small (measured: alignment CPU 38 ->
    58 ms per s of audio with the dense product, no change with this)."""
    bank = _mel_bank(sample_rate, nfft)
    bins = [np.flatnonzero(row) for row in bank]
    if any(b.size == 0 for b in bins):  # a band narrower than an FFT bin (very low rates)
        bins = [b if b.size else np.array([int(np.argmax(row))]) for b, row in zip(bins, bank)]
    starts = np.cumsum([0] + [b.size for b in bins[:-1]])
    flat = np.concatenate(bins)
    weights = np.concatenate([row[b] for b, row in zip(bins, bank)]).astype(np.float32)
    return flat, weights, starts


def log_mel(samples: np.ndarray, sample_rate: int, needed: np.ndarray | None = None,
            first: int = 0, count: int | None = None) -> tuple[np.ndarray, float]:
    """SPEC_BANDS log-mel energies (dB) of SPEC_WIN_S Hann windows every HOP_S seconds.

    first, count: only frames first .. first + count - 1 (default: to the end), so that long
    audio is analysed a block at a time (the whole of an hour would be ~170 MB).
    needed: optional bool [count] mask of the frames wanted (the others stay 0: the FFTs are
    most of the cost, and only frames near boundaries with a rule are looked at).
    Returns (log-mel [count, SPEC_BANDS] float32, time of frame `first` (s)); frame f is
    centred at t0 + (f - first) * HOP_S; frames numbered as `spectral_frames`."""
    x = np.asarray(samples, dtype=np.float32)
    hop, win, n = spectral_frames(len(x), sample_rate)
    first = max(0, first)
    count = max(0, (n if count is None else min(n, first + count)) - first)
    lm = np.zeros((count, SPEC_BANDS), dtype=np.float32)
    t0 = 0.5 * win / sample_rate + first * HOP_S
    idx = np.arange(count) if needed is None else np.flatnonzero(np.asarray(needed)[:count])
    if idx.size == 0:
        return lm, t0
    # numpy's FFT of the window itself (320 points at 16 kHz, no padding), in double
    # precision: numpy's single-precision and 512-point transforms are several times slower
    # here, and scipy.fft, faster per frame, costs ~0.35 s to import (scipy.special and its
    # array-API layer), more than all the frames of a minute of speech.
    w = np.hanning(win)  # float64, as the FFT below
    bins, weights, starts = _sparse_bank(sample_rate, win)
    b_lo, b_hi = int(bins.min()), int(bins.max()) + 1  # only the FFT bins a band uses
    bins = bins - b_lo
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:n]
    block = 1 << 13  # frames at a time: the spectra of an hour at once would need gigabytes
    for b0 in range(0, idx.size, block):
        i = idx[b0:b0 + block]
        spec = np.fft.rfft(frames[first + i] * w, win, axis=1)
        spec = spec[:, b_lo:b_hi]
        power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)[:, bins] * weights
        lm[i] = 10.0 * np.log10(np.add.reduceat(power, starts, axis=1) + 1e-8)
    return lm, t0


def spectral_change(samples: np.ndarray, sample_rate: int, needed: np.ndarray | None = None
                    ) -> tuple[np.ndarray, float]:
    """How fast the spectrum changes, every HOP_S seconds: RMS difference (dB) of the
    `log_mel` frames SPEC_HALF hops before and after. needed: as `log_mel`.
    Returns (change [F], time of frame 0 (s)), frames as `log_mel`."""
    _, _, n = spectral_frames(len(samples), sample_rate)
    want = np.ones(max(n, 0), bool) if needed is None else np.asarray(needed, bool)[:n]
    lm, t0 = log_mel(samples, sample_rate, _around(want, SPEC_HALF))
    return _change(lm, want), t0


def _around(want: np.ndarray, k: int) -> np.ndarray:
    """Frames within k of a wanted frame."""
    if want.size == 0:
        return want
    # "full" and a slice: "same" returns the kernel's length for arrays shorter than it
    return np.convolve(want, np.ones(2 * k + 1))[k:k + want.size] > 0


def _centres(want: np.ndarray, n: int) -> np.ndarray:
    """Indices of the wanted frames with SPEC_HALF frames on both sides (of n)."""
    f = np.flatnonzero(want[:n])
    return f[(f >= SPEC_HALF) & (f < n - SPEC_HALF)]


def _change(lm: np.ndarray, want: np.ndarray) -> np.ndarray:
    change = np.zeros(len(lm))
    f = _centres(want, len(lm))
    d = (lm[f + SPEC_HALF] - lm[f - SPEC_HALF]).astype(np.float64)
    change[f] = np.sqrt(np.mean(d ** 2, axis=1))
    return change


def spectral_frames(n_samples: int, sample_rate: int) -> tuple[int, int, int]:
    """(hop, window, number of frames) of `log_mel` for a clip of n_samples."""
    hop = max(1, int(HOP_S * sample_rate))
    win = max(hop, int(SPEC_WIN_S * sample_rate))
    return hop, win, (n_samples - win) // hop + 1


def _frames(t0: float, a: float, b: float, n: int) -> tuple[int, int]:
    """First and last frame (clipped to 0..n-1) centred inside [a, b] seconds."""
    return max(int(np.ceil((a - t0) / HOP_S)), 0), min(int(np.floor((b - t0) / HOP_S)), n - 1)


def _mid_split(lm: np.ndarray, fa: int, fb: int, core_a: tuple[int, int],
               core_b: tuple[int, int], t0: float, near: float) -> float | None:
    """Time between frames fa..fb where the log-mel frames change from nearer the previous
    phone's core spectrum to nearer this phone's: the split with fewest frames on the wrong
    side (ties: the one nearest `near`). None when a core or the window is empty."""
    if core_a[1] < core_a[0] or core_b[1] < core_b[0] or fb <= fa:
        return None
    core = lm[core_a[0]:core_a[1] + 1]
    m_a = core.sum(axis=0) / len(core)
    core = lm[core_b[0]:core_b[1] + 1]
    m_b = core.sum(axis=0) / len(core)
    x = lm[fa:fb + 1]
    # |x - a|^2 - |x - b|^2 > 0: nearer this phone's spectrum (B)
    # (element-wise, not `@`: a BLAS product spins threads on every core, see _sparse_bank)
    z = 2.0 * (x * (m_b - m_a)).sum(axis=1) + float((m_a * m_a).sum() - (m_b * m_b).sum())
    wrong = np.zeros(len(z) + 1, dtype=np.int64)  # frames on the wrong side of a split
    wrong[1:] = np.cumsum(z > 0)                  # before frame fa + k: B-like ...
    wrong[:-1] += np.cumsum((z < 0)[::-1])[::-1]  # ... from it on: A-like
    ks = np.flatnonzero(wrong == wrong.min())
    tt = t0 + (fa + ks) * HOP_S - HOP_S / 2
    return float(tt[int(np.argmin(np.abs(tt - near)))])


BLOCK_FRAMES = 8000  # spectral pass: boundaries are analysed in blocks of <= 20 s of frames


def _spectral_pass(audio, starts: np.ndarray, ends: np.ndarray, kinds: list[str],
                   rules) -> None:
    """Move starts (and abutting ends) in place to spectral landmarks (SPECTRAL_RULES).
    Every move is decided on the boundaries as they came in, then applied in order without
    reordering phones or squeezing one below MIN_PHONE_S."""
    _, win, n = spectral_frames(len(audio.samples), audio.sample_rate)
    if n < 8:
        return
    t0 = 0.5 * win / audio.sample_rate
    old_s, old_e = starts.copy(), ends.copy()
    # (phone, after a pause, search frames fa..fb, limits lo/hi in s, rule, "mid" core frames)
    todo = []
    for i in range(len(starts)):
        gap = i == 0 or old_s[i] - old_e[i - 1] > GAP_S
        rule = rules.get((PAUSE if gap else kinds[i - 1], kinds[i]))
        if rule is None or (rule[0] == "mid" and gap):
            continue
        # The phone keeps MIN_PHONE_S, and so does the previous one (or its pause stays).
        lo = old_s[i - 1] + MIN_PHONE_S if not gap else (old_e[i - 1] if i > 0 else 0.0)
        hi = old_e[i] - MIN_PHONE_S
        fa, fb = _frames(t0, max(old_s[i] + rule[1], lo), min(old_s[i] + rule[2], hi), n)
        if fb < fa:
            continue
        cores = None
        if rule[0] == "mid":
            ps, s, e = old_s[i - 1], old_s[i], old_e[i]
            cores = (_frames(t0, ps + CORE * (s - ps), s - CORE * (s - ps), n),
                     _frames(t0, s + CORE * (e - s), e - CORE * (e - s), n))
        todo.append((i, gap, fa, fb, lo, hi, rule, cores))
    moves: dict[int, float] = {}

    def span(item) -> tuple[int, int]:  # frames an item looks at, with the change's reach
        lo_f, hi_f = item[2], item[3]
        for c0, c1 in item[7] or ():
            lo_f, hi_f = min(lo_f, c0), max(hi_f, c1)
        return max(lo_f - SPEC_HALF, 0), min(hi_f + SPEC_HALF, n - 1)

    k = 0
    while k < len(todo):  # a block of boundaries at a time (bounded memory on long audio)
        g_lo, g_hi = span(todo[k])
        end = k + 1
        while end < len(todo) and span(todo[end])[1] - g_lo < BLOCK_FRAMES:
            g_lo, g_hi = min(g_lo, span(todo[end])[0]), max(g_hi, span(todo[end])[1])
            end += 1
        block = todo[k:end]
        k = end
        peak = np.zeros(g_hi - g_lo + 1, bool)  # frames whose spectral change is looked at
        spec = np.zeros_like(peak)               # frames whose spectrum is looked at ("mid")
        for _, _, fa, fb, _, _, rule, cores in block:
            if cores is None:
                peak[fa - g_lo:fb - g_lo + 1] = True
                continue
            for c0, c1 in cores:
                spec[c0 - g_lo:c1 - g_lo + 1] = True
            spec[fa - g_lo:fb - g_lo + 1] = True
        lm, b0 = log_mel(audio.samples, audio.sample_rate, spec | _around(peak, SPEC_HALF),
                         first=g_lo, count=g_hi - g_lo + 1)
        change = _change(lm, peak)
        rise = _low_rise(lm, peak) if any(it[6][0] == "rise" for it in block) else None
        for i, _, fa, fb, _, _, (method, _, _, _, penalty), cores in block:
            if method == "mid":
                t = _mid_split(lm, fa - g_lo, fb - g_lo,
                               (cores[0][0] - g_lo, cores[0][1] - g_lo),
                               (cores[1][0] - g_lo, cores[1][1] - g_lo), b0, old_s[i])
                if t is not None:
                    moves[i] = t
            else:
                tt = t0 + np.arange(fa, fb + 1) * HOP_S
                track = rise if method == "rise" else change
                score = track[fa - g_lo:fb - g_lo + 1] - penalty * 1000.0 * np.abs(tt - old_s[i])
                moves[i] = float(tt[int(np.argmax(score))])
    for i, gap, _, _, lo, hi, rule, _ in todo:
        if i not in moves:
            continue
        t = min(max(moves[i] + rule[3], lo), max(hi, lo))
        # Applied in order: never before the (possibly moved) previous start + MIN_PHONE_S.
        if (not gap and t < starts[i - 1] + MIN_PHONE_S) or t > ends[i] - MIN_PHONE_S:
            continue
        if not gap:
            ends[i - 1] = t
        starts[i] = t


def refine_alignment(audio, alignment: Alignment, *, rules=None,
                     spectral_rules=None) -> Alignment:
    """Move phone boundaries to nearby intensity landmarks (see the module docstring).

    Args:
        audio: the aligned Audio (any rate; mono samples).
        alignment: phones sorted and non-overlapping (any aligner's output).
        rules: override RULES (for tuning).
        spectral_rules: override SPECTRAL_RULES (for tuning; {} skips the second pass).

    Returns:
        A new Alignment: same phones and labels, some starts (and the abutting ends) moved,
        never by more than the search window, never reordering phones or squeezing one below
        MIN_PHONE_S; words re-spanned over their phones. `source` gains '+refined'.
    """
    rules = RULES if rules is None else rules
    phones = list(alignment.phones)
    if len(phones) == 0:
        return alignment
    db, t0 = intensity_track(audio.samples, audio.sample_rate)
    if db.size < 8:
        return alignment
    k = max(1, int(round(SLOPE_HALF_S / HOP_S)))
    slope = np.zeros_like(db)
    slope[k:-k] = db[2 * k:] - db[:-2 * k]
    starts = np.array([p.start for p in phones])
    ends = np.array([p.end for p in phones])
    kinds = [spectral_kind(p.label) for p in phones]
    for i in range(len(phones)):
        gap = i == 0 or starts[i] - ends[i - 1] > GAP_S
        prev = PAUSE if gap else kinds[i - 1]
        rule = rules.get((prev, kinds[i]))
        if rule is None:
            continue
        direction, lo, hi = rule
        a = starts[i] + lo
        b = starts[i] + hi
        # Never past the neighbours: keep MIN_PHONE_S for this phone and the previous one.
        b = min(b, ends[i] - MIN_PHONE_S)
        if not gap:
            a = max(a, starts[i - 1] + MIN_PHONE_S)
        elif i > 0:
            a = max(a, ends[i - 1])
        fa = int(np.ceil((a - t0) / HOP_S))
        fb = int(np.floor((b - t0) / HOP_S))
        fa, fb = max(fa, k), min(fb, db.size - k - 1)
        if fb < fa:
            continue
        seg = direction * slope[fa:fb + 1]
        f = int(np.argmax(seg))
        if seg[f] < MIN_SLOPE_DB:
            continue
        t = t0 + (fa + f) * HOP_S
        if not gap:
            ends[i - 1] = t
        starts[i] = t
    spectral_rules = SPECTRAL_RULES if spectral_rules is None else spectral_rules
    if spectral_rules:
        _spectral_pass(audio, starts, ends, kinds, spectral_rules)
    new_phones = tuple(Interval(p.label, round(float(s), 4), round(float(e), 4))
                       for p, s, e in zip(phones, starts, ends))
    words = []
    old_starts = np.array([p.start for p in phones], dtype=np.float64)
    old_ends = np.array([p.end for p in phones], dtype=np.float64)
    ordered = bool(np.all(np.diff(old_starts) >= 0) and np.all(np.diff(old_ends) >= 0))
    for w in alignment.words:
        if ordered:  # the phones inside a word are one run: two binary searches
            lo = int(np.searchsorted(old_starts, w.start - 1e-6, side="left"))
            hi = int(np.searchsorted(old_ends, w.end + 1e-6, side="right"))
            inside = new_phones[lo:hi] if lo < hi else ()
        else:
            inside = [p for p, old in zip(new_phones, phones)
                      if old.start >= w.start - 1e-6 and old.end <= w.end + 1e-6]
        words.append(Interval(w.label, inside[0].start, inside[-1].end) if inside else w)
    return replace(alignment, phones=new_phones, words=tuple(words),
                   source=alignment.source + "+refined")
