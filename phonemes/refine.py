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
"""

from __future__ import annotations

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


def refine_alignment(audio, alignment: Alignment, *, rules=None) -> Alignment:
    """Move phone boundaries to nearby intensity landmarks (see the module docstring).

    Args:
        audio: the aligned Audio (any rate; mono samples).
        alignment: phones sorted and non-overlapping (any aligner's output).
        rules: override RULES (for tuning).

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
