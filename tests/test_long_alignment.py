"""Long audio through the PocketSphinx aligner: windows ending at pauses, no drift.

A ~2.5 minute file of espeak-ng sentences (voices and rates varied, exact phone starts) is
aligned with its transcript; phone-start errors in the first and the last minute must be
alike (no drift), the whole bounded, every word placed by a real alignment (no fallback),
and the run must stay well inside a minute.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from voxface.engine.audio import Audio, from_array
from voxface.phonemes import espeak
from voxface.phonemes.pocketsphinx_align import (SHORT_MAX_S, align_pocketsphinx_report)
from voxface.phonemes.text import normalize

BENCH = Path(__file__).resolve().parents[1] / "bench"

pytestmark = pytest.mark.skipif(not espeak.available(), reason="libespeak-ng not installed")


@pytest.fixture(scope="module")
def long_case():
    sys.path.insert(0, str(BENCH))
    from long_alignment import build

    return build(2.5, seed=1)


@pytest.fixture(scope="module")
def aligned(long_case):
    words = normalize(long_case.text)
    audio = from_array(long_case.samples, 16_000)
    t = time.perf_counter()
    al, report = align_pocketsphinx_report(audio, words)
    return words, al, report, time.perf_counter() - t


def _errors(case, al) -> list[tuple[float, float]]:
    from long_alignment import pair_errors

    return pair_errors(case, [(w.label, w.start, w.end) for w in al.words],
                       [(p.label, p.start, p.end) for p in al.phones])


def test_long_file_aligns_without_drift(long_case, aligned):
    words, al, report, seconds = aligned
    d = long_case.duration
    assert d > 2 * 60
    assert [w.label for w in al.words] == words
    for seq in (al.words, al.phones):
        assert all(0 <= a.start < a.end <= d + 1e-6 for a in seq)
        assert all(a.end <= b.start + 1e-9 for a, b in zip(seq, seq[1:]))
    assert len(report.rungs) >= 8  # windowed, not one chunk
    assert report.fallback_fraction == 0.0
    errs = _errors(long_case, al)
    truth_n = sum(len(s[2]) for s in long_case.sentences)
    assert len(errs) >= 0.9 * truth_n  # nearly every phone paired: no lost words
    e = np.abs([x for _, x in errs])
    first = np.abs([x for t, x in errs if t < 60.0])
    last = np.abs([x for t, x in errs if t >= d - 60.0])
    print(f"\n{d:.0f} s, {1000 * seconds / d:.1f} ms per s of audio (wall), "
          f"{len(report.rungs)} windows; phone start |error| mean {1000 * e.mean():.1f} ms, "
          f"median {1000 * np.median(e):.1f} ms; first minute {1000 * first.mean():.1f} ms, "
          f"last minute {1000 * last.mean():.1f} ms")
    # Same quality as short clips (bench/alignment_accuracy.py: mean ~20 ms, median ~12).
    assert np.median(e) < 0.025 and e.mean() < 0.045
    # No drift: the last minute is no worse than the first, within 15 ms of mean error
    # (sentence-to-sentence spread of a minute's mean is ~5-10 ms).
    assert last.mean() - first.mean() < 0.015
    assert seconds < 60.0


def test_every_sentence_in_its_place(long_case, aligned):
    """No word ends up in another sentence's time span (the windows never lose sync)."""
    words, al, _, _ = aligned
    for a, b, _, t0, t1 in long_case.sentences:
        assert al.words[a].start >= t0 - 0.3 and al.words[b - 1].end <= t1 + 0.3, words[a:b]


def test_silence_and_noise_between_speech():
    """Long silence and a stretch of loud noise (no words) between sentences: windows
    with no transcript speech are passed over, and the words after land after them."""
    rng = np.random.default_rng(3)
    a = espeak.synthesize("The quick brown fox jumps over the lazy dog.", rate_wpm=160)
    b = espeak.synthesize("Peter Piper picked a peck of pickled peppers.", rate_wpm=160)
    quiet = rng.normal(0, 3e-4, 16_000 * 25).astype(np.float32)
    noise = (rng.normal(0, 0.05, 16_000 * 20)
             * np.sin(np.linspace(0, 400, 16_000 * 20)) ** 2).astype(np.float32)
    parts = [a.audio.samples, quiet, noise, quiet[:16_000 * 3], b.audio.samples, quiet[:8000]]
    samples = np.concatenate(parts)
    audio = Audio(samples=samples, sample_rate=16_000, duration=len(samples) / 16_000)
    assert audio.duration > SHORT_MAX_S
    words = normalize(a.text + " " + b.text)
    al, report = align_pocketsphinx_report(audio, words)
    assert [w.label for w in al.words] == words
    b_start = (len(a.audio.samples) + 16_000 * 48) / 16_000
    n_a = len(normalize(a.text))
    assert al.words[n_a - 1].end <= a.duration + 0.3
    assert abs(al.words[n_a].start - (b_start + b.words[0].start)) < 0.2


def test_window_with_implausibly_many_words_is_not_kept(monkeypatch):
    """A window whose recognised prefix packs far more phones per voiced second than the
    windows before it (the search jumped ahead, e.g. over a repeated phrase) is retried, and
    a plausible result wins over a longer implausible one."""
    from voxface.phonemes import pocketsphinx_align as pa

    samples = np.random.default_rng(0).normal(0.0, 0.1, 10 * pa.RATE).astype(np.float32)
    words = ["cat"] * 60
    wide = pa._decoder("wide")

    def fake(decoder, pcm, cand):  # 40 words in 'wide', 15 in 'widest'; 0.25 s each
        n = 40 if decoder is wide else 15
        return [(30 + 25 * i, 30 + 25 * (i + 1)) for i in range(n)], None

    monkeypatch.setattr(pa, "_prefix_decode", fake)
    # ~12 phones per voiced second against a usual 5: implausible once rates are measured.
    assert len(pa._decode_window(samples, words, 5.0, True).words) == 15
    assert len(pa._decode_window(samples, words, 5.0, False).words) == 40
    assert len(pa._decode_window(samples, words, 10.0, True).words) == 40
