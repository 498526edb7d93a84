"""Boundary refinement from acoustic landmarks (voxface.phonemes.refine).

Checked on espeak-ng speech with exact phone times, on sentences the refinement was NOT
tuned on (the harness report set), and on a synthetic step signal with a known landmark."""

from __future__ import annotations

import time
from pathlib import Path

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
    # The intensity pass alone (the spectral pass adds its fitted convention shift on top).
    out = refine_alignment(from_array(x, sr), al, spectral_rules={})
    assert abs(out.phones[0].start - 0.400) < 0.006
    assert out.words[0].start == out.phones[0].start
    both = refine_alignment(from_array(x, sr), al)
    assert abs(both.phones[0].start - 0.400) < 0.015
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


# ---------------------------------------------------------------------------------------------
# Spectral landmarks (second pass, SPECTRAL_RULES)

def _glide(sr: int = 16_000, at: float = 0.5, fade: float = 0.06) -> np.ndarray:
    """A 'vowel' (harmonics of 120 Hz, formant near 700 Hz) that turns, over `fade` seconds
    centred on `at`, into a 'liquid' (same source, formant near 2500 Hz); equal loudness, so
    intensity says nothing about where one ends."""
    t = np.arange(sr) / sr
    src = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 40))
    import scipy.signal as ss

    a = ss.lfilter(*ss.butter(2, [500, 900], btype="band", fs=sr), src)
    b = ss.lfilter(*ss.butter(2, [2200, 2800], btype="band", fs=sr), src)
    a, b = a / np.std(a), b / np.std(b)
    mix = np.clip((t - (at - fade / 2)) / fade, 0.0, 1.0)
    return (0.1 * ((1 - mix) * a + mix * b)).astype(np.float32)


def test_mid_rule_puts_a_gradual_boundary_mid_transition():
    """A 'mid' rule moves a vowel -> liquid boundary the aligner put 30 ms early to where
    the spectrum turns (the middle of the 60 ms cross-fade); without it nothing moves."""
    sr = 16_000
    al = Alignment(words=(), phones=(Interval("AA1", 0.2, 0.47), Interval("L", 0.47, 0.8)),
                   duration=1.0)
    audio = from_array(_glide(sr), sr)
    rule = {("vowel", "liquid"): ("mid", -0.040, 0.040, 0.0, 0.0)}
    out = refine_alignment(audio, al, spectral_rules=rule)
    assert abs(out.phones[1].start - 0.5) <= 0.005
    assert out.phones[0].end == out.phones[1].start
    assert refine_alignment(audio, al, spectral_rules={}).phones[1].start == 0.47


def test_spectral_change_on_some_frames_equals_the_full_track():
    from voxface.phonemes.refine import spectral_change

    x = _glide()
    full, t0 = spectral_change(x, 16_000)
    want = np.zeros(full.size, bool)
    want[100:130] = want[300:301] = True
    part, t1 = spectral_change(x, 16_000, want)
    assert t0 == t1
    assert np.allclose(part[want], full[want], atol=1e-4)
    assert not part[~want].any()
    # the cross-fade is where the spectrum changes most
    assert abs(t0 + int(np.argmax(full)) * 0.0025 - 0.5) < 0.03


TIMIT = Path(__file__).resolve().parents[2] / "shared" / "assets" / "speech" / "timit_sample"


@pytest.mark.skipif(not TIMIT.is_dir(), reason="shared TIMIT sample not present")
def test_spectral_landmarks_bring_real_boundaries_closer_to_hand_labels():
    """Hand-labelled real speech (TIMIT, two speakers whose takes never overflowed): the
    spectral pass moves sonorant onsets, stop releases and fricative edges to the landmarks
    the labellers used; intensity alone leaves them ~8 ms early (docs/alignment.md)."""
    from tools.realspeech import load_corpus, start_errors
    from voxface.core.audio import load_audio
    from voxface.phonemes.pocketsphinx_align import align_pocketsphinx
    from voxface.phonemes.text import normalize

    before, after = [], []
    for spk in ("dr4-falr0", "dr1-mcpm0"):
        for u in load_corpus(TIMIT / spk)[:4]:
            audio = load_audio(u.wav)
            raw = align_pocketsphinx(audio, normalize(u.transcript))
            before += [abs(e) for _, e in start_errors(
                u.phones, refine_alignment(audio, raw, spectral_rules={}).phones)]
            after += [abs(e) for _, e in start_errors(u.phones,
                                                      refine_alignment(audio, raw).phones)]
    before, after = np.array(before), np.array(after)
    print(f"mean {before.mean():.1f} -> {after.mean():.1f} ms, within 20 ms "
          f"{100 * np.mean(before <= 20):.0f} -> {100 * np.mean(after <= 20):.0f} %")
    # rules fitted without TIMIT (its licence): 16.0 -> 14.7 ms, 73 -> 79 % on these 8
    assert after.mean() <= before.mean() - 0.7
    assert np.mean(after <= 20) >= np.mean(before <= 20) + 0.04


def test_spectral_pass_in_blocks_matches_one_block(monkeypatch):
    """Long audio is analysed BLOCK_FRAMES at a time (bounded memory): the blocks change no
    boundary (beyond float rounding)."""
    from voxface.phonemes import refine

    sr = 16_000
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(6 * sr) * np.repeat(rng.uniform(0.001, 0.5, 600), sr // 100)
         ).astype(np.float32)
    labels = ["S", "AA1", "T", "M", "IY1", "L", "AE1", "R", "OW1", "W", "EH1", "N"]
    phones, t0 = [], 0.1
    for k in range(90):
        d = 0.04 + 0.02 * (k % 3)
        phones.append(Interval(labels[k % len(labels)], round(t0, 4), round(t0 + d, 4)))
        t0 += d + (0.15 if k % 11 == 10 else 0.0)
    al = Alignment(words=(), phones=tuple(phones), duration=6.0)
    one = refine_alignment(from_array(x, sr), al)
    monkeypatch.setattr(refine, "BLOCK_FRAMES", 40)
    many = refine_alignment(from_array(x, sr), al)
    assert sum(p.start != q.start for p, q in zip(al.phones, one.phones)) > 20
    for p, q in zip(one.phones, many.phones):
        assert abs(p.start - q.start) <= 2e-4 and abs(p.end - q.end) <= 2e-4


def _aspirated_vowel(sr: int = 16_000, burst: float = 0.40, voicing: float = 0.47) -> np.ndarray:
    """Silence, a stop's burst and aspiration (noise above 1.5 kHz) from `burst`, and from
    `voicing` a voiced vowel (harmonics of 120 Hz through a formant near 700 Hz) under
    fading aspiration: voice onset time 70 ms, as after /t/."""
    import scipy.signal as ss

    t = np.arange(sr) / sr
    rng = np.random.default_rng(5)
    noise = ss.lfilter(*ss.butter(4, 1500, btype="high", fs=sr), rng.standard_normal(sr))
    noise *= (t >= burst) * np.exp(-np.clip(t - voicing, 0, None) / 0.03) * 0.03
    src = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 40))
    vowel = ss.lfilter(*ss.butter(2, [500, 900], btype="band", fs=sr), src)
    vowel = 0.1 * vowel / np.std(vowel) * (t >= voicing)
    return (noise + vowel).astype(np.float32)


def test_rise_rule_starts_a_vowel_at_voicing_onset_after_a_voiceless_stop():
    """After /p t k/ the vowel starts where voicing does, after the aspiration: a "rise"
    rule (low-band level rise) moves a T -> vowel boundary the aligner put 30 ms early onto
    the voicing onset; the classes it is keyed by tell voiceless obstruents apart."""
    from voxface.phonemes.refine import spectral_kind

    assert [spectral_kind(p) for p in ("T", "D", "S", "Z", "CH", "AA1", "L")] == [
        "stop_vl", "stop", "fricative_vl", "fricative", "affricate_vl", "vowel", "liquid"]
    sr = 16_000
    al = Alignment(words=(), phones=(Interval("T", 0.36, 0.44), Interval("AA1", 0.44, 0.8)),
                   duration=1.0)
    audio = from_array(_aspirated_vowel(sr), sr)
    rule = {("stop_vl", "vowel"): ("rise", 0.0, 0.060, 0.0, 0.0)}
    out = refine_alignment(audio, al, spectral_rules=rule)
    assert abs(out.phones[1].start - 0.47) <= 0.006, out.phones
    # keyed by voicing: the same rule for a voiced stop does not touch /t/
    voiced = {("stop", "vowel"): rule[("stop_vl", "vowel")]}
    other = refine_alignment(audio, al, spectral_rules=voiced)
    assert other.phones[1].start == 0.44


@pytest.mark.skipif(not TIMIT.is_dir(), reason="shared TIMIT sample not present")
def test_sonorant_out_of_a_pause_starts_where_the_level_rises():
    """Real speech (TIMIT): PocketSphinx starts a vowel or glide after a pause 40-50 ms
    before the level rises (breath and pre-voicing tip its 25.6 ms frames to speech); the
    intensity pass now searches 60 ms past it and lands on the labelled onset."""
    from tools.realspeech import load_corpus
    from voxface.core.audio import load_audio
    from voxface.phonemes.pocketsphinx_align import align_pocketsphinx
    from voxface.phonemes.text import normalize

    cases = {("dr1-mcpm0", "sx204"), ("dr1-fvmh0", "sx386"), ("dr1-mcpm0", "si564"),
             ("dr4-maeb0", "sx180")}
    seen = 0
    for spk in sorted({s for s, _ in cases}):
        for u in load_corpus(TIMIT / spk):
            if (spk, u.name) not in cases:
                continue
            audio = load_audio(u.wav)
            raw = align_pocketsphinx(audio, normalize(u.transcript))
            truth = u.phones[0].start
            assert raw.phones[0].start < truth - 0.030          # the cause, as measured
            got = refine_alignment(audio, raw).phones[0].start
            assert abs(got - truth) <= 0.020, (u.name, got, truth)
            seen += 1
    assert seen == len(cases)
