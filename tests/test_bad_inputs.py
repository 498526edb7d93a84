"""The bad- and odd-input catalogue: every case through `animate` (in process), with what must
happen. docs/robustness.md lists the same cases; `test_doc_lists_every_case` keeps the two in
step. Regenerate the doc's table (with the messages the code prints today) with

    python tests/test_bad_inputs.py > /tmp/table.md

For every case: no traceback; exit 2 with exactly one stderr line naming the file, or exit 0
with the outputs (and a warning where the case says so); nothing half-written in OUTDIR (no
files at all on failure, never a *.part/*.tmp); every input byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from voxface.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MFA = SHARED / "assets/speech/mfa"
SPEECH, SPEECH_LAB = MFA / "wav/61-70968-0000.flac", MFA / "lab/61-70968-0000.lab"
EXAMPLE = REPO / "assets/example.wav"
KHRONOS_CUBE = SHARED / "assets/rigs/khronos/AnimatedMorphCube/glTF/AnimatedMorphCube.gltf"
NO_GLB = ["--format", "json,csv,textgrid"]  # audio/text cases: no rig needed


# ---------------------------------------------------------------------------------------------
# Building the odd inputs


@lru_cache(maxsize=1)
def speech() -> tuple[np.ndarray, int]:
    """The real clip (float32 mono, its rate) the audio variants are made from."""
    x, sr = sf.read(SPEECH, dtype="float32")
    return x, sr


def transcript() -> str:
    return SPEECH_LAB.read_text(encoding="utf-8").strip()


def write_audio(path: Path, data: np.ndarray, rate: int, subtype: str,
                fmt: str = "WAV") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, rate, subtype=subtype, format=fmt)
    return path


def speech_wav(d: Path, name: str = "speech.wav", subtype: str = "PCM_16") -> Path:
    x, sr = speech()
    return write_audio(d / name, x, sr, subtype)


def with_sidecar(audio: Path, text: str | None = None) -> Path:
    audio.with_suffix(".txt").write_text(text if text is not None else transcript(),
                                         encoding="utf-8")
    return audio


def glb_bytes(doc: dict, binary: bytes) -> bytes:
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<II", len(js), 0x4E4F534A)
            + js + struct.pack("<II", len(binary), 0x004E4942) + binary)


def triangle_doc(target_names: tuple[str, ...] = ()) -> tuple[dict, bytes]:
    """A one-triangle glTF document and its binary; one morph target per name."""
    pos = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], "<f4")
    parts = [pos.tobytes()] + [(pos * 0.1 * (k + 1)).tobytes() for k in range(len(target_names))]
    views = [{"buffer": 0, "byteOffset": 36 * i, "byteLength": 36} for i in range(len(parts))]
    accessors = [{"bufferView": i, "componentType": 5126, "count": 3, "type": "VEC3",
                  "min": np.asarray(np.frombuffer(p, "<f4").reshape(3, 3).min(0)).tolist(),
                  "max": np.asarray(np.frombuffer(p, "<f4").reshape(3, 3).max(0)).tolist()}
                 for i, p in enumerate(parts)]
    prim: dict = {"attributes": {"POSITION": 0}}
    mesh: dict = {"name": "face", "primitives": [prim]}
    if target_names:
        prim["targets"] = [{"POSITION": k + 1} for k in range(len(target_names))]
        mesh["extras"] = {"targetNames": list(target_names)}
        mesh["weights"] = [0.0] * len(target_names)
    doc = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
           "nodes": [{"mesh": 0}], "meshes": [mesh], "accessors": accessors,
           "bufferViews": views, "buffers": [{"byteLength": 36 * len(parts)}]}
    return doc, b"".join(parts)


def tiny_rig(d: Path, name: str = "tiny.glb") -> Path:
    doc, binary = triangle_doc(("jawOpen", "mouthClose", "mouthFunnel"))
    (d / name).write_bytes(glb_bytes(doc, binary))
    return d / name


# Each maker takes the input folder and returns the argv (without -o) or, for library-level
# readers, a zero-argument callable that must raise InputError.
Maker = Callable[[Path], "list[str] | Callable[[], object]"]


@dataclass(frozen=True)
class Case:
    """One catalogue row.

    id: short name (also in docs/robustness.md). what: the input, in words.
    code: expected exit code (2: bad input; 0: handled). needle: text the one stderr error line
    (code 2) or a warning line (code 0 with warn) must contain — for code 2, the file name.
    warn: exit 0 must come with an `animate: warning:` line. outputs: suffixes expected in
    OUTDIR on success. root_ok: False when running as root defeats the case (permissions).
    """

    id: str
    what: str
    make: Maker
    code: int
    needle: str = ""
    warn: bool = False
    outputs: tuple[str, ...] = (".json", ".csv", ".TextGrid")
    root_ok: bool = True


def _audio_case(name: str, build: Callable[[Path], Path], *, text: str | None = None,
                extra: tuple[str, ...] = ()) -> Maker:
    def make(d: Path) -> list[str]:
        audio = build(d)
        args = [str(audio), *NO_GLB, *extra]
        if text is not None:
            args += ["--text", text]
        return args
    make.__name__ = name
    return make


def _speech_variant(name: str, *, rate: int | None = None, channels: int = 1,
                    subtype: str = "PCM_16", fmt: str = "WAV") -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        x, sr = speech()
        if rate is not None and rate != sr:
            import soxr

            x, sr = soxr.resample(x, sr, rate).astype(np.float32), rate
        if channels > 1:
            # Speech on the front pair, quieter copies elsewhere: a real 5.1 mix-down.
            gains = np.array([1.0, 1.0, 0.7, 0.1, 0.3, 0.3][:channels], np.float32)
            x = x[:, None] * gains[None, :]
        if subtype == "PCM_U8":
            x = np.clip(x, -1, 1)
        return with_sidecar(write_audio(d / name, x, sr, subtype, fmt))
    return build


def _synthetic(name: str, fn: Callable[[np.random.Generator, np.ndarray], np.ndarray],
               seconds: float = 3.0, rate: int = 16_000,
               subtype: str = "PCM_16") -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        t = np.arange(int(seconds * rate)) / rate
        x = fn(np.random.default_rng(0), t).astype(np.float32)
        return write_audio(d / name, x, rate, subtype)
    return build


def _nonfinite(value: float) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        x, sr = speech()
        x = x.copy()
        x[len(x) // 2] = value
        return write_audio(d / "nonfinite.wav", x, sr, "FLOAT")
    return build


def _truncated_header(d: Path) -> Path:
    full = speech_wav(d / "full")
    p = d / "truncated.wav"
    p.write_bytes(full.read_bytes()[:30])  # RIFF + part of the fmt chunk
    shutil.rmtree(d / "full")
    return p


def _truncated_data(d: Path) -> Path:
    """A WAV whose header promises more samples than the file holds (a cut download)."""
    full = speech_wav(d / "full")
    p = d / "cut.wav"
    data = full.read_bytes()
    p.write_bytes(data[:len(data) // 2])
    shutil.rmtree(d / "full")
    return with_sidecar(p)


def _text_as_wav(d: Path) -> Path:
    p = d / "notes.wav"
    p.write_text("Meeting notes: this file is text, not audio.\n", encoding="utf-8")
    return p


def _flac_named_wav(d: Path) -> Path:
    x, sr = speech()
    return with_sidecar(write_audio(d / "really_flac.wav", x, sr, "PCM_16", "FLAC"))


def _unicode_name(d: Path) -> Path:
    x, sr = speech()
    return with_sidecar(write_audio(d / "ré cording 日本.wav", x, sr, "PCM_16"))


def _clipped(d: Path) -> Path:
    x, sr = speech()
    return with_sidecar(write_audio(d / "clipped.wav", np.clip(x * 30, -1, 1), sr, "PCM_16"))


def _quiet(d: Path) -> Path:
    x, sr = speech()
    return with_sidecar(write_audio(d / "quiet.wav", x * 10 ** (-50 / 20), sr, "PCM_16"))


def _one_sample(d: Path) -> Path:
    return write_audio(d / "one.wav", np.array([0.1], np.float32), 16_000, "PCM_16")


def _latin1_transcript(d: Path) -> list[str]:
    audio = speech_wav(d)
    t = d / "latin1.txt"
    t.write_bytes("caf\xe9 na\xefve r\xe9sum\xe9".encode("latin-1"))
    return [str(audio), *NO_GLB, "--transcript", str(t)]


def _missing(d: Path) -> list[str]:
    return [str(d / "missing.wav"), *NO_GLB]


def _directory(d: Path) -> list[str]:
    (d / "folder.wav").mkdir()
    return [str(d / "folder.wav"), *NO_GLB]


def _zero(d: Path) -> list[str]:
    (d / "empty.wav").write_bytes(b"")
    return [str(d / "empty.wav"), *NO_GLB]


def _rig_case(build: Callable[[Path], Path]) -> Maker:
    def make(d: Path) -> list[str]:
        return [str(EXAMPLE), "--rig", str(build(d))]
    make.__name__ = build.__name__
    return make


def _rig_text(d: Path) -> Path:
    p = d / "head.glb"
    p.write_text("this is not a glTF file\n")
    return p


def _rig_no_morphs(d: Path) -> Path:
    doc, binary = triangle_doc(())
    (d / "static.glb").write_bytes(glb_bytes(doc, binary))
    return d / "static.glb"


def _rig_truncated_file(d: Path) -> Path:
    doc, binary = triangle_doc(("jawOpen", "mouthClose"))
    full = glb_bytes(doc, binary)
    (d / "cut.glb").write_bytes(full[:len(full) - 40])  # a cut download
    return d / "cut.glb"


def _rig_short_buffer(d: Path) -> Path:
    """A well-formed container whose BIN chunk is shorter than buffers[0].byteLength."""
    doc, binary = triangle_doc(("jawOpen", "mouthClose"))
    (d / "short.glb").write_bytes(glb_bytes(doc, binary[:-36]))
    return d / "short.glb"


def _rig_missing_bin(d: Path) -> Path:
    p = d / KHRONOS_CUBE.name
    shutil.copy(KHRONOS_CUBE, p)  # without its .bin beside it
    return p


def _rig_draco(d: Path) -> Path:
    doc, binary = triangle_doc(("jawOpen",))
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    (d / "draco.glb").write_bytes(glb_bytes(doc, binary))
    return d / "draco.glb"


def _rig_gltf1(d: Path) -> Path:
    p = d / "old.gltf"
    p.write_text(json.dumps({"asset": {"version": "1.0"}, "meshes": {"m": {}}}))
    return p


def _rig_no_arkit_names(d: Path) -> Path:
    doc, binary = triangle_doc(("Key 1", "Key 2"))
    (d / "unnamed.glb").write_bytes(glb_bytes(doc, binary))
    return d / "unnamed.glb"


def _textgrid_case(content: str | bytes, name: str = "bad.TextGrid") -> Maker:
    def make(d: Path) -> list[str]:
        p = d / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        return [str(EXAMPLE), "--alignment", str(p), *NO_GLB]
    return make


_TG_HEAD = ('File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\nxmax = 3.5\n'
            'tiers? <exists>\nsize = 1\nitem []:\n    item [1]:\n        class = "IntervalTier"\n'
            '        name = "phones"\n        xmin = 0\n        xmax = 3.5\n')


def _csv_case(content: str) -> Maker:
    def make(d: Path) -> Callable[[], object]:
        from voxface.exporters.livelink import read_livelink

        p = d / "take.csv"
        p.write_text(content, encoding="utf-8")
        return lambda: read_livelink(p)
    return make


def _outdir_under_file(d: Path) -> list[str]:
    (d / "afile").write_text("x")
    return [str(EXAMPLE), *NO_GLB, "-o", str(d / "afile" / "out")]


def _outdir_readonly(d: Path) -> list[str]:
    ro = d / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    return [str(EXAMPLE), *NO_GLB, "-o", str(ro)]


def _output_is_alignment(d: Path) -> list[str]:
    # The TextGrid output would land on the alignment it was given.
    out = d / "o"
    out.mkdir()
    shutil.copy(REPO / "assets/example.txt", d / "x.txt")  # keeps the folder non-trivial
    x, sr = speech()
    audio = write_audio(d / "clip.wav", x, sr, "PCM_16")
    tg = out / "clip.TextGrid"
    tg.write_text(_TG_HEAD + "        intervals: size = 1\n        intervals [1]:\n"
                  "            xmin = 0\n            xmax = 3.5\n            text = \"AH0\"\n")
    return [str(audio), "--alignment", str(tg), "--format", "textgrid", "-o", str(out)]


def _output_is_rig(d: Path) -> list[str]:
    out = d / "o"
    out.mkdir()
    rig = tiny_rig(out, "example.glb")  # OUTDIR/<audio stem>.glb is the rig itself
    return [str(EXAMPLE), "--rig", str(rig), "-o", str(out)]


SPEECH_TEXT = "Hello world."  # for the synthetic clips given a transcript

CASES: tuple[Case, ...] = (
    # --- the audio file itself ---------------------------------------------------------------
    Case("missing-file", "audio path that does not exist", _missing, 2, "missing.wav"),
    Case("directory", "a directory given as the audio", _directory, 2, "folder.wav"),
    Case("zero-bytes", "0-byte .wav", _zero, 2, "empty.wav"),
    Case("truncated-header", "WAV cut inside its header (30 bytes)",
         _audio_case("truncated-header", _truncated_header), 2, "truncated.wav"),
    Case("truncated-data", "WAV cut halfway through its samples (header promises more)",
         _audio_case("truncated-data", _truncated_data), 0),
    Case("text-as-wav", "a text file renamed .wav", _audio_case("text", _text_as_wav), 2,
         "notes.wav"),
    Case("nan-samples", "32-bit float WAV with a NaN sample",
         _audio_case("nan", _nonfinite(float("nan"))), 2, "nonfinite.wav"),
    Case("inf-samples", "32-bit float WAV with an +Inf sample",
         _audio_case("inf", _nonfinite(float("inf"))), 2, "nonfinite.wav"),
    Case("one-sample", "WAV holding 1 sample (62 µs), no transcript",
         _audio_case("one", _one_sample), 0, "transcript", warn=True),
    Case("pcm-u8", "8-bit unsigned PCM speech",
         _audio_case("u8", _speech_variant("u8.wav", subtype="PCM_U8")), 0),
    Case("pcm-24", "24-bit PCM speech",
         _audio_case("p24", _speech_variant("p24.wav", subtype="PCM_24")), 0),
    Case("float32", "32-bit float speech",
         _audio_case("f32", _speech_variant("f32.wav", subtype="FLOAT")), 0),
    Case("rate-96k", "96 kHz speech",
         _audio_case("r96", _speech_variant("r96.wav", rate=96_000)), 0),
    Case("rate-8k", "8 kHz (telephone) speech",
         _audio_case("r8", _speech_variant("r8.wav", rate=8_000)), 0),
    Case("six-channels", "6-channel (5.1) speech",
         _audio_case("c6", _speech_variant("c6.wav", channels=6)), 0),
    Case("flac-named-wav", "FLAC data in a file named .wav",
         _audio_case("flacwav", _flac_named_wav), 0),
    Case("unicode-name", "file name with spaces, accents and CJK",
         _audio_case("uni", _unicode_name), 0),
    Case("silence", "3 s of digital silence with a transcript",
         _audio_case("sil", _synthetic("silence.wav", lambda r, t: 0 * t), text=SPEECH_TEXT), 0,
         "digital silence", warn=True),
    Case("silence-no-text", "3 s of digital silence, no transcript",
         _audio_case("sil0", _synthetic("silence0.wav", lambda r, t: 0 * t)), 0,
         "transcript", warn=True),
    Case("white-noise", "3 s of white noise with a transcript",
         _audio_case("noise", _synthetic("noise.wav", lambda r, t: 0.3 * r.standard_normal(
             t.shape)), text=SPEECH_TEXT), 0, "no speech found", warn=True),
    Case("music", "3 s of chords (music-like tones), no transcript",
         _audio_case("music", _synthetic("music.wav", lambda r, t: 0.2 * sum(
             np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0, 523.3)))), 0,
         "transcript", warn=True),
    Case("clipping", "speech amplified 30x and hard-clipped", _audio_case("clip", _clipped), 0,
         "clipped", warn=True),
    Case("very-quiet", "speech at -50 dB", _audio_case("quiet", _quiet), 0, "very quiet",
         warn=True),
    # --- the transcript ----------------------------------------------------------------------
    Case("wrong-transcript", "real speech with a transcript of other words",
         _audio_case("wrong", lambda d: speech_wav(d),
                     text="the quick brown fox jumps over the lazy dog"), 0,
         "transcript may not match", warn=True),
    Case("transcript-too-long", "a 5 s clip with a 60-word transcript", _audio_case(
        "long", lambda d: speech_wav(d), text=" ".join([transcript()] * 4)), 0,
         "transcript may not match", warn=True),
    Case("empty-transcript", "--text ''", _audio_case("empty", lambda d: speech_wav(d), text=""),
         2, "--text"),
    Case("blank-transcript", "--text of spaces and a tab",
         _audio_case("blank", lambda d: speech_wav(d), text="  \t "), 2, "--text"),
    Case("punctuation-transcript", "transcript of punctuation only ('?! ...')",
         _audio_case("punct", lambda d: speech_wav(d), text="?! ... --"), 0, "transcript",
         warn=True),
    Case("emoji", "transcript with emoji", _audio_case(
        "emoji", lambda d: speech_wav(d), text="😀 " + transcript() + " 👍🏽"), 0),
    Case("non-latin", "transcript in Japanese only", _audio_case(
        "ja", lambda d: speech_wav(d), text="こんにちは世界"), 0, "transcript", warn=True),
    Case("right-to-left", "transcript in Hebrew and Arabic only", _audio_case(
        "rtl", lambda d: speech_wav(d), text="שלום עולם مرحبا"), 0, "transcript", warn=True),
    Case("numbers-symbols", "'$5.99 at 3:30pm on the 2nd, 50% & #1'", _audio_case(
        "num", lambda d: speech_wav(d), text="$5.99 at 3:30pm on the 2nd, 50% & #1"), 0),
    Case("made-up-words", "out-of-vocabulary and made-up words", _audio_case(
        "oov", lambda d: speech_wav(d), text="florbix zanthropic quimbledorf blick"), 0),
    Case("latin1-transcript", "transcript file in Latin-1, not UTF-8", _latin1_transcript, 2,
         "latin1.txt"),
    # --- the rig -----------------------------------------------------------------------------
    Case("rig-not-gltf", "a text file named .glb as --rig", _rig_case(_rig_text), 2, "head.glb"),
    Case("rig-no-morphs", "GLB with a mesh but no morph targets", _rig_case(_rig_no_morphs), 2,
         "static.glb"),
    Case("rig-truncated", "GLB cut short (header length > file)",
         _rig_case(_rig_truncated_file), 2, "cut.glb"),
    Case("rig-short-buffer", "GLB whose BIN chunk is shorter than its buffer",
         _rig_case(_rig_short_buffer), 2, "short.glb"),
    Case("rig-missing-bin", ".gltf whose external .bin is missing", _rig_case(_rig_missing_bin),
         2, "AnimatedMorphCube.gltf"),
    Case("rig-draco", "GLB requiring KHR_draco_mesh_compression", _rig_case(_rig_draco), 2,
         "draco.glb"),
    Case("rig-gltf1", "glTF 1.0 document", _rig_case(_rig_gltf1), 2, "old.gltf"),
    Case("rig-no-arkit-names", "morph targets named 'Key 1', 'Key 2'",
         _rig_case(_rig_no_arkit_names), 2, "unnamed.glb"),
    Case("rig-partial", "rig with only 3 ARKit targets (jawOpen, mouthClose, mouthFunnel)",
         _rig_case(tiny_rig), 0, outputs=(".glb", ".json", ".csv", ".TextGrid")),
    # --- alignment TextGrid ------------------------------------------------------------------
    Case("textgrid-garbage", "--alignment with random text", _textgrid_case(
        "hello\nthis is not praat\n"), 2, "bad.TextGrid"),
    Case("textgrid-cut", "TextGrid cut off mid-tier", _textgrid_case(
        _TG_HEAD + "        intervals: size = 3\n        intervals [1]:\n            xmin = 0\n"),
         2, "bad.TextGrid"),
    Case("textgrid-overlap", "TextGrid with overlapping, backwards intervals", _textgrid_case(
        _TG_HEAD + "        intervals: size = 2\n"
        "        intervals [1]:\n            xmin = 0\n            xmax = 2\n"
        "            text = \"AH0\"\n"
        "        intervals [2]:\n            xmin = 1.5\n            xmax = 1.0\n"
        "            text = \"B\"\n"), 2, "bad.TextGrid"),
    Case("textgrid-binary", "binary bytes named .TextGrid", _textgrid_case(
        bytes(range(256)) * 4), 2, "bad.TextGrid"),
    # --- Live Link CSV reader (library) ------------------------------------------------------
    Case("csv-header", "CSV without the Timecode,BlendShapeCount header",
         _csv_case("a,b,c\n1,2,3\n"), 2, "take.csv"),
    Case("csv-ragged", "CSV row with fewer cells than the header",
         _csv_case("Timecode,BlendShapeCount,JawOpen\n00:00:00:00.000,1,0.5\n"
                   "00:00:00:01.000,1\n"), 2, "take.csv"),
    Case("csv-non-numeric", "CSV with a non-numeric value",
         _csv_case("Timecode,BlendShapeCount,JawOpen\n00:00:00:00.000,1,abc\n"), 2, "take.csv"),
    Case("csv-nan", "CSV with a NaN value",
         _csv_case("Timecode,BlendShapeCount,JawOpen\n00:00:00:00.000,1,nan\n"), 2, "take.csv"),
    # --- the output --------------------------------------------------------------------------
    Case("outdir-under-file", "-o a path below a regular file", _outdir_under_file, 2, "afile"),
    Case("outdir-readonly", "-o a folder with mode 0500 (skipped as root)", _outdir_readonly, 2,
         "ro", root_ok=False),
    Case("output-is-alignment", "the TextGrid output would overwrite --alignment",
         _output_is_alignment, 2, "clip.TextGrid"),
    Case("output-is-rig", "the GLB output would overwrite --rig", _output_is_rig, 2,
         "example.glb"),
    # --- options -----------------------------------------------------------------------------
    Case("fps-nan", "--fps nan", lambda d: [str(EXAMPLE), "--fps", "nan", *NO_GLB], 2, "--fps"),
    Case("fps-text", "--fps fast", lambda d: [str(EXAMPLE), "--fps", "fast", *NO_GLB], 2,
         "--fps"),
)


# ---------------------------------------------------------------------------------------------
# Running a case


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` (relative path -> digest)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Temporary files an interrupted write would leave."""
    return [p.name for p in folder.rglob("*") if p.name.endswith((".part", ".tmp"))]


@dataclass
class Outcome:
    code: int
    err: str
    outdir: Path
    argv: list[str] | None
    before: dict[str, str]  # the inputs' digests, taken after building and before running


def run_case(case: Case, tmp: Path, capsys) -> Outcome:
    inputs = tmp / "in"
    inputs.mkdir()
    made = case.make(inputs)
    before = snapshot(inputs)
    if callable(made):  # a library reader: InputError <=> exit 2
        from voxface.core.errors import InputError

        try:
            made()
        except InputError as exc:
            return Outcome(2, f"animate: error: {exc}", tmp / "out", None, before)
        return Outcome(0, "", tmp / "out", None, before)
    argv = list(made)
    outdir = Path(argv[argv.index("-o") + 1]) if "-o" in argv else tmp / "out"
    if "-o" not in argv:
        argv += ["-o", str(outdir)]
    code = main(argv + ["-q"])
    err = capsys.readouterr().err
    return Outcome(code, err, outdir, argv, before)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_catalogue(case: Case, tmp_path: Path, capsys) -> None:
    if not case.root_ok and _is_root():
        pytest.skip("running as root: permission bits do not stop root from writing")
    shared_before = {SPEECH: hashlib.sha256(SPEECH.read_bytes()).hexdigest(),
                     EXAMPLE: hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()}
    inputs = tmp_path / "in"
    out = run_case(case, tmp_path, capsys)
    before = out.before
    assert "Traceback" not in out.err, out.err
    assert out.code == case.code, (case.id, out.code, out.err)
    lines = [ln for ln in out.err.splitlines() if ln.strip()]
    if case.code == 2:
        errors = [ln for ln in lines if ln.startswith("animate: error:")]
        assert len(errors) == 1 and len(lines) == 1, out.err
        assert case.needle in errors[0], (case.needle, errors[0])
        if out.outdir.exists() and out.outdir.is_dir() and out.argv is not None:
            produced = [p for p in out.outdir.rglob("*") if p.is_file()
                        and p.relative_to(inputs.parent).as_posix() not in
                        {f"in/{k}" for k in before}]
            assert produced == [], produced
    else:
        warnings = [ln for ln in lines if ln.startswith("animate: warning:")]
        if case.warn:
            assert any(case.needle in w for w in warnings), out.err
        if out.argv is not None:
            stem = Path(out.argv[0]).stem
            names = sorted(p.name for p in out.outdir.iterdir())
            assert names == sorted(stem + s for s in case.outputs), names
            doc_path = out.outdir / f"{stem}.json"
            if doc_path.exists():
                doc = json.loads(doc_path.read_text(encoding="utf-8"))
                values = np.asarray(doc["values"])
                assert values.shape[1] == 52 and np.isfinite(values).all()
                assert 0 <= values.min() and values.max() <= 1
    if out.outdir.exists():
        assert leftovers(out.outdir) == []
    assert snapshot(inputs) == before
    for path, digest in shared_before.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_silence_without_transcript_does_not_claim_one(tmp_path: Path, capsys) -> None:
    """Digital silence, no transcript: the engine's note says the curves (or phones) come from
    the audio alone, and the silence note must not then say they are guessed from a transcript
    (it used to: two warnings contradicting each other). With a transcript it still says so."""
    audio = _synthetic("silence.wav", lambda r, t: 0 * t)(tmp_path)
    warnings = {}
    for label, text in (("none", []), ("text", ["--text", SPEECH_TEXT])):
        code = main([str(audio), *NO_GLB, *text, "-o", str(tmp_path / label), "-q"])
        err = capsys.readouterr().err
        assert code == 0, err
        warnings[label] = [ln for ln in err.splitlines() if ln.startswith("animate: warning:")]
    assert any("from audio alone" in w or "from the audio alone" in w
               for w in warnings["none"]), warnings["none"]
    assert any("digital silence" in w for w in warnings["none"]), warnings["none"]
    assert not any("transcript alone" in w for w in warnings["none"]), warnings["none"]
    assert any("digital silence" in w and "transcript alone" in w for w in warnings["text"])


def test_catalogue_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


def test_doc_lists_every_case() -> None:
    """docs/robustness.md has one table row per case, with the same expected exit code."""
    doc = (REPO / "docs/robustness.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \|[^|]*\| exit (\d)", doc, flags=re.M))
    assert set(rows) == {c.id for c in CASES}
    for c in CASES:
        assert int(rows[c.id]) == c.code, c.id


# ---------------------------------------------------------------------------------------------
# Through the installed console script: a separate process, so no traceback can hide


def _console(args: list[str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("animate")
    env = {k: v for k, v in os.environ.items() if k != "VOXFACE_DEBUG"}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.parametrize("case_id", ["nan-samples", "rig-short-buffer", "textgrid-cut",
                                     "outdir-under-file"])
def test_console_script_one_line_no_traceback(case_id: str, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == case_id)
    inputs = tmp_path / "in"
    inputs.mkdir()
    argv = case.make(inputs)
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "out")]
    before = snapshot(inputs)
    proc = _console(argv + ["-q"])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and case.needle in lines[0], proc.stderr
    assert snapshot(inputs) == before
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# The doc table, from the code as it is


def markdown_table(tmp: Path) -> str:
    """The catalogue as docs/robustness.md shows it, with today's messages."""
    import tempfile

    class _Cap:
        def readouterr(self):
            return type("R", (), {"err": sys.stderr.getvalue()})()

    rows = ["| case | input | expected | message (example) |", "|---|---|---|---|"]
    for case in CASES:
        with tempfile.TemporaryDirectory() as d:
            import io

            real, sys.stderr = sys.stderr, io.StringIO()
            try:
                out = run_case(case, Path(d), _Cap())
            finally:
                sys.stderr = real
            lines = [ln for ln in out.err.splitlines() if ln.startswith(("animate: error",
                                                                       "animate: warning"))]
            msg = next((ln for ln in lines if case.needle and case.needle in ln),
                       lines[0] if lines else "")
            msg = msg.replace(str(Path(d)), "…").replace("|", "\\|")
        named = "the option" if case.needle.startswith("--") else "the file"
        expected = f"exit 2, one line naming {named}" if case.code == 2 else \
            "exit 0" + (", warning" if case.warn else "") + ", outputs written"
        if case.code == 2 and out.argv is None:
            expected = "exit 2 (InputError naming the file)"
        rows.append(f"| `{case.id}` | {case.what} | {expected} | `{msg}` |" if msg else
                    f"| `{case.id}` | {case.what} | {expected} | |")
    return "\n".join(rows)


if __name__ == "__main__":
    import tempfile

    print(markdown_table(Path(tempfile.gettempdir())))
