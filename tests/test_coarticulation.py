"""Coarticulation engine: hard lip constraints, coarticulation behaviour, speed, visemes.

Real-data cases use the Montreal Forced Aligner's own output for its test corpus
(../shared/assets/speech/mfa: textgrid/acoustic_corpus.TextGrid, 27 s, 203 ARPAbet phones,
13 P/B/M and 1 F) with the matching wav; the phones tier is read here with praatio so the
test does not depend on the project's TextGrid reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voxface.core.alignment import Alignment, Interval
from voxface.core.audio import from_array, load_audio
from voxface.core.curves import Curves
from voxface.core.names import ARKIT_52, ARKIT_INDEX, OCULUS_15
from voxface.engine import poses
from voxface.engine.coarticulation import (
    LEAD_S,
    LIP_GAIN_RANGE,
    constraint_weights,
    curves_from_alignment,
    is_fv_contact,
    is_lip_closed,
    visemes_from_alignment,
)
from voxface.engine.prosody import intensity_envelope, pitch_track

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MFA = SHARED / "assets" / "speech" / "mfa"
REPO = Path(__file__).resolve().parents[1]

J = ARKIT_INDEX["jawOpen"]
PUCKER = ARKIT_INDEX["mouthPucker"]
FUNNEL = ARKIT_INDEX["mouthFunnel"]
MOUTH = [i for i, n in enumerate(ARKIT_52) if n.startswith(("mouth", "jaw", "tongue"))]


def seq(spec: list[tuple[str, float]], lead: float = 0.3, tail: float = 0.3) -> Alignment:
    """Phones back to back after `lead` s of silence: [(label, seconds), ...]."""
    phones, t = [], lead
    for label, dur in spec:
        phones.append(Interval(label, t, t + dur))
        t += dur
    return Alignment(words=(), phones=tuple(phones), duration=t + tail, source="test")


def frames_of(iv: Interval, fps: float, n: int) -> np.ndarray:
    """Frames whose time lies in the interval, or the one nearest its centre if none does."""
    idx = np.arange(n)
    inside = idx[(idx / fps >= iv.start - 1e-9) & (idx / fps <= iv.end + 1e-9)]
    if inside.size:
        return inside
    return np.array([min(max(int(round(0.5 * (iv.start + iv.end) * fps)), 0), n - 1)])


def check_constraints(alignment: Alignment, values: np.ndarray, fps: float) -> list[str]:
    """Every P/B/M interval has a closed frame, every F/V a contact frame; returns failures."""
    failures = []
    for iv in alignment.phones:
        base = iv.label.rstrip("012").upper()
        if base in ("P", "B", "M"):
            ok = is_lip_closed(values[frames_of(iv, fps, len(values))]).any()
        elif base in ("F", "V"):
            ok = is_fv_contact(values[frames_of(iv, fps, len(values))]).any()
        else:
            continue
        if not ok:
            failures.append(f"{iv.label} {iv.start:.3f}-{iv.end:.3f}")
    return failures


def max_spike(values: np.ndarray) -> float:
    """Largest amount by which one frame sticks out above or below both neighbours."""
    mid, a, b = values[1:-1], values[:-2], values[2:]
    return float(np.maximum(mid - np.maximum(a, b), np.minimum(a, b) - mid).max())


@pytest.fixture(scope="module")
def corpus():
    tg_path = MFA / "textgrid" / "acoustic_corpus.TextGrid"
    wav_path = MFA / "wav" / "acoustic_corpus.wav"
    if not tg_path.exists() or not wav_path.exists():
        pytest.skip("shared MFA corpus not available")
    from praatio import textgrid

    tg = textgrid.openTextgrid(str(tg_path), includeEmptyIntervals=False)
    phones = tuple(Interval(e.label, float(e.start), float(e.end))
                   for e in tg.getTier("phones").entries)
    audio = load_audio(wav_path)
    return Alignment(words=(), phones=phones, duration=audio.duration, source="mfa"), audio


# ---------------------------------------------------------------------------------------------
# Shape, range, constraints


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0, 100.0])
def test_real_corpus_constraints_and_range(corpus, fps):
    alignment, audio = corpus
    c = curves_from_alignment(alignment, audio, fps=fps)
    assert c.names == ARKIT_52
    assert c.values.shape == (Curves.n_frames_for(alignment.duration, fps), 52)
    assert c.values.dtype == np.float32
    assert np.all(np.isfinite(c.values))
    assert c.values.min() >= 0.0 and c.values.max() <= 1.0
    assert check_constraints(alignment, c.values, fps) == []
    n_labial = sum(iv.label[:1] in "PBMFV" for iv in alignment.phones)
    assert n_labial >= 14  # the corpus really exercises the constraints


def test_no_single_frame_spikes_on_real_speech(corpus):
    alignment, audio = corpus
    v = curves_from_alignment(alignment, audio, fps=60.0).values
    assert max_spike(v) < 0.1


def test_closure_for_tiny_and_odd_intervals():
    # Stops shorter than a frame, at times between frames, back to back, at the very start/end.
    fps = 60.0
    alignment = Alignment(words=(), phones=(
        Interval("P", 0.0, 0.004),
        Interval("AA1", 0.004, 0.2),
        Interval("B", 0.2031, 0.2102),
        Interval("IY1", 0.2102, 0.33),
        Interval("M", 0.33, 0.36), Interval("M", 0.36, 0.372),
        Interval("AH0", 0.372, 0.45),
        Interval("F", 0.451, 0.458),
        Interval("UW1", 0.458, 0.6),
        Interval("V", 0.6, 0.61),
        Interval("AE1", 0.61, 0.7),
        Interval("P", 0.7, 0.705),
    ), duration=0.705)
    for f in (fps, 30.0, 25.0):
        v = curves_from_alignment(alignment, None, fps=f).values
        assert check_constraints(alignment, v, f) == []
        assert v.min() >= 0 and v.max() <= 1


def test_bilabial_closure_starts_before_release():
    # 'a p a' with a 30 ms closure: lips are shut for the 40 ms before the release, and open
    # again in the middle of both vowels.
    fps = 60.0
    alignment = seq([("AA1", 0.2), ("P", 0.03), ("AA1", 0.2)])
    v = curves_from_alignment(alignment, None, fps=fps).values
    release = 0.3 + 0.2 + 0.03
    t = np.arange(len(v)) / fps
    before = (t >= release - 0.04) & (t <= release)
    assert before.sum() >= 2
    assert is_lip_closed(v[before]).all()
    for centre in (0.4, 0.63):
        i = int(round(centre * fps))
        assert not is_lip_closed(v[i]) and v[i, J] > 0.8 * poses.POSES["AA"]["jawOpen"]
    # Closure eases in and out over several frames rather than snapping.
    assert max_spike(v) < 0.1


def test_fv_contact_pattern_and_ramps():
    fps = 60.0
    alignment = seq([("AA1", 0.18), ("F", 0.09), ("AA1", 0.18)])
    v = curves_from_alignment(alignment, None, fps=fps).values
    f_iv = alignment.phones[1]
    held = frames_of(f_iv, fps, len(v))
    assert is_fv_contact(v[held]).all()
    assert v[int(round(0.39 * fps)), J] > 0.8 * poses.POSES["AA"]["jawOpen"]  # open, not shut
    assert max_spike(v) < 0.1


def test_predicates_are_vectorised():
    rest = poses.REST_POSE
    assert is_lip_closed(rest) and not is_fv_contact(rest)
    batch = np.stack([poses.TARGETS[poses.PHONE_ID[p]] for p in ("M", "F", "AA")])
    assert is_lip_closed(batch).tolist() == [True, False, False]
    assert is_fv_contact(batch).tolist() == [False, True, False]


# ---------------------------------------------------------------------------------------------
# Coarticulation behaviour


def test_rounding_is_anticipated_across_consonants():
    fps = 60.0
    stoop = seq([("S", 0.09), ("T", 0.06), ("UW1", 0.18), ("P", 0.08)])
    steep = seq([("S", 0.09), ("T", 0.06), ("IY1", 0.18), ("P", 0.08)])
    vo = curves_from_alignment(stoop, None, fps=fps).values
    ve = curves_from_alignment(steep, None, fps=fps).values
    s_mid = int(round((0.3 + 0.045) * fps))
    t_mid = int(round((0.3 + 0.09 + 0.03) * fps))
    uw_start = int(round(0.45 * fps))
    round_o = vo[:, PUCKER] + vo[:, FUNNEL]
    round_e = ve[:, PUCKER] + ve[:, FUNNEL]
    # The 's' and 't' of 'stoop' are already rounded; those of 'steep' are not.
    assert round_o[s_mid] > 0.3 and round_o[t_mid] > 0.5
    assert round_o[s_mid] > round_e[s_mid] + 0.25
    # Rounding rises through the consonants into the vowel (monotone approach, no step).
    assert np.all(np.diff(round_o[s_mid:uw_start + 1]) > -1e-6)
    assert round_o[uw_start] > 0.7


def test_coronals_do_not_round_without_a_rounded_neighbour():
    v = curves_from_alignment(seq([("IY1", 0.15), ("T", 0.06), ("IY1", 0.15)]), None).values
    assert (v[:, PUCKER] + v[:, FUNNEL]).max() < 0.1


def test_jaw_follows_vowel_openness():
    fps = 60.0
    jaws = {}
    for vowel in ("AA1", "AE1", "EH1", "IH1", "IY1", "UW1"):
        v = curves_from_alignment(seq([("HH", 0.06), (vowel, 0.16), ("D", 0.06)]), None,
                                  fps=fps).values
        jaws[vowel] = v[int(round((0.3 + 0.06 + 0.08) * fps)), J]
    assert jaws["AA1"] > jaws["AE1"] > jaws["EH1"] > jaws["IH1"] > jaws["IY1"]
    assert jaws["AA1"] > 2.5 * jaws["IY1"]


def test_jaw_openness_on_real_speech(corpus):
    alignment, audio = corpus
    fps = 60.0
    v = curves_from_alignment(alignment, audio, fps=fps).values

    def mean_jaw(labels):
        vals = [v[frames_of(iv, fps, len(v)), J].max() for iv in alignment.phones
                if iv.label.rstrip("012") in labels]
        return float(np.mean(vals))

    assert mean_jaw({"AA", "AE", "AO"}) > mean_jaw({"IY", "UW", "IH"}) + 0.1


def test_unstressed_vowel_is_reduced():
    fps = 60.0
    mid = int(round((0.3 + 0.06 + 0.07) * fps))
    stressed = curves_from_alignment(seq([("T", 0.06), ("AH1", 0.14), ("T", 0.06)]), None).values
    reduced = curves_from_alignment(seq([("T", 0.06), ("AH0", 0.14), ("T", 0.06)]), None).values
    assert reduced[mid, J] < stressed[mid, J]


def test_silence_relaxes_to_rest():
    fps = 60.0
    alignment = Alignment(words=(), phones=(
        Interval("HH", 0.2, 0.26), Interval("AA1", 0.26, 0.5), Interval("T", 0.5, 0.56),
        Interval("AE1", 2.0, 2.2), Interval("K", 2.2, 2.28),
    ), duration=3.0)
    v = curves_from_alignment(alignment, None, fps=fps).values
    pause = v[int(0.9 * fps):int(1.6 * fps)]
    assert np.abs(pause[:, MOUTH] - poses.REST_POSE[MOUTH]).max() < 0.03
    assert is_lip_closed(pause).all()
    assert is_lip_closed(v[-1]) and v[-1, J] < 0.05  # trailing silence closes the mouth too
    assert v[int(0.38 * fps), J] > 0.8 * poses.POSES["AA"]["jawOpen"]  # and speech opens it


def test_loudness_opens_the_jaw_but_keeps_vowel_identity():
    fps, sr = 60.0, 16_000
    alignment = Alignment(words=(), phones=(
        Interval("AA1", 0.2, 0.4), Interval("T", 0.4, 0.45),
        Interval("AA1", 0.6, 0.8), Interval("T", 0.8, 0.85),
        Interval("IY1", 1.0, 1.2), Interval("T", 1.2, 1.25),
    ), duration=1.4)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(int(1.4 * sr)).astype(np.float32) * 0.001
    t = np.arange(x.size) / sr
    x[(t >= 0.2) & (t < 0.4)] *= 30      # quiet AA
    x[(t >= 0.6) & (t < 0.8)] *= 300     # loud AA
    x[(t >= 1.0) & (t < 1.2)] *= 300     # loud IY
    audio = from_array(x, sr)
    v = curves_from_alignment(alignment, audio, fps=fps).values
    plain = curves_from_alignment(alignment, None, fps=fps).values
    quiet_aa, loud_aa, loud_iy = (v[int(round(c * fps)), J] for c in (0.3, 0.7, 1.1))
    assert loud_aa > 1.2 * quiet_aa  # gain 0.7 (quiet) .. 1.25 (loud) on the jaw
    assert quiet_aa > loud_iy  # an open vowel spoken softly is still more open than IY
    # Lip shapes keep their identity: vocal effort may scale them by at most LIP_GAIN_RANGE.
    others = [i for i in MOUTH if i not in (J, ARKIT_INDEX["mouthClose"])]
    delta = np.abs(plain[:, others] - poses.REST_POSE[others])
    assert np.all(np.abs(v[:, others] - plain[:, others]) <= LIP_GAIN_RANGE * delta + 0.02)


# ---------------------------------------------------------------------------------------------
# Inputs, speed, prosody, visemes, doc


def test_bad_labels_and_overlaps_are_rejected():
    with pytest.raises(ValueError, match="unknown phone"):
        curves_from_alignment(seq([("QQ", 0.1)]), None)
    with pytest.raises(ValueError, match="overlaps"):
        curves_from_alignment(Alignment(words=(), phones=(
            Interval("AA1", 0.0, 0.3), Interval("T", 0.1, 0.2)), duration=0.5), None)


def test_empty_and_silence_labels():
    c = curves_from_alignment(Alignment(words=(), phones=(), duration=1.0), None, fps=30.0)
    assert c.values.shape == (31, 52) and is_lip_closed(c.values).all()
    c = curves_from_alignment(Alignment(words=(), phones=(), duration=0.0), None, fps=30.0)
    assert c.values.shape == (1, 52)
    # MFA-style non-speech labels animate as silence.
    c = curves_from_alignment(seq([("spn", 0.3), ("AA1", 0.2), ("sil", 0.3)]), None)
    assert c.values.shape[1] == 52


def test_sixty_seconds_of_curves(corpus):
    alignment, audio = corpus
    # Tile the 27 s corpus to 60 s of speech (phones and audio).
    period = 26.8
    phones = tuple(Interval(p.label, p.start + k * period, p.end + k * period)
                   for k in range(3) for p in alignment.phones if p.end + k * period <= 60.0)
    long_alignment = Alignment(words=(), phones=phones, duration=60.0)
    long_audio = from_array(np.tile(audio.samples, 3)[:60 * 16_000], 16_000)
    c = curves_from_alignment(long_alignment, long_audio, fps=60.0)
    assert c.values.shape == (3601, 52)
    assert np.isfinite(c.values).all() and c.values.min() >= 0 and c.values.max() <= 1


def test_intensity_envelope_shape_and_range():
    sr, fps = 16_000, 60.0
    rng = np.random.default_rng(1)
    x = rng.standard_normal(60 * sr).astype(np.float32) * 0.002
    x[10 * sr:20 * sr] *= 100
    audio = from_array(x, sr)
    env = intensity_envelope(audio, fps)
    assert env.shape == (Curves.n_frames_for(60.0, fps),) and env.dtype == np.float32
    assert env.min() >= 0 and env.max() <= 1
    assert env[int(15 * fps)] > 0.9 and env[int(40 * fps)] < 0.1
    silent = from_array(np.zeros(sr, np.float32), sr)
    assert np.all(intensity_envelope(silent, fps) == 0)


def test_pitch_track_on_a_tone():
    sr = 16_000
    t = np.arange(sr) / sr
    audio = from_array((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), sr)
    f0 = pitch_track(audio, 60.0)
    assert f0.shape == (61,)
    assert abs(np.median(f0[10:-10]) - 200) < 5


def test_visemes():
    fps = 60.0
    alignment = seq([("P", 0.08), ("AA1", 0.2), ("F", 0.08), ("IY1", 0.2), ("UW1", 0.2)])
    c = visemes_from_alignment(alignment, fps=fps)
    assert c.names == OCULUS_15
    assert c.values.shape == (Curves.n_frames_for(alignment.duration, fps), 15)
    assert c.values.min() >= 0 and c.values.max() <= 1
    col = {n: i for i, n in enumerate(OCULUS_15)}
    for iv, name in zip(alignment.phones, ("viseme_PP", "viseme_aa", "viseme_FF", "viseme_I",
                                           "viseme_U")):
        i = int(round(0.5 * (iv.start + iv.end) * fps))
        assert int(np.argmax(c.values[i])) == col[name], iv.label
    assert c.values[int(round(0.34 * fps)), col["viseme_PP"]] == pytest.approx(1.0)
    assert c.values[0, col["viseme_sil"]] > 0.9
    assert max_spike(c.values) < 0.1


def test_constraint_weights_are_ramped():
    fps = 60.0
    closure, contact = constraint_weights(seq([("AA1", 0.2), ("B", 0.05), ("AA1", 0.2)]), fps)
    assert closure.max() == 1.0 and contact.max() == 0.0
    steps = np.abs(np.diff(closure))
    assert steps.max() < 0.8  # eased, not a 0 -> 1 step


def test_every_phone_has_a_pose_and_class():
    for phone in poses.ARPABET_39:
        assert phone in poses.POSES and phone in poses.PHONE_CLASS
        assert poses.split_stress(phone + "1")[0] == phone
    assert len(poses.ARPABET_39) == 39
    assert poses.split_stress("") == ("sil", None)


def test_doc_matches_the_tables():
    doc = (REPO / "docs" / "phoneme_poses.md").read_text(encoding="utf-8")
    assert poses.pose_table_markdown() in doc, (
        "docs/phoneme_poses.md is stale: regenerate the tables with "
        "voxface.engine.poses.pose_table_markdown()")


# ---------------------------------------------------------------------------------------------
# Visual lead, closure timing, styles, viseme flicker


def test_bilabial_closure_starts_40_to_120_ms_before_release():
    fps = 100.0
    for dur in (0.02, 0.06, 0.1):
        alignment = seq([("AA1", 0.2), ("M", dur), ("AA1", 0.2)])
        v = curves_from_alignment(alignment, None, fps=fps).values
        release = 0.3 + 0.2 + dur
        closed = np.flatnonzero(is_lip_closed(v))
        closed = closed[(closed / fps > 0.35) & (closed / fps <= release + 1e-9)]
        onset = closed.min() / fps
        assert 0.04 - 1e-6 <= release - onset <= 0.12 + 1e-6, (dur, release - onset)


def test_mouth_leads_the_sound(corpus):
    from tools.evaluate import amplitude_envelope, visual_lead_ms

    alignment, audio = corpus
    v = curves_from_alignment(alignment, audio, fps=60.0).values
    lead, _ = visual_lead_ms(v, amplitude_envelope(audio, 60.0, len(v)), 60.0)
    assert 10.0 <= lead <= 60.0 + 1e3 * LEAD_S


@pytest.mark.parametrize("style", ["neutral", "articulate", "mumble", "shout"])
def test_styles_keep_the_hard_constraints(corpus, style):
    from voxface.engine.styles import get_style

    alignment, audio = corpus
    v = curves_from_alignment(alignment, audio, fps=60.0, style=get_style(style)).values
    assert check_constraints(alignment, v, 60.0) == []
    assert v.min() >= 0 and v.max() <= 1


def test_jaw_and_lip_intensities():
    al = seq([("HH", 0.06), ("AA1", 0.2), ("UW1", 0.2), ("D", 0.06)])
    mid_aa, mid_uw = int(round(0.46 * 60)), int(round(0.66 * 60))
    base = curves_from_alignment(al, None).values
    wide = curves_from_alignment(al, None, jaw=1.6).values
    lippy = curves_from_alignment(al, None, lips=1.6).values
    none = curves_from_alignment(al, None, jaw=0.0, lips=0.0).values
    assert wide[mid_aa, J] > base[mid_aa, J] + 0.15
    assert np.isclose(wide[mid_uw, PUCKER], base[mid_uw, PUCKER], atol=1e-3)
    assert lippy[mid_uw, PUCKER] > base[mid_uw, PUCKER] + 0.1
    assert np.abs(none[:, MOUTH] - poses.REST_POSE[MOUTH]).max() < 0.05
    from voxface.core.errors import InputError

    with pytest.raises(InputError, match="--jaw"):
        curves_from_alignment(al, None, jaw=2.5)


def test_no_viseme_flicker(corpus):
    from tools.evaluate import viseme_flicker

    alignment, _ = corpus
    for fps in (30.0, 60.0):
        assert viseme_flicker(visemes_from_alignment(alignment, fps=fps).values) == 0


def _runs(top: np.ndarray) -> np.ndarray:
    change = np.flatnonzero(np.diff(top) != 0) + 1
    return np.diff(np.concatenate([[0], change, [len(top)]]))


def test_adjacent_one_frame_winners_are_merged():
    """Two one-frame winners side by side between long runs (a 'B AY F' transition: aa, then
    I, one frame each): the old rule gave each frame to the other's viseme, so they swapped
    places and stayed one frame long. Now the stretch is re-chosen as a whole."""
    from voxface.engine.coarticulation import _stable_winners

    v = np.zeros((10, 4))
    v[:4, 0] = 1.0                       # PP, held
    v[4] = [0.22, 0.298, 0.297, 0.0]     # aa just ahead of I
    v[5] = [0.16, 0.321, 0.322, 0.0]     # I just ahead of aa
    v[6:, 3] = 1.0                       # FF, held
    forced = np.array([0] * 4 + [-1, -1] + [3] * 4)
    before = v.copy()
    _stable_winners(v, forced, 2)
    top = v.argmax(axis=1)
    assert list(top[:4]) == [0] * 4 and list(top[6:]) == [3] * 4
    assert top[4] == top[5] and top[4] in (1, 2)
    assert np.abs(v - before).max() < 0.01     # a near-tie: a tiny change


def test_stable_winners_on_random_tracks():
    """Random near-tied tracks: no interior winner run shorter than the minimum, hold frames
    keep their viseme, values stay in 0..1."""
    from voxface.engine.coarticulation import _stable_winners

    rng = np.random.default_rng(7)
    for trial in range(300):
        n, k, m = int(rng.integers(3, 50)), int(rng.integers(2, 6)), int(rng.integers(2, 4))
        v = rng.random((n, k))
        forced = np.full(n, -1)
        if trial % 2:
            a, col = int(rng.integers(0, n)), int(rng.integers(0, k))
            forced[a:a + m + 1] = col
            v[a:a + m + 1] = 0.0
            v[a:a + m + 1, col] = 1.0
        _stable_winners(v, forced, m)
        top = v.argmax(axis=1)
        assert (_runs(top)[1:-1] >= m).all(), trial
        assert (top[forced >= 0] == forced[forced >= 0]).all(), trial
        assert v.min() >= 0.0 and v.max() <= 1.0


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0, 100.0])
def test_visemes_keep_every_closure_and_contact(corpus, fps):
    """Every P/B/M interval shows viseme_PP as the winner on some frame of it, every F/V
    viseme_FF, at any frame rate, and no viseme wins for less than the minimum."""
    from voxface.engine.coarticulation import min_viseme_frames

    alignment, _ = corpus
    v = visemes_from_alignment(alignment, fps=fps).values
    top = v.argmax(axis=1)
    col = {n: i for i, n in enumerate(OCULUS_15)}
    for iv in alignment.phones:
        base = iv.label.rstrip("012").upper()
        want = {"P": "viseme_PP", "B": "viseme_PP", "M": "viseme_PP",
                "F": "viseme_FF", "V": "viseme_FF"}.get(base)
        if want:
            assert (top[frames_of(iv, fps, len(v))] == col[want]).any(), (iv, fps)
    assert (_runs(top)[1:-1] >= min_viseme_frames(fps)).all()


def test_visemes_lead_like_the_curves():
    """The viseme track is on the curves' timeline: a vowel after a pause wins (and the jaw
    opens) before its acoustic start, by about LEAD_S."""
    fps = 100.0
    al = seq([("AA1", 0.3)], lead=0.5)
    top = visemes_from_alignment(al, fps=fps).values.argmax(axis=1)
    first = np.flatnonzero(top == OCULUS_15.index("viseme_aa"))[0] / fps
    jaw = curves_from_alignment(al, None, fps=fps).values[:, J]
    half = np.flatnonzero(jaw > 0.5 * jaw.max())[0] / fps
    assert 0.5 - LEAD_S - 0.03 <= first < 0.5
    assert abs(first - half) <= 0.03


# ---------------------------------------------------------------------------------------------
# Long audio: blocks of frames, memory and time linear in length


@pytest.mark.parametrize("fps", [24.0, 60.0])
def test_blocked_equals_one_block(corpus, fps):
    """Curves and visemes are computed in blocks of frames (with the smoothing's reach of
    context); any block size gives the numbers of the whole timeline done at once."""
    alignment, audio = corpus
    one = curves_from_alignment(alignment, audio, fps=fps, block_frames=10**9).values
    one_v = visemes_from_alignment(alignment, fps=fps, block_frames=10**9).values
    for block in (1, 2, 7, 64, 1000):
        got = curves_from_alignment(alignment, audio, fps=fps, block_frames=block).values
        np.testing.assert_allclose(got, one, rtol=0, atol=1e-6, err_msg=f"block {block}")
        got_v = visemes_from_alignment(alignment, fps=fps, block_frames=block).values
        np.testing.assert_allclose(got_v, one_v, rtol=0, atol=1e-6, err_msg=f"block {block}")


def _tiled(minutes: float, alignment: Alignment, period: float = 27.0) -> Alignment:
    copies = int(np.ceil(minutes * 60.0 / period))
    phones = tuple(Interval(p.label, p.start + k * period, p.end + k * period)
                   for k in range(copies) for p in alignment.phones)
    return Alignment(words=(), phones=phones, duration=copies * period)


def _traced_peak(fn) -> float:
    """Peak bytes newly allocated while fn() runs (numpy reports to tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_long_alignment_memory_is_the_output_plus_a_constant(corpus):
    """20 minutes of speech (72,000 frames): the working memory beyond the result stays a few
    MiB (it was ~26 MiB per minute of audio: [frames x neighbours x groups] arrays over the
    whole timeline)."""
    alignment, _ = corpus
    long_alignment = _tiled(20.0, alignment)
    n = Curves.n_frames_for(long_alignment.duration, 60.0)
    output = n * 52 * 4
    peak = _traced_peak(lambda: curves_from_alignment(long_alignment, None, fps=60.0))
    assert peak < output + 40 * 2**20, f"{peak / 2**20:.0f} MiB for {n} frames"
    peak_v = _traced_peak(lambda: visemes_from_alignment(long_alignment, fps=60.0))
    assert peak_v < 3 * n * 15 * 8 + 40 * 2**20, f"{peak_v / 2**20:.0f} MiB (visemes)"


def test_dense_phones_do_not_blow_up_the_blocks():
    """A degenerate alignment (an aligner that gave up squeezes thousands of phones into a
    second) in ten minutes of silence: blocks shrink where segments are dense, so memory stays
    bounded instead of frames x (densest neighbourhood) for the whole file."""
    burst = tuple(Interval("AA1" if k % 2 else "M", 300.0 + k * 4e-4, 300.0 + (k + 1) * 4e-4)
                  for k in range(2500))
    alignment = Alignment(words=(), phones=burst, duration=600.0)
    peak = _traced_peak(lambda: curves_from_alignment(alignment, None, fps=60.0))
    assert peak < 60 * 2**20, f"{peak / 2**20:.0f} MiB"
    c = curves_from_alignment(alignment, None, fps=60.0)
    assert np.isfinite(c.values).all() and c.values.min() >= 0 and c.values.max() <= 1


def test_prosody_chunks_equal_one_pass(corpus, monkeypatch):
    """The loudness and effort envelopes work through the samples and frames in chunks; tiny
    chunks give the same numbers as the defaults."""
    from voxface.engine import prosody

    _, audio = corpus
    ref = (prosody.intensity_db(audio, 60.0), prosody.effort_envelope(audio, 60.0))
    monkeypatch.setattr(prosody, "_CHUNK_BLOCKS", 3)
    monkeypatch.setattr(prosody, "_CHUNK_FRAMES", 5)
    got = (prosody.intensity_db(audio, 60.0), prosody.effort_envelope(audio, 60.0))
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(a, b)
