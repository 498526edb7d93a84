"""Blendshape displacement fields of the fitme head: 52 ARKit shapes, 15 Oculus visemes, and
identity ("id_") morphs.

Each shape is a function of the (possibly identity-baked) neutral geometry and its per-vertex
attributes, returning position deltas [N,3] (m) per part. Fields use compact-support falloffs so
deltas are exactly zero away from the region a muscle moves (sparse accessors stay small).
Left/Right follow ARKit: "Left" is the character's left = +X.
"""

from __future__ import annotations

import numpy as np

from voxface.core.names import ARKIT_52, OCULUS_15

from .fitme_geom import (
    EYE_X,
    EYE_Y,
    HINGE,
    KIND_EAR,
    KIND_LIDS_L,
    KIND_LIDS_R,
    KIND_NECK,
    KIND_SKIN,
    MOUTH_HALF_WIDTH,
    N_THETA,
    Part,
    almond,
    bump,
    eye_dir,
    lid_radius,
    smoothstep,
)

JAW_OPEN_DEG = 22.0
JAW_CORNER = 0.38  # how much the mouth corners follow the jaw
JAW_MEET = 0.35  # where the lips meet on jawOpen + mouthClose (0 upper lip, 1 lower lip)
EYE_UP_DEG, EYE_DOWN_DEG, EYE_IN_DEG, EYE_OUT_DEG = 22.0, 26.0, 28.0, 30.0

# Viseme poses as ARKit weights (plus optional tongue-only poses), one reasonable pose each.
VISEMES: dict[str, dict[str, float]] = {
    "viseme_sil": {"mouthPressLeft": 0.1, "mouthPressRight": 0.1},
    "viseme_PP": {"mouthPressLeft": 0.8, "mouthPressRight": 0.8},  # sealed; rolls would part them
    "viseme_FF": {"jawOpen": 0.12, "mouthClose": 0.04, "mouthRollLower": 0.6, "mouthUpperUpLeft": 0.3,
                  "mouthUpperUpRight": 0.3},
    "viseme_TH": {"jawOpen": 0.22, "tongueOut": 0.45, "mouthLowerDownLeft": 0.15,
                  "mouthLowerDownRight": 0.15},
    "viseme_DD": {"jawOpen": 0.22, "mouthStretchLeft": 0.15, "mouthStretchRight": 0.15,
                  "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2, "_tongueTipUp": 1.0},
    "viseme_kk": {"jawOpen": 0.26, "mouthStretchLeft": 0.25, "mouthStretchRight": 0.25,
                  "_tongueBackUp": 1.0},
    "viseme_CH": {"jawOpen": 0.18, "mouthFunnel": 0.45, "mouthPucker": 0.25, "mouthUpperUpLeft": 0.2,
                  "mouthUpperUpRight": 0.2, "_tongueTipUp": 0.5},
    "viseme_SS": {"jawOpen": 0.1, "mouthStretchLeft": 0.35, "mouthStretchRight": 0.35,
                  "mouthSmileLeft": 0.2, "mouthSmileRight": 0.2, "mouthLowerDownLeft": 0.2,
                  "mouthLowerDownRight": 0.2, "mouthUpperUpLeft": 0.2, "mouthUpperUpRight": 0.2},
    "viseme_nn": {"jawOpen": 0.18, "mouthStretchLeft": 0.1, "mouthStretchRight": 0.1,
                  "_tongueTipUp": 1.0},
    "viseme_RR": {"jawOpen": 0.15, "mouthFunnel": 0.3, "mouthPucker": 0.35, "_tongueTipUp": 0.4},
    "viseme_aa": {"jawOpen": 0.6, "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2,
                  "mouthUpperUpLeft": 0.1, "mouthUpperUpRight": 0.1},
    "viseme_E": {"jawOpen": 0.35, "mouthStretchLeft": 0.4, "mouthStretchRight": 0.4,
                 "mouthSmileLeft": 0.2, "mouthSmileRight": 0.2, "mouthUpperUpLeft": 0.15,
                 "mouthUpperUpRight": 0.15, "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2},
    "viseme_I": {"jawOpen": 0.2, "mouthSmileLeft": 0.45, "mouthSmileRight": 0.45,
                 "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3, "mouthUpperUpLeft": 0.1,
                 "mouthUpperUpRight": 0.1},
    "viseme_O": {"jawOpen": 0.45, "mouthFunnel": 0.7, "mouthPucker": 0.2},
    "viseme_U": {"jawOpen": 0.15, "mouthPucker": 0.9, "mouthFunnel": 0.3},
}
assert tuple(VISEMES) == OCULUS_15

IDENTITY = ("id_faceWidth", "id_jawWidth", "id_chinLength", "id_chinProtrusion", "id_cheekFullness",
            "id_noseLength", "id_noseWidth", "id_lipFullness", "id_eyeSpacing", "id_browRidge",
            "id_headLength")


def _rot_x(p: np.ndarray, center: np.ndarray, deg: float) -> np.ndarray:
    """Rotate points [N,3] about the X axis through `center`; + opens the jaw (front goes down)."""
    a = np.radians(deg)
    q = p - center
    y = q[:, 1] * np.cos(a) - q[:, 2] * np.sin(a)
    z = q[:, 1] * np.sin(a) + q[:, 2] * np.cos(a)
    return np.stack([q[:, 0], y, z], -1) + center


def _rot_y(p: np.ndarray, center: np.ndarray, deg: float) -> np.ndarray:
    """Rotate points [N,3] about the Y axis through `center`; + turns +Z towards +X."""
    a = np.radians(deg)
    q = p - center
    x = q[:, 0] * np.cos(a) + q[:, 2] * np.sin(a)
    z = -q[:, 0] * np.sin(a) + q[:, 2] * np.cos(a)
    return np.stack([x, q[:, 1], z], -1) + center


class HeadFields:
    """Per-vertex helper fields of the head part (mouth-relative coordinates, lip/jaw weights)."""

    def __init__(self, head: Part, normals: np.ndarray, mouth: np.ndarray, eyes: dict[int, np.ndarray],
                 hinge: np.ndarray):
        a = head.attrs
        self.p = head.pos
        self.n = normals
        self.mouth, self.eyes, self.hinge = mouth, eyes, hinge
        self.kind = a["kind"]
        self.grid = self.kind == KIND_SKIN
        self.cav = self.grid & (np.nan_to_num(a["depth"]) > 0)
        self.outer = self.grid & ~self.cav
        th = np.nan_to_num(a["theta"])
        self.sn = np.where(self.grid, np.sin(th), 0.0)
        self.lipd = np.where(self.grid, np.nan_to_num(a["lipd"]), 99.0)
        self.depth = np.where(self.cav, a["depth"], 0.0)
        self.col = np.nan_to_num(a["col"], nan=-1).astype(int)
        self.ring = np.nan_to_num(a["ring"], nan=-99).astype(int)
        self.X = self.p[:, 0] - mouth[0]
        self.Y = self.p[:, 1] - mouth[1]
        self.Z = self.p[:, 2] - mouth[2]
        self.upw = np.where(self.grid, smoothstep(-0.1, 0.1, self.sn), smoothstep(-0.004, 0.004, self.Y))
        self.loww = 1.0 - self.upw
        # contact ring (lip line) vertex of each column, for column-wise lip motions
        nt = N_THETA
        self.contact_idx = np.full(nt, -1)
        sel = np.nonzero(self.grid & (self.ring == 0))[0]
        self.contact_idx[self.col[sel]] = sel
        self.Yc = np.where(self.grid & (self.col >= 0), self.Y[self.contact_idx[np.maximum(self.col, 0)]], 0.0)
        self.front = smoothstep(0.02, 0.05, self.p[:, 2])  # face side of the head only

    def fall(self, a: float, b: float, cav_depth: float = 0.012) -> np.ndarray:
        """Lip-centred weight: 1 on the lips (lipd <= a), 0 past lipd = b on the skin; inside
        the cavity 1 on the inner lip fading to 0 at `cav_depth` (m)."""
        w = np.where(self.outer, 1.0 - smoothstep(a, b, self.lipd), 0.0)
        return np.where(self.cav, 1.0 - smoothstep(0.004, cav_depth, self.depth), w)

    def corner(self, side: int, rx: float, ry: float) -> np.ndarray:
        """Compact bump around the mouth corner on `side` (+1 left)."""
        r2 = ((self.X - side * MOUTH_HALF_WIDTH) / rx) ** 2 + (self.Y / ry) ** 2 + (self.depth / 0.035) ** 2
        return bump(r2) * self.grid

    def side(self, side: int) -> np.ndarray:
        """Soft half-face weight (0.5 on the midline)."""
        return smoothstep(-0.008, 0.008, side * self.X)

    def jaw_weight(self) -> np.ndarray:
        """How much each vertex follows the mandible (0..1)."""
        lipd = self.lipd
        # around the mouth: the corners follow the jaw by JAW_CORNER, the lip centres 0 (upper)
        # and 1 (lower); in between the opening grows as |sin(theta)|^0.6, an oval with full
        # corners rather than a slot with vertical sides
        h = np.clip(np.abs(self.sn), 0.0, 1.0) ** 0.6
        w_t = np.where(self.sn >= 0, JAW_CORNER * (1.0 - h), JAW_CORNER + (1.0 - JAW_CORNER) * h)
        m, h = self.mouth, self.hinge
        zf = m[2] - 0.01
        frac = np.clip((zf - self.p[:, 2]) / (zf - h[2]), 0.0, 1.0)
        y_line = m[1] + (h[1] - m[1]) * frac
        below = smoothstep(0.012, -0.018, self.p[:, 1] - y_line)
        in_front = smoothstep(h[2] - 0.01, h[2] + 0.03, self.p[:, 2])
        # skin under the jaw near the neck stretches instead of riding the bone
        throat = smoothstep(0.04, 0.0, self.p[:, 2]) * smoothstep(m[1] - 0.035, m[1] - 0.055, self.p[:, 1])
        w_sp = below * in_front * (1.0 - throat)
        k = smoothstep(1.5, 4.0, lipd)
        w = np.where(self.cav, w_t, (1 - k) * w_t + k * w_sp)
        return np.where(self.grid, w, 0.0)


def _lid_delta(head: Part, eyes: dict[int, np.ndarray], side: int, up_dpsi, lo_dpsi,
               dphi: float = 0.0, up_fall: float = 0.32, lo_fall: float = 0.22) -> np.ndarray:
    """Slide eyelid-shell vertices of one eye over the eyeball sphere.

    up_dpsi/lo_dpsi: callables (psi_up, psi_lo) -> elevation change (rad) of the upper/lower
    margin; rings further from the margin follow less (falloff over up_fall/lo_fall rad)."""
    kind = KIND_LIDS_L if side > 0 else KIND_LIDS_R
    sel = head.attrs["kind"] == kind
    t = head.attrs["lid_t"][sel]
    sg = head.attrs["lid_sigma"][sel]
    phi, psi = almond(t, sg)
    up = np.sin(t) >= 0
    tu = np.where(up, t, -t)
    psi_up = almond(tu, np.zeros_like(t))[1]
    psi_lo = almond(-tu, np.zeros_like(t))[1]
    g_up = 1.0 - smoothstep(0.0, up_fall, sg)
    g_lo = 1.0 - smoothstep(0.0, lo_fall, sg)
    dpsi = np.where(up, up_dpsi(psi_up, psi_lo) * g_up, lo_dpsi(psi_up, psi_lo) * g_lo)
    r = lid_radius(t, sg)
    e = eyes[side]
    old = e + r[:, None] * eye_dir(side, phi, psi)
    new = e + r[:, None] * eye_dir(side, phi + dphi * np.minimum(g_up, g_lo), psi + dpsi)
    d = np.zeros_like(head.pos)
    d[sel] = new - old
    return d


def _column_roll(F: HeadFields, weight: np.ndarray, upper: bool = False, press: bool = False) -> np.ndarray:
    """Roll lips inwards by sliding each lip column along itself ("conveyor belt"): the red lip
    moves into the mouth where the inner lip was, the skin below (above for the upper lip) moves
    up to the lip line. weight [N] scales the motion per vertex (0..1). press=True keeps the lip
    line in place and only thins the red lip towards it (lips stay sealed). Returns deltas [N,3]."""
    out = np.zeros_like(F.p)
    grid = np.nonzero(F.grid & (F.col >= 0))[0]
    ring, col = F.ring[grid], F.col[grid]
    rmin = ring.min()
    mat = np.full((ring.max() - rmin + 1, col.max() + 1), -1)
    mat[ring - rmin, col] = grid
    r0 = -rmin  # row of the contact ring
    lip_row = r0 + int(np.max(F.ring[F.grid & (F.lipd <= 1.0 + 1e-9) & (F.depth == 0)]))
    for j in range(mat.shape[1]):
        ids = mat[:, j]
        p = F.p[ids]
        seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        s = s - s[r0]
        lv = 0.9 * s[lip_row]
        if press:
            shift = np.where(s < 0, 0.0, np.minimum(s, lv) * (1.0 - smoothstep(1.1 * lv, 2.6 * lv, s)))
        else:
            shift = lv * np.where(s < 0, smoothstep(-0.02, 0.0, s), 1.0 - smoothstep(1.1 * lv, 2.6 * lv, s))
        new = np.stack([np.interp(s - shift, s, p[:, k]) for k in range(3)], -1)
        out[ids] = new - p
    side = F.upw if upper else F.loww
    return out * (weight * side)[:, None]


def _zero(parts: dict[str, Part]) -> dict[str, np.ndarray]:
    return {k: np.zeros_like(p.pos) for k, p in parts.items()}


def expression_deltas(parts: dict[str, Part], head_normals: np.ndarray, mouth: np.ndarray,
                      eyes: dict[int, np.ndarray], hinge: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """All ARKit shapes and visemes: {shapeName: {partName: delta [N,3] (m)}}.

    `mouth` [3] is the lip contact centre, `eyes` {+1: left centre, -1: right centre}, `hinge`
    the jaw hinge point, all for the geometry in `parts` (identity already baked in)."""
    head = parts["head"]
    F = HeadFields(head, head_normals, mouth, eyes, hinge)
    out: dict[str, dict[str, np.ndarray]] = {}
    wj = F.jaw_weight()
    teeth_low = parts["teeth"].attrs["lower"]
    tongue = parts["tongue"]

    lip_zone = F.fall(1.0, 3.2, cav_depth=0.02) * F.grid

    def jaw(fn, scale=1.0, lips_together=None):
        """Apply a rigid jaw motion fn(points)->points to every part, weighted by jaw weight.
        lips_together: for jaw slides (forward, sideways) the lips are carried along as one,
        at this fraction of the jaw motion, so they stay closed instead of shearing apart."""
        d = _zero(parts)
        w = wj if lips_together is None else wj * (1.0 - lip_zone) + lips_together * lip_zone
        d["head"] = (fn(F.p) - F.p) * (w * scale)[:, None]
        tp = parts["teeth"].pos
        d["teeth"] = (fn(tp) - tp) * (teeth_low * scale)[:, None]
        d["tongue"] = (fn(tongue.pos) - tongue.pos) * scale
        return d

    fwd = np.array([0.0, 0.0, 0.006])  # the condyles slide forward as the jaw rotates open

    def open_fn(q):
        return _rot_x(q, hinge, JAW_OPEN_DEG) + fwd

    out["jawOpen"] = jaw(open_fn)
    out["jawForward"] = jaw(lambda q: q + np.array([0.0, 0.0, 0.0055]), lips_together=0.6)
    out["jawLeft"] = jaw(lambda q: _rot_y(q, hinge, 2.0) + np.array([0.0055, 0.0, 0.0]), lips_together=0.55)
    out["jawRight"] = jaw(lambda q: _rot_y(q, hinge, -2.0) + np.array([-0.0055, 0.0, 0.0]), lips_together=0.55)

    # mouthClose: with the jaw open, the lips leave the jaw and meet JAW_MEET of the way down,
    # at their rest depth (clear of the teeth): jawOpen + mouthClose = sealed lips over an open
    # jaw. Written as a change of the jaw weight field (blended out over the skin around the
    # lips and the inner lip), so it is as smooth as the jaw field itself: no folds at the corners.
    rot = open_fn(F.p) - F.p
    # near the midline the lips keep their rest depth (the incisors are right behind them);
    # towards the corners they follow the jaw back, as the cheeks around them do
    keep_z = 1.0 - smoothstep(0.006, 0.024, np.abs(F.X))
    target = rot * JAW_MEET
    target[:, 2] *= 1.0 - keep_z
    w_close = F.fall(1.0, 2.6, cav_depth=0.03) * F.grid
    d = _zero(parts)
    d["head"] = (target - out["jawOpen"]["head"]) * w_close[:, None]
    out["mouthClose"] = d

    def head_only(delta):
        dd = _zero(parts)
        dd["head"] = delta
        return dd

    fall = F.fall
    sn_abs = np.abs(F.sn)
    # funnel: corners in, lips open into a round hole and push forward
    fw, fo = fall(1.0, 3.2), fall(0.6, 2.4)
    # the cavity walls narrow with the lips so the cheeks never cut through them
    cav_x = np.where(F.cav, 1.0 - smoothstep(0.004, 0.05, F.depth), 0.0)
    out["mouthFunnel"] = head_only(np.stack([
        -0.48 * F.X * np.maximum(fw, cav_x),
        np.sign(F.sn) * np.abs(F.sn) ** 0.5 * 0.0022 * fo,
        0.0105 * fw * (0.4 + 0.6 * sn_abs) + 0.002 * np.where(F.outer, np.sin(np.pi * np.clip(F.lipd, 0, 1)), 0)], -1))
    pw = fall(1.0, 3.8)
    out["mouthPucker"] = head_only(np.stack([
        -0.42 * F.X * np.maximum(pw, cav_x), -0.18 * F.Y * fall(1.0, 2.0),
        0.0085 * pw * (0.5 + 0.5 * sn_abs)], -1))
    for s, nm in ((1, "Left"), (-1, "Right")):
        mm = bump((F.X / 0.048) ** 2 + (F.Y / 0.042) ** 2 + (F.depth / 0.025) ** 2) * F.grid
        out[f"mouth{nm}"] = head_only(mm[:, None] * np.array([s * 0.0085, 0.0, -0.0012]))
        cheek = bump(((F.X - s * 0.035) / 0.022) ** 2 + ((F.Y - 0.028) / 0.022) ** 2) * F.outer
        out[f"mouthSmile{nm}"] = head_only(F.corner(s, 0.034, 0.032)[:, None] * np.array(
            [s * 0.0045, 0.0085, -0.004]) + cheek[:, None] * np.array([0.0, 0.004, 0.0018]))
        out[f"mouthFrown{nm}"] = head_only(F.corner(s, 0.032, 0.032)[:, None] * np.array(
            [s * 0.0015, -0.0075, -0.0008]))
        pit = bump(((F.X - s * (MOUTH_HALF_WIDTH + 0.008)) / 0.006) ** 2 + (F.Y / 0.007) ** 2) * F.outer
        out[f"mouthDimple{nm}"] = head_only(F.corner(s, 0.022, 0.02)[:, None] * np.array(
            [s * 0.0025, 0.0006, -0.0045]) + pit[:, None] * np.array([0.0, 0.0, -0.0015]))
        low_str = F.loww * fall(1.0, 3.0) * F.side(s)
        out[f"mouthStretch{nm}"] = head_only(F.corner(s, 0.03, 0.032)[:, None] * np.array(
            [s * 0.0065, -0.003, -0.0025]) + low_str[:, None] * np.array([s * 0.001, -0.002, 0.0]))
        sw = F.side(s)
        # press: both lips thin by partly rolling in, and tighten back a little
        d = (_column_roll(F, 0.55 * sw * sn_abs ** 0.5, press=True)
             + _column_roll(F, 0.55 * sw * sn_abs ** 0.5, upper=True, press=True))
        d[:, 2] -= 0.0008 * fall(1.0, 2.0) * sw
        out[f"mouthPress{nm}"] = head_only(d)
        lw = F.loww * sw * fall(1.2, 3.5) * sn_abs ** 0.3
        out[f"mouthLowerDown{nm}"] = head_only(lw[:, None] * np.array([s * 0.001, -0.0065, 0.0008]))
        uw = F.upw * sw * fall(1.2, 3.2) * sn_abs ** 0.3
        out[f"mouthUpperUp{nm}"] = head_only(uw[:, None] * np.array([s * 0.0005, 0.0055, 0.001]))

    # lip rolls: the red lip turns in over the teeth, the skin below it becomes the lip edge
    out["mouthRollLower"] = head_only(_column_roll(F, F.loww * sn_abs ** 0.4))
    out["mouthRollUpper"] = head_only(_column_roll(F, F.upw * sn_abs ** 0.4, upper=True))
    chin = bump((F.X / 0.03) ** 2 + ((F.Y + 0.035) / 0.03) ** 2) * F.outer
    wsl = np.clip(F.loww * fall(1.0, 4.5) + chin, 0.0, 1.0)
    out["mouthShrugLower"] = head_only(wsl[:, None] * np.array([0.0, 0.0035, 0.002]))
    wsu = F.upw * fall(1.0, 3.5)
    out["mouthShrugUpper"] = head_only(wsu[:, None] * np.array([0.0, 0.003, 0.0015]))

    # cheeks and nose
    puff = bump(((np.abs(F.X) - 0.037) / 0.027) ** 2 + ((F.Y - 0.008) / 0.03) ** 2) * F.outer * F.front
    puff_d = 0.008 * puff[:, None] * F.n + (fall(1.0, 3.0) * 0.002)[:, None] * np.array([0, 0, 1.0])
    out["cheekPuff"] = head_only(puff_d)
    for s, nm in ((1, "Left"), (-1, "Right")):
        e = eyes[s]
        ck = bump(((F.p[:, 0] - s * 0.034) / 0.022) ** 2 + ((F.p[:, 1] - (e[1] - 0.024)) / 0.016) ** 2)
        ck = ck * F.front * (F.outer | (F.kind == (KIND_LIDS_L if s > 0 else KIND_LIDS_R)))
        d = head_only(ck[:, None] * np.array([0.0, 0.003, 0.001]))
        d["head"] += _lid_delta(head, eyes, s, lambda u, l: 0.0 * u, lambda u, l: 0.12 * (u - l))
        out[f"cheekSquint{nm}"] = d
        ns = bump(((F.p[:, 0] - s * 0.012) / 0.014) ** 2 + ((F.p[:, 1] + 0.028) / 0.02) ** 2)
        ns = ns * smoothstep(0.06, 0.075, F.p[:, 2]) * F.outer
        lipu = F.upw * F.side(s) * fall(1.0, 2.5)
        out[f"noseSneer{nm}"] = head_only(ns[:, None] * np.array([s * 0.0008, 0.0032, 0.0005])
                                          + lipu[:, None] * np.array([0.0, 0.0012, 0.0]))

    # brows (spatial; lid shells and brow strips follow the same fields)
    not_cav = (~F.cav) & (F.kind != KIND_NECK) & (F.kind != KIND_EAR)
    inner = bump((F.p[:, 0] / 0.032) ** 2 + ((F.p[:, 1] - (EYE_Y + 0.03)) / 0.035) ** 2) * F.front * not_cav
    out["browInnerUp"] = head_only(inner[:, None] * np.array([0.0, 0.0055, 0.0]))
    for s, nm in ((1, "Left"), (-1, "Right")):
        cx, cy = s * EYE_X, eyes[s][1] + 0.02
        bd = bump(((F.p[:, 0] - cx) / 0.03) ** 2 + ((F.p[:, 1] - cy) / 0.022) ** 2) * F.front * not_cav
        medial = smoothstep(EYE_X + 0.02, EYE_X - 0.02, np.abs(F.p[:, 0]))
        out[f"browDown{nm}"] = head_only(np.stack([
            -s * 0.0022 * bd * medial, -0.0045 * bd * (0.6 + 0.4 * medial), 0.0008 * bd], -1))
        bo = bump(((F.p[:, 0] - s * (EYE_X + 0.016)) / 0.022) ** 2 + ((F.p[:, 1] - cy) / 0.025) ** 2)
        bo = bo * F.front * not_cav
        out[f"browOuterUp{nm}"] = head_only(bo[:, None] * np.array([0.0, 0.0045, 0.0]))

    # eyelids and eyeballs
    for s, nm, ek in ((1, "Left", "eyeL"), (-1, "Right", "eyeR")):
        e = eyes[s]
        out[f"eyeBlink{nm}"] = head_only(_lid_delta(head, eyes, s, lambda u, l: -0.72 * (u - l),
                                                    lambda u, l: 0.28 * (u - l)))
        d = head_only(_lid_delta(head, eyes, s, lambda u, l: -0.1 * (u - l),
                                 lambda u, l: 0.3 * (u - l), lo_fall=0.3))
        ck = bump(((F.p[:, 0] - s * 0.034) / 0.02) ** 2 + ((F.p[:, 1] - (e[1] - 0.022)) / 0.014) ** 2)
        d["head"] += (ck * F.outer * F.front)[:, None] * np.array([0.0, 0.0015, 0.0005])
        out[f"eyeSquint{nm}"] = d
        out[f"eyeWide{nm}"] = head_only(_lid_delta(head, eyes, s, lambda u, l: 0.13 + 0 * u,
                                                   lambda u, l: -0.04 + 0 * u))
        ep = parts[ek].pos
        look = {
            "Up": (lambda q: _rot_x(q, e, -EYE_UP_DEG), lambda u, l: 0.13 + 0 * u, lambda u, l: 0.04 + 0 * u, 0.0),
            "Down": (lambda q: _rot_x(q, e, EYE_DOWN_DEG), lambda u, l: -0.28 + 0 * u,
                     lambda u, l: -0.05 + 0 * u, 0.0),
            "In": (lambda q: _rot_y(q, e, -s * EYE_IN_DEG), lambda u, l: 0 * u, lambda u, l: 0 * u, -0.06),
            "Out": (lambda q: _rot_y(q, e, s * EYE_OUT_DEG), lambda u, l: 0 * u, lambda u, l: 0 * u, 0.06),
        }
        for dn, (rot, fu, fl, dphi) in look.items():
            d = head_only(_lid_delta(head, eyes, s, fu, fl, dphi=dphi))
            d[ek] = rot(ep) - ep
            out[f"eyeLook{dn}{nm}"] = d

    # tongue out: jaw drops a little, tongue slides forward over the lower teeth, flattening
    d = jaw(lambda q: _rot_x(q, hinge, JAW_OPEN_DEG * 0.35), 1.0)
    low_lip = F.loww * fall(1.0, 2.5)
    d["head"] += low_lip[:, None] * np.array([0.0, -0.0015, 0.0008])
    tip = tongue.attrs["tip"]
    tp = _rot_x(tongue.pos, hinge, JAW_OPEN_DEG * 0.35)
    yc = tongue.pos[:, 1].mean()
    ext = smoothstep(0.0, 1.0, tip)
    d["tongue"] += np.stack([0.12 * (tp[:, 0]) * ext, 0.0045 * ext - 0.12 * (tp[:, 1] - yc) * ext ** 2,
                             0.034 * ext + 0.004], -1)
    out["tongueOut"] = d

    missing = set(ARKIT_52) - set(out)
    assert not missing, missing
    res = {k: out[k] for k in ARKIT_52}

    # tongue-only helpers for visemes
    helpers = {"_tongueTipUp": _zero(parts), "_tongueBackUp": _zero(parts)}
    helpers["_tongueTipUp"]["tongue"] = np.stack([0 * tip, 0.009 * tip ** 3, 0.003 * tip ** 3], -1)
    helpers["_tongueBackUp"]["tongue"] = np.stack([0 * tip, 0.007 * (1 - tip) ** 2, 0 * tip], -1)
    for vn, pose in VISEMES.items():
        d = _zero(parts)
        for sn_, w in pose.items():
            src = res[sn_] if sn_ in res else helpers[sn_]
            for k in d:
                d[k] = d[k] + w * src[k]
        res[vn] = d
    return res


def identity_deltas(parts: dict[str, Part], head_normals: np.ndarray, mouth: np.ndarray,
                    eyes: dict[int, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Identity morphs {id_name: {partName: delta [N,3] (m)}} on the neutral geometry.

    Rigid parts (eyeballs, eyelid shells, teeth, tongue) translate by the field's value at their
    centre so they never deform against each other."""
    head = parts["head"]
    F = HeadFields(head, head_normals, mouth, eyes, HINGE)
    m = mouth

    def field(name: str, p: np.ndarray, n: np.ndarray | None) -> np.ndarray:
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        zero = np.zeros_like(x)
        if name == "id_faceWidth":
            return np.stack([0.07 * x * smoothstep(-0.02, 0.04, z), zero, zero], -1)
        if name == "id_jawWidth":
            w = smoothstep(m[1] + 0.03, m[1] - 0.02, y) * smoothstep(-0.04, 0.0, z)
            return np.stack([0.12 * x * w, zero, zero], -1)
        if name == "id_chinLength":
            w = smoothstep(m[1] - 0.01, m[1] - 0.045, y) * smoothstep(-0.02, 0.03, z)
            return np.stack([zero, -0.008 * w, zero], -1)
        if name == "id_chinProtrusion":
            w = smoothstep(m[1] - 0.015, m[1] - 0.045, y) * smoothstep(0.0, 0.05, z)
            return np.stack([zero, zero, 0.006 * w], -1)
        if name == "id_cheekFullness":
            w = bump(((np.abs(x) - 0.042) / 0.03) ** 2 + ((y - (m[1] + 0.035)) / 0.035) ** 2) * smoothstep(0.0, 0.04, z)
            nn = n if n is not None else np.tile([0.0, 0.0, 1.0], (len(x), 1))
            return 0.004 * w[:, None] * nn
        if name == "id_noseLength":
            w = bump((x / 0.018) ** 2 + ((y + 0.028) / 0.024) ** 2 + ((z - 0.1) / 0.022) ** 2)
            return w[:, None] * np.array([0.0, -0.0025, 0.0055])
        if name == "id_noseWidth":
            w = bump((x / 0.025) ** 2 + ((y + 0.034) / 0.016) ** 2) * smoothstep(0.07, 0.085, z)
            return np.stack([0.3 * x * w, zero, zero], -1)
        if name == "id_eyeSpacing":
            w = bump(((np.abs(x) - EYE_X) / 0.024) ** 2 + ((y - EYE_Y) / 0.024) ** 2) * smoothstep(0.03, 0.05, z)
            return np.stack([0.0035 * np.sign(x) * w, zero, zero], -1)
        if name == "id_browRidge":
            w = bump((x / 0.055) ** 2 + ((y - (EYE_Y + 0.022)) / 0.014) ** 2) * smoothstep(0.05, 0.07, z)
            return np.stack([zero, zero, 0.003 * w], -1)
        if name == "id_headLength":
            return np.stack([zero, zero, -0.012 * smoothstep(0.0, -0.09, z)], -1)
        raise KeyError(name)

    out = {}
    for name in IDENTITY:
        d = _zero(parts)
        if name == "id_lipFullness":
            w = F.fall(1.0, 2.0, cav_depth=0.008) * F.grid
            band = np.where(F.outer, 1.0 - smoothstep(1.0, 1.6, F.lipd), 0.0)
            # the lip line itself stays put (lips stay sealed); the red lip swells or thins
            edge = np.where(F.outer, smoothstep(0.0, 0.35, F.lipd), 0.0)
            d["head"] = (0.0022 * (w * edge)[:, None] * head_normals
                         + (0.22 * (F.Y - F.Yc) * band)[:, None] * np.array([0, 1.0, 0]))
        else:
            d["head"] = field(name, head.pos, head_normals)
            for s, kind in ((1, KIND_LIDS_L), (-1, KIND_LIDS_R)):
                sel = F.kind == kind
                d["head"][sel] = field(name, eyes[s][None], None)[0]
            for k in ("teeth", "tongue"):
                c = parts[k].pos.mean(0)[None]
                d[k] = np.tile(field(name, c, None), (len(parts[k].pos), 1))
            for s, k in ((1, "eyeL"), (-1, "eyeR")):
                d[k] = np.tile(field(name, eyes[s][None], None), (len(parts[k].pos), 1))
        out[name] = d
    return out
