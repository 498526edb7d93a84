"""Non-verbal motion: blinks, brows, head, gaze (voxface.engine.nonverbal)."""

from __future__ import annotations

import numpy as np

from voxface.core.alignment import Alignment, Interval
from voxface.core.names import ARKIT_52, LIVE_LINK_EXTRAS
from voxface.engine.coarticulation import curves_from_alignment, is_lip_closed
from voxface.engine.nonverbal import NonverbalOptions, apply_nonverbal, nonverbal_motion


def speech(seconds: float = 60.0) -> Alignment:
    phones, t = [], 0.3
    labels = ["M", "AY1", "T", "S", "IY0", "P", "UW1", "F", "ER0", "N", "AE1", "D"]
    k = 0
    while t < seconds - 0.5:
        d = 0.08
        phones.append(Interval(labels[k % len(labels)], t, t + d))
        t += d + (0.5 if k % 25 == 24 else 0.0)   # a pause every 25 phones
        k += 1
    return Alignment(words=(), phones=tuple(phones), duration=seconds)


def blinks(col: np.ndarray, fps: float) -> int:
    closed = col > 0.5
    return int(np.sum(closed[1:] & ~closed[:-1]))


def test_blink_rate_and_reproducibility():
    al = speech()
    m1 = nonverbal_motion(al, None, fps=60.0)
    m2 = nonverbal_motion(al, None, fps=60.0)
    m3 = nonverbal_motion(al, None, fps=60.0, options=NonverbalOptions(seed=7))
    assert np.array_equal(m1["eyeBlinkLeft"], m2["eyeBlinkLeft"])
    assert not np.array_equal(m1["eyeBlinkLeft"], m3["eyeBlinkLeft"])
    for m in (m1, m3):
        n = blinks(m["eyeBlinkLeft"], 60.0)
        assert 12 <= n <= 24, n  # ~15-20 per minute


def test_switches_and_ranges():
    al = speech(10.0)
    none = nonverbal_motion(al, None, options=NonverbalOptions(
        blinks=False, brows=False, head=False, gaze=False))
    assert none == {}
    m = nonverbal_motion(al, None)
    for name, col in m.items():
        assert col.shape == (601,)
        if name in ARKIT_52:
            assert col.min() >= 0 and col.max() <= 1
        else:
            assert name in LIVE_LINK_EXTRAS and np.abs(col).max() < 0.2  # radians, subtle
    assert m["browInnerUp"].max() > 0.1 and np.abs(m["HeadPitch"]).max() > 0.005


def test_apply_keeps_the_mouth_and_exports_rotations(tmp_path):
    from voxface.exporters.livelink import read_livelink, write_livelink_curves

    al = speech(5.0)
    c = curves_from_alignment(al, None)
    out = apply_nonverbal(c, nonverbal_motion(al, None))
    mouth = [i for i, n in enumerate(ARKIT_52) if n.startswith(("mouth", "jaw"))]
    assert np.array_equal(out.values[:, mouth], c.values[:, mouth])
    assert is_lip_closed(out.values).sum() == is_lip_closed(c.values).sum()
    rot = out.extras["rotations"]
    assert rot.names == LIVE_LINK_EXTRAS and rot.n_frames == c.n_frames
    write_livelink_curves(out, tmp_path / "t.csv")
    take = read_livelink(tmp_path / "t.csv")
    k = take.columns.index("HeadPitch")
    assert np.allclose(take.values[:, k], rot.column("HeadPitch"), atol=1e-6)


def test_motion_schedule_is_the_motion_without_phones_and_grows_by_extension() -> None:
    """motion_schedule (what the live page renders) holds nonverbal_motion's draws without
    phones, and a longer horizon only appends to it (the page extends it while streaming)."""
    from voxface.engine.nonverbal import motion_schedule

    opts = NonverbalOptions(seed=11)
    short, long = motion_schedule(opts, 40.0), motion_schedule(opts, 200.0)
    for key in ("blinks", "drift_phases"):
        assert long[key][:len(short[key])] == short[key]
    for key in ("starts", "dst"):
        assert long["saccades"][key][:len(short["saccades"][key])] == short["saccades"][key]
    assert len(long["blinks"]) > len(short["blinks"]) > 5
    assert short["blinks"][-1] < 40.2 and long["saccades"]["starts"][-1] > 200.0
    # blink centres: the peaks of nonverbal_motion's eyeBlink curve (60 fps, the frame nearest)
    al = Alignment(words=(), phones=(), duration=40.0, source="neural")
    blink = nonverbal_motion(al, None, fps=60.0, options=opts)["eyeBlinkLeft"]
    for c in short["blinks"][:-1]:
        i = round(c * 60)
        assert blink[i] > 0.9 and blink[i] >= blink[max(0, i - 3):i + 4].max() - 1e-12
    off = motion_schedule(NonverbalOptions(seed=11, blinks=False, head=False, gaze=False), 40.0)
    assert off["blinks"] == [] and off["drift_phases"] == [] and off["saccades"]["starts"] == []
