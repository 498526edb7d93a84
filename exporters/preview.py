"""Preview video (`animate --preview out.mp4`) and contact sheet (`--preview out.png`).

The animated rig is rendered offscreen, frame by frame, at the output fps, and encoded as H.264
MP4 with the speech's own audio stream muxed in (see `audio_plan` for what is copied and what
is not). Two engines:
* `pyrender` (default): OpenGL offscreen through pyrender, on OSMesa (llvmpipe, CPU) or EGL.
  pyrender ignores morph targets, so they are applied here on the CPU: every frame the blended
  positions (and normals) of each animated vertex set are one matrix product, and the new
  vertices are written into the primitive's existing GL vertex buffer (glBufferSubData), so
  nothing is rebuilt per frame.
* `blender`: Blender's Workbench engine through the isolated bpy interpreter of
  `voxface.exporters.blender` (`blender_addon/render_preview.py`); frames come back as PNGs and
  are encoded here, so both engines mux audio the same way.

Geometry and weights are read from the animated GLB that `--format glb` writes
(`gltf_rig.animate_rig`), so the preview shows exactly what the GLB plays, retargeting (`--map`,
visemes, VRM) included. Skinned meshes are posed every frame by the animation's joint
rotations (head, neck, eyes: linear blend skinning on the CPU, after the morphs), so head turns
show. Base colour textures are sampled per pixel (times the vertex colours COLOR_0 and the
material's factor, with alpha: BLEND and MASK materials). The camera is framed on the driven meshes (the face), front
on, with a soft three-point light rig (key, fill, rim) and a dim ambient.

The preview is the 'preview' entry of the exporter table (`voxface.exporters.registry`): it is
written to a temporary file beside the output, and renamed with the run's other outputs only
when all of them were written; on failure nothing is left behind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from voxface.core.errors import InputError, MissingDependencyError, VoxfaceError
from voxface.exporters.base import rig_plan
from voxface.exporters.blender import ADDON_DIR, find_blender, rig_tracks, run_job
from voxface.rigs.gltf_io import parse_glb, read_accessor
from voxface.rigs.gltf_rig import animate_rig
from voxface.rigs.render import _node_matrix

ENGINES = ("pyrender", "blender")
AUDIO_MODES = ("auto", "flac", "alac", "aac")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")
SHEET_SUFFIXES = (".png",)
INSTALL_HINT = ("pip install 'voxface[preview]' && pip install --no-deps pyrender==0.1.45 "
                "(and an OpenGL: apt-get install libosmesa6, or a GPU with EGL)")

# Audio codecs that may sit in an MP4 as they are (ISO/IEC 14496-14 and its registered
# extensions: mp4a for AAC/MP3, alac, fLaC, Opus, ac-3/ec-3): copied bit for bit.
MP4_COPY_CODECS = frozenset({"aac", "mp3", "alac", "flac", "opus", "ac3", "eac3"})
# ... and into a QuickTime .mov (which also takes PCM as it is).
MOV_COPY_CODECS = frozenset({"aac", "mp3", "alac", "ac3", "eac3"})
# Integer PCM and other lossless codecs: re-packed losslessly as FLAC-in-MP4 by default.
LOSSLESS_CODECS = re.compile(r"^(pcm_[su](8|16|24|32)(le|be)?(_planar)?|wavpack|tta|ape|mlp|"
                             r"truehd|shorten)$")

# Camera: vertical field of view, and how much of it the face's half-height fills.
_FOV_DEG = 22.0
_MARGIN = 1.18


# ----------------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True)
class PreviewOptions:
    """How to render.

    Attributes:
        engine: 'pyrender' (OpenGL offscreen, the default) or 'blender' (Workbench via bpy).
        size: frame width and height in pixels.
        audio: 'auto' (copy the stream when MP4 can hold it, else lossless FLAC, else AAC),
            or force 'flac' / 'alac' (lossless re-pack) / 'aac' (256 kb/s).
        crf: x264 constant rate factor (lower is better; 18 is visually lossless).
        preset: x264 preset.
        tile: contact sheet tile size in pixels.
    """

    engine: str = "pyrender"
    size: int = 512
    audio: str = "auto"
    crf: int = 18
    preset: str = "veryfast"
    tile: int = 192


def preview_kind(path: str | os.PathLike) -> str:
    """'video' or 'sheet' from the output's suffix; InputError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in SHEET_SUFFIXES:
        return "sheet"
    raise InputError(f"--preview: expected a .mp4 video or a .png contact sheet, not "
                     f"{suffix or 'a name without a suffix'!r}", path=Path(path))


def check_preview(path: str | os.PathLike, options: PreviewOptions = PreviewOptions()) -> None:
    """Fail fast (before the pipeline runs) when the preview cannot be written: a path that
    is a folder, in a missing or read-only folder, or of another kind than .mp4/.png
    (InputError), or a renderer / encoder that is not installed (MissingDependencyError)."""
    path = Path(path)
    if path.is_dir():
        raise InputError("--preview is a directory, expected a .mp4 or .png file", path=path)
    if not path.parent.is_dir():
        raise InputError("--preview: its folder does not exist", path=path)
    if not os.access(path.parent, os.W_OK):
        raise InputError("--preview: its folder is not writable", path=path)
    kind = preview_kind(path)
    if options.engine not in ENGINES:
        raise InputError(f"--preview-engine: {options.engine!r}; expected one of "
                         f"{', '.join(ENGINES)}")
    if options.audio not in AUDIO_MODES:
        raise InputError(f"--preview-audio: {options.audio!r}; expected one of "
                         f"{', '.join(AUDIO_MODES)}")
    if not (16 <= options.size <= 4096):
        raise InputError(f"--preview-size: {options.size} is out of range, expected 16..4096")
    if kind == "video":
        ffmpeg_exe()
    if options.engine == "blender":
        find_blender()
    else:
        _import_pyrender()
    if kind == "sheet":
        try:
            import PIL  # noqa: F401
        except ImportError:
            raise MissingDependencyError(f"--preview PNG needs pillow: {INSTALL_HINT}") from None


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped in imageio-ffmpeg."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise MissingDependencyError(f"--preview video needs imageio-ffmpeg: {INSTALL_HINT}") \
            from None
    return imageio_ffmpeg.get_ffmpeg_exe()


# ----------------------------------------------------------------------------------------------
# Geometry: the animated GLB as numpy vertex sets with per-frame weights


@dataclass
class DrawPrimitive:
    """One glTF primitive drawn from a vertex set: the subset of vertices it uses (`used`,
    indices into the set) and its triangles renumbered into that subset."""

    used: np.ndarray  # int64 [n]
    tris: np.ndarray  # uint32 [m, 3]
    color: np.ndarray  # linear RGBA [4]
    roughness: float
    metallic: float
    blend: bool
    vcol: np.ndarray | None = None  # float32 [n, 4] linear COLOR_0 of the used vertices
    uv: np.ndarray | None = None  # float32 [n, 2] TEXCOORD_0 of the used vertices (textured)
    texture: int | None = None  # glTF texture index of the base colour, sampled per pixel
    cutoff: float | None = None  # alphaCutoff of a MASK material


@dataclass
class VertexSet:
    """The vertices of one mesh instance that share a POSITION accessor, in world space.

    `dpos`/`dnrm` are the morph targets that move during the animation, as sparse [V*3, K]
    float32 (column k is target `active[k]`), and `weights` [T, K] their weight at each frame. A set with
    no active targets is static. `nrm_from_targets` is False when the targets carry no NORMAL
    deltas; then normals are recomputed from the blended positions every frame."""

    name: str
    node: int
    pos: np.ndarray  # float32 [V, 3]
    nrm: np.ndarray  # float32 [V, 3]
    tris: np.ndarray  # uint32 [M, 3], all primitives
    prims: list[DrawPrimitive]
    active: list[int] = field(default_factory=list)
    dpos: object = None  # scipy.sparse csc [V*3, K]
    dnrm: object = None
    weights: np.ndarray | None = None
    static_weights: np.ndarray | None = None  # [n_targets] constant part folded into pos
    nrm_from_targets: bool = True
    driven: bool = False
    _adj: object = None
    # Posed by the animation's joints: `pos`/`nrm`/`dpos`/`dnrm` are then in bind space,
    # `skin_w` the sparse skin weights [V, J] and `skin_frames` [T, J, 12] float32 the joint
    # matrices (world(joint) @ inverseBind, top 3 rows, row-major) at every frame; a rigid mesh
    # under a moving node has J = 1 and weights 1. `view_pos` [V, 3] is the rest pose in
    # world space (framing).
    skin_w: object = None
    skin_frames: np.ndarray | None = None
    view_pos: np.ndarray | None = None

    @property
    def animated(self) -> bool:
        return self.dpos is not None or self.skin_frames is not None

    def at(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions and unit normals [V, 3] float32 at `frame`."""
        if not self.animated:
            return self.pos, self.nrm
        if self.dpos is not None:
            w = self.weights[min(frame, len(self.weights) - 1)]
            # Sparse [V*3, K] @ [K]: single-threaded and proportional to the moving vertices
            # (a dense BLAS gemv here was 50x slower on a busy 2-core machine).
            p = self.pos + (self.dpos @ w).reshape(-1, 3)
            if self.nrm_from_targets:
                n = self.nrm + (self.dnrm @ w).reshape(-1, 3)
            else:
                n = self._normals(p)
        else:
            p, n = self.pos, self.nrm
        if self.skin_frames is not None:  # linear blend skinning after the morphs (glTF order)
            m = np.asarray(self.skin_w @ self.skin_frames[min(frame, len(self.skin_frames) - 1)],
                           np.float32).reshape(-1, 3, 4)
            p = np.einsum("vij,vj->vi", m[:, :, :3], p) + m[:, :, 3]
            n = np.einsum("vij,vj->vi", m[:, :, :3], n)
        n /= np.maximum(np.sqrt(np.einsum("ij,ij->i", n, n)), 1e-12)[:, None]
        return p, n

    def _normals(self, p: np.ndarray) -> np.ndarray:
        """Area-weighted vertex normals from positions (one sparse product)."""
        t = self.tris
        fn = np.cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]])
        if self._adj is None:
            from scipy.sparse import csr_matrix

            m = len(t)
            rows = t.reshape(-1).astype(np.int64)
            cols = np.repeat(np.arange(m), 3)
            self._adj = csr_matrix((np.ones(3 * m, np.float32), (rows, cols)),
                                   shape=(len(p), m))
        return np.asarray(self._adj @ fn, dtype=np.float32)


@dataclass
class PreviewScene:
    """Everything the renderers need: vertex sets, the frame count and rate, the camera."""

    sets: list[VertexSet]
    n_frames: int
    fps: float
    target: np.ndarray  # camera look-at point (world)
    half_height: float  # framed half-extent (m)
    radius: float  # bounding radius of the whole scene around `target`
    textures: dict = field(default_factory=dict)  # glTF texture index -> RGBA uint8 [H, W, 4]

    def camera_pose(self) -> tuple[np.ndarray, float, float, float]:
        """(4x4 camera-to-world pose, yfov radians, znear, zfar): front view (+Z), slightly
        from above, framing the face."""
        fov = math.radians(_FOV_DEG)
        dist = self.half_height * _MARGIN / math.tan(fov / 2)
        pitch = math.radians(4.0)
        eye = self.target + dist * np.array([0.0, math.sin(pitch), math.cos(pitch)])
        f = self.target - eye
        f /= np.linalg.norm(f)
        r = np.cross(f, [0.0, 1.0, 0.0])
        r /= np.linalg.norm(r)
        u = np.cross(r, f)
        pose = np.eye(4)
        pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = r, u, -f, eye
        znear = max(dist - self.radius, dist * 0.05)
        zfar = dist + self.radius * 1.5 + 1e-3
        return pose, fov, znear, zfar


def _frame_count(fps: float, duration: float, n_curve_frames: int) -> int:
    """Video frames: the frames whose display interval [i/fps, (i+1)/fps) starts inside the
    audio, so the video ends within one frame of the audio (curve frame T-1 sits at or past
    the audio's end and is dropped when it would only show after it)."""
    n = int(math.ceil(duration * fps - 1e-6))
    return max(1, min(n, n_curve_frames))


def build_scene(glb: bytes, *, fps: float, duration: float | None = None,
                frames: Sequence[int] | None = None) -> PreviewScene:
    """Read an animated GLB (from `gltf_rig.animate_rig`) into a PreviewScene.

    The last animation's `weights` channels (one per driven node, keyed on every frame) give
    the per-frame weights; other nodes keep their default weights. `frames` restricts the
    weights to those frame indices (the contact sheet); by default every video frame."""
    from pygltflib import GLTF2

    # pygltflib does not model node/mesh default `weights`: they, and the accessors, are read
    # from the JSON itself; `g` is the typed view for the walk.
    g = GLTF2.load_from_bytes(glb)
    doc, blob = parse_glb(glb)
    read = lambda i: read_accessor(doc, (blob,), i)  # noqa: E731

    node_weights: dict[int, np.ndarray] = {}
    node_trs: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    n_keys = 1
    if g.animations:
        anim = g.animations[-1]
        for ch in anim.channels:
            if ch.target.node is None:
                continue
            s = anim.samplers[ch.sampler]
            keys = read(s.input).reshape(-1)
            if ch.target.path in ("rotation", "translation", "scale"):
                vals = read(s.output).astype(np.float64).reshape(len(keys), -1)
                node_trs.setdefault(ch.target.node, {})[ch.target.path] = (keys, vals)
                continue
            if ch.target.path != "weights":
                continue
            vals = read(s.output).astype(np.float32).reshape(len(keys), -1)
            node_weights[ch.target.node] = vals
            n_keys = max(n_keys, len(keys))
    if duration is None:
        duration = (n_keys - 1) / fps
    n_frames = _frame_count(fps, duration, n_keys)
    sel = np.arange(n_frames) if frames is None else np.clip(np.asarray(frames), 0, n_keys - 1)

    world: dict[int, np.ndarray] = {}
    scene = g.scenes[g.scene or 0] if g.scenes else None
    roots = scene.nodes if scene is not None else list(range(len(g.nodes)))

    def visit(ni: int, parent: np.ndarray) -> None:
        world[ni] = parent @ _node_matrix(g.nodes[ni])
        for c in g.nodes[ni].children or []:
            visit(c, world[ni])

    for ni in roots:
        visit(ni, np.eye(4))
    frame_world = _posed_world(g, roots, node_trs, sel / fps) if node_trs else None

    materials = _materials(g, blob)
    sets: list[VertexSet] = []
    for ni in world:
        node = g.nodes[ni]
        if node.mesh is None:
            continue
        mesh = g.meshes[node.mesh]
        n_targets = max((len(p.targets or []) for p in mesh.primitives), default=0)
        default = np.zeros(n_targets, np.float32)
        for owner in (doc["meshes"][node.mesh], doc["nodes"][ni]):  # node overrides mesh
            w = owner.get("weights")
            if isinstance(w, list) and len(w) == n_targets:
                default[:] = w
        if ni in node_weights and node_weights[ni].shape[1] == n_targets:
            wt = node_weights[ni][sel]
            driven = True
        else:
            wt = np.broadcast_to(default, (len(sel), n_targets))
            driven = False
        skin = _skin_matrices(g, read, node, world) if node.skin is not None else None
        posed = None  # [T, J, 4, 4] joint (or node) matrices when the animation moves them
        if frame_world is not None:
            if skin is not None:
                js = g.skins[node.skin].joints
                if any(j in frame_world for j in js):
                    ibm = _inverse_binds(g, read, node)
                    posed = np.stack([frame_world[j] if j in frame_world else
                                      np.broadcast_to(world.get(j, np.eye(4)), (len(sel), 4, 4))
                                      for j in js], axis=1) @ ibm
            elif ni in frame_world:
                posed = frame_world[ni][:, None]
        groups: dict[int, list] = {}
        for prim in mesh.primitives:
            if prim.mode not in (None, 4) or prim.attributes.POSITION is None:
                continue
            groups.setdefault(prim.attributes.POSITION, []).append(prim)
        for pa, prims in groups.items():
            sets.append(_vertex_set(g, read, mesh.name or f"mesh_{node.mesh}", ni, prims,
                                    world[ni], skin, wt, materials, driven, posed))
    if not sets:
        raise InputError("the rig has no triangle meshes to render")
    target, hh, radius = _framing(sets)
    textures = {}
    for vs in sets:
        for dp in vs.prims:
            if dp.texture is not None and dp.texture not in textures:
                textures[dp.texture] = texture_image(g, blob, dp.texture)
    return PreviewScene(sets=sets, n_frames=len(sel), fps=fps, target=target, half_height=hh,
                        radius=radius, textures=textures)


def _inverse_binds(g, read, node) -> np.ndarray:
    skin = g.skins[node.skin]
    n = len(skin.joints)
    if skin.inverseBindMatrices is not None:
        return read(skin.inverseBindMatrices).reshape(n, 4, 4).transpose(0, 2, 1)
    return np.broadcast_to(np.eye(4), (n, 4, 4))


def _skin_matrices(g, read, node, world) -> tuple[np.ndarray, ...]:
    """The skin's joint matrices (world(joint) @ inverseBind) [J, 4, 4] in rest pose."""
    skin = g.skins[node.skin]
    jw = np.stack([world.get(j, np.eye(4)) for j in skin.joints])
    return jw @ _inverse_binds(g, read, node)


def _sample_keys(keys: np.ndarray, vals: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Channel values at `times` [T]: linear between keys (rotations: normalised lerp, which
    for keys one frame apart is slerp to well under a thousandth of a degree)."""
    i = np.clip(np.searchsorted(keys, times, side="right") - 1, 0, len(keys) - 1)
    j = np.minimum(i + 1, len(keys) - 1)
    span = np.where(j > i, keys[j] - keys[i], 1.0)
    t = np.clip((times - keys[i]) / span, 0.0, 1.0)[:, None]
    a, b = vals[i], vals[j]
    if vals.shape[1] == 4:
        b = np.where((a * b).sum(1, keepdims=True) < 0, -b, b)
        q = a * (1 - t) + b * t
        return q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    return a * (1 - t) + b * t


def _posed_world(g, roots, node_trs: dict, times: np.ndarray) -> dict[int, np.ndarray]:
    """World matrices [T, 4, 4] at `times` of every node the animation's rotation /
    translation / scale channels move (and of their descendants)."""

    T = len(times)
    out: dict[int, np.ndarray] = {}

    def local(ni: int) -> np.ndarray | None:
        ch = node_trs.get(ni)
        if not ch:
            return None
        node = g.nodes[ni]
        if node.matrix:  # a matrix node cannot be animated by TRS; keep it
            return None
        t = np.tile(np.asarray(node.translation or [0, 0, 0], float), (T, 1))
        r = np.tile(np.asarray(node.rotation or [0, 0, 0, 1], float), (T, 1))
        s = np.tile(np.asarray(node.scale or [1, 1, 1], float), (T, 1))
        if "translation" in ch:
            t = _sample_keys(*ch["translation"], times)
        if "rotation" in ch:
            r = _sample_keys(*ch["rotation"], times)
        if "scale" in ch:
            s = _sample_keys(*ch["scale"], times)
        x, y, z, w = r.T
        m = np.zeros((T, 4, 4))
        m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = 1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)
        m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = 2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)
        m[:, 2, 0], m[:, 2, 1], m[:, 2, 2] = 2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)
        m[:, :3, :3] *= s[:, None, :]
        m[:, :3, 3] = t
        m[:, 3, 3] = 1.0
        return m

    def visit(ni: int, parent: np.ndarray, moving: bool) -> None:
        lm = local(ni)
        if lm is None:
            lm = _node_matrix(g.nodes[ni])
        else:
            moving = True
        w = parent @ lm
        if moving:
            out[ni] = np.broadcast_to(w, (T, 4, 4)) if w.ndim == 2 else w
        for c in g.nodes[ni].children or []:
            visit(c, w, moving)

    for ni in roots:
        visit(ni, np.eye(4), False)
    return out


def _vertex_set(g, read, name: str, ni: int, prims: list, m: np.ndarray, skin, wt: np.ndarray,
                materials: list, driven: bool, posed: np.ndarray | None = None) -> VertexSet:
    first = prims[0]
    pos = read(first.attributes.POSITION)[:, :3]
    V = len(pos)
    nrm = (read(first.attributes.NORMAL)[:, :3] if first.attributes.NORMAL is not None
           else None)
    skin_w = None
    is_skinned = (skin is not None and first.attributes.JOINTS_0 is not None
                  and first.attributes.WEIGHTS_0 is not None)
    if is_skinned:
        joints = read(first.attributes.JOINTS_0).astype(np.int64)
        w = read(first.attributes.WEIGHTS_0).astype(np.float64)
        w /= np.maximum(w.sum(1, keepdims=True), 1e-12)
        joints = np.clip(joints, 0, len(skin) - 1)
        if posed is not None:
            from scipy.sparse import csr_matrix

            skin_w = csr_matrix((w.reshape(-1).astype(np.float32),
                                 (np.repeat(np.arange(V), w.shape[1]), joints.reshape(-1))),
                                shape=(V, len(skin)))
        per_v = np.einsum("vk,vkij->vij", w, skin[joints])  # [V, 4, 4]
        lin = per_v[:, :3, :3]
        xf_p = lambda p: np.einsum("vij,vj->vi", lin, p) + per_v[:, :3, 3]  # noqa: E731
        xf_d = lambda d: np.einsum("vij,vj->vi", lin, d)  # noqa: E731
        xf_n = xf_d
    else:
        lin = m[:3, :3]
        nmat = np.linalg.inv(lin).T
        xf_p = lambda p: p @ lin.T + m[:3, 3]  # noqa: E731
        xf_d = lambda d: d @ lin.T  # noqa: E731
        xf_n = lambda n: n @ nmat.T  # noqa: E731

    # Triangles of every primitive, and each primitive's own vertex subset.
    draw, all_tris = [], []
    for prim in prims:
        idx = (read(prim.indices).reshape(-1) if prim.indices is not None
               else np.arange(V)).astype(np.int64)
        idx = idx[: len(idx) // 3 * 3]
        if len(idx) == 0:
            continue
        tris = idx.reshape(-1, 3)
        all_tris.append(tris)
        used, local = np.unique(idx, return_inverse=True)
        mat = materials[prim.material] if prim.material is not None else _DEFAULT_MATERIAL
        vcol = uv = None
        if prim.attributes.COLOR_0 is not None:
            c = read(prim.attributes.COLOR_0).astype(np.float32)
            vcol = np.ones((len(used), 4), np.float32)
            vcol[:, :c.shape[1]] = c[used]
        tex = mat[4]
        if tex is not None and prim.attributes.TEXCOORD_0 is not None:
            uv = read(prim.attributes.TEXCOORD_0).astype(np.float32)[used]
        else:
            tex = None
        color = mat[0] if tex is not None or mat[5] is None else mat[5]  # untextured: average
        draw.append(DrawPrimitive(used=used, tris=local.reshape(-1, 3).astype(np.uint32),
                                  color=color, roughness=mat[1], metallic=mat[2],
                                  blend=mat[3], vcol=vcol, uv=uv, texture=tex, cutoff=mat[6]))
    tris = np.concatenate(all_tris) if all_tris else np.zeros((0, 3), np.int64)

    # Targets that move during the animation; a constant weight is folded into the base.
    n_targets = len(first.targets or [])
    wt = np.asarray(wt, np.float32)
    const = np.zeros(n_targets, np.float32)
    active = []
    for t in range(n_targets):
        col = wt[:, t] if wt.shape[1] > t else np.zeros(1, np.float32)
        if np.all(col == col[0]):
            const[t] = col[0]
        else:
            active.append(t)
    base_p = pos.copy()
    base_n = nrm.copy() if nrm is not None else None
    dpos, dnrm = [], []
    nrm_from_targets = nrm is not None
    for t in range(n_targets):
        tgt = first.targets[t]
        tp = tgt.get("POSITION") if isinstance(tgt, dict) else getattr(tgt, "POSITION", None)
        tn = tgt.get("NORMAL") if isinstance(tgt, dict) else getattr(tgt, "NORMAL", None)
        if t not in active and const[t] == 0:
            continue
        dp = read(tp)[:, :3] if tp is not None else np.zeros_like(pos)
        dn = read(tn)[:, :3] if tn is not None else None
        if t in active:
            dpos.append(dp)
            dnrm.append(dn)
            if dn is None:
                nrm_from_targets = False
        else:
            base_p = base_p + const[t] * dp
            if base_n is not None and dn is not None:
                base_n = base_n + const[t] * dn
    view_p = xf_p(base_p).astype(np.float32)
    if posed is not None:  # stay in bind space: every frame is skinned by its own matrices
        if skin_w is None:  # a rigid mesh under a moving node: one "joint", the node
            from scipy.sparse import csr_matrix

            skin_w = csr_matrix(np.ones((V, 1), np.float32))
        xf_p = xf_d = xf_n = lambda a: a  # noqa: E731
    world_p = xf_p(base_p).astype(np.float32)
    if base_n is None or not np.any(base_n):
        base_n = None
        nrm_from_targets = False
    vs = VertexSet(name=name, node=ni, pos=world_p, nrm=np.zeros_like(world_p), tris=tris,
                   prims=draw, driven=driven, view_pos=view_p)
    if posed is not None:
        vs.skin_w = skin_w
        vs.skin_frames = np.ascontiguousarray(posed[:, :, :3, :].reshape(len(posed), -1, 12),
                                              np.float32)
    if active:
        vs.active = active
        from scipy.sparse import csc_matrix

        vs.dpos = csc_matrix(np.stack([xf_d(d).astype(np.float32).reshape(-1)
                                       for d in dpos], axis=1))
        if nrm_from_targets:
            vs.dnrm = csc_matrix(np.stack([xf_n(d).astype(np.float32).reshape(-1)
                                           for d in dnrm], axis=1))
        vs.weights = np.ascontiguousarray(wt[:, active])
        vs.nrm_from_targets = nrm_from_targets
    vs.static_weights = const
    if base_n is not None:
        n = xf_n(base_n).astype(np.float32)
    else:
        n = vs._normals(world_p)
    vs.nrm = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    if vs.animated and nrm_from_targets:
        vs.nrm = xf_n(base_n).astype(np.float32)  # unnormalised base + deltas, normalised per frame
    return vs


_DEFAULT_MATERIAL = (np.array([0.7, 0.7, 0.7, 1.0], np.float32), 0.6, 0.0, False, None, None,
                     None)


def _materials(g, blob: bytes) -> list[tuple]:
    """Per material: (linear RGBA factor, roughness, metallic, alpha-blended, base colour
    texture index or None, the factor times the texture's average colour (for primitives
    without TEXCOORD_0) or None, alphaCutoff of a MASK material or None). A texture whose
    image cannot be decoded counts as absent."""
    cache: dict[int, np.ndarray | None] = {}
    out = []
    for mat in g.materials or []:
        pbr = mat.pbrMetallicRoughness
        rgba = np.array(pbr.baseColorFactor if pbr is not None and pbr.baseColorFactor
                        else [1.0, 1.0, 1.0, 1.0], np.float32)
        tex, averaged = None, None
        if pbr is not None and pbr.baseColorTexture is not None:
            ti = pbr.baseColorTexture.index
            if ti not in cache:
                cache[ti] = _texture_mean(g, blob, ti)
            if cache[ti] is not None:
                tex = ti
                averaged = rgba * cache[ti]
        rough = pbr.roughnessFactor if pbr is not None and pbr.roughnessFactor is not None else 1.0
        metal = pbr.metallicFactor if pbr is not None and pbr.metallicFactor is not None else 1.0
        if pbr is not None and pbr.metallicRoughnessTexture is not None:
            metal *= 0.2  # unknown texture: mostly dielectric looks right for skin and cloth
        mode = mat.alphaMode or "OPAQUE"
        blend = mode == "BLEND"
        cutoff = float(mat.alphaCutoff if mat.alphaCutoff is not None else 0.5) if mode == "MASK" else None
        if mode == "OPAQUE":
            rgba[3] = 1.0
            if averaged is not None:
                averaged[3] = 1.0
        out.append((rgba, float(np.clip(rough, 0.05, 1.0)), float(np.clip(metal, 0, 1)), blend,
                    tex, averaged, cutoff))
    return out


def texture_image(g, blob: bytes, ti: int, max_size: int = 1024) -> np.ndarray | None:
    """RGBA uint8 [H, W, 4] of texture `ti`'s image (sRGB as stored), at most `max_size` on a
    side, or None when it cannot be decoded."""
    try:
        import io

        from PIL import Image

        img = g.images[g.textures[ti].source]
        if img.bufferView is None:
            return None
        bv = g.bufferViews[img.bufferView]
        data = blob[(bv.byteOffset or 0):(bv.byteOffset or 0) + bv.byteLength]
        with Image.open(io.BytesIO(data)) as im:
            im = im.convert("RGBA")
            im.thumbnail((max_size, max_size))
            return np.ascontiguousarray(np.asarray(im, np.uint8))
    except Exception:  # undecodable (KTX2, WebP without support, ...)
        return None


def _texture_mean(g, blob: bytes, ti: int) -> np.ndarray | None:
    """Average linear RGBA of texture `ti`'s image, or None when it cannot be decoded."""
    img = texture_image(g, blob, ti, max_size=64)
    if img is None:  # an undecodable image (KTX2, WebP without support, ...): the factor only
        return None
    a = img.astype(np.float32) / 255.0
    rgb = np.where(a[..., :3] <= 0.04045, a[..., :3] / 12.92,
                   ((a[..., :3] + 0.055) / 1.055) ** 2.4)
    alpha = a[..., 3:]
    w = np.maximum(alpha, 1e-3)
    mean = (rgb * w).reshape(-1, 3).sum(0) / w.reshape(-1).sum()
    return np.array([*mean, float(alpha.mean())], np.float32)


def _framing(sets: list[VertexSet]) -> tuple[np.ndarray, float, float]:
    """Camera target, half-height and scene radius: framed on the driven (else morph, else
    all) meshes' moving vertices, robust to stray vertices (1st-99th percentiles)."""
    pick = ([s for s in sets if s.driven] or [s for s in sets if s.dpos is not None]
            or sets)
    view = lambda s: s.view_pos if s.view_pos is not None else s.pos  # noqa: E731

    def framed(s: VertexSet) -> np.ndarray:
        # the vertices the animation's morphs visibly move (>= 1 mm at some frame: the face,
        # not the neck and shoulders a head mesh may carry), else every drawn vertex
        if s.dpos is not None:
            coo = s.dpos.tocoo()
            w = np.abs(s.weights).max(0)[coo.col]  # largest weight of each target
            step = np.zeros(len(s.pos))
            np.maximum.at(step, coo.row // 3, np.abs(coo.data) * w)
            moving = np.nonzero(step >= 1e-3)[0]
            if len(moving) >= 50:
                return view(s)[moving]
        return view(s)[np.unique(s.tris)] if len(s.tris) else view(s)

    p = np.concatenate([framed(s) for s in pick])
    lo, hi = np.percentile(p, 1, axis=0), np.percentile(p, 99, axis=0)
    # the moving region stops at the brows: leave room above them for the forehead
    hi[1] += 0.2 * (hi[1] - lo[1])
    target = (lo + hi) / 2
    hh = 1.05 * float(max(hi[1] - lo[1], hi[0] - lo[0]) / 2)
    allp = np.concatenate([view(s) for s in sets])
    radius = float(np.max(np.linalg.norm(allp - target, axis=1)))
    return target, max(hh, 1e-4), max(radius, hh)


# ----------------------------------------------------------------------------------------------
# pyrender engine


def _import_pyrender():
    """Import pyrender with an offscreen OpenGL platform chosen before PyOpenGL loads:
    $PYOPENGL_PLATFORM if set, else OSMesa when libOSMesa is installed, else EGL."""
    if "OpenGL" not in sys.modules and not os.environ.get("PYOPENGL_PLATFORM"):
        osmesa = ctypes.util.find_library("OSMesa")
        os.environ["PYOPENGL_PLATFORM"] = "osmesa" if osmesa else "egl"
    try:
        import pyrender  # noqa: F401
        from OpenGL import GL  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(f"--preview needs pyrender and PyOpenGL ({exc}): "
                                     f"{INSTALL_HINT}") from None
    except Exception as exc:  # PyOpenGL raises various errors when the GL library is absent
        raise MissingDependencyError(f"--preview: no offscreen OpenGL "
                                     f"({type(exc).__name__}: {exc}): {INSTALL_HINT}") from None
    _patch_program_cache()
    return pyrender


def _patch_program_cache() -> None:
    """pyrender keys its shader cache on `OpenGL.contextdata.getContext()`, which PyOpenGL
    3.1.10 returns as a new ctypes pointer object on every call (equal hash, unequal ==), so
    every primitive's shaders were recompiled on every frame (~2 fps). Key on the address."""
    from pyrender import shader_program as sp

    if getattr(sp, "_voxface_stable_context", False):
        return
    import OpenGL
    import OpenGL.contextdata as contextdata

    class _ContextData:
        @staticmethod
        def getContext(*args):
            ctx = contextdata.getContext(*args)
            try:
                return ctypes.cast(ctx, ctypes.c_void_p).value
            except (TypeError, ctypes.ArgumentError):
                return ctx

    class _OpenGL:
        contextdata = _ContextData

        def __getattr__(self, name):
            return getattr(OpenGL, name)

    sp.OpenGL = _OpenGL()
    sp._voxface_stable_context = True


# Light shaders for pyrender's mesh pass. Lighting is computed per vertex (wrapped Lambert +
# Blinn-Phong from the directional lights, a sky/ground ambient, two-sided) and interpolated:
# on llvmpipe the fragment work is what costs, and pyrender's per-pixel PBR shader ran at
# ~8 fps at 512x512 on 2 cores, this at 30+. The meshes are dense enough for Gouraud shading.
_VERT = """#version 330 core
layout(location = 0) in vec3 position;
layout(location = NORMAL_LOC) in vec3 normal;
layout(location = TEXCOORD_0_LOC) in vec2 texcoord_0;
layout(location = TEXCOORD_1_LOC) in vec2 texcoord_1;
layout(location = COLOR_0_LOC) in vec4 color_0;
layout(location = INST_M_LOC) in mat4 inst_m;
struct DirectionalLight { vec3 color; float intensity; vec3 direction; };
uniform DirectionalLight directional_lights[MAX_DIRECTIONAL_LIGHTS];
uniform int n_directional_lights;
uniform vec3 cam_pos;
uniform vec3 ambient_light;
uniform mat4 M;
uniform mat4 V;
uniform mat4 P;
out vec3 uv_cutoff;
out vec4 base_color;
out vec4 front_light;
out vec4 back_light;
vec4 shade(vec3 n, vec3 v, float gloss, bool with_specular)
{
    // gloss = texcoord_1.x; the light is computed per vertex and the base colour (vertex
    // colour x texture) applied per pixel: (diffuse light RGB, specular) -- the specular is
    // one grey value (the lights are near white), which keeps the interpolants few (llvmpipe
    // pays for each one on every pixel)
    float shininess = mix(6.0, 90.0, gloss);
    float ks = 0.04 + 0.45 * gloss * gloss;
    vec3 diffuse = ambient_light * (0.8 + 0.2 * n.y);
    float specular = 0.0;
    for (int i = 0; i < n_directional_lights; i++) {
        vec3 l = -directional_lights[i].direction;
        vec3 radiance = directional_lights[i].color * directional_lights[i].intensity;
        float nl = dot(n, l);
        vec3 h = normalize(l + v);
        diffuse += radiance * max((nl + 0.25) / 1.25, 0.0);
        if (with_specular)
            specular += directional_lights[i].intensity * pow(max(dot(n, h), 0.0), shininess)
                        * ks * step(0.0, nl);
    }
    // gamma-encoded here, per vertex (gamma 2 as sqrt: pow() is what llvmpipe pays most for),
    // and (base x light)^(1/2) = base^(1/2) x light^(1/2)
    return vec4(sqrt(diffuse), sqrt(specular) * 0.6);
}
void main()
{
    mat4 m = M * inst_m;
    vec4 world = m * vec4(position, 1.0);
    gl_Position = P * V * world;
    vec3 n = normalize(mat3(m) * normal);
    vec3 v = normalize(cam_pos - world.xyz);
    uv_cutoff = vec3(texcoord_0, texcoord_1.y);
    base_color = vec4(sqrt(color_0.rgb), color_0.a);
    front_light = shade(n, v, texcoord_1.x, true);
    back_light = shade(-n, v, texcoord_1.x, false);  // insides (mouth, lashes): no highlight
}
"""
_FRAG = """#version 330 core
#define HAS_TEX VOXFACE_HAS_TEX
#define MASK VOXFACE_MASK
in vec3 uv_cutoff;
in vec4 base_color;
in vec4 front_light;
in vec4 back_light;
#if HAS_TEX
struct Material { sampler2D base_color_texture; };
uniform Material material;
#endif
out vec4 frag_color;
void main()
{
    vec4 base = base_color;
#if HAS_TEX
    base *= texture(material.base_color_texture, uv_cutoff.xy);  // texels are sRGB already
#endif
#if MASK
    // only MASK batches have a discard: it turns llvmpipe's early depth test off
    if (base.a < uv_cutoff.z) discard;
    base.a = 1.0;
#endif
    vec4 light = gl_FrontFacing ? front_light : back_light;
    frag_color = clamp(vec4(base.rgb * light.rgb + light.a, base.a), 0.0, 1.0);
}
"""


def _shader_cache():
    """A pyrender program cache that serves `_FRAG` (with pyrender's own mesh.vert) for the
    mesh pass and pyrender's shaders for everything else."""
    from pyrender.shader_program import ShaderProgram, ShaderProgramCache

    class _Program(ShaderProgram):
        def _load(self, shader_filename):
            sources = {"<voxface.vert>": _VERT, "<voxface.frag>": _FRAG}
            if shader_filename not in sources:
                return super()._load(shader_filename)
            text = sources[shader_filename]
            text = text.replace("VOXFACE_HAS_TEX",
                                "1" if "HAS_BASE_COLOR_TEX" in self.defines else "0")
            # a MASK batch is marked by a (never sampled) emissive texture, the one way to
            # reach the program's defines from a pyrender material
            text = text.replace("VOXFACE_MASK",
                                "1" if "HAS_EMISSIVE_TEX" in self.defines else "0")
            for define in self.defines:
                text = text.replace(define, str(self.defines[define]))
            return text

    class _Cache(ShaderProgramCache):
        def __init__(self):
            super().__init__()
            self._ours = {}

        def get_program(self, vertex_shader, fragment_shader, geometry_shader=None,
                        defines=None):
            if (fragment_shader != "mesh.frag" or geometry_shader is not None
                    or not {"NORMAL_LOC", "TEXCOORD_0_LOC", "TEXCOORD_1_LOC", "COLOR_0_LOC"}
                    <= set(defines or {})):
                return super().get_program(vertex_shader, fragment_shader, geometry_shader,
                                           defines)
            key = tuple(sorted((defines or {}).items()))
            if key not in self._ours:
                self._ours[key] = _Program("<voxface.vert>", "<voxface.frag>", defines=defines)
            return self._ours[key]

        def clear(self):
            for program in self._ours.values():
                program.delete()
            self._ours = {}
            super().clear()

    return _Cache()


@dataclass
class _Batch:
    """Every primitive of one blend mode and base colour texture merged into one pyrender
    primitive (one draw call, one vertex buffer): `buf` is its interleaved vertex data [N, 14]
    (position, normal, texcoord_0 = the texture's uv, texcoord_1 = (gloss, alpha cutoff or 0),
    color_0 = linear RGBA: material x vertex colour, metals darkened), the animated vertex sets
    first, so a frame uploads the single range buf[:n_animated]."""

    prim: object
    buf: np.ndarray
    slices: list  # (VertexSet, DrawPrimitive, start, end) of the animated ones
    n_animated: int


class GLRenderer:
    """A pyrender offscreen renderer over a PreviewScene; `frame(i)` -> RGB uint8 [H, W, 3].

    All primitives are merged into one pyrender primitive per blend mode, with each material's
    colour and gloss as vertex attributes, so a frame is one or two draw calls (pyrender's
    Python overhead per primitive was a third of the frame time)."""

    def __init__(self, scene: PreviewScene, size: int):
        pyrender = _import_pyrender()
        from OpenGL import GL

        self._gl = GL
        self.scene = scene
        self.size = size
        bg = np.array([0.16, 0.165, 0.18, 1.0])
        self._scene = pyrender.Scene(bg_color=bg, ambient_light=np.full(3, 0.16))
        self._batches: list[_Batch] = []
        def key(dp):
            return (dp.blend, -1 if dp.texture is None else dp.texture, dp.cutoff is not None)

        for blend, tex, mask in sorted({key(dp) for vs in scene.sets for dp in vs.prims}):
            items = [(vs, dp) for vs in scene.sets for dp in vs.prims
                     if key(dp) == (blend, tex, mask)]
            items.sort(key=lambda it: not it[0].animated)  # animated first: one upload range
            n = sum(len(dp.used) for _, dp in items)
            buf = np.zeros((n, 14), np.float32)
            tris, slices, start, n_animated = [], [], 0, 0
            for vs, dp in items:
                p, nr = vs.at(0)
                end = start + len(dp.used)
                buf[start:end, 0:3] = p[dp.used]
                buf[start:end, 3:6] = nr[dp.used]
                if dp.uv is not None:
                    buf[start:end, 6:8] = dp.uv
                buf[start:end, 8] = 1.0 - dp.roughness
                buf[start:end, 9] = dp.cutoff or 0.0
                rgba = np.array(dp.color, np.float32)
                rgba[:3] *= 1.0 - 0.5 * dp.metallic
                if not blend and dp.cutoff is None:
                    rgba[3] = 1.0
                buf[start:end, 10:14] = rgba if dp.vcol is None else rgba * dp.vcol
                if not blend and dp.cutoff is None:
                    buf[start:end, 13] = 1.0
                tris.append(dp.tris.astype(np.int64) + start)
                if vs.animated:
                    slices.append((vs, dp, start, end))
                    n_animated = end
                start = end
            texture = None
            if tex >= 0:
                texture = pyrender.Texture(source=scene.textures[tex], source_channels="RGBA")
            marker = None
            if mask:
                marker = pyrender.Texture(source=np.zeros((1, 1, 4), np.uint8),
                                          source_channels="RGBA")
            mat = pyrender.MetallicRoughnessMaterial(
                baseColorFactor=np.ones(4), metallicFactor=0.0, roughnessFactor=1.0,
                doubleSided=True, alphaMode="BLEND" if blend else "OPAQUE",
                baseColorTexture=texture, emissiveTexture=marker)
            prim = pyrender.Primitive(positions=buf[:, 0:3], normals=buf[:, 3:6],
                                      texcoord_0=buf[:, 6:8], texcoord_1=buf[:, 8:10],
                                      color_0=buf[:, 10:14],
                                      indices=np.concatenate(tris).astype(np.uint32),
                                      material=mat, mode=4)
            self._scene.add(pyrender.Mesh([prim], name=f"{'blend' if blend else 'opaque'}{tex}{mask}"))
            self._batches.append(_Batch(prim, buf, slices, n_animated))
        pose, yfov, znear, zfar = scene.camera_pose()
        cam = pyrender.PerspectiveCamera(yfov=yfov, znear=znear, zfar=zfar, aspectRatio=1.0)
        self._scene.add(cam, pose=pose)
        # Soft three-point lighting in camera space: key from upper left, fill from the right,
        # rim from behind and above; directional, so the look does not depend on the scale.
        for direction, color, intensity in (
                ((-0.55, 0.55, 0.65), (1.0, 0.97, 0.92), 1.15),  # key
                ((0.75, 0.05, 0.55), (0.85, 0.9, 1.0), 0.35),  # fill
                ((0.15, 0.7, -0.75), (1.0, 1.0, 1.0), 0.7)):  # rim
            light = pyrender.DirectionalLight(color=np.array(color), intensity=intensity)
            self._scene.add(light, pose=pose @ _light_pose(np.array(direction)))
        self._renderer = pyrender.OffscreenRenderer(size, size)
        self._renderer._renderer._program_cache = _shader_cache()
        self._bound = False

    def frame(self, i: int) -> np.ndarray:
        GL = self._gl
        posed: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for b in self._batches:
            if not b.slices:
                continue
            for vs, dp, start, end in b.slices:
                if id(vs) not in posed:
                    posed[id(vs)] = vs.at(i)
                p, n = posed[id(vs)]
                b.buf[start:end, 0:3] = p[dp.used]
                b.buf[start:end, 3:6] = n[dp.used]
            if self._bound:  # the GL buffer exists: overwrite the animated range in place
                data = b.buf[:b.n_animated]
                GL.glBindBuffer(GL.GL_ARRAY_BUFFER, b.prim._buffers[0])
                GL.glBufferSubData(GL.GL_ARRAY_BUFFER, 0, data.nbytes, data)
                GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)
            else:  # the first render builds the buffer from the primitive's arrays
                b.prim.positions = b.buf[:, 0:3]
                b.prim.normals = b.buf[:, 3:6]
        from pyrender import RenderFlags

        color, _ = self._renderer.render(self._scene, flags=RenderFlags.NONE)
        self._bound = True
        return color

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.delete()
            self._renderer = None


def _light_pose(direction: np.ndarray) -> np.ndarray:
    """Pose (in camera space) of a directional light shining *from* `direction` (camera space:
    x right, y up, +z towards the viewer): its -Z axis points along -direction."""
    z = direction / np.linalg.norm(direction)
    up = np.array([0.0, 1.0, 0.0]) if abs(z[1]) < 0.95 else np.array([1.0, 0.0, 0.0])
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2] = x, y, z
    return m


# ----------------------------------------------------------------------------------------------
# Audio: what goes into the MP4


@dataclass(frozen=True)
class AudioPlan:
    """How the speech's audio enters the MP4: `args` for ffmpeg's output side, `codec` of the
    input stream, and `how` ('copy', 'flac', 'alac', 'aac') with a one-line `reason`."""

    codec: str
    how: str
    args: tuple[str, ...]
    reason: str


def probe_audio(path: Path) -> dict:
    """{'codec', 'sample_fmt', 'rate', 'channels'} of the file's first audio stream, parsed
    from `ffmpeg -i`; {} when it has none."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i",
                           f"file:{Path(path).resolve()}"],
                          capture_output=True, text=True, errors="replace")
    for line in proc.stderr.splitlines():
        m = re.search(r"Stream #\d+:\d+.*?: Audio: ([\w-]+)[^,]*,\s*(\d+) Hz,\s*([^,]+),\s*"
                      r"([\w()]+)", line)
        if m:
            return {"codec": m.group(1), "rate": int(m.group(2)), "channels": m.group(3).strip(),
                    "sample_fmt": m.group(4)}
    return {}


def audio_plan(info: dict, mode: str = "auto", container: str = "mp4") -> AudioPlan:
    """Choose how to carry the audio (see docs/preview.md):
    * auto: a codec MP4 can hold (AAC, MP3, ALAC, FLAC, Opus, AC-3, E-AC-3) is copied
      unchanged; integer PCM (WAV/AIFF) and other lossless codecs become FLAC-in-MP4, which
      decodes to the identical samples; float PCM becomes 24-bit FLAC; anything else (Vorbis,
      ...) is re-encoded as 256 kb/s AAC. In a .mov, PCM is copied as is too, and lossless
      codecs QuickTime cannot hold become ALAC.
    * flac / alac: lossless re-pack (ALAC for Apple players that do not read FLAC-in-MP4).
    * aac: 256 kb/s AAC, for the widest player support.
    """
    codec = info.get("codec", "")
    fmt = info.get("sample_fmt", "")
    bits24 = ("s24" in codec or "s32" in codec or fmt.startswith(("s32", "flt", "dbl"))
              or "24 bit" in fmt)
    box = "MOV" if container == "mov" else "MP4"
    if mode == "auto":
        copyable = (MOV_COPY_CODECS if container == "mov" else MP4_COPY_CODECS)
        if codec in copyable or (container == "mov" and codec.startswith("pcm_")):
            return AudioPlan(codec, "copy", ("-c:a", "copy"),
                             f"{codec} copied unchanged into the {box}")
        if codec.startswith("pcm_f"):
            return AudioPlan(codec, "flac", ("-c:a", "flac", "-sample_fmt", "s32"),
                             f"{codec} (float PCM) as 24-bit FLAC: MP4 has no float PCM")
        if LOSSLESS_CODECS.match(codec) or codec in ("flac", "alac"):
            mode = "alac" if container == "mov" else "flac"
        else:
            return AudioPlan(codec, "aac", ("-c:a", "aac", "-b:a", "256k"),
                             f"{codec or 'this codec'} cannot go into {box} as is: "
                             "re-encoded as 256 kb/s AAC")
    if mode == "flac":
        args = ("-c:a", "flac") + (("-sample_fmt", "s32") if bits24 else ("-sample_fmt", "s16"))
        return AudioPlan(codec, "flac", args, f"{codec} re-packed losslessly as FLAC-in-{box}")
    if mode == "alac":
        args = ("-c:a", "alac") + (("-sample_fmt", "s32p") if bits24 else ("-sample_fmt", "s16p"))
        return AudioPlan(codec, "alac", args, f"{codec} re-packed losslessly as ALAC")
    return AudioPlan(codec, "aac", ("-c:a", "aac", "-b:a", "256k"),
                     f"{codec} re-encoded as 256 kb/s AAC (--preview-audio aac)")


# ----------------------------------------------------------------------------------------------
# Encoding


def _fps_fraction(fps: float) -> str:
    f = Fraction(fps).limit_denominator(1001)
    return f"{f.numerator}/{f.denominator}"


class _Encoder:
    """ffmpeg reading raw RGB frames on stdin, writing H.264 + the audio to an MP4."""

    def __init__(self, out: Path, size: int, fps: float, audio: Path | None,
                 plan: AudioPlan | None, options: PreviewOptions, container: str = "mp4"):
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size}x{size}",
               "-framerate", _fps_fraction(fps), "-i", "pipe:0"]
        if audio is not None and plan is not None:
            # file: so a name like "pipe:1" or "-x.wav" is only ever a file name
            cmd += ["-i", f"file:{Path(audio).resolve()}", "-map", "0:v:0", "-map", "1:a:0",
                    *plan.args]
        else:
            cmd += ["-map", "0:v:0"]
        cmd += ["-c:v", "libx264", "-preset", options.preset, "-crf", str(options.crf),
                "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-map_metadata", "-1",
                "-f", container, f"file:{Path(out).resolve()}"]
        self.cmd = cmd
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self._err = b""
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        self._err = self._proc.stderr.read()

    def write(self, rgb: np.ndarray) -> None:
        try:
            self._proc.stdin.write(np.ascontiguousarray(rgb).tobytes())
        except BrokenPipeError:
            self.finish()
            raise VoxfaceError("ffmpeg stopped while encoding the preview") from None

    def finish(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                pass
        rc = self._proc.wait()
        self._reader.join()
        if rc != 0:
            tail = self._err.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise VoxfaceError(f"ffmpeg failed encoding the preview (exit {rc}): "
                               f"{' | '.join(tail) or 'no output'}")

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()


# ----------------------------------------------------------------------------------------------
# Entry points


@dataclass
class PreviewStats:
    """What a preview run did (for the progress line and the benchmark)."""

    frames: int = 0
    render_s: float = 0.0
    total_s: float = 0.0
    audio: str = ""
    platform: str = ""

    @property
    def render_fps(self) -> float:
        return self.frames / self.render_s if self.render_s > 0 else 0.0


def engine_label(options: PreviewOptions) -> str:
    """The renderer as the progress line names it, the same for a video and a contact sheet:
    'pyrender/osmesa' / 'pyrender/egl' (the OpenGL platform `_import_pyrender` chose) or
    'blender/workbench'."""
    if options.engine == "blender":
        return "blender/workbench"
    _import_pyrender()
    return f"pyrender/{os.environ.get('PYOPENGL_PLATFORM') or 'default-gl'}"


def _animated_glb(anim) -> bytes:
    """The GLB `--format glb` writes for `anim`, from the run's one rig plan (`anim.plan`).

    The scene is read from these bytes rather than from the rig and plan directly: `build_scene`
    needs the whole animated glTF (node hierarchy, skins, materials, textures, every accessor
    kind) as pygltflib reads it, and the GLB is what the user's engine will play, so the
    preview shows exactly that file."""
    if anim.rig is None:
        raise InputError("--preview needs a rig; none was loaded")
    return animate_rig(anim.rig, anim.curves, plan=rig_plan(anim),
                       name=anim.audio.stem if anim.audio is not None else "speech")


def write_preview(anim, path: str | os.PathLike, options: PreviewOptions = PreviewOptions(),
                  *, like: str | os.PathLike | None = None) -> PreviewStats:
    """Render `anim` (the pipeline's Animation, with its rig) to `path`: an MP4 (or .m4v/.mov)
    video, or a PNG contact sheet, chosen by the suffix of `like` (default: `path` itself).
    Writes `path` directly; callers that want all-or-nothing hand it a temporary path and the
    final name as `like` (the CLI does). Returns what it did."""
    path = Path(path)
    like = Path(like) if like is not None else path
    if preview_kind(like) == "sheet":
        return write_contact_sheet(anim, path, options)
    return write_video(anim, path, options, container="mov" if like.suffix.lower() == ".mov"
                       else "mp4")


def write_video(anim, path: Path, options: PreviewOptions = PreviewOptions(),
                container: str = "mp4") -> PreviewStats:
    """Render every frame and encode the MP4 with the speech's audio at `path`."""
    t0 = time.perf_counter()
    glb = _animated_glb(anim)
    fps = anim.curves.fps
    audio_path = anim.audio.path if anim.audio is not None else None
    plan = None
    if audio_path is not None:
        info = probe_audio(audio_path)
        plan = audio_plan(info, options.audio, container) if info else None
    stats = PreviewStats(audio=plan.reason if plan else "no audio")
    scene = build_scene(glb, fps=fps, duration=anim.curves.duration)
    frames = _blender_frames(anim, scene, options.size) if options.engine == "blender" else None
    enc = _Encoder(path, options.size, fps, audio_path if plan else None, plan, options,
                   container)
    try:
        stats.platform = engine_label(options)
        if frames is not None:
            t1 = time.perf_counter()
            for img in frames:
                enc.write(img)
                stats.frames += 1
            stats.render_s = time.perf_counter() - t1
        else:
            r = GLRenderer(scene, options.size)
            try:
                t1 = time.perf_counter()
                for i in range(scene.n_frames):
                    enc.write(r.frame(i))
                    stats.frames += 1
                stats.render_s = time.perf_counter() - t1
            finally:
                r.close()
        enc.finish()
    except BaseException:
        enc.kill()
        raise
    stats.total_s = time.perf_counter() - t0
    return stats


def sheet_frames(anim, limit: int = 96) -> list[tuple[int, str]]:
    """(frame index, label) for the contact sheet: the centre of every phone (silences
    excluded), at most `limit` (evenly thinned); with no phones, evenly spaced frames."""
    fps, n = anim.curves.fps, anim.curves.n_frames
    phones = [p for p in anim.alignment.phones
              if p.label.strip().lower() not in ("", "sil", "sp", "spn")]
    items = []
    for p in phones:
        mid = (p.start + p.end) / 2
        items.append((min(n - 1, int(round(mid * fps))), f"{p.label} {mid:.2f}s"))
    if not items:
        count = min(limit, 24, n)
        for i in np.linspace(0, n - 1, count).round().astype(int):
            items.append((int(i), f"{i / fps:.2f}s"))
    if len(items) > limit:
        keep = np.linspace(0, len(items) - 1, limit).round().astype(int)
        items = [items[k] for k in keep]
    return items


def write_contact_sheet(anim, path: Path, options: PreviewOptions = PreviewOptions(),
                        cols: int = 8) -> PreviewStats:
    """A PNG grid of frames at the phone centres, each labelled with its phone and time."""
    from PIL import Image, ImageDraw

    t0 = time.perf_counter()
    glb = _animated_glb(anim)
    items = sheet_frames(anim)
    idx = [i for i, _ in items]
    scene = build_scene(glb, fps=anim.curves.fps, frames=idx)
    tile = options.tile
    if options.engine == "blender":
        images = list(_blender_frames(anim, scene, tile, frames=idx))
    else:
        r = GLRenderer(scene, tile)
        try:
            images = [r.frame(k) for k in range(len(idx))]
        finally:
            r.close()
    cols = min(cols, len(items))
    rows = (len(items) + cols - 1) // cols
    label_h = 16
    sheet = Image.new("RGB", (cols * tile, rows * (tile + label_h)), (30, 30, 34))
    draw = ImageDraw.Draw(sheet)
    for k, ((frame, label), img) in enumerate(zip(items, images)):
        x, y = (k % cols) * tile, (k // cols) * (tile + label_h)
        sheet.paste(Image.fromarray(img), (x, y + label_h))
        draw.text((x + 4, y + 2), label, fill=(235, 235, 235))
    sheet.save(str(path), format="PNG")
    return PreviewStats(frames=len(images), total_s=time.perf_counter() - t0,
                        render_s=time.perf_counter() - t0, platform=engine_label(options))


# ----------------------------------------------------------------------------------------------
# Blender engine


def _blender_frames(anim, scene: PreviewScene, size: int,
                    frames: Sequence[int] | None = None) -> Iterator[np.ndarray]:
    """Render through Blender Workbench (blender_addon/render_preview.py); yields RGB frames.

    The job names the original rig (Blender's glTF importer reads it), the morph weights per
    node (`exporters.blender.rig_tracks`: the animated GLB's, as `--format blend` keys them),
    voxface's camera pose and field of view from `scene`, the frame indices and the size; the
    script writes one PNG per frame into a temporary folder."""
    from PIL import Image

    pose, yfov, znear, zfar = scene.camera_pose()
    idx = list(range(scene.n_frames)) if frames is None else [int(f) for f in frames]
    with tempfile.TemporaryDirectory(prefix="voxface_preview_") as tmp:
        tracks = []
        for k, (node, targets, values) in enumerate(rig_tracks(anim)):
            np.save(Path(tmp) / f"track{k}.npy", values)
            tracks.append({"node": node, "targets": targets,
                           "values": str(Path(tmp) / f"track{k}.npy")})
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({
            "rig": str(Path(anim.rig.path).resolve()), "out_dir": str(Path(tmp) / "frames"),
            "size": int(size), "frames": idx, "tracks": tracks,
            "camera_pose": pose.tolist(), "yfov": yfov, "znear": znear, "zfar": zfar,
        }), encoding="utf-8")
        run_job(ADDON_DIR / "render_preview.py", str(job))
        for k in range(len(idx)):
            with Image.open(Path(tmp) / "frames" / f"{k:06d}.png") as im:
                yield np.asarray(im.convert("RGB"))
