"""End to end through the `animate` command: real speech from MFA's test corpus, the bundled
example, the real Ready Player Me avatar, the Khronos morph models, and bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voxface.cli import main
from voxface.core.names import ARKIT_52, LIVE_LINK_BLENDSHAPES, LIVE_LINK_EXTRAS

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MFA = SHARED / "assets/speech/mfa"
RPM = SHARED / "assets/rigs/rpm_brunette.glb"
KHRONOS = sorted((SHARED / "assets/rigs/khronos").glob("*/glTF/*.gltf"))
EXAMPLE = REPO / "assets/example.wav"

# English clips with transcripts, across formats and voices (mp3 48 kHz, flac, 16-bit wav,
# a cold, fast and slow speech, spontaneous fillers).
REAL_CLIPS = [
    ("wav/61-70968-0000.flac", "lab/61-70968-0000.lab"),
    ("wav/common_voice_en_22058266.mp3", "lab/common_voice_en_22058266.lab"),
    ("wav/multilingual_ipa.flac", "lab/multilingual_ipa.txt"),
    ("wav/multilingual_ipa_us_3.flac", "lab/multilingual_ipa_us_3.txt"),
    ("wav/cold_corpus3.wav", "lab/cold_corpus3.lab"),
    ("wav/acoustic_corpus.wav", "lab/acoustic_corpus.lab"),
]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def frames_in(interval: dict, fps: float, n: int) -> np.ndarray:
    """Frame indices whose time lies in [start, end]; the nearest frame if none does."""
    lo = int(np.ceil(interval["start"] * fps - 1e-9))
    hi = int(np.floor(interval["end"] * fps + 1e-9))
    if hi < lo:
        mid = int(round((interval["start"] + interval["end"]) / 2 * fps))
        return np.array([min(max(mid, 0), n - 1)])
    return np.arange(max(lo, 0), min(hi, n - 1) + 1)


def check_articulation(doc: dict) -> None:
    """p/b/m close the lips and f/v make lip-teeth contact on every occurrence."""
    from voxface.engine.coarticulation import is_fv_contact, is_lip_closed

    values = np.asarray(doc["values"], dtype=np.float32)
    closed, contact = is_lip_closed(values), is_fv_contact(values)
    for ph in doc["phones"]:
        base = ph["phone"].rstrip("012")
        idx = frames_in(ph, doc["fps"], len(values))
        if base in ("P", "B", "M"):
            assert closed[idx].any(), f"no lip closure in {ph}"
        if base in ("F", "V"):
            assert contact[idx].any(), f"no f/v contact in {ph}"


def check_json(doc: dict, audio_name: str) -> None:
    assert doc["version"] == 1 and doc["fps"] == 60
    assert doc["audio"] == audio_name
    assert doc["names"] == list(ARKIT_52)
    values = np.asarray(doc["values"])
    assert values.shape == (int(round(doc["duration"] * 60)) + 1, 52)
    assert values.min() >= 0 and values.max() <= 1
    starts = [p["start"] for p in doc["phones"]]
    assert starts == sorted(starts) and doc["phones"] and doc["words"]
    for p in doc["phones"]:
        assert 0 <= p["start"] < p["end"] <= doc["duration"] + 1e-6


@pytest.fixture(scope="module")
def example_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("example")
    assert main([str(EXAMPLE), "-o", str(out), "-q"]) == 0
    return out


def test_bundled_example_writes_all_four_formats(example_run: Path, validate_glb) -> None:
    stem = EXAMPLE.stem
    assert sorted(p.name for p in example_run.iterdir()) == sorted(
        f"{stem}{s}" for s in (".glb", ".json", ".csv", ".TextGrid"))
    doc = json.loads((example_run / f"{stem}.json").read_text())
    check_json(doc, EXAMPLE.name)
    check_articulation(doc)
    words = [w["word"] for w in doc["words"]]
    transcript = (REPO / "assets/example.txt").read_text()
    from voxface.phonemes.text import normalize
    assert words == normalize(transcript)
    header = (example_run / f"{stem}.csv").read_text().splitlines()[0].split(",")
    assert tuple(header[2:]) == LIVE_LINK_BLENDSHAPES + LIVE_LINK_EXTRAS
    report = validate_glb(example_run / f"{stem}.glb")
    assert report["numErrors"] == 0, report


def test_textgrid_output_reads_in_praatio(example_run: Path) -> None:
    from praatio import textgrid

    tg = textgrid.openTextgrid(str(example_run / f"{EXAMPLE.stem}.TextGrid"),
                               includeEmptyIntervals=False)
    assert {"words", "phones"} <= set(tg.tierNames)
    doc = json.loads((example_run / f"{EXAMPLE.stem}.json").read_text())
    phones = [e.label for e in tg.getTier("phones").entries]
    assert phones == [p["phone"] for p in doc["phones"]]


@pytest.mark.parametrize("audio,lab", REAL_CLIPS, ids=lambda s: Path(s).stem)
def test_real_speech_end_to_end(audio: str, lab: str, tmp_path: Path, validate_glb) -> None:
    wav, txt = MFA / audio, MFA / lab
    before = sha(wav)
    rc = main([str(wav), "--transcript", str(txt), "-o", str(tmp_path), "-q",
               "--format", "json,glb"])
    assert rc == 0
    assert sha(wav) == before
    doc = json.loads((tmp_path / f"{wav.stem}.json").read_text())
    check_json(doc, wav.name)
    check_articulation(doc)
    from voxface.phonemes.text import normalize
    assert [w["word"] for w in doc["words"]] == normalize(txt.read_text())
    assert validate_glb(tmp_path / f"{wav.stem}.glb")["numErrors"] == 0


def test_textgrid_import_keeps_mfa_boundaries(tmp_path: Path) -> None:
    from praatio import textgrid

    wav, tgp = MFA / "wav/acoustic_corpus.wav", MFA / "textgrid/acoustic_corpus.TextGrid"
    assert main([str(wav), "--alignment", str(tgp), "-o", str(tmp_path), "-q",
                 "--format", "json"]) == 0
    doc = json.loads((tmp_path / "acoustic_corpus.json").read_text())
    tg = textgrid.openTextgrid(str(tgp), includeEmptyIntervals=False)
    ref = [e for e in tg.getTier("phones").entries if e.label not in ("sil", "sp", "spn", "")]
    assert [p["phone"] for p in doc["phones"]] == [e.label for e in ref]
    np.testing.assert_allclose([p["start"] for p in doc["phones"]], [e.start for e in ref],
                               atol=1e-4)  # JSON rounds times to 0.1 ms
    np.testing.assert_allclose([p["end"] for p in doc["phones"]], [e.end for e in ref],
                               atol=1e-4)
    check_articulation(doc)


def _animated_mesh_names(glb: Path) -> set[str]:
    import pygltflib

    g = pygltflib.GLTF2().load(str(glb))
    anim = g.animations[-1]
    return {g.meshes[g.nodes[ch.target.node].mesh].name for ch in anim.channels
            if ch.target.path == "weights"}


def test_ready_player_me_avatar_head_teeth_eyes_driven(tmp_path: Path, validate_glb) -> None:
    before = sha(RPM)
    assert main([str(EXAMPLE), "--rig", str(RPM), "-o", str(tmp_path), "-q",
                 "--format", "glb"]) == 0
    assert sha(RPM) == before
    out = tmp_path / "example.glb"
    assert {"Wolf3D_Head", "Wolf3D_Teeth", "EyeLeft", "EyeRight"} <= _animated_mesh_names(out)
    assert validate_glb(out)["numErrors"] == 0


@pytest.mark.parametrize("rig", KHRONOS, ids=lambda p: p.stem)
def test_khronos_models_without_arkit_names_fail_clearly(rig: Path, tmp_path: Path,
                                                         capsys) -> None:
    rc = main([str(EXAMPLE), "--rig", str(rig), "-o", str(tmp_path), "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and rig.name in err and "target" in err
    assert list(tmp_path.iterdir()) == []


# --- bad input: exit 2, one line naming the file, no output, inputs untouched -----------------

def _bad_cases(tmp: Path) -> list[tuple[list[str], str]]:
    (tmp / "empty.wav").write_bytes(b"")
    (tmp / "text.wav").write_text("this is not audio\n")
    (tmp / "notarig.glb").write_text("not a glTF file\n")
    (tmp / "afile").write_text("x")
    return [
        ([str(tmp / "missing.wav")], "missing.wav"),
        ([str(tmp)], str(tmp.name)),
        ([str(tmp / "empty.wav")], "empty.wav"),
        ([str(tmp / "text.wav")], "text.wav"),
        ([str(EXAMPLE), "--rig", str(tmp / "notarig.glb")], "notarig.glb"),
        ([str(EXAMPLE), "--rig", str(tmp / "nope.glb")], "nope.glb"),
        ([str(EXAMPLE), "--format", "glb,xyz"], "xyz"),
        ([str(EXAMPLE), "--transcript", str(tmp / "none.txt")], "none.txt"),
        ([str(EXAMPLE), "--alignment", str(tmp / "text.wav")], "text.wav"),
        ([str(EXAMPLE), "--fps", "0"], "--fps"),
        ([str(EXAMPLE), "--aligner", "kaldi"], "kaldi"),
    ]


def test_bad_input_gives_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    example_hash = sha(EXAMPLE)
    for argv, needle in _bad_cases(inputs):
        out = tmp_path / "out"
        rc = main(argv + ["-o", str(out), "-q"])
        err = capsys.readouterr().err.strip()
        assert rc == 2, (argv, err)
        assert len(err.splitlines()) == 1 and needle in err, (argv, err)
        assert not out.exists() or list(out.iterdir()) == [], argv
    assert sha(EXAMPLE) == example_hash


def test_output_dir_that_is_a_file(tmp_path: Path, capsys) -> None:
    f = tmp_path / "afile"
    f.write_text("x")
    assert main([str(EXAMPLE), "-o", str(f), "-q"]) == 2
    assert "afile" in capsys.readouterr().err


def test_output_equal_to_input_is_refused(tmp_path: Path, capsys) -> None:
    rig = tmp_path / "example.glb"
    shutil.copy(REPO / "assets/fitme.glb", rig)
    before = sha(rig)
    assert main([str(EXAMPLE), "--rig", str(rig), "-o", str(tmp_path), "-q"]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert sha(rig) == before


def test_console_script_exit_code_and_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("animate")
    proc = subprocess.run([str(exe), str(tmp_path / "missing.wav")], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "missing.wav" in proc.stderr
    help_text = subprocess.run([str(exe), "--help"], capture_output=True, text=True).stdout
    for fmt in ("glb", "json", "csv", "textgrid"):
        assert fmt in help_text


# --- help: every subcommand listed and reachable; option help says what it does ---------------

def test_help_lists_every_subcommand_and_each_answers_help(capsys) -> None:
    from voxface.cli import SUBCOMMANDS, build_parser

    help_text = build_parser().format_help()
    assert "animate view OUTDIR" in help_text  # it used to be missing
    for name in SUBCOMMANDS:
        assert f"animate {name} " in help_text, name
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as stop:
            main([name, "--help"])
        assert stop.value.code == 0, name
        assert f"usage: animate {name}" in capsys.readouterr().out, name


def test_motion_flags_help_says_what_is_turned_off() -> None:
    from voxface.cli import build_parser

    help_text = " ".join(build_parser().format_help().split())
    assert "--no-head turn off head motion" in help_text
    for flag, what in (("--no-blinks", "blinks"), ("--no-brows", "brow"), ("--no-gaze", "gaze")):
        assert f"{flag} turn off {what}" in help_text, flag
