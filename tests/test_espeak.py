"""espeak-ng synthesis with exact phone times (the benchmark's ground truth)."""

from __future__ import annotations

import numpy as np
import pytest

from tools.sentences import LIP_SENTENCES
from voxface.core.audio import ANALYSIS_RATE
from voxface.core.errors import InputError
from voxface.phonemes import espeak
from voxface.phonemes.arpabet import PHONES, VOWELS, strip_stress

pytestmark = pytest.mark.skipif(not espeak.available(),
                                reason="libespeak-ng not installed (apt-get install libespeak-ng1)")

SENTENCES = list(LIP_SENTENCES)
VOICES = [("en-us", None), ("en-us", "f2"), ("en", "m3"), ("en-gb-x-rp", None),
          ("en-029", None), ("en-us-nyc", None)]


def _valid(label: str) -> bool:
    base = strip_stress(label)
    return base in PHONES and (label == base or (base in VOWELS and label[-1] in "012"))


def test_example_sentence_timing_is_exact_and_sane() -> None:
    syn = espeak.synthesize(espeak.EXAMPLE_TEXT)
    assert syn.sample_rate == 22_050 and syn.samples.dtype == np.float32
    assert syn.audio.sample_rate == ANALYSIS_RATE
    assert abs(syn.audio.duration - syn.duration) < 1e-9
    assert 2.0 < syn.duration < 4.5
    phones = syn.phones
    starts = [p.start for p in phones]
    assert starts == sorted(starts) and all(p.end > p.start for p in phones)
    assert all(a.end <= b.start + 1e-12 for a, b in zip(phones, phones[1:]))
    assert 0 <= phones[0].start and phones[-1].end <= syn.duration + 1e-9
    # Times are whole output samples at 22050 Hz.
    assert all(abs(p.start * 22_050 - round(p.start * 22_050)) < 1e-6 for p in phones)
    assert [p.label[0] for p in phones[:4]] == ["M", "E", "B", "I"]
    assert [w.label for w in syn.words] == ["maybe", "we", "could", "move", "five", "big",
                                            "boxes", "before", "the", "party"]
    assert all(_valid(p.label) for p in phones) and syn.unknown == ()
    # Phones cover the speech: their total is most of the audio, each 10..400 ms long.
    total = sum(p.duration for p in phones)
    assert 0.75 * syn.duration < total <= syn.duration
    assert all(0.005 < p.duration < 0.4 for p in phones)
    alignment = syn.alignment()
    assert alignment.source == "espeak" and alignment.phones == phones


@pytest.mark.parametrize("voice, variant", VOICES)
def test_every_mnemonic_is_mapped(voice: str, variant: str | None) -> None:
    for text in SENTENCES:
        syn = espeak.synthesize(text, voice=voice, variant=variant, rate_wpm=190)
        assert syn.unknown == (), (voice, text)
        assert all(_valid(p.label) for p in syn.phones)
        assert len(syn.phones) > 10 and len(syn.words) >= 5


def test_rate_pitch_and_padding() -> None:
    slow = espeak.synthesize("Five big boxes.", rate_wpm=120)
    fast = espeak.synthesize("Five big boxes.", rate_wpm=220)
    assert slow.duration > 1.3 * fast.duration
    assert [p.label for p in slow.phones] == [p.label for p in fast.phones]
    padded = espeak.synthesize("Five big boxes.", rate_wpm=220, pad_s=0.5)
    assert abs(padded.duration - fast.duration - 1.0) < 1e-3
    assert abs(padded.phones[0].start - fast.phones[0].start - 0.5) < 1e-4
    assert np.all(padded.samples[:10_000] == 0)
    high = espeak.synthesize("Five big boxes.", rate_wpm=220, pitch=90)
    assert [p.label for p in high.phones] == [p.label for p in fast.phones]


def test_phone_events_match_audio_onset() -> None:
    # Speech energy begins at the first phone and the audio ends at the last phone's end
    # (after the final pause), so times are in the same clock as the samples.
    syn = espeak.synthesize("Sister Susan sews socks.", pad_s=0.3)
    onset = np.argmax(np.abs(syn.samples) > 0.01) / syn.sample_rate
    assert abs(onset - syn.phones[0].start) < 0.03


def test_repeated_calls_agree() -> None:
    """espeak-ng carries state from one synthesis to the next (pitch flutter, echo, rand()),
    and no API call resets it: each synthesis runs in a fork of a process whose library has
    never synthesized, so a call gives the same samples whatever came before it (a long-
    alignment test once failed only after other tests had synthesized)."""
    a = espeak.synthesize("Repeat after me.", variant="f2")
    espeak.synthesize("Something else first.", voice="en-gb-x-rp", rate_wpm=300, pitch=80)
    espeak.synthesize("hola, ¿qué tal?", voice="es", ipa=True)
    b = espeak.synthesize("Repeat after me.", variant="f2")
    assert np.array_equal(a.audio.samples, b.audio.samples)
    assert a.phones == b.phones


def test_bad_input() -> None:
    with pytest.raises(InputError):
        espeak.synthesize("   ")
    with pytest.raises(InputError, match="no voice"):
        espeak.synthesize("hello", voice="xx-nonexistent")


def test_write_example(tmp_path) -> None:
    import soundfile as sf

    wav, txt = espeak.write_example(tmp_path)
    data, rate = sf.read(str(wav))
    assert rate == 22_050 and 2.0 < data.shape[0] / rate < 4.5
    assert txt.read_text(encoding="utf-8").strip() == espeak.EXAMPLE_TEXT


@pytest.mark.parametrize("voice,variant", [("en-us", None), ("en-us", "f2"), ("en", None)])
def test_stops_start_at_their_closure_not_the_burst(voice, variant) -> None:
    # espeak reports /p t k/ at the release burst and renders the silent closure at the end of
    # the previous vowel; the truth moves the stop back to where the level collapses.
    syn = espeak.synthesize("a tap, a cat, a pop, a kit.", voice=voice, variant=variant,
                            rate_wpm=150, pad_s=0.2)
    x, sr = syn.samples.astype(np.float64), syn.sample_rate
    assert [p.label for p in syn.phones] == [p.label for p in syn.event_phones]

    def rms_db(a: float, b: float) -> float:
        seg = x[int(a * sr):int(b * sr)]
        return 10 * np.log10(np.mean(seg ** 2) + 1e-12)

    moved = 0
    for i, (p, e) in enumerate(zip(syn.phones, syn.event_phones)):
        if p.label not in ("P", "T", "K") or syn.phones[i - 1].label[-1] not in "012":
            assert p.start == e.start or p.label in ("B", "D", "G", "CH", "JH")
            continue
        if p.start == e.start:
            continue
        moved += 1
        closure = e.start - p.start
        assert 0.015 <= closure <= 0.12
        vowel = syn.phones[i - 1]
        # the new span up to the burst is quiet, the vowel before it is loud
        assert rms_db(p.start + 0.002, e.start - 0.002) < rms_db(vowel.start, vowel.end) - 25
        assert abs(vowel.end - p.start) < 1e-9
        assert p.start * sr == pytest.approx(round(p.start * sr), abs=1e-6)
    assert moved >= 4
    # words follow their phones and do not overlap
    assert all(a.end <= b.start + 1e-9 for a, b in zip(syn.words, syn.words[1:]))
