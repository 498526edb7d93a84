"""Boundary refinement from acoustic landmarks (voxface.phonemes.refine).

Checked on espeak-ng speech with exact phone times, on sentences the refinement was NOT
tuned on (the harness report set), and on a synthetic step signal with a known landmark."""

from __future__ import annotations

import time

import numpy as np
import pytest

from voxface.core.alignment import Alignment, Interval
from voxface.core.audio import from_array
from voxface.phonemes.refine import MIN_PHONE_S, refine_alignment


def test_moves_a_boundary_to_a_sharp_onset():
    sr = 16_000
    x = np.zeros(sr, np.float32)
    rng = np.random.default_rng(0)
    x[:] = rng.standard_normal(sr) * 1e-4
    t = np.arange(sr) / sr
    x[t >= 0.400] += (0.3 * np.sin(2 * np.pi * 150 * t[t >= 0.400])).astype(np.float32)
    al = Alignment(words=(Interval("a", 0.38, 0.7),), phones=(Interval("AA1", 0.38, 0.7),),
                   duration=1.0)
    out = refine_alignment(from_array(x, sr), al)
    assert abs(out.phones[0].start - 0.400) < 0.006
    assert out.words[0].start == out.phones[0].start
    assert out.source.endswith("+refined")


def test_keeps_order_and_min_duration():
    sr = 16_000
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(2 * sr) * np.repeat(rng.uniform(0.001, 0.5, 200), sr // 100)
         ).astype(np.float32)
    labels = ["S", "AA1", "T", "M", "IY1", "F", "AE1", "N", "D", "OW1"]
    phones, t0 = [], 0.1
    for k in range(40):
        d = 0.03 + 0.02 * (k % 3)
        phones.append(Interval(labels[k % len(labels)], t0, t0 + d))
        t0 += d + (0.1 if k % 9 == 8 else 0.0)
    al = Alignment(words=(), phones=tuple(phones), duration=2.0)
    out = refine_alignment(from_array(x, sr), al)
    assert [p.label for p in out.phones] == [p.label for p in al.phones]
    for a, b in zip(out.phones, out.phones[1:]):
        assert a.start < a.end <= b.start + 1e-9
    assert min(p.end - p.start for p in out.phones) >= MIN_PHONE_S - 1e-3 - 1e-9 or \
        min(p.end - p.start for p in al.phones) < MIN_PHONE_S


def test_improves_synthetic_alignment_and_is_cheap():
    espeak = pytest.importorskip("voxface.phonemes.espeak")
    if not espeak.available():
        pytest.skip("libespeak-ng not installed")
    from tools.evaluate import boundary_errors, cases_for, report_sentences
    from voxface.phonemes.pocketsphinx_align import align_pocketsphinx
    from voxface.phonemes.text import normalize

    raw_e, ref_e, cost, dur = [], [], 0.0, 0.0
    for case in cases_for(report_sentences(8)):
        syn = espeak.synthesize(case.text, voice=case.voice, variant=case.variant,
                                rate_wpm=case.rate_wpm, pitch=case.pitch, pad_s=0.3)
        raw = align_pocketsphinx(syn.audio, normalize(case.text))
        t = time.perf_counter()
        ref = refine_alignment(syn.audio, raw)
        cost += time.perf_counter() - t
        dur += syn.duration
        raw_e += [abs(e) for _, e in boundary_errors(syn.phones, raw.phones)]
        ref_e += [abs(e) for _, e in boundary_errors(syn.phones, ref.phones)]
    assert np.mean(ref_e) <= np.mean(raw_e) + 0.5
    assert cost / dur < 0.01  # under 10 ms per second of audio (typically ~1)
