"""The exporter table: one protocol for every output (the preview included), one atomic writer,
and one rig plan per run."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from voxface.cli import build_parser, main
from voxface.core.alignment import Alignment
from voxface.core.animation import Animation
from voxface.core.audio import from_array
from voxface.core.curves import Curves
from voxface.core.errors import InputError
from voxface.exporters import base, registry
from voxface.exporters.registry import EXPORTERS, write_outputs

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "assets/example.wav"
RUNTIME = ("voxface", "engine", "rigs", "phonemes", "exporters")


def _anim() -> Animation:
    return Animation(audio=from_array(np.zeros(16000, np.float32), 16000),
                     alignment=Alignment(words=(), phones=(), duration=1.0),
                     curves=Curves.zeros(1.0, 30.0))


def test_every_output_is_a_table_entry():
    assert set(registry.format_names()) == {"glb", "json", "csv", "textgrid", "rhubarb-json",
                                            "rhubarb-tsv", "blend"}
    assert EXPORTERS["preview"].needs_rig and not EXPORTERS["preview"].listed
    assert [f for f in EXPORTERS if EXPORTERS[f].needs_rig] == ["glb", "blend", "preview"]
    help_text = build_parser().format_help()
    for name in registry.format_names():
        assert name in help_text
    with pytest.raises(ValueError, match="unknown needs"):
        base.Exporter("x", ".x", lambda a, p, o: None, "x", needs=("mood",))


def test_a_missing_need_fails_before_anything_is_written(tmp_path: Path):
    outputs = {"json": tmp_path / "a.json", "glb": tmp_path / "a.glb"}
    with pytest.raises(InputError, match="glb output needs a rig"):
        write_outputs(_anim(), outputs)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_exporter_leaves_nothing(tmp_path: Path, monkeypatch):
    def boom(anim, path, out):
        Path(path).write_text("half")
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(EXPORTERS, "csv", dataclasses.replace(EXPORTERS["csv"], write=boom))
    (tmp_path / "a.json").write_text("old")
    with pytest.raises(RuntimeError):
        write_outputs(_anim(), {"json": tmp_path / "a.json", "csv": tmp_path / "a.csv"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temporaries
    assert (tmp_path / "a.json").read_text() == "old"


def test_outputs_get_plain_open_permissions(tmp_path: Path):
    import os

    write_outputs(_anim(), {"json": tmp_path / "a.json", "csv": tmp_path / "a.csv"})
    mask = os.umask(0o022)
    os.umask(mask)
    for p in tmp_path.iterdir():
        assert p.stat().st_mode & 0o777 == 0o666 & ~mask


def test_the_rig_is_planned_once_per_run(tmp_path: Path, monkeypatch):
    """pipeline.prepare_rig plans; the GLB writer (and any other rig output) reuses anim.plan."""
    from voxface.rigs import retarget

    calls = []
    real = retarget.plan_rig

    def counting(*args, **kwargs):
        calls.append(args[1] if len(args) > 1 else kwargs.get("names"))
        return real(*args, **kwargs)

    monkeypatch.setattr(retarget, "plan_rig", counting)
    monkeypatch.setattr(base, "plan_rig", counting)
    assert main([str(EXAMPLE), "-o", str(tmp_path), "-q", "--fps", "15",
                 "--format", "glb,json"]) == 0
    assert len(calls) == 1
    assert (tmp_path / "example.glb").is_file()


def test_a_hand_built_animation_is_planned_once_and_keeps_the_plan(tmp_path: Path):
    from voxface.rigs.gltf_rig import load_rig

    anim = dataclasses.replace(_anim(), rig=load_rig(REPO / "assets/fitme.glb"))
    plan = base.rig_plan(anim)
    assert anim.plan is plan and base.rig_plan(anim) is plan


def test_no_hand_written_atomic_renames_in_the_runtime():
    """Every file written in place goes through voxface.core.fileio (write_all/atomic_path)."""
    allowed = {
        Path("voxface/core/fileio.py"),  # the one atomic writer
        # Blender saves its .blend under a fresh name (saving over a file makes it keep a
        # .blend1 backup); it is moved onto the exporter's temporary, which fileio renames.
        Path("exporters/blender.py"),
    }
    found = []
    for pkg in RUNTIME:
        for path in (REPO / pkg).rglob("*.py"):
            rel = path.relative_to(REPO)
            if rel in allowed or "blender_addon" in rel.parts:
                continue
            text = path.read_text(encoding="utf-8")
            if re.search(r"os\.(replace|rename)\(|\.rename\(|tempfile\.mkstemp", text):
                found.append(str(rel))
    assert found == []
    blender = (REPO / "exporters/blender.py").read_text(encoding="utf-8")
    assert blender.count("os.replace(") == 1 and "mkstemp" not in blender
