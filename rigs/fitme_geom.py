"""Procedural neutral geometry of the "fitme" default head.

Conventions: metres, +Y up, +Z forward (the face looks down +Z), +X is the character's LEFT
(ARKit "...Left" shapes move +X side vertices). All arrays are float64 while building; the glTF
writer rounds to float32.

The head skin is one grid in "mouth-polar" coordinates: columns go around the mouth (angle
theta, 0 = left mouth corner, pi/2 = upper lip centre) and rings go from a pole deep in the
throat, through the mouth cavity ("bag"), over the lip roll, across the face and skull to a pole
at the back of the head. This gives real lips with a slit and an inner cavity, and dense rings
around the mouth where speech shapes need them. The skin surface itself is found by shooting
rays from a point inside the head onto a smooth signed-distance model (smooth union of
ellipsoids: cranium, face mass, jaw, chin, cheeks, brow ridge, nose).

Eyes use the classic lid-shell construction: the skin dips behind the eyeball, and a finely
tessellated eyelid shell (rings around an almond-shaped opening, on a sphere slightly larger
than the eyeball) covers it; blinking slides the lid rings over the eyeball on that sphere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# ---- landmarks (neutral, before identity) ------------------------------------------------------
R_EYE = 0.0125  # eyeball radius (m)
R_LID = R_EYE + 0.0012  # eyelid shell radius: lids slide over the eyeball 1.2 mm above it
EYE_X, EYE_Y, EYE_Z = 0.032, 0.012, 0.066
RAY_CENTER = np.array([0.0, -0.005, -0.02])  # rays to the skin are shot from here
MOUTH_AIM = np.array([0.0, -0.068, 0.09])  # where the mouth pole of the skin grid points
HINGE = np.array([0.0, -0.012, -0.004])  # jaw hinge (temporomandibular joint), axis = X
MOUTH_HALF_WIDTH = 0.024  # lip contact line half-length (m)
N_THETA_UP, N_THETA_LO = 56, 32  # columns over the upper / lower half around the mouth
N_THETA = N_THETA_UP + N_THETA_LO


def skin_theta() -> np.ndarray:
    """Column angles [N_THETA] (rad) around the mouth: both corners (0, pi) are columns; the upper
    half (nose, eyes) gets more columns than the lower half (jaw), whose vertices are costly
    because nearly every speech shape moves them."""
    return np.concatenate([np.linspace(0.0, np.pi, N_THETA_UP + 1)[:-1],
                           np.linspace(np.pi, 2 * np.pi, N_THETA_LO + 1)[:-1]])

# almond of the eye opening in eye-local angles (radians): phi lateral, psi up
ALM_PHI_C, ALM_PHI_H = 0.11, 1.08
ALM_H_UP, ALM_H_LO = 0.44, 0.34


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Hermite 0->1 ramp of `x` between e0 and e1 (any shape, unitless)."""
    t = np.clip((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def bump(r2: np.ndarray) -> np.ndarray:
    """Compact smooth bump of a squared normalised distance: (1 - r2)^3 inside r2 < 1, else 0.

    Compact support matters: morph deltas become exactly zero outside a region, which keeps the
    sparse morph-target accessors (and the file) small.
    """
    t = np.clip(1.0 - np.asarray(r2, dtype=np.float64), 0.0, 1.0)
    return t * t * t


@dataclass
class Part:
    """One piece of geometry: vertices [N,3] (m), uvs [N,2], faces per material [M,3] (int),
    and per-vertex attributes used by the blendshape fields (arrays of length N)."""

    name: str
    pos: np.ndarray
    uv: np.ndarray
    faces: dict[str, np.ndarray]
    attrs: dict[str, np.ndarray] = field(default_factory=dict)


# ---- signed distance model of the head ---------------------------------------------------------
def _ell(p: np.ndarray, c, r) -> np.ndarray:
    """Approximate signed distance [..] from points p [..,3] to an axis-aligned ellipsoid."""
    r = np.asarray(r, dtype=np.float64)
    q = (p - np.asarray(c, dtype=np.float64)) / r
    k0 = np.linalg.norm(q, axis=-1)
    k1 = np.linalg.norm(q / r, axis=-1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (smooth union) with blend radius k (m)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _cone(p: np.ndarray, a, b, ra: float, rb: float, xs: float = 1.0) -> np.ndarray:
    """Distance to a capsule a->b whose radius goes ra->rb; x squeezed by `xs` (narrow nose)."""
    p = p * np.array([1.0 / xs, 1.0, 1.0])
    a = np.asarray(a, dtype=np.float64)
    ba = np.asarray(b, dtype=np.float64) - a
    t = np.clip(((p - a) @ ba) / (ba @ ba), 0.0, 1.0)
    d = np.linalg.norm(p - (a + t[..., None] * ba), axis=-1)
    return d - (ra + (rb - ra) * t)


def _base_sdf(p: np.ndarray) -> np.ndarray:
    """Signed distance (m) of the head volume without the nose: skull, face mass, mandible,
    chin, cheeks and brow ridge as a smooth union of ellipsoids (sharp where they meet; see
    head_sdf for the blur that rounds those creases)."""
    pm = p.copy()
    pm[..., 0] = np.abs(p[..., 0])  # mirrored copy for paired features
    d = _ell(p, (0.0, 0.021, -0.014), (0.075, 0.091, 0.101))  # cranium
    d = _smin(d, _ell(p, (0.0, -0.040, 0.014), (0.064, 0.074, 0.076)), 0.03)  # face mass
    d = _smin(d, _ell(pm, (0.043, -0.074, -0.006), (0.020, 0.032, 0.042)), 0.026)  # jaw angles
    d = _smin(d, _ell(pm, (0.028, -0.094, 0.035), (0.019, 0.017, 0.034)), 0.022)  # mandible body
    d = _smin(d, _ell(p, (0.0, -0.098, 0.064), (0.025, 0.019, 0.021)), 0.022)  # chin
    d = _smin(d, _ell(p, (0.0, -0.060, 0.053), (0.034, 0.032, 0.032)), 0.016)  # muzzle
    d = _smin(d, _ell(pm, (0.045, -0.004, 0.046), (0.022, 0.016, 0.024)), 0.022)  # cheekbones
    d = _smin(d, _ell(pm, (0.036, -0.036, 0.047), (0.026, 0.026, 0.027)), 0.026)  # cheeks
    d = _smin(d, _ell(p, (0.0, 0.031, 0.064), (0.056, 0.012, 0.021)), 0.014)  # brow ridge
    return d


def _nose_sdf(p: np.ndarray) -> np.ndarray:
    """Signed distance (m) of the nose: bridge cone, tip and the two alae."""
    pm = p.copy()
    pm[..., 0] = np.abs(p[..., 0])
    nose = _cone(p, (0.0, 0.019, 0.079), (0.0, -0.025, 0.0965), 0.0058, 0.0080, xs=0.8)
    nose = _smin(nose, _ell(p, (0.0, -0.027, 0.0948), (0.0088, 0.0085, 0.0095)), 0.006)  # tip
    return _smin(nose, _ell(pm, (0.0118, -0.0345, 0.0850), (0.0068, 0.0060, 0.0072)), 0.006)  # alae


# blur kernel of the base volume: centre + 6 axis + 8 diagonal offsets on a 7 mm sphere
_BLUR_R = 0.007
_BLUR = np.concatenate([[[0.0, 0.0, 0.0]], np.eye(3), -np.eye(3),
                        np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) / np.sqrt(3)])
_BLUR_W = np.concatenate([[0.2], np.full(6, 0.4 / 6), np.full(8, 0.4 / 8)])


def head_sdf(p: np.ndarray, blur: bool = True) -> np.ndarray:
    """Signed distance (m, negative inside) of the smooth head volume at points p [..,3].

    The base volume is averaged over a small sphere of offsets (a blur of the distance field),
    which rounds the creases where its ellipsoids meet: without it the cheeks and jaw read as
    lumps under a raking light. The nose is added after the blur so it keeps its shape."""
    if blur:
        base = sum(w * _base_sdf(p + _BLUR_R * o) for o, w in zip(_BLUR, _BLUR_W))
    else:
        base = _base_sdf(p)
    return _smin(base, _nose_sdf(p), 0.008)


def sdf_normal(p: np.ndarray) -> np.ndarray:
    """Unit outward normal [N,3] of the head SDF by central differences."""
    e = 1e-4
    g = np.stack([head_sdf(p + np.array(v) * e) - head_sdf(p - np.array(v) * e)
                  for v in ((1, 0, 0), (0, 1, 0), (0, 0, 1))], axis=-1)
    return g / np.linalg.norm(g, axis=-1, keepdims=True)


def project_rays(dirs: np.ndarray, origin: np.ndarray = RAY_CENTER) -> np.ndarray:
    """Outermost hit [N,3] of rays origin + t*dirs (dirs [N,3] unit) with the head surface."""
    ts = np.linspace(0.30, 0.0, 151)  # march from outside inwards in 2 mm steps
    pts = origin + ts[None, :, None] * dirs[:, None, :]
    # the cheap unblurred field, inflated by 6 mm, brackets the blurred surface from outside
    inside = head_sdf(pts, blur=False) < 0.006
    k = np.argmax(inside, axis=1)  # first inside sample from outside
    hi = ts[np.maximum(k - 1, 0)]
    lo = np.maximum(hi - 0.03, 0.0)
    for _ in range(6):  # step inwards until the blurred field is inside at `lo`
        bad = head_sdf(origin + lo[:, None] * dirs) >= 0.0
        if not bad.any():
            break
        lo = np.where(bad, np.maximum(lo - 0.03, 0.0), lo)
    for _ in range(32):  # bisection to ~1e-11 m
        mid = 0.5 * (hi + lo)
        ins = head_sdf(origin + mid[:, None] * dirs) < 0.0
        lo = np.where(ins, mid, lo)
        hi = np.where(ins, hi, mid)
    return origin + (0.5 * (hi + lo))[:, None] * dirs


# ---- eye-local angles --------------------------------------------------------------------------
def eye_center(side: int) -> np.ndarray:
    """Eyeball centre [3] (m); side +1 = left (+X), -1 = right."""
    return np.array([side * EYE_X, EYE_Y, EYE_Z])


def eye_dir(side: int, phi: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """Unit directions [N,3] from the eye centre for lateral angle phi and elevation psi (rad)."""
    return np.stack([side * np.sin(phi) * np.cos(psi), np.sin(psi), np.cos(phi) * np.cos(psi)], -1)


def eye_angles(side: int, p: np.ndarray, center: np.ndarray | None = None):
    """(phi, psi, r) of points p [N,3] around an eye centre: lateral angle, elevation (rad), m."""
    v = p - (eye_center(side) if center is None else center)
    r = np.linalg.norm(v, axis=-1)
    psi = np.arcsin(np.clip(v[:, 1] / np.maximum(r, 1e-12), -1, 1))
    phi = np.arctan2(side * v[:, 0], v[:, 2])
    return phi, psi, r


def almond(t: np.ndarray, sigma: np.ndarray):
    """Eye-opening ring in eye angles: t [N] around (0 = lateral corner, pi/2 = upper lid),
    sigma [N] offset in radians (0 = lid margin, >0 outwards over the lids, <0 behind the margin).
    Returns (phi, psi) [N] each (rad)."""
    c, s = np.cos(t), np.sin(t)
    up = s >= 0
    h = np.where(up, ALM_H_UP * (1.0 - 0.12 * c), ALM_H_LO * (1.0 + 0.10 * c))
    ex = 0.75 + 0.25 * np.clip(sigma / 0.3, 0.0, 1.0)  # rounder rings away from the margin
    phi = ALM_PHI_C + (ALM_PHI_H + 0.9 * sigma) * c
    psi = 0.035 + 0.035 * c + np.sign(s) * (h + sigma) * np.abs(s) ** ex
    return phi, psi


def almond_e(phi: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """Normalised elliptic distance from the eye opening centre (1 ~ on the lid margin)."""
    hv = np.where(psi > 0.035, ALM_H_UP, ALM_H_LO)
    return np.sqrt(((phi - ALM_PHI_C) / ALM_PHI_H) ** 2 + ((psi - 0.035) / hv) ** 2)


# ---- head skin grid ----------------------------------------------------------------------------
def _skin_steps() -> np.ndarray:
    """Distances d_s (m) beyond the lip border of the skin rings, ending at the back pole."""
    ds, d, step = [], 0.0, 0.0012
    rm = float(np.linalg.norm(MOUTH_AIM - RAY_CENTER))
    d_max = np.pi * rm - MOUTH_HALF_WIDTH - 0.001
    while d < d_max - 1e-9:
        d = min(d + step, d_max)
        ds.append(d)
        # fine over lips/nose/eyes/brows, coarser over the skull
        step = min(step * 1.09, 0.0031 if d < 0.1 else 0.004) if d < 0.15 else min(step * 1.13, 0.014)
    return np.array(ds)


def _lip_params(theta: np.ndarray):
    """Per column [NT]: vermilion heights (m) and lip thickness (m) with cupid's bow."""
    c, s = np.cos(theta), np.sin(theta)
    up = s > 0
    bow = 0.16 * np.exp(-((np.abs(c) - 0.21) / 0.09) ** 2) - 0.12 * np.exp(-(c / 0.07) ** 2)
    hv = np.where(up, 0.0082 * (1.0 + bow), 0.0098)
    thick = np.where(up, 0.0052, 0.0060) * (0.18 + 0.82 * np.abs(s) ** 0.7)
    return hv, thick


BAG = np.array([  # mouth cavity rings: depth behind the lip contact, half width, half height (m)
    [0.0030, 0.0215, 0.0015], [0.0055, 0.0225, 0.0060], [0.0085, 0.0235, 0.0115],
    [0.0150, 0.0245, 0.0160], [0.0220, 0.0255, 0.0205], [0.0340, 0.0260, 0.0225],
    [0.0500, 0.0230, 0.0215], [0.0620, 0.0130, 0.0120],
])


def build_skin() -> Part:
    """The head skin grid (mouth cavity + lips + face + skull) as one closed surface."""
    nt = N_THETA
    theta = skin_theta()
    c, s = np.cos(theta), np.sin(theta)
    hv, thick = _lip_params(theta)
    a0 = MOUTH_HALF_WIDTH
    pole = (MOUTH_AIM - RAY_CENTER) / np.linalg.norm(MOUTH_AIM - RAY_CENTER)
    ex = np.array([1.0, 0.0, 0.0])
    ey = np.cross(pole, ex)
    ey /= np.linalg.norm(ey)
    rm = float(np.linalg.norm(MOUTH_AIM - RAY_CENTER))

    lip_s = np.linspace(0.0, 1.0, 9)
    skin_d = _skin_steps()
    rings_q, rings_bulge, rings_lipd = [], [], []
    for sv in lip_s:  # lip roll: from contact line over the red lip to the vermilion border
        qx = (a0 + 0.001 * sv) * c
        qy = (0.00002 + hv * (1.0 - np.cos(np.pi * sv)) / 2.0) * s  # lips sealed at rest
        rings_q.append(np.stack([qx, qy], -1))
        rings_bulge.append(thick * (0.42 + 0.58 * np.sin(np.pi * sv)))
        rings_lipd.append(np.full(nt, sv))
    for dv in skin_d:
        ax = a0 + 0.001 + dv
        by = hv + dv + (a0 + 0.001 - hv) * smoothstep(0.0, 0.07, dv)
        rings_q.append(np.stack([ax * c, by * s], -1))
        ridge = 0.0005 * np.exp(-(dv / 0.0016) ** 2)  # the white roll at the vermilion border
        rings_bulge.append(thick * 0.42 * (1.0 - smoothstep(0.0, 0.008, dv)) + ridge)
        rings_lipd.append(np.full(nt, 1.0 + dv / 0.01))
    q = np.concatenate(rings_q)
    rho = np.linalg.norm(q, axis=1)
    alpha = np.minimum(rho / rm, np.pi)
    ang = np.arctan2(q[:, 1], q[:, 0])
    dirs = (np.cos(alpha)[:, None] * pole
            + np.sin(alpha)[:, None] * (np.cos(ang)[:, None] * ex + np.sin(ang)[:, None] * ey))
    surf = project_rays(dirs)
    nrm = sdf_normal(surf)
    outer = surf + np.concatenate(rings_bulge)[:, None] * nrm
    n_outer = len(rings_q)
    outer = outer.reshape(n_outer, nt, 3)
    # the last ring sits at alpha = pi: collapse it into the back pole
    back_pole = outer[-1].mean(axis=0)
    outer = outer[:-1]
    lipd_outer = np.stack(rings_lipd[:-1])

    # mouth cavity: from the lip contact ring back into the throat
    contact = outer[0]
    bag_rings, bag_depth = [], []
    for depth, hw, hh in BAG:
        k = smoothstep(0.0, 0.010, depth)
        cx = np.sign(c) * np.abs(c) ** (2.0 / 3.0)  # boxy (superellipse) cross-section
        sy = np.sign(s) * np.abs(s) ** (2.0 / 3.0)
        x = (1 - k) * (contact[:, 0] + (hw - a0) * c) + k * hw * cx
        y = contact[:, 1].mean() + hh * sy
        z = contact[:, 2] - depth + k * 0.35 * (contact[:, 2].max() - contact[:, 2])
        ring_p = np.stack([x, y, z], -1)
        yc = contact[:, 1].mean()
        for _ in range(40):  # keep the cavity at least 1.5 mm inside the skin (chin hollow)
            out = head_sdf(ring_p) > -0.0015
            if not out.any():
                break
            ring_p[out, 0] *= 0.97
            ring_p[out, 1] = yc + (ring_p[out, 1] - yc) * 0.97
        bag_rings.append(ring_p)
        bag_depth.append(np.full(nt, depth))
    throat = np.array([0.0, contact[:, 1].mean(), contact[:, 2].max() - 0.067])

    rings = np.concatenate([np.stack(bag_rings[::-1]), outer])  # throat -> back of head
    nr = rings.shape[0]
    nb = len(bag_rings)
    pos = np.concatenate([throat[None], rings.reshape(-1, 3), back_pole[None]])
    lipd = np.concatenate([[-7.0], (-np.stack(bag_depth[::-1]) / 0.01).ravel(),
                           lipd_outer.ravel(), [lipd_outer.max() + 1]])
    depth = np.concatenate([[0.067], np.stack(bag_depth[::-1]).ravel(),
                            np.zeros(outer.size // 3), [0.0]])
    th = np.concatenate([[0.0], np.tile(theta, nr), [0.0]])
    col = np.concatenate([[-1], np.tile(np.arange(nt), nr), [-1]])
    ring = np.concatenate([[-1], np.repeat(np.arange(nr) - nb, nt), [nr]])

    def vid(r, j):
        return 1 + r * nt + (j % nt)

    j = np.arange(nt)
    faces = {"mouth": [], "lips": [], "skin": []}
    faces["mouth"].append(np.stack([np.zeros(nt, int), vid(0, j + 1), vid(0, j)], -1))
    for r in range(nr - 1):
        a, b, cc, dd = vid(r, j), vid(r, j + 1), vid(r + 1, j + 1), vid(r + 1, j)
        quad = np.concatenate([np.stack([a, b, cc], -1), np.stack([a, cc, dd], -1)])
        rr = r - nb  # ring index relative to the contact ring
        mat = "mouth" if rr < -2 else ("lips" if rr < len(lip_s) - 1 else "skin")
        faces[mat].append(quad)
    last = len(pos) - 1
    faces["skin"].append(np.stack([vid(nr - 1, j), vid(nr - 1, j + 1), np.full(nt, last)], -1))
    faces = {k: np.concatenate(v) for k, v in faces.items()}
    uv = np.stack([np.where(col >= 0, col / nt, 0.5),
                   np.clip((ring + nb + 1) / (nr + 1), 0, 1)], -1)
    part = Part("skin", pos, uv, faces,
                {"theta": th, "lipd": lipd, "depth": depth, "col": col, "ring": ring})
    _orient_outward(part, RAY_CENTER, only="skin")
    _dip_eye_sockets(part)
    return part


def _orient_outward(part: Part, center: np.ndarray, only: str | None = None) -> None:
    """Flip all face windings of `part` if its (or material `only`'s) normals point inwards."""
    f = part.faces[only] if only else np.concatenate(list(part.faces.values()))
    p = part.pos
    n = np.cross(p[f[:, 1]] - p[f[:, 0]], p[f[:, 2]] - p[f[:, 0]])
    if np.sum(np.einsum("ij,ij->i", n, p[f].mean(1) - center)) < 0:
        part.faces = {k: v[:, ::-1].copy() for k, v in part.faces.items()}


def _dip_eye_sockets(part: Part) -> None:
    """Sink the skin behind each eyeball so the eyelid shell shows; the crease where the skin
    rises back over the shell reads as the lid fold."""
    p = part.pos
    face = part.attrs["lipd"] > 1.0
    for side in (1, -1):
        e = eye_center(side)
        phi, psi, r = eye_angles(side, p)
        el = almond_e(phi, psi)
        target = R_EYE - 0.004
        # only skin close to the eyeball shell dips; the nose and cheeks further out stay put
        k = np.maximum(smoothstep(1.55, 2.35, el), smoothstep(R_EYE + 0.006, R_EYE + 0.011, r))
        r_new = np.minimum(r, target + (r - target) * k)
        near = face & (r < 0.03)
        dirn = (p - e) / np.maximum(r, 1e-12)[:, None]
        p[near] = e + dirn[near] * r_new[near, None]


# ---- eyelid shells -----------------------------------------------------------------------------
LID_SIGMA = np.array([-0.045, -0.03, -0.012, 0.0, 0.012, 0.03, 0.055, 0.085, 0.12, 0.16,
                      0.21, 0.27, 0.34, 0.42, 0.50, 0.58])
LID_NT = 64


def lid_radius(t: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Radius (m) of the eyelid shell from the eye centre at ring (t, sigma)."""
    up = np.sin(t) >= 0
    inner = np.interp(sigma, [-0.045, -0.03, -0.012, 0.0], [R_EYE - 0.002, R_EYE + 0.0002,
                                                            R_LID - 0.0005, R_LID])
    fold = np.where(up, 0.0009 * np.exp(-((sigma - 0.22) / 0.08) ** 2),
                    0.0005 * np.exp(-((sigma - 0.06) / 0.05) ** 2))
    outer = R_LID + fold - 0.0075 * smoothstep(0.36, 0.58, sigma)
    return np.where(sigma < 0, inner, outer)


def build_lids(side: int) -> Part:
    """Eyelid shell of one eye: LID_SIGMA rings x LID_NT columns around the eye opening."""
    nt, ns = LID_NT, len(LID_SIGMA)
    t = np.tile(2 * np.pi * np.arange(nt) / nt, ns)
    sg = np.repeat(LID_SIGMA, nt)
    phi, psi = almond(t, sg)
    pos = eye_center(side) + lid_radius(t, sg)[:, None] * eye_dir(side, phi, psi)
    j = np.arange(nt)
    faces = {"skin": [], "lashes": []}
    for r in range(ns - 1):
        a, b, c, d = r * nt + j, r * nt + (j + 1) % nt, (r + 1) * nt + (j + 1) % nt, (r + 1) * nt + j
        quad = np.concatenate([np.stack([a, b, c], -1), np.stack([a, c, d], -1)])
        faces["lashes" if LID_SIGMA[r] == -0.012 else "skin"].append(quad)
    faces = {k: np.concatenate(v) for k, v in faces.items()}
    uv = np.stack([t / (2 * np.pi), (sg - sg.min()) / (sg.max() - sg.min())], -1)
    part = Part(f"lids{side}", pos, uv, faces, {"lid_t": t, "lid_sigma": sg})
    _orient_outward(part, eye_center(side))
    return part


# ---- eyebrows, ears, neck ----------------------------------------------------------------------
def build_brow(side: int) -> Part:
    """A thin raised strip of brow material lying on the skin above one eye."""
    nu, nv = 22, 7
    u = np.repeat(np.linspace(0, 1, nu), nv)
    v = np.tile(np.linspace(0, 1, nv), nu)
    x = 0.011 + 0.044 * u
    yc = EYE_Y + 0.019 + 0.007 * np.sin(np.pi * np.clip(u * 1.1, 0, 1)) - 0.006 * u ** 2
    width = 0.0075 * (1.0 - 0.6 * u ** 1.5)
    y = yc + (v - 0.5) * width
    aim = np.stack([side * x, y, np.full_like(x, 0.09)], -1)
    dirs = aim - RAY_CENTER
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    surf = project_rays(dirs)
    h = 0.0011 * (1 - (2 * v - 1) ** 2) * (1 - 0.5 * u) - 0.0004  # edges tuck under the skin
    pos = surf + h[:, None] * sdf_normal(surf)
    idx = np.arange(nu * nv).reshape(nu, nv)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    f = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    part = Part(f"brow{side}", pos, np.stack([u, v], -1), {"brow": f})
    _orient_outward(part, RAY_CENTER)
    return part


def _sphere_grid(n_rings: int, n_seg: int, betas: np.ndarray | None = None):
    """Unit sphere around +Z pole: returns dirs [N,3], beta [N], gamma [N], faces [M,3].

    Vertex 0 is the +Z pole, the last vertex the -Z pole, rings in between."""
    if betas is None:
        betas = np.linspace(0, np.pi, n_rings + 2)[1:-1]
    g = 2 * np.pi * np.arange(n_seg) / n_seg
    bb = np.repeat(betas, n_seg)
    gg = np.tile(g, len(betas))
    dirs = np.stack([np.sin(bb) * np.cos(gg), np.sin(bb) * np.sin(gg), np.cos(bb)], -1)
    dirs = np.concatenate([[[0, 0, 1.0]], dirs, [[0, 0, -1.0]]])
    beta = np.concatenate([[0.0], bb, [np.pi]])
    gamma = np.concatenate([[0.0], gg, [0.0]])
    nr = len(betas)
    j = np.arange(n_seg)
    f = [np.stack([np.zeros(n_seg, int), 1 + j, 1 + (j + 1) % n_seg], -1)]
    for r in range(nr - 1):
        a, b = 1 + r * n_seg + j, 1 + r * n_seg + (j + 1) % n_seg
        c, d = b + n_seg, a + n_seg
        f += [np.stack([a, c, b], -1), np.stack([a, d, c], -1)]
    last = len(dirs) - 1
    f.append(np.stack([1 + (nr - 1) * n_seg + j, np.full(n_seg, last),
                       1 + (nr - 1) * n_seg + (j + 1) % n_seg], -1))
    return dirs, beta, gamma, np.concatenate(f)


def build_ear(side: int) -> Part:
    """A flattened shell with a raised helix rim and a concha bowl, flaring back from the head."""
    dirs, beta, gamma, f = _sphere_grid(16, 26)
    # local frame: pole = lateral (outward), gamma around it; local (a, b) = (back, up)
    a_ax, b_ax = np.cos(gamma) * np.sin(beta), np.sin(gamma) * np.sin(beta)
    lat = np.cos(beta)
    outer = lat > 0
    rho = np.sin(beta)
    half_h, half_w = 0.031, 0.0165
    b_pos = b_ax * half_h
    a_pos = a_ax * half_w * (1.0 - 0.25 * smoothstep(0.0, -1.0, b_ax))  # narrower lobe
    relief = np.where(outer, 0.0045 * np.exp(-((rho - 0.88) / 0.1) ** 2)
                      - 0.004 * np.exp(-((a_pos + 0.002) / 0.007) ** 2 - ((b_pos + 0.004) / 0.009) ** 2), 0.0)
    x_pos = lat * 0.0035 + relief + 0.0035 * outer
    # flare: the back edge (a > 0) stands off the head
    x_pos = x_pos + np.clip(a_pos + half_w, 0, None) * np.tan(np.radians(24))
    pos = np.stack([side * (0.064 + x_pos), -0.004 + b_pos, -0.016 - a_pos], -1)
    part = Part(f"ear{side}", pos, np.stack([gamma / (2 * np.pi), beta / np.pi], -1), {"skin": f})
    _orient_outward(part, pos.mean(0))
    return part


def build_neck() -> Part:
    """An elliptic neck tube whose top hides inside the head, capped at the bottom."""
    ns, ys = 32, np.linspace(-0.20, -0.055, 9)
    g = 2 * np.pi * np.arange(ns) / ns
    y = np.repeat(ys, ns)
    gg = np.tile(g, len(ys))
    flare = 1.0 + 0.18 * smoothstep(-0.16, -0.20, y)  # shoulders start
    x = 0.053 * flare * np.cos(gg)
    z = -0.016 + 0.057 * flare * np.sin(gg) + 0.10 * (y + 0.13) * 0.3
    # the top ring slopes down towards the front, so the neck ends inside the head below the
    # floor of the mouth (and of the open jaw) instead of showing through the open mouth
    top = smoothstep(-0.11, -0.055, y)
    y = y - 0.035 * top * (0.5 + 0.5 * np.sin(gg))
    z = z - 0.006 * top * np.clip(np.sin(gg), 0, None)
    pos = np.concatenate([np.stack([x, y, z], -1), [[0.0, -0.20, -0.018 + 0.10 * (-0.07) * 0.3]]])
    j = np.arange(ns)
    f = []
    for r in range(len(ys) - 1):
        a, b = r * ns + j, r * ns + (j + 1) % ns
        f += [np.stack([a, b, b + ns], -1), np.stack([a, b + ns, a + ns], -1)]
    f.append(np.stack([(j + 1) % ns, j, np.full(ns, len(pos) - 1)], -1))
    part = Part("neck", pos, np.stack([np.append(gg, 0) / (2 * np.pi), np.append(y, -0.2) * -3], -1),
                {"skin": np.concatenate(f)})
    part.uv = np.clip(part.uv, 0, 1)
    _orient_outward(part, np.array([0, -0.13, -0.018]))
    return part


# ---- eyeballs, teeth, tongue -------------------------------------------------------------------
EYE_BETAS = np.array([0.09, 0.18, 0.26, 0.34, 0.42, 0.49, 0.56, 0.68, 0.85, 1.05, 1.3, 1.57,
                      1.85, 2.2, 2.6, 3.0])


def build_eyeball(side: int) -> Part:
    """Eyeball sphere [pupil, iris, sclera materials] looking down +Z."""
    dirs, beta, gamma, f = _sphere_grid(0, 36, EYE_BETAS)
    r = R_EYE - 0.0004 * smoothstep(0.49, 0.3, beta)  # the iris plane sits a hair behind
    pos = eye_center(side) + dirs * r[:, None]
    fb = beta[f].mean(1)
    faces = {"pupil": f[fb < 0.18], "iris": f[(fb >= 0.18) & (fb < 0.49)], "sclera": f[fb >= 0.49]}
    uv = np.stack([0.5 + 0.5 * dirs[:, 0], 0.5 - 0.5 * dirs[:, 1]], -1)
    part = Part(f"eye{side}", pos, uv, faces)
    _orient_outward(part, eye_center(side))
    return part


def _arch(z_front: float, y: float, depth: float):
    """Dental arch curve: returns a function s (m of arc from the midline, signed) ->
    (point [N,3], unit tangent [N,3], outward normal [N,3])."""
    xs = np.linspace(0, 0.04, 801)
    zs = z_front - depth * (xs / 0.026) ** 2
    seg = np.hypot(np.diff(xs), np.diff(zs))
    arc = np.concatenate([[0], np.cumsum(seg)])

    def at(sv: np.ndarray):
        sa = np.abs(sv)
        x = np.interp(sa, arc, xs)
        z = np.interp(sa, arc, zs)
        dzdx = -2 * depth * x / 0.026 ** 2
        tan = np.stack([np.ones_like(x), np.zeros_like(x), dzdx], -1)
        tan /= np.linalg.norm(tan, axis=1, keepdims=True)
        nrm = np.stack([-tan[:, 2], np.zeros_like(x), tan[:, 0]], -1)  # outward (forward at x=0)
        sg = np.where(sv < 0, -1.0, 1.0)
        p = np.stack([sg * x, np.full_like(x, y), z], -1)
        tan = np.stack([sg * tan[:, 0], tan[:, 1], tan[:, 2]], -1)
        nrm = np.stack([sg * nrm[:, 0], nrm[:, 1], nrm[:, 2]], -1)
        return p, tan, nrm

    return at


TOOTH_W = np.array([0.0060, 0.0048, 0.0052, 0.0050, 0.0050, 0.0070])  # incisors .. first molar
TOOTH_H = np.array([0.0095, 0.0085, 0.0092, 0.0075, 0.0072, 0.0065])
TOOTH_D = np.array([0.0040, 0.0040, 0.0050, 0.0060, 0.0064, 0.0075])


def build_teeth(mouth: np.ndarray) -> Part:
    """Upper and lower dental arches of rounded-box teeth plus gum bands; `mouth` [3] is the
    lip contact centre. Attribute `lower` is 1 on parts that ride the jaw."""
    pos_all, faces_all, low_all, uv_all = [], {"teeth": [], "gums": []}, [], []
    n0 = 0
    sd, bt, gm, f = _sphere_grid(4, 9)
    for lower in (0, 1):
        zf = mouth[2] - (0.0098 if lower else 0.0076)
        yb = mouth[1] + (0.0006 if lower else -0.0012)  # biting edges overlap (overbite)
        sgn_up = -1.0 if lower else 1.0
        scale = 0.93 if lower else 1.0
        at = _arch(zf, yb, 0.022)
        widths = TOOTH_W * scale
        centers = np.cumsum(widths) - widths / 2 + 0.00015 * np.arange(len(widths))
        for sgn in (1, -1):
            for i, (w, h, dpt) in enumerate(zip(widths, TOOTH_H * (0.9 if lower else 1.0), TOOTH_D)):
                p0, tan, nrm = at(np.array([sgn * centers[i]]))
                p0, tan, nrm = p0[0], tan[0], nrm[0]
                # superellipsoid: boxy crown, thinner towards the biting edge on incisors
                e = 0.45
                lx = np.sign(sd[:, 0]) * np.abs(sd[:, 0]) ** e
                ly = np.sign(sd[:, 1]) * np.abs(sd[:, 1]) ** e
                lz = np.sign(sd[:, 2]) * np.abs(sd[:, 2]) ** e
                hgt = (lz + 1) / 2  # 0 at biting edge, 1 at gum
                thin = 1.0 - (0.5 if i < 3 else 0.15) * (1 - hgt)
                local = (tan * (lx * w / 2)[:, None] + nrm * (ly * dpt / 2 * thin)[:, None]
                         + np.array([0, sgn_up, 0]) * (hgt * h)[:, None])
                pos_all.append(p0 - nrm * dpt / 2 + local)
                faces_all["teeth"].append(f + n0)
                low_all.append(np.full(len(sd), lower, float))
                uv_all.append(np.stack([(lx + 1) / 2, hgt], -1))
                n0 += len(sd)
        # gum band along the arch over the tooth necks
        ns = 15
        arc_end = centers[-1] + widths[-1] / 2
        sv = np.linspace(-arc_end, arc_end, 2 * ns + 1)
        pc, tan, nrm = at(sv)
        prof_a = np.linspace(-np.pi / 2 - 0.3, np.pi / 2 + 0.3, 7)
        gh = 0.0055
        rows = []
        for a in prof_a:
            dd = np.interp(np.abs(sv), centers, TOOTH_D)[:, None]
            off = nrm * (np.sin(a) * (dd / 2 + 0.0012) - dd / 2) + np.array([0, sgn_up, 0]) * (
                np.interp(np.abs(sv), centers, TOOTH_H)[:, None] * 0.82 + np.cos(a) * gh)
            rows.append(pc + off)
        g = np.stack(rows, 1).reshape(-1, 3)
        na = len(prof_a)
        idx = np.arange(len(sv) * na).reshape(len(sv), na)
        a_, b_, c_, d_ = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
        gf = np.concatenate([np.stack([a_, b_, c_], -1).reshape(-1, 3),
                             np.stack([a_, c_, d_], -1).reshape(-1, 3)])
        if lower:
            gf = gf[:, ::-1]
        # outward = away from the arch centre; check and flip per band
        cen = g.mean(0) - np.array([0, 0, 0.02])
        nn = np.cross(g[gf[:, 1]] - g[gf[:, 0]], g[gf[:, 2]] - g[gf[:, 0]])
        if np.sum(np.einsum("ij,ij->i", nn, g[gf].mean(1) - cen)) < 0:
            gf = gf[:, ::-1]
        pos_all.append(g)
        faces_all["gums"].append(gf + n0)
        low_all.append(np.full(len(g), lower, float))
        uv_all.append(np.stack([np.repeat((sv + arc_end) / (2 * arc_end), na),
                                np.tile(np.linspace(0, 1, na), len(sv))], -1))
        n0 += len(g)
    part = Part("teeth", np.concatenate(pos_all), np.concatenate(uv_all),
                {k: np.concatenate(v) for k, v in faces_all.items()},
                {"lower": np.concatenate(low_all)})
    return part


def build_tongue(mouth: np.ndarray) -> Part:
    """Flattened, tapered ellipsoid lying on the floor of the mouth behind the lower teeth."""
    dirs, beta, gamma, f = _sphere_grid(14, 24)
    # pole along +Z = the tip
    x, y, z = dirs[:, 0], dirs[:, 1], dirs[:, 2]
    tipness = (z + 1) / 2
    x = x * 0.019 * (1.0 - 0.38 * tipness ** 2)
    y = y * 0.0075 * (1.0 - 0.35 * tipness ** 2)
    y = np.where(y < 0, y * 0.6, y - 0.0012 * np.exp(-(x / 0.004) ** 2) * (y > 0))  # flat base, groove
    z = z * 0.027
    c = np.array([0.0, mouth[1] - 0.0105, mouth[2] - 0.038])
    pos = c + np.stack([x, y, z], -1)
    part = Part("tongue", pos, np.stack([gamma / (2 * np.pi), beta / np.pi], -1), {"tongue": f},
                {"tip": tipness})
    _orient_outward(part, c)
    return part


# ---- assembly ----------------------------------------------------------------------------------
KIND_SKIN, KIND_LIDS_L, KIND_LIDS_R, KIND_BROW_L, KIND_BROW_R, KIND_EAR, KIND_NECK = range(7)


def merge(name: str, parts: list[Part], kinds: list[int]) -> Part:
    """Concatenate parts into one vertex set; attributes missing in a part are filled with
    NaN (floats), and `kind` records which part each vertex came from."""
    keys = sorted({k for p in parts for k in p.attrs})
    pos, uv, faces, attrs = [], [], {}, {k: [] for k in keys + ["kind"]}
    n0 = 0
    for p, kd in zip(parts, kinds):
        pos.append(p.pos)
        uv.append(p.uv)
        for m, f in p.faces.items():
            faces.setdefault(m, []).append(f + n0)
        for k in keys:
            attrs[k].append(p.attrs.get(k, np.full(len(p.pos), np.nan)).astype(np.float64))
        attrs["kind"].append(np.full(len(p.pos), kd, float))
        n0 += len(p.pos)
    return Part(name, np.concatenate(pos), np.concatenate(uv),
                {m: np.concatenate(v) for m, v in faces.items()},
                {k: np.concatenate(v) for k, v in attrs.items()})


def build_neutral() -> tuple[dict[str, Part], np.ndarray]:
    """All parts of the neutral head: 'head' (skin, lids, brows, ears, neck), 'teeth',
    'tongue', 'eyeL', 'eyeR'; and the lip contact centre [3] (m)."""
    skin = build_skin()
    contact = skin.pos[(skin.attrs["ring"] == 0)]
    mouth = np.array([0.0, contact[:, 1].mean(), contact[:, 2].max()])
    head = merge("head", [skin, build_lids(1), build_lids(-1), build_brow(1), build_brow(-1),
                          build_ear(1), build_ear(-1), build_neck()],
                 [KIND_SKIN, KIND_LIDS_L, KIND_LIDS_R, KIND_BROW_L, KIND_BROW_R, KIND_EAR,
                  KIND_EAR, KIND_NECK])
    parts = {"head": head, "teeth": build_teeth(mouth), "tongue": build_tongue(mouth),
             "eyeL": build_eyeball(1), "eyeR": build_eyeball(-1)}
    return parts, mouth
