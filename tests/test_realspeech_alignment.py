"""Real speech with hand-labelled phones (the shared TIMIT sample, evaluation/tests only):
the root causes of the gross misalignments found there (docs/alignment.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tools import realspeech as rs

TIMIT = rs.TIMIT_DIR
pytestmark = pytest.mark.skipif(not TIMIT.is_dir(), reason="shared TIMIT sample not present")

MISREAD = TIMIT / "dr3-madc0" / "sx197.wav"    # "Draw each graph on a new axis." (misread)
CLEAN = TIMIT / "dr4-falr0" / "sa2.wav"        # quiet, read right


def _utt(wav: Path) -> rs.Utterance:
    return next(u for u in rs.load_corpus(wav.parent) if u.wav == wav)


def test_fold_timit_starts_stops_at_closure_and_drops_silence():
    rows = [(0, 100, "h#"), (100, 300, "bcl"), (300, 400, "b"), (400, 900, "ix"),
            (900, 1000, "tcl"), (1000, 1500, "q"), (1500, 1800, "dx"), (1800, 2000, "pau")]
    ph = rs.fold_timit(rows)
    assert [p.label for p in ph] == ["B", "IH", "T", "DX"]
    assert ph[0].start == pytest.approx(100 / 16000)
    assert ph[0].end == pytest.approx(400 / 16000)
    errs = rs.start_errors(ph, [type(ph[0])("D", ph[3].start + 0.01, ph[3].end)])
    assert errs == [("DX", pytest.approx(10.0))]


def test_misread_stretches_are_found_and_repaired_exactly():
    """Root cause 1: the loud TIMIT takes are 16-bit PCM read one byte off from some point
    (a lost byte), not clipped or overflowed: read one byte on, they are ordinary speech."""
    import soundfile as sf

    from voxface.core import bytealign
    from voxface.core.audio import load_audio

    raw, rate = sf.read(str(MISREAD), dtype="int16")
    spans = bytealign.find_misread(raw)
    assert len(spans) == 1 and spans[0][2] == bytealign.SHIFTED
    assert abs(spans[0][0] / rate - 0.248) < 0.01 and spans[0][1] == raw.size
    steps = lambda x: np.abs(np.diff(np.asarray(x, dtype=np.int64)))  # noqa: E731
    assert (steps(raw) > 32768).mean() > 0.05            # noise-like as stored
    audio = load_audio(MISREAD)
    assert steps(np.round(audio.samples * 32768)).max() < 8000  # speech after the repair
    assert audio.misread == ((spans[0][0] / rate, spans[0][1] / rate, "one byte off"),)
    assert sf.read(str(MISREAD), dtype="int16")[0].tobytes() == raw.tobytes()  # input intact

    clean, _ = sf.read(str(CLEAN), dtype="int16")
    assert bytealign.find_misread(clean) == [] and load_audio(CLEAN).misread == ()
    # The whole file in the wrong byte order, and a byte lost mid-file, come back exactly.
    fixed, got = bytealign.repair(clean.byteswap())
    assert got == [(0, clean.size, bytealign.SWAPPED)] and np.array_equal(fixed, clean)
    b = clean.tobytes()
    lost = np.frombuffer(b[:20001] + b[20002:] + b"\0", "<i2")
    fixed, got = bytealign.repair(lost)
    assert [(int(a), s) for a, _, s in got] == [(10001, bytealign.SHIFTED)]
    assert np.array_equal(fixed[10001:-1], clean[10002:]) and np.array_equal(fixed[:10000],
                                                                              clean[:10000])
    # Hard clipping and full-scale white noise are left alone.
    loud = np.clip(clean.astype(np.int64) * 60, -32768, 32767).astype(np.int16)
    noise = np.random.default_rng(0).integers(-32768, 32768, 48000).astype(np.int16)
    assert bytealign.find_misread(loud) == [] and bytealign.find_misread(noise) == []


def test_overflow_detector_tells_wrapping_from_clipping():
    from voxface.core.audio import load_audio
    from voxface.core.overflow import MIN_FRACTION, is_wrapped, wrap_fraction

    clean = load_audio(CLEAN)
    assert wrap_fraction(clean.samples) == 0.0 < MIN_FRACTION
    # A clean take wrapped around by int16 overflow (a gain raised without saturation).
    x = (clean.samples.astype(np.float64) * 60 + 1) % 2 - 1
    assert wrap_fraction(x) > MIN_FRACTION
    assert is_wrapped(x) and not is_wrapped(clean.samples)
    # ... but the same gain with saturation (hard clipping) is clipping, not wrapping: its
    # full-scale samples hold in runs.
    clipped = np.clip(clean.samples.astype(np.float64) * 60, -1.0, 1.0)
    assert wrap_fraction(clipped) > MIN_FRACTION and not is_wrapped(clipped)
    # The repaired TIMIT take is neither.
    assert not is_wrapped(load_audio(MISREAD).samples)


def test_misread_take_no_longer_holds_a_vowel_for_a_second_and_is_not_silent():
    """Root cause 1: the misread take made the word pass put a silence over 1.3 s of
    speech ("draw" held 0.23-1.58 s, six words crammed into 0.5 s), with no warning."""
    from voxface.core.audio import load_audio
    from voxface.engine.checks import input_warnings
    from voxface.phonemes.align import align

    u = _utt(MISREAD)
    audio = load_audio(u.wav)
    al = align(audio, u.transcript)
    errs = [abs(e) for _, e in rs.start_errors(u.phones, al.phones)]
    assert np.mean(errs) < 25  # was 596 ms as read, 92 ms unwrapped as "overflow"
    words = {w.label: w for w in al.words}
    assert abs(words["each"].start - 0.39) < 0.05  # truth 0.39 s; was 1.58 s
    assert al.confidence is not None and min(al.confidence) >= 0.5 and not al.suspect
    warned = input_warnings(audio, al)
    assert sum("misread" in w for w in warned) == 1, warned
    assert "0.25-2.55 s one byte off" in warned[0] and "clipped" not in warned[0]


def test_clean_take_scores_high_and_has_no_warning():
    from voxface.core.audio import load_audio
    from voxface.phonemes.align import align

    u = _utt(CLEAN)
    al = align(load_audio(u.wav), u.transcript)
    assert not al.warnings and not al.suspect
    assert min(al.confidence) >= 0.5
    errs = [abs(e) for _, e in rs.start_errors(u.phones, al.phones)]
    assert np.mean(errs) < 30


def test_fused_curves_take_the_audio_model_only_in_suspect_ranges():
    from voxface.core.alignment import Alignment
    from voxface.core.audio import load_audio
    from voxface.engine.fusion import FADE_S, fused_curves
    from voxface.phonemes.align import align

    audio = load_audio(CLEAN)
    al = align(audio, _utt(CLEAN).transcript)
    rules = fused_curves(al, audio, fps=60.0).values
    neural = np.full_like(rules, 0.5)
    # A suspect range around the first labial, so the constraint part is exercised.
    lab = next(p for p in al.phones if p.label.rstrip("012") in ("P", "B", "M", "F", "V"))
    a, b = round(lab.start - 0.2, 2), round(lab.end + 0.2, 2)
    sus: Alignment = type(al)(**{**al.__dict__, "suspect": ((a, b),)})
    out = fused_curves(sus, audio, fps=60.0, rules=rules, neural=neural).values
    t = np.arange(len(out)) / 60.0
    from voxface.engine.coarticulation import (
        constraint_weights,
        is_fv_contact,
        is_lip_closed,
    )

    closure, contact = constraint_weights(sus, 60.0, len(out))
    free = (closure == 0) & (contact == 0)
    inside = (t >= a) & (t <= b)
    outside = (t < a - FADE_S) | (t > b + FADE_S)
    # The audio model's curves inside, except where an aligned p/b/m or f/v holds the lips,
    # where the constraint still holds; the rules curves untouched outside.
    assert np.allclose(out[inside & free], 0.5)
    assert (inside & (closure >= 1)).any() or (inside & (contact >= 1)).any()
    assert is_lip_closed(out[inside & (closure >= 1)]).all()
    assert is_fv_contact(out[inside & (contact >= 1)]).all()
    assert np.allclose(out[outside], rules[outside])


def test_confidence_lands_in_json_and_textgrid(tmp_path):
    from voxface.core.audio import load_audio
    from voxface.phonemes.align import align
    from voxface.phonemes.textgrid import read_textgrid, write_textgrid

    al = align(load_audio(MISREAD), _utt(MISREAD).transcript)
    p = write_textgrid(al, tmp_path / "a.TextGrid")
    text = p.read_text()
    assert 'name = "confidence"' in text
    assert [w.label for w in read_textgrid(p).words] == [w.label for w in al.words]
    from voxface.exporters.json_curves import _scored_words, _word

    words = [_word(w, c) for w, c in _scored_words(al)]
    assert all(0.0 <= w["confidence"] <= 1.0 for w in words)
    assert json.loads(json.dumps(words))[0]["word"] == "draw"


def test_reduced_pronunciations_are_chosen_and_land_in_the_phones():
    """Root cause 3: only citation forms; TIMIT's speakers say "don't ask" with no /t/ and
    "your" as Y ER / Y IH. The chosen variant's phones are the ones returned."""
    from voxface.core.audio import load_audio
    from voxface.phonemes.align import align

    u = _utt(CLEAN)  # "Don't ask me to carry an oily rag like that."
    al = align(load_audio(u.wav), u.transcript)
    labels = [p.label.rstrip("012") for p in al.phones]
    assert labels[:5] == ["D", "OW", "N", "AE", "S"]  # don't = D OW N (truth has no T)
    sa1 = TIMIT / "dr4-falr0" / "sa1.wav"            # "She had your dark suit ..."
    al1 = align(load_audio(sa1), _utt(sa1).transcript)
    your = next(w for w in al1.words if w.label == "your")
    got = [p.label.rstrip("012") for p in al1.phones if your.start <= p.start < your.end]
    assert got != ["Y", "AO", "R"] and got[0] == "Y" and len(got) == 2


def test_eval_real_speech_section_runs_on_any_labelled_folder(tmp_path):
    """`animate eval`'s real-speech section takes any folder of .wav + .phn/.txt files."""
    import shutil

    from tools.evaluate import _real_speech_section

    spk = tmp_path / "spk1"
    spk.mkdir()
    for ext in (".wav", ".phn", ".txt", ".wrd"):
        shutil.copy(CLEAN.with_suffix(ext), spk / ("u1" + ext))   # a temporary copy only
    md = _real_speech_section(str(tmp_path))
    assert "| all phones |" in md and "| spk1 |" in md and "| fused |" in md
    assert _real_speech_section("none") is None


def test_wrapped_audio_is_called_wrapped_not_clipped():
    """Overflowed audio is named as such (with its time ranges), not as clipped, with and
    without a transcript, and only once."""
    from voxface.core.audio import from_array, load_audio
    from voxface.engine.checks import input_warnings
    from voxface.phonemes.align import align

    clean = load_audio(CLEAN)
    audio = from_array((clean.samples.astype(np.float64) * 60 + 1) % 2 - 1, 16000)
    alone = input_warnings(audio, None)
    assert any("integer overflow" in w for w in alone), alone
    assert not any("clipped" in w for w in alone), alone
    al = align(audio, _utt(CLEAN).transcript)
    every = list(al.warnings) + input_warnings(audio, al)
    assert sum("integer overflow" in w for w in every) == 1, every
    assert input_warnings(clean, None) == []
