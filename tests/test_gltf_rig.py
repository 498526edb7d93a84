"""glTF rigs: loading, name matching, animated GLB output checked by the Khronos validator."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from pygltflib import GLTF2

from voxface.core.curves import Curves
from voxface.core.names import ARKIT_52, OCULUS_15
from voxface.core.errors import InputError
from voxface.rigs.gltf_rig import animate_rig, load_rig, match_targets, write_animated_glb

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RPM = SHARED / "assets/rigs/rpm_brunette.glb"
KHRONOS = sorted((SHARED / "assets/rigs/khronos").glob("*/glTF/*.gltf"))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dir_hashes(directory: Path) -> dict[str, str]:
    return {p.name: sha(p) for p in sorted(directory.iterdir()) if p.is_file()}


def smooth_curves(names, duration: float = 2.0, fps: float = 60.0, seed: int = 0) -> Curves:
    """Random but smooth weights in 0..1: a few sinusoids per column."""
    rng = np.random.default_rng(seed)
    n = Curves.n_frames_for(duration, fps)
    t = np.arange(n)[:, None] / fps
    freq = rng.uniform(0.3, 3.0, (1, len(names)))
    phase = rng.uniform(0, 2 * np.pi, (1, len(names)))
    values = 0.5 + 0.5 * np.sin(2 * np.pi * freq * t + phase)
    return Curves(fps=fps, names=tuple(names), values=values.astype(np.float32),
                  duration=duration)


def read_accessor(glb: GLTF2, index: int) -> np.ndarray:
    """Float32 SCALAR accessor of a loaded GLB, as a flat array."""
    acc = glb.accessors[index]
    view = glb.bufferViews[acc.bufferView]
    blob = glb.binary_blob()
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    assert acc.componentType == 5126 and acc.type == "SCALAR"
    return np.frombuffer(blob, dtype="<f4", count=acc.count, offset=start)


def glb_json(path: Path) -> dict:
    data = path.read_bytes()
    assert data[:4] == b"glTF"
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert version == 2 and length == len(data)
    json_len, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A and json_len % 4 == 0
    bin_len, bin_type = struct.unpack_from("<II", data, 20 + json_len)
    assert bin_type == 0x004E4942 and bin_len % 4 == 0
    assert 20 + json_len + 8 + bin_len == len(data)
    return json.loads(data[20:20 + json_len])


def check_self_contained(doc: dict) -> None:
    """One buffer in the GLB chunk, no external or data URIs, 4-byte aligned views."""
    assert len(doc["buffers"]) == 1 and "uri" not in doc["buffers"][0]
    assert all(v["buffer"] == 0 and v.get("byteOffset", 0) % 4 == 0 for v in doc["bufferViews"])
    for image in doc.get("images", []):
        assert "uri" not in image and "bufferView" in image and "mimeType" in image


# ---------------------------------------------------------------------------------------------
# Khronos conformance models (.gltf + external .bin)


@pytest.mark.parametrize("model", KHRONOS, ids=lambda p: p.stem)
def test_khronos_model_without_arkit_names_fails_clearly(model: Path) -> None:
    rig = load_rig(model)
    with pytest.raises(InputError) as err:
        match_targets(rig, ARKIT_52)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(model))
    assert "no morph target matches an ARKit blendshape name; the rig has targets:" in message
    for mesh in rig.meshes:
        assert mesh.name in message
        for name in mesh.target_names:
            assert name in message


@pytest.mark.parametrize("model", KHRONOS, ids=lambda p: p.stem)
def test_khronos_model_animated_with_its_own_names(model: Path, tmp_path: Path,
                                                   validate_glb) -> None:
    before = dir_hashes(model.parent)
    rig = load_rig(model)
    names = list(dict.fromkeys(n for m in rig.meshes for n in m.target_names))
    curves = smooth_curves(names, duration=1.0, fps=30.0)
    out = write_animated_glb(rig, curves, tmp_path / f"{model.stem}.glb")

    assert dir_hashes(model.parent) == before  # the input and its .bin / images untouched
    doc = glb_json(out)
    check_self_contained(doc)
    report = validate_glb(out)
    assert report["numErrors"] == 0, report["messages"]

    source = rig.document
    for key in ("nodes", "meshes", "materials", "textures", "images", "skins", "scenes"):
        assert len(doc.get(key, [])) == len(source.get(key, [])), key
    assert len(doc["animations"]) == len(source.get("animations", [])) + 1
    assert doc["animations"][:-1] == source.get("animations", [])  # existing ones kept as they were

    anim = doc["animations"][-1]
    assert anim["name"] == "speech"
    morph_nodes = {n for m in rig.meshes for n in m.nodes}
    assert {c["target"]["node"] for c in anim["channels"]} == morph_nodes
    assert all(c["target"]["path"] == "weights" for c in anim["channels"])
    assert all(s["interpolation"] == "LINEAR" for s in anim["samplers"])

    g = GLTF2().load(str(out))  # parses back
    times = read_accessor(g, anim["samplers"][0]["input"])
    np.testing.assert_allclose(times, np.arange(curves.n_frames) / curves.fps, atol=1e-6)
    time_acc = doc["accessors"][anim["samplers"][0]["input"]]
    assert time_acc["min"] == [0.0] and time_acc["max"] == [pytest.approx(curves.times[-1])]


def test_morph_stress_test_all_primitives_share_weights(tmp_path: Path, validate_glb) -> None:
    """MorphStressTest: 2 primitives x 8 targets (the first all zero), 3 animations, 3 images."""
    model = SHARED / "assets/rigs/khronos/MorphStressTest/glTF/MorphStressTest.gltf"
    rig = load_rig(model)
    (mesh,) = rig.meshes
    assert mesh.target_names == tuple(f"Key {i}" for i in range(1, 9)) and mesh.named_in_file
    # Drive 3 of 8 targets, with differently-cased names; the rest hold the default (0).
    curves = smooth_curves(["KEY 2", "key 5", "Key 8", "jawOpen"], duration=0.5)
    match = match_targets(rig, curves.names)
    assert match.meshes[0].targets == (1, 4, 7) and match.meshes[0].columns == (0, 1, 2)
    assert match.unmatched_curves == ("jawOpen",)
    out = write_animated_glb(rig, curves, tmp_path / "stress.glb", match=match, name="talk")
    assert validate_glb(out)["numErrors"] == 0

    g = GLTF2().load(str(out))
    anim = g.animations[-1]
    assert anim.name == "talk" and len(g.animations) == 4
    weights = read_accessor(g, anim.samplers[0].output).reshape(curves.n_frames, 8)
    np.testing.assert_array_equal(weights[:, [1, 4, 7]], curves.values[:, :3])
    np.testing.assert_array_equal(weights[:, [0, 2, 3, 5, 6]], 0.0)
    # Textures came from external PNGs; they are now inside the GLB, byte for byte.
    for i, image in enumerate(rig.document["images"]):
        view = g.bufferViews[g.images[i].bufferView]
        data = g.binary_blob()[view.byteOffset or 0:(view.byteOffset or 0) + view.byteLength]
        assert data == (model.parent / image["uri"]).read_bytes()


# ---------------------------------------------------------------------------------------------
# Ready Player Me avatar: ARKit names on head, teeth and both eyes


def test_rpm_avatar_arkit_curves(tmp_path: Path, validate_glb) -> None:
    before = sha(RPM)
    rig = load_rig(RPM)
    assert {m.name for m in rig.meshes} == {"Wolf3D_Head", "Wolf3D_Teeth", "EyeLeft", "EyeRight"}
    curves = smooth_curves(ARKIT_52, duration=2.0, fps=60.0)
    match = match_targets(rig, curves.names)
    assert match.unmatched_curves == ()
    for mm in match.meshes:
        assert len(mm.targets) == 52 and set(mm.unmatched_targets) == set(OCULUS_15)

    out = write_animated_glb(rig, curves, tmp_path / "rpm.glb")
    assert sha(RPM) == before
    assert not [p for p in tmp_path.iterdir() if p.name != "rpm.glb"]  # no temp file left
    report = validate_glb(out)
    assert report["numErrors"] == 0, report["messages"]

    g = GLTF2().load(str(out))
    src = rig.gltf
    for key in ("nodes", "meshes", "materials", "textures", "images", "skins", "accessors"):
        n_src = len(getattr(src, key))
        assert len(getattr(g, key)) >= n_src if key == "accessors" else len(getattr(g, key)) == n_src
    anim = g.animations[-1]
    driven = {g.nodes[c.target.node].name: c for c in anim.channels}
    assert set(driven) == {"Wolf3D_Head", "Wolf3D_Teeth", "EyeLeft", "EyeRight"}
    assert len(anim.channels) == 4

    head = rig.mesh(g.nodes[driven["Wolf3D_Head"].target.node].mesh)
    weights = read_accessor(g, anim.samplers[driven["Wolf3D_Head"].sampler].output)
    weights = weights.reshape(curves.n_frames, head.n_targets)
    for t, name in enumerate(head.target_names):
        if name in ARKIT_52:
            np.testing.assert_array_equal(weights[:, t], curves.column(name))
        else:
            np.testing.assert_array_equal(weights[:, t], head.default_weights[t])
    times = read_accessor(g, anim.samplers[0].input)
    assert times.size == 121 and times[-1] == pytest.approx(2.0)

    # Original data preserved: the skinned meshes still point at the same skin and material.
    for a, b in zip(src.nodes, g.nodes):
        assert (a.name, a.mesh, a.skin, a.children) == (b.name, b.mesh, b.skin, b.children)
    for a, b in zip(src.meshes, g.meshes):
        assert [p.material for p in a.primitives] == [p.material for p in b.primitives]


def test_rpm_long_audio_bytes_match(tmp_path: Path) -> None:

    rig = load_rig(RPM)
    curves = smooth_curves(ARKIT_52, duration=180.0, fps=60.0)
    data = animate_rig(rig, curves)
    out = write_animated_glb(rig, curves, tmp_path / "long.glb")
    assert out.read_bytes() == data


def test_write_refuses_to_overwrite_the_input(tmp_path: Path) -> None:
    copy = tmp_path / "rig.glb"
    copy.write_bytes(RPM.read_bytes())
    rig = load_rig(copy)
    with pytest.raises(InputError, match="refusing to overwrite"):
        write_animated_glb(rig, smooth_curves(ARKIT_52, 0.2), copy)
    assert sha(copy) == sha(RPM)


# ---------------------------------------------------------------------------------------------
# Small hand-made rigs


def tiny_gltf(targets: int = 2, names: list[str] | None = None, primitives: int = 1,
              nodes: int = 1, node_weights: list[float] | None = None) -> dict:
    """A one-triangle glTF with morph targets, all data in a base64 data-URI buffer."""
    pos = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    deltas = [np.array([[0, 0, 0.1 * (k + 1)]] * 3, np.float32) for k in range(targets)]
    blob = b"".join([pos.tobytes()] + [d.tobytes() for d in deltas])
    views, accessors = [], []
    for k, arr in enumerate([pos] + deltas):
        views.append({"buffer": 0, "byteOffset": 36 * k, "byteLength": 36, "target": 34962})
        accessors.append({"bufferView": k, "componentType": 5126, "count": 3, "type": "VEC3",
                          "min": arr.min(0).tolist(), "max": arr.max(0).tolist()})
    prim = {"attributes": {"POSITION": 0},
            "targets": [{"POSITION": k + 1} for k in range(targets)]}
    mesh: dict = {"name": "Face", "primitives": [dict(prim) for _ in range(primitives)],
                  "weights": [0.25] * targets}
    if names is not None:
        mesh["extras"] = {"targetNames": names}
    node_list = [{"name": f"face{i}", "mesh": 0, "translation": [2.0 * i, 0, 0]}
                 for i in range(nodes)]
    if node_weights is not None:
        node_list[-1]["weights"] = node_weights
    uri = "data:application/octet-stream;base64," + base64.b64encode(blob).decode()
    return {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": list(range(nodes))}],
            "nodes": node_list, "meshes": [mesh],
            "buffers": [{"byteLength": len(blob), "uri": uri}],
            "bufferViews": views, "accessors": accessors}


def test_instanced_mesh_multi_primitive_node_weights(tmp_path: Path, validate_glb) -> None:
    doc = tiny_gltf(2, ["JawOpen", "browDownLeft_extra"], primitives=2, nodes=3,
                    node_weights=[0.0, 0.7])
    png = base64.b64decode(  # 1x1 PNG, as a data URI without mimeType
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
    doc["images"] = [{"uri": "data:;base64," + base64.b64encode(png).decode()}]
    doc["textures"] = [{"source": 0}]
    path = tmp_path / "tiny.gltf"
    path.write_text(json.dumps(doc))
    rig = load_rig(path)
    assert rig.meshes[0].nodes == (0, 1, 2)
    curves = smooth_curves(ARKIT_52, duration=0.5, fps=30.0)
    out = write_animated_glb(rig, curves, tmp_path / "tiny.glb")
    report = validate_glb(out)
    assert report["numErrors"] == 0, report["messages"]
    check_self_contained(glb_json(out))
    g = GLTF2().load(str(out))
    assert g.images[0].mimeType == "image/png"
    anim = g.animations[-1]
    assert sorted(c.target.node for c in anim.channels) == [0, 1, 2]
    for c in anim.channels:
        w = read_accessor(g, anim.samplers[c.sampler].output).reshape(curves.n_frames, 2)
        np.testing.assert_array_equal(w[:, 0], curves.column("jawOpen"))
        # Unmatched target: the node's own weights override the mesh default (0.25).
        np.testing.assert_array_equal(w[:, 1], np.float32(0.7 if c.target.node == 2 else 0.25))


def test_targets_without_names(tmp_path: Path) -> None:
    path = tmp_path / "unnamed.gltf"
    path.write_text(json.dumps(tiny_gltf(3)))
    rig = load_rig(path)
    assert rig.meshes[0].target_names == ("target_0", "target_1", "target_2")
    assert not rig.meshes[0].named_in_file
    match = match_targets(rig, ["target_1"])
    assert match.meshes[0].targets == (1,)
    with pytest.raises(InputError, match=r"unnamed\.gltf: .*Face: target_0, target_1, target_2"):
        match_targets(rig, ARKIT_52)


def test_long_target_list_truncated_in_error(tmp_path: Path) -> None:
    path = tmp_path / "many.gltf"
    path.write_text(json.dumps(tiny_gltf(40, [f"shape{i}" for i in range(40)])))
    with pytest.raises(InputError) as err:
        match_targets(load_rig(path), ARKIT_52)
    assert "shape11, ... (+28 more)" in str(err.value) and "shape39" not in str(err.value)


# ---------------------------------------------------------------------------------------------
# Bad inputs: one-line InputError naming the file


def _raises(path: Path, pattern: str) -> str:
    with pytest.raises(InputError, match=pattern) as err:
        load_rig(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    return message


def test_text_file_renamed_glb(tmp_path: Path) -> None:
    path = tmp_path / "notes.glb"
    path.write_text("these are not the polygons you are looking for\n")
    _raises(path, "not a glTF file")


def test_truncated_glb(tmp_path: Path) -> None:
    path = tmp_path / "cut.glb"
    path.write_bytes(RPM.read_bytes()[:100_000])
    _raises(path, "truncated GLB")
    path.write_bytes(RPM.read_bytes()[:7])
    _raises(path, "truncated GLB")


def test_gltf_with_missing_bin(tmp_path: Path) -> None:
    source = SHARED / "assets/rigs/khronos/SimpleMorph/glTF/SimpleMorph.gltf"
    path = tmp_path / "SimpleMorph.gltf"
    path.write_bytes(source.read_bytes())  # without its two .bin files
    _raises(path, r"missing buffer file 'simpleMorphGeometry\.bin'")


def test_short_bin(tmp_path: Path) -> None:
    source = SHARED / "assets/rigs/khronos/SimpleMorph/glTF"
    for p in source.iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    (tmp_path / "simpleMorphAnimation.bin").write_bytes(b"\0" * 10)
    _raises(tmp_path / "SimpleMorph.gltf", r"truncated: buffer file 'simpleMorphAnimation\.bin'")


def _glb(doc: dict, binary: bytes = b"") -> bytes:
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    chunks = struct.pack("<II", len(text), 0x4E4F534A) + text
    if binary:
        chunks += struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def test_glb_without_morph_targets(tmp_path: Path) -> None:
    doc = tiny_gltf(0)
    pos = base64.b64decode(doc["buffers"][0].pop("uri").split(",")[1])
    path = tmp_path / "static.glb"
    path.write_bytes(_glb(doc, pos))
    message = _raises(path, "no morph targets")
    assert "Face" in message


def test_no_meshes_gltf1_and_compression(tmp_path: Path) -> None:
    path = tmp_path / "empty.glb"
    path.write_bytes(_glb({"asset": {"version": "2.0"}, "nodes": [{"name": "root"}]}))
    _raises(path, "has no meshes")

    path = tmp_path / "old.gltf"
    path.write_text(json.dumps({"asset": {"version": "1.0"}, "meshes": {"m": {}}}))
    _raises(path, "glTF 1.0")

    doc = tiny_gltf(2)
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    path = tmp_path / "draco.gltf"
    path.write_text(json.dumps(doc))
    _raises(path, "KHR_draco_mesh_compression.*decompress it first.*gltf-transform")


def test_missing_file() -> None:
    _raises(Path("/nonexistent/rig.glb"), "file not found")


def test_missing_output_directory(tmp_path: Path) -> None:
    rig = load_rig(RPM)
    with pytest.raises(InputError, match="output directory"):
        write_animated_glb(rig, smooth_curves(ARKIT_52, 0.2), tmp_path / "no" / "out.glb")


# ---------------------------------------------------------------------------------------------
# The plan given is the plan used; the one glTF I/O module


def test_given_plan_is_used_and_not_recomputed(tmp_path: Path, monkeypatch) -> None:
    """The writer takes the run's plan as it is: no re-planning, and what the plan says is what
    the file holds (a drive's weight changed by hand shows in the output)."""
    import dataclasses

    from voxface.rigs import gltf_rig
    from voxface.rigs.retarget import plan_rig

    model = SHARED / "assets/rigs/khronos/MorphStressTest/glTF/MorphStressTest.gltf"
    rig = load_rig(model)
    curves = smooth_curves(["Key 2", "Key 5"], duration=0.3)
    plan = plan_rig(rig, curves.names)
    first = plan.drives[0]
    plan = dataclasses.replace(plan, drives=(dataclasses.replace(first, weight=0.25),)
                               + plan.drives[1:])

    def no_planning(*args, **kwargs):
        raise AssertionError("the writer planned again")

    monkeypatch.setattr(gltf_rig, "plan_rig", no_planning)
    out = write_animated_glb(rig, curves, tmp_path / "given.glb", plan=plan)
    animate_rig(rig, curves, plan=plan)  # the in-memory writer too
    g = GLTF2().load(str(out))
    weights = read_accessor(g, g.animations[-1].samplers[0].output).reshape(curves.n_frames, 8)
    np.testing.assert_allclose(weights[:, first.target],
                               np.float32(0.25) * curves.values[:, 0], rtol=1e-6)
    with pytest.raises(AssertionError, match="planned again"):
        animate_rig(rig, curves)  # without a plan it must plan (and here cannot)


def test_gltf_io_reads_strided_normalized_and_sparse_accessors() -> None:
    """read_accessor against values written by hand: a strided, normalized SHORT VEC3 (signed
    values clamp at -1 as the spec says), an unnormalized UNSIGNED_BYTE SCALAR, and a sparse
    float VEC3 without a bufferView."""
    from voxface.rigs import gltf_io as G

    shorts = np.array([[32767, -32768, 0], [-16384, 1, 2]], "<i2")
    strided = np.zeros((2, 4), "<i2")  # 8-byte stride: 6 bytes of data + 2 of padding
    strided[:, :3] = shorts
    ubytes = np.array([0, 7, 255], "<u1")
    rows = np.array([1, 3], "<u4")
    values = np.array([[1.5, -2.0, 0.25], [3.0, 4.0, 5.0]], "<f4")
    blob = strided.tobytes() + ubytes.tobytes() + b"\0" + rows.tobytes() + values.tobytes()
    doc = {"bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 16, "byteStride": 8},
                           {"buffer": 0, "byteOffset": 16, "byteLength": 3},
                           {"buffer": 0, "byteOffset": 20, "byteLength": 8},
                           {"buffer": 0, "byteOffset": 28, "byteLength": 24}],
           "accessors": [{"bufferView": 0, "componentType": G.SHORT, "normalized": True,
                          "count": 2, "type": "VEC3"},
                         {"bufferView": 1, "componentType": G.UNSIGNED_BYTE, "count": 3,
                          "type": "SCALAR"},
                         {"componentType": G.FLOAT, "count": 4, "type": "VEC3",
                          "sparse": {"count": 2,
                                     "indices": {"bufferView": 2,
                                                 "componentType": G.UNSIGNED_INT},
                                     "values": {"bufferView": 3}}}]}
    a = G.read_accessor(doc, (blob,), 0)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, [[1.0, -1.0, 0.0], [-16384 / 32767, 1 / 32767, 2 / 32767]])
    b = G.read_accessor(doc, (blob,), 1)
    assert b.dtype == np.int64 and b[:, 0].tolist() == [0, 7, 255]
    c = G.read_accessor(doc, (blob,), 2)
    np.testing.assert_array_equal(c, [[0, 0, 0], values[0], [0, 0, 0], values[1]])


def test_gltf_io_glb_round_trip_and_errors() -> None:
    from voxface.rigs import gltf_io as G

    doc = {"asset": {"version": "2.0"}, "extras": {"name": "tête"}}
    data = G.glb_bytes(doc, b"abcde")
    assert len(data) % 4 == 0 and data[:4] == b"glTF"
    back, binary = G.parse_glb(data, "x.glb")
    assert back == doc and binary == b"abcde\0\0\0"
    with pytest.raises(InputError, match=r"^x\.glb: truncated GLB \(header says"):
        G.parse_glb(data[:-4], "x.glb")
    with pytest.raises(InputError, match="shorter than the 12-byte header"):
        G.parse_glb(data[:8], "x.glb")
