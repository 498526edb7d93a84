"""Emotions as an additive layer on the speech curves: FACS prototypes -> ARKit shapes.

What a face shows (the emotion) and what it says (the phones) are separate layers. The speech
curves come from the coarticulation engine; this module adds an expression on top and then
re-applies the lip constraints, so that a smile still closes for /m/ and the lower lip still
meets the teeth for /f/.

* **Prototypes**: each emotion is the set of FACS action units (AUs) of its EMFACS prototype
  (Ekman & Friesen 1978; Friesen & Ekman, EMFACS-7, 1983; the prototype table in Ekman,
  Friesen & Hager, FACS Investigator's Guide, 2002), each AU mapped to the ARKit blendshapes
  that perform it (`AU_TO_ARKIT`). `PROTOTYPES` holds AU -> intensity at emotion intensity 1
  (FACS A..E intensity as 0.2..1.0). docs/emotions.md prints the table.
* **Layering** (`apply_emotion`): delta(t) = sum over segments of envelope_i(t) x prototype_i,
  added to the speech values and clipped to 0..1 (AU26, the jaw drop, is an offset only in
  pauses; while speaking it enlarges the jaw's motion instead). While the lips round (mouthPucker /
  mouthFunnel of the speech), the emotion's lip-corner shapes (smile, stretch, dimple) are
  scaled down, as rounding wins over a spread in real speech. Then the p/b/m closure and f/v
  contact constraints are applied again (`coarticulation.constraint_weights`, the same ramps
  and holds), so they hold at every intensity, and the jaw's opening still follows the
  vowels.
* **Timing**: a segment {start, end, emotion, intensity} eases in over ONSET_S around its start
  and out over OFFSET_S around its end (smoothstep), so there is no pop and back-to-back
  segments cross-fade; a segment at the clip's start or end is fully on there.
* **Sources**: `--emotion NAME[:INTENSITY]` (whole clip), a JSON track file, tags in the
  transcript (`[happy] Well done! [concerned] But check the verb.`; a tag starts TAG_LEAD_S
  before its first word, as faces lead speech, and lasts to the next tag), and `auto`.
* **auto**: arousal 0..1 per frame from the speech itself (loudness variation, pitch range,
  speaking rate; `arousal_track`) scales the brows, the eye aperture and the head motion; no
  valence (happy vs angry) is claimed, since the audio cannot tell it.

Curves keep ARKIT_52 names; the track goes to `curves.extras["emotions"]` (a list of dicts
{start, end, emotion, intensity}) for the JSON output.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from voxface.core.alignment import Alignment
from voxface.core.curves import Curves
from voxface.core.errors import InputError
from voxface.core.names import ARKIT_INDEX
from voxface.engine.coarticulation import _enforce, constraint_weights
from voxface.engine.prosody import intensity_db, pitch_track
from voxface.phonemes.text import normalize

DEFAULT_INTENSITY = 0.6
ONSET_S = 0.30     # ease-in span, centred on a segment's start
OFFSET_S = 0.40    # ease-out span, centred on its end
TAG_LEAD_S = 0.15  # a transcript tag's expression starts this long before its first word

# FACS action unit -> ARKit blendshapes (weight of each shape at AU intensity 1).
AU_TO_ARKIT: dict[int, dict[str, float]] = {
    1: {"browInnerUp": 1.0},                                          # inner brow raiser
    2: {"browOuterUpLeft": 1.0, "browOuterUpRight": 1.0},             # outer brow raiser
    4: {"browDownLeft": 1.0, "browDownRight": 1.0},                   # brow lowerer
    5: {"eyeWideLeft": 1.0, "eyeWideRight": 1.0},                     # upper lid raiser
    6: {"cheekSquintLeft": 1.0, "cheekSquintRight": 1.0,              # cheek raiser
        "eyeSquintLeft": 0.3, "eyeSquintRight": 0.3},
    7: {"eyeSquintLeft": 1.0, "eyeSquintRight": 1.0},                 # lid tightener
    9: {"noseSneerLeft": 1.0, "noseSneerRight": 1.0},                 # nose wrinkler
    10: {"mouthUpperUpLeft": 1.0, "mouthUpperUpRight": 1.0},          # upper lip raiser
    12: {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0},              # lip corner puller
    14: {"mouthDimpleLeft": 1.0, "mouthDimpleRight": 1.0},            # dimpler
    15: {"mouthFrownLeft": 1.0, "mouthFrownRight": 1.0},              # lip corner depressor
    16: {"mouthLowerDownLeft": 1.0, "mouthLowerDownRight": 1.0},      # lower lip depressor
    17: {"mouthShrugLower": 1.0},                                     # chin raiser
    20: {"mouthStretchLeft": 1.0, "mouthStretchRight": 1.0},          # lip stretcher
    23: {"mouthPressLeft": 0.7, "mouthPressRight": 0.7},              # lip tightener
    26: {"jawOpen": 1.0},                                             # jaw drop
}
# Unilateral AUs (contempt's R12A + R14A): the right side only.
_RIGHT_ONLY = {"R12": {"mouthSmileRight": 1.0}, "R14": {"mouthDimpleRight": 1.0}}

# Emotion -> {AU: intensity at emotion intensity 1}. EMFACS prototypes; AU26 kept small so the
# jaw keeps following the vowels (an open-mouthed gasp would swallow the speech).
PROTOTYPES: dict[str, dict[Any, float]] = {
    "neutral": {},
    "happy": {6: 0.7, 12: 0.8},                                      # 6+12
    "sad": {1: 0.8, 4: 0.5, 15: 0.6, 17: 0.3},                       # 1+4+15 (+17)
    "angry": {4: 0.9, 5: 0.3, 7: 0.6, 23: 0.6},                      # 4+5+7+23
    "surprised": {1: 0.9, 2: 0.9, 5: 0.7, 26: 0.15},                 # 1+2+5B+26
    "fearful": {1: 0.8, 2: 0.5, 4: 0.5, 5: 0.8, 7: 0.2, 20: 0.6, 26: 0.1},  # 1+2+4+5+7+20+26
    "disgusted": {9: 0.8, 10: 0.4, 15: 0.5, 16: 0.3},                # 9+15+16 (+10)
    "contempt": {"R12": 0.5, "R14": 0.6},                            # R12A+R14A
}
EMOTIONS = tuple(PROTOTYPES)

# Everyday names a script or a language model writes -> (emotion, intensity scale).
ALIASES: dict[str, tuple[str, float]] = {
    "calm": ("neutral", 1.0), "none": ("neutral", 1.0),
    "joy": ("happy", 1.0), "joyful": ("happy", 1.0), "glad": ("happy", 0.8),
    "pleased": ("happy", 0.7), "cheerful": ("happy", 0.9), "smile": ("happy", 0.7),
    "excited": ("happy", 1.0), "proud": ("happy", 0.7), "warm": ("happy", 0.5),
    "encouraging": ("happy", 0.6), "friendly": ("happy", 0.5),
    "concerned": ("sad", 0.5), "sympathetic": ("sad", 0.4), "empathetic": ("sad", 0.4),
    "sorry": ("sad", 0.6), "disappointed": ("sad", 0.7), "unhappy": ("sad", 0.8),
    "annoyed": ("angry", 0.5), "irritated": ("angry", 0.5), "frustrated": ("angry", 0.6),
    "stern": ("angry", 0.4), "mad": ("angry", 1.0),
    "amazed": ("surprised", 1.0), "astonished": ("surprised", 1.0),
    "shocked": ("surprised", 1.0), "curious": ("surprised", 0.4),
    "worried": ("fearful", 0.5), "anxious": ("fearful", 0.6), "nervous": ("fearful", 0.5),
    "scared": ("fearful", 1.0), "afraid": ("fearful", 1.0),
    "disgust": ("disgusted", 1.0), "grossed-out": ("disgusted", 1.0),
    "skeptical": ("contempt", 0.7), "smug": ("contempt", 1.0), "dismissive": ("contempt", 0.8),
    "happiness": ("happy", 1.0), "sadness": ("sad", 1.0), "anger": ("angry", 1.0),
    "surprise": ("surprised", 1.0), "fear": ("fearful", 1.0),
}

_NAMES = list(ARKIT_INDEX)
_LIP_CORNER = [ARKIT_INDEX[n] for n in ("mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
                                        "mouthStretchRight", "mouthDimpleLeft",
                                        "mouthDimpleRight")]
_ROUNDING = [ARKIT_INDEX["mouthPucker"], ARKIT_INDEX["mouthFunnel"]]
_JAW = ARKIT_INDEX["jawOpen"]
_STRETCH = [ARKIT_INDEX["mouthStretchLeft"], ARKIT_INDEX["mouthStretchRight"]]
JAW_SPEECH_GAIN = 2.0  # AU26 while speaking: jaw motion x (1 + this x AU26 level)
_BROWS = [ARKIT_INDEX[n] for n in ("browInnerUp", "browOuterUpLeft", "browOuterUpRight",
                                   "browDownLeft", "browDownRight")]
_EYE_WIDE = [ARKIT_INDEX["eyeWideLeft"], ARKIT_INDEX["eyeWideRight"]]
_EYE_SQUINT = [ARKIT_INDEX["eyeSquintLeft"], ARKIT_INDEX["eyeSquintRight"]]


def prototype_vector(emotion: str) -> np.ndarray:
    """float64 [52] in ARKIT_52 order: the ARKit shapes of `emotion` at intensity 1."""
    v = np.zeros(len(_NAMES))
    for au, level in PROTOTYPES[emotion].items():
        shapes = _RIGHT_ONLY[au] if isinstance(au, str) else AU_TO_ARKIT[au]
        for name, w in shapes.items():
            v[ARKIT_INDEX[name]] = max(v[ARKIT_INDEX[name]], level * w)
    return v


@dataclass(frozen=True)
class Segment:
    """One timed emotion: seconds, a name of EMOTIONS, intensity 0..1."""

    start: float
    end: float
    emotion: str
    intensity: float

    def as_dict(self) -> dict:
        return {"start": round(self.start, 4), "end": round(self.end, 4),
                "emotion": self.emotion, "intensity": round(self.intensity, 4)}


@dataclass(frozen=True)
class EmotionSpec:
    """What `--emotion` asked for: a whole-clip emotion, a track file's segments, or auto."""

    emotion: str | None = None         # a name of EMOTIONS (whole clip)
    intensity: float = DEFAULT_INTENSITY
    segments: tuple[Segment, ...] = ()  # from a JSON track file
    auto: bool = False


def resolve_name(name: str, *, where: str = "--emotion") -> tuple[str, float]:
    """An emotion or alias name -> (emotion, intensity scale). InputError lists the choices."""
    key = name.strip().lower()
    if key in PROTOTYPES:
        return key, 1.0
    if key in ALIASES:
        return ALIASES[key]
    raise InputError(f"{where}: unknown emotion {name!r}; available: {', '.join(EMOTIONS)} "
                     f"(aliases: {', '.join(sorted(ALIASES))})")


def _intensity(text: str, where: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise InputError(f"{where}: intensity {text!r} is not a number 0..1") from None
    if not 0.0 <= x <= 1.0:
        raise InputError(f"{where}: intensity {x:g} is out of range, expected 0..1")
    return x


def parse_emotion(spec: str | EmotionSpec | None) -> EmotionSpec | None:
    """`--emotion` value: 'NAME', 'NAME:INTENSITY', 'auto' or a JSON track file path."""
    if spec is None or isinstance(spec, EmotionSpec):
        return spec
    text = str(spec).strip()
    if text.lower() == "auto":
        return EmotionSpec(auto=True)
    if text.lower().endswith(".json"):
        return EmotionSpec(segments=read_track(text))
    name, _, level = text.partition(":")
    emotion, scale = resolve_name(name)
    intensity = _intensity(level, "--emotion") if level else DEFAULT_INTENSITY
    return EmotionSpec(emotion=emotion, intensity=min(1.0, intensity * scale))


def read_track(path: str | Path) -> tuple[Segment, ...]:
    """A JSON track: a list of {start, end, emotion, intensity?} (seconds; intensity default
    0.6), bare or under "emotions". Raises InputError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such emotion track file", path=p)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a JSON emotion track ({exc})".replace("\n", " "), path=p) from None
    if isinstance(data, dict):
        data = data.get("emotions")
    if not isinstance(data, list):
        raise InputError("expected a list of {start, end, emotion, intensity}", path=p)
    out = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict) or not {"start", "end", "emotion"} <= set(item):
            raise InputError(f"segment {i}: needs start, end and emotion", path=p)
        try:
            s, e = float(item["start"]), float(item["end"])
        except (TypeError, ValueError):
            raise InputError(f"segment {i}: start and end must be numbers (seconds)",
                             path=p) from None
        if not (0.0 <= s < e):
            raise InputError(f"segment {i}: expected 0 <= start < end, got {s:g}..{e:g}",
                             path=p)
        try:
            emotion, scale = resolve_name(str(item["emotion"]), where=f"{p}: segment {i}")
            level = _intensity(str(item.get("intensity", DEFAULT_INTENSITY)),
                               f"{p}: segment {i}")
        except InputError:
            raise
        out.append(Segment(s, e, emotion, min(1.0, level * scale)))
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# Tags in the transcript

_TAG = re.compile(r"\[\s*([A-Za-z][A-Za-z_-]*)\s*(?::\s*([0-9.]+)\s*)?\]")


@dataclass(frozen=True)
class Tag:
    """An emotion tag: where it sits in the clean text (character offset), its emotion and
    intensity."""

    offset: int
    emotion: str
    intensity: float


def split_tags(text: str | None, default_intensity: float = DEFAULT_INTENSITY, *,
               strict: bool = True) -> tuple[str | None, tuple[Tag, ...]]:
    """'[happy] Well done! [concerned:0.4] But…' -> (text without tags, tags).

    An unknown name raises InputError listing the available ones. With strict=False (the
    transcripts of `animate AUDIO`), a text none of whose brackets names an emotion is
    returned unchanged with no tags: corpus annotations such as '[laughs]' or '[noise]' stay
    text, as before emotions existed; once one bracket is an emotion, all must be.
    """
    if not text or "[" not in text:
        return text, ()
    if not strict and not any(_known(m.group(1)) for m in _TAG.finditer(text)):
        return text, ()
    tags: list[Tag] = []
    parts: list[str] = []
    pos = 0
    clean_len = 0
    for m in _TAG.finditer(text):
        parts.append(text[pos:m.start()])
        clean_len += m.start() - pos
        pos = m.end()
        emotion, scale = resolve_name(m.group(1), where=f"tag [{m.group(0)[1:-1]}]")
        level = (_intensity(m.group(2), f"tag {m.group(0)}") if m.group(2)
                 else default_intensity)
        tags.append(Tag(clean_len, emotion, min(1.0, level * scale)))
    parts.append(text[pos:])
    clean = "".join(parts)
    return re.sub(r"[ \t]{2,}", " ", clean).strip() if tags else clean, tuple(
        replace(t, offset=_shifted(clean, t.offset)) for t in tags)


def _known(name: str) -> bool:
    key = name.strip().lower()
    return key in PROTOTYPES or key in ALIASES


def _shifted(clean: str, offset: int) -> int:
    """Offset in the space-collapsed, stripped text (what split_tags returns)."""
    head = re.sub(r"[ \t]{2,}", " ", clean[:offset]).lstrip()
    return len(head)


def tag_segments(tags: tuple[Tag, ...], text: str, alignment: Alignment) -> list[Segment]:
    """Tags -> segments on the alignment's timeline: a tag starts TAG_LEAD_S before the first
    word after it and lasts until the next tag starts (the last one to the end).

    Words are counted in the clean text the way the aligner counts them (text.normalize);
    when that count differs from the alignment's (espeak keeps written tokens: '42' is one
    word), whitespace tokens are counted instead, and failing that the position is taken in
    proportion.
    """

    words = alignment.words
    duration = alignment.duration
    if not tags:
        return []
    norm_total = len(normalize(text))
    tok_total = len(text.split())
    starts = []
    for tag in tags:
        head = text[:tag.offset]
        if words and norm_total == len(words):
            k = len(normalize(head))
        elif words and tok_total == len(words):
            k = len(head.split())
        else:
            frac = (len(normalize(head)) / norm_total) if norm_total else 0.0
            k = int(round(frac * len(words))) if words else -1
        if words and 0 <= k < len(words):
            t = max(0.0, words[k].start - TAG_LEAD_S)
        elif words and k >= len(words):
            t = words[-1].end
        else:
            t = 0.0 if not tag.offset else duration * tag.offset / max(len(text), 1)
        starts.append(t)
    if starts and starts[0] <= TAG_LEAD_S + 1e-9:
        starts[0] = 0.0  # a tag before the first word sets the face from the start
    out = []
    for i, tag in enumerate(tags):
        end = starts[i + 1] if i + 1 < len(tags) else duration
        if end > starts[i]:
            out.append(Segment(starts[i], end, tag.emotion, tag.intensity))
    return out


# ----------------------------------------------------------------------------------------------
# The layer


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def envelope(seg: Segment, times: np.ndarray, duration: float) -> np.ndarray:
    """float64 [T]: the segment's weight 0..intensity with eased onset and offset."""
    up = np.ones_like(times) if seg.start <= 1e-9 else _smoothstep(
        (times - (seg.start - 0.5 * ONSET_S)) / ONSET_S)
    down = np.ones_like(times) if seg.end >= duration - 1e-9 else _smoothstep(
        ((seg.end + 0.5 * OFFSET_S) - times) / OFFSET_S)
    return seg.intensity * up * down


def emotion_delta(segments: list[Segment], n_frames: int, fps: float, duration: float
                  ) -> np.ndarray:
    """float64 [T, 52]: the summed, eased expression of `segments` (before layering)."""
    times = np.arange(n_frames) / fps
    delta = np.zeros((n_frames, len(_NAMES)))
    for seg in segments:
        proto = prototype_vector(seg.emotion)
        if proto.any():
            delta += envelope(seg, times, duration)[:, None] * proto[None, :]
    return np.clip(delta, 0.0, 1.0)


def arousal_track(alignment: Alignment, audio: Any, fps: float, n_frames: int) -> np.ndarray:
    """float64 [T] in 0..1: how aroused the speech sounds, from three cues (each mapped to -1..1
    and averaged, then smoothed over ~0.6 s):
    * loudness variation: the 80th-20th percentile range of the frame level (dB) over a 1.5 s
      window, 6 dB -> calm (-1), 20 dB -> aroused (+1); the level itself is not used, since
      recording gain is arbitrary;
    * pitch range: the standard deviation of f0 in semitones over the voiced frames of a
      1.5 s window, 1 st -> -1, 4 st -> +1;
    * speaking rate: phones per second over a 2 s window, 9 -> -1, 15 -> +1 (0 without an
      alignment).
    """
    from scipy.ndimage import gaussian_filter1d

    def ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
        return np.clip(2.0 * (x - lo) / (hi - lo) - 1.0, -1.0, 1.0)

    t = np.arange(n_frames) / fps
    half = max(1, int(round(0.75 * fps)))
    level = np.asarray(intensity_db(audio, fps, n_frames=n_frames), np.float64)
    f0 = np.asarray(pitch_track(audio, fps, n_frames=n_frames), np.float64)
    st = np.where(f0 > 0, 12.0 * np.log2(np.maximum(f0, 1.0) / 100.0), np.nan)
    loud = np.zeros(n_frames)
    pitch = np.zeros(n_frames)
    step = max(1, int(round(fps / 10)))  # evaluate at 10 Hz, interpolate between
    keys = np.arange(0, n_frames, step)
    lv, pv = [], []
    for i in keys:
        a, b = max(0, i - half), min(n_frames, i + half + 1)
        seg = level[a:b]
        lv.append(np.percentile(seg, 80) - np.percentile(seg, 20))
        s = st[a:b]
        s = s[~np.isnan(s)]
        pv.append(np.std(s) if s.size >= 5 else 0.0)
    loud = ramp(np.interp(np.arange(n_frames), keys, lv), 6.0, 20.0)
    pitch = ramp(np.interp(np.arange(n_frames), keys, pv), 1.0, 4.0)
    cues = [loud, pitch]
    if alignment.phones:
        starts = np.array([p.start for p in alignment.phones])
        counts = (np.searchsorted(starts, t + 1.0) - np.searchsorted(starts, t - 1.0)) / 2.0
        cues.append(ramp(counts, 9.0, 15.0))
    score = np.mean(cues, axis=0)
    score = gaussian_filter1d(score, sigma=0.3 * fps, mode="nearest")
    return np.clip(0.5 + 0.5 * score, 0.0, 1.0)


def build_segments(spec: EmotionSpec | None, tags: tuple[Tag, ...], text: str | None,
                   alignment: Alignment) -> list[Segment]:
    """The emotion segments of one clip: the spec's whole-clip emotion (or track file), with
    transcript tags taking over from the first tag on."""
    duration = alignment.duration
    segs: list[Segment] = []
    if spec is not None and spec.segments:
        for s in spec.segments:
            if s.start >= duration:
                raise InputError(f"--emotion track: a segment starts at {s.start:g} s, past "
                                 f"the audio's end ({duration:.3f} s)")
            segs.append(replace(s, end=min(s.end, duration)))
    tagged = tag_segments(tags, text or "", alignment) if tags else []
    base_end = tagged[0].start if tagged else duration
    if spec is not None and spec.emotion is not None and base_end > 0:
        segs.append(Segment(0.0, base_end, spec.emotion, spec.intensity))
    return segs + tagged


def _speaking(alignment: Alignment, n_frames: int, fps: float) -> np.ndarray:
    """float64 [T] 0..1: inside a phone (1) or a pause (0), eased over ~80 ms."""
    from scipy.ndimage import gaussian_filter1d

    on = np.zeros(n_frames)
    for p in alignment.phones:
        on[max(0, int(np.floor(p.start * fps))):int(np.ceil(p.end * fps)) + 1] = 1.0
    return np.clip(gaussian_filter1d(on, sigma=0.04 * fps, mode="nearest"), 0.0, 1.0)


def apply_emotion(curves: Curves, alignment: Alignment, audio: Any = None, *,
                  spec: EmotionSpec | str | None = None, tags: tuple[Tag, ...] = (),
                  text: str | None = None) -> Curves:
    """Layer emotions on speech curves (module docstring).

    Args:
        curves: ARKit-52 speech curves (after non-verbal motion).
        alignment: the phones the curves were made from (for the lip constraints and tags).
        audio: the analysis Audio (needed for auto).
        spec: `--emotion` (a string is parsed with parse_emotion).
        tags: `split_tags` tags, positions in `text` (the transcript without tags).
    Returns:
        New Curves, same shape; extras["emotions"] = the track as dicts; with auto, also
        extras["arousal"] (float32 [T]) and head rotations scaled by arousal.
    """

    spec = parse_emotion(spec)
    segs = build_segments(spec, tags, text, alignment)
    auto = spec is not None and spec.auto
    if not auto and not any(prototype_vector(s.emotion).any() for s in segs):
        if not segs:
            return curves
        return replace(curves, extras={**curves.extras,
                                       "emotions": [s.as_dict() for s in segs]})
    n, fps = curves.n_frames, curves.fps
    v = curves.values.astype(np.float64)
    extras = dict(curves.extras)
    delta = emotion_delta(segs, n, fps, curves.duration)
    # rounding wins over a spread: lip-corner shapes fade while the lips round
    rounding = np.clip(v[:, _ROUNDING].max(axis=1) / 0.5, 0.0, 1.0)
    delta[:, _LIP_CORNER] *= (1.0 - rounding)[:, None]
    # AU26 (jaw drop): an open jaw in the pauses, but while speaking a larger jaw motion
    # (gain 1 + JAW_SPEECH_GAIN x AU26) instead of an offset, so the jaw keeps following
    # the vowels rather than hanging open through the consonants.
    speaking = _speaking(alignment, n, fps)
    jaw_drop = delta[:, _JAW].copy()
    delta[:, _JAW] = jaw_drop * (1.0 - speaking) + v[:, _JAW] * jaw_drop * JAW_SPEECH_GAIN \
        * speaking
    v = np.clip(v + delta, 0.0, 1.0)
    if auto:
        arousal = arousal_track(alignment, audio, fps, n) if audio is not None else np.full(n, 0.5)
        gain = 0.6 + 0.8 * arousal  # 0.6x (calm) .. 1.4x (aroused)
        v[:, _BROWS] = np.clip(v[:, _BROWS] * gain[:, None], 0.0, 1.0)
        high, low = np.clip(2.0 * arousal - 1.0, 0, 1), np.clip(1.0 - 2.0 * arousal, 0, 1)
        v[:, _EYE_WIDE] = np.clip(v[:, _EYE_WIDE] + 0.35 * high[:, None], 0.0, 1.0)
        v[:, _EYE_SQUINT] = np.clip(v[:, _EYE_SQUINT] + 0.25 * low[:, None], 0.0, 1.0)
        rot = extras.get("rotations")
        if isinstance(rot, Curves) and rot.n_frames == n:
            extras["rotations"] = replace(rot, values=rot.values * gain[:, None])
        extras["arousal"] = arousal.astype(np.float32)
        segs = segs + [Segment(0.0, curves.duration, "auto", float(np.mean(arousal)))]
    # The constraints again, with the speech's own ramps around each closure / contact. Only
    # what they do to the layered face is kept (enforce(speech + emotion) - enforce(speech)),
    # so the speech itself stays as the engine made it; the hold frames are then projected
    # exactly.
    closure, contact = constraint_weights(alignment, fps, n)
    # the lip stretcher (AU20) parts the lips of a mesh as it pulls the corners: it yields
    # to a closure or f/v contact as the constraints ramp in
    lips_busy = np.maximum(closure, contact)
    for col in _STRETCH:
        v[:, col] = np.maximum(v[:, col] - delta[:, col] * lips_busy, curves.values[:, col])
    speech = curves.values.astype(np.float64)
    base = speech.copy()
    _enforce(base, closure, contact)
    _enforce(v, closure, contact)
    v = np.clip(speech + (v - base), 0.0, 1.0)
    _enforce(v, (closure >= 1.0).astype(np.float64), (contact >= 1.0).astype(np.float64))
    np.clip(v, 0.0, 1.0, out=v)
    extras["emotions"] = [s.as_dict() for s in segs]
    return replace(curves, values=v.astype(np.float32), extras=extras)
