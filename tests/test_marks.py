"""TTS timing marks (Polly speech marks, Azure viseme events, character alignments) -> phones,
and `animate AUDIO --alignment MARKS` on each format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from voxface.cli import main
from voxface.core.errors import InputError
from voxface.engine.coarticulation import is_fv_contact, is_lip_closed
from voxface.phonemes.marks import detect_format, read_alignment_file, read_marks

DATA = Path(__file__).parent / "data"
EXAMPLES = {
    "polly_marks.jsonl": "polly",
    "polly_visemes.jsonl": "polly",
    "azure_visemes.json": "azure",
    "characters_alignment.json": "characters",
}
WORDS = ["mary", "had", "a", "little", "lamb"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """1.5 s of audio to lay the marks on (espeak speaking the sentence, padded)."""
    import soundfile as sf

    from voxface.phonemes import espeak

    out = tmp_path_factory.mktemp("marks") / "lamb.wav"
    if espeak.available():
        syn = espeak.synthesize("Mary had a little lamb.", rate_wpm=175, pad_s=0.2)
        samples, rate = syn.samples, syn.sample_rate
    else:  # a voiced buzz is enough for the pipeline's loudness analysis
        rate = 16000
        t = np.arange(int(1.5 * rate)) / rate
        samples = (0.2 * np.sin(2 * np.pi * 140 * t)).astype(np.float32)
    if samples.shape[0] < 1.5 * rate:
        samples = np.concatenate([samples, np.zeros(int(1.5 * rate) - samples.shape[0],
                                                    np.float32)])
    sf.write(str(out), samples, rate)
    return out


@pytest.mark.parametrize("name,kind", sorted(EXAMPLES.items()))
def test_detects_each_format(name: str, kind: str) -> None:
    assert detect_format(DATA / name) == kind


def test_textgrid_still_detected(tmp_path: Path) -> None:
    from voxface.core.alignment import Alignment, Interval
    from voxface.phonemes.textgrid import write_textgrid

    al = Alignment(words=(Interval("ma", 0.1, 0.4),),
                   phones=(Interval("M", 0.1, 0.2), Interval("AA1", 0.2, 0.4)), duration=0.5)
    path = write_textgrid(al, tmp_path / "a.TextGrid")
    assert detect_format(path) == "textgrid"
    back = read_alignment_file(path, duration=0.5)
    assert [p.label for p in back.phones] == ["M", "AA1"]


def test_polly_word_marks_use_lexicon_and_viseme_times() -> None:
    al = read_alignment_file(DATA / "polly_marks.jsonl", duration=1.5)
    assert [w.label for w in al.words] == WORDS
    labels = [p.label.rstrip("012") for p in al.phones]
    assert labels[:4] == ["M", "EH", "R", "IY"]  # 'mary' from CMUdict
    # each phone that has a viseme mark of its class starts exactly at it
    starts = {round(p.start, 3): p.label.rstrip("012") for p in al.phones}
    assert starts[0.006] == "M" and starts[0.46] == "AE" and starts[1.082] == "M"
    # the last word ends at the silence viseme, not the audio's end
    assert al.words[-1].end == pytest.approx(1.21)
    _sorted_and_inside(al, 1.5)


def test_viseme_only_marks_give_viseme_level_phones() -> None:
    al = read_marks(DATA / "polly_visemes.jsonl", duration=1.5)
    assert al.words == ()
    assert [p.label for p in al.phones][:3] == ["P", "EH1", "R"]
    assert [round(p.start, 3) for p in al.phones][:3] == [0.006, 0.073, 0.18]
    assert al.phones[-1].end == pytest.approx(1.21)  # the 'sil' mark is a gap
    assert any("viseme marks only" in w for w in al.warnings)


def test_azure_ticks_and_word_durations() -> None:
    al = read_alignment_file(DATA / "azure_visemes.json", duration=1.5)
    assert [w.label for w in al.words] == WORDS  # punctuation boundary skipped
    assert al.words[0].start == pytest.approx(0.006)
    assert al.words[0].end == pytest.approx(0.373)   # AudioOffset + Duration
    assert al.phones[0].label == "M" and al.phones[0].start == pytest.approx(0.006)
    _sorted_and_inside(al, 1.5)


def test_azure_event_list_and_timespan_duration(tmp_path: Path) -> None:
    events = [{"AudioOffset": 500000, "Duration": "00:00:00.3000000", "Text": "mom",
               "BoundaryType": "Word"},
              {"AudioOffset": 500000, "VisemeId": 21}, {"AudioOffset": 1500000, "VisemeId": 2},
              {"AudioOffset": 2600000, "VisemeId": 21}, {"AudioOffset": 3500000, "VisemeId": 0}]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))
    al = read_alignment_file(path, duration=0.6)
    assert [w.label for w in al.words] == ["mom"]
    assert al.words[0].end == pytest.approx(0.35)
    assert [(p.label.rstrip("012"), round(p.start, 3)) for p in al.phones] == [
        ("M", 0.05), ("AA", 0.15), ("M", 0.26)]


def test_character_times_shape_phones() -> None:
    al = read_alignment_file(DATA / "characters_alignment.json", duration=1.5)
    assert [w.label for w in al.words] == WORDS
    assert al.phones[0].start == pytest.approx(0.006)
    assert al.phones[-1].end == pytest.approx(1.21)
    _sorted_and_inside(al, 1.5)


def test_character_streaming_form_and_numbers(tmp_path: Path) -> None:
    text = "I am 42"
    doc = {"chars": list(text), "charStartTimesMs": [i * 100 for i in range(len(text))],
           "charDurationsMs": [100] * len(text)}
    path = tmp_path / "chars.json"
    path.write_text(json.dumps(doc))
    al = read_alignment_file(path, duration=1.0)
    assert [w.label for w in al.words] == ["i", "am", "forty two"]
    assert al.phones[-1].end == pytest.approx(0.7)


def _sorted_and_inside(al, duration: float) -> None:
    for a, b in zip(al.phones, al.phones[1:]):
        assert a.end <= b.start + 1e-9 and a.start < a.end
    assert al.phones[0].start >= 0 and al.phones[-1].end <= duration


def _bad(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name,text,needle", [
    ("order.jsonl", '{"time":300,"type":"word","value":"a"}\n'
                    '{"time":100,"type":"word","value":"b"}\n', "out of order"),
    ("late.jsonl", '{"time":9000,"type":"viseme","value":"p"}\n', "past the audio's end"),
    ("viseme.jsonl", '{"time":10,"type":"viseme","value":"zz"}\n', "unknown Polly viseme"),
    ("notime.jsonl", '{"type":"word","value":"a"}\n', "needs 'time'"),
    ("azure.json", '[{"AudioOffset": 99000000, "VisemeId": 3}]', "past the audio's end"),
    ("azureid.json", '[{"AudioOffset": 100, "VisemeId": 40}]', "not 0..21"),
    ("azureorder.json", '{"visemes": [{"AudioOffset": 900000, "VisemeId": 3}, '
                        '{"AudioOffset": 100, "VisemeId": 2}]}', "out of order"),
    ("chars.json", '{"characters": ["a", "b"], "character_start_times_seconds": [0.1], '
                   '"character_end_times_seconds": [0.2, 0.3]}', "2 characters but 1"),
    ("charsend.json", '{"characters": ["a"], "character_start_times_seconds": [0.5], '
                      '"character_end_times_seconds": [0.2]}', "before it starts"),
    ("unknown.json", '{"foo": 1}', "not a known timing-mark format"),
    ("broken.jsonl", '{"time": 1, "type": "word", "value": "a"}\n{"time": \n', "line 2"),
])
def test_bad_marks_are_input_errors(tmp_path: Path, name: str, text: str, needle: str) -> None:
    path = _bad(tmp_path, name, text)
    with pytest.raises(InputError) as err:
        read_alignment_file(path, duration=1.0)
    message = str(err.value)
    assert needle in message and str(path) in message and "\n" not in message


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_animate_each_format(clip: Path, tmp_path: Path, name: str, capsys) -> None:
    out = tmp_path / "out"
    code = main([str(clip), "--alignment", str(DATA / name), "-o", str(out), "--format",
                 "json", "-q"])
    assert code == 0, capsys.readouterr().err
    doc = json.loads((out / "lamb.json").read_text())
    al = read_alignment_file(DATA / name, duration=doc["duration"])
    assert [p["phone"] for p in doc["phones"]] == [p.label for p in al.phones]
    values = np.asarray(doc["values"])
    names = doc["names"]
    assert values.shape[1] == 52 and "jawOpen" in names
    fps = doc["fps"]
    # lips close on every bilabial and the lower lip meets the teeth on every f/v
    for p in doc["phones"]:
        frames = slice(int(np.ceil(p["start"] * fps)), int(np.floor(p["end"] * fps)) + 1)
        if p["phone"] in ("P", "B", "M"):
            assert is_lip_closed(values[frames]).any()
        if p["phone"] in ("F", "V"):
            assert is_fv_contact(values[frames]).any()


def test_animate_bad_marks_exit_2(clip: Path, tmp_path: Path, capsys) -> None:
    path = _bad(tmp_path, "late.jsonl", '{"time":6,"type":"word","value":"a"}\n'
                                       '{"time":99000,"type":"word","value":"b"}\n')
    code = main([str(clip), "--alignment", str(path), "-o", str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "late.jsonl" in err and "past the audio's end" in err


# ---- robustness: mutated marks give a sane Alignment or one InputError, never a crash ----

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st

_JUNK = (st.none() | st.booleans() | st.integers(-10**9, 10**9)
         | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6)
         | st.lists(st.integers(0, 30), max_size=3) | st.dictionaries(st.text(max_size=4),
                                                                       st.integers(), max_size=2))


def _paths(doc, prefix=()):
    """Every (path, value) in a JSON document."""
    yield prefix, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def _replace(doc, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {k: (_replace(v, rest, value) if k == head else v) for k, v in doc.items()}
    return [(_replace(v, rest, value) if i == head else v) for i, v in enumerate(doc)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_marks_never_crash(tmp_path_factory, data) -> None:
    name = data.draw(st.sampled_from(sorted(EXAMPLES)))
    text = (DATA / name).read_text()
    if name.endswith(".jsonl"):
        doc = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        doc = json.loads(text)
    paths = [p for p, _ in _paths(doc)]
    for _ in range(data.draw(st.integers(1, 3))):
        doc = _replace(doc, data.draw(st.sampled_from(paths)), data.draw(_JUNK))
        paths = [p for p, _ in _paths(doc)]
    out = tmp_path_factory.mktemp("fuzz") / name
    if name.endswith(".jsonl") and isinstance(doc, list):
        out.write_text("\n".join(json.dumps(x) for x in doc))
    else:
        out.write_text(json.dumps(doc))
    try:
        al = read_alignment_file(out, duration=1.5)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    if al.phones:
        _sorted_and_inside(al, 1.5 + 0.05)
