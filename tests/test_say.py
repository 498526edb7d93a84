"""`animate say` and `voxface.say`: espeak-ng speech animated from its own phone events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import voxface
from voxface.cli import main
from voxface.phonemes import espeak

pytestmark = pytest.mark.skipif(not espeak.available(),
                                reason="libespeak-ng not installed (apt-get install libespeak-ng1)")

TUTOR = "[happy] Well done! [concerned] But check the verb: five big mistakes."


def test_python_say_phones_are_espeaks_own_events(tmp_path: Path) -> None:
    import soundfile as sf

    said = voxface.say("Maybe we could move five big boxes.", outdir=tmp_path, name="s",
                       formats=["json"], voice="en-us", rate_wpm=160)
    syn = said.synthesis
    phones = said.animation.alignment.phones
    assert phones == syn.phones and phones  # the synthesiser's timing, untouched
    rate = syn.sample_rate
    for p in phones:  # every boundary on an output sample
        assert abs(p.start * rate - round(p.start * rate)) < 1e-6
        assert abs(p.end * rate - round(p.end * rate)) < 1e-6
    # every phone starts at espeak's phoneme event itself, to the sample; stops at their
    # closure just before it (phonemes/espeak.py)
    events = syn.event_phones
    assert [p.label for p in phones] == [e.label for e in events]
    for p, e in zip(phones, events):
        if p.label in ("P", "B", "T", "D", "K", "G", "CH", "JH"):
            assert e.start - 0.1 < p.start <= e.start
        else:
            assert round(p.start * rate) == round(e.start * rate)
    doc = json.loads(said.outputs["json"].read_text())
    assert [(p["phone"], p["start"], p["end"]) for p in doc["phones"]] == [
        (p.label, round(p.start, 4), round(p.end, 4)) for p in phones]
    # the WAV beside the outputs is the synthesis, sample for sample (16-bit)
    samples, sr = sf.read(str(said.wav), dtype="float32")
    assert said.wav == tmp_path / "s.wav" and sr == rate == 22050
    assert samples.shape == syn.samples.shape
    assert np.max(np.abs(samples - syn.samples)) <= 1.0 / 32768 + 1e-7
    assert doc["duration"] == pytest.approx(syn.duration, abs=1e-6)


def test_cli_say_tutor_one_command(tmp_path: Path, validate_glb, capsys) -> None:
    out = tmp_path / "out"
    code = main(["say", TUTOR, "-o", str(out), "--voice", "en-us+f2", "--rate", "160",
                 "--format", "json,glb,csv", "-q"])
    assert code == 0, capsys.readouterr().err
    assert {p.name for p in out.iterdir()} == {"say.wav", "say.json", "say.glb", "say.csv"}
    assert (out / "say.wav").stat().st_mode & 0o777 == (out / "say.json").stat().st_mode & 0o777
    doc = json.loads((out / "say.json").read_text())
    assert [w["word"] for w in doc["words"]][:2] == ["well", "done"]
    emotions = doc["emotions"]
    assert [e["emotion"] for e in emotions] == ["happy", "sad"]  # 'concerned' is an alias
    assert emotions[0]["start"] == 0.0
    but = next(w for w in doc["words"] if w["word"] == "but")
    assert emotions[1]["start"] == pytest.approx(but["start"] - 0.15, abs=1e-3)
    assert validate_glb(out / "say.glb")["numErrors"] == 0
    # the smile is in the curves every exporter writes (JSON and the Live Link CSV)
    names = doc["names"]
    values = np.asarray(doc["values"])
    smile = values[:, names.index("mouthSmileLeft")]
    fps = doc["fps"]
    first = int(emotions[0]["end"] * fps) - 20
    assert smile[:first].max() > 0.3
    header = (out / "say.csv").read_text().splitlines()[0].split(",")
    rows = [line.split(",") for line in (out / "say.csv").read_text().splitlines()[1:]]
    col = header.index("MouthSmileLeft")
    assert max(float(r[col]) for r in rows[:first]) > 0.3
    # ... and in the animated GLB's morph weights of the head
    from pygltflib import GLTF2

    glb = GLTF2().load(str(out / "say.glb"))
    head = next(i for i, m in enumerate(glb.meshes)
                if "mouthSmileLeft" in (m.extras or {}).get("targetNames", []))
    k = glb.meshes[head].extras["targetNames"].index("mouthSmileLeft")
    n_targets = len(glb.meshes[head].extras["targetNames"])
    node = next(i for i, nd in enumerate(glb.nodes) if nd.mesh == head)
    channel = next(c for c in glb.animations[0].channels
                   if c.target.node == node and c.target.path == "weights")
    acc = glb.accessors[glb.animations[0].samplers[channel.sampler].output]
    view = glb.bufferViews[acc.bufferView]
    weights = np.frombuffer(glb.binary_blob(), dtype="<f4", count=acc.count,
                            offset=(view.byteOffset or 0) + (acc.byteOffset or 0))
    weights = weights.reshape(-1, n_targets)[:, k]
    assert weights[:first].max() > 0.3
    assert np.allclose(weights[:len(smile)], smile, atol=1e-4)


@pytest.mark.parametrize("argv,needle", [
    (["say", "[elated] Hello", "--format", "json"], "unknown emotion 'elated'; available"),
    (["say", "Hello", "--voice", "xx-nope", "--format", "json"], "no voice"),
    (["say", "Hello", "--rate", "10", "--format", "json"], "--rate"),
    (["say", "[happy]", "--format", "json"], "empty"),
    (["say", "Hello", "--text", "x"], "do not apply"),
    (["say", "Hello", "--aligner", "mfa"], "does not apply"),
])
def test_cli_say_bad_input_exit_2(tmp_path: Path, capsys, argv, needle) -> None:
    out = tmp_path / "o"
    code = main(argv + ["-o", str(out), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and len(err.splitlines()) == 1
    assert not (out / "say.json").exists()


def test_say_help_lists_only_options_that_apply(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["say", "--help"])
    text = capsys.readouterr().out
    assert exc.value.code == 0 and "--voice" in text and "--emotion" in text
    for hidden in ("--text", "--transcript", "--alignment ", "--aligner {"):
        assert hidden not in text, hidden
