"""Fuzzing the readers of untrusted files: audio, glTF rigs, TextGrids, Live Link CSVs.

Each reader, given any bytes, must either return a value that satisfies its documented
invariants or raise InputError (one line naming the file). Any other exception is a bug in the
reader's edge validation. Inputs are valid files mutated at the byte level (flips, splices,
truncations) and, for the JSON/text formats, at the structure level (a field replaced by a
value of another type or range), plus raw random bytes. The budget is small so the module runs
in well under a minute; set VOXFACE_FUZZ_EXAMPLES for a longer hunt.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bad_inputs import glb_bytes, triangle_doc  # the catalogue's tiny rig builder

from voxface.core.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
N = int(os.environ.get("VOXFACE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=N, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _scratch(data: bytes, suffix: str) -> Path:
    """A fresh file holding `data` (hypothesis re-runs the body, so no pytest tmp_path)."""
    fd, name = tempfile.mkstemp(suffix=suffix, prefix="voxface-fuzz-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(name)


@st.composite
def mutated(draw, seed: bytes, hot: int | None = None):
    """`seed` with a few byte flips (biased to the first `hot` bytes: the header), an optional
    splice of random bytes, and an optional truncation."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 8))):
        if not data:
            break
        limit = len(data) if hot is None or draw(st.booleans()) else min(hot, len(data))
        data[draw(st.integers(0, limit - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(max_size=64))
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return bytes(data)


# ---------------------------------------------------------------------------------------------
# Audio


def _seed_audio(fmt: str, subtype: str) -> bytes:
    t = np.arange(800) / 16_000
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, np.stack([x, -x], 1), 16_000, format=fmt, subtype=subtype)
    return buf.getvalue()


AUDIO_SEEDS = {"wav16": (_seed_audio("WAV", "PCM_16"), ".wav"),
               "wavfloat": (_seed_audio("WAV", "FLOAT"), ".wav"),
               "flac": (_seed_audio("FLAC", "PCM_16"), ".flac")}


def _check_audio(data: bytes, suffix: str) -> None:
    from voxface.core.audio import ANALYSIS_RATE, load_audio

    path = _scratch(data, suffix)
    try:
        audio = load_audio(path)
    except InputError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    finally:
        path.unlink()
    assert audio.sample_rate == ANALYSIS_RATE
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert np.isfinite(audio.samples).all()
    assert math.isfinite(audio.duration) and audio.duration > 0
    assert audio.original_rate > 0 and audio.original_channels >= 1


@pytest.mark.parametrize("seed", sorted(AUDIO_SEEDS))
@FUZZ
@given(data=st.data())
def test_load_audio_mutated(seed: str, data) -> None:
    raw, suffix = AUDIO_SEEDS[seed]
    _check_audio(data.draw(mutated(raw, hot=64)), suffix)


@FUZZ
@given(raw=st.binary(max_size=512), suffix=st.sampled_from([".wav", ".flac", ".mp3", ".ogg"]))
def test_load_audio_random_bytes(raw: bytes, suffix: str) -> None:
    _check_audio(raw, suffix)


@FUZZ
@given(rate=st.integers(0, 2**32 - 1), channels=st.integers(0, 2**16 - 1),
       bits=st.sampled_from([0, 1, 8, 16, 24, 32, 64, 65535]),
       fmt_tag=st.sampled_from([1, 3, 0, 0xFFFE, 2]))
def test_load_audio_wav_header_fields(rate: int, channels: int, bits: int, fmt_tag: int) -> None:
    """A WAV header with every fmt field chosen freely (rate 0, 4 GHz, 65535 channels...)."""
    payload = (np.arange(400, dtype="<i2") * 37).tobytes()
    block = max(1, channels * max(bits, 8) // 8) & 0xFFFF
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, (rate * block) & 0xFFFFFFFF, block,
                      bits)
    wav = (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(payload)) + b"WAVE"
           + b"fmt " + struct.pack("<I", len(fmt)) + fmt
           + b"data" + struct.pack("<I", len(payload)) + payload)
    _check_audio(wav, ".wav")


# ---------------------------------------------------------------------------------------------
# glTF rigs


def _triangle(target_names=("jawOpen", "mouthClose")) -> tuple[dict, bytes]:
    doc, binary = triangle_doc(tuple(target_names))
    doc["nodes"][0]["weights"] = [0.0] * len(target_names)  # one more field to mutate
    return doc, binary


def _glb(doc: dict, binary: bytes) -> bytes:
    return glb_bytes(doc, binary)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.sampled_from([-1, 0, 1, 2, 3])
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6)


def _paths(node, prefix=()):
    """Every (path) to a value inside a JSON document."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated_doc(draw, doc: dict):
    """`doc` with 1-3 values (anywhere) replaced by arbitrary JSON, or deleted."""
    import copy

    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.integers(0, 4)) == 0:
            parent.pop(path[-1])  # works for a dict key and a list index alike
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return doc


_CURVES = None


def _curves():
    global _CURVES
    if _CURVES is None:
        from voxface.core.curves import Curves
        from voxface.core.names import ARKIT_52

        t = np.linspace(0, 1, 7, dtype=np.float32)[:, None]
        _CURVES = Curves(fps=30.0, names=ARKIT_52, values=np.repeat(t, 52, axis=1) * 0.9,
                         duration=0.2)
    return _CURVES


def _check_rig(data: bytes, suffix: str = ".glb") -> None:
    """The whole rig path of `animate --rig`: load, plan (name matching, visemes, VRM), and
    write the animated GLB, which must be a GLB again."""
    from voxface.core.names import ARKIT_52
    from voxface.rigs.gltf_rig import animate_rig, load_rig, match_targets
    from voxface.rigs.retarget import plan_rig

    path = _scratch(data, suffix)
    try:
        rig = load_rig(path)
        plan = plan_rig(rig, ARKIT_52)
        glb = animate_rig(rig, _curves(), plan=plan)
        with contextlib.suppress(InputError):  # plain matching may find nothing: fine
            match = match_targets(rig, ARKIT_52)
            assert match.driven
    except InputError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    finally:
        path.unlink()
    assert rig.meshes and all(m.n_targets == len(m.default_weights) for m in rig.meshes)
    assert plan.drives and glb[:4] == b"glTF"


@FUZZ
@given(data=st.data())
def test_load_rig_mutated_bytes(data) -> None:
    doc, binary = _triangle()
    _check_rig(data.draw(mutated(_glb(doc, binary), hot=40)))


# load_rig validates the types of the document fields it and the writer rely on
# (rigs/gltf_rig.py validate_document); these used to escape as AttributeError / TypeError /
# ValueError (CLI exit 1, "internal error").
WRONG_TYPES = {
    "nodes": ("nodes", [5]),
    "meshes": ("meshes", [5]),
    "buffers-null": ("buffers", [None]),
    "primitives": ("meshes.0.primitives", [[]]),
    "bufferview-list": ("bufferViews.0", []),
    "byteoffset-object": ("bufferViews.0.byteOffset", {}),
    "byteoffset-text": ("bufferViews.0.byteOffset", "x"),
    "targets-true": ("meshes.0.primitives.0.targets", True),
    "mesh-weights-text": ("meshes.0.weights", ["a", "b"]),
    "node-weights-object": ("nodes.0.weights", [{}, 0]),
    "buffer-uri-number": ("buffers.0.uri", 7),
    "view-extensions-list": ("bufferViews.0.extensions", [1]),
    "mesh-name-number": ("meshes.0.name", 3),
    "extensions-required-number": ("extensionsRequired", 1),
}


@pytest.mark.parametrize("case", sorted(WRONG_TYPES))
def test_load_rig_wrong_types_are_input_errors(case: str) -> None:
    from voxface.rigs.gltf_rig import load_rig

    where, value = WRONG_TYPES[case]
    doc, binary = _triangle()
    parent, keys = doc, where.split(".")
    for key in keys[:-1]:
        parent = parent[int(key) if key.isdigit() else key]
    last = keys[-1]
    parent[int(last) if last.isdigit() else last] = value
    path = _scratch(_glb(doc, binary), ".glb")
    try:
        with pytest.raises(InputError) as info:
            load_rig(path)
    finally:
        path.unlink()
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    # The JSON path of the bad field, as written in the document (arrays indexed).
    json_path = "".join(f"[{k}]" if k.isdigit() else f".{k}" for k in keys).lstrip(".")
    assert json_path in message, message


@FUZZ
@given(data=st.data())
def test_load_rig_mutated_json(data) -> None:
    doc, binary = _triangle()
    _check_rig(_glb(data.draw(mutated_doc(doc)), binary))


@FUZZ
@given(raw=st.binary(max_size=256))
def test_load_rig_random_bytes(raw: bytes) -> None:
    _check_rig(raw)
    _check_rig(b"glTF" + raw)


# ---------------------------------------------------------------------------------------------
# TextGrid


TEXTGRID = (SHARED / "assets/speech/mfa/textgrid/acoustic_corpus.TextGrid").read_bytes()


def _check_textgrid(data: bytes) -> None:
    from voxface.phonemes.textgrid import read_textgrid

    path = _scratch(data, ".TextGrid")
    try:
        al = read_textgrid(path)
    except InputError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    finally:
        path.unlink()
    for tier in (al.words, al.phones):
        for a in tier:
            assert math.isfinite(a.start) and math.isfinite(a.end) and a.start <= a.end
        starts = [a.start for a in tier]
        assert starts == sorted(starts)
    assert math.isfinite(al.duration)


@st.composite
def mutated_lines(draw, text: str):
    """Line-level edits of a text file: delete, duplicate, or rewrite a number or a label."""
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.integers(0, 3))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[i])
        else:
            new = draw(st.sampled_from(["0", "-1", "1e309", "nan", "inf", "-inf", "3.5", '""',
                                        '"x"', '"AH0"', '"\u05e9"', "size = 999999", "1e-320",
                                        "<exists>", "!", '"""'])
                       | st.text(max_size=10))
            left, sep, _ = lines[i].partition("=")
            lines[i] = (left + sep + " " + new + "\n") if sep else new + "\n"
    return "".join(lines)


@FUZZ
@given(data=st.data())
def test_read_textgrid_mutated_lines(data) -> None:
    text = TEXTGRID.decode("utf-8")
    _check_textgrid(data.draw(mutated_lines(text)).encode("utf-8"))


@FUZZ
@given(data=st.data())
def test_read_textgrid_mutated_bytes(data) -> None:
    _check_textgrid(data.draw(mutated(TEXTGRID[:1500])))


@FUZZ
@given(text=st.text(max_size=300))
def test_read_textgrid_random_text(text: str) -> None:
    _check_textgrid(('File type = "ooTextFile"\nObject class = "TextGrid"\n' + text).encode())


# ---------------------------------------------------------------------------------------------
# Live Link CSV


CSV_HEAD = "\n".join((SHARED / "assets/curves/livelink/alex_rom_3.csv").read_text(
    encoding="utf-8-sig").splitlines()[:4]) + "\n"


def _check_csv(data: bytes) -> None:
    from voxface.exporters.livelink import read_livelink

    path = _scratch(data, ".csv")
    try:
        take = read_livelink(path)
    except InputError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    finally:
        path.unlink()
    assert take.values.shape == (len(take.timecodes), len(take.columns))
    assert np.isfinite(take.values).all()


@FUZZ
@given(data=st.data())
def test_read_livelink_mutated_lines(data) -> None:
    _check_csv(data.draw(mutated_lines(CSV_HEAD)).encode("utf-8"))


@FUZZ
@given(data=st.data())
def test_read_livelink_mutated_bytes(data) -> None:
    _check_csv(data.draw(mutated(CSV_HEAD.encode("utf-8"))))


@FUZZ
@given(cells=st.lists(st.text(alphabet="0123456789.:-eE,nainf \t;", max_size=12), max_size=8))
def test_read_livelink_random_rows(cells: list[str]) -> None:
    _check_csv(("Timecode,BlendShapeCount,JawOpen\n" + "\n".join(cells)).encode())
