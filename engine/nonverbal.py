"""Non-verbal motion from prosody: blinks, brow raises, head nods, eye saccades and gaze.

Everything is subtle by default, switchable one by one (`NonverbalOptions`), deterministic for
a seed (same input + seed -> same motion), and cheap (well under 1 ms per second of audio: it
reuses the loudness envelope and the alignment, no pitch tracking).

* Blinks: a renewal process at BLINK_RATE_PER_MIN (17/min, inside the 15-20 of conversation),
  with extra blinks at phrase boundaries (pauses >= PAUSE_S) where people mostly blink. Each
  blink is 150 ms closing-and-opening (fast close, slower open), both eyes.
* Brow raises on pitch accents: an accent is a primary-stressed vowel ('AY1') that is a local
  loudness peak among its neighbouring stressed vowels; browInnerUp / browOuterUp rise
  ~0.25 and fall over ~400 ms.
* Head nods on stressed syllables: HeadPitch dips by ~1.5 degrees on accented syllables, with
  slow yaw/roll drift (1/f-like, a sum of slow sines with seeded phases).
* Eye saccades and gaze: gaze holds for 0.6-2.5 s then jumps (a 40 ms saccade) to a new
  target within +-6 degrees, mostly back toward the centre; eyeLook* blendshapes follow the
  eye rotations, and the eyelids follow vertical gaze a little.

Rotations are radians (Live Link Face's HeadYaw/HeadPitch/HeadRoll, Left/RightEye*), with Live
Link's signs: pitch > 0 looks down (a nod is a positive HeadPitch bump), yaw > 0 turns to the
character's right (see `voxface.rigs.head_pose`, which turns them into glTF bone rotations).
`nonverbal_motion` returns them; `apply_nonverbal` adds the blendshapes to ARKit curves and
stores the rotations as `curves.extras["rotations"]` (a Curves named LIVE_LINK_EXTRAS), which
the Live Link CSV exporter writes by name. `motion_schedule` gives the random draws of the
motion without phones, for a renderer elsewhere (the live page's in-browser mode, live.js).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from voxface.core.curves import Curves
from voxface.core.names import ARKIT_52, ARKIT_INDEX, LIVE_LINK_EXTRAS
from voxface.engine.prosody import intensity_envelope

BLINK_RATE_PER_MIN = 17.0
BLINK_S = 0.15
MIN_BLINK_GAP_S = 1.0
PAUSE_S = 0.25
PAUSE_BLINK_P = 0.6          # chance of a blink at a phrase boundary
BROW_PEAK = 0.25
BROW_RISE_S, BROW_FALL_S = 0.12, 0.35
NOD_RAD = np.deg2rad(1.5)
DRIFT_RAD = np.deg2rad(1.2)
SACCADE_S = 0.04
GAZE_RAD = np.deg2rad(6.0)
EYE_LOOK_PER_RAD = 1.0 / np.deg2rad(30.0)   # eyeLook* = 1 at 30 degrees


@dataclass(frozen=True)
class NonverbalOptions:
    """Which motions to add, how strongly (1 = subtle default), and the random seed."""

    blinks: bool = True
    brows: bool = True
    head: bool = True
    gaze: bool = True
    strength: float = 1.0
    brow_strength: float = 1.0
    seed: int = 0


def _bump(n: int, fps: float, centres: np.ndarray, rise: float, fall: float,
          start: int = 0) -> np.ndarray:
    """Sum of smooth bumps (raised-cosine rise then fall), peak 1 at each centre, on frames
    start .. start + n - 1; [n]."""
    out = np.zeros(n)
    t = (start + np.arange(n)) / fps
    for c in centres:
        lo = int(max(0, np.floor((c - rise) * fps) - start))
        hi = int(min(n, np.ceil((c + fall) * fps) + 1 - start))
        if hi <= lo:
            continue
        tt = t[lo:hi] - c
        x = np.where(tt < 0, 1 + tt / rise, 1 - tt / fall)
        x = np.clip(x, 0, 1)
        out[lo:hi] = np.maximum(out[lo:hi], 0.5 - 0.5 * np.cos(np.pi * x))
    return out


def _pauses(alignment) -> list[tuple[float, float]]:
    """(start, end) of silent gaps >= PAUSE_S between phones (and before/after speech)."""
    ph = alignment.phones
    if not ph:
        return [(0.0, alignment.duration)]
    out = []
    t = 0.0
    for p in ph:
        if p.start - t >= PAUSE_S:
            out.append((t, p.start))
        t = max(t, p.end)
    if alignment.duration - t >= PAUSE_S:
        out.append((t, alignment.duration))
    return out


def accents(alignment, loudness: np.ndarray | None, fps: float) -> list[float]:
    """Times (s, vowel centres) of pitch-accent candidates: primary-stressed vowels louder than
    the stressed vowels just before and after (all of them when there is no loudness)."""
    stressed = [p for p in alignment.phones if p.label.endswith("1")]
    if not stressed:
        return []
    centres = np.array([0.5 * (p.start + p.end) for p in stressed])
    if loudness is None or len(loudness) == 0:
        return centres.tolist()
    idx = np.clip(np.round(centres * fps).astype(int), 0, len(loudness) - 1)
    level = loudness[idx]
    out = []
    for k in range(len(centres)):
        left = level[k - 1] if k > 0 else -1.0
        right = level[k + 1] if k + 1 < len(centres) else -1.0
        if level[k] >= max(left, right) and level[k] > 0.3:
            out.append(float(centres[k]))
    return out


# The random draws of the motion, one helper per stream, shared by nonverbal_motion and
# motion_schedule (the live page renders the schedule itself and must get the same numbers).


def _streams(seed: int) -> tuple[np.random.Generator, ...]:
    """The blink, head and gaze random streams of a seed (independent of each other)."""
    return tuple(np.random.default_rng(child)
                 for child in np.random.SeedSequence(seed).spawn(3))


def _blink_times(pauses: list[float], duration: float, fps: float,
                 rng: np.random.Generator) -> list[float]:
    """Blink centres (s), increasing: a renewal process at BLINK_RATE_PER_MIN whose next
    blink is pulled forward to a phrase boundary (`pauses`, s; where people mostly blink) when
    one comes first; the timer then restarts, so boundaries shift blinks rather than add to
    the rate. A blink is kept while its closing starts before `duration` (+ 1 frame)."""
    # Pulling blinks forward to pauses shortens the mean interval; the renewal gap is
    # lengthened to compensate (measured: ~17/min on speech with a pause every 2-3 s).
    mean_gap = 1.3 * 60.0 / BLINK_RATE_PER_MIN

    def gap() -> float:
        return MIN_BLINK_GAP_S + rng.exponential(mean_gap - MIN_BLINK_GAP_S)

    kept: list[float] = []
    nxt = rng.uniform(0.3, mean_gap)
    pi = 0
    while True:
        while pi < len(pauses) and pauses[pi] < (kept[-1] if kept else 0.0) + 0.5 * mean_gap:
            pi += 1
        if pi < len(pauses) and pauses[pi] < nxt and rng.random() < PAUSE_BLINK_P:
            when = pauses[pi]
            pi += 1
        else:
            if pi < len(pauses) and pauses[pi] < nxt:
                pi += 1
                continue
            when = nxt
        # Kept while its closing starts before the last frame (+1 frame of rounding).
        if when - 0.4 * BLINK_S > duration + 1.0 / fps:
            break
        kept.append(when)
        nxt = when + gap()
    return kept


def _drift_phases(rng: np.random.Generator) -> np.ndarray:
    """Phases (radians) [6] of the head drift's slow sines: 2 per axis (pitch, yaw, roll)."""
    return rng.uniform(0, 2 * np.pi, 6)


def _saccades(duration: float, strength: float, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The saccade plan up to `duration` + 1 s: at starts[k] (s) [K] the gaze moves from
    src[k] to dst[k] ([K, 2] radians, (yaw, pitch), > 0 looking to the character's left / up)."""
    starts, src, dst = [], [], []
    cur = np.zeros(2)
    x = 0.0
    while x < duration + 1.0:
        hold = rng.uniform(0.6, 2.5)
        nxt = 0.5 * cur + rng.normal(0, 0.5, 2) * GAZE_RAD * strength
        nxt = np.clip(nxt, -GAZE_RAD * strength, GAZE_RAD * strength)
        a = x + hold
        starts.append(a)
        src.append(cur)
        dst.append(nxt)
        cur, x = nxt, a
    return np.asarray(starts), np.asarray(src), np.asarray(dst)


def motion_schedule(options: NonverbalOptions, duration: float, fps: float = 60.0) -> dict:
    """The random part of `nonverbal_motion` without phones (no transcript: the neural
    engine, the live server), up to `duration` s: what a renderer other than this module (the
    live page's in-browser mode, live.js) needs to draw the same motion frame by frame.

    Without phones the motion has no brow raises or nods (they follow stressed vowels), the
    only phrase boundary is at 0.1 s, and every draw is a prefix of an endless sequence: a
    longer `duration` extends the lists without changing their start.

    Returns a JSON-ready dict: `blinks` (centres, s; [] when off), `drift_phases` ([6]
    radians, [] when head motion is off), `saccades` ({`starts` [K] s, `dst` [K][2] radians
    (yaw, pitch)}; the gaze starts at (0, 0); empty when off), and the constants of the
    rendering (`strength`, `blink_rise_s`, `blink_fall_s`, `drift_rad`, `saccade_s`,
    `eye_look_per_rad`).
    """
    blink_rng, head_rng, gaze_rng = _streams(options.seed)
    s = float(options.strength)
    blinks: list[float] = []
    if options.blinks and s > 0:
        blinks = _blink_times([min(0.1, duration)], duration, fps, blink_rng)
    phases = _drift_phases(head_rng).tolist() if options.head and s > 0 else []
    starts, dst = np.zeros(0), np.zeros((0, 2))
    if options.gaze and s > 0:
        starts, _, dst = _saccades(duration, s, gaze_rng)
    return {"seed": int(options.seed), "duration": float(duration), "fps": float(fps),
            "blinks": [float(b) for b in blinks], "drift_phases": phases,
            "saccades": {"starts": starts.tolist(), "dst": dst.tolist()},
            "strength": s, "blink_rise_s": 0.4 * BLINK_S, "blink_fall_s": 0.6 * BLINK_S,
            "drift_rad": float(DRIFT_RAD), "saccade_s": SACCADE_S,
            "eye_look_per_rad": float(EYE_LOOK_PER_RAD)}


def nonverbal_motion(alignment, audio=None, *, fps: float = 60.0, n_frames: int | None = None,
                     options: NonverbalOptions = NonverbalOptions(),
                     loudness: np.ndarray | None = None, start_frame: int = 0
                     ) -> dict[str, np.ndarray]:
    """Non-verbal channels for one utterance, on frames start_frame .. start_frame + T - 1.

    Returns {name: float64 [T]} with ARKit names (eyeBlinkLeft/Right, browInnerUp,
    browOuterUpLeft/Right, eyeLook{Up,Down,In,Out}{Left,Right}) in 0..1 and the nine
    LIVE_LINK_EXTRAS rotations in radians. Only enabled motions appear. T = n_frames (default:
    the frames of the whole alignment). `loudness`, when given, is indexed by frame from 0.

    Blinks, head drift and gaze each draw from their own random stream (seeded from
    options.seed), and a blink is kept when its closing starts before the end: so without
    phones (the neural engine with no transcript) the motion of a frame does not depend on the
    clip's length, and a live stream (voxface.live) renders it block by block, with
    `start_frame`, identical to the offline result.
    """
    n = Curves.n_frames_for(alignment.duration, fps) if n_frames is None else int(n_frames)
    blink_rng, head_rng, gaze_rng = _streams(options.seed)
    s = float(options.strength)
    t = (start_frame + np.arange(n)) / fps
    out: dict[str, np.ndarray] = {}
    if loudness is None and audio is not None and (options.brows or options.head):
        loudness = intensity_envelope(audio, fps, n_frames=start_frame + n).astype(np.float64)
    acc = accents(alignment, loudness, fps) if (options.brows or options.head) else []

    if options.blinks and s > 0:
        pauses = [min(a + 0.1, b) for a, b in _pauses(alignment)]
        kept = _blink_times(pauses, alignment.duration, fps, blink_rng)
        blink = _bump(n, fps, np.array(kept), 0.4 * BLINK_S, 0.6 * BLINK_S, start_frame)
        out["eyeBlinkLeft"] = out["eyeBlinkRight"] = np.clip(blink, 0, 1)

    if options.brows and s > 0:
        brow = _bump(n, fps, np.array(acc) - 0.05, BROW_RISE_S, BROW_FALL_S, start_frame)
        brow *= BROW_PEAK * s * options.brow_strength
        out["browInnerUp"] = np.clip(brow, 0, 1)
        out["browOuterUpLeft"] = out["browOuterUpRight"] = np.clip(0.6 * brow, 0, 1)

    zeros = np.zeros(n)
    if options.head and s > 0:
        nod = _bump(n, fps, np.array(acc), 0.12, 0.3, start_frame) * NOD_RAD * s
        ph = _drift_phases(head_rng)
        drift = [sum(np.sin(2 * np.pi * f * t + ph[2 * k + j]) / (j + 1)
                     for j, f in enumerate((0.11 + 0.03 * k, 0.27 + 0.05 * k)))
                 for k in range(3)]
        out["HeadPitch"] = nod + 0.4 * DRIFT_RAD * s * drift[0] / 1.5
        out["HeadYaw"] = DRIFT_RAD * s * drift[1] / 1.5
        out["HeadRoll"] = 0.5 * DRIFT_RAD * s * drift[2] / 1.5
    if options.gaze and s > 0:
        starts, src_a, dst_a = _saccades(alignment.duration, s, gaze_rng)
        # Each frame follows the last saccade that started at or before it (one lookup per
        # frame: linear in length, not frames x saccades).
        yaw, pitch = zeros.copy(), zeros.copy()
        k = np.searchsorted(starts, t, side="right") - 1
        on = k >= 0
        k = k[on]
        w = np.clip((t[on] - starts[k]) / SACCADE_S, 0, 1)
        w = w * w * (3 - 2 * w)
        yaw[on] = src_a[k, 0] + (dst_a[k, 0] - src_a[k, 0]) * w
        pitch[on] = src_a[k, 1] + (dst_a[k, 1] - src_a[k, 1]) * w
        # `yaw` / `pitch` here: > 0 looks to the character's left / up. Live Link Face's eye
        # angles have the opposite signs (measured on real captures: LeftEyePitch rises with
        # eyeLookDownLeft, LeftEyeYaw with eyeLookInLeft), so the columns are negated.
        for side in ("Left", "Right"):
            out[f"{side}EyeYaw"] = -yaw
            out[f"{side}EyePitch"] = -pitch
            out[f"{side}EyeRoll"] = zeros
        # Blendshapes: positive yaw = looking to the character's left.
        k = EYE_LOOK_PER_RAD
        out["eyeLookOutLeft"] = np.clip(yaw * k, 0, 1)
        out["eyeLookInRight"] = np.clip(yaw * k, 0, 1)
        out["eyeLookInLeft"] = np.clip(-yaw * k, 0, 1)
        out["eyeLookOutRight"] = np.clip(-yaw * k, 0, 1)
        out["eyeLookUpLeft"] = out["eyeLookUpRight"] = np.clip(pitch * k, 0, 1)
        out["eyeLookDownLeft"] = out["eyeLookDownRight"] = np.clip(-pitch * k, 0, 1)
    return out


def apply_nonverbal(curves: Curves, motion: dict[str, np.ndarray]) -> Curves:
    """Curves with the motion's blendshapes added (max with what is there; mouth shapes are
    never touched) and its rotations in extras['rotations'] (Curves named LIVE_LINK_EXTRAS,
    radians, zeros for channels not in `motion`)."""
    values = curves.values.copy()
    for name, col in motion.items():
        if name in ARKIT_INDEX and name in curves.names:
            j = curves.names.index(name)
            values[:, j] = np.clip(np.maximum(values[:, j], col), 0.0, 1.0)
    rot = np.zeros((curves.n_frames, len(LIVE_LINK_EXTRAS)), np.float32)
    for k, name in enumerate(LIVE_LINK_EXTRAS):
        if name in motion:
            rot[:, k] = motion[name]
    extras = dict(curves.extras)
    if any(name in motion for name in LIVE_LINK_EXTRAS):
        extras["rotations"] = Curves(fps=curves.fps, names=LIVE_LINK_EXTRAS, values=rot,
                                     duration=curves.duration)
    return replace(curves, values=values, extras=extras)


assert set(ARKIT_52) >= {"eyeBlinkLeft", "browInnerUp", "eyeLookOutLeft"}
