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

from voxface.core.audio import Audio, from_array
from voxface.phonemes import espeak
from voxface.phonemes.pocketsphinx_align import SHORT_MAX_S, align_pocketsphinx_report
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

    def fake(decoder, pcm, cand, lead=0, entries=None, skips=False):
        # 40 words in 'wide' (either grammar), 15 in 'widest'; 0.25 s each
        n = 40 if decoder is wide else 15
        return list(range(n)), [(30 + 25 * i, 30 + 25 * (i + 1)) for i in range(n)], None

    monkeypatch.setattr(pa, "_prefix_decode", fake)
    # ~12 phones per voiced second against a usual 5: implausible once rates are measured.
    assert len(pa._decode_window(samples, words, 5.0, True).words) == 15
    assert len(pa._decode_window(samples, words, 5.0, False).words) == 40
    assert len(pa._decode_window(samples, words, 10.0, True).words) == 40


# --- Resync: the transcript and the audio disagree somewhere in the middle -----------------

def _after_defect(case, al, report, settle_s: float = 20.0):
    """Phone-start |errors| of the sentences starting `settle_s` (about one window) after
    the last defect, and those sentences' (first word, end word) whose words leave their
    own time span."""
    from long_alignment import pair_errors

    t = case.defects[-1][4] + settle_s
    errs = pair_errors(case, [(w.label, w.start, w.end) for w in al.words],
                       [(p.label, p.start, p.end) for p in al.phones])
    e = np.abs([x for s, x in errs if s >= t])
    lost = [(a, b) for a, b, _, t0, t1 in case.sentences if t0 >= t
            and not (al.words[a].start >= t0 - 0.3 and al.words[b - 1].end <= t1 + 0.3)]
    return e, lost


def _defect_case(**defect):
    sys.path.insert(0, str(BENCH))
    from long_alignment import build

    case = build(2.5, **defect)
    words = normalize(case.text)
    al, report = align_pocketsphinx_report(from_array(case.samples, 16_000), words)
    assert [w.label for w in al.words] == words
    for seq in (al.words, al.phones):
        assert all(a.end <= b.start + 1e-9 for a, b in zip(seq, seq[1:]))
    return case, words, al, report


def test_transcript_sentence_not_spoken_is_skipped():
    """A transcript sentence in the middle that the audio lacks: its words are found not
    spoken (rung 'skipped', no phones, ~1 ms each, a warning that quotes them) and the
    sentences after it align as well as the rest (without the resync every later window
    fell further behind: the last minute was ~25 s off and a third of the words estimated)."""
    case, words, al, report = _defect_case(seed=1, missing=(12,))
    _, a, b, t, _ = case.defects[0]
    skipped = {i for i, r in enumerate(report.word_rungs) if r == "skipped"}
    assert len(skipped & set(range(a, b))) >= 0.8 * (b - a)
    assert len(skipped - set(range(a, b))) <= 2
    assert sum(al.words[i].end - al.words[i].start for i in skipped) <= 0.002 * len(skipped)
    assert not any(al.words[i].start <= p.start < al.words[i].end
                   for i in skipped for p in al.phones)
    quoted = " ".join(words[a + 1:b - 1])
    assert any("not found in the audio" in m and quoted in m for m in al.warnings), \
        al.warnings
    e, lost = _after_defect(case, al, report)
    print(f"\nafter the missing sentence: median {1000 * np.median(e):.1f} ms, "
          f"mean {1000 * e.mean():.1f} ms; warnings {al.warnings}")
    assert not lost
    assert np.median(e) <= 0.030 and e.mean() <= 0.050
    assert report.fallback_fraction <= 1.5 * (b - a) / len(words)


def test_speech_missing_from_transcript_does_not_derail():
    """A spoken sentence the transcript lacks: the words around it may be pulled onto it,
    but the sentences after it align as well as the rest (here the search ran ahead onto
    the extra speech and the next window takes those words back). A non-regression test:
    the windowing without resync recovers from this case too."""
    case, words, al, report = _defect_case(seed=3, extra=(7,))
    e, lost = _after_defect(case, al, report)
    print(f"\nafter the extra sentence: median {1000 * np.median(e):.1f} ms, "
          f"mean {1000 * e.mean():.1f} ms; rungs {report.rungs}")
    assert not lost
    assert np.median(e) <= 0.030 and e.mean() <= 0.050
    assert report.fallback_fraction == 0.0


def test_skip_embedding_prefers_fewest_runs():
    """The word indices behind a skip grammar's hypothesis: fewest skipped runs, the
    first word at the entry unless that costs a run."""
    from voxface.phonemes.pocketsphinx_align import _embed

    words = "a b c d e f c d g".split()
    assert _embed(words, "a b g".split()) == [0, 1, 8]
    assert _embed(words, "a b c d g".split()) == [0, 1, 6, 7, 8]  # one run either way
    assert _embed(words, "c d g".split(), to_end=False) == [6, 7, 8]
    assert _embed(words, "a b c".split(), to_end=False) == [0, 1, 2]
    assert _embed(words, "x".split()) is None
    assert _embed(words, "b a".split(), to_end=False) is None
