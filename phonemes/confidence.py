"""Word confidence and implausible-alignment warnings for a forced alignment.

A forced aligner always returns *some* timeline; when its search went wrong the timeline
still looks valid. The failure has a shape, though (TIMIT sample, tools/realspeech.py):
a vowel or a silence held for a second over loud speech, then the remaining words crammed
into the minimum 3 frames per phone. `score_alignment` turns that shape into numbers:
* long: a phone lasting more than LONG_RATIO x its typical duration (and > LONG_MIN_S);
* crammed: most of a word's phones at the decoder's minimum (<= CRAMMED_S);
* silence over speech: a gap between words longer than GAP_MIN_S whose frames are mostly
  voiced by level (speech the transcript's words were not put on);
* distorted: the word lies in wrapped (integer-overflow) audio (voxface.core.overflow).

Each word gets a confidence in 0..1 (product of the per-cue scores), stored in
`Alignment.confidence`; runs of words below LOW and the bad gaps become `Alignment.suspect`
time ranges and one warning each, naming the range. Cost: a level track (~1 ms per s).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from voxface.core.alignment import Alignment
from voxface.core.audio import resample
from voxface.phonemes.arpabet import typical_duration
from voxface.phonemes.pocketsphinx_align import voiced_frames

LONG_RATIO = 4.0
LONG_MIN_S = 0.3
CRAMMED_S = 0.035
GAP_MIN_S = 0.3
GAP_VOICED = 0.6
LOW = 0.5
FRAME_S = 0.01


def _voiced(samples: np.ndarray, rate: int) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float32)
    return voiced_frames(resample(x, rate, 16_000) if rate != 16_000 else x)


def _phone_score(label: str, dur: float) -> float:
    r = dur / typical_duration(label)
    if r <= LONG_RATIO or dur <= LONG_MIN_S:
        return 1.0
    return float(np.exp(-(r - LONG_RATIO) / LONG_RATIO))


def score_alignment(alignment: Alignment, audio=None,
                    distorted: list[tuple[float, float]] | tuple = ()) -> Alignment:
    """The alignment with `confidence` (one 0..1 per word), `suspect` ranges and a warning
    per suspect range. audio: the aligned Audio (for the silence-over-speech cue) or None."""
    words, phones = alignment.words, alignment.phones
    if not words:
        return alignment
    starts = np.array([p.start for p in phones])
    conf, short = [], []
    for w in words:
        inside = [p for p in phones[np.searchsorted(starts, w.start - 1e-6):]
                  if p.end <= w.end + 1e-6]
        s = 1.0
        for p in inside:
            s *= _phone_score(p.label, p.duration)
        short.append(sum(p.duration <= CRAMMED_S for p in inside) / max(len(inside), 1)
                     if len(inside) >= 2 else 0.0)
        for a, b in distorted:
            ov = max(0.0, min(b, w.end) - max(a, w.start))
            s *= 1.0 - 0.6 * ov / max(w.duration, 1e-3)
        conf.append(s)
    conf_a = np.array(conf)
    # A reduced function word ("and" as 3 x 30 ms) is normal; a run of such words is the
    # cramming a lost search leaves behind.
    for k, f in enumerate(short):
        run = (k > 0 and short[k - 1] > 0.5) or (k + 1 < len(short) and short[k + 1] > 0.5)
        if f > 0.5 and run:
            conf_a[k] *= 1.0 - (f - 0.5) * 1.6
    ranges: list[tuple[float, float, str]] = []
    if audio is not None:
        voiced = _voiced(audio.samples, audio.sample_rate)
        for k in range(len(words) - 1):
            a, b = words[k].end, words[k + 1].start
            if b - a < GAP_MIN_S:
                continue
            fr = voiced[int(a / FRAME_S):int(b / FRAME_S)]
            if fr.size and fr.mean() >= GAP_VOICED:
                conf_a[k] *= 0.4
                conf_a[k + 1] *= 0.4
                ranges.append((a, b, f"speech with no word on it (after {words[k].label!r})"))
    k = 0
    while k < len(words):
        if conf_a[k] >= LOW:
            k += 1
            continue
        j = k
        while j < len(words) and conf_a[j] < LOW:
            j += 1
        said = " ".join(w.label for w in words[k:j])
        ranges.append((words[k].start, words[j - 1].end, f"implausible timing of \"{said}\""))
        k = j
    ranges.sort()
    merged: list[list] = []
    for a, b, why in ranges:
        if merged and a <= merged[-1][1] + 0.05:
            merged[-1][1] = max(merged[-1][1], b)
            merged[-1][2] += "; " + why
        else:
            merged.append([a, b, why])
    warnings = tuple(f"alignment implausible at {a:.2f}-{b:.2f} s ({why}); curves there "
                     "lean on the audio-only model where it can run" for a, b, why in merged)
    return replace(alignment, confidence=tuple(round(float(c), 3) for c in conf_a),
                   suspect=tuple((round(a, 3), round(b, 3)) for a, b, _ in merged),
                   warnings=alignment.warnings + warnings)
