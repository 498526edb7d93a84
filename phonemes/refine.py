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

A second pass (`SPECTRAL_RULES`) handles the boundaries intensity cannot see well: a sonorant
onset (nasal, liquid, glide), a stop's release into its vowel, a fricative's edges. It moves a
boundary to the largest spectral change nearby (`spectral_change`: RMS difference of 30 log-mel
bands 10 ms apart, 20 ms Hann windows, 2.5 ms hop), inside a per-transition search window,
optionally biased towards the aligner's own boundary. The windows were chosen on real speech
with hand-labelled boundaries (the TIMIT sample, docs/alignment.md "Spectral landmarks"),
with speaker-wise cross-validation (fitted on 4 speakers, tested on the other 4) and
agreement with MFA's alignment of real speech as a constraint in the fit.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from voxface.core.alignment import Alignment, Interval
from voxface.phonemes.arpabet import phone_class

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
RULES: dict[tuple[str, str], tuple[int, float, float]] = {
    ("vowel", "stop"): (-1, -0.015, 0.050),
    ("vowel", "affricate"): (-1, -0.015, 0.050),
    ("vowel", "fricative"): (-1, -0.020, 0.030),
    ("vowel", "nasal"): (-1, -0.015, 0.030),
    ("nasal", "stop"): (-1, -0.015, 0.050),
    ("liquid", "stop"): (-1, -0.015, 0.050),
    ("glide", "stop"): (-1, -0.015, 0.050),
    ("sil", "vowel"): (1, -0.030, 0.030),
    ("sil", "fricative"): (1, -0.030, 0.030),
    ("sil", "nasal"): (1, -0.030, 0.030),
    ("sil", "liquid"): (1, -0.030, 0.030),
    ("sil", "glide"): (1, -0.030, 0.030),
    ("fricative", "vowel"): (1, -0.020, 0.025),
}

# Second pass, (previous kind, this phone's kind) -> (search from, search to, then shift by,
# distance penalty): the boundary moves to the frame inside [from, to] (seconds relative to
# the boundary after the intensity pass) where spectral change minus penalty x |distance in
# ms| is largest, then by `shift`. Penalty in dB per ms (0 = the largest change wins).
# Chosen per transition (>= 10 examples, >= 1 ms mean gain) from windows {-30, -20, -10, 0} x
# {10, 20, 30, 40} ms, shifts {-5, 0, 5} ms and penalties {0, 0.1} on the 60 TIMIT sample
# utterances that never overflowed, each choice also scored on MFA's real-speech alignments
# (weighted as much as all TIMIT phones together) so agreement with MFA does not suffer.
# Cross-validated by speaker (docs/alignment.md): mean start error 16.5 -> 14.5 ms, 71 ->
# 77 % within 20 ms on the held-out speakers.
SPECTRAL_RULES: dict[tuple[str, str], tuple[float, float, float, float]] = {
    ("fricative", "fricative"): (0.000, 0.020, -0.005, 0.0),
    ("fricative", "glide"): (-0.010, 0.040, 0.005, 0.0),
    ("fricative", "stop"): (-0.030, 0.010, 0.0, 0.0),
    ("glide", "vowel"): (-0.020, 0.010, -0.005, 0.0),
    ("liquid", "fricative"): (0.000, 0.010, 0.0, 0.0),
    ("liquid", "glide"): (-0.020, 0.040, -0.005, 0.0),
    ("liquid", "stop"): (-0.010, 0.020, -0.005, 0.1),
    ("nasal", "fricative"): (0.000, 0.040, -0.005, 0.0),
    ("nasal", "vowel"): (-0.010, 0.010, -0.005, 0.0),
    ("sil", "fricative"): (0.000, 0.040, 0.005, 0.0),
    ("sil", "stop"): (-0.030, 0.040, 0.005, 0.0),
    ("stop", "fricative"): (0.000, 0.040, 0.0, 0.1),
    ("stop", "glide"): (0.000, 0.040, 0.0, 0.1),
    ("stop", "liquid"): (0.000, 0.040, 0.0, 0.1),
    ("stop", "stop"): (-0.030, 0.010, 0.0, 0.1),
    ("stop", "vowel"): (0.000, 0.030, 0.0, 0.1),
    ("vowel", "affricate"): (-0.030, 0.010, -0.005, 0.0),
    ("vowel", "fricative"): (-0.020, 0.010, 0.005, 0.1),
    ("vowel", "glide"): (-0.020, 0.010, -0.005, 0.0),
    ("vowel", "nasal"): (-0.010, 0.040, 0.0, 0.1),
    ("vowel", "vowel"): (-0.010, 0.010, -0.005, 0.0),
}
SPEC_WIN_S = 0.020
SPEC_BANDS = 30
SPEC_HALF = 4               # change = log-mel difference between frames 4 hops (10 ms) apart
SPEC_FMIN, SPEC_FMAX = 100.0, 6000.0


def _kind(label: str) -> str:
    try:
        return phone_class(label)
    except KeyError:
        return "other"


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
    # (an hour at 16 kHz: ~0.9 GB).
    block = 1 << 15
    for f0 in range(0, n, block):
        power[f0:f0 + block] = frames[f0:f0 + block] ** 2 @ w / wsum
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


def spectral_change(samples: np.ndarray, sample_rate: int, needed: np.ndarray | None = None
                    ) -> tuple[np.ndarray, float]:
    """How fast the spectrum changes, every HOP_S seconds: RMS difference (dB) of SPEC_BANDS
    log-mel bands of SPEC_WIN_S Hann windows SPEC_HALF hops before and after.

    needed: optional bool [F] mask of the frames wanted (the others stay 0; the FFTs are most
    of the cost, and only frames near boundaries with a rule are looked at).
    Returns (change [F], time of frame 0 (s)); frame f is centred at t0 + f * HOP_S, and
    F = (len(samples) - window) // hop + 1 (see `spectral_frames`)."""
    x = np.asarray(samples, dtype=np.float32)
    hop, win, n = spectral_frames(len(x), sample_rate)
    t0 = 0.5 * win / sample_rate
    change = np.zeros(max(n, 0))
    if n <= 2 * SPEC_HALF:
        return change, t0
    want = np.ones(n, bool) if needed is None else np.asarray(needed, bool)[:n].copy()
    want[:SPEC_HALF] = want[n - SPEC_HALF:] = False
    # Spectra are needed SPEC_HALF frames either side of every wanted frame.
    spec_idx = np.flatnonzero(np.convolve(want, np.ones(2 * SPEC_HALF + 1), "same") > 0)
    if spec_idx.size == 0:
        return change, t0
    # scipy's single-precision FFT of the window itself (320 points at 16 kHz, no padding):
    # a third of the cost of numpy's 512-point one, the same landmarks.
    import scipy.fft

    nfft = win
    w = np.hanning(win).astype(np.float32)
    bank = _mel_bank(sample_rate, nfft)
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:n]
    lm = np.zeros((n, SPEC_BANDS), dtype=np.float32)
    block = 1 << 13  # frames at a time: the spectra of an hour at once would need gigabytes
    for b0 in range(0, spec_idx.size, block):
        idx = spec_idx[b0:b0 + block]
        spec = scipy.fft.rfft(frames[idx] * w, nfft, axis=1)
        power = spec.real ** 2 + spec.imag ** 2
        lm[idx] = 10.0 * np.log10(power @ bank.T + 1e-8)
    f = np.flatnonzero(want)
    d = (lm[f + SPEC_HALF] - lm[f - SPEC_HALF]).astype(np.float64)
    change[f] = np.sqrt(np.mean(d ** 2, axis=1))
    return change, t0


def spectral_frames(n_samples: int, sample_rate: int) -> tuple[int, int, int]:
    """(hop, window, number of frames) of `spectral_change` for a clip of n_samples."""
    hop = max(1, int(HOP_S * sample_rate))
    win = max(hop, int(SPEC_WIN_S * sample_rate))
    return hop, win, (n_samples - win) // hop + 1


def _spectral_pass(audio, starts: np.ndarray, ends: np.ndarray, kinds: list[str],
                   rules) -> None:
    """Move starts (and abutting ends) in place to spectral landmarks (SPECTRAL_RULES).
    Every move is decided on the boundaries as they came in, then applied in order without
    reordering phones or squeezing one below MIN_PHONE_S."""
    hop, win, n = spectral_frames(len(audio.samples), audio.sample_rate)
    if n < 8:
        return
    t0 = 0.5 * win / audio.sample_rate
    old_s, old_e = starts.copy(), ends.copy()
    # (phone index, frames fa..fb to search, lower / upper limit in s, rule)
    todo = []
    needed = np.zeros(n, bool)
    for i in range(len(starts)):
        gap = i == 0 or old_s[i] - old_e[i - 1] > GAP_S
        rule = rules.get((PAUSE if gap else kinds[i - 1], kinds[i]))
        if rule is None:
            continue
        lo_s, hi_s = rule[0], rule[1]
        # The phone keeps MIN_PHONE_S, and so does the previous one (or its pause stays).
        lo = old_s[i - 1] + MIN_PHONE_S if not gap else (old_e[i - 1] if i > 0 else 0.0)
        hi = old_e[i] - MIN_PHONE_S
        fa = max(int(np.ceil((max(old_s[i] + lo_s, lo) - t0) / HOP_S)), 0)
        fb = min(int(np.floor((min(old_s[i] + hi_s, hi) - t0) / HOP_S)), n - 1)
        if fb < fa:
            continue
        todo.append((i, gap, fa, fb, lo, hi, rule))
        needed[fa:fb + 1] = True
    if not todo:
        return
    change, _ = spectral_change(audio.samples, audio.sample_rate, needed)
    for i, gap, fa, fb, lo, hi, (_, _, shift, penalty) in todo:
        tt = t0 + np.arange(fa, fb + 1) * HOP_S
        score = change[fa:fb + 1] - penalty * 1000.0 * np.abs(tt - old_s[i])
        t = float(tt[int(np.argmax(score))]) + shift
        t = min(max(t, lo), max(hi, lo))
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
    kinds = [_kind(p.label.rstrip("012").upper()) for p in phones]
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
    for w in alignment.words:
        inside = [p for p, old in zip(new_phones, phones)
                  if old.start >= w.start - 1e-6 and old.end <= w.end + 1e-6]
        words.append(Interval(w.label, inside[0].start, inside[-1].end) if inside else w)
    return replace(alignment, phones=new_phones, words=tuple(words),
                   source=alignment.source + "+refined")
