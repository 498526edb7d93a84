"""Blender output: `--format blend` and the lipsync add-on, checked in real headless Blender.

Blender runs from `.venv-blender` (PyPI bpy 5.0.1, made by tests/setup.sh); the tests that need it
skip when it is missing. What Blender saw is reported by tests/blender_checks.py (run inside bpy)
and compared here with the JSON curves we wrote (tolerance 1e-4: JSON keeps 5 decimals), the
Live Link capture in ../shared, and the real `animate` command.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from voxface.cli import build_parser, main
from voxface.core.audio import load_audio
from voxface.core.curves import Curves
from voxface.core.names import ARKIT_52
from voxface.core.animation import Animation
from voxface.core.errors import MissingDependencyError
from voxface.exporters import blender
from voxface.rigs.gltf_io import read_accessor, read_glb
from voxface.exporters.registry import EXPORTERS

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RPM = SHARED / "assets/rigs/rpm_brunette.glb"
AUDIO = SHARED / "assets/speech/mfa/wav/common_voice_en_22058266.mp3"  # 2.35 s, 48 kHz mp3
TRANSCRIPT = SHARED / "assets/speech/mfa/lab/common_voice_en_22058266.lab"
LIVELINK = SHARED / "assets/curves/livelink/alex_rom_3.csv"
CHECKS = Path(__file__).with_name("blender_checks.py")
BLENDER_PY = REPO / ".venv-blender/bin/python"
DRIVEN = ("EyeLeft", "EyeRight", "Wolf3D_Head", "Wolf3D_Teeth")  # rpm meshes with ARKit keys
TOL = 1e-4

needs_blender = pytest.mark.skipif(
    not BLENDER_PY.is_file(),
    reason=".venv-blender is missing: run tests/setup.sh (or `python3.11 -m venv .venv-blender "
           "&& .venv-blender/bin/pip install bpy==5.0.1`)")


def bpy_run(*args: str, env: dict | None = None) -> None:
    """Run tests/blender_checks.py in the bpy interpreter; fail with its output on error."""
    proc = subprocess.run([str(BLENDER_PY), str(CHECKS), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def inspect_blend(blend: Path, tmp: Path, animated_glb: Path | None = None
                  ) -> tuple[dict, dict, bytes]:
    """(Blender's report on the .blend, the glTF JSON and BIN of Blender's own export).
    With `animated_glb`, the report also has the bone rotations Blender imports from it."""
    report, glb = tmp / f"{blend.stem}.report.json", tmp / f"{blend.stem}.export.glb"
    bpy_run("inspect", str(blend), str(report), str(glb),
            *([str(animated_glb)] if animated_glb else []))
    return (json.loads(report.read_text()), *read_glb(glb))


def accessor(doc: dict, binary: bytes, index: int) -> np.ndarray:
    """A float accessor of a GLB as float32 [count, components]."""
    return read_accessor(doc, (binary,), index).astype(np.float32)


def handmade_animation(fps: float) -> Animation:
    """The real rpm rig and mp3, with smooth distinct curves in 0..1 on all 52 shapes."""
    from voxface.core.alignment import Alignment
    from voxface.rigs.gltf_rig import load_rig

    audio = load_audio(AUDIO)
    t = np.arange(Curves.n_frames_for(audio.duration, fps))[:, None] / fps
    k = np.arange(52)[None, :]
    values = 0.5 + 0.5 * np.sin(2 * np.pi * (0.5 + 0.1 * k) * t + k)
    curves = Curves(fps=fps, names=ARKIT_52, values=values, duration=audio.duration)
    return Animation(audio=audio, curves=curves, rig=load_rig(RPM),
                     alignment=Alignment(words=(), phones=(), duration=audio.duration))


def glb_world_rotations(gltf: dict, binary: bytes, node: int):
    """[T] scipy Rotations: a node's world rotation at every key of a GLB's last animation
    (rest rotations where a node has no channel), by forward kinematics here."""
    from scipy.spatial.transform import Rotation

    nodes = gltf["nodes"]
    parent = {c: i for i, nd in enumerate(nodes) for c in nd.get("children", [])}
    anim = gltf["animations"][-1]
    n_frames = gltf["accessors"][anim["samplers"][0]["input"]]["count"]
    keyed = {c["target"]["node"]: accessor(gltf, binary, anim["samplers"][c["sampler"]]["output"])
             for c in anim["channels"] if c["target"]["path"] == "rotation"}
    world = Rotation.identity(n_frames)
    while node is not None:
        local = keyed[node] if node in keyed else \
            np.tile(nodes[node].get("rotation", [0.0, 0.0, 0.0, 1.0]), (n_frames, 1))
        world = Rotation.from_quat(np.asarray(local, np.float64)) * world
        node = parent.get(node)
    return world


def assert_bones_follow_glb(report: dict, glb: Path, action: str) -> None:
    """The .blend keys the bones the GLB rotates, in the shape keys' action, and each one's
    world orientation in Blender equals the GLB's (its last animation, voxface's), converted to
    Blender's frame, at every frame, within 0.01 degree; so does Blender's own import of the
    GLB where the report has it; the head nods."""
    from scipy.spatial.transform import Rotation

    gltf, binary = read_glb(glb)
    anim = gltf["animations"][-1]  # voxface's (a rig's own animations come first)
    rotated = {gltf["nodes"][c["target"]["node"]]["name"]: c["target"]["node"]
               for c in anim["channels"] if c["target"]["path"] == "rotation"}
    assert len(rotated) >= 2  # head and neck at least
    animated = {k: a for k, a in report["armatures"].items() if a["action"] is not None}
    ((arma, a),) = animated.items()
    assert (a["action"], a["slot"]) == (action, arma)  # the action the shape keys are in
    assert sorted(a["bones"]) == sorted(rotated)
    n = report["frame_end"] + 1
    assert sorted(a["curves"]) == sorted(f'pose.bones["{b}"].rotation_quaternion[{i}]'
                                         for b in rotated for i in range(4))
    for fc in a["curves"].values():
        assert fc["interpolation"] == ["LINEAR"]
        np.testing.assert_allclose(np.asarray(fc["co"])[:, 0], np.arange(n), atol=1e-3)
    # Blender's glTF importer changes basis from glTF's Y-up to Z-up ((x, y, z) -> (x, -z, y):
    # conjugation by Rx(90 deg)) and turns each bone's frame by +90 deg about its local X (its
    # default bone heuristic: a bone's tip on its local +Y).
    turn = Rotation.from_euler("x", 90, degrees=True)
    for bone, node in rotated.items():
        expected = turn * glb_world_rotations(gltf, binary, node) * turn.inv() * turn
        assert len(expected) == n
        # Ours; Blender's own import of the GLB (when asked for: it plays the first animation)
        for key in ("bone_world", "glb_bone_world")[:1 + ("glb_bone_world" in report)]:
            wxyz = np.asarray(report[key][arma][bone], np.float64)
            got = Rotation.from_quat(wxyz[:, [1, 2, 3, 0]])
            error = np.degrees((expected.inv() * got).magnitude())
            assert error.max() < 0.01, (key, bone, error.max())
    head = next(node for name, node in rotated.items() if name.lower() == "head")
    world = glb_world_rotations(gltf, binary, head)
    assert np.degrees((world[0].inv() * world).magnitude()).max() > 1.0  # it does move


def assert_keys_match(curves: dict, names: list[str], values: np.ndarray, frame0: float) -> None:
    """Every ARKit shape key has one LINEAR key per frame at frame0 + i, equal to `values`."""
    assert sorted(curves) == sorted(names)
    for j, name in enumerate(names):
        co = np.asarray(curves[name]["co"])
        assert curves[name]["interpolation"] == ["LINEAR"]
        np.testing.assert_allclose(co[:, 0], frame0 + np.arange(len(values)), atol=1e-3)
        np.testing.assert_allclose(co[:, 1], values[:, j], atol=TOL, err_msg=name)


# --- without Blender ------------------------------------------------------------------------

def test_blend_is_registered_but_not_a_default():
    assert EXPORTERS["blend"].suffix == ".blend" and EXPORTERS["blend"].needs_rig
    assert not EXPORTERS["blend"].default
    default = build_parser().parse_args(["x.wav"]).format.split(",")
    assert "blend" not in default and {"glb", "json"} <= set(default)


def test_no_blender_is_exit_2_with_install_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(blender.ENV_VAR, raising=False)
    monkeypatch.setattr(blender, "_REPO", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main([str(AUDIO), "--format", "blend", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install bpy==5.0.1" in err[0], err
    assert not (tmp_path / "out").exists()  # failed before the pipeline ran

    monkeypatch.setenv(blender.ENV_VAR, str(tmp_path / "nope" / "python"))
    assert main([str(AUDIO), "--format", "blend", "-o", str(tmp_path / "out")]) == 2
    assert blender.ENV_VAR in capsys.readouterr().err


def test_python_without_bpy_is_missing_dependency(tmp_path, monkeypatch):
    monkeypatch.setenv(blender.ENV_VAR, sys.executable)  # ours: numpy 2, no bpy
    with pytest.raises(MissingDependencyError, match="bpy==5.0.1"):
        blender.write_blend(handmade_animation(30.0), tmp_path / "x.blend")
    assert list(tmp_path.iterdir()) == []


def test_addon_zip_is_an_installable_package(tmp_path):
    zpath = tmp_path / "lipsync_addon.zip"
    assert main(["blender-addon", "-o", str(zpath)]) == 0
    with zipfile.ZipFile(zpath) as zf:
        names = zf.namelist()
        init = zf.read("voxface_lipsync/__init__.py").decode()
    assert sorted(names) == sorted(f"voxface_lipsync/{p.name}" for p in blender.addon_files())
    bl_info = next(ast.literal_eval(node.value) for node in ast.parse(init).body
                   if isinstance(node, ast.Assign) and node.targets[0].id == "bl_info")
    assert bl_info["category"] == "Animation" and "Sidebar" in bl_info["location"]
    # Reproducible: the same sources give the same bytes.
    again = tmp_path / "again.zip"
    blender.build_addon_zip(again)
    assert again.read_bytes() == zpath.read_bytes()


def test_bone_tracks_are_the_glb_rotations_as_world_deltas():
    """What `--format blend` turns the bones by (no Blender needed): the GLB's head and neck
    rotations read back and written about world axes are head_pose's world deltas D again
    (the neck 40%, the head the rest), and no bone moves without rotation curves."""
    import dataclasses

    from scipy.spatial.transform import Rotation

    from voxface.core.names import LIVE_LINK_EXTRAS
    from voxface.rigs.head_pose import find_head_bones, world_deltas

    anim = handmade_animation(30.0)
    assert blender.bone_tracks(anim) == []
    t = anim.curves.times[:, None]
    angles = np.radians([8.0, 10.0, -6.0]) * np.sin(2 * np.pi * np.array([0.7, 1.1, 0.4]) * t)
    rot = Curves(fps=30.0, names=LIVE_LINK_EXTRAS, duration=anim.curves.duration,
                 values=np.hstack([angles, np.zeros((len(t), 6))]))
    anim = dataclasses.replace(anim, curves=dataclasses.replace(anim.curves,
                                                                extras={"rotations": rot}))
    tracks = {t["bone"]: t for t in blender.bone_tracks(anim)}
    assert sorted(tracks) == ["Head", "Neck"]  # the eyes: turned by the eyeLook morphs
    nodes = anim.rig.document["nodes"]
    for node, delta in world_deltas(find_head_bones(anim.rig.document), rot):
        q = tracks[nodes[node]["name"]]["deltas"]
        delta = Rotation.from_quat(delta)  # world_deltas gives quaternions (xyzw)
        assert np.degrees((delta.inv() * Rotation.from_quat(q)).magnitude()).max() < 1e-3
        assert np.all(np.sum(q[1:] * q[:-1], axis=1) > 0)  # continuous signs
    # The rests the Blender side needs: Ready Player Me's neck is tilted 14 degrees forward.
    neck = Rotation.from_quat(tracks["Neck"]["rest_world"])
    assert np.degrees(neck.magnitude()) == pytest.approx(14.2, abs=0.1)
    assert tracks["Head"]["parent_rest_world"] == tracks["Neck"]["rest_world"]


def _addon_module(name: str):
    """An add-on module that does not need bpy, loaded by path (the package's __init__ does)."""
    path = blender.ADDON_DIR / "voxface_lipsync" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_voxface_addon_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining classes
    spec.loader.exec_module(module)
    return module


def test_addon_readers_agree_with_voxface(tmp_path):
    """The add-on reads Live Link CSV and our JSON as voxface itself does."""
    from voxface.exporters.json_curves import write_json
    from voxface.exporters.livelink import read_livelink, take_to_curves

    io = _addon_module("curves_io")
    take = io.read_take(LIVELINK)
    ref = take_to_curves(read_livelink(LIVELINK))
    assert take.fps == ref.fps and len(take.times) == ref.n_frames
    lower = [n.lower() for n in take.names]
    for j, name in enumerate(ARKIT_52):
        np.testing.assert_allclose(take.values[:, lower.index(name.lower())],
                                   ref.values[:, j], atol=1e-6)
    anim = handmade_animation(30.0)
    write_json(anim, tmp_path / "c.json")
    take = io.read_take(tmp_path / "c.json")
    assert take.names == ARKIT_52 and take.audio == AUDIO.name and take.fps == 30.0
    np.testing.assert_allclose(take.values, anim.curves.values, atol=TOL)
    np.testing.assert_allclose(take.times, anim.curves.times)
    with pytest.raises(io.TakeError, match="Timecode,BlendShapeCount"):
        io.read_take(TRANSCRIPT)


# --- in Blender -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def handmade_blend(tmp_path_factory):
    """A .blend written by the exporter from hand-made curves, Blender's report on it, and
    Blender's glTF export of it."""
    from voxface.exporters.json_curves import write_json

    tmp = tmp_path_factory.mktemp("blend")
    anim = handmade_animation(30.0)
    write_json(anim, tmp / "curves.json")
    EXPORTERS["blend"].write(anim, tmp / "speech.blend")
    report, gltf, binary = inspect_blend(tmp / "speech.blend", tmp)
    return json.loads((tmp / "curves.json").read_text()), report, gltf, binary, tmp


@needs_blender
def test_blend_action_keys_equal_json_curves(handmade_blend):
    doc, report, *_ = handmade_blend
    values = np.asarray(doc["values"])
    for mesh in DRIVEN:
        m = report["meshes"][mesh]
        # One action named after the audio, one slot per driven mesh.
        assert m["action"] == AUDIO.stem and m["slot"] == mesh
        assert_keys_match(m["curves"], doc["names"], values, frame0=0)
    undriven = {k: v for k, v in report["meshes"].items() if k not in DRIVEN}
    assert all(v["action"] is None for v in undriven.values())
    # Curves without head / eye rotations: the bones stay at rest.
    assert report["armatures"] and all(a["action"] is None and not a["curves"]
                                       for a in report["armatures"].values())


@needs_blender
def test_blend_scene_timing_and_sound(handmade_blend):
    doc, report, _, _, tmp = handmade_blend
    n = len(doc["values"])
    assert (report["fps"], report["fps_base"]) == (30, 1.0)
    assert (report["frame_start"], report["frame_end"]) == (0, n - 1)
    (strip,) = report["strips"]
    assert strip["type"] == "SOUND" and strip["frame_start"] == 0
    assert strip["raw_filepath"].startswith("//")  # relative to the .blend, Blender's default
    assert Path(os.path.normpath(strip["filepath"])).resolve() == AUDIO.resolve()
    assert abs(strip["frame_final_duration"] - doc["duration"] * 30) <= 1  # the audio loaded
    assert report["sync_mode"] == "AUDIO_SYNC" and report["use_audio_scrub"]
    assert sorted(p.name for p in tmp.iterdir() if p.suffix in (".blend", ".blend1", ".part")) \
        == ["speech.blend"]


@needs_blender
def test_blender_gltf_export_keeps_the_morph_animation(handmade_blend):
    doc, _, gltf, binary, _ = handmade_blend
    (anim,) = gltf["animations"]
    assert anim["name"] == AUDIO.stem
    nodes = {gltf["nodes"][c["target"]["node"]]["name"]: c for c in anim["channels"]
             if c["target"]["path"] == "weights"}
    assert set(DRIVEN) <= set(nodes)
    head = gltf["nodes"][nodes["Wolf3D_Head"]["target"]["node"]]
    targets = gltf["meshes"][head["mesh"]]["extras"]["targetNames"]
    sampler = anim["samplers"][nodes["Wolf3D_Head"]["sampler"]]
    times = accessor(gltf, binary, sampler["input"])[:, 0]
    weights = accessor(gltf, binary, sampler["output"]).reshape(len(times), len(targets))
    values = np.asarray(doc["values"])
    np.testing.assert_allclose(times, np.arange(len(values)) / 30.0, atol=1e-4)
    for name in ("jawOpen", "mouthFunnel", "eyeBlinkLeft"):
        np.testing.assert_allclose(weights[:, targets.index(name)],
                                   values[:, doc["names"].index(name)], atol=TOL)


@needs_blender
def test_cli_blend_matches_glb_with_map_at_ntsc_fps(tmp_path):
    """The real pipeline at 29.97 fps with a `--map`: Blender stores the rate as 30 / 1.001,
    and every mesh's keys equal the weights of the .glb written beside it, mapped targets too."""
    out = tmp_path / "out"
    (tmp_path / "map.json").write_text(json.dumps(
        {"viseme_aa": "jawOpen", "viseme_O": {"arkit": "mouthFunnel", "scale": 0.5}}))
    assert main([str(AUDIO), "--rig", str(RPM), "--transcript", str(TRANSCRIPT), "--fps", "29.97",
                 "--map", str(tmp_path / "map.json"), "--format", "blend,glb,json",
                 "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{AUDIO.stem}{s}" for s in (".blend", ".glb", ".json"))
    doc = json.loads((out / f"{AUDIO.stem}.json").read_text())
    report, exported, _ = inspect_blend(out / f"{AUDIO.stem}.blend", tmp_path,
                                        animated_glb=out / f"{AUDIO.stem}.glb")
    assert report["fps"] == 30 and report["fps"] / report["fps_base"] == pytest.approx(29.97)
    assert (report["frame_start"], report["frame_end"]) == (0, len(doc["values"]) - 1)

    gltf, binary = read_glb(out / f"{AUDIO.stem}.glb")
    (anim,) = gltf["animations"]
    weight_channels = [c for c in anim["channels"] if c["target"]["path"] == "weights"]
    # head / neck bone rotations travel in the same animation, and in the .blend's action
    assert all(c["target"]["path"] == "rotation" for c in anim["channels"]
               if c not in weight_channels)
    assert_bones_follow_glb(report, out / f"{AUDIO.stem}.glb", AUDIO.stem)
    # Blender's own glTF export of the .blend: still one animation, weights and bones.
    (exported_anim,) = exported["animations"]
    paths = {(exported["nodes"][c["target"]["node"]]["name"], c["target"]["path"])
             for c in exported_anim["channels"]}
    assert {("Wolf3D_Head", "weights"), ("Head", "rotation"), ("Neck", "rotation")} <= paths
    for channel in weight_channels:
        node = gltf["nodes"][channel["target"]["node"]]
        targets = gltf["meshes"][node["mesh"]]["extras"]["targetNames"]
        weights = accessor(gltf, binary, anim["samplers"][channel["sampler"]]["output"])
        weights = weights.reshape(-1, len(targets))
        curves = report["meshes"][node["name"]]["curves"]
        assert set(curves) <= set(targets) and len(curves) >= 52
        for name, fc in curves.items():
            co = np.asarray(fc["co"])
            np.testing.assert_allclose(co[:, 0], np.arange(len(weights)), atol=1e-3)
            np.testing.assert_allclose(co[:, 1], weights[:, targets.index(name)], atol=1e-6,
                                       err_msg=f"{node['name']} {name}")
    head = report["meshes"]["Wolf3D_Head"]["curves"]
    assert {"viseme_aa", "viseme_O"} <= set(head)
    values = np.asarray(doc["values"])
    for name in ("jawOpen", "mouthFunnel"):
        np.testing.assert_allclose(np.asarray(head[name]["co"])[:, 1],
                                   values[:, doc["names"].index(name)], atol=TOL)
    np.testing.assert_allclose(np.asarray(head["viseme_O"]["co"])[:, 1],
                               0.5 * values[:, doc["names"].index("mouthFunnel")], atol=TOL)


@needs_blender
def test_cli_blend_turns_fitme_head_like_glb(tmp_path):
    """The bundled fitme head: the .blend's neck and head follow the .glb's nods in world space
    (its eyes are turned by morph targets, so neither file rotates the eye bones); with
    `--no-head --no-gaze` no bone is keyed."""
    example = REPO / "assets/example.wav"  # transcript beside it (example.txt)
    out = tmp_path / "out"
    assert main([str(example), "--format", "blend,glb", "-o", str(out), "-q"]) == 0
    report, _, _ = inspect_blend(out / "example.blend", tmp_path, animated_glb=out / "example.glb")
    assert_bones_follow_glb(report, out / "example.glb", "example")
    assert sorted(report["armatures"]["fitme_skin"]["bones"]) == ["head", "neck"]

    # A rig that brings its own animation of those bones (the .glb just written): Blender
    # imports it posed at that animation's first frame, but the keys start from the rest pose.
    again = tmp_path / "again"
    assert main([str(example), "--rig", str(out / "example.glb"), "--format", "blend,glb",
                 "-o", str(again), "-q"]) == 0
    report, _, _ = inspect_blend(again / "example.blend", tmp_path)
    # Blender names the rig's own action "example" (and the meshes it animates "Head.001",
    # ...), so ours is "example.001".
    (action,) = {m["action"] for m in report["meshes"].values() if m["action"]}
    assert action.startswith("example")
    assert_bones_follow_glb(report, again / "example.glb", action)

    still = tmp_path / "still"
    assert main([str(example), "--format", "blend", "--no-head", "--no-gaze", "-o", str(still),
                 "-q"]) == 0
    report, _, _ = inspect_blend(still / "example.blend", tmp_path)
    assert report["meshes"]["Head"]["action"] == "example"  # the shape keys are still keyed
    assert all(a["action"] is None and not a["curves"] for a in report["armatures"].values())


@needs_blender
def test_addon_install_and_operators(tmp_path):
    """Install and enable the zip in headless Blender, then run Import (our JSON, a name map,
    a Live Link CSV) and Animate from audio (the real `animate`)."""
    from voxface.exporters.json_curves import write_json

    animate = shutil.which("animate", path=str(Path(sys.executable).parent)) or \
        shutil.which("animate")
    assert animate, "the `animate` command of this environment is not installed"
    zpath = tmp_path / "lipsync_addon.zip"
    blender.build_addon_zip(zpath)
    write_json(handmade_animation(30.0), tmp_path / "curves.json")
    # The `animate --map` format: shape key -> curve (x scale); names ignore case.
    (tmp_path / "map.json").write_text(json.dumps(
        {"VISEME_AA": "JAWOPEN", "viseme_O": {"arkit": "mouthFunnel", "scale": 0.5}}))
    head = ["Wolf3D_Head"]
    runs = [
        {"operator": "import_speech", "select": ["Wolf3D_Head", "Wolf3D_Teeth"],
         "args": {"filepath": str(tmp_path / "curves.json")}},
        {"operator": "import_speech", "select": head,
         "args": {"filepath": str(tmp_path / "curves.json"),
                  "name_map": str(tmp_path / "map.json")}},
        {"operator": "import_speech", "select": head, "args": {"filepath": str(LIVELINK)}},
        {"operator": "animate_audio", "select": head,
         "args": {"filepath": str(AUDIO), "transcript": str(TRANSCRIPT)}},
    ]
    config = {"zip": str(zpath), "module": blender.ADDON_PACKAGE, "animate": animate,
              "rig": str(RPM), "runs": runs}
    (tmp_path / "config.json").write_text(json.dumps(config))
    user = tmp_path / "blender_user"  # install into a throwaway Blender user folder
    bpy_run("addon", str(tmp_path / "config.json"), str(tmp_path / "report.json"),
            env={"BLENDER_USER_RESOURCES": str(user)})
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["panel"]
    assert (user / "scripts/addons/voxface_lipsync/__init__.py").is_file()
    assert [r["result"] for r in report["runs"]] == [["FINISHED"]] * 4
    doc = json.loads((tmp_path / "curves.json").read_text())
    values = np.asarray(doc["values"])

    r = report["runs"][0]  # JSON onto two selected meshes, from the scene's first frame (1)
    assert (r["fps"], r["frame_start"], r["frame_end"]) == (30, 1, len(values))
    for mesh in ("Wolf3D_Head", "Wolf3D_Teeth"):
        assert_keys_match(r["meshes"][mesh]["curves"], doc["names"], values, frame0=1)
    assert r["meshes"]["EyeLeft"]["action"] is None  # not selected

    curves = report["runs"][1]["meshes"]["Wolf3D_Head"]["curves"]  # with the name map
    assert len(curves) == 54  # the 52 by their own names, and the two mapped visemes
    np.testing.assert_allclose(np.asarray(curves["viseme_aa"]["co"])[:, 1],
                               values[:, doc["names"].index("jawOpen")], atol=TOL)
    np.testing.assert_allclose(np.asarray(curves["viseme_O"]["co"])[:, 1],
                               0.5 * values[:, doc["names"].index("mouthFunnel")], atol=TOL)

    r = report["runs"][2]  # Live Link CSV: capitalised columns, 30 fps rows, 60 fps timecode
    take = _addon_module("curves_io").read_take(LIVELINK)
    curves = r["meshes"]["Wolf3D_Head"]["curves"]
    assert r["fps"] == 30 and len(curves) == 52
    co = np.asarray(curves["jawOpen"]["co"])
    np.testing.assert_allclose(co[:, 0], 1 + take.times * 30, atol=1e-3)
    np.testing.assert_allclose(co[:, 1], take.values[:, take.names.index("JawOpen")], atol=TOL)

    r = report["runs"][3]  # Animate from audio: same curves as running `animate` ourselves
    subprocess.run([animate, str(AUDIO), "--transcript", str(TRANSCRIPT), "--fps", "30",
                    "--format", "json", "-q", "-o", str(tmp_path / "ref")], check=True)
    ref = json.loads((tmp_path / "ref" / f"{AUDIO.stem}.json").read_text())
    m = r["meshes"]["Wolf3D_Head"]
    assert m["action"] == AUDIO.stem
    assert_keys_match(m["curves"], ref["names"], np.asarray(ref["values"]), frame0=1)
    (strip,) = r["strips"]
    assert Path(strip["filepath"]).resolve() == AUDIO.resolve() and strip["frame_start"] == 1
