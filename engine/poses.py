"""Phone -> ARKit target pose, and per-phone coarticulation (dominance) parameters.

Two data tables drive the whole rule-based animation:

* `POSES`: for each of the 39 ARPAbet phones (stress stripped) and 'sil', the ARKit weights
  (0..1) the mouth aims for in the middle of that phone. A key without a side suffix
  ('mouthSmile') stands for both the Left and Right shapes; every other key is an ARKit name.
  Shapes not listed are 0.
* `DOMINANCE_CLASSES` / `PHONE_CLASS`: Cohen-Massaro dominance parameters. Each phone belongs to
  one articulatory class; the class says how strongly the phone holds each *shape group*
  (jaw, lips, round, spread, tongue) and how fast its influence decays before (anticipation)
  and after (carry-over) its own interval. A bilabial holds the lips hard; a coronal (T, S, N)
  barely constrains the lips, so a neighbouring vowel's rounding or spreading shows through it.

Diphthongs additionally glide between two monophthong poses (`DIPHTHONG_GLIDES`).

`pose_table_markdown()` renders these tables for docs/phoneme_poses.md; a test checks the doc
is up to date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from voxface.core.names import ARKIT_52, ARKIT_INDEX

SILENCE = "sil"

# The 39 CMUdict / ARPAbet phones (stress digits removed).
ARPABET_39: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW",
    "B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH",
    "T", "TH", "V", "W", "Y", "Z", "ZH",
)
VOWELS: frozenset[str] = frozenset(ARPABET_39[:15])

# Labels aligners use for non-speech; they all animate as silence (rest pose).
SILENCE_LABELS: frozenset[str] = frozenset({"", "sil", "sp", "spn", "<eps>", "<sil>", "pau"})

# Shape groups: dominance is computed per group, so a phone can hold the lips hard while
# leaving rounding free. Every ARKit name a pose may use belongs to exactly one group.
SHAPE_GROUPS: dict[str, tuple[str, ...]] = {
    "jaw": ("jawOpen", "jawForward"),
    "lips": ("mouthClose", "mouthPressLeft", "mouthPressRight", "mouthRollLower",
             "mouthRollUpper", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
             "mouthUpperUpRight", "mouthShrugLower", "mouthShrugUpper", "cheekPuff"),
    "round": ("mouthFunnel", "mouthPucker"),
    "spread": ("mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight",
               "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
               "cheekSquintLeft", "cheekSquintRight"),
    "tongue": ("tongueOut",),
}
GROUP_NAMES: tuple[str, ...] = tuple(SHAPE_GROUPS)

# Target poses. Values are ARKit weights; 'mouthX' without Left/Right means both sides.
# mouthClose is absolute (ARKit: lips together while the jaw is open), so a sealed pose has
# mouthClose == jawOpen.
#
# Amplitudes are physiological (issue 17, docs/phoneme_poses.md "Amplitudes in millimetres"):
# on the ICT FaceKit scanned head one unit of jawOpen opens the incisors 34.7 mm, so the open
# vowels' 0.30 is ~11 mm, the close vowels' 0.07 ~2.4 mm and the consonants' 0.03-0.10 1-3.5 mm,
# the ranges articulography reports for conversational speech. Lip aperture beyond the jaw comes
# from mouthUpperUp / mouthLowerDown (~7 mm per unit each), as real faces do.
POSES: dict[str, dict[str, float]] = {
    # --- silence: lips gently together, jaw almost shut
    "sil": {"jawOpen": 0.01, "mouthClose": 0.01},
    # --- vowels: jaw carries height; lips add aperture (upperUp/lowerDown); front vowels spread
    # (stretch + smile, with dimple and cheekSquint: zygomaticus/risorius pull the corners back
    # and lift the cheek); open front vowels draw the corners down (depressor anguli oris:
    # mouthFrown); open rounded vowels flare the lips (funnel, outrounding), close rounded
    # vowels compress and protrude them (pucker, inrounding).
    "AA": {"jawOpen": 0.32, "mouthLowerDown": 0.30, "mouthUpperUp": 0.20},
    "AE": {"jawOpen": 0.28, "mouthLowerDown": 0.33, "mouthUpperUp": 0.25, "mouthStretch": 0.15,
           "mouthSmile": 0.05, "mouthFrown": 0.08},
    "AH": {"jawOpen": 0.22, "mouthLowerDown": 0.25, "mouthUpperUp": 0.16},
    "AO": {"jawOpen": 0.24, "mouthFunnel": 0.40, "mouthPucker": 0.10, "mouthLowerDown": 0.20,
           "mouthUpperUp": 0.12},
    "AW": {"jawOpen": 0.28, "mouthFunnel": 0.30, "mouthPucker": 0.15, "mouthLowerDown": 0.22},
    "AY": {"jawOpen": 0.28, "mouthLowerDown": 0.28, "mouthUpperUp": 0.20, "mouthStretch": 0.08,
           "mouthSmile": 0.05},
    "EH": {"jawOpen": 0.21, "mouthLowerDown": 0.28, "mouthUpperUp": 0.22, "mouthStretch": 0.12,
           "mouthSmile": 0.06, "mouthFrown": 0.05},
    "ER": {"jawOpen": 0.15, "mouthFunnel": 0.30, "mouthPucker": 0.20, "mouthUpperUp": 0.15,
           "mouthLowerDown": 0.12},
    "EY": {"jawOpen": 0.17, "mouthLowerDown": 0.22, "mouthUpperUp": 0.22, "mouthStretch": 0.15,
           "mouthSmile": 0.10, "mouthDimple": 0.05},
    "IH": {"jawOpen": 0.12, "mouthLowerDown": 0.22, "mouthUpperUp": 0.20, "mouthStretch": 0.15,
           "mouthSmile": 0.08},
    "IY": {"jawOpen": 0.07, "mouthLowerDown": 0.22, "mouthUpperUp": 0.22, "mouthStretch": 0.20,
           "mouthSmile": 0.15, "mouthDimple": 0.10, "cheekSquint": 0.08},
    "OW": {"jawOpen": 0.18, "mouthFunnel": 0.45, "mouthPucker": 0.30, "mouthLowerDown": 0.12},
    "OY": {"jawOpen": 0.20, "mouthFunnel": 0.40, "mouthPucker": 0.20, "mouthLowerDown": 0.15},
    "UH": {"jawOpen": 0.12, "mouthFunnel": 0.35, "mouthPucker": 0.35, "mouthLowerDown": 0.10},
    "UW": {"jawOpen": 0.07, "mouthFunnel": 0.35, "mouthPucker": 0.70, "mouthLowerDown": 0.05},
    # --- bilabials: lips sealed (mouthClose == jawOpen) and compressed, pressed harder for the
    # plosives (intraoral pressure); the lower lip is pushed up into the upper one (mentalis:
    # mouthShrugLower), which lifts the upper lip a little (mouthShrugUpper).
    "P": {"jawOpen": 0.03, "mouthClose": 0.03, "mouthPress": 0.35, "mouthRollLower": 0.08,
          "mouthRollUpper": 0.08, "mouthShrugLower": 0.15, "mouthShrugUpper": 0.10},
    "B": {"jawOpen": 0.03, "mouthClose": 0.03, "mouthPress": 0.25, "mouthRollLower": 0.06,
          "mouthRollUpper": 0.06, "mouthShrugLower": 0.12, "mouthShrugUpper": 0.08},
    "M": {"jawOpen": 0.03, "mouthClose": 0.03, "mouthPress": 0.18, "mouthRollLower": 0.05,
          "mouthRollUpper": 0.05, "mouthShrugLower": 0.10, "mouthShrugUpper": 0.06},
    # --- labiodentals: lower lip tucked up against the upper teeth (roll + shrug), upper lip
    # lifted clear of the incisors
    "F": {"jawOpen": 0.04, "mouthRollLower": 0.50, "mouthShrugLower": 0.25,
          "mouthUpperUp": 0.12},
    "V": {"jawOpen": 0.04, "mouthRollLower": 0.45, "mouthShrugLower": 0.20,
          "mouthUpperUp": 0.10},
    # --- dentals: tongue tip between the teeth (needs a 2-3 mm incisor gap)
    "TH": {"jawOpen": 0.07, "mouthLowerDown": 0.15, "mouthUpperUp": 0.08, "tongueOut": 0.25},
    "DH": {"jawOpen": 0.07, "mouthLowerDown": 0.12, "mouthUpperUp": 0.06, "tongueOut": 0.18},
    # --- alveolars: jaw high, lips free
    "T": {"jawOpen": 0.06, "mouthLowerDown": 0.12, "mouthUpperUp": 0.10, "mouthStretch": 0.05},
    "D": {"jawOpen": 0.06, "mouthLowerDown": 0.10, "mouthUpperUp": 0.08, "mouthStretch": 0.04},
    "N": {"jawOpen": 0.06, "mouthLowerDown": 0.10, "mouthUpperUp": 0.05},
    "L": {"jawOpen": 0.10, "mouthLowerDown": 0.15, "mouthUpperUp": 0.06},
    # --- sibilants: the highest, most stable jaw of all consonants, slightly forward so the
    # lower incisors sit under the upper ones as the air jet's obstacle (jawForward); lips
    # spread a little, baring the teeth
    "S": {"jawOpen": 0.03, "jawForward": 0.12, "mouthLowerDown": 0.15, "mouthUpperUp": 0.12,
          "mouthStretch": 0.12, "mouthSmile": 0.05},
    "Z": {"jawOpen": 0.03, "jawForward": 0.10, "mouthLowerDown": 0.14, "mouthUpperUp": 0.10,
          "mouthStretch": 0.10, "mouthSmile": 0.04},
    # --- postalveolars: lips protruded and flared (funnel more than pucker), teeth close
    "SH": {"jawOpen": 0.05, "jawForward": 0.08, "mouthFunnel": 0.45, "mouthPucker": 0.12,
           "mouthUpperUp": 0.18, "mouthLowerDown": 0.18},
    "ZH": {"jawOpen": 0.05, "jawForward": 0.06, "mouthFunnel": 0.40, "mouthPucker": 0.12,
           "mouthUpperUp": 0.16, "mouthLowerDown": 0.16},
    "CH": {"jawOpen": 0.05, "jawForward": 0.08, "mouthFunnel": 0.40, "mouthPucker": 0.15,
           "mouthUpperUp": 0.16, "mouthLowerDown": 0.16},
    "JH": {"jawOpen": 0.05, "jawForward": 0.06, "mouthFunnel": 0.38, "mouthPucker": 0.15,
           "mouthUpperUp": 0.15, "mouthLowerDown": 0.15},
    # --- velars: tongue back, jaw a little lower than for coronals, lips free
    "K": {"jawOpen": 0.09, "mouthLowerDown": 0.12, "mouthUpperUp": 0.06},
    "G": {"jawOpen": 0.09, "mouthLowerDown": 0.12, "mouthUpperUp": 0.06},
    "NG": {"jawOpen": 0.08, "mouthLowerDown": 0.10, "mouthUpperUp": 0.04},
    # --- glottal: takes the shape of its neighbours (weak dominance everywhere)
    "HH": {"jawOpen": 0.15, "mouthLowerDown": 0.15},
    # --- approximants: English /r/ is rounded with compressed lips (pucker), /w/ more so
    "R": {"jawOpen": 0.07, "mouthFunnel": 0.20, "mouthPucker": 0.35, "mouthUpperUp": 0.10},
    "W": {"jawOpen": 0.05, "mouthFunnel": 0.35, "mouthPucker": 0.80},
    "Y": {"jawOpen": 0.05, "mouthUpperUp": 0.12, "mouthLowerDown": 0.10, "mouthStretch": 0.18,
          "mouthSmile": 0.12},
}


@dataclass(frozen=True)
class Dominance:
    """Cohen-Massaro dominance parameters of one articulatory class.

    D_g(t) = alpha_g * exp(-theta * |tau|^c), tau = seconds outside the phone's core, theta =
    theta_ant before the phone (anticipation) and theta_car after it (carry-over).

    Attributes:
        alpha: dominance strength per shape group (GROUP_NAMES order), 0..1.
        theta_ant: anticipatory decay rate, 1/s^c (smaller = reaches further back).
        theta_car: carry-over decay rate, 1/s^c.
        c: decay exponent (1 = exponential, 2 = Gaussian).
        round_theta_ant: anticipatory rate for the 'round' group only, when this class spreads
            lip rounding further back than its other shapes (rounded vowels, W); None = theta_ant.
            (All the round group's rates are divided by ROUND_SLOWDOWN.)
        core: fraction of the interval around its centre held at full dominance (a long M or
            a long pause keeps its shape instead of sagging to its neighbours mid-way).
    """

    alpha: tuple[float, float, float, float, float]
    theta_ant: float
    theta_car: float
    c: float = 1.0
    round_theta_ant: float | None = None
    core: float = 0.5


# Decay rates: 1.5x the first tuning (vowels 12/14 /s; the round group 1.25x, see
# ROUND_SLOWDOWN below), which blended neighbours so widely
# that phones under ~100 ms reached ~3/4 of their targets (responsiveness 0.78, docs/eval.md);
# the sharper rates need the constraint ramps smoothed with the curves (coarticulation.py) to
# stay well below the jitter ceiling.
#                       alpha:  jaw   lips  round spread tongue  theta_ant theta_car
DOMINANCE_CLASSES: dict[str, Dominance] = {
    "silence":      Dominance((0.60, 0.50, 0.80, 0.50, 0.50), 33.0, 24.0, core=0.8),
    "bilabial":     Dominance((0.80, 1.00, 0.30, 0.30, 0.50), 30.0, 33.0),
    "labiodental":  Dominance((0.80, 0.95, 0.30, 0.30, 0.50), 30.0, 33.0),
    "dental":       Dominance((0.60, 0.40, 0.10, 0.20, 0.90), 30.0, 33.0),
    "alveolar":     Dominance((0.50, 0.15, 0.04, 0.10, 0.60), 33.0, 36.0),
    "lateral":      Dominance((0.40, 0.15, 0.04, 0.10, 0.60), 33.0, 36.0),
    "sibilant":     Dominance((0.75, 0.30, 0.05, 0.20, 0.60), 30.0, 33.0),
    "postalveolar": Dominance((0.70, 0.50, 0.70, 0.50, 0.60), 27.0, 30.0),
    "velar":        Dominance((0.35, 0.10, 0.04, 0.05, 0.50), 33.0, 36.0),
    "glottal":      Dominance((0.05, 0.05, 0.03, 0.05, 0.10), 37.5, 37.5),
    "rhotic":       Dominance((0.30, 0.40, 0.70, 0.50, 0.50), 24.0, 27.0, round_theta_ant=13.5),
    "labiovelar":   Dominance((0.50, 0.60, 0.95, 0.80, 0.50), 24.0, 27.0, round_theta_ant=10.5),
    "palatal":      Dominance((0.40, 0.30, 0.30, 0.70, 0.50), 27.0, 30.0),
    "vowel":        Dominance((0.90, 0.60, 0.50, 0.70, 0.50), 18.0, 21.0),
    "rounded":      Dominance((0.90, 0.60, 1.00, 0.80, 0.50), 18.0, 21.0, round_theta_ant=7.5),
}

# Lip rounding (protrusion) is slower than the jaw and the lip closure: the 'round' group's
# rates (theta_ant, theta_car, round_theta_ant) are the table's divided by this. Sharpening
# rounding as much as the other groups let short rounded offsets (the OY of 'choir') fall
# just short of their rounding.
ROUND_SLOWDOWN = 1.2

PHONE_CLASS: dict[str, str] = {
    "sil": "silence",
    "P": "bilabial", "B": "bilabial", "M": "bilabial",
    "F": "labiodental", "V": "labiodental",
    "TH": "dental", "DH": "dental",
    "T": "alveolar", "D": "alveolar", "N": "alveolar",
    "L": "lateral",
    "S": "sibilant", "Z": "sibilant",
    "SH": "postalveolar", "ZH": "postalveolar", "CH": "postalveolar", "JH": "postalveolar",
    "K": "velar", "G": "velar", "NG": "velar",
    "HH": "glottal",
    "R": "rhotic", "W": "labiovelar", "Y": "palatal",
    "AA": "vowel", "AE": "vowel", "AH": "vowel", "AY": "vowel", "EH": "vowel", "EY": "vowel",
    "IH": "vowel", "IY": "vowel",
    "AO": "rounded", "AW": "rounded", "ER": "rounded", "OW": "rounded", "OY": "rounded",
    "UH": "rounded", "UW": "rounded",
}

# Diphthongs glide from an onset pose to an offset pose; the onset holds this share of the
# interval. The offset monophthong is a target, not a separate phone, for the constraints.
DIPHTHONG_GLIDES: dict[str, tuple[str, str, float]] = {
    "AY": ("AA", "IY", 0.6),
    "AW": ("AA", "UH", 0.6),
    "EY": ("EH", "IY", 0.6),
    "OW": ("AO", "UW", 0.55),
    "OY": ("AO", "IY", 0.6),
}

# Unstressed vowels ('AH0') are articulated less: their pose moves this fraction of the way
# from rest toward the full target. Stress 1 and 2 (and unmarked) use the full target.
UNSTRESSED_SCALE = 0.8

BILABIALS: frozenset[str] = frozenset({"P", "B", "M"})
LABIODENTALS: frozenset[str] = frozenset({"F", "V"})

_STRESS = re.compile(r"[0-2]$")


def split_stress(label: str) -> tuple[str, int | None]:
    """'AH0' -> ('AH', 0); 'T' -> ('T', None); silence labels -> ('sil', None).

    Raises ValueError for a label that is not ARPAbet (after upper-casing).
    """
    raw = label.strip()
    if raw.lower() in SILENCE_LABELS:
        return SILENCE, None
    up = raw.upper()
    stress = None
    if _STRESS.search(up):
        stress = int(up[-1])
        up = up[:-1]
    if up not in POSES or up == SILENCE:
        raise ValueError(f"unknown phone label {label!r}; expected ARPAbet (one of "
                         f"{', '.join(ARPABET_39)}) with an optional stress digit, or silence")
    return up, stress


def expand_pose(pose: dict[str, float]) -> np.ndarray:
    """A POSES entry -> float32 vector [52] in ARKIT_52 order ('mouthX' fills both sides)."""
    vec = np.zeros(len(ARKIT_52), np.float32)
    for key, value in pose.items():
        if key in ARKIT_INDEX:
            vec[ARKIT_INDEX[key]] = value
        elif key + "Left" in ARKIT_INDEX and key + "Right" in ARKIT_INDEX:
            vec[ARKIT_INDEX[key + "Left"]] = value
            vec[ARKIT_INDEX[key + "Right"]] = value
        else:
            raise KeyError(f"pose key {key!r} is not an ARKit name (or a Left/Right pair)")
    return vec


# Dense forms used by the blender, built once from the tables above.
PHONE_ORDER: tuple[str, ...] = (SILENCE,) + ARPABET_39
PHONE_ID: dict[str, int] = {p: i for i, p in enumerate(PHONE_ORDER)}
TARGETS: np.ndarray = np.stack([expand_pose(POSES[p]) for p in PHONE_ORDER])  # [40, 52]
REST_POSE: np.ndarray = TARGETS[PHONE_ID[SILENCE]]

# Column -> group index (-1 = not driven by phone poses: eyes, brows, ...), [52].
COLUMN_GROUP: np.ndarray = np.full(len(ARKIT_52), -1, np.int64)
for _g, _group in enumerate(GROUP_NAMES):
    for _name in SHAPE_GROUPS[_group]:
        COLUMN_GROUP[ARKIT_INDEX[_name]] = _g
del _g, _group, _name


def _dense_params() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-phone parameter arrays in PHONE_ORDER: alpha [40,G], theta_ant [40,G],
    theta_car [40,G], c [40], core [40]."""
    n, g = len(PHONE_ORDER), len(GROUP_NAMES)
    alpha = np.zeros((n, g))
    ant = np.zeros((n, g))
    car = np.zeros((n, g))
    c = np.zeros(n)
    core = np.zeros(n)
    round_g = GROUP_NAMES.index("round")
    for i, phone in enumerate(PHONE_ORDER):
        d = DOMINANCE_CLASSES[PHONE_CLASS[phone]]
        alpha[i] = d.alpha
        ant[i] = d.theta_ant
        car[i] = d.theta_car
        ant[i, round_g] = (d.theta_ant if d.round_theta_ant is None
                           else d.round_theta_ant) / ROUND_SLOWDOWN
        car[i, round_g] = d.theta_car / ROUND_SLOWDOWN
        c[i] = d.c
        core[i] = d.core
    return alpha, ant, car, c, core


ALPHA, THETA_ANT, THETA_CAR, EXPONENT, CORE = _dense_params()


def _check_tables() -> None:
    """Fail at import if the tables disagree (a typo here would silently zero a shape)."""
    assert set(POSES) == set(PHONE_ORDER), set(POSES) ^ set(PHONE_ORDER)
    assert set(PHONE_CLASS) == set(PHONE_ORDER), set(PHONE_CLASS) ^ set(PHONE_ORDER)
    for pose in POSES.values():
        vec = expand_pose(pose)
        assert np.all((vec >= 0) & (vec <= 1))
        assert np.all(COLUMN_GROUP[vec > 0] >= 0), "pose uses a shape outside SHAPE_GROUPS"
    for onset, offset, share in DIPHTHONG_GLIDES.values():
        assert onset in POSES and offset in POSES and 0 < share < 1
    assert np.all(ALPHA > 0), "every dominance must be positive so the blend is defined"
    # The blender evaluates one decay for the 'round' group and one shared by all others.
    others = [g for g, name in enumerate(GROUP_NAMES) if name != "round"]
    assert np.all(THETA_ANT[:, others] == THETA_ANT[:, :1])
    assert np.all(THETA_CAR[:, others] == THETA_CAR[:, :1])


_check_tables()


def pose_table_markdown() -> str:
    """The pose and dominance tables as Markdown (the body of docs/phoneme_poses.md)."""
    shown: list[str] = []
    for phone in PHONE_ORDER:
        for key in POSES[phone]:
            if key not in shown:
                shown.append(key)
    shown.sort(key=lambda k: (GROUP_NAMES.index(_group_of(k)), k))
    lines = ["| phone | class | " + " | ".join(shown) + " |",
             "|---|---|" + "---|" * len(shown)]
    for phone in PHONE_ORDER:
        pose = POSES[phone]
        cells = [f"{pose[k]:.2f}" if k in pose else "" for k in shown]
        lines.append(f"| {phone} | {PHONE_CLASS[phone]} | " + " | ".join(cells) + " |")
    lines += ["", "| class | " + " | ".join(f"alpha {g}" for g in GROUP_NAMES)
              + " | theta_ant | theta_car | round theta_ant | c | core | phones |",
              "|---|" + "---|" * (len(GROUP_NAMES) + 6)]
    for name, d in DOMINANCE_CLASSES.items():
        phones = " ".join(p for p in PHONE_ORDER if PHONE_CLASS[p] == name)
        rta = "" if d.round_theta_ant is None else f"{d.round_theta_ant:g}"
        lines.append(f"| {name} | " + " | ".join(f"{a:.2f}" for a in d.alpha)
                     + f" | {d.theta_ant:g} | {d.theta_car:g} | {rta} | {d.c:g} | {d.core:g}"
                     f" | {phones} |")
    lines += ["", (f"The 'round' group's rates (theta_ant or round theta_ant, theta_car) are "
                   f"these divided by {ROUND_SLOWDOWN:g} (ROUND_SLOWDOWN: lip rounding is "
                   f"slower)."),
              "", "| diphthong | onset | offset | onset share |", "|---|---|---|---|"]
    for phone, (onset, offset, share) in DIPHTHONG_GLIDES.items():
        lines.append(f"| {phone} | {onset} | {offset} | {share:g} |")
    return "\n".join(lines) + "\n"


def _group_of(key: str) -> str:
    name = key if key in ARKIT_INDEX else key + "Left"
    return GROUP_NAMES[int(COLUMN_GROUP[ARKIT_INDEX[name]])]
