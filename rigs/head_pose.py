"""Head and eye bone rotations for the animated GLB, from Live Link style angles.

`engine/nonverbal.py` makes head and eye rotation curves named like Live Link Face's columns
(`HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw, ...`, radians, `curves.extras["rotations"]`). Here
they become glTF node rotations: `find_head_bones` finds the bones, `rotation_tracks` turns the
angles into one local quaternion per frame and bone.

Bones (skin joints only: a mesh node called "Head" is not a bone), by name, case-insensitive,
ignoring `_ . - :` and a `mixamorig` / `Bip01` prefix, or from the VRM humanoid map:

* head: `head` (fitme, Ready Player Me, Mixamo, VRoid `J_Bip_C_Head`);
* neck (optional): `neck`, `neck_01`; when found it takes 40% of the head rotation and the
  head the rest, so the head still ends up exactly at the Live Link orientation;
* eyes: `eyeLeft` / `LeftEye` / `eye_L` / `L_eye` / VRoid `J_Adj_L_FaceEye`, and mirrored.

Angles -> rotation, in the face frame: +X the character's left, +Y up, +Z out of the face (glTF's
own frame for a model that faces +Z, as fitme and Ready Player Me do):

* pitch > 0: looks down; yaw > 0: turns to the character's right; roll > 0: the top of the head
  tilts toward the character's left shoulder (both eyes: the same for EyePitch / EyeYaw).
* D = Ry(-yaw) @ Rx(pitch) @ Rz(-roll) (roll applied first, yaw last).

The eye signs are Live Link Face's, measured on real captures (`LeftEyePitch` rises exactly when
`eyeLookDownLeft` does, `LeftEyeYaw` with `eyeLookInLeft` and `RightEyeYaw` with
`eyeLookOutRight`); the head uses the same frame (captures here have no head motion to measure).
A model whose eyes sit behind its head bone (-Z, e.g. VRM 0.x) gets the frame turned 180 degrees
about Y. The eye rotations are relative to the head, as ARKit's are.

Each bone's delta D (a rotation about axes fixed in the rig's rest pose, through the bone's own
pivot) is written in the bone's local frame: local = rest_local * (W^-1 D W), W the bone's rest
world rotation (its parent chain included), so a bone whose parents are rotated (Ready Player
Me's) turns about the same world axes as one whose are not (fitme's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from voxface.rigs.gltf_io import read_accessor

# Fraction of the head rotation the neck takes when the rig has a neck bone.
NECK_SHARE = 0.4

_HEAD = {"head", "jbipchead"}
_NECK = {"neck", "neck01", "neck1", "jbipcneck"}
_EYES = {
    "left": {"eyeleft", "lefteye", "eyel", "leye", "lefteyeball", "eyeballleft", "jadjlfaceeye"},
    "right": {"eyeright", "righteye", "eyer", "reye", "righteyeball", "eyeballright",
              "jadjrfaceeye"},
}
_VRM_BONES = {"head": "head", "neck": "neck", "leftEye": "left", "rightEye": "right"}
_ROT_NAMES = {"head": ("HeadYaw", "HeadPitch", "HeadRoll"),
              "left": ("LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll"),
              "right": ("RightEyeYaw", "RightEyePitch", "RightEyeRoll")}


@dataclass(frozen=True)
class HeadBones:
    """Node indices of the bones to rotate (None where the rig has none), and whether the face
    looks toward -Z instead of glTF's +Z."""

    head: int | None = None
    neck: int | None = None
    left_eye: int | None = None
    right_eye: int | None = None
    faces_minus_z: bool = False

    @property
    def any(self) -> bool:
        return any(n is not None for n in (self.head, self.left_eye, self.right_eye))


def _key(name: str) -> str:
    key = name.strip().lower().rsplit("|", 1)[-1]
    key = re.sub(r"[^a-z0-9]", "", key.rsplit(":", 1)[-1] if ":" in key else key)
    return re.sub(r"^(mixamorig\d*|bip0*1)", "", key)


def _vrm_humanoid(document: dict) -> dict[str, int]:
    """{'head'|'neck'|'left'|'right': node} from a VRM 0.x or 1.0 humanoid map ({} if none)."""
    ext = document.get("extensions")
    if not isinstance(ext, dict):
        return {}
    n_nodes = len(document.get("nodes") or [])
    out: dict[str, int] = {}

    def put(bone, node) -> None:
        if bone in _VRM_BONES and isinstance(node, int) and not isinstance(node, bool) \
                and 0 <= node < n_nodes:
            out.setdefault(_VRM_BONES[bone], node)

    vrm1 = ext.get("VRMC_vrm")
    if isinstance(vrm1, dict):
        bones = (vrm1.get("humanoid") or {}).get("humanBones") if isinstance(
            vrm1.get("humanoid"), dict) else None
        if isinstance(bones, dict):
            for bone, spec in bones.items():
                put(bone, spec.get("node") if isinstance(spec, dict) else None)
    vrm0 = ext.get("VRM")
    if isinstance(vrm0, dict) and isinstance(vrm0.get("humanoid"), dict):
        bones = vrm0["humanoid"].get("humanBones")
        for spec in bones if isinstance(bones, list) else []:
            if isinstance(spec, dict):
                put(spec.get("bone"), spec.get("node"))
    return out


def _parents(nodes: list) -> dict[int, int]:
    parents: dict[int, int] = {}
    for i, node in enumerate(nodes):
        for c in (node.get("children") or []) if isinstance(node, dict) else []:
            if isinstance(c, int) and 0 <= c < len(nodes):
                parents.setdefault(c, i)
    return parents


# Quaternion helpers (glTF order x, y, z, w; arrays [..., 4]). numpy only: scipy's Rotation
# costs ~0.4 s of import per process, a tenth of a one-minute `animate` run.


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b (apply b, then a), broadcasting over leading axes."""
    ax, ay, az, aw = np.moveaxis(np.asarray(a, np.float64), -1, 0)
    bx, by, bz, bw = np.moveaxis(np.asarray(b, np.float64), -1, 0)
    return np.stack([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz], axis=-1)


def _qinv(q: np.ndarray) -> np.ndarray:
    """Inverse of unit quaternions (the conjugate)."""
    return np.asarray(q, np.float64) * np.array([-1.0, -1.0, -1.0, 1.0])


def _qaxis(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotations by `angle` (radians, any shape) about coordinate axis 0/1/2."""
    angle = np.asarray(angle, np.float64)
    q = np.zeros(angle.shape + (4,))
    q[..., axis] = np.sin(0.5 * angle)
    q[..., 3] = np.cos(0.5 * angle)
    return q


def _qmatrix(q: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix of one unit quaternion."""
    x, y, z, w = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _qfrom_matrix(m: np.ndarray) -> np.ndarray:
    """Unit quaternion of a 3x3 rotation matrix (Shepperd's method: the largest of w, x, y, z
    is computed first, so it stays accurate near 180 degrees)."""
    m = np.asarray(m, np.float64)
    t = np.trace(m)
    k = int(np.argmax([m[0, 0], m[1, 1], m[2, 2], t]))
    if k == 3:
        q = np.array([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1], 1 + t])
    else:
        i, j, l = k, (k + 1) % 3, (k + 2) % 3
        q = np.empty(4)
        q[i] = 1 + 2 * m[i, i] - t
        q[j] = m[j, i] + m[i, j]
        q[l] = m[l, i] + m[i, l]
        q[3] = m[l, j] - m[j, l]
    return q / np.linalg.norm(q)


def _qrotvec(q: np.ndarray) -> np.ndarray:
    """Rotation vectors (axis * angle, radians) [..., 3] of unit quaternions [..., 4]."""
    q = np.asarray(q, np.float64)
    q = np.where(q[..., 3:4] < 0, -q, q)  # the short way round
    s = np.linalg.norm(q[..., :3], axis=-1)
    angle = 2 * np.arctan2(s, q[..., 3])
    scale = np.where(s > 1e-12, angle / np.maximum(s, 1e-300), 2.0)
    return q[..., :3] * scale[..., None]


def _qfrom_rotvec(v: np.ndarray) -> np.ndarray:
    """Unit quaternions [..., 4] of rotation vectors [..., 3]."""
    v = np.asarray(v, np.float64)
    angle = np.linalg.norm(v, axis=-1)
    scale = np.where(angle > 1e-12, np.sin(0.5 * angle) / np.maximum(angle, 1e-300), 0.5)
    return np.concatenate([v * scale[..., None], np.cos(0.5 * angle)[..., None]], axis=-1)


def _trs(node: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(translation, rotation xyzw, scale) of a node; None for a matrix that is not a
    rotation-and-positive-scale (shear, mirror), which this module does not animate."""
    m = node.get("matrix")
    if isinstance(m, list) and len(m) == 16:
        m = np.asarray(m, np.float64).reshape(4, 4).T  # glTF matrices are column-major
        lin = m[:3, :3]
        scale = np.linalg.norm(lin, axis=0)
        if np.any(scale < 1e-12):
            return None
        rot = lin / scale
        if np.linalg.det(rot) < 0 or not np.allclose(rot.T @ rot, np.eye(3), atol=1e-4):
            return None
        return m[:3, 3].copy(), _qfrom_matrix(rot), scale
    t = np.asarray(node.get("translation", (0.0, 0.0, 0.0)), np.float64)
    r = np.asarray(node.get("rotation", (0.0, 0.0, 0.0, 1.0)), np.float64)
    s = np.asarray(node.get("scale", (1.0, 1.0, 1.0)), np.float64)
    if t.shape != (3,) or r.shape != (4,) or s.shape != (3,) or not np.linalg.norm(r) > 0:
        return None
    return t, r / np.linalg.norm(r), s


def find_head_bones(document: dict) -> HeadBones:
    """The head, neck and eye bones of a glTF document (see the module docstring)."""
    nodes = document.get("nodes") or []
    joints: list[int] = []
    for skin in document.get("skins") or []:
        for j in (skin.get("joints") or []) if isinstance(skin, dict) else []:
            if isinstance(j, int) and 0 <= j < len(nodes) and j not in joints:
                joints.append(j)
    found = _vrm_humanoid(document)
    for j in sorted(joints):
        name = nodes[j].get("name") if isinstance(nodes[j], dict) else None
        if not isinstance(name, str):
            continue
        key = _key(name)
        for role, names in (("head", _HEAD), ("neck", _NECK), ("left", _EYES["left"]),
                            ("right", _EYES["right"])):
            if key in names:
                found.setdefault(role, j)
    found = {role: n for role, n in found.items()
             if isinstance(nodes[n], dict) and _trs(nodes[n]) is not None}
    if "neck" in found and "head" not in found:
        del found["neck"]
    bones = HeadBones(head=found.get("head"), neck=found.get("neck"),
                      left_eye=found.get("left"), right_eye=found.get("right"))
    if bones.head is not None and bones.left_eye is not None and bones.right_eye is not None:
        world = _world_positions(document)
        eyes = 0.5 * (world[bones.left_eye] + world[bones.right_eye]) - world[bones.head]
        if eyes[2] < 0 and abs(eyes[2]) > abs(eyes[0]):
            bones = HeadBones(bones.head, bones.neck, bones.left_eye, bones.right_eye, True)
    elif isinstance((document.get("extensions") or {}).get("VRM"), dict):
        bones = HeadBones(bones.head, bones.neck, bones.left_eye, bones.right_eye, True)
    return bones


def _world_rotations(document: dict):
    """A function node -> the node's rest world rotation (unit quaternion xyzw), for every
    node (identity for a node without a usable TRS)."""
    nodes = document.get("nodes") or []
    parents = _parents(nodes)
    cache: dict[int, np.ndarray] = {}

    def world(i: int, depth: int = 0) -> np.ndarray:
        if i not in cache:
            trs = _trs(nodes[i]) if isinstance(nodes[i], dict) else None
            local = trs[1] if trs is not None else np.array([0.0, 0.0, 0.0, 1.0])
            p = parents.get(i)
            cache[i] = (local if p is None or depth > len(nodes)
                        else _qmul(world(p, depth + 1), local))
        return cache[i]

    return world


def _world_positions(document: dict) -> dict[int, np.ndarray]:
    nodes = document.get("nodes") or []
    parents = _parents(nodes)
    out: dict[int, np.ndarray] = {}

    def matrix(i: int) -> np.ndarray:
        trs = _trs(nodes[i]) if isinstance(nodes[i], dict) else None
        m = np.eye(4)
        if trs is not None:
            t, r, s = trs
            m[:3, :3] = _qmatrix(r) * s
            m[:3, 3] = t
        return m

    def world(i: int, depth: int = 0) -> np.ndarray:
        p = parents.get(i)
        return matrix(i) if p is None or depth > len(nodes) else world(p, depth + 1) @ matrix(i)

    for i in range(len(nodes)):
        out[i] = world(i)[:3, 3]
    return out


def face_delta(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray, *,
               faces_minus_z: bool = False) -> np.ndarray:
    """World-axis delta rotations [T, 4] (quaternions xyzw) for Live Link angles (radians,
    [T]): Ry(-yaw) @ Rx(pitch) @ Rz(-roll) in the face frame, turned to the rig's frame."""
    d = _qmul(_qmul(_qaxis(1, -np.asarray(yaw, np.float64)),
                    _qaxis(0, np.asarray(pitch, np.float64))),
              _qaxis(2, -np.asarray(roll, np.float64)))
    if faces_minus_z:
        turn = _qaxis(1, np.pi)
        d = _qmul(_qmul(turn, d), _qinv(turn))
    return d


def world_deltas(bones: HeadBones, rotations) -> list[tuple[int, object]]:
    """[(node, world-axis delta rotations [T, 4], quaternions xyzw)] for the bones the
    rotation curves move.

    `rotations` is a Curves named like LIVE_LINK_EXTRAS (radians). A bone whose three angle
    columns are all zero (its motion switched off) is left out.
    """
    out: list[tuple[int, object]] = []

    def angles(role: str):
        cols = [rotations.values[:, rotations.names.index(n)].astype(np.float64)
                if n in rotations.names else np.zeros(rotations.n_frames)
                for n in _ROT_NAMES[role]]
        return cols if any(np.any(c != 0) for c in cols) else None

    head = angles("head") if bones.head is not None else None
    if head is not None:
        d = face_delta(*head, faces_minus_z=bones.faces_minus_z)
        if bones.neck is not None:
            rotvec = _qrotvec(d)
            out.append((bones.neck, _qfrom_rotvec(NECK_SHARE * rotvec)))
            d = _qfrom_rotvec((1.0 - NECK_SHARE) * rotvec)
        out.append((bones.head, d))
    for role, node in (("left", bones.left_eye), ("right", bones.right_eye)):
        eye = angles(role) if node is not None else None
        if eye is not None:
            out.append((node, face_delta(*eye, faces_minus_z=bones.faces_minus_z)))
    return out


def rotation_tracks(document: dict, rotations, *, bones: HeadBones | None = None,
                    skip=()) -> list[tuple[int, np.ndarray]]:
    """[(node, float64 [T, 4] local rotations, glTF xyzw)] for a document's head, neck and eye
    bones from Live Link rotation curves; [] when the rig has none of those bones.

    Each track is rest_local * (W^-1 D W) (module docstring), unit length, signs made
    continuous from frame to frame (so LINEAR interpolation takes the short way). `bones`
    defaults to `find_head_bones(document)`; nodes in `skip` get no track.
    """
    bones = find_head_bones(document) if bones is None else bones
    if not bones.any:
        return []
    world = _world_rotations(document)
    nodes = document["nodes"]
    tracks = []
    for node, delta in world_deltas(bones, rotations):
        if node in skip:
            continue
        rest = _trs(nodes[node])[1]
        w = world(node)
        q = _qmul(rest, _qmul(_qmul(_qinv(w), delta), w))
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        flip = np.cumsum(np.r_[0, (np.sum(q[1:] * q[:-1], axis=1) < 0)]) % 2 == 1
        q[flip] = -q[flip]
        if q[0] @ rest < 0:  # the same hemisphere as the node's rest rotation
            q = -q
        tracks.append((node, q))
    return tracks


def rest_world_rotation(document: dict, node: int) -> np.ndarray:
    """A node's rest rotation in the world frame (its parent chain included), float64 xyzw."""
    return _world_rotations(document)(node)


def world_axis_deltas(document: dict, node: int, quats: np.ndarray) -> np.ndarray:
    """A bone's local rotation track as rotations about the rig's world axes, relative to its
    rest: W (r^-1 q_t) W^-1, r the node's rest rotation, W its rest world rotation.

    For a track of `rotation_tracks` this is the bone's delta D again (the share of the Live
    Link rotation it turns, through its own pivot): what another program needs to turn its
    copy of the bone the same way, whatever axes its bones use (`--format blend`).

    Args:
        document: the glTF JSON the track belongs to (rest pose: nodes' TRS or matrix).
        node: the bone's node index.
        quats: float [T, 4] local rotations, glTF xyzw.

    Returns:
        float64 [T, 4] unit quaternions, xyzw, signs continuous from frame to frame.
    """
    rest = _trs(document["nodes"][node])[1]
    w = _world_rotations(document)(node)
    q = np.asarray(quats, np.float64)
    q = _qmul(_qmul(_qmul(w, _qinv(rest)), q / np.linalg.norm(q, axis=-1, keepdims=True)),
              _qinv(w))
    flip = np.cumsum(np.r_[0, (np.sum(q[1:] * q[:-1], axis=1) < 0)]) % 2 == 1
    q[flip] = -q[flip]
    return q


def set_trs(node: dict) -> None:
    """Replace a node's `matrix` by translation / rotation / scale (an animated node must not
    have a matrix); no-op for a TRS node."""
    if "matrix" not in node:
        return
    t, r, s = _trs(node)
    del node["matrix"]
    node["translation"] = [float(x) for x in t]
    node["rotation"] = [float(x) for x in r]
    node["scale"] = [float(x) for x in s]


# ----------------------------------------------------------------------------------------------
# Eyes that the morph targets already turn


def _looks(plan, rig, drive) -> bool:
    """Whether a morph drive follows gaze (an eyeLook* curve, a VRM look expression, ...)."""
    names = [drive.channel, rig.mesh(drive.mesh).target_names[drive.target]]
    spec = getattr(plan, "derived", {}).get(drive.channel)
    names += [name for name, _ in getattr(spec, "terms", ()) or ()]
    return any("look" in str(n).lower() for n in names)


def eyes_turned_by_morphs(rig, plan, eye_nodes) -> set[int]:
    """The eye bones (of `eye_nodes`) whose eyeballs the plan's gaze morph targets already
    turn: some driven eyeLook-like target moves a vertex skinned mostly to that bone. Rotating
    those bones too would double the gaze (fitme's and Ready Player Me's eyeLook shapes
    rotate the eyeball meshes). When the file cannot be read that far, every eye counts as
    turned (the bones stay at rest, as before bone rotation existed)."""
    eye_nodes = {n for n in eye_nodes if n is not None}
    if not eye_nodes:
        return set()
    doc = rig.document
    turned: set[int] = set()
    try:
        for mesh_index in plan.driven_meshes:
            looks = {d.target for d in plan.drives_of(mesh_index) if _looks(plan, rig, d)}
            if not looks:
                continue
            for node_index in rig.mesh(mesh_index).nodes:
                skin = doc["nodes"][node_index].get("skin")
                if skin is None:
                    continue
                joints = doc["skins"][skin]["joints"]
                for prim in doc["meshes"][mesh_index]["primitives"]:
                    attrs = prim["attributes"]
                    if "JOINTS_0" not in attrs or "WEIGHTS_0" not in attrs:
                        continue
                    j = read_accessor(doc, rig.buffers, attrs["JOINTS_0"]).astype(np.int64)
                    w = read_accessor(doc, rig.buffers, attrs["WEIGHTS_0"])
                    top = np.asarray(joints)[j[np.arange(len(j)), np.argmax(w, axis=1)]]
                    moved = np.zeros(len(j), bool)
                    for t in looks:
                        targets = prim.get("targets") or []
                        if t < len(targets) and "POSITION" in targets[t]:
                            d = read_accessor(doc, rig.buffers, targets[t]["POSITION"])
                            moved |= np.abs(d).max(axis=1) > 1e-6
                    turned |= {int(n) for n in np.unique(top[moved])} & eye_nodes
    except (KeyError, IndexError, TypeError, ValueError):
        return eye_nodes
    return turned
