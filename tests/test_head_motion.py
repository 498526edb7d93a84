"""Head nods and gaze in the animated GLB: `rotation` channels on head, neck and eye bones
(voxface.rigs.head_pose, written by gltf_rig.animate_rig).

References are independent of the implementation: rotation matrices built by hand from the
documented convention (D = Ry(-yaw) Rx(pitch) Rz(-roll), face frame +X left, +Y up, +Z forward),
world orientations composed from the GLB's own node hierarchy, the numpy renderer's skinning for
where the nose goes, real Live Link captures for the eye signs. Tolerance 1e-5 (float32 keys).
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import numpy as np
import pytest
from pygltflib import GLTF2

from voxface.core.curves import Curves
from voxface.core.names import ARKIT_52, LIVE_LINK_EXTRAS
from voxface.engine.nonverbal import NonverbalOptions, apply_nonverbal, nonverbal_motion
from voxface.core.alignment import Alignment, Interval
from voxface.rigs.gltf_io import glb_bytes, read_glb
from voxface.rigs.gltf_rig import animate_rig, load_rig, write_animated_glb
from voxface.rigs.head_pose import NECK_SHARE, find_head_bones

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FITME = REPO / "assets/fitme.glb"
RPM = SHARED / "assets/rigs/rpm_brunette.glb"
CAPTURE = SHARED / "assets/curves/livelink/alex_rom_3.csv"
KHRONOS = sorted((SHARED / "assets/rigs/khronos").glob("*/glTF/*.gltf"))
FPS = 30.0
# Curve names without the eyeLook* shapes: then no morph turns the eyeballs, and the eye bones
# take the gaze (with eyeLook* driven, fitme's and RPM's eye bones stay at rest).
NO_LOOK = tuple(n for n in ARKIT_52 if not n.startswith("eyeLook"))


# ---------------------------------------------------------------------------------------------
# Hand-made references


def rx(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def delta(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The documented convention, in glTF's frame for a model facing +Z."""
    return ry(-yaw) @ rx(pitch) @ rz(-roll)


def qmat(q) -> np.ndarray:
    """3x3 matrix of a glTF quaternion (x, y, z, w)."""
    x, y, z, w = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def rotation_curves(n: int = 61, *, head: bool = True, eyes: bool = True,
                    scale: float = 0.15, names=NO_LOOK) -> Curves:
    """Curves (jawOpen moving) with rotations: a different sinusoid per angle."""
    t = np.arange(n) / FPS
    values = np.zeros((n, len(names)), np.float32)
    values[:, names.index("jawOpen")] = 0.3 + 0.2 * np.sin(t)
    rot = np.zeros((n, len(LIVE_LINK_EXTRAS)), np.float32)
    for k, name in enumerate(LIVE_LINK_EXTRAS):
        if (name.startswith("Head") and head) or (not name.startswith("Head") and eyes):
            rot[:, k] = scale * np.sin(2 * np.pi * (0.4 + 0.13 * k) * t + k)
    duration = (n - 1) / FPS
    c = Curves(fps=FPS, names=names, values=values, duration=duration)
    c.extras["rotations"] = Curves(fps=FPS, names=LIVE_LINK_EXTRAS, values=rot,
                                   duration=duration)
    return c


def read_floats(g: GLTF2, index: int, width: int) -> np.ndarray:
    acc = g.accessors[index]
    view = g.bufferViews[acc.bufferView]
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    assert acc.componentType == 5126
    return np.frombuffer(g.binary_blob(), "<f4", acc.count * width, start).reshape(acc.count,
                                                                                   width)


def rotation_channels(g: GLTF2) -> dict[str, np.ndarray]:
    """{node name: float32 [T, 4]} for the last animation's rotation channels."""
    anim = g.animations[-1]
    out = {}
    for ch in anim.channels:
        if ch.target.path == "rotation":
            s = anim.samplers[ch.sampler]
            assert s.interpolation == "LINEAR" and g.accessors[s.output].type == "VEC4"
            out[g.nodes[ch.target.node].name] = read_floats(g, s.output, 4)
    return out


def parents(g: GLTF2) -> dict[int, int]:
    return {c: i for i, n in enumerate(g.nodes) for c in (n.children or [])}


def world_rotation(g: GLTF2, node: int, local: dict[int, np.ndarray]) -> np.ndarray:
    """World 3x3 rotation of `node`, with `local` {node: quaternion} overriding rest ones."""
    up = parents(g)
    m = np.eye(3)
    i = node
    while i is not None:
        m = qmat(local.get(i, g.nodes[i].rotation or [0, 0, 0, 1])) @ m
        i = up.get(i)
    return m


def node_index(g: GLTF2, name: str) -> int:
    return [n.name for n in g.nodes].index(name)


# ---------------------------------------------------------------------------------------------
# Signs: the engine's eye angles agree with real Live Link captures


def speech(seconds: float) -> Alignment:
    phones, t, k = [], 0.3, 0
    labels = ["M", "AY1", "T", "S", "IY0", "P", "UW1", "F", "ER0", "N", "AE1", "D"]
    while t < seconds - 0.5:
        phones.append(Interval(labels[k % len(labels)], t, t + 0.08))
        t += 0.08 + (0.5 if k % 25 == 24 else 0.0)
        k += 1
    return Alignment(words=(), phones=tuple(phones), duration=seconds)


def capture_correlations(columns: list[str], values: np.ndarray) -> dict[str, float]:
    c = {n.lower(): values[:, k] for k, n in enumerate(columns)}
    corr = lambda a, b: float(np.corrcoef(a, b)[0, 1])  # noqa: E731
    return {
        "left pitch ~ down": corr(c["lefteyepitch"], c["eyelookdownleft"] - c["eyelookupleft"]),
        "left yaw ~ in": corr(c["lefteyeyaw"], c["eyelookinleft"] - c["eyelookoutleft"]),
        "right yaw ~ out": corr(c["righteyeyaw"], c["eyelookoutright"] - c["eyelookinright"]),
    }


def test_engine_eye_angles_have_live_link_signs():
    if not CAPTURE.exists():
        pytest.skip(f"{CAPTURE} not present")
    with CAPTURE.open(newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0][2:]
    captured = np.array([[float(x) for x in r[2:]] for r in rows[1:] if len(r) == len(rows[0])])
    real = capture_correlations(header, captured)
    assert all(v > 0.95 for v in real.values()), real  # the capture's own convention

    al = speech(20.0)
    c = apply_nonverbal(Curves.zeros(al.duration, 60.0), nonverbal_motion(al, None, fps=60.0))
    rot = c.extras["rotations"]
    names = list(ARKIT_52) + list(rot.names)
    ours = capture_correlations(names, np.concatenate([c.values, rot.values], axis=1))
    assert all(v > 0.5 for v in ours.values()), ours  # same signs as the capture
    # Nods: HeadPitch bumps are positive (= looking down in Live Link's convention).
    no_drift = nonverbal_motion(al, None, fps=60.0, options=NonverbalOptions(
        blinks=False, brows=False, gaze=False))
    assert no_drift["HeadPitch"].max() > abs(no_drift["HeadPitch"].min())


# ---------------------------------------------------------------------------------------------
# The GLB's rotation channels


@pytest.mark.parametrize("rig_path", [FITME, RPM], ids=["fitme", "rpm"])
def test_rotation_channels_are_rest_times_delta(rig_path: Path, tmp_path: Path):
    if not rig_path.exists():
        pytest.skip(f"{rig_path} not present")
    rig = load_rig(rig_path)
    curves = rotation_curves()
    out = write_animated_glb(rig, curves, tmp_path / "out.glb")
    g = GLTF2().load(str(out))
    anim = g.animations[-1]
    weights = [c for c in anim.channels if c.target.path == "weights"]
    rotations = [anim.samplers[c.sampler] for c in anim.channels if c.target.path == "rotation"]
    assert weights and len(rotations) == 4
    assert {s.input for s in rotations} == {anim.samplers[0].input}  # the weights' time keys

    tracks = rotation_channels(g)
    if rig_path == FITME:
        head, neck, eyes = "head", "neck", ("eyeLeft", "eyeRight")
    else:
        head, neck, eyes = "Head", "Neck", ("LeftEye", "RightEye")
    assert set(tracks) == {head, neck, *eyes}
    for q in tracks.values():
        assert q.shape == (curves.n_frames, 4)
        np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-6)
        assert np.all(np.sum(q[1:] * q[:-1], axis=1) > 0)  # no sign flips between keys

    rot = curves.extras["rotations"]
    col = {n: rot.column(n).astype(np.float64) for n in rot.names}
    ih, ine = node_index(g, head), node_index(g, neck)
    ieyes = [node_index(g, e) for e in eyes]
    rest_world = {i: world_rotation(g, i, {}) for i in (ih, ine, *ieyes)}
    for f in range(0, curves.n_frames, 7):
        local = {node_index(g, n): q[f].astype(np.float64) for n, q in tracks.items()}
        d = delta(col["HeadYaw"][f], col["HeadPitch"][f], col["HeadRoll"][f])
        # The head ends exactly at the Live Link orientation, whatever the neck takes.
        np.testing.assert_allclose(world_rotation(g, ih, local), d @ rest_world[ih], atol=1e-5)
        # The neck takes NECK_SHARE of it (same axis): rest * (W^-1 D^0.4 W).
        w = world_rotation(g, ine, local)
        angle = np.arccos(np.clip((np.trace(d) - 1) / 2, -1, 1))
        neck_angle = np.arccos(np.clip((np.trace(w @ rest_world[ine].T) - 1) / 2, -1, 1))
        assert neck_angle == pytest.approx(NECK_SHARE * angle, abs=1e-5)
        # Eyes: their Live Link rotation relative to the (moved) head.
        for side, i in zip(("Left", "Right"), ieyes):
            e = delta(col[f"{side}EyeYaw"][f], col[f"{side}EyePitch"][f],
                      col[f"{side}EyeRoll"][f])
            np.testing.assert_allclose(world_rotation(g, i, local), d @ e @ rest_world[i],
                                       atol=1e-5)
    # On fitme every rest rotation is the identity: the head's key is the delta itself.
    if rig_path == FITME:
        f = 10
        d = delta(col["HeadYaw"][f], col["HeadPitch"][f], col["HeadRoll"][f])
        np.testing.assert_allclose(qmat(tracks["eyeLeft"][f]), delta(
            col["LeftEyeYaw"][f], col["LeftEyePitch"][f], col["LeftEyeRoll"][f]), atol=1e-5)
        assert not np.allclose(qmat(tracks["head"][f]), np.eye(3), atol=1e-3)
        np.testing.assert_allclose(qmat(tracks["neck"][f]) @ qmat(tracks["head"][f]), d,
                                   atol=1e-5)


def posed_glb(src: Path, dst: Path, frame: int) -> Path:
    """A copy of an animated GLB with the bones set (at rest) to frame `frame`'s rotations."""
    g = GLTF2().load(str(src))
    for name, q in rotation_channels(g).items():
        g.nodes[node_index(g, name)].rotation = [float(x) for x in q[frame]]
    g.save_binary(str(dst))
    return dst


def test_fitme_nose_and_eyes_move_the_documented_way(tmp_path: Path):
    """Rendered through the numpy renderer's skinning: pitch > 0 puts the nose down, yaw > 0
    turns it to the character's right (-X), roll > 0 tips the crown to its left (+X), eye
    pitch > 0 lowers the pupils."""
    from voxface.rigs.render import load_glb

    rig = load_rig(FITME)
    rest = {m.name.split("/")[0]: m.pos for m in load_glb(FITME)}
    head = rest["Head"]
    nose = int(np.argmax(head[:, 2]))
    crown = int(np.argmax(head[:, 1]))
    pupil = int(np.argmax(rest["EyeLeft"][:, 2]))
    for name, sign, check in (
            ("HeadPitch", 1, lambda p: p["Head"][nose, 1] < head[nose, 1] - 0.003),
            ("HeadYaw", 1, lambda p: p["Head"][nose, 0] < head[nose, 0] - 0.003),
            ("HeadRoll", 1, lambda p: p["Head"][crown, 0] > head[crown, 0] + 0.003),
            ("LeftEyePitch", 1, lambda p: p["EyeLeft"][pupil, 1] < rest["EyeLeft"][pupil, 1]
             - 0.001),
            ("LeftEyeYaw", 1, lambda p: p["EyeLeft"][pupil, 0] < rest["EyeLeft"][pupil, 0]
             - 0.001)):
        curves = Curves.zeros(1.0, FPS, NO_LOOK)
        rot = np.zeros((curves.n_frames, len(LIVE_LINK_EXTRAS)), np.float32)
        rot[:, LIVE_LINK_EXTRAS.index(name)] = sign * np.deg2rad(10.0)
        curves.extras["rotations"] = Curves(fps=FPS, names=LIVE_LINK_EXTRAS, values=rot,
                                            duration=1.0)
        out = write_animated_glb(rig, curves, tmp_path / f"{name}.glb")
        posed = {m.name.split("/")[0]: m.pos
                 for m in load_glb(posed_glb(out, tmp_path / "posed.glb", 5))}
        assert check(posed), name


@pytest.mark.parametrize("rig_path", [FITME, RPM], ids=["fitme", "rpm"])
def test_eyes_turned_by_morphs_keep_their_bones(rig_path: Path):
    """fitme's and RPM's eyeLook* targets rotate the eyeball meshes: driving the eye bones as
    well would double the gaze, so with eyeLook* among the curves only head and neck move."""
    if not rig_path.exists():
        pytest.skip(f"{rig_path} not present")
    rig = load_rig(rig_path)
    c = rotation_curves(names=ARKIT_52)
    assert len(rotation_channels(GLTF2.load_from_bytes(animate_rig(rig, c)))) == 2
    c = rotation_curves(names=NO_LOOK)
    assert len(rotation_channels(GLTF2.load_from_bytes(animate_rig(rig, c)))) == 4


def test_switched_off_motion_writes_no_rotation(tmp_path: Path):
    rig = load_rig(FITME)
    al = speech(4.0)
    base = Curves.zeros(al.duration, FPS, NO_LOOK)

    def channels(options: NonverbalOptions, **kw) -> dict[str, np.ndarray]:
        c = apply_nonverbal(base, nonverbal_motion(al, None, fps=FPS, options=options))
        g = GLTF2.load_from_bytes(animate_rig(rig, c, **kw))
        return rotation_channels(g)

    assert set(channels(NonverbalOptions())) == {"head", "neck", "eyeLeft", "eyeRight"}
    assert channels(NonverbalOptions(head=False, gaze=False)) == {}
    assert channels(NonverbalOptions(), rotations=False) == {}
    assert set(channels(NonverbalOptions(head=False))) == {"eyeLeft", "eyeRight"}
    assert set(channels(NonverbalOptions(gaze=False))) == {"head", "neck"}


def test_cli_no_head_no_gaze(tmp_path: Path):
    from voxface.cli import main

    wav = REPO / "assets/example.wav"
    for flags, expect in (([], 2), (["--no-head", "--no-gaze"], 0)):  # head and neck
        out = tmp_path / str(len(flags))
        assert main([str(wav), "-o", str(out), "--format", "glb", "-q", *flags]) in (0, None)
        g = GLTF2().load(str(out / "example.glb"))
        assert len(rotation_channels(g)) == expect, flags


@pytest.mark.parametrize("model", KHRONOS[:2], ids=lambda p: p.stem)
def test_rig_without_bones_gets_no_rotation(model: Path, tmp_path: Path):
    rig = load_rig(model)
    names = list(dict.fromkeys(n for m in rig.meshes for n in m.target_names))
    c = rotation_curves()
    curves = Curves(fps=FPS, names=tuple(names),
                    values=np.full((c.n_frames, len(names)), 0.5, np.float32),
                    duration=c.duration, extras=c.extras)
    doc = glb_json(write_animated_glb(rig, curves, tmp_path / "x.glb"))
    assert {ch["target"]["path"] for ch in doc["animations"][-1]["channels"]} == {"weights"}


def glb_json(path: Path) -> dict:
    return read_glb(path)[0]


def test_rotations_of_the_wrong_length_fail():
    rig = load_rig(FITME)
    c = rotation_curves()
    bad = Curves(fps=FPS, names=NO_LOOK, values=c.values[:-1], duration=c.duration,
                 extras=c.extras)
    with pytest.raises(ValueError, match="rotations"):
        animate_rig(rig, bad)


# ---------------------------------------------------------------------------------------------
# Finding bones


def skinned_doc(names: list[str], extensions: dict | None = None) -> dict:
    nodes = [{"name": n, "children": [i + 1]} for i, n in enumerate(names[:-1])]
    nodes.append({"name": names[-1]})
    doc = {"asset": {"version": "2.0"}, "nodes": nodes,
           "skins": [{"joints": list(range(len(names)))}]}
    if extensions:
        doc["extensions"] = extensions
    return doc


def test_bone_names_of_common_conventions():
    b = find_head_bones(skinned_doc(["mixamorig:Hips", "mixamorig:Neck", "mixamorig:Head",
                                     "mixamorig:LeftEye"]))
    assert (b.neck, b.head, b.left_eye, b.right_eye) == (1, 2, 3, None)
    b = find_head_bones(skinned_doc(["J_Bip_C_Neck", "J_Bip_C_Head", "J_Adj_L_FaceEye",
                                     "J_Adj_R_FaceEye"]))
    assert (b.neck, b.head, b.left_eye, b.right_eye) == (0, 1, 2, 3)
    b = find_head_bones(skinned_doc(["neck_01", "head", "eye.L", "eye.R"]))
    assert (b.neck, b.head, b.left_eye, b.right_eye) == (0, 1, 2, 3)
    # Only skin joints count: a mesh node named Head is not a bone.
    doc = skinned_doc(["Hips", "Spine"])
    doc["nodes"].append({"name": "Head", "mesh": 0})
    assert not find_head_bones(doc).any
    # VRM humanoid maps name the bones whatever they are called; VRM 0.x faces -Z.
    vrm0 = skinned_doc(["a", "b", "c", "d"], {"VRM": {"humanoid": {"humanBones": [
        {"bone": "neck", "node": 0}, {"bone": "head", "node": 1},
        {"bone": "leftEye", "node": 2}, {"bone": "rightEye", "node": 3}]}}})
    vrm0["nodes"][2]["translation"] = [-0.03, 0.05, -0.08]  # eyes in front, toward -Z
    vrm0["nodes"][3]["translation"] = [0.06, 0.0, 0.0]
    b = find_head_bones(vrm0)
    assert (b.neck, b.head, b.left_eye, b.right_eye, b.faces_minus_z) == (0, 1, 2, 3, True)
    vrm1 = skinned_doc(["a", "b"], {"VRMC_vrm": {"humanoid": {"humanBones": {
        "head": {"node": 1}}}}})
    b = find_head_bones(vrm1)
    assert (b.head, b.neck, b.faces_minus_z) == (1, None, False)


def test_matrix_bone_becomes_trs(tmp_path: Path, validate_glb):
    """A head bone given by `matrix` is rewritten as TRS (animated nodes must not have one)."""
    rig = load_rig(FITME)
    doc = copy.deepcopy(rig.document)
    head = doc["nodes"][2]
    t = head.pop("translation")
    head["matrix"] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, *t, 1]
    path = tmp_path / "matrix.glb"
    path.write_bytes(glb_bytes(doc, read_glb(FITME)[1]))
    out = write_animated_glb(load_rig(path), rotation_curves(), tmp_path / "out.glb")
    node = glb_json(out)["nodes"][2]
    assert "matrix" not in node and node["translation"] == pytest.approx(t)
    report = validate_glb(out)
    assert report["numErrors"] == 0, report["messages"]


# ---------------------------------------------------------------------------------------------
# Khronos validator


@pytest.mark.parametrize("rig_path", [FITME, RPM], ids=["fitme", "rpm"])
def test_validator_accepts_rotation_channels(rig_path: Path, tmp_path: Path, validate_glb):
    if not rig_path.exists():
        pytest.skip(f"{rig_path} not present")
    rig = load_rig(rig_path)
    al = speech(3.0)
    c = apply_nonverbal(Curves.zeros(al.duration, FPS, NO_LOOK),
                        nonverbal_motion(al, None, fps=FPS))
    with_rot = validate_glb(write_animated_glb(rig, c, tmp_path / "rot.glb"))
    without = validate_glb(write_animated_glb(rig, c, tmp_path / "plain.glb", rotations=False))
    assert with_rot["numErrors"] == 0, with_rot["messages"]
    codes = lambda r: sorted(m["code"] for m in r["messages"] if m["severity"] <= 1)  # noqa: E731
    assert codes(with_rot) == codes(without)  # no new warnings
    assert len(rotation_channels(GLTF2().load(str(tmp_path / "rot.glb")))) == 4
