"""The project's default rig, "fitme": the ICT FaceKit scanned morphable head as a GLB.

    from voxface.rigs.fitme import build_fitme
    build_fitme("assets/fitme.glb")                        # the shipped default (mean identity)
    build_fitme("me.glb", {"id_pc0": 1.5, "id_pc3": -0.8})  # another person
    build_fitme("me.glb", random_identity(seed=1))          # a random, plausible person

The geometry, the scanned expression shapes and the identity principal components come from
USC ICT's FaceKit model (MIT licence, assets/ICT_FACEKIT_LICENSE), shipped in a compact derived
file `assets/fitme_ict.npz` (made by `python -m tools.fitme_data` from ../shared). Meshes: Head
(face, back of head and neck, mouth socket, eye sockets, eyelashes), Teeth (upper and lower
teeth, gums and tongue), EyeLeft, EyeRight (sclera, iris with pupil). Every mesh carries the
morph targets that move it, named in `mesh.extras.targetNames`: the 52 ARKit shapes, the 15
Oculus visemes (mixes of the ARKit deltas, table VISEMES) and N_IDENTITY identity components
`id_pc0`... (1.0 = one standard deviation of the scanned population). A skeleton (root, neck,
head, jaw, eyeLeft, eyeRight) skins every mesh. Metres, +Y up, the face looks down +Z, +X is
the character's left. Colours are vertex colours (COLOR_0, lips, brows, cheeks, iris and pupil)
times each material's base colour. Morph target deltas are stored quantised
(KHR_mesh_quantization: positions as normalized shorts, 1/32767 m; normals as normalized bytes).

The output is deterministic: same arguments, same bytes (values are rounded before writing).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from voxface.assets import asset_path
from voxface.core.errors import InputError
from voxface.core.names import ARKIT_52, OCULUS_15

from .fitme_gltf import JointSpec, MaterialSpec, MeshSpec, write_glb

N_IDENTITY = 20
IDENTITY_NAMES: tuple[str, ...] = tuple(f"id_pc{i}" for i in range(N_IDENTITY))
TARGET_ORDER: tuple[str, ...] = tuple(ARKIT_52) + tuple(OCULUS_15) + IDENTITY_NAMES
RANDOM_SD = 2.0  # random identities stay within +-2 standard deviations per component

# Vertex ranges of the model (its documentation; unchanged by tools/fitme_data, which only drops
# vertices after the eyeballs).
MOUTH_SOCKET = (11248, 13294)
EYE_SOCKETS = (13294, 14062)

MATERIALS = [  # linear base colours; vertex colours (<= 1) modulate them
    MaterialSpec("skin", (0.66, 0.42, 0.33, 1.0), 0.72),
    MaterialSpec("lashes", (0.025, 0.018, 0.015, 1.0), 0.8, double_sided=True),
    MaterialSpec("teeth", (0.80, 0.76, 0.66, 1.0), 0.3),
    MaterialSpec("gums", (0.62, 0.22, 0.22, 1.0), 0.4),
    MaterialSpec("sclera", (0.86, 0.84, 0.80, 1.0), 0.12),
    MaterialSpec("iris", (1.0, 1.0, 1.0, 1.0), 0.12),
]
# model material -> (mesh, our material)
GROUPS = {"M_Face": ("Head", "skin"), "M_BackHead": ("Head", "skin"), "M_EyeLashes": ("Head", "lashes"),
          "M_Teeth": ("Teeth", "teeth"), "M_GumsTongue": ("Teeth", "gums"),
          "M_ScleraLeft": ("EyeLeft", "sclera"), "M_IrisLeft": ("EyeLeft", "iris"),
          "M_ScleraRight": ("EyeRight", "sclera"), "M_IrisRight": ("EyeRight", "iris")}
MESHES = ("Head", "Teeth", "EyeLeft", "EyeRight")
JOINT_NAMES = ("root", "neck", "head", "jaw", "eyeLeft", "eyeRight")
POS_QUANTUM = 1e-6  # m; base positions are rounded to this
MIN_DELTA = 2e-4  # m; per-vertex motions are shrunk by this (soft threshold): scan noise goes,
# and the edge of a moving region stays continuous
MIN_DNORMAL = 3e-2  # unit-normal change below ~1.7 degree is dropped
IRIS_RADIUS = 0.0058  # m, around the eye's axis; the sclera shell is open over it (the cornea)
EYE_LOOK_DEG = {"Up": 20.0, "Down": 25.0, "In": 25.0, "Out": 25.0}

# Oculus visemes as mixes of the ARKit shapes (plus two tongue-only helpers: tip up, back up).
VISEMES: dict[str, dict[str, float]] = {
    "viseme_sil": {"mouthPressLeft": 0.15, "mouthPressRight": 0.15},  # rest, lips lightly together
    "viseme_PP": {"mouthPressLeft": 0.5, "mouthPressRight": 0.5, "mouthRollLower": 0.2,
                  "mouthRollUpper": 0.2},
    "viseme_FF": {"jawOpen": 0.1, "mouthRollLower": 0.6, "mouthUpperUpLeft": 0.25,
                  "mouthUpperUpRight": 0.25},
    "viseme_TH": {"jawOpen": 0.12, "tongueOut": 0.35, "mouthLowerDownLeft": 0.15,
                  "mouthLowerDownRight": 0.15},
    "viseme_DD": {"jawOpen": 0.2, "mouthStretchLeft": 0.15, "mouthStretchRight": 0.15,
                  "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2, "_tongueTipUp": 1.0},
    "viseme_kk": {"jawOpen": 0.25, "mouthStretchLeft": 0.25, "mouthStretchRight": 0.25,
                  "_tongueBackUp": 1.0},
    "viseme_CH": {"jawOpen": 0.15, "mouthFunnel": 0.45, "mouthPucker": 0.25,
                  "mouthUpperUpLeft": 0.2, "mouthUpperUpRight": 0.2, "_tongueTipUp": 0.5},
    "viseme_SS": {"jawOpen": 0.08, "mouthStretchLeft": 0.35, "mouthStretchRight": 0.35,
                  "mouthSmileLeft": 0.2, "mouthSmileRight": 0.2, "mouthLowerDownLeft": 0.2,
                  "mouthLowerDownRight": 0.2, "mouthUpperUpLeft": 0.2, "mouthUpperUpRight": 0.2},
    "viseme_nn": {"jawOpen": 0.15, "mouthStretchLeft": 0.1, "mouthStretchRight": 0.1,
                  "_tongueTipUp": 1.0},
    "viseme_RR": {"jawOpen": 0.12, "mouthFunnel": 0.3, "mouthPucker": 0.35, "_tongueTipUp": 0.4},
    "viseme_aa": {"jawOpen": 0.55, "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2,
                  "mouthUpperUpLeft": 0.1, "mouthUpperUpRight": 0.1},
    "viseme_E": {"jawOpen": 0.3, "mouthStretchLeft": 0.4, "mouthStretchRight": 0.4,
                 "mouthSmileLeft": 0.2, "mouthSmileRight": 0.2, "mouthUpperUpLeft": 0.15,
                 "mouthUpperUpRight": 0.15, "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2},
    "viseme_I": {"jawOpen": 0.18, "mouthSmileLeft": 0.45, "mouthSmileRight": 0.45,
                 "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3, "mouthUpperUpLeft": 0.1,
                 "mouthUpperUpRight": 0.1},
    "viseme_O": {"jawOpen": 0.4, "mouthFunnel": 0.7, "mouthPucker": 0.2},
    "viseme_U": {"jawOpen": 0.12, "mouthPucker": 0.9, "mouthFunnel": 0.3},
}


@dataclass(eq=False)  # hashable by identity: load_model() returns one cached instance
class Model:
    """The derived ICT data (assets/fitme_ict.npz), dequantised; metres.

    neutral [V,3]; uv [T,2]; face_v, face_uv [F,4] (-1 = triangle); face_group [F] index into
    group_names; expr {model name: [V,3] dense delta}; identity [K,V,3]; landmarks [68]."""

    neutral: np.ndarray
    uv: np.ndarray
    face_v: np.ndarray
    face_uv: np.ndarray
    face_group: np.ndarray
    group_names: list[str]
    expr: dict[str, np.ndarray]
    identity: np.ndarray
    landmarks: np.ndarray


def data_path() -> Path:
    return Path(asset_path("fitme_ict.npz"))


@lru_cache(maxsize=1)
def load_model() -> Model:
    """Read assets/fitme_ict.npz (see tools/fitme_data.py for its layout)."""
    p = data_path()
    try:
        z = np.load(p)
        unit = float(z["unit"])
        nv = len(z["neutral"])
        expr = {}
        ptr = z["expr_ptr"]
        for i, n in enumerate(z["expr_names"]):
            d = np.zeros((nv, 3))
            d[z["expr_idx"][ptr[i]:ptr[i + 1]]] = z["expr_val"][ptr[i]:ptr[i + 1]] * unit
            expr[str(n)] = d
        return Model(z["neutral"].astype(np.float64), z["uv"].astype(np.float64), z["face_v"],
                     z["face_uv"], z["face_group"], [str(s) for s in z["group_names"]], expr,
                     z["id_val"][:N_IDENTITY].astype(np.float64) * unit, z["landmarks"])
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"{p}: cannot read the fitme model data ({e})") from None


# ---------------------------------------------------------------------------------------------
# identity


def identity_cli_name(target: str) -> str:
    """'id_pc3' -> 'pc3' (the spelling `animate rig build --identity` takes)."""
    return target.removeprefix("id_")


def resolve_identity(values: dict[str, float]) -> dict[str, float]:
    """Map user identity names to target names: 'pc3', 'PC3' and 'id_pc3' all mean id_pc3.
    Raises InputError naming the unknown ones and listing the choices."""
    lookup = {}
    for t in IDENTITY_NAMES:
        for alias in (t, identity_cli_name(t)):
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
                         f"pc0 ... pc{N_IDENTITY - 1} (standard deviations), or 'random'")
    return out


def random_identity(seed: int) -> dict[str, float]:
    """A plausible random person: every component ~ N(0, 1) standard deviations, clipped to
    +-RANDOM_SD (the tails of the scanned population are where the linear model breaks down)."""
    rng = np.random.default_rng(int(seed))
    w = np.clip(rng.standard_normal(N_IDENTITY), -RANDOM_SD, RANDOM_SD)
    return {n: round(float(v), 4) for n, v in zip(IDENTITY_NAMES, w)}


def parse_identity(text: str, seed: int | None = None) -> dict[str, float]:
    """`--identity` text -> {target: weight}: 'pc0=1.5,pc3=-0.8', or 'random' (with `seed`,
    default 0). Raises InputError on anything else."""
    text = (text or "").strip()
    if text.lower() == "random":
        return random_identity(0 if seed is None else seed)
    values = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, _, val = item.partition("=")
        try:
            values[key.strip()] = float(val)
        except ValueError:
            raise InputError(f"--identity: {item!r} is not name=number") from None
    return resolve_identity(values)


# ---------------------------------------------------------------------------------------------
# geometry helpers


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((np.asarray(x, float) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def triangles(faces: np.ndarray) -> np.ndarray:
    """Quads/triangles [F,4] (-1 = triangle) -> triangles [M,3] (quads split 0-1-2, 0-2-3)."""
    t1 = faces[:, [0, 1, 2]]
    q = faces[faces[:, 3] >= 0]
    return np.concatenate([t1, q[:, [0, 2, 3]]])


def vertex_normals(pos: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals [N,3] of a triangle mesh (pos [N,3], tris [M,3])."""
    fn = np.cross(pos[tris[:, 1]] - pos[tris[:, 0]], pos[tris[:, 2]] - pos[tris[:, 0]])
    n = np.zeros_like(pos)
    for c in range(3):
        np.add.at(n, tris[:, c], fn)
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    return n / np.maximum(ln, 1e-20)


def _rot(axis: np.ndarray, deg: float) -> np.ndarray:
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    t = np.deg2rad(deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


def _sphere_center(p: np.ndarray) -> np.ndarray:
    """Least-squares sphere centre of points [N,3]."""
    a = np.c_[2 * p, np.ones(len(p))]
    sol = np.linalg.lstsq(a, (p * p).sum(1), rcond=None)[0]
    return sol[:3]


def _rigid_fit(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation t with q ~ p @ R.T + t (Kabsch)."""
    cp, cq = p.mean(0), q.mean(0)
    u, _, vt = np.linalg.svd((p - cp).T @ (q - cq))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1, 1, d]) @ u.T
    return r, cq - cp @ r.T


# ---------------------------------------------------------------------------------------------
# the rig


@dataclass
class Rig:
    """Everything the GLB is written from. pos [V,3] (identity baked); deltas {target: [V,3]} on
    the model's vertex indexing; vertex groups; eye centres; jaw hinge; skin weights [V,J]."""

    pos: np.ndarray
    deltas: dict[str, np.ndarray]
    vgroup: np.ndarray  # [V] model material index per vertex
    eyes: dict[int, np.ndarray]
    hinge: np.ndarray
    joints: list[JointSpec]
    weights: np.ndarray
    colors: np.ndarray  # [V,4] in 0..1
    jaw_weight: np.ndarray


def _vertex_groups(m: Model) -> np.ndarray:
    g = np.full(len(m.neutral), -1, np.int64)
    fv = m.face_v
    for c in range(4):
        ok = fv[:, c] >= 0
        g[fv[ok, c]] = m.face_group[ok]
    return g


def _arkit_name(ict: str) -> str:
    return ict.replace("_L", "Left").replace("_R", "Right")


def _tongue_weight(pos: np.ndarray, gums: np.ndarray, jaw_w: np.ndarray) -> np.ndarray:
    """[V] 0..1: how much of the tongue a gums/tongue vertex is, growing to the tip (the model's
    gums and tongue are one surface; the tongue is the jaw-carried part inside the arch)."""
    p = pos[gums]
    zt = p[:, 2].max()
    w = np.zeros(len(pos))
    lower = jaw_w[gums] > 0.5
    inside = smoothstep(0.024, 0.016, np.abs(p[:, 0]))
    w[gums] = lower * inside * smoothstep(zt - 0.075, zt - 0.02, p[:, 2])
    return w


def build_rig(identity: dict[str, float] | None = None) -> Rig:
    """The fitme rig with `identity` ({id_pc*: weight in standard deviations}) baked in."""
    m = load_model()
    ident = resolve_identity(dict(identity or {}))
    pos = m.neutral.copy()
    for k, name in enumerate(IDENTITY_NAMES):  # fixed order: deterministic summation
        w = float(ident.get(name, 0.0))
        if w:
            pos = pos + w * m.identity[k]
    vg = _vertex_groups(m)
    gi = {n: i for i, n in enumerate(m.group_names)}
    nv = len(pos)
    deltas: dict[str, np.ndarray] = {}
    for n, d in m.expr.items():
        a = _arkit_name(n)
        if a in ("browInnerUpLeft", "browInnerUpRight"):
            a = "browInnerUp"
        elif a in ("cheekPuffLeft", "cheekPuffRight"):
            a = "cheekPuff"
        deltas[a] = deltas[a] + d if a in deltas else d.copy()
    # eyes: centres of the scleras; eyeLook* turn the eyeballs (the scans only move the lids)
    eyes = {}
    for side, sname, iname in ((1, "M_ScleraLeft", "M_IrisLeft"), (-1, "M_ScleraRight", "M_IrisRight")):
        eyes[side] = _sphere_center(pos[vg == gi[sname]])
    for side, nm in ((1, "Left"), (-1, "Right")):
        ball = np.isin(vg, [gi[f"M_Sclera{nm}"], gi[f"M_Iris{nm}"]])
        c = eyes[side]
        for d, (axis, sgn) in {"Up": ((1, 0, 0), -1), "Down": ((1, 0, 0), 1),
                               "In": ((0, 1, 0), -side), "Out": ((0, 1, 0), side)}.items():
            r = _rot(axis, sgn * EYE_LOOK_DEG[d])
            dd = deltas[f"eyeLook{d}{nm}"]
            dd[ball] = (pos[ball] - c) @ r.T + c - pos[ball]
    # jaw: the rigid motion of the lower teeth in jawOpen gives the hinge and every vertex's
    # jaw weight (how much of that rotation its scanned jawOpen motion is)
    jo = deltas["jawOpen"]
    teeth = vg == gi["M_Teeth"]
    lower = teeth & (np.linalg.norm(jo, axis=1) > 0.01)
    r, t = _rigid_fit(pos[lower], pos[lower] + jo[lower])
    rig_d = pos @ r.T + t - pos
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    axis /= np.linalg.norm(axis)
    # hinge: the point on the axis (x = 0) that the fitted motion leaves in place
    a2 = (r - np.eye(3))[:, 1:]
    yz = np.linalg.lstsq(a2, -t, rcond=None)[0]
    hinge = np.array([0.0, yz[0], yz[1]])
    n2 = (rig_d * rig_d).sum(1)
    jaw_w = np.where(n2 > 1e-6, (jo * rig_d).sum(1) / np.maximum(n2, 1e-12), 0.0)
    jaw_w = np.clip(jaw_w, 0.0, 1.0)
    jaw_w[lower] = 1.0
    jaw_w[teeth & ~lower] = 0.0
    # tongueOut: the tongue slides out over the lower teeth, the jaw drops a little
    gums = vg == gi["M_GumsTongue"]
    tw = _tongue_weight(pos, gums, jaw_w)
    to = 0.4 * jo.copy()  # (the scanned jawOpen carries the tongue down with the jaw)
    to[:, 2] += 0.022 * tw
    to[:, 1] += 0.002 * tw  # over the lower incisors, not through the lip
    deltas["tongueOut"] = to
    tip_up = np.zeros((nv, 3))
    tip_up[:, 1] = 0.010 * tw * smoothstep(0.3, 1.0, tw)
    tip_up[:, 2] = 0.004 * tw
    back_up = np.zeros((nv, 3))
    back = gums & (jaw_w > 0.5) & (np.abs(pos[:, 0]) < 0.02)
    zt = pos[gums, 2].max()
    back_up[back, 1] = 0.008 * smoothstep(zt - 0.085, zt - 0.05, pos[back, 2]) * smoothstep(zt - 0.01, zt - 0.04, pos[back, 2])
    helpers = {"_tongueTipUp": tip_up, "_tongueBackUp": back_up}
    for v, mix in VISEMES.items():
        d = np.zeros((nv, 3))
        for k, w in mix.items():
            d = d + w * (helpers[k] if k in helpers else deltas[k])
        deltas[v] = d
    for k, name in enumerate(IDENTITY_NAMES):
        deltas[name] = m.identity[k]
    missing = [n for n in TARGET_ORDER if n not in deltas]
    assert not missing, missing
    joints, weights = _skeleton(pos, vg, gi, eyes, hinge, jaw_w)
    colors = _colors(pos, vg, gi, m, eyes, tw)
    return Rig(pos, deltas, vg, eyes, hinge, joints, weights, colors, jaw_w)


def _skeleton(pos, vg, gi, eyes, hinge, jaw_w):
    """Joints (root at the base of the neck, neck, head above the spine top, jaw at the hinge,
    one per eyeball) and dense skin weights [V,6]."""
    head_g = np.isin(vg, [gi["M_Face"], gi["M_BackHead"]])
    y = pos[:, 1]
    ymin = y[head_g].min()

    def spine(yy):  # the neck's centre line in z at height yy
        band = head_g & (np.abs(y - yy) < 0.006) & (pos[:, 2] < hinge[2] + 0.02)
        zs = pos[band, 2]
        return float((zs.min() + zs.max()) / 2) if len(zs) else float(hinge[2] - 0.03)

    y_root, y_neck, y_head = ymin + 0.01, ymin + 0.07, hinge[1] - 0.005
    joints = [JointSpec("root", -1, (0.0, y_root, spine(y_root))),
              JointSpec("neck", 0, (0.0, y_neck, spine(y_neck))),
              JointSpec("head", 1, (0.0, y_head, spine(y_head) - 0.01)),
              JointSpec("jaw", 2, tuple(float(v) for v in hinge)),
              JointSpec("eyeLeft", 2, tuple(float(v) for v in eyes[1])),
              JointSpec("eyeRight", 2, tuple(float(v) for v in eyes[-1]))]
    w = np.zeros((len(pos), 6))
    # below the jaw line the neck takes over, and the root at the base
    body = 1.0 - smoothstep(y_neck - 0.01, y_head - 0.035, y)
    body = np.where(head_g, body, 0.0)
    root = body * (1.0 - smoothstep(y_root, y_root + 0.05, y))
    w[:, 0] = root
    w[:, 1] = body - root
    rest = 1.0 - body
    w[:, 3] = rest * jaw_w
    w[:, 2] = rest * (1.0 - jaw_w)
    for side, j, nm in ((1, 4, "Left"), (-1, 5, "Right")):
        ball = np.isin(vg, [gi[f"M_Sclera{nm}"], gi[f"M_Iris{nm}"]])
        w[ball] = 0.0
        w[ball, j] = 1.0
    return joints, w


def _colors(pos, vg, gi, m: Model, eyes, tongue_w) -> np.ndarray:
    """Vertex colours [V,4] (0..1, multiplied with the material base colour): lips, brows,
    cheek and nose flush, a darker mouth socket, subtle low-frequency variation; the iris
    (radial streaks, limbal ring) and the pupil; the tongue a little lighter than the gums."""
    nv = len(pos)
    col = np.ones((nv, 4))
    lm = pos[m.landmarks]
    skin = np.isin(vg, [gi["M_Face"], gi["M_BackHead"]])
    x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]

    def mix(mask_w, rgb):
        w = np.clip(mask_w, 0, 1)[:, None]
        col[:, :3] = col[:, :3] * (1 - w) + np.asarray(rgb) * w

    # subtle variation: low-frequency blotches (deterministic sums of sines)
    var = (np.sin(x * 173 + 1.3) * np.sin(y * 151 + 0.7) + 0.6 * np.sin(z * 211 + x * 97 + 2.1)) * 0.025
    col[skin, :3] *= (1.0 + var[skin, None] * np.array([1.0, 0.8, 0.8]))
    col[skin, :3] = np.clip(col[skin, :3], 0, 1)
    # cheek and nose flush
    front = skin & (z > lm[:, 2].min() - 0.03)
    for c, r, s in ((0.5 * (lm[2] + lm[31]), 0.028, 0.35), (0.5 * (lm[14] + lm[35]), 0.028, 0.35),
                    (lm[30], 0.012, 0.3), (0.5 * (lm[8] + lm[57]), 0.02, 0.12)):
        d = np.linalg.norm(pos - c, axis=1)
        mix(np.where(front, s * np.exp(-(d / r) ** 2), 0.0), (0.93, 0.70, 0.70))
    # lips: inside the outer lip contour (front view), soft 1.2 mm edge
    lip = _inside_polygon(pos[:, :2], lm[48:60, :2])
    dist = _dist_polyline(pos[:, :2], np.r_[lm[48:60, :2], lm[48:49, :2]])
    lip_w = np.where(lip, smoothstep(0.0, 0.0012, dist) * 0.5 + 0.5, 0.5 * smoothstep(0.0012, 0.0, dist))
    lip_w = np.where(skin & (z > lm[48:60, 2].min() - 0.012), lip_w, 0.0)
    mix(lip_w, (0.74, 0.40, 0.44))
    # brows: tapered strokes along the landmark brow lines, a little above them
    for a, b in ((17, 22), (22, 27)):
        line = lm[a:b, :2] + np.array([0.0, 0.002])
        inner_first = line if a == 22 else line[::-1]  # from the inner end outwards
        d = _dist_polyline(pos[:, :2], inner_first)
        t = _param_polyline(pos[:, :2], inner_first)
        width = 0.0055 - 0.003 * t
        hairs = 0.8 + 0.2 * np.sin(pos[:, 0] * 2900.0 + pos[:, 1] * 900.0)  # stroke texture
        wb = smoothstep(0.0, -0.0025, d - width) * (1.0 - 0.3 * t) * hairs
        wb = np.where(skin & (z > lm[a:b, 2].min() - 0.015), wb, 0.0)
        mix(wb, (0.09, 0.06, 0.05))
    # short hair on the scalp: above a hairline from the temples over the back of the head
    top = lm[19:25, 1].max()
    hair = smoothstep(top + 0.03, top + 0.055, y + 0.25 * np.maximum(-z + lm[27, 2] - 0.09, 0.0))
    ear_back = smoothstep(lm[27, 2] - 0.09, lm[27, 2] - 0.12, z) * smoothstep(lm[27, 1] - 0.035, lm[27, 1] - 0.01, y)
    hair = np.maximum(hair, ear_back)
    mix(np.where(skin, hair * 0.92, 0.0), (0.10, 0.07, 0.055))
    # mouth socket and eye sockets: dark
    ms = np.zeros(nv, bool)
    ms[MOUTH_SOCKET[0]:MOUTH_SOCKET[1]] = True
    mix(np.where(ms, 0.85, 0.0), (0.32, 0.10, 0.10))
    es = np.zeros(nv, bool)
    es[EYE_SOCKETS[0]:EYE_SOCKETS[1]] = True
    mix(np.where(es, 0.9, 0.0), (0.2, 0.12, 0.1))
    # tongue: lighter and pinker than the gums
    mix(np.where(vg == gi["M_GumsTongue"], 0.7 * tongue_w, 0.0), (1.0, 0.95, 0.95))
    # eyes: iris streaks, limbal ring and pupil; sclera reddens towards the back
    for side, nm in ((1, "Left"), (-1, "Right")):
        c = eyes[side]
        iris = vg == gi[f"M_Iris{nm}"]
        sclera = vg == gi[f"M_Sclera{nm}"]
        ax = pos[iris].mean(0) - c
        ax /= np.linalg.norm(ax)
        rel = pos - c
        along = rel @ ax
        radial = rel - along[:, None] * ax
        r = np.linalg.norm(radial, axis=1)
        u = np.where(along > 0, r / IRIS_RADIUS, 9.0)
        ang = np.arctan2(radial[:, 1], radial[:, 0])
        streak = 0.85 + 0.15 * np.sin(ang * 23) * np.sin(ang * 7 + 1.0)
        base = np.array([0.25, 0.15, 0.07])[None, :] * (0.75 + 0.6 * u[:, None]) * streak[:, None]
        ring = smoothstep(0.78, 0.98, u)[:, None]
        base = base * (1 - 0.7 * ring)
        pupil = smoothstep(0.40, 0.34, u)[:, None]
        base = base * (1 - pupil) + 0.01 * pupil
        white = smoothstep(0.98, 1.06, u)[:, None]  # the model's iris is a whole inner sphere:
        base = base * (1 - white) + white * np.array([0.86, 0.84, 0.80])  # white round the iris
        base[along < 0] = 0.01  # dark behind it (seen through the pupil's pole)
        col[iris, :3] = np.clip(base[iris], 0, 1)
        back = smoothstep(0.35, -0.6, along / np.linalg.norm(rel, axis=1))
        col[sclera, :3] = (1 - 0.25 * back[sclera, None]) * np.array([1.0, 0.97, 0.97]) + \
            0.25 * back[sclera, None] * np.array([0.95, 0.7, 0.68])
    return np.clip(col, 0.0, 1.0)


def _inside_polygon(p: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """[N] bool: 2-D points p [N,2] inside the closed polygon poly [M,2] (even-odd rule)."""
    inside = np.zeros(len(p), bool)
    for i in range(len(poly)):
        a, b = poly[i], poly[(i + 1) % len(poly)]
        cross = (a[1] > p[:, 1]) != (b[1] > p[:, 1])
        xint = a[0] + (p[:, 1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1] + 1e-30)
        inside ^= cross & (p[:, 0] < xint)
    return inside


def _seg(p, a, b):
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-30), 0, 1)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1), t


def _dist_polyline(p: np.ndarray, line: np.ndarray) -> np.ndarray:
    return np.min([_seg(p, line[i], line[i + 1])[0] for i in range(len(line) - 1)], axis=0)


def _param_polyline(p: np.ndarray, line: np.ndarray) -> np.ndarray:
    """0..1 position along the polyline of the nearest point."""
    segs = [_seg(p, line[i], line[i + 1]) for i in range(len(line) - 1)]
    d = np.array([s[0] for s in segs])
    k = np.argmin(d, axis=0)
    t = np.array([s[1] for s in segs])[k, np.arange(len(p))]
    return (k + t) / (len(line) - 1)


# ---------------------------------------------------------------------------------------------
# writing


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


def mesh_parts(rig: Rig | None = None):
    """Per mesh: (model vertex index of each GLB vertex [n], uv [n,2], {material: tris [M,3]}),
    vertices split where the UV layout has seams."""
    m = load_model()
    out = {}
    for mesh in MESHES:
        groups = [g for g, (mm, _) in GROUPS.items() if mm == mesh]
        gidx = [m.group_names.index(g) for g in groups]
        sel = np.isin(m.face_group, gidx) & ~_cornea_faces(m)
        fv, fuv, fg = m.face_v[sel], m.face_uv[sel], m.face_group[sel]
        corners = np.stack([fv, fuv], -1).reshape(-1, 2)
        ok = corners[:, 0] >= 0
        pairs, inv = np.unique(corners[ok], axis=0, return_inverse=True)
        local = -np.ones(len(corners), np.int64)
        local[ok] = inv.ravel()
        local = local.reshape(fv.shape)
        prims = {}
        for g in groups:
            mat = GROUPS[g][1]
            f = local[fg == m.group_names.index(g)]
            tris = triangles(f)
            prims[mat] = np.concatenate([prims[mat], tris]) if mat in prims else tris
        out[mesh] = (pairs[:, 0], m.uv[pairs[:, 1]], prims)
    return out


def _shrink(d: np.ndarray, t: float = MIN_DELTA) -> np.ndarray:
    """Soft threshold [N,3] -> [N,3]: each row shortened by t (rows shorter than t vanish)."""
    n = np.linalg.norm(d, axis=1, keepdims=True)
    return d * np.maximum(0.0, 1.0 - t / np.maximum(n, 1e-30))


@lru_cache(maxsize=1)
def _cornea_faces(m: Model) -> np.ndarray:
    """[F] bool: the sclera shell's faces over the iris. In the model they are a transparent
    cornea; opaque they would hide the iris, so they are left out (on the mean head: the
    topology is the same for every identity)."""
    vg = _vertex_groups(m)
    gi = {n: i for i, n in enumerate(m.group_names)}
    out = np.zeros(len(m.face_v), bool)
    for nm in ("Left", "Right"):
        sc, ir = vg == gi[f"M_Sclera{nm}"], vg == gi[f"M_Iris{nm}"]
        c = _sphere_center(m.neutral[sc])
        ax = m.neutral[ir].mean(0) - c
        ax /= np.linalg.norm(ax)
        rel = m.neutral - c
        along = rel @ ax
        r = np.linalg.norm(rel - along[:, None] * ax, axis=1)
        v_in = sc & (along > 0) & (r < IRIS_RADIUS + 0.0004)
        fv = m.face_v
        allin = np.all(np.where(fv >= 0, v_in[np.maximum(fv, 0)], True), axis=1)
        out |= allin & (m.face_group == gi[f"M_Sclera{nm}"])
        # lower lashes: opaque (the model's are alpha-textured cards) they read as eyeliner
        lash = m.face_group == gi["M_EyeLashes"]
        below = np.all(np.where(fv >= 0, m.neutral[np.maximum(fv, 0), 1] < c[1] - 0.002, True), axis=1)
        side = np.sign(m.neutral[np.maximum(fv[:, 0], 0), 0]) == np.sign(c[0])
        out |= lash & below & side
    return out


def _model_normals(pos: np.ndarray) -> np.ndarray:
    """Vertex normals on the model's own (unsplit) topology, so UV seams do not show."""
    m = load_model()
    return vertex_normals(pos, triangles(m.face_v))


def build_fitme(path: str | Path, identity: dict[str, float] | None = None) -> None:
    """Write the fitme head to `path` (.glb).

    identity: optional {name: weight in standard deviations} (IDENTITY_NAMES, or 'pc3'; unknown
    names raise InputError) baked into the base mesh; the expression deltas apply unchanged to
    the new head (the model is linear), the eyes turn about the new eye centres. The id_*
    targets are shipped either way."""
    rig = build_rig(identity)
    nrm0 = _model_normals(rig.pos)
    dn_all = {}
    for name in TARGET_ORDER:
        if name.startswith("id_"):
            continue
        d = rig.deltas[name]
        dn = _model_normals(rig.pos + d) - nrm0
        dn[np.linalg.norm(dn, axis=1) < MIN_DNORMAL] = 0.0
        dn_all[name] = dn
    specs = []
    packed = _pack_weights(np.clip(rig.weights, 0, 1))
    for mesh, (vi, uv, prims) in mesh_parts().items():
        targets = []
        for name in TARGET_ORDER:
            d = _shrink(rig.deltas[name][vi])
            if np.abs(d).max() < 1.2e-4:  # (a margin for the 1/32767 m rounding)
                continue  # a mesh only carries the targets that move it (by 0.1 mm or more)
            dn = dn_all[name][vi] if name in dn_all else None
            targets.append((name, d, dn))
        pos = np.round(rig.pos[vi] / POS_QUANTUM) * POS_QUANTUM
        nrm = nrm0[vi] / np.linalg.norm(nrm0[vi], axis=1, keepdims=True)
        specs.append(MeshSpec(mesh, pos, nrm, np.clip(uv, 0, 1), sorted(prims.items()), targets,
                              joints=packed[0][vi], weights=packed[1][vi],
                              colors=np.round(rig.colors[vi] * 255).astype(np.uint8)))
    baked = resolve_identity(dict(identity or {}))
    extras = {"voxface": {"rig": "fitme", "units": "m", "model": "ICT FaceKit (MIT, USC ICT)",
                          "identity": {k: float(v) for k, v in sorted(baked.items())}}}
    joints = [JointSpec(j.name, j.parent, tuple(float(v) for v in np.round(np.asarray(j.pos) / POS_QUANTUM) * POS_QUANTUM))
              for j in rig.joints]
    write_glb(path, specs, MATERIALS, extras=extras, joints=joints, quantize_targets=True)


if __name__ == "__main__":  # pragma: no cover
    import sys

    build_fitme(sys.argv[1] if len(sys.argv) > 1 else "assets/fitme.glb")
