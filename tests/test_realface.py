"""tools/realface.py: millimetres on the ICT FaceKit head, the LVE harness, and the rule
engine's poses landing in the published articulatory ranges (issue 17)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from voxface.core.alignment import Alignment, Interval
from voxface.core.errors import InputError
from voxface.core.names import ARKIT_52, ARKIT_INDEX
from voxface.engine import poses
from voxface.engine.coarticulation import curves_from_alignment

from tools import realface as R

pytestmark = pytest.mark.skipif(not R.ICT_NPZ.is_file(), reason="ICT FaceKit head not in ../shared")

J = ARKIT_INDEX["jawOpen"]


def unit(*names: str, w: float = 1.0) -> np.ndarray:
    v = np.zeros(len(ARKIT_52), np.float32)
    for n in names:
        v[ARKIT_INDEX[n]] = w
    return v


def test_shapes_in_millimetres_match_their_anatomy():
    t = dict(R.shape_table())
    assert 30.0 < t["jawOpen"]["jaw"] < 40.0          # maximal opening is 40-55 mm in adults
    assert t["jawOpen"]["aperture"] > 25.0
    assert t["mouthPucker"]["protrusion"] > 4.0 and t["mouthPucker"]["width"] < -5.0
    assert t["mouthFunnel"]["aperture"] > 5.0 and t["mouthFunnel"]["protrusion"] > 2.0
    assert t["mouthStretch"]["width"] > 8.0 and t["mouthSmile"]["width"] > 8.0
    assert t["mouthClose"]["aperture"] < -20.0       # closes the lips against an open jaw
    assert t["jawForward"]["protrusion"] > 2.0
    assert all(abs(m["jaw"]) < 0.5 for n, m in t.items() if not n.startswith("jaw"))


def test_lve_is_a_distance_on_the_lips():
    head = R.load_head()
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 0.5, (20, len(ARKIT_52))).astype(np.float32)
    b = rng.uniform(0, 0.5, (20, len(ARKIT_52))).astype(np.float32)
    assert R.lve(a, a, head) == 0.0
    assert R.lve(a, b, head) == pytest.approx(R.lve(b, a, head), rel=1e-5)
    still = np.zeros_like(a)
    jaw = np.zeros_like(a)
    jaw[:, J] = 0.3
    half = jaw.copy()
    half[:, J] = 0.15
    # a 0.3 jawOpen moves the lower lip ~1 cm: the error is the jaw's lip displacement
    assert 8.0 < R.lve(jaw, still, head) < 14.0
    assert R.lve(half, jaw, head) == pytest.approx(0.5 * R.lve(still, jaw, head), rel=1e-4)
    # eye and brow shapes do not touch the lips
    eyes = np.zeros_like(a)
    eyes[:, ARKIT_INDEX["eyeBlinkLeft"]] = 1.0
    assert R.lve(eyes, still, head) < 0.1


def _write_csv(path, times_frames, jaw):
    cols = ["JawOpen", "MouthFunnel", "HeadYaw"]
    lines = ["Timecode,BlendShapeCount," + ",".join(cols)]
    for f, j in zip(times_frames, jaw):
        lines.append(f"00:00:{f // 60:02d}:{f % 60:02d}.000,61,{j:.4f},0.1,0.0")
    path.write_text("\n".join(lines) + "\n")


def test_lve_report_reads_live_link_and_our_json(tmp_path):
    frames = list(range(0, 240, 2))            # Live Link at 30 Hz: timecode frames step by 2
    jaw = 0.2 + 0.15 * np.sin(np.arange(len(frames)) / 5.0)
    cap = tmp_path / "take.csv"
    _write_csv(cap, frames, jaw)
    take = R.read_take(cap)
    assert take.fps == pytest.approx(30.0)
    assert take.values[:, ARKIT_INDEX["mouthFunnel"]].min() == pytest.approx(0.1)
    # our JSON at 60 fps with the same jaw motion, and one with the jaw halved
    t60 = np.arange(0, len(frames) * 2) / 60.0
    same = np.interp(t60, take.times, jaw)
    for name, j in (("same.json", same), ("half.json", 0.5 * same)):
        vals = np.zeros((len(t60), 52))
        vals[:, J] = j
        vals[:, ARKIT_INDEX["mouthFunnel"]] = 0.1
        (tmp_path / name).write_text(json.dumps({"version": 1, "fps": 60, "names": list(ARKIT_52),
                                                 "values": vals.tolist()}))
    ours = [R.read_take(tmp_path / n) for n in ("same.json", "half.json")]
    rep = R.lve_report(take, ours, audio=None)
    rows = rep["rows"]
    assert rows["same.json"]["lve_mm"] < 0.05 and rows["same.json"]["r_jaw"] > 0.999
    assert 0.5 < rows["half.json"]["lve_mm"] < rows["still face"]["lve_mm"]
    assert "loudness jaw" not in rows


def test_loudness_baseline_follows_the_audio():
    from pathlib import Path

    wav = Path(__file__).resolve().parents[1] / "assets" / "example.wav"
    times = np.arange(0, 2.0, 1 / 60)
    v = R.loudness_baseline(wav, times)
    assert v.shape == (len(times), 52)
    assert 0.0 <= v[:, J].min() and v[:, J].max() <= R.LOUDNESS_BASELINE_JAW + 1e-6
    assert v[:, J].std() > 0.02
    assert np.count_nonzero(v.any(axis=0)) == 1


def test_bad_curve_files_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        R.read_take(bad)
    assert R.main(["stats", str(bad)]) == 2


def _phone_mm(labels_durations):
    t, phones = 0.3, []
    for label, d in labels_durations:
        phones.append(Interval(label, t, t + d))
        t += d
    al = Alignment(words=(), phones=tuple(phones), duration=t + 0.3)
    v = curves_from_alignment(al, None, fps=60.0).values
    return R.phone_samples(al.phones, v, 60.0)


def test_conversational_poses_land_in_published_ranges():
    """Stressed phones in context, without loudness: jaw and lips within the cited ranges."""
    samples = _phone_mm([("B", 0.07), ("AA1", 0.18), ("T", 0.07), ("S", 0.1), ("IY1", 0.16),
                         ("M", 0.08), ("UW1", 0.18), ("D", 0.07), ("EH1", 0.15), ("F", 0.1),
                         ("AE1", 0.18), ("P", 0.08), ("IH1", 0.12), ("K", 0.08)])
    by = {p: s for p, s in samples}
    ref = R.REFERENCE_MM
    for phone, cls in (("AA", "open vowel"), ("AE", "open vowel"), ("EH", "mid vowel"),
                       ("IY", "close vowel"), ("IH", "close vowel"), ("UW", "close vowel")):
        lo, hi = ref[cls]["jaw"]
        assert lo <= by[phone]["jaw"] <= hi, (phone, by[phone])
        lo, hi = ref[cls]["aperture"]
        assert lo <= by[phone]["aperture"] <= hi, (phone, by[phone])
    lo, hi = ref["rounded (UW UH OW W)"]["protrusion"]
    assert lo <= by["UW"]["protrusion"] <= hi
    lo, hi = ref["rounded (UW UH OW W)"]["width"]
    assert lo <= by["UW"]["width"] <= hi
    assert by["IY"]["width"] > by["UW"]["width"] + 5.0
    for p in ("B", "M", "P"):
        assert by[p]["aperture"] <= ref["bilabial"]["aperture"][1]
    assert by["S"]["jaw"] <= ref["sibilant"]["jaw"][1]
    assert by["F"]["jaw"] <= ref["labiodental"]["jaw"][1]


def test_jaw_targets_ordered_by_vowel_height():
    from tools.evaluate import VOWEL_OPENNESS

    jaw = {p: poses.POSES[p]["jawOpen"] for p in VOWEL_OPENNESS}
    for k in range(1, 5):
        lower = max(j for p, j in jaw.items() if VOWEL_OPENNESS[p] == k)
        higher = min(j for p, j in jaw.items() if VOWEL_OPENNESS[p] == k + 1)
        assert lower < higher, k


def test_eval_section_renders_from_clip_samples():
    from tools.evaluate import realface_section

    samples = _phone_mm([("M", 0.08), ("AA1", 0.18), ("S", 0.1), ("IY1", 0.16)])
    text = realface_section({"clips": [{"metrics": {"realface": samples}}]})
    assert "| open vowel | jaw | 1 |" in text and "published mm" in text
    assert realface_section({"clips": [{"metrics": {}}]}) is None
