"""Real-face checks (issue 17): ARKit weights in millimetres on a scanned head, and the lip
vertex error (LVE) harness.

The head is USC ICT's FaceKit "Face Model Light" (../shared/assets/models/ict_facekit, MIT):
a light-stage scanned neutral mesh with linear expression shapes named after ARKit's. Weights
[T, 52] (ARKIT_52 order) drive it linearly: vertices = neutral + weights @ deltas. The file is
read on first use, never at import.

Measures (all mm, the head's units are cm):

* `jaw`: incisor opening, upper incisor tip to lower incisor tip (vertical), relative to the
  closed neutral bite;
* `aperture`: inner lip gap on the midline (landmarks 62-66 of the 68-point set; negative
  when linear shapes press the lips through each other; per-phone samples clip it at 0);
* `width`: mouth-corner distance (landmarks 48-54) minus the neutral's (50.7 mm);
* `protrusion`: forward (z) movement of the lip midline (mean of landmarks 51 and 57).

LVE (as 3D talking-head papers report it, e.g. VOCASET / FaceFormer): per frame, the largest
distance between corresponding lip vertices of two animations on the same head; mean over
frames, mm. Lip vertices are the face vertices inside the outer lip contour (landmarks 48-59),
enlarged by 2 mm.

CLI (`python -m tools.realface ...`):

    shapes                          mm per unit weight of each mouth/jaw shape
    phones [-n N]                   per phone class, our curves on the head vs published ranges
                                    (N espeak sentences of the eval set, their exact phones)
    lve CAPTURE [OURS.json ...] [--audio WAV] [--offset S] [--capture-fps F]
                                    LVE of each curve file against a capture (Live Link CSV
                                    or our JSON), beside a still face and, with --audio, a
                                    loudness-driven jaw
    stats FILE ...                  amplitude statistics (mean / p95 / max) per mouth shape
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from voxface.core.errors import InputError
from voxface.core.names import ARKIT_52, ARKIT_INDEX, canonical_arkit

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ICT_NPZ = SHARED / "assets" / "models" / "ict_facekit" / "ict_facekit.npz"
ICT_INDICES = SHARED / "assets" / "models" / "ict_facekit" / "vertex_indices.json"

FACE_VERTICES = 9409              # face region 0..9408 (the model's documentation)
TEETH = (17039, 21451)            # teeth vertex range [start, stop)
NOISE_CM = 1e-3                   # expression deltas below 10 um are scan noise
LIP_MARGIN_CM = 0.2               # lip region: outer lip contour enlarged by 2 mm
# 68-point landmarks (dlib order) on the model's `idx_to_landmark_verts`
LM_CORNER_R, LM_CORNER_L, LM_UPPER_OUT, LM_LOWER_OUT = 48, 54, 51, 57
LM_UPPER_IN, LM_LOWER_IN = 62, 66
MEASURES = ("jaw", "aperture", "width", "protrusion")

# Natural-speech amplitude (issue 17's held-out iPhone capture): jawOpen 95th percentile.
# The loudness baseline opens the jaw by this much at the utterance's loud end; a fixed,
# published figure, not fitted to the capture being scored.
LOUDNESS_BASELINE_JAW = 0.24

# Published articulatory ranges for conversational speech, mm (see docs/phoneme_poses.md,
# "Amplitudes in millimetres", for the sources). Jaw = lower-incisor opening from the closed
# bite; aperture = inner lip gap; width/protrusion = change from rest.
REFERENCE_MM: dict[str, dict[str, tuple[float, float]]] = {
    "open vowel": {"jaw": (7.0, 15.0), "aperture": (8.0, 20.0)},
    "mid vowel": {"jaw": (4.0, 10.0), "aperture": (5.0, 15.0)},
    "close vowel": {"jaw": (1.0, 6.0), "aperture": (2.0, 10.0)},
    "rounded (UW UH OW W)": {"protrusion": (2.0, 8.0), "width": (-15.0, -3.0)},
    "spread (IY IH EY)": {"width": (0.0, 8.0)},
    "bilabial": {"jaw": (0.0, 5.0), "aperture": (0.0, 1.0)},
    "labiodental": {"jaw": (0.0, 4.0)},
    "sibilant": {"jaw": (0.0, 3.0)},
    "other consonant": {"jaw": (0.5, 7.0)},
}
_CLASS_PHONES: dict[str, frozenset[str]] = {
    "open vowel": frozenset({"AA", "AE", "AY", "AW"}),
    "mid vowel": frozenset({"EH", "AH", "AO", "OY", "EY", "OW", "ER"}),
    "close vowel": frozenset({"IY", "IH", "UW", "UH"}),
    "rounded (UW UH OW W)": frozenset({"UW", "UH", "OW", "W"}),
    "spread (IY IH EY)": frozenset({"IY", "IH", "EY"}),
    "bilabial": frozenset({"P", "B", "M"}),
    "labiodental": frozenset({"F", "V"}),
    "sibilant": frozenset({"S", "Z", "SH", "ZH", "CH", "JH"}),
    "other consonant": frozenset({"T", "D", "N", "L", "K", "G", "NG", "TH", "DH", "R", "Y",
                                  "HH"}),
}


def _ict_name(arkit: str) -> str:
    for side, suffix in (("Left", "_L"), ("Right", "_R")):
        if arkit.endswith(side):
            return arkit[: -len(side)] + suffix
    return arkit


@dataclass(frozen=True)
class Head:
    """The scanned head, reduced to the vertices the measures use.

    Attributes:
        neutral: [K, 3] cm, rest positions of the used vertices.
        deltas: [52, K, 3] cm, per ARKit shape (ARKIT_52 order; tongueOut is all zero:
            the model has none; cheekPuff and browInnerUp sum the model's two halves).
        lip: indices into K of the lip vertices (the LVE set).
        points: name -> index into K (incisor tips, landmarks).
    """

    neutral: np.ndarray
    deltas: np.ndarray
    lip: np.ndarray
    points: dict[str, int]

    def positions(self, weights: np.ndarray) -> np.ndarray:
        """weights [T, 52] (or [52]) -> vertex positions [T, K, 3] (or [K, 3]), cm."""
        w = np.asarray(weights, np.float32)
        return self.neutral + np.tensordot(w, self.deltas, axes=([-1], [0]))


@functools.lru_cache(maxsize=2)
def load_head(npz: str | Path = ICT_NPZ, indices: str | Path = ICT_INDICES) -> Head:
    """Read the ICT FaceKit archive. InputError naming the file when it is missing."""
    npz, indices = Path(npz), Path(indices)
    for p in (npz, indices):
        if not p.is_file():
            raise InputError("ICT FaceKit head not found (see ../shared/assets/models/"
                             "ict_facekit/README.md)", path=p)
    with np.load(npz) as z:
        neutral = z["neutral"].astype(np.float32)
        names = [str(s) for s in z["expression_names"]]
        all_deltas = z["expression_deltas"]
        landmarks = json.loads(indices.read_text())["idx_to_landmark_verts"]

        # Lip region: face vertices inside the ellipse spanned by the outer lip contour.
        lm = neutral[landmarks]
        lip_pts = lm[48:60]
        centre = lip_pts.mean(axis=0)
        half_w = (lip_pts[:, 0].max() - lip_pts[:, 0].min()) / 2 + LIP_MARGIN_CM
        half_h = (lip_pts[:, 1].max() - lip_pts[:, 1].min()) / 2 + LIP_MARGIN_CM
        face = neutral[:FACE_VERTICES]
        inside = (((face[:, 0] - centre[0]) / half_w) ** 2
                  + ((face[:, 1] - centre[1]) / half_h) ** 2 <= 1.0)
        inside &= face[:, 2] > lip_pts[:, 2].min() - LIP_MARGIN_CM  # the front, not the socket
        lip_idx = np.flatnonzero(inside)

        # Incisor tips: on the midline (|x| < 4 mm), the frontmost lower-teeth vertex that
        # jawOpen moves and the lowest frontmost upper-teeth vertex that it does not.
        jaw_d = all_deltas[names.index("jawOpen")]
        teeth = np.arange(*TEETH)
        mv = np.linalg.norm(jaw_d[teeth], axis=1)
        mid = np.abs(neutral[teeth, 0]) < 0.4
        front = neutral[teeth, 2] > neutral[teeth, 2].max() - 0.3
        lower = teeth[(mv > 0.5 * mv.max()) & mid]
        lower_tip = lower[np.argmax(neutral[lower, 1] + 100.0 * (neutral[lower, 2]
                                                                  > neutral[lower, 2].max() - 0.3))]
        upper = teeth[(mv < 0.05 * mv.max()) & mid & front]
        upper_tip = upper[np.argmin(neutral[upper, 1])]

        used = np.unique(np.concatenate([lip_idx, landmarks, [lower_tip, upper_tip]]))
        pos = {v: k for k, v in enumerate(used)}
        deltas = np.zeros((len(ARKIT_52), len(used), 3), np.float32)
        for i, name in enumerate(ARKIT_52):
            ict = _ict_name(name)
            parts = ([ict] if ict in names
                     else [n for n in (name + "_L", name + "_R") if n in names])
            for part in parts:
                deltas[i] += all_deltas[names.index(part)][used]
    deltas[np.abs(deltas) < NOISE_CM] = 0.0
    points = {"lower_incisor": pos[int(lower_tip)], "upper_incisor": pos[int(upper_tip)]}
    for k in (LM_CORNER_R, LM_CORNER_L, LM_UPPER_OUT, LM_LOWER_OUT, LM_UPPER_IN, LM_LOWER_IN):
        points[f"lm{k}"] = pos[int(landmarks[k])]
    return Head(neutral[used], deltas, np.array([pos[int(v)] for v in lip_idx]), points)


def measure(head: Head, weights: np.ndarray) -> dict[str, np.ndarray]:
    """weights [T, 52] -> {jaw, aperture, width, protrusion}: each [T], mm (see module doc)."""
    w = np.atleast_2d(np.asarray(weights, np.float32))
    pts = [head.points[k] for k in ("upper_incisor", "lower_incisor", f"lm{LM_UPPER_IN}",
                                    f"lm{LM_LOWER_IN}", f"lm{LM_CORNER_R}", f"lm{LM_CORNER_L}",
                                    f"lm{LM_UPPER_OUT}", f"lm{LM_LOWER_OUT}")]
    sub = Head(head.neutral[pts], head.deltas[:, pts], np.zeros(0, int), {})
    p, p0 = sub.positions(w), sub.neutral
    bite0 = p0[0, 1] - p0[1, 1]
    width0 = p0[5, 0] - p0[4, 0]
    prot0 = 0.5 * (p0[6, 2] + p0[7, 2])
    return {
        "jaw": 10.0 * (p[:, 0, 1] - p[:, 1, 1] - bite0),
        "aperture": 10.0 * (p[:, 2, 1] - p[:, 3, 1]),
        "width": 10.0 * (p[:, 5, 0] - p[:, 4, 0] - width0),
        "protrusion": 10.0 * (0.5 * (p[:, 6, 2] + p[:, 7, 2]) - prot0),
    }


def shape_table(head: Head | None = None) -> list[tuple[str, dict[str, float]]]:
    """Per unit weight of each jaw / mouth / cheek shape (both sides together): the change of
    each measure from the neutral head, mm."""
    head = head or load_head()
    rows = []
    done = set()
    for name in ARKIT_52:
        if not name.startswith(("jaw", "mouth", "cheek")) or name in done:
            continue
        w = np.zeros(len(ARKIT_52), np.float32)
        label = name
        w[ARKIT_INDEX[name]] = 1.0
        for a, b in (("Left", "Right"), ("Right", "Left")):
            if name.endswith(a) and name[: -len(a)] + b in ARKIT_INDEX:
                other = name[: -len(a)] + b
                if other.startswith(("jawLeft", "jawRight", "mouthLeft", "mouthRight")):
                    break  # sideways shapes are one-sided by nature
                w[ARKIT_INDEX[other]] = 1.0
                done.add(other)
                label = name[: -len(a)]
        m, m0 = measure(head, w), measure(head, np.zeros_like(w))
        rows.append((label, {k: float(v[0] - m0[k][0]) for k, v in m.items()}))
    return rows


# ---------------------------------------------------------------------------------------------
# Per phone class


def phone_samples(phones: Iterable, values: np.ndarray, fps: float,
                  lead_s: float | None = None, head: Head | None = None
                  ) -> list[tuple[str, dict[str, float]]]:
    """(phone, mm measures) for each non-silence phone of a clip's curves.

    Each phone is read in its interval shifted `lead_s` earlier (default: the engine's LEAD_S,
    as the eval's jaw checks do) at its most telling frame: vowels at their widest jaw,
    bilabials at their smallest lip aperture, rounded phones at their largest protrusion, other
    consonants at their smallest jaw opening."""
    from voxface.engine.poses import SILENCE, split_stress

    if lead_s is None:
        from voxface.engine import coarticulation as C

        lead_s = float(getattr(C, "LEAD_S", 0.0))
    head = head or load_head()
    m = measure(head, values)
    n = len(values)
    out = []
    for iv in phones:
        try:
            base, _ = split_stress(iv.label)
        except ValueError:
            continue
        if base == SILENCE:
            continue
        a = int(np.clip(np.floor((iv.start - lead_s) * fps), 0, n - 1))
        b = int(np.clip(np.ceil((iv.end - lead_s) * fps), a + 1, n))
        if base in _CLASS_PHONES["rounded (UW UH OW W)"]:
            k = a + int(np.argmax(m["protrusion"][a:b]))
        elif base in _CLASS_PHONES["bilabial"]:
            k = a + int(np.argmin(m["aperture"][a:b]))
        elif len(base) == 2 and base[0] in "AEIOU":
            k = a + int(np.argmax(m["jaw"][a:b]))
        else:
            k = a + int(np.argmin(m["jaw"][a:b]))
        sample = {q: round(float(m[q][k]), 3) for q in MEASURES}
        sample["aperture"] = max(sample["aperture"], 0.0)  # lips pressed together: no gap
        out.append((base, sample))
    return out


def class_table(samples: Iterable[tuple[str, dict[str, float]]]
                ) -> list[tuple[str, str, int, float, float, float, float, float, float]]:
    """Per reference class and measure: (class, measure, n, mean, p5, p95, ref lo, ref hi,
    share of phones inside the reference range)."""
    samples = list(samples)
    rows = []
    for cls, refs in REFERENCE_MM.items():
        members = _CLASS_PHONES[cls]
        for q, (lo, hi) in refs.items():
            x = np.array([s[q] for p, s in samples if p in members], np.float64)
            if x.size == 0:
                continue
            inside = float(np.mean((x >= lo) & (x <= hi)))
            rows.append((cls, q, int(x.size), float(x.mean()), float(np.percentile(x, 5)),
                         float(np.percentile(x, 95)), lo, hi, inside))
    return rows


def class_table_markdown(samples) -> str:
    """`class_table` as Markdown (the eval report's "real face" section)."""
    lines = ["| phone class | measure | phones | mean mm | p5–p95 mm | published mm | inside |",
             "|---|---|---|---|---|---|---|"]
    for cls, q, n, mean, p5, p95, lo, hi, inside in class_table(samples):
        ok = "" if lo <= mean <= hi else " **out**"
        lines.append(f"| {cls} | {q} | {n} | {mean:.1f}{ok} | {p5:.1f}–{p95:.1f} | "
                     f"{lo:g}–{hi:g} | {100 * inside:.0f} % |")
    return "\n".join(lines)


def synthetic_samples(n: int = 24, fps: float = 60.0) -> list[tuple[str, dict[str, float]]]:
    """Phone samples of our curves on `n` espeak sentences of the eval set, from their exact
    phone times (no aligner in the loop: this measures the poses, not the alignment)."""
    from voxface.core.alignment import Alignment
    from voxface.engine.coarticulation import curves_from_alignment
    from voxface.phonemes.espeak import synthesize

    from tools.evaluate import PAD_S, cases_for, report_sentences

    out = []
    for case in cases_for(report_sentences(n)):
        syn = synthesize(case.text, voice=case.voice, variant=case.variant,
                         rate_wpm=case.rate_wpm, pitch=case.pitch, pad_s=PAD_S)
        al = Alignment(words=(), phones=tuple(syn.phones), duration=syn.duration)
        curves = curves_from_alignment(al, syn.audio, fps=fps)
        out += phone_samples(al.phones, curves.values, fps)
    return out


# ---------------------------------------------------------------------------------------------
# Curve files and LVE


@dataclass(frozen=True)
class Take:
    """Curves from a file: `values` [T, 52] ARKIT_52 order, frame i at `times[i]` s."""

    path: Path
    times: np.ndarray
    values: np.ndarray

    @property
    def fps(self) -> float:
        return float(1.0 / np.median(np.diff(self.times))) if len(self.times) > 1 else 60.0


def read_take(path: str | Path, capture_fps: float = 60.0) -> Take:
    """A Live Link Face CSV (times from its timecodes at `capture_fps`, relative to the first
    row) or our JSON (`animate ... -o x.json`). InputError naming the file otherwise."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        from voxface.exporters.livelink import parse_timecode, read_livelink

        take = read_livelink(p)
        values = np.zeros((len(take.values), len(ARKIT_52)), np.float32)
        found = 0
        for j, col in enumerate(take.columns):
            name = canonical_arkit(col)
            if name is not None:
                values[:, ARKIT_INDEX[name]] = take.values[:, j]
                found += 1
        if not found:
            raise InputError("no ARKit blendshape columns in this CSV", path=p)
        t = np.array([parse_timecode(tc, capture_fps) for tc in take.timecodes])
        t = t - t[0]
        if len(t) > 1 and not np.all(np.diff(t) > 0):
            raise InputError("timecodes do not increase (is --capture-fps right?)", path=p)
        return Take(p, t, values)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        fps = float(doc["fps"])
        names = doc["names"]
        raw = np.asarray(doc["values"], np.float32).reshape(-1, len(names))
    except FileNotFoundError:
        raise InputError("no such file", path=p) from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"not a voxface curves JSON or Live Link CSV ({type(exc).__name__})",
                         path=p) from None
    values = np.zeros((len(raw), len(ARKIT_52)), np.float32)
    for j, name in enumerate(names):
        c = canonical_arkit(name)
        if c is not None:
            values[:, ARKIT_INDEX[c]] = raw[:, j]
    return Take(p, np.arange(len(raw)) / fps, values)


def resample(take: Take, times: np.ndarray, offset_s: float = 0.0) -> np.ndarray:
    """Values at `times` (+ offset_s in the take's clock), linearly interpolated; [T, 52]."""
    t = times + offset_s
    return np.stack([np.interp(t, take.times, take.values[:, j])
                     for j in range(take.values.shape[1])], axis=1).astype(np.float32)


def lve_per_frame(a: np.ndarray, b: np.ndarray, head: Head | None = None,
                  chunk: int = 2048) -> np.ndarray:
    """Max lip-vertex distance per frame between weights a and b ([T, 52] each), mm [T]."""
    head = head or load_head()
    lip = Head(head.neutral[head.lip], head.deltas[:, head.lip], np.zeros(0, int), {})
    d = np.asarray(a, np.float32) - np.asarray(b, np.float32)
    out = np.empty(len(d), np.float32)
    for s in range(0, len(d), chunk):
        # linear blendshapes: the position difference is the weight difference's deltas
        diff = np.tensordot(d[s:s + chunk], lip.deltas, axes=([-1], [0]))
        out[s:s + chunk] = 10.0 * np.linalg.norm(diff, axis=-1).max(axis=-1)
    return out


def lve(a: np.ndarray, b: np.ndarray, head: Head | None = None) -> float:
    """Lip vertex error, mm: `lve_per_frame` averaged over frames."""
    return float(lve_per_frame(a, b, head).mean())


def loudness_baseline(audio_path: str | Path, times: np.ndarray) -> np.ndarray:
    """A face that only opens its jaw with loudness: jawOpen = LOUDNESS_BASELINE_JAW x the
    normalised intensity envelope (engine/prosody.py) at `times`; [T, 52]."""
    from voxface.core.audio import load_audio
    from voxface.engine.prosody import intensity_envelope

    audio = load_audio(audio_path)
    fps = 100.0
    env = intensity_envelope(audio, fps)
    v = np.zeros((len(times), len(ARKIT_52)), np.float32)
    v[:, ARKIT_INDEX["jawOpen"]] = LOUDNESS_BASELINE_JAW * np.interp(
        times, np.arange(len(env)) / fps, env)
    return v


STAT_SHAPES = ("jawOpen", "jawForward", "mouthClose", "mouthFunnel", "mouthPucker",
               "mouthUpperUpLeft", "mouthLowerDownLeft", "mouthStretchLeft", "mouthSmileLeft",
               "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
               "mouthPressLeft", "mouthFrownLeft", "mouthDimpleLeft", "cheekSquintLeft")


def amplitude_stats(values: np.ndarray, shapes: Iterable[str] = STAT_SHAPES
                    ) -> dict[str, tuple[float, float, float]]:
    """Per shape: (mean, 95th percentile, max) over frames of values [T, 52]."""
    return {s: (float(values[:, ARKIT_INDEX[s]].mean()),
                float(np.percentile(values[:, ARKIT_INDEX[s]], 95)),
                float(values[:, ARKIT_INDEX[s]].max())) for s in shapes}


def lve_report(capture: Take, ours: list[Take], audio: str | Path | None = None,
               offset_s: float = 0.0, fps: float = 60.0) -> dict[str, Any]:
    """LVE (mm) and jawOpen r of each curve set against the capture, on the capture's span
    sampled at `fps`, with the still face and (given `audio`) the loudness baseline."""
    head = load_head()
    end = capture.times[-1]
    for o in ours:
        end = min(end, o.times[-1] - offset_s)
    times = np.arange(0.0, max(end, 0.0) + 1e-9, 1.0 / fps)
    ref = resample(capture, times)
    rows: dict[str, Any] = {}
    cand = [(o.path.name, resample(o, times, offset_s)) for o in ours]
    cand.append(("still face", np.zeros_like(ref)))
    if audio is not None:
        cand.append(("loudness jaw", loudness_baseline(audio, times + offset_s)))
    j = ARKIT_INDEX["jawOpen"]
    for name, v in cand:
        r = (float(np.corrcoef(ref[:, j], v[:, j])[0, 1])
             if v[:, j].std() > 1e-9 and ref[:, j].std() > 1e-9 else float("nan"))
        rows[name] = {"lve_mm": lve(ref, v, head), "r_jaw": r}
    return {"frames": len(times), "seconds": float(len(times) / fps), "rows": rows}


# ---------------------------------------------------------------------------------------------
# CLI


def _print_stats(named: list[tuple[str, np.ndarray]]) -> None:
    stats = [(n, amplitude_stats(v)) for n, v in named]
    print(f"{'shape':20s} " + "  ".join(f"{n[:24]:>24s}" for n, _ in stats))
    print(f"{'':20s} " + "  ".join(f"{'mean / p95 / max':>24s}" for _ in stats))
    for s in STAT_SHAPES:
        print(f"{s:20s} " + "  ".join(f"{st[s][0]:8.3f}{st[s][1]:8.3f}{st[s][2]:8.2f}"
                                      for _, st in stats))


def main(argv: list[str] | None = None) -> int:
    """python -m tools.realface {shapes,phones,lve,stats} ... (see the module docstring)."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m tools.realface",
                                description="ARKit curves in millimetres on the ICT FaceKit "
                                            "head; lip vertex error against a capture.")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("shapes", help="mm per unit weight of each mouth/jaw shape")
    ph = sub.add_parser("phones", help="per phone class, our curves vs published ranges")
    ph.add_argument("-n", type=int, default=24, help="espeak sentences (default 24)")
    lv = sub.add_parser("lve", help="lip vertex error against a capture")
    lv.add_argument("capture", help="the real capture: Live Link CSV (or our JSON)")
    lv.add_argument("ours", nargs="*", help="curve files to score (our JSON or Live Link CSV)")
    lv.add_argument("--audio", default=None, help="the capture's audio: adds a loudness baseline")
    lv.add_argument("--offset", type=float, default=0.0,
                    help="seconds: our curves' time of the capture's first frame")
    lv.add_argument("--capture-fps", type=float, default=60.0,
                    help="timecode frame rate of the CSV (Live Link Face: 60)")
    st = sub.add_parser("stats", help="amplitude statistics per mouth shape")
    st.add_argument("files", nargs="+")
    a = p.parse_args(argv)
    try:
        if a.cmd == "shapes":
            print(f"{'shape (unit weight)':22s}" + "".join(f"{m:>12s}" for m in MEASURES)
                  + "   (mm)")
            for name, m in shape_table():
                print(f"{name:22s}" + "".join(f"{m[k]:+12.1f}" for k in MEASURES))
        elif a.cmd == "phones":
            print(class_table_markdown(synthetic_samples(a.n)))
        elif a.cmd == "lve":
            cap = read_take(a.capture, a.capture_fps)
            ours = [read_take(f, a.capture_fps) for f in a.ours]
            rep = lve_report(cap, ours, a.audio, a.offset)
            print(f"LVE against {cap.path.name} ({rep['frames']} frames, "
                  f"{rep['seconds']:.1f} s): max lip-vertex distance per frame, mean, mm")
            for name, r in rep["rows"].items():
                print(f"  {name:32s} {r['lve_mm']:6.2f} mm   r(jawOpen) {r['r_jaw']:.2f}")
            _print_stats([(cap.path.name, cap.values)] + [(o.path.name, o.values) for o in ours])
        else:
            _print_stats([(Path(f).name, read_take(f).values) for f in a.files])
    except InputError as exc:
        print(f"realface: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
