"""Rhubarb Lip Sync compatible mouth cues: the nine Preston Blair / Hanna-Barbera shapes.

Tools built around Rhubarb Lip Sync (After Effects, Spine, Godot, Unity and Blender add-ons) read
its TSV and JSON files; these writers produce the same layouts from our alignment, so a 2D
character can be driven by the same timeline as the 3D head.

Shapes (Rhubarb's letters):

==  =====================================================  ============================
A   closed lips, slight pressure                           M B P
B   slightly open, clenched teeth                          most consonants; IY IH
C   open                                                   EH AE AH EY
D   wide open                                              AA AY AW
E   slightly rounded                                       AO ER OY UH R
F   puckered                                               UW OW W
G   upper teeth on lower lip                               F V
H   tongue raised behind upper teeth, open about like C    L
X   rest (closed, relaxed)                                 silence
==  =====================================================  ============================

Timing is computed in integer centiseconds, Rhubarb's own unit (its files hold times with two
decimals), so cue boundaries never drift from rounding. The passes, in order:

1. phones -> shapes, one cue per phone; diphthongs long enough get their second shape
   (AY: D then B; AW: D then F; OY: E then B; EY: C then B); HH takes the shape of the vowel
   it runs into (the mouth is already set for it).
2. silence: gaps shorter than `SHORT_PAUSE_CS` inside speech keep the previous shape
   (the mouth does not snap shut between words); longer gaps and the edges are X.
3. closures: an A cue lasts at least `MIN_CLOSURE_CS`, taken from the cue before it, because
   lips close 40-120 ms before a P/B/M release and a one-frame closure reads as a flicker.
4. tweens: C between A/B and D, E between C/D and F (`TWEEN_CS` long), taken from the more
   open cue where it keeps enough time; Rhubarb's docs ask artists to make exactly these
   sequences smooth.
5. no cue shorter than `MIN_CUE_CS` (one frame at 60 fps rounds up to 2 cs): short cues are
   absorbed by the previous cue; then equal neighbours are merged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from voxface.core.alignment import Alignment
from voxface.core.animation import Animation
from voxface.phonemes.arpabet import strip_stress

SHAPES = "ABCDEFGHX"
EXTENDED_SHAPES = "GHX"  # Rhubarb's optional shapes; without them G->B, H->C, X->A

MIN_CUE_CS = 2        # one frame at 60 fps is 1.67 cs: no cue may be shorter
MIN_CLOSURE_CS = 5    # lips stay closed at least 50 ms for M/B/P
SHORT_PAUSE_CS = 12   # gaps up to 120 ms inside speech keep the mouth where it is
TWEEN_CS = 4          # Rhubarb's own tweens are about 40 ms (its docs' "Hi" example)
_DIPHTHONG_SPLIT = 0.6  # the first target of a diphthong holds 60 % of the phone

_PHONE_SHAPES: dict[str, str] = {
    "M": "A", "B": "A", "P": "A",
    "F": "G", "V": "G",
    "L": "H",
    "W": "F", "UW": "F", "OW": "F",
    "AO": "E", "ER": "E", "UH": "E", "R": "E", "OY": "EB",
    "AA": "D", "AY": "DB", "AW": "DF",
    "EH": "C", "AE": "C", "AH": "C", "EY": "CB",
    "IY": "B", "IH": "B",
}  # everything else (T D K G N NG S Z SH ZH CH JH TH DH Y HH): B
_SILENCE = frozenset({"", "SIL", "SP", "SPN", "PAU"})
_TWEENS = {frozenset("AD"): "C", frozenset("BD"): "C",
           frozenset("CF"): "E", frozenset("DF"): "E"}
_FALLBACK = {"G": "B", "H": "C", "X": "A"}


@dataclass(frozen=True)
class MouthCue:
    """One mouth shape held from `start_cs` to `end_cs` (centiseconds from the audio start)."""

    start_cs: int
    end_cs: int
    value: str

    @property
    def start(self) -> float:
        """Start in seconds (a multiple of 0.01)."""
        return self.start_cs / 100.0

    @property
    def end(self) -> float:
        """End in seconds (a multiple of 0.01)."""
        return self.end_cs / 100.0


def duration_cs(duration: float) -> int:
    """Audio length in centiseconds, truncated as Rhubarb truncates it."""
    return max(0, int(duration * 100.0 + 1e-6))


def _phone_shapes(base: str) -> str:
    return _PHONE_SHAPES.get(base, "B")


def _raw_cues(alignment: Alignment, end: int) -> list[list]:
    """Pass 1: one [start, end, shape] per phone (two for a long diphthong), in cs."""
    phones = [(strip_stress(p.label).upper(), int(round(p.start * 100)), int(round(p.end * 100)))
              for p in alignment.phones]
    phones = [(b, max(0, s), min(e, end)) for b, s, e in phones if b not in _SILENCE]
    cues: list[list] = []
    for i, (base, s, e) in enumerate(phones):
        if e <= s:
            continue
        shapes = _phone_shapes(base)
        if base == "HH" and i + 1 < len(phones) and phones[i + 1][1] - e <= 1:
            shapes = _phone_shapes(phones[i + 1][0])[0]
        if len(shapes) == 2 and e - s >= 2 * MIN_CUE_CS:
            mid = s + max(MIN_CUE_CS, min(e - s - MIN_CUE_CS,
                                          int(round((e - s) * _DIPHTHONG_SPLIT))))
            cues += [[s, mid, shapes[0]], [mid, e, shapes[1]]]
        else:
            cues.append([s, e, shapes[0]])
    return cues


def _fill_silence(cues: list[list], end: int) -> list[list]:
    """Pass 2: cover [0, end] without gaps; short inner pauses keep the previous shape."""
    out: list[list] = []
    t = 0
    for s, e, shape in cues:
        s = max(s, t)  # overlapping phones: the earlier one wins
        if e <= s:
            continue
        if s > t:
            if out and s - t <= SHORT_PAUSE_CS:
                out[-1][1] = s
            else:
                out.append([t, s, "X"])
        out.append([s, e, shape])
        t = e
    if t < end or not out:
        out.append([t, end, "X"])
    return _merge_equal(out)


def _merge_equal(cues: list[list]) -> list[list]:
    out: list[list] = []
    for c in cues:
        if out and out[-1][2] == c[2]:
            out[-1][1] = c[1]
        else:
            out.append(list(c))
    return out


def _lengthen_closures(cues: list[list]) -> None:
    """Pass 3: every A after an open shape lasts MIN_CLOSURE_CS, borrowed from that shape."""
    for i in range(1, len(cues)):
        s, e, shape = cues[i]
        prev = cues[i - 1]
        if shape != "A" or prev[2] in "AX" or e - s >= MIN_CLOSURE_CS:
            continue
        take = min(MIN_CLOSURE_CS - (e - s), prev[1] - prev[0] - MIN_CUE_CS)
        if take > 0:
            prev[1] -= take
            cues[i][0] -= take


def _insert_tweens(cues: list[list]) -> list[list]:
    """Pass 4: the in-between shape at a closed<->wide or open<->puckered boundary. Its time is
    taken from the more open cue (the C/D side), so closures and puckers keep their length."""
    out: list[list] = [list(cues[0])] if cues else []
    room = TWEEN_CS + 2 * MIN_CUE_CS
    for c in cues[1:]:
        prev, c = out[-1], list(c)
        tween = _TWEENS.get(frozenset((prev[2], c[2])))
        if tween is not None and prev[2] in "CD" and prev[1] - prev[0] >= room:
            prev[1] -= TWEEN_CS
            out.append([prev[1], c[0], tween])
        elif tween is not None and c[2] in "CD" and c[1] - c[0] >= room:
            out.append([c[0], c[0] + TWEEN_CS, tween])
            c[0] += TWEEN_CS
        out.append(c)
    return out


def _enforce_min_duration(cues: list[list]) -> list[list]:
    """Pass 5: absorb cues shorter than MIN_CUE_CS into the previous cue (the next for the
    first), so that onsets of the following shapes keep their timing."""
    cues = [list(c) for c in cues]
    while len(cues) > 1:
        short = [i for i, c in enumerate(cues) if c[1] - c[0] < MIN_CUE_CS]
        if not short:
            break
        i = short[0]
        if i == 0:
            cues[1][0] = cues[0][0]
        else:
            cues[i - 1][1] = cues[i][1]
        del cues[i]
        cues = _merge_equal(cues)
    return cues


def mouth_cues(alignment: Alignment, *, extended_shapes: str = EXTENDED_SHAPES
               ) -> list[MouthCue]:
    """The Rhubarb mouth-cue timeline of an alignment.

    Args:
        alignment: phones (ARPAbet) with times in seconds; gaps are silence.
        extended_shapes: which of Rhubarb's optional shapes G, H, X to use (Rhubarb's
            `--extendedShapes`); a left-out shape is replaced as Rhubarb does (G->B, H->C, X->A).

    Returns:
        Contiguous cues covering 0 .. the duration truncated to 0.01 s, no cue shorter than
        `MIN_CUE_CS` (unless the audio itself is shorter), no two equal neighbours.
    """
    bad = set(extended_shapes.upper()) - set(EXTENDED_SHAPES)
    if bad:
        raise ValueError(f"extended_shapes: {''.join(sorted(bad))} not among {EXTENDED_SHAPES}")
    end = duration_cs(alignment.duration)
    cues = _fill_silence(_raw_cues(alignment, end), end)
    _lengthen_closures(cues)
    cues = _enforce_min_duration(_insert_tweens(cues))
    keep = set(extended_shapes.upper())
    cues = [[s, e, _FALLBACK[v] if v in _FALLBACK and v not in keep else v]
            for s, e, v in cues]
    return [MouthCue(s, e, v) for s, e, v in _merge_equal(cues)]


def _sound_file(anim: Animation) -> str:
    # Rhubarb writes the recording's full path; do the same so its importers find the audio.
    return str(anim.audio.path.resolve()) if anim.audio.path is not None else ""


def rhubarb_json(anim: Animation) -> str:
    """The cues as Rhubarb's JSON document, in its own layout (two-decimal times)."""
    cues = mouth_cues(anim.alignment)
    end = duration_cs(anim.alignment.duration)
    lines = ["{", '  "metadata": {',
             f'    "soundFile": {json.dumps(_sound_file(anim), ensure_ascii=False)},',
             f'    "duration": {end / 100:.2f}', "  },", '  "mouthCues": [']
    lines += [f'    {{ "start": {c.start:.2f}, "end": {c.end:.2f}, "value": "{c.value}" }}'
              + ("," if i + 1 < len(cues) else "") for i, c in enumerate(cues)]
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def rhubarb_tsv(anim: Animation) -> str:
    """The cues as Rhubarb's TSV: `start<TAB>shape` per cue, then the end time with X."""
    cues = mouth_cues(anim.alignment)
    end = duration_cs(anim.alignment.duration)
    lines = [f"{c.start:.2f}\t{c.value}" for c in cues]
    lines.append(f"{end / 100:.2f}\tX")
    return "\n".join(lines) + "\n"


def write_rhubarb_json(anim: Animation, path: Path) -> None:
    """Write the Rhubarb JSON mouth cues to `path` (UTF-8)."""
    Path(path).write_text(rhubarb_json(anim), encoding="utf-8")


def write_rhubarb_tsv(anim: Animation, path: Path) -> None:
    """Write the Rhubarb TSV mouth cues to `path` (UTF-8)."""
    Path(path).write_text(rhubarb_tsv(anim), encoding="utf-8")


def read_rhubarb_tsv(text: str) -> list[MouthCue]:
    """Parse Rhubarb TSV (ours or Rhubarb's) back into cues; the last line closes the last cue.

    Raises ValueError naming the line when a line is not `seconds<TAB>shape`.
    """
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or parts[1].strip() not in SHAPES:
            raise ValueError(f"line {n}: expected 'seconds<TAB>shape', got {line!r}")
        rows.append((int(round(float(parts[0]) * 100)), parts[1].strip()))
    return [MouthCue(a[0], b[0], a[1]) for a, b in zip(rows, rows[1:])]
