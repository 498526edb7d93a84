"""The project's default rig, "fitme": a procedurally generated human head as a GLB.

    from voxface.rigs.fitme import build_fitme
    build_fitme("assets/fitme.glb")                       # the shipped default
    build_fitme("me.glb", {"id_jawWidth": 0.8, "id_noseLength": -0.5})  # another identity

Meshes: Head (skin, lips, mouth interior, lash line, brows; ears and neck stub), Teeth (upper
and lower arches + gums), Tongue, EyeLeft, EyeRight (sclera, iris, pupil). Every mesh carries
the morph targets that move it, named in `mesh.extras.targetNames`: the 52 ARKit shapes (the
Head has all 52), the 15 Oculus visemes (built from the ARKit deltas), and identity morphs
("id_*"). A skeleton (root, neck, head, jaw, eyeLeft, eyeRight) skins every mesh, so head
motion and gaze can also be driven by bones. Metres, +Y up, the face looks down +Z, +X is the
character's left. Docs images: `python -m tools.fitme_docs`; see docs/fitme.md.

The output is deterministic: same arguments, same bytes (all values are rounded to 1e-6 before
writing, so last-bit differences of libm between CPUs cannot leak into the file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxface.core.errors import InputError
from voxface.core.names import ARKIT_52, OCULUS_15

from . import fitme_geom as G
from .fitme_gltf import JointSpec, MaterialSpec, MeshSpec, write_glb
from .fitme_shapes import IDENTITY, expression_deltas, identity_deltas

IDENTITY_NAMES: tuple[str, ...] = IDENTITY
TARGET_ORDER: tuple[str, ...] = tuple(ARKIT_52) + tuple(OCULUS_15) + tuple(IDENTITY)

MATERIALS = [  # linear base colours
    MaterialSpec("skin", (0.62, 0.36, 0.27, 1.0), 0.62),
    MaterialSpec("lips", (0.50, 0.17, 0.16, 1.0), 0.45),
    MaterialSpec("mouth", (0.10, 0.02, 0.02, 1.0), 0.6),
    MaterialSpec("lashes", (0.03, 0.02, 0.02, 1.0), 0.8),
    MaterialSpec("brow", (0.10, 0.06, 0.04, 1.0), 0.9),
    MaterialSpec("teeth", (0.62, 0.58, 0.50, 1.0), 0.35),  # no AO in most viewers: not paper white
    MaterialSpec("gums", (0.45, 0.13, 0.13, 1.0), 0.45),
    MaterialSpec("tongue", (0.55, 0.18, 0.19, 1.0), 0.5),
    MaterialSpec("sclera", (0.85, 0.83, 0.80, 1.0), 0.15),
    MaterialSpec("iris", (0.20, 0.11, 0.05, 1.0), 0.15),
    MaterialSpec("pupil", (0.01, 0.01, 0.01, 1.0), 0.15),
]
MESH_NAMES = {"head": "Head", "teeth": "Teeth", "tongue": "Tongue", "eyeL": "EyeLeft", "eyeR": "EyeRight"}
QUANTUM = 1e-6  # m; positions and deltas are rounded to this
MIN_DELTA = 8e-5  # m; smaller per-vertex motions are dropped from targets
MIN_DNORMAL = 2e-2  # unit-normal change below ~1.1 degree is dropped
# Shapes only ever used on top of another (ARKit's mouthClose closes the lips of an open jaw):
# their normal deltas are measured against that shape, so the sum of both is shaded exactly.
NORMAL_BASE = {"mouthClose": "jawOpen"}


def vertex_normals(pos: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals [N,3] of a triangle mesh (pos [N,3], tris [M,3])."""
    fn = np.cross(pos[tris[:, 1]] - pos[tris[:, 0]], pos[tris[:, 2]] - pos[tris[:, 0]])
    n = np.zeros_like(pos)
    for c in range(3):
        np.add.at(n, tris[:, c], fn)
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    return n / np.maximum(ln, 1e-20)


def _all_tris(part: G.Part) -> np.ndarray:
    return np.concatenate([part.faces[k] for k in sorted(part.faces)])


def _q(a: np.ndarray) -> np.ndarray:
    """Round to the QUANTUM grid (kills cross-CPU last-bit noise and sub-micron deltas)."""
    return np.round(a / QUANTUM) * QUANTUM


def build_shapes(identity: dict[str, float] | None = None):
    """Geometry and all deltas.

    Returns (parts {name: Part with identity baked}, deltas {targetName: {partName: [N,3]}})."""
    parts, deltas, _ = build_rig(identity)
    return parts, deltas


def build_rig(identity: dict[str, float] | None = None):
    """Geometry, all deltas and the skeleton.

    Returns (parts, deltas, (joints [JointSpec], skin {partName: (joints [N,4], weights [N,4])}))."""
    parts, mouth = G.build_neutral()
    eyes = {1: G.eye_center(1), -1: G.eye_center(-1)}
    hn = vertex_normals(parts["head"].pos, _all_tris(parts["head"]))
    ident = identity_deltas(parts, hn, mouth, eyes)
    identity = resolve_identity(dict(identity or {}))
    if any(identity.values()):
        for name in IDENTITY:  # fixed order: deterministic summation
            w = float(identity.get(name, 0.0))
            if w:
                for k, p in parts.items():
                    p.pos = p.pos + w * ident[name][k]
                eyes = {1: eyes[1] + w * ident[name]["eyeL"][0], -1: eyes[-1] + w * ident[name]["eyeR"][0]}
        head = parts["head"]
        contact = head.pos[head.attrs["kind"] == G.KIND_SKIN][head.attrs["ring"][head.attrs["kind"] == G.KIND_SKIN] == 0]
        mouth = np.array([0.0, contact[:, 1].mean(), contact[:, 2].max()])
        hn = vertex_normals(parts["head"].pos, _all_tris(parts["head"]))
    deltas = expression_deltas(parts, hn, mouth, eyes, G.HINGE)
    deltas.update(ident)
    return parts, deltas, skeleton(parts, hn, mouth, eyes)


JOINT_NAMES = ("root", "neck", "head", "jaw", "eyeLeft", "eyeRight")


def identity_cli_name(target: str) -> str:
    """'id_noseLength' -> 'nose_length' (the spelling `animate rig build --identity` takes)."""
    return "".join("_" + c.lower() if c.isupper() else c for c in target.removeprefix("id_"))


def resolve_identity(values: dict[str, float]) -> dict[str, float]:
    """Map user identity names to target names: 'nose_length', 'noseLength' and 'id_noseLength'
    all mean id_noseLength. Raises InputError naming the unknown ones and listing the choices."""
    lookup = {}
    for t in IDENTITY:
        for alias in (t, t.removeprefix("id_"), identity_cli_name(t)):
            lookup[alias.lower()] = t
    out, unknown = {}, []
    for k, v in values.items():
        t = lookup.get(k.strip().lower())
        if t is None:
            unknown.append(k)
        else:
            out[t] = float(v)
    if unknown:
        raise InputError(f"--identity: unknown name {', '.join(repr(u) for u in unknown)}; available: "
                         f"{', '.join(identity_cli_name(t) for t in IDENTITY)}")
    return out


def _pack_weights(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense per-joint weights [N,J] -> (JOINTS_0 [N,4] uint8, WEIGHTS_0 [N,4] uint8 /255).

    Keeps the 4 largest and quantises them to multiples of 1/255 summing to exactly 255/255
    (WEIGHTS_0 is written as normalized unsigned bytes); unused slots get weight 0 and joint 0."""
    order = np.argsort(-w, axis=1, kind="stable")[:, :4]
    top = np.take_along_axis(w, order, axis=1)
    top = top / np.maximum(top.sum(1, keepdims=True), 1e-12)
    q = np.floor(top * 255.0 + 0.5)
    q[:, 0] += 255.0 - q.sum(1)  # the largest absorbs the rounding
    q = np.maximum(q, 0)
    j = np.where(q > 0, order, 0)  # the validator wants joint 0 in zero-weight slots
    return j.astype(np.uint8), q.astype(np.uint8)


def skeleton(parts: dict[str, G.Part], head_normals: np.ndarray, mouth: np.ndarray,
             eyes: dict[int, np.ndarray]):
    """Joints (root at the base of the neck, neck, head, jaw at the hinge, one per eyeball)
    and skin weights per part. Rotating the jaw joint about X opens the mouth like the jawOpen
    shape (the skin follows the same jaw weight field); the eye joints turn the eyeballs."""
    from .fitme_gltf import JointSpec
    from .fitme_shapes import HeadFields

    h = G.HINGE
    joints = [JointSpec("root", -1, (0.0, -0.20, -0.02)),
              JointSpec("neck", 0, (0.0, -0.13, -0.02)),
              JointSpec("head", 1, (0.0, -0.045, -0.025)),
              JointSpec("jaw", 2, tuple(float(v) for v in h)),
              JointSpec("eyeLeft", 2, tuple(float(v) for v in eyes[1])),
              JointSpec("eyeRight", 2, tuple(float(v) for v in eyes[-1]))]
    nj = len(joints)
    head = parts["head"]
    F = HeadFields(head, head_normals, mouth, eyes, h)
    wj = F.jaw_weight()
    y, z = head.pos[:, 1], head.pos[:, 2]
    is_neck = F.kind == G.KIND_NECK
    w_neck = np.where(is_neck, G.smoothstep(-0.075, -0.15, y),
                      G.smoothstep(-0.085, -0.125, y) * G.smoothstep(0.0, -0.04, z) * (1.0 - wj))
    w_root = np.where(is_neck, G.smoothstep(-0.16, -0.20, y), 0.0)
    w_neck = w_neck * (1.0 - w_root)
    wh = np.zeros((len(head.pos), nj))
    wh[:, 0] = w_root
    wh[:, 1] = w_neck
    wh[:, 3] = wj * (1.0 - w_neck - w_root)
    wh[:, 2] = 1.0 - wh[:, 0] - wh[:, 1] - wh[:, 3]
    skin = {"head": wh}
    low = parts["teeth"].attrs["lower"]
    wt = np.zeros((len(low), nj))
    wt[:, 3], wt[:, 2] = low, 1.0 - low
    skin["teeth"] = wt
    wt = np.zeros((len(parts["tongue"].pos), nj))
    wt[:, 3] = 1.0
    skin["tongue"] = wt
    for k, j in (("eyeL", 4), ("eyeR", 5)):
        we = np.zeros((len(parts[k].pos), nj))
        we[:, j] = 1.0
        skin[k] = we
    return joints, {k: _pack_weights(np.clip(v, 0.0, 1.0)) for k, v in skin.items()}


def build_fitme(path: str | Path, identity: dict[str, float] | None = None) -> None:
    """Write the fitme head to `path` (.glb).

    identity: optional {name: weight} (IDENTITY_NAMES, or their snake_case spelling such as
    "nose_length"; weights about -1..1; unknown names raise InputError) baked into
    the base mesh; expression deltas are recomputed on the baked head so they keep working. The
    id_* targets are shipped either way (as deltas of the neutral head)."""
    parts, deltas, (joints, skin) = build_rig(identity)
    specs = []
    for key in ("head", "teeth", "tongue", "eyeL", "eyeR"):
        p = parts[key]
        pos = _q(p.pos)
        tris = _all_tris(p)
        nrm = vertex_normals(p.pos, tris)  # unrounded: rigid motions keep exactly zero dnormal
        targets = []
        for name in TARGET_ORDER:
            d = _q(deltas[name][key])
            d[np.linalg.norm(d, axis=1) < MIN_DELTA] = 0.0  # falloff tails: invisible, but cost bytes
            if not np.any(d):
                continue  # a mesh only carries the targets that move it
            base = NORMAL_BASE.get(name)
            if base is None:
                dn = vertex_normals(p.pos + deltas[name][key], tris) - nrm
            else:  # normal delta measured on top of the shape it corrects
                pb = p.pos + deltas[base][key]
                dn = vertex_normals(pb + deltas[name][key], tris) - vertex_normals(pb, tris)
            dn[np.linalg.norm(dn, axis=1) < MIN_DNORMAL] = 0.0  # not a visible change
            dn = _q(dn)
            targets.append((name, d, dn))
        specs.append(MeshSpec(MESH_NAMES[key], pos, _q(nrm), _q(np.clip(p.uv, 0, 1)),
                              [(m, p.faces[m]) for m in sorted(p.faces)], targets,
                              joints=skin[key][0], weights=skin[key][1]))
    # normals of the base must be unit length after rounding
    for s in specs:
        s.nrm = s.nrm / np.linalg.norm(s.nrm, axis=1, keepdims=True)
    baked = resolve_identity(dict(identity or {}))
    extras = {"voxface": {"rig": "fitme", "units": "m",
                          "identity": {k: float(v) for k, v in sorted(baked.items())}}}
    joints = [JointSpec(j.name, j.parent, tuple(float(v) for v in _q(np.asarray(j.pos)))) for j in joints]
    write_glb(path, specs, MATERIALS, extras=extras, joints=joints)


if __name__ == "__main__":  # pragma: no cover
    import sys

    build_fitme(sys.argv[1] if len(sys.argv) > 1 else "assets/fitme.glb")
