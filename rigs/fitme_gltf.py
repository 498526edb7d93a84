"""Minimal deterministic glTF 2.0 (GLB) writer for morph-target meshes (pygltflib).

Morph targets are written as sparse accessors (only moved vertices are stored, sharing one index
list between POSITION and NORMAL), which keeps a 90-target head within a few MB. POSITION
accessors (base and targets) carry exact float32 min/max, as the Khronos validator requires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pygltflib as gl

from voxface.rigs.gltf_io import (
    ARRAY_BUFFER,
    ELEMENT_ARRAY_BUFFER,
    FLOAT,
    UNSIGNED_BYTE,
    UNSIGNED_INT,
    UNSIGNED_SHORT,
    BinaryBuilder,
)


@dataclass
class MeshSpec:
    """One glTF mesh: shared vertex arrays, primitives [(material name, tris [M,3])], and
    morph targets [(name, dpos [N,3], dnrm [N,3])] shared by all its primitives."""

    name: str
    pos: np.ndarray
    nrm: np.ndarray
    uv: np.ndarray
    prims: list[tuple[str, np.ndarray]]
    targets: list[tuple[str, np.ndarray, np.ndarray | None]] = field(default_factory=list)
    joints: np.ndarray | None = None  # [N,4] joint indices into the skin's joint list
    weights: np.ndarray | None = None  # [N,4] uint8 skin weights /255, rows summing to 255
    colors: np.ndarray | None = None  # [N,4] uint8 vertex colours (COLOR_0, normalized)


@dataclass
class JointSpec:
    """One skeleton joint: name, parent joint index (-1 = the skeleton root) and its rest
    position in model space (m); joints are not rotated at rest."""

    name: str
    parent: int
    pos: tuple[float, float, float]


@dataclass
class MaterialSpec:
    """PBR material: linear base colour RGBA, roughness (metallic is 0)."""

    name: str
    rgba: tuple[float, float, float, float]
    roughness: float
    double_sided: bool = False


class _Blob:
    """The one binary buffer (`gltf_io.BinaryBuilder`) and its pygltflib buffer views."""

    def __init__(self) -> None:
        self.data = BinaryBuilder()
        self.views: list[gl.BufferView] = []

    def add(self, arr: np.ndarray, target: int | None = None, stride: int | None = None) -> int:
        """Append a little-endian array as a new 4-byte aligned buffer view; returns its index."""
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        offset = self.data.add(raw)
        self.views.append(gl.BufferView(buffer=0, byteOffset=offset, byteLength=len(raw), target=target,
                                        byteStride=stride))
        return len(self.views) - 1


def _minmax(a: np.ndarray) -> tuple[list[float], list[float]]:
    a32 = a.astype(np.float32)
    return [float(v) for v in a32.min(0)], [float(v) for v in a32.max(0)]


def write_glb(path: str | Path, meshes: list[MeshSpec], materials: list[MaterialSpec],
              root_name: str = "fitme", extras: dict | None = None,
              joints: list[JointSpec] | None = None, quantize_targets: bool = False) -> None:
    """Write meshes to a .glb.

    Without `joints`: each mesh under its own node, all children of one root node.
    With `joints`: the joint hierarchy (its root joint named `root_name`'s skeleton) and one
    skin over all joints; meshes that carry joints/weights are skinned, and every mesh node is a
    scene root with no transform of its own (as the glTF spec recommends for skinned meshes).

    quantize_targets: store morph target deltas as normalized integers (KHR_mesh_quantization):
    POSITION as shorts (1/32767 m steps, so deltas must stay within +-1 m), NORMAL as bytes;
    a target's NORMAL may be None (not stored)."""
    blob = _Blob()
    accessors: list[gl.Accessor] = []

    def acc(**kw) -> int:
        accessors.append(gl.Accessor(**kw))
        return len(accessors) - 1

    def dense(arr: np.ndarray, typ: str, with_minmax: bool, target: int | None = ARRAY_BUFFER) -> int:
        a32 = arr.astype(np.float32)
        kw = {}
        if with_minmax:
            kw["min"], kw["max"] = _minmax(a32)
        return acc(bufferView=blob.add(a32, target), componentType=FLOAT, count=len(a32), type=typ, **kw)

    def sparse_or_dense(d32: np.ndarray, mn, mx, name: str) -> int:
        """Accessor for one target attribute: sparse (indices of non-zero rows + their values)
        unless nearly every row moves."""
        n = len(d32)
        moved = np.nonzero(np.any(d32 != 0, axis=1))[0]
        kw = {"min": mn, "max": mx} if mn is not None else {}
        if len(moved) > n * 0.85 or len(moved) == 0:
            return acc(bufferView=blob.add(d32, ARRAY_BUFFER), componentType=FLOAT, count=n,
                       type=gl.VEC3, name=name, **kw)
        it = np.uint16 if n < 65536 else np.uint32
        sp = gl.Sparse(count=len(moved),
                       indices=gl.AccessorSparseIndices(bufferView=blob.add(moved.astype(it)),
                                                        componentType=UNSIGNED_SHORT if it is np.uint16 else UNSIGNED_INT),
                       values=gl.AccessorSparseValues(bufferView=blob.add(d32[moved])))
        return acc(byteOffset=None, componentType=FLOAT, count=n, type=gl.VEC3, sparse=sp, name=name, **kw)

    def quantised(d: np.ndarray, dtype, name: str, with_minmax: bool, idx_view: int | None) -> int:
        """Normalized-integer target accessor: sparse over the rows that move (sharing one index
        view per target when given), dense with a 4-byte aligned stride when most rows move."""
        info = np.iinfo(dtype)
        q = np.clip(np.round(d * info.max), -info.max, info.max).astype(dtype)
        n = len(q)
        moved = np.nonzero(np.any(q != 0, axis=1))[0]
        kw = {}
        if with_minmax:  # min/max of an integer accessor are its stored integers
            kw["min"] = [int(v) for v in q.min(0)]
            kw["max"] = [int(v) for v in q.max(0)]
        ct = gl.SHORT if dtype is np.int16 else gl.BYTE
        if len(moved) > n * 0.6 or len(moved) == 0:
            width = 8 if dtype is np.int16 else 4
            padded = np.zeros((n, width // np.dtype(dtype).itemsize), dtype)
            padded[:, :3] = q
            return acc(bufferView=blob.add(padded, gl.ARRAY_BUFFER, stride=width), componentType=ct,
                       normalized=True, count=n, type=gl.VEC3, name=name, **kw), None
        it = np.uint16 if n < 65536 else np.uint32
        if idx_view is None:
            idx_view = blob.add(moved.astype(it))
        sp = gl.Sparse(count=len(moved),
                       indices=gl.AccessorSparseIndices(bufferView=idx_view,
                                                        componentType=gl.UNSIGNED_SHORT if it is np.uint16 else gl.UNSIGNED_INT),
                       values=gl.AccessorSparseValues(bufferView=blob.add(q[moved])))
        return acc(byteOffset=None, componentType=ct, normalized=True, count=n, type=gl.VEC3, sparse=sp,
                   name=name, **kw), idx_view

    mat_index = {m.name: i for i, m in enumerate(materials)}
    gl_mats = [gl.Material(name=m.name, doubleSided=bool(m.double_sided),
                           pbrMetallicRoughness=gl.PbrMetallicRoughness(
                               baseColorFactor=[float(c) for c in m.rgba], metallicFactor=0.0,
                               roughnessFactor=float(m.roughness)))
               for m in materials]
    gl_meshes = []
    skins = []
    if joints:
        nodes = []
        for j in joints:
            pp = np.zeros(3) if j.parent < 0 else np.asarray(joints[j.parent].pos, float)
            nodes.append(gl.Node(name=j.name, translation=[float(v) for v in np.float32(np.asarray(j.pos) - pp)]))
        for i, j in enumerate(joints):
            if j.parent >= 0:
                nodes[j.parent].children.append(i)
        # world transforms are pure translations: the inverse bind matrix of a joint is the
        # translation by minus its world position (summed in float32 as a reader would)
        world = []
        for i, j in enumerate(joints):
            t = np.asarray(nodes[i].translation, np.float32)
            world.append(t if j.parent < 0 else world[j.parent] + t)
        ibm = np.zeros((len(joints), 16), np.float32)
        for i, w in enumerate(world):
            m = np.eye(4, dtype=np.float32)
            m[:3, 3] = -w
            ibm[i] = m.T.ravel()  # column-major
        a_ibm = acc(bufferView=blob.add(ibm), componentType=FLOAT, count=len(joints), type=gl.MAT4)
        skins.append(gl.Skin(name=f"{root_name}_skin", inverseBindMatrices=a_ibm,
                             skeleton=0, joints=list(range(len(joints)))))
        scene_nodes = [0]
    else:
        nodes = [gl.Node(name=root_name, children=[])]
        scene_nodes = [0]
    for ms in meshes:
        n = len(ms.pos)
        a_pos = dense(ms.pos, gl.VEC3, True)
        if quantize_targets:  # KHR_mesh_quantization: normals as shorts, UVs as unsigned shorts
            qn = np.zeros((n, 4), np.int16)
            qn[:, :3] = np.round(ms.nrm * 32767)
            a_nrm = acc(bufferView=blob.add(qn, gl.ARRAY_BUFFER, stride=8), componentType=gl.SHORT,
                        normalized=True, count=n, type=gl.VEC3)
            a_uv = acc(bufferView=blob.add(np.round(np.clip(ms.uv, 0, 1) * 65535).astype(np.uint16),
                                           gl.ARRAY_BUFFER), componentType=gl.UNSIGNED_SHORT,
                       normalized=True, count=n, type=gl.VEC2)
        else:
            a_nrm = dense(ms.nrm, gl.VEC3, False)
            a_uv = dense(ms.uv, gl.VEC2, False)
        targets = []
        for tname, dp, dn in ms.targets:
            if quantize_targets:
                tp, _ = quantised(dp, np.int16, f"{ms.name}/{tname}/POSITION", True, None)
                attrs = {"POSITION": tp}
                if dn is not None and np.any(np.round(dn * 127)):
                    attrs["NORMAL"] = quantised(dn, np.int8, f"{ms.name}/{tname}/NORMAL", False, None)[0]
                targets.append(gl.Attributes(**attrs))
                continue
            dp32, dn32 = dp.astype(np.float32), dn.astype(np.float32)
            mn, mx = _minmax(dp32)
            tp = sparse_or_dense(dp32, mn, mx, f"{ms.name}/{tname}/POSITION")
            tn = sparse_or_dense(dn32, None, None, f"{ms.name}/{tname}/NORMAL")
            targets.append(gl.Attributes(POSITION=tp, NORMAL=tn))
        skinned = joints and ms.joints is not None
        attr_kw = {}
        if skinned:
            attr_kw["JOINTS_0"] = acc(bufferView=blob.add(ms.joints.astype(np.uint8), ARRAY_BUFFER),
                                      componentType=UNSIGNED_BYTE, count=n, type=gl.VEC4)
            attr_kw["WEIGHTS_0"] = acc(bufferView=blob.add(ms.weights.astype(np.uint8), ARRAY_BUFFER),
                                       componentType=UNSIGNED_BYTE, normalized=True, count=n,
                                       type=gl.VEC4)
        if ms.colors is not None:
            attr_kw["COLOR_0"] = acc(bufferView=blob.add(ms.colors.astype(np.uint8), gl.ARRAY_BUFFER),
                                     componentType=gl.UNSIGNED_BYTE, normalized=True, count=n, type=gl.VEC4)
        prims = []
        for mname, tris in ms.prims:
            it = np.uint16 if n < 65536 else np.uint32
            ia = acc(bufferView=blob.add(tris.astype(it).ravel(), ELEMENT_ARRAY_BUFFER),
                     componentType=UNSIGNED_SHORT if it is np.uint16 else UNSIGNED_INT,
                     count=tris.size, type=gl.SCALAR)
            prims.append(gl.Primitive(attributes=gl.Attributes(POSITION=a_pos, NORMAL=a_nrm, TEXCOORD_0=a_uv,
                                                               **attr_kw),
                                      indices=ia, material=mat_index[mname], mode=gl.TRIANGLES,
                                      targets=list(targets) if targets else None))
        kw = {}
        if ms.targets:
            kw["weights"] = [0.0] * len(ms.targets)
            kw["extras"] = {"targetNames": [t[0] for t in ms.targets]}
        gl_meshes.append(gl.Mesh(name=ms.name, primitives=prims, **kw))
        if joints:
            nodes.append(gl.Node(name=ms.name, mesh=len(gl_meshes) - 1, skin=0 if skinned else None))
            scene_nodes.append(len(nodes) - 1)
        else:
            nodes.append(gl.Node(name=ms.name, mesh=len(gl_meshes) - 1))
            nodes[0].children.append(len(nodes) - 1)
    binary = blob.data.finish()
    g = gl.GLTF2(
        asset=gl.Asset(version="2.0", generator="voxface fitme"),
        scene=0, scenes=[gl.Scene(name=root_name, nodes=scene_nodes)], nodes=nodes, meshes=gl_meshes,
        skins=skins,
        materials=gl_mats, accessors=accessors, bufferViews=blob.views,
        buffers=[gl.Buffer(byteLength=len(binary))], extras=extras or {})
    if quantize_targets:
        g.extensionsUsed = ["KHR_mesh_quantization"]
        g.extensionsRequired = ["KHR_mesh_quantization"]
    g.set_binary_blob(binary)
    g.save_binary(str(path))
