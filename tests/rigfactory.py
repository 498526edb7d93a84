"""Build test rigs of every kind voxface handles, from the real Ready Player Me head.

The geometry and morph targets are the RPM avatar's `Wolf3D_Head` (2,162 vertices, 67 targets:
52 ARKit + 15 Oculus visemes; read from ../shared at test time, never copied into the repo).
Each builder writes one small, valid glTF 2.0 file exercising one case:

  arkit_head        ARKit-named targets (any subset, any renaming)      -> partial / custom map
  oculus_only       the 15 visemes only
  vrm1 / vrm0       VRM 1.0 (VRMC_vrm) / 0.x (VRM) expressions bound to VRoid-style targets
  quantized         KHR_mesh_quantization: SHORT-normalised POSITION, BYTE-normalised NORMAL and
                    TANGENT targets
  sparse            sparse POSITION and NORMAL target accessors (no bufferView)
  multi_primitive   the head split into two primitives sharing the targets
  instanced         one mesh used by two nodes, one with its own default weights
  as_gltf           any of the above as .gltf + external .bin + a data-URI image

Everything is plain JSON + numpy; `GltfBuilder` is a minimal writer over voxface's own glTF
I/O (`voxface.rigs.gltf_io`: GLB container, accessor reading, constants).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from voxface.rigs import gltf_io as G

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RPM = SHARED / "assets/rigs/rpm_brunette.glb"

FLOAT, BYTE, UBYTE, SHORT, USHORT, UINT = (G.FLOAT, G.BYTE, G.UNSIGNED_BYTE, G.SHORT,
                                           G.UNSIGNED_SHORT, G.UNSIGNED_INT)
_NP = G.COMPONENT_DTYPES
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = G.ARRAY_BUFFER, G.ELEMENT_ARRAY_BUFFER
# 1x1 PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAF"
                       "BQIAX8jx0gAAAABJRU5ErkJggg==")


# ----------------------------------------------------------------------------------------------
# The source head


@dataclass(frozen=True)
class Head:
    positions: np.ndarray  # float32 [N, 3]
    normals: np.ndarray    # float32 [N, 3], unit
    uvs: np.ndarray        # float32 [N, 2]
    indices: np.ndarray    # uint16 [M]
    targets: dict          # name -> float32 [N, 3] POSITION deltas, in file order


@lru_cache(maxsize=1)
def rpm_head() -> Head:
    doc, blob = G.read_glb(RPM)
    mesh = next(m for m in doc["meshes"] if m["name"] == "Wolf3D_Head")
    prim = mesh["primitives"][0]
    get = lambda i: G.read_accessor(doc, (blob,), i)  # noqa: E731
    normals = get(prim["attributes"]["NORMAL"]).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    targets = {name: get(t["POSITION"]).astype(np.float32)
               for name, t in zip(mesh["extras"]["targetNames"], prim["targets"])}
    return Head(positions=get(prim["attributes"]["POSITION"]).astype(np.float32),
                normals=normals, uvs=get(prim["attributes"]["TEXCOORD_0"]).astype(np.float32),
                indices=get(prim["indices"]).reshape(-1).astype(np.uint16), targets=targets)


def _tangents(normals: np.ndarray) -> np.ndarray:
    """Unit tangents orthogonal to the normals, w = 1 (VEC4)."""
    up = np.where(np.abs(normals[:, 1:2]) < 0.9, [[0, 1, 0]], [[1, 0, 0]]).astype(np.float32)
    t = np.cross(up, normals)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    return np.concatenate([t, np.ones((len(t), 1), np.float32)], axis=1).astype(np.float32)


def _normal_deltas(head: Head, delta: np.ndarray) -> np.ndarray:
    """Plausible NORMAL target deltas: the normal tilted by the shape's motion (small)."""
    tilted = head.normals + 2.0 * delta
    tilted /= np.linalg.norm(tilted, axis=1, keepdims=True)
    return (tilted - head.normals).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# A minimal glTF writer


class GltfBuilder:
    def __init__(self) -> None:
        self.doc: dict = {"asset": {"version": "2.0", "generator": "voxface tests/rigfactory"},
                          "scene": 0, "scenes": [{"nodes": []}], "nodes": [], "meshes": [],
                          "buffers": [], "bufferViews": [], "accessors": []}
        self.blob = bytearray()

    def _view(self, data: bytes, target: int | None = None) -> int:
        self.blob += b"\0" * (-len(self.blob) % 4)
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.blob += data
        self.doc["bufferViews"].append(view)
        return len(self.doc["bufferViews"]) - 1

    def accessor(self, values: np.ndarray, component: int = FLOAT, *, normalized: bool = False,
                 minmax: bool = False, target: int | None = ARRAY_BUFFER) -> int:
        """A dense accessor; values are written as `component` (already quantised if integer)."""
        values = np.asarray(values)
        width = 1 if values.ndim == 1 else values.shape[1]
        kind = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}[width]
        arr = np.ascontiguousarray(values.astype(_NP[component]))
        if arr.dtype.itemsize * width % 4:  # vertex attributes need 4-byte aligned elements
            assert target != ARRAY_BUFFER, "pad integer attributes to 4 bytes"
        acc = {"bufferView": self._view(arr.tobytes(), target), "componentType": component,
               "count": int(len(arr)), "type": kind}
        if normalized:
            acc["normalized"] = True
        if minmax:
            acc.update(_minmax(arr.reshape(len(arr), width), component, normalized))
        self.doc["accessors"].append(acc)
        return len(self.doc["accessors"]) - 1

    def sparse_accessor(self, values: np.ndarray, *, minmax: bool = False) -> int:
        """A float VEC3 accessor with no bufferView: zeros plus sparse rows where non-zero."""
        values = np.asarray(values, np.float32)
        rows = np.flatnonzero(np.any(values != 0, axis=1)).astype(np.uint32)
        if rows.size == 0:
            rows = np.array([0], np.uint32)  # sparse.count must be >= 1
        acc = {"componentType": FLOAT, "count": int(len(values)), "type": "VEC3",
               "sparse": {"count": int(rows.size),
                          "indices": {"bufferView": self._view(rows.tobytes()),
                                      "componentType": UINT},
                          "values": {"bufferView": self._view(values[rows].tobytes())}}}
        if minmax:
            acc.update(_minmax(values, FLOAT, False))
        self.doc["accessors"].append(acc)
        return len(self.doc["accessors"]) - 1

    def add_mesh(self, name: str, primitives: list[dict], target_names: Sequence[str],
                 weights: Sequence[float] | None = None) -> int:
        mesh: dict = {"name": name, "primitives": primitives,
                      "extras": {"targetNames": list(target_names)}}
        if weights is not None:
            mesh["weights"] = [float(w) for w in weights]
        self.doc["meshes"].append(mesh)
        return len(self.doc["meshes"]) - 1

    def add_node(self, name: str, mesh: int | None = None, *, root: bool = True,
                 **extra) -> int:
        node = {"name": name, **extra}
        if mesh is not None:
            node["mesh"] = mesh
        self.doc["nodes"].append(node)
        index = len(self.doc["nodes"]) - 1
        if root:
            self.doc["scenes"][0]["nodes"].append(index)
        return index

    def use_extension(self, name: str, required: bool = False) -> None:
        self.doc.setdefault("extensionsUsed", []).append(name)
        if required:
            self.doc.setdefault("extensionsRequired", []).append(name)

    def _finish(self) -> tuple[dict, bytes]:
        doc = json.loads(json.dumps(self.doc))
        blob = bytes(self.blob) + b"\0" * (-len(self.blob) % 4)
        doc["buffers"] = [{"byteLength": len(blob)}]
        return doc, blob

    def save_glb(self, path: Path) -> Path:
        doc, blob = self._finish()
        path.write_bytes(G.glb_bytes(doc, blob))
        return path

    def save_gltf(self, path: Path, *, image_data_uri: bool = True) -> Path:
        """`path` (.gltf) + `<stem>.bin` beside it; optionally a textured material whose PNG
        is a data URI."""
        doc, blob = self._finish()
        bin_name = path.with_suffix(".bin").name
        (path.parent / bin_name).write_bytes(blob)
        doc["buffers"][0]["uri"] = bin_name
        if image_data_uri:
            doc["images"] = [{"uri": "data:image/png;base64," + base64.b64encode(PNG).decode()}]
            doc["textures"] = [{"source": 0}]
            doc["materials"] = [{"name": "skin",
                                 "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}]
            for mesh in doc["meshes"]:
                for prim in mesh["primitives"]:
                    prim["material"] = 0
        path.write_text(json.dumps(doc, indent=1))
        return path


def _minmax(arr: np.ndarray, component: int, normalized: bool) -> dict:
    lo, hi = arr.min(axis=0), arr.max(axis=0)
    if component == FLOAT:
        return {"min": [float(np.float32(x)) for x in lo],
                "max": [float(np.float32(x)) for x in hi]}
    return {"min": [int(x) for x in lo], "max": [int(x) for x in hi]}


# ----------------------------------------------------------------------------------------------
# Rig builders


def _quantize(values: np.ndarray, component: int) -> np.ndarray:
    """Normalised signed integers for values in -1..1."""
    top = {BYTE: 127, SHORT: 32767}[component]
    return np.clip(np.round(values * top), -top, top).astype(_NP[component])


def _head_primitive(b: GltfBuilder, head: Head, target_names: Sequence[str], *,
                    sparse: bool = False, quantized: bool = False, normal_targets: bool = False,
                    tangents: bool = False, index_ranges: Sequence[tuple[int, int]] | None = None,
                    ) -> list[dict]:
    """The head's primitive(s) with the given RPM targets (by source name)."""
    attributes = {"POSITION": b.accessor(head.positions, minmax=True),
                  "NORMAL": b.accessor(head.normals),
                  "TEXCOORD_0": b.accessor(head.uvs)}
    if tangents:
        attributes["TANGENT"] = b.accessor(_tangents(head.normals))
    targets = []
    for name in target_names:
        delta = head.targets[name]
        t: dict = {}
        if sparse:
            t["POSITION"] = b.sparse_accessor(delta, minmax=True)
        elif quantized:
            # Deltas are metres (< 0.05); SHORT-normalised covers -1..1 m at 30 um steps.
            t["POSITION"] = b.accessor(_pad4(_quantize(delta, SHORT)), SHORT, normalized=True,
                                       minmax=True)
            b.doc["accessors"][-1]["type"] = "VEC3"  # see _pad4: the 4th short is padding
        else:
            t["POSITION"] = b.accessor(delta, minmax=True)
        if normal_targets:
            nd = _normal_deltas(head, delta)
            if sparse:
                t["NORMAL"] = b.sparse_accessor(nd)
            elif quantized:
                t["NORMAL"] = b.accessor(_pad4(_quantize(nd, BYTE)), BYTE, normalized=True)
                b.doc["accessors"][-1]["type"] = "VEC3"
            else:
                t["NORMAL"] = b.accessor(nd)
        if tangents:
            td = (0.5 * _normal_deltas(head, delta)).astype(np.float32)
            if quantized:
                t["TANGENT"] = b.accessor(_pad4(_quantize(td, BYTE)), BYTE, normalized=True)
                b.doc["accessors"][-1]["type"] = "VEC3"
            else:
                t["TANGENT"] = b.accessor(td)
        targets.append(t)
    tris = head.indices.reshape(-1, 3)
    ranges = index_ranges or [(0, len(tris))]
    prims = []
    for lo, hi in ranges:
        prims.append({"attributes": dict(attributes), "targets": [dict(t) for t in targets],
                      "indices": b.accessor(tris[lo:hi].reshape(-1), USHORT,
                                            target=ELEMENT_ARRAY_BUFFER)})
    return prims


def _pad4(q: np.ndarray) -> np.ndarray:
    """Integer VEC3 rows padded to 4 components so every element starts 4-byte aligned.

    The accessor is then declared VEC3 with a byteStride of 4 components (set by the caller
    through `_stride_fix`)."""
    return np.concatenate([q, np.zeros((len(q), 1), q.dtype)], axis=1)


def _fix_padded_strides(b: GltfBuilder) -> None:
    """Integer VEC3 accessors written as padded VEC4 rows: give their views the 4-wide stride."""
    for acc in b.doc["accessors"]:
        if acc.get("type") == "VEC3" and acc.get("componentType") in (BYTE, SHORT) \
                and "bufferView" in acc:
            size = np.dtype(_NP[acc["componentType"]]).itemsize
            b.doc["bufferViews"][acc["bufferView"]]["byteStride"] = 4 * size
            if "min" in acc:
                acc["min"], acc["max"] = acc["min"][:3], acc["max"][:3]


def build_head(path: Path, targets: Sequence[str] | dict[str, str], *,
               mesh_name: str = "Head", sparse: bool = False, quantized: bool = False,
               normal_targets: bool = False, tangents: bool = False, primitives: int = 1,
               nodes: int = 1, node_weights: dict[int, list[float]] | None = None,
               gltf: bool = False, extend: Callable[[GltfBuilder, int, list[int]], None]
               | None = None) -> Path:
    """The RPM head with the chosen targets. `targets`: RPM names, or {RPM name: new name}.

    extend(builder, mesh index, node indices) may add extensions (VRM) before saving.
    """
    head = rpm_head()
    if not isinstance(targets, dict):
        targets = {t: t for t in targets}
    b = GltfBuilder()
    n_tris = len(head.indices) // 3
    cuts = np.linspace(0, n_tris, primitives + 1).astype(int)
    prims = _head_primitive(b, head, list(targets), sparse=sparse, quantized=quantized,
                            normal_targets=normal_targets, tangents=tangents,
                            index_ranges=list(zip(cuts[:-1], cuts[1:])))
    _fix_padded_strides(b)
    if quantized:
        b.use_extension("KHR_mesh_quantization", required=True)
    mesh = b.add_mesh(mesh_name, prims, list(targets.values()))
    node_list = []
    for i in range(nodes):
        extra = {"translation": [0.3 * i, 0.0, 0.0]} if i else {}
        if node_weights and i in node_weights:
            extra["weights"] = node_weights[i]
        node_list.append(b.add_node(mesh_name if i == 0 else f"{mesh_name}.{i}", mesh, **extra))
    if extend is not None:
        extend(b, mesh, node_list)
    return b.save_gltf(path) if gltf else b.save_glb(path)


# Named cases ----------------------------------------------------------------------------------

def arkit_names() -> list[str]:
    from voxface.core.names import ARKIT_52

    return list(ARKIT_52)


def oculus_names() -> list[str]:
    from voxface.core.names import OCULUS_15

    return list(OCULUS_15)


# The 12 shapes the partial rig lacks: eyes looks, a few brows, cheeks, nose (and one mouth).
PARTIAL_DROPPED = ("eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
                   "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
                   "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "mouthDimpleLeft")


def partial_arkit(path: Path, **kw) -> Path:
    return build_head(path, [n for n in arkit_names() if n not in PARTIAL_DROPPED], **kw)


def oculus_only(path: Path, **kw) -> Path:
    return build_head(path, oculus_names(), **kw)


def custom_named(path: Path) -> tuple[Path, dict]:
    """ARKit targets renamed 'Jaw_Open', 'Mouth_Smile_L', ... plus the names.json mapping them
    (mouthSmile at scale 0.8). Returns (rig, map)."""
    rename = {}
    for n in arkit_names():
        words = "".join(f"_{c}" if c.isupper() else c for c in n)
        words = words.replace("_Left", "_L").replace("_Right", "_R")
        rename[n] = words[0].upper() + words[1:]
    mapping: dict = {new: old for old, new in rename.items()}
    mapping[rename["mouthSmileLeft"]] = {"arkit": "mouthSmileLeft", "scale": 0.8}
    mapping[rename["mouthSmileRight"]] = {"arkit": "mouthSmileRight", "scale": 0.8}
    mapping["Not_On_This_Rig"] = "tongueOut"
    return build_head(path, rename), mapping


# VRM: VRoid-style target names on the RPM head's visemes and blinks.
VROID = {"viseme_aa": "Fcl_MTH_A", "viseme_I": "Fcl_MTH_I", "viseme_U": "Fcl_MTH_U",
         "viseme_E": "Fcl_MTH_E", "viseme_O": "Fcl_MTH_O", "eyeBlinkLeft": "Fcl_EYE_Close_L",
         "eyeBlinkRight": "Fcl_EYE_Close_R", "mouthSmileLeft": "Fcl_MTH_Joy"}
VRM1_VOWEL_TARGET = {"aa": "Fcl_MTH_A", "ih": "Fcl_MTH_I", "ou": "Fcl_MTH_U", "ee": "Fcl_MTH_E",
                     "oh": "Fcl_MTH_O"}
# A bind weight below 1 on 'oh', to check weights are followed.
VRM_OH_WEIGHT = 0.8


def _vrm_meta() -> dict:
    return {"name": "voxface test head", "version": "1", "authors": ["voxface tests"],
            "licenseUrl": "https://vrm.dev/licenses/1.0/"}


def vrm1(path: Path) -> Path:
    names = list(VROID.values())
    index = {n: i for i, n in enumerate(names)}

    def extend(b: GltfBuilder, mesh: int, nodes: list[int]) -> None:
        node = nodes[0]

        def bind(target: str, weight: float = 1.0) -> dict:
            return {"node": node, "index": index[target], "weight": weight}

        preset = {v: {"morphTargetBinds": [bind(t, VRM_OH_WEIGHT if v == "oh" else 1.0)],
                      "isBinary": False, "overrideMouth": "none"}
                  for v, t in VRM1_VOWEL_TARGET.items()}
        preset["blink"] = {"morphTargetBinds": [bind("Fcl_EYE_Close_L"),
                                                bind("Fcl_EYE_Close_R")]}
        preset["blinkLeft"] = {"morphTargetBinds": [bind("Fcl_EYE_Close_L")]}
        preset["blinkRight"] = {"morphTargetBinds": [bind("Fcl_EYE_Close_R")]}
        preset["happy"] = {"morphTargetBinds": [bind("Fcl_MTH_Joy")]}
        preset["lookUp"] = {"morphTargetBinds": []}
        b.use_extension("VRMC_vrm")
        b.doc["extensions"] = {"VRMC_vrm": {
            "specVersion": "1.0", "meta": _vrm_meta(),
            "humanoid": {"humanBones": {"head": {"node": node}}},
            "expressions": {"preset": preset}}}

    return build_head(path, VROID, mesh_name="Face", extend=extend)


def vrm0(path: Path) -> Path:
    names = list(VROID.values())
    index = {n: i for i, n in enumerate(names)}

    def extend(b: GltfBuilder, mesh: int, nodes: list[int]) -> None:
        def group(name: str, preset: str, *targets: str, weight: float = 100.0) -> dict:
            return {"name": name, "presetName": preset, "isBinary": False,
                    "binds": [{"mesh": mesh, "index": index[t], "weight": weight}
                              for t in targets], "materialValues": []}

        groups = [group("Neutral", "neutral"),
                  group("A", "a", "Fcl_MTH_A"), group("I", "i", "Fcl_MTH_I"),
                  group("U", "u", "Fcl_MTH_U"), group("E", "e", "Fcl_MTH_E"),
                  group("O", "o", "Fcl_MTH_O", weight=100.0 * VRM_OH_WEIGHT),
                  group("Blink", "blink", "Fcl_EYE_Close_L", "Fcl_EYE_Close_R"),
                  group("Blink_L", "blink_l", "Fcl_EYE_Close_L"),
                  group("Blink_R", "blink_r", "Fcl_EYE_Close_R"),
                  group("Joy", "joy", "Fcl_MTH_Joy")]
        b.use_extension("VRM")
        b.doc["extensions"] = {"VRM": {
            "exporterVersion": "voxface-tests", "specVersion": "0.0",
            "meta": {"title": "voxface test head", "version": "1", "author": "voxface tests"},
            "humanoid": {"humanBones": [{"bone": "head", "node": nodes[0]}]},
            "blendShapeMaster": {"blendShapeGroups": groups}}}

    return build_head(path, VROID, mesh_name="Face", extend=extend)


def vrm1_perfect_sync(path: Path) -> Path:
    """VRM 1.0 whose mouth targets have VRoid names but custom expressions named after ARKit
    shapes bind them ("perfect sync")."""
    arkit = ["jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft",
             "mouthSmileRight", "eyeBlinkLeft", "eyeBlinkRight"]
    rename = {n: f"Fcl_PS_{n}" for n in arkit}

    def extend(b: GltfBuilder, mesh: int, nodes: list[int]) -> None:
        custom = {n: {"morphTargetBinds": [{"node": nodes[0], "index": i, "weight": 1.0}]}
                  for i, n in enumerate(arkit)}
        b.use_extension("VRMC_vrm")
        b.doc["extensions"] = {"VRMC_vrm": {
            "specVersion": "1.0", "meta": _vrm_meta(),
            "humanoid": {"humanBones": {"head": {"node": nodes[0]}}},
            "expressions": {"preset": {"blink": {"morphTargetBinds": [
                {"node": nodes[0], "index": 6, "weight": 1.0},
                {"node": nodes[0], "index": 7, "weight": 1.0}]}}, "custom": custom}}}

    return build_head(path, rename, mesh_name="Face", extend=extend)


def speech_arkit_subset() -> list[str]:
    """ARKit mouth shapes plus blinks: a compact ARKit target set for the geometry cases."""
    return ["jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft",
            "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthRollLower",
            "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
            "mouthUpperUpLeft", "mouthUpperUpRight", "tongueOut", "eyeBlinkLeft",
            "eyeBlinkRight"]


# ----------------------------------------------------------------------------------------------
# Reading an animated output back


def read_glb(path: Path) -> tuple[dict, bytes]:
    """(JSON document, BIN chunk) of a GLB file."""
    return G.read_glb(path)


def animated_weights(path: Path, node_name: str, animation: int = -1) -> np.ndarray:
    """The weights [T, n_targets] the given animation writes on the named node."""
    doc, blob = read_glb(path)
    anim = doc["animations"][animation]
    node = next(i for i, n in enumerate(doc["nodes"]) if n.get("name") == node_name)
    channel = next(c for c in anim["channels"] if c["target"]["node"] == node)
    sampler = anim["samplers"][channel["sampler"]]
    out = G.read_accessor(doc, (blob,), sampler["output"]).astype(np.float32).reshape(-1)
    n_frames = doc["accessors"][sampler["input"]]["count"]
    return out.reshape(n_frames, -1)


def target_names_of(path: Path, mesh_name: str) -> list[str]:
    doc, _ = read_glb(path)
    return next(m for m in doc["meshes"] if m["name"] == mesh_name)["extras"]["targetNames"]
