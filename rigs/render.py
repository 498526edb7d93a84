"""Small offscreen preview renderer for morph-target glTF heads (numpy only, no GPU/GL).

`render_rig(glb_path, weights)` loads a .glb, applies morph weights on the CPU by target name
(`mesh.extras.targetNames`), and draws it with a software z-buffer rasterizer: 2x supersampled,
per-pixel interpolated normals, Lambert + ambient + a little Blinn specular from a three-point
light rig. Skinned meshes are drawn in their skin's rest pose (sum of weight x joint world
matrix x inverse bind matrix, as an engine does with no animation playing; morph deltas go
through the same matrices). Base colour = baseColorFactor x the baseColorTexture (sampled
bilinearly at TEXCOORD_0, decoded with pillow) when there is one, x the vertex colours COLOR_0
(interpolated per pixel); other maps, alpha and texture transforms are ignored. Good enough to eyeball shapes; not a production renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voxface.rigs.gltf_io import read_accessor, read_glb


@dataclass
class DrawMesh:
    """A mesh ready to draw: positions [N,3] and normals [N,3] in world metres, triangles
    [M,3] int, per-triangle RGB [M,3] (linear 0..1) and shininess [M], and morph targets
    {name: (dpos [N,3], dnrm [N,3] or None)} in world orientation."""

    name: str
    pos: np.ndarray
    nrm: np.ndarray
    tris: np.ndarray
    rgb: np.ndarray
    shine: np.ndarray
    targets: dict
    uv: np.ndarray | None = None  # [N,2] TEXCOORD_0 when the material has a base colour texture
    tex: np.ndarray | None = field(default=None, repr=False)  # [H,W,3] linear RGB texture
    vcol: np.ndarray | None = None  # [N,3] linear COLOR_0 (multiplies the base colour)


def _node_matrix(node) -> np.ndarray:
    """Local 4x4 transform of a glTF node."""
    if node.matrix:
        return np.array(node.matrix, dtype=np.float64).reshape(4, 4).T
    t = np.array(node.translation or [0, 0, 0], dtype=np.float64)
    x, y, z, w = node.rotation or [0, 0, 0, 1]
    r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    s = np.array(node.scale or [1, 1, 1], dtype=np.float64)
    m = np.eye(4)
    m[:3, :3] = r * s[None, :]
    m[:3, 3] = t
    return m


def load_glb(path: str | Path) -> list[DrawMesh]:
    """Read every mesh instance of the default scene of a .glb into DrawMesh objects."""
    from pygltflib import GLTF2

    g = GLTF2().load(str(path))  # the typed view for the walk
    doc, blob = read_glb(path)  # accessors are read from the document itself
    out: list[DrawMesh] = []
    scene = g.scenes[g.scene or 0]
    world: dict[int, np.ndarray] = {}
    users: list[tuple[int, np.ndarray]] = []

    def visit(ni: int, parent: np.ndarray) -> None:
        node = g.nodes[ni]
        m = parent @ _node_matrix(node)
        world[ni] = m
        if node.mesh is not None:
            users.append((ni, m))
        for c in node.children or []:
            visit(c, m)

    for ni in scene.nodes:
        visit(ni, np.eye(4))
    textures: dict[int, np.ndarray | None] = {}
    for ni, m in users:  # after the walk: skins need every joint's world matrix
        node = g.nodes[ni]
        joints = None
        if node.skin is not None:
            skin = g.skins[node.skin]
            nj = len(skin.joints)
            if skin.inverseBindMatrices is not None:
                ibm = read_accessor(doc, (blob,), skin.inverseBindMatrices).reshape(nj, 4, 4).transpose(0, 2, 1)
            else:
                ibm = np.tile(np.eye(4), (nj, 1, 1))
            joints = np.stack([world.get(j, np.eye(4)) for j in skin.joints]) @ ibm
        out.extend(_load_mesh(g, doc, blob, node.mesh, m, joints, textures))
    return out


def _texture(g, blob: bytes, info, cache: dict) -> np.ndarray | None:
    """Base colour texture of a material as linear RGB [H,W,3] (None if absent/unreadable)."""
    if info is None or info.index is None or (info.texCoord or 0) != 0:
        return None
    if info.index not in cache:
        img = None
        try:
            import io

            from PIL import Image

            src = g.textures[info.index].source
            im = g.images[src]
            if im.bufferView is not None:
                bv = g.bufferViews[im.bufferView]
                data = blob[(bv.byteOffset or 0):(bv.byteOffset or 0) + bv.byteLength]
                pil = Image.open(io.BytesIO(data)).convert("RGB")
                if max(pil.size) > 1024:
                    pil = pil.resize((min(pil.size[0], 1024), min(pil.size[1], 1024)), Image.BILINEAR)
                a = np.asarray(pil, dtype=np.float64) / 255.0
                img = np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)
        except (ImportError, OSError, ValueError, KeyError, IndexError, TypeError):  # undecodable: use the factor
            img = None
        cache[info.index] = img
    return cache[info.index]


def _load_mesh(g, doc: dict, blob: bytes, mi: int, m: np.ndarray, joints: np.ndarray | None = None,
               textures: dict | None = None) -> list[DrawMesh]:
    mesh = g.meshes[mi]
    names = list((mesh.extras or {}).get("targetNames", []))
    lin = m[:3, :3]
    nmat = np.linalg.inv(lin).T
    textures = {} if textures is None else textures
    res = []
    for k, prim in enumerate(mesh.primitives):
        if prim.mode not in (None, 4):
            continue
        pos = read_accessor(doc, (blob,), prim.attributes.POSITION)
        if prim.attributes.NORMAL is not None:
            nrm = read_accessor(doc, (blob,), prim.attributes.NORMAL)
        else:
            nrm = np.zeros_like(pos)
        tris = (read_accessor(doc, (blob,), prim.indices).reshape(-1, 3) if prim.indices is not None
                else np.arange(len(pos)).reshape(-1, 3))
        rgb, shine, tex = np.array([0.7, 0.7, 0.7]), 0.1, None
        if prim.material is not None:
            mat = g.materials[prim.material]
            pbr = mat.pbrMetallicRoughness
            if pbr is not None and pbr.baseColorFactor:
                rgb = np.array(pbr.baseColorFactor[:3], dtype=np.float64)
            rough = pbr.roughnessFactor if pbr is not None and pbr.roughnessFactor is not None else 1.0
            shine = float(np.clip(1.0 - rough, 0.0, 1.0))
            if pbr is not None and prim.attributes.TEXCOORD_0 is not None:
                tex = _texture(g, blob, pbr.baseColorTexture, textures)
        uv = read_accessor(doc, (blob,), prim.attributes.TEXCOORD_0) if tex is not None else None
        vcol = None
        if prim.attributes.COLOR_0 is not None:
            vcol = read_accessor(doc, (blob,), prim.attributes.COLOR_0)[:, :3].astype(np.float64)
        if joints is not None and prim.attributes.JOINTS_0 is not None and prim.attributes.WEIGHTS_0 is not None:
            jn = read_accessor(doc, (blob,), prim.attributes.JOINTS_0).astype(np.int64)
            wt = read_accessor(doc, (blob,), prim.attributes.WEIGHTS_0)
            wt = wt / np.maximum(wt.sum(1, keepdims=True), 1e-12)
            vm = np.einsum("nk,nkij->nij", wt, joints[np.clip(jn, 0, len(joints) - 1)])  # [N,4,4]
            vl = vm[:, :3, :3]
            vn = np.linalg.inv(vl).transpose(0, 2, 1)
            shift = vm[:, :3, 3]
        else:  # rigid: the node's world matrix
            vl, vn, shift = lin, nmat, m[:3, 3]
        p_w = _xf(vl, pos) + shift
        n_w = _xf(vn, nrm)
        targets = {}
        for ti, t in enumerate(prim.targets or []):
            nm = names[ti] if ti < len(names) else f"target_{ti}"
            tp = t.POSITION if not isinstance(t, dict) else t.get("POSITION")
            tn = t.NORMAL if not isinstance(t, dict) else t.get("NORMAL")
            dp = _xf(vl, read_accessor(doc, (blob,), tp)) if tp is not None else None
            dn = _xf(vn, read_accessor(doc, (blob,), tn)) if tn is not None else None
            targets[nm] = (dp, dn)
        res.append(DrawMesh(f"{mesh.name}/{k}", p_w, n_w, tris,
                            np.tile(rgb, (len(tris), 1)), np.full(len(tris), shine), targets,
                            uv, tex, vcol))
    return res


def _xf(mat: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Apply a 3x3 matrix, or one per vertex ([N,3,3]), to vectors v [N,3]."""
    return v @ mat.T if mat.ndim == 2 else np.einsum("nij,nj->ni", mat, v)


def _vertex_normals(pos: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals [N,3]."""
    fn = np.cross(pos[tris[:, 1]] - pos[tris[:, 0]], pos[tris[:, 2]] - pos[tris[:, 0]])
    n = np.zeros_like(pos)
    for c in range(3):
        np.add.at(n, tris[:, c], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-20)


def pose_meshes(meshes: list[DrawMesh], weights: dict[str, float]) -> list[DrawMesh]:
    """Apply morph weights by name: pos += sum w*dpos, nrm += sum w*dnrm (renormalised)."""
    out = []
    for dm in meshes:
        p, n = dm.pos.copy(), dm.nrm.copy()
        for name, w in weights.items():
            if w and name in dm.targets:
                dp, dn = dm.targets[name]
                if dp is not None:
                    p += w * dp
                if dn is not None:
                    n += w * dn
        if not np.any(n):
            n = _vertex_normals(p, dm.tris)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-20)
        out.append(DrawMesh(dm.name, p, n, dm.tris, dm.rgb, dm.shine, {}, dm.uv, dm.tex, dm.vcol))
    return out


def _look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """World->camera rotation rows (right, up, back) for a camera at `eye` looking at target."""
    f = target - eye
    f /= np.linalg.norm(f)
    r = np.cross(f, up)
    r /= np.linalg.norm(r)
    u = np.cross(r, f)
    return np.stack([r, u, -f])


def rasterize(xy: np.ndarray, z: np.ndarray, tris: np.ndarray, w: int, h: int):
    """Z-buffer rasterization. xy [N,2] pixel coords, z [N] depth (smaller = nearer),
    tris [M,3]. Returns (tri_id [h,w] int, -1 = empty; barycentrics [h,w,3])."""
    a, b, c = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    lo = np.floor(np.minimum(np.minimum(a, b), c)).astype(np.int64)
    hi = np.ceil(np.maximum(np.maximum(a, b), c)).astype(np.int64)
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [w - 1, h - 1])
    ok = (np.abs(area) > 1e-12) & np.all(hi >= lo, axis=1)
    tid_all = np.nonzero(ok)[0]
    ext = (hi - lo + 1)[tid_all]
    pix_l, dep_l, tri_l, bar_l = [], [], [], []
    # bucket triangles by bounding-box size so each bucket is one dense numpy evaluation
    bx = np.ceil(np.log2(np.maximum(ext[:, 0], 1))).astype(int)
    by = np.ceil(np.log2(np.maximum(ext[:, 1], 1))).astype(int)
    for kx in np.unique(bx):
        for ky in np.unique(by[bx == kx]):
            sel = tid_all[(bx == kx) & (by == ky)]
            sx, sy = 1 << kx, 1 << ky
            for chunk in np.array_split(sel, max(1, len(sel) * sx * sy // 2_000_000 + 1)):
                if len(chunk) == 0:
                    continue
                ox, oy = np.meshgrid(np.arange(sx), np.arange(sy))
                px = lo[chunk, 0][:, None] + ox.ravel()[None, :]
                py = lo[chunk, 1][:, None] + oy.ravel()[None, :]
                qx, qy = px + 0.5, py + 0.5
                A, B, C = a[chunk], b[chunk], c[chunk]
                ar = area[chunk][:, None]
                w0 = ((B[:, 0, None] - qx) * (C[:, 1, None] - qy) - (B[:, 1, None] - qy) * (C[:, 0, None] - qx)) / ar
                w1 = ((C[:, 0, None] - qx) * (A[:, 1, None] - qy) - (C[:, 1, None] - qy) * (A[:, 0, None] - qx)) / ar
                w2 = 1.0 - w0 - w1
                inside = (w0 >= -1e-7) & (w1 >= -1e-7) & (w2 >= -1e-7) & (px <= hi[chunk, 0][:, None]) & (
                    py <= hi[chunk, 1][:, None])
                ti, ci = np.nonzero(inside)
                if len(ti) == 0:
                    continue
                t = chunk[ti]
                bw = np.stack([w0[ti, ci], w1[ti, ci], w2[ti, ci]], -1)
                d = bw[:, 0] * z[tris[t, 0]] + bw[:, 1] * z[tris[t, 1]] + bw[:, 2] * z[tris[t, 2]]
                pix_l.append(py[ti, ci] * w + px[ti, ci])
                dep_l.append(d)
                tri_l.append(t)
                bar_l.append(bw)
    tri_img = np.full(h * w, -1, np.int64)
    bar_img = np.zeros((h * w, 3))
    if pix_l:
        pix, dep = np.concatenate(pix_l), np.concatenate(dep_l)
        tri, bar = np.concatenate(tri_l), np.concatenate(bar_l)
        order = np.lexsort((dep, pix))
        pix, tri, bar = pix[order], tri[order], bar[order]
        first = np.ones(len(pix), bool)
        first[1:] = pix[1:] != pix[:-1]
        tri_img[pix[first]] = tri[first]
        bar_img[pix[first]] = bar[first]
    return tri_img.reshape(h, w), bar_img.reshape(h, w, 3)


def frame_target(meshes: list[DrawMesh]) -> tuple[np.ndarray, float]:
    """Camera target [3] and half-height (m) framing the meshes that carry morph targets
    (the face), or everything when none do."""
    sel = [m for m in meshes if m.targets] or meshes
    p = np.concatenate([m.pos for m in sel])
    lo, hi = np.percentile(p, 1, axis=0), np.percentile(p, 99, axis=0)
    return (lo + hi) / 2, float(max(hi[1] - lo[1], hi[0] - lo[0]) / 2)


def render_meshes(meshes: list[DrawMesh], size: int = 512, yaw_deg: float = 0.0,
                  pitch_deg: float = 0.0, target: np.ndarray | None = None,
                  half_height: float | None = None, zoom: float = 1.0, ssaa: int = 2) -> np.ndarray:
    """Render posed meshes to an sRGB image [size,size,3] uint8; yaw turns the camera round
    the head (+ = towards the character's left), pitch raises it."""
    if target is None or half_height is None:
        t0, hh0 = frame_target(meshes)
        target = t0 if target is None else target
        half_height = hh0 if half_height is None else half_height
    fov = np.radians(22.0)
    dist = half_height * 1.15 / np.tan(fov / 2) / zoom
    yw, pt = np.radians(yaw_deg), np.radians(pitch_deg)
    eye = target + dist * np.array([np.sin(yw) * np.cos(pt), np.sin(pt), np.cos(yw) * np.cos(pt)])
    rot = _look_at(eye, target)
    S = size * ssaa
    pos = np.concatenate([m.pos for m in meshes])
    nrm = np.concatenate([m.nrm for m in meshes])
    offs = np.cumsum([0] + [len(m.pos) for m in meshes])[:-1]
    tris = np.concatenate([m.tris + o for m, o in zip(meshes, offs)])
    rgb = np.concatenate([m.rgb for m in meshes])
    shine = np.concatenate([m.shine for m in meshes])
    pc = (pos - eye) @ rot.T  # camera space: x right, y up, -z forward
    zc = -pc[:, 2]
    f = (S / 2) / np.tan(fov / 2)
    xy = np.stack([S / 2 + f * pc[:, 0] / np.maximum(zc, 1e-6), S / 2 - f * pc[:, 1] / np.maximum(zc, 1e-6)], -1)
    tri_img, bar = rasterize(xy, zc, tris, S, S)
    hit = tri_img >= 0
    t = tri_img[hit]
    bw = bar[hit]
    n = (nrm[tris[t]] * bw[:, :, None]).sum(1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    p = (pos[tris[t]] * bw[:, :, None]).sum(1)
    v = eye - p
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    flip = np.einsum("ij,ij->i", n, v) < 0  # two-sided lighting
    n[flip] *= -1
    # three-point-ish rig in camera-relative directions (key upper-left, fill right, rim back)
    lights = [(np.array([-0.55, 0.55, 0.65]), 1.00), (np.array([0.7, 0.1, 0.6]), 0.35),
              (np.array([0.2, 0.6, -0.8]), 0.45)]
    col = np.zeros((len(t), 3))
    base = rgb[t]
    tri_mesh = np.repeat(np.arange(len(meshes)), [len(m.tris) for m in meshes])[t]
    for mi, m in enumerate(meshes):  # base colour x texture at the pixel's uv x vertex colour
        if (m.tex is None or m.uv is None) and m.vcol is None:
            continue
        sel = tri_mesh == mi
        if not sel.any():
            continue
        lt = tris[t[sel]] - offs[mi]
        if m.tex is not None and m.uv is not None:
            uv = (m.uv[lt] * bw[sel][:, :, None]).sum(1)
            base[sel] = base[sel] * _sample(m.tex, uv)
        if m.vcol is not None:
            base[sel] = base[sel] * (m.vcol[lt] * bw[sel][:, :, None]).sum(1)
    sh = shine[t]
    amb = 0.22 + 0.08 * n @ rot[1]  # sky/ground ambient
    col += base * amb[:, None]
    for d_cam, inten in lights:
        ld = d_cam @ rot
        ld /= np.linalg.norm(ld)
        lam = np.clip(n @ ld, 0, None)
        col += base * (inten * lam)[:, None]
        hv = ld + v
        hv /= np.linalg.norm(hv, axis=1, keepdims=True)
        spec = np.clip(np.einsum("ij,ij->i", n, hv), 0, None) ** (8 + 120 * sh) * sh * inten * 0.9
        col += spec[:, None]
    img = np.zeros((S, S, 3))
    yy = np.linspace(0.23, 0.12, S)[:, None, None]
    img[:] = yy * np.array([1.0, 1.0, 1.08])
    img[hit] = col
    img = img.reshape(size, ssaa, size, ssaa, 3).mean((1, 3))
    srgb = np.where(img <= 0.0031308, 12.92 * img, 1.055 * np.clip(img, 0, None) ** (1 / 2.4) - 0.055)
    return (np.clip(srgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def _sample(tex: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear, repeating lookup of a texture [H,W,3] at uv [N,2] (glTF: v down)."""
    h, w = tex.shape[:2]
    x = np.mod(uv[:, 0], 1.0) * w - 0.5
    y = np.mod(uv[:, 1], 1.0) * h - 0.5
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0, x1 = np.mod(x0, w), np.mod(x0 + 1, w)
    y0, y1 = np.mod(y0, h), np.mod(y0 + 1, h)
    return ((tex[y0, x0] * (1 - fx) + tex[y0, x1] * fx) * (1 - fy)
            + (tex[y1, x0] * (1 - fx) + tex[y1, x1] * fx) * fy)


def render_rig(glb_path: str | Path, weights: dict[str, float] | None = None, size: int = 512,
               yaw_deg: float = 0.0, pitch_deg: float = 0.0, zoom: float = 1.0,
               offset: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Render a morph-target .glb with `weights` {targetName: weight} applied.

    Returns an sRGB image [size, size, 3] uint8, camera framed on the meshes with morph targets;
    yaw/pitch orbit the camera (degrees), zoom > 1 moves it closer, offset shifts the target in
    units of the framed half-height."""
    meshes = load_glb(glb_path)
    target, hh = frame_target(meshes)
    target = target + np.asarray(offset) * hh
    posed = pose_meshes(meshes, weights or {})
    return render_meshes(posed, size, yaw_deg, pitch_deg, target, hh, zoom)


def save_png(img: np.ndarray, path: str | Path) -> None:
    """Write an [H,W,3] uint8 image as PNG (needs pillow)."""
    from PIL import Image

    Image.fromarray(img).save(str(path))


def contact_sheet(glb_path: str | Path, shapes: list[str], tile: int = 160, cols: int = 9,
                  yaw_deg: float = 0.0, zoom: float = 1.0, include_neutral: bool = True,
                  offset: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Grid of labelled renders [H,W,3] uint8: neutral first (if asked) then each shape at 1.0.
    `offset` moves the camera target, in units of the framed half-height (e.g. (0, -0.2, 0.5)
    aims at the lower face)."""
    from PIL import Image, ImageDraw

    meshes = load_glb(glb_path)
    target, hh = frame_target(meshes)
    target = target + np.asarray(offset) * hh
    items = (["neutral"] if include_neutral else []) + list(shapes)
    rows = (len(items) + cols - 1) // cols
    label_h = 14
    sheet = Image.new("RGB", (cols * tile, rows * (tile + label_h)), (30, 30, 34))
    draw = ImageDraw.Draw(sheet)
    for i, name in enumerate(items):
        w = {} if name == "neutral" else {n: 1.0 for n in name.split("+")}  # "a+b": both at 1
        img = render_meshes(pose_meshes(meshes, w), tile, yaw_deg, 0.0, target, hh, zoom)
        x, y = (i % cols) * tile, (i // cols) * (tile + label_h)
        sheet.paste(Image.fromarray(img), (x, y + label_h))
        draw.text((x + 3, y + 1), name, fill=(235, 235, 235))
    return np.asarray(sheet)
