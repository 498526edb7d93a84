"""glTF 2.0 morph-target rigs: load, match blendshape names, write an animated GLB copy.

A rig is any glTF 2.0 asset (`.glb`, or `.gltf` with external or data-URI buffers) whose meshes
carry morph targets. Target names come from `mesh.extras.targetNames` (the de-facto convention of
Blender, three.js, Ready Player Me), falling back to a primitive's `extras.targetNames`, and to
`target_<i>` when the file names none.

The output is always one self-contained GLB: every buffer and image of the input is copied into a
single binary chunk, and one new animation is appended with a `weights` channel for each node that
instances a driven mesh (and a `rotation` channel for each head, neck or eye bone that the curves'
head / eye rotations move, see `voxface.rigs.head_pose`). Everything else in the JSON is carried over untouched, because we edit
the file's own JSON document (not a re-serialised pygltflib object, which drops what it does not
model); `Rig.gltf` is the parsed pygltflib view for callers that want typed access. The GLB
container, accessors and constants are handled by `voxface.rigs.gltf_io`; which target follows
which curve is the rig plan's business (`voxface.rigs.retarget.plan_rig`).
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import urllib.parse
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from voxface.core.curves import Curves
from voxface.core.errors import InputError
from voxface.core.fileio import atomic_path
from voxface.core.rigplan import RigPlan
from voxface.rigs.gltf_io import (
    GLB_MAGIC,
    BinaryBuilder,
    add_float_accessor,
    add_vec4_accessor,
    add_view,
    glb_bytes,
    glb_head,
    parse_glb,
)
from voxface.rigs.head_pose import (
    eyes_turned_by_morphs,
    find_head_bones,
    rotation_tracks,
    set_trs,
)
from voxface.rigs.kinds.base import no_match_error, truncate
from voxface.rigs.retarget import plan_channels, plan_from_match, plan_rig

if TYPE_CHECKING:
    from pygltflib import GLTF2

# Extensions whose geometry we cannot read or re-pack; when required, the file is unusable here.
_COMPRESSION_EXTENSIONS = ("KHR_draco_mesh_compression", "EXT_meshopt_compression")


@dataclass(frozen=True, eq=False)
class RigMesh:
    """One mesh of the rig that has morph targets.

    Attributes:
        index: index into the file's `meshes`.
        name: the mesh's name, or `mesh_<index>` when it has none.
        target_names: one name per morph target, in target order (length = number of targets).
        named_in_file: False when the file gave no names and `target_<i>` were made up.
        default_weights: float32 [n_targets], the mesh's `weights` (0 where the file has none).
        nodes: indices of the nodes that instance this mesh (node.mesh == index).
    """

    index: int
    name: str
    target_names: tuple[str, ...]
    named_in_file: bool
    default_weights: np.ndarray
    nodes: tuple[int, ...]

    @property
    def n_targets(self) -> int:
        return len(self.target_names)


@dataclass(frozen=True, eq=False)
class Rig:
    """A loaded glTF 2.0 rig, with every byte it references already read.

    Attributes:
        path: the file it was read from.
        gltf: the pygltflib view of the document (binary blob attached for GLB input), made
            on first access (decoding a document into pygltflib's dataclasses takes ~0.2 s
            for fitme, and the pipeline itself only reads `document`).
        document: the file's own JSON document (dict); never mutated.
        buffers: the bytes of each `buffers[i]`, exactly `byteLength` long.
        images: for each image given by `uri` (file or data URI): index -> (bytes, mimeType).
            Images already in a bufferView are not listed; they travel with the buffers.
        meshes: the meshes that have morph targets, in file order.
    """

    path: Path
    document: dict
    buffers: tuple[bytes, ...]
    images: dict[int, tuple[bytes, str]]
    meshes: tuple[RigMesh, ...]
    _bin_chunk: bytes | None = None

    @functools.cached_property
    def gltf(self) -> GLTF2:
        # Imported here: pygltflib (with dataclasses_json and marshmallow) takes ~70 ms to
        # import, and nothing on the `animate` path needs it.
        from pygltflib import GLTF2

        try:
            with warnings.catch_warnings():
                # dataclasses_json warns about optional fields pygltflib types as
                # non-optional (an image with bufferView and no uri); the document is fine.
                warnings.simplefilter("ignore", RuntimeWarning)
                gltf = GLTF2.from_dict(copy.deepcopy(self.document))
        except Exception as exc:  # pygltflib raises whatever its dataclass decoding hits
            raise InputError(f"not a valid glTF 2.0 document ({type(exc).__name__}: {exc})",
                             path=self.path) from None
        # Let pygltflib resolve relative URIs itself if a caller asks it to.
        gltf._path = self.path.parent
        gltf._name = self.path.name
        if self._bin_chunk is not None:
            gltf.set_binary_blob(self._bin_chunk)
        return gltf

    def mesh(self, index: int) -> RigMesh:
        """The RigMesh for file mesh `index` (KeyError if that mesh has no morph targets)."""
        for m in self.meshes:
            if m.index == index:
                return m
        raise KeyError(index)


@dataclass(frozen=True)
class MeshMatch:
    """How one morph mesh's targets map to curve columns.

    Attributes:
        mesh: index into the file's `meshes`.
        name: mesh name (as in RigMesh.name).
        targets: indices of the matched targets.
        columns: for each matched target, the curve column that drives it.
        unmatched_targets: names of the targets no curve drives (held at their default weight).
    """

    mesh: int
    name: str
    targets: tuple[int, ...]
    columns: tuple[int, ...]
    unmatched_targets: tuple[str, ...]

    @property
    def driven(self) -> bool:
        return bool(self.targets)


@dataclass(frozen=True)
class RigMatch:
    """Result of matching curve names against every morph mesh of a rig.

    Attributes:
        names: the curve names that were matched (column order of the curves).
        meshes: one MeshMatch per RigMesh, same order as `Rig.meshes`.
        unmatched_curves: curve names that match no target on any mesh.
    """

    names: tuple[str, ...]
    meshes: tuple[MeshMatch, ...]
    unmatched_curves: tuple[str, ...]

    @property
    def driven(self) -> tuple[MeshMatch, ...]:
        """The meshes with at least one matched target."""
        return tuple(m for m in self.meshes if m.driven)


# ----------------------------------------------------------------------------------------------
# Loading


def load_rig(path: str | os.PathLike) -> Rig:
    """Read a glTF 2.0 rig (`.glb`, or `.gltf` with external / data-URI buffers).

    Every buffer and `uri` image is read now, so a missing or short file fails here with an
    InputError naming it, not halfway through writing the output.

    Raises:
        InputError: unreadable, not glTF, glTF 1.0, truncated GLB, missing or short buffer file,
            missing image, compressed meshes, no meshes, or no morph targets.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc})", path=path) from None

    document, bin_chunk = _parse_container(data, path)
    _check_version(document, path)
    validate_document(document, path)
    _check_required_extensions(document, path)

    buffers = tuple(_read_buffers(document, bin_chunk, path))
    _check_buffer_views(document, buffers, path)
    images = _read_images(document, path)
    meshes = _morph_meshes(document, path)
    return Rig(path=path, document=document, buffers=buffers, images=images, meshes=meshes,
               _bin_chunk=bin_chunk)


def _parse_container(data: bytes, path: Path) -> tuple[dict, bytes | None]:
    """Split a file into (JSON document, GLB BIN chunk or None)."""
    if data[:4] == GLB_MAGIC:
        return parse_glb(data, path)
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise InputError("not a glTF file (neither a binary GLB starting with 'glTF' nor glTF "
                         "JSON)", path=path) from None
    if isinstance(document, dict) and isinstance(document.get("meshes"), dict):
        # glTF 1.0 keyed its top-level collections by id (objects), 2.0 uses arrays.
        raise InputError("is glTF 1.0; voxface reads glTF 2.0 only, convert it first (e.g. by "
                         "importing and re-exporting in Blender)", path=path)
    if not isinstance(document, dict) or not isinstance(document.get("asset"), dict):
        raise InputError("not a glTF file (JSON without an 'asset' object)", path=path)
    return document, None


def _check_version(document: dict, path: Path) -> None:
    version = str(document["asset"].get("version", ""))
    if version.startswith("1."):
        raise InputError("is glTF 1.0; voxface reads glTF 2.0 only, convert it first (e.g. by "
                         "importing and re-exporting in Blender)", path=path)
    if not version.startswith("2."):
        raise InputError(f"unsupported glTF version {version!r} (expected 2.x)", path=path)


# ----------------------------------------------------------------------------------------------
# Document structure: the JSON types every later step relies on, checked once at the edge.
#
# A spec is a type name ("object", "array", "string", "integer", "count" = integer >= 0,
# "number"), ("array", item spec) for an array whose items all match, or a dict
# {field: spec} for an object whose listed fields, where present, match (other fields are
# not looked at: they are carried into the output untouched). Only what the loader, the plan
# (rigs/retarget.py, rigs/vrm.py is defensive itself) and the writer read is listed.

_DOCUMENT_SPEC: dict = {
    "asset": "object",
    "extensionsUsed": ("array", "string"),
    "extensionsRequired": ("array", "string"),
    "extensions": "object",
    "scene": "count",
    "scenes": ("array", {"nodes": ("array", "count")}),
    "buffers": ("array", {"uri": "string", "byteLength": "count"}),
    "bufferViews": ("array", {"buffer": "count", "byteOffset": "count", "byteLength": "count",
                              "byteStride": "count",
                              "extensions": ("object-of", {"buffer": "count",
                                                           "byteOffset": "count"})}),
    "images": ("array", {"uri": "string", "mimeType": "string", "bufferView": "count"}),
    "meshes": ("array", {"name": "string", "weights": ("array", "number"),
                         "primitives": ("array", {"attributes": "object",
                                                  "targets": ("array", "object"),
                                                  "extras": "any"}),
                         "extras": "any"}),
    "nodes": ("array", {"name": "string", "mesh": "count", "weights": ("array", "number"),
                        "children": ("array", "count")}),
    "accessors": ("array", "object"),
    "animations": ("array", {"channels": ("array", "object"),
                             "samplers": ("array", "object")}),
    "materials": ("array", "object"),
    "textures": ("array", "object"),
    "samplers": ("array", "object"),
    "skins": ("array", "object"),
    "cameras": ("array", "object"),
}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}" if len(repr(value)) <= 20 else "a number"
    if isinstance(value, str):
        return f"the string {value[:20]!r}" if len(value) <= 20 else "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


_EXPECTED = {"object": "an object", "array": "an array", "string": "a string",
             "integer": "an integer", "count": "an integer >= 0", "number": "a number"}


def _matches(kind: str, value: object) -> bool:
    if kind == "any":
        return True
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int)
    if kind == "count":
        return isinstance(value, int) and value >= 0
    if kind == "number":
        return isinstance(value, (int, float)) and np.isfinite(value)
    raise ValueError(kind)


def _check_spec(value: object, spec, where: str, path: Path) -> None:
    def bad(expected: str) -> InputError:
        return InputError(f"not a valid glTF 2.0 document: {where} must be {expected}, "
                          f"not {_json_type(value)}", path=path)

    if isinstance(spec, str):
        if not _matches(spec, value):
            raise bad(_EXPECTED[spec])
        return
    if isinstance(spec, tuple):
        kind, item = spec
        if kind == "array":
            if not isinstance(value, list):
                raise bad("an array")
            for i, v in enumerate(value):
                _check_spec(v, item, f"{where}[{i}]", path)
        elif kind == "object-of":  # an object whose every value matches `item`
            if not isinstance(value, dict):
                raise bad("an object")
            for k, v in value.items():
                if isinstance(v, dict):  # the writer only touches object values
                    _check_spec(v, item, f"{where}.{k}", path)
        return
    if not isinstance(value, dict):
        raise bad("an object")
    for key, sub in spec.items():
        if key in value:
            _check_spec(value[key], sub, f"{where}.{key}" if where else key, path)


def validate_document(document: dict, path: Path) -> None:
    """Check the JSON types of every document field the loader, the rig plan and the writer
    read (arrays of objects, indices and lengths integers >= 0, names and URIs strings,
    weights numbers). Raises InputError naming the file and the JSON path of the first bad
    field, e.g. `meshes[0].primitives[0].targets must be an array, not a boolean`."""
    _check_spec(document, _DOCUMENT_SPEC, "", path)


def _check_required_extensions(document: dict, path: Path) -> None:
    required = document.get("extensionsRequired") or []
    for ext in _COMPRESSION_EXTENSIONS:
        if ext in required:
            raise InputError(
                f"meshes are compressed with {ext}, which voxface cannot read or re-pack; "
                f"decompress it first, e.g. `npx @gltf-transform/cli copy in.glb out.glb` "
                f"(gltf-transform writes uncompressed geometry by default)", path=path)


def _decode_data_uri(uri: str) -> tuple[bytes, str]:
    """Bytes and media type of a `data:` URI (base64 or percent-encoded)."""
    header, _, payload = uri.partition(",")
    media = header[5:].split(";")[0]
    if header.endswith(";base64"):
        return base64.b64decode(payload), media
    return urllib.parse.unquote_to_bytes(payload), media


def _resolve_uri(uri: str, base: Path, what: str, path: Path) -> Path:
    """Local file for a relative URI, or InputError for anything we cannot fetch."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive, not a scheme
        raise InputError(f"{what} has a non-local URI {uri!r}; only relative file paths and "
                         "data: URIs are supported", path=path)
    return base / urllib.parse.unquote(uri)


def _read_buffers(document: dict, bin_chunk: bytes | None, path: Path) -> list[bytes]:
    out = []
    for i, buf in enumerate(document.get("buffers") or []):
        length = buf.get("byteLength")
        if not isinstance(length, int) or length < 0:
            raise InputError(f"buffers[{i}] has no valid byteLength", path=path)
        uri = buf.get("uri")
        if uri is None:
            # Only the first buffer of a GLB may omit its URI: it is the BIN chunk.
            if i != 0 or bin_chunk is None:
                raise InputError(
                    f"truncated or incomplete file: buffers[{i}] has no uri and "
                    f"{'no BIN chunk' if i == 0 else 'is not the GLB BIN buffer'}", path=path)
            data = bin_chunk
            source = "the GLB BIN chunk"
        elif uri.startswith("data:"):
            try:
                data, _ = _decode_data_uri(uri)
            except (ValueError, TypeError) as exc:
                raise InputError(f"buffers[{i}] data URI does not decode ({exc})",
                                 path=path) from None
            source = f"buffers[{i}] data URI"
        else:
            file = _resolve_uri(uri, path.parent, f"buffers[{i}]", path)
            try:
                data = file.read_bytes()
            except FileNotFoundError:
                raise InputError(f"missing buffer file {file.name!r} (buffers[{i}] uri "
                                 f"{uri!r}, looked in {file.parent})", path=path) from None
            except OSError as exc:
                raise InputError(f"cannot read buffer file {file.name!r} "
                                 f"({exc.strerror or exc})", path=path) from None
            source = f"buffer file {file.name!r}"
        if len(data) < length:
            raise InputError(f"truncated: {source} has {len(data)} bytes, buffers[{i}] "
                             f"declares {length}", path=path)
        out.append(bytes(data[:length]))
    return out


def _check_buffer_views(document: dict, buffers: tuple[bytes, ...], path: Path) -> None:
    for i, view in enumerate(document.get("bufferViews") or []):
        b = view.get("buffer")
        if not isinstance(b, int) or not 0 <= b < len(buffers):
            raise InputError(f"bufferViews[{i}] points at missing buffer {b}", path=path)
        end = int(view.get("byteOffset", 0)) + int(view.get("byteLength", 0))
        if end > len(buffers[b]):
            raise InputError(f"truncated: bufferViews[{i}] ends at byte {end}, buffers[{b}] has "
                             f"{len(buffers[b])}", path=path)
        for name, ext in (view.get("extensions") or {}).items():
            if isinstance(ext, dict) and "buffer" in ext and not (
                    isinstance(ext["buffer"], int) and 0 <= ext["buffer"] < len(buffers)):
                raise InputError(f"bufferViews[{i}].extensions.{name} points at missing buffer "
                                 f"{ext['buffer']}", path=path)


def _sniff_mime(data: bytes) -> str | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:12] == b"\xabKTX 20\xbb\r\n\x1a\n":
        return "image/ktx2"
    return None


_MIME_BY_SUFFIX = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                   ".webp": "image/webp", ".ktx2": "image/ktx2"}


def _read_images(document: dict, path: Path) -> dict[int, tuple[bytes, str]]:
    out = {}
    for i, image in enumerate(document.get("images") or []):
        uri = image.get("uri")
        if uri is None:
            continue
        if uri.startswith("data:"):
            try:
                data, media = _decode_data_uri(uri)
            except (ValueError, TypeError) as exc:
                raise InputError(f"images[{i}] data URI does not decode ({exc})",
                                 path=path) from None
            suffix_mime = media or None
        else:
            file = _resolve_uri(uri, path.parent, f"images[{i}]", path)
            try:
                data = file.read_bytes()
            except FileNotFoundError:
                raise InputError(f"missing image file {file.name!r} (images[{i}] uri {uri!r}, "
                                 f"looked in {file.parent})", path=path) from None
            except OSError as exc:
                raise InputError(f"cannot read image file {file.name!r} "
                                 f"({exc.strerror or exc})", path=path) from None
            suffix_mime = _MIME_BY_SUFFIX.get(file.suffix.lower())
        # An embedded image must carry mimeType; trust the bytes first, then what the file said.
        mime = _sniff_mime(data) or image.get("mimeType") or suffix_mime
        if not mime:
            raise InputError(f"images[{i}] ({uri[:60]!r}) is not a PNG, JPEG, WebP or KTX2 "
                             "image and has no mimeType", path=path)
        out[i] = (data, mime)
    return out


def _target_names(mesh: dict, n: int) -> tuple[tuple[str, ...], bool]:
    """Target names of a mesh with `n` targets, and whether the file supplied them."""
    candidates = [mesh.get("extras")]
    candidates += [p.get("extras") for p in mesh.get("primitives") or []]
    for extras in candidates:
        if not isinstance(extras, dict):
            continue
        names = extras.get("targetNames")
        if isinstance(names, list) and names and all(isinstance(s, str) for s in names):
            # A short or long list is a broken exporter; keep the names it does give.
            names = list(names[:n]) + [f"target_{i}" for i in range(len(names), n)]
            return tuple(names), True
    return tuple(f"target_{i}" for i in range(n)), False


def _morph_meshes(document: dict, path: Path) -> tuple[RigMesh, ...]:
    meshes = document.get("meshes") or []
    if not meshes:
        raise InputError("has no meshes; a rig needs a mesh with morph targets (blendshapes)",
                         path=path)
    users: dict[int, list[int]] = {}
    for n, node in enumerate(document.get("nodes") or []):
        m = node.get("mesh")
        if isinstance(m, int):
            users.setdefault(m, []).append(n)

    out = []
    for i, mesh in enumerate(meshes):
        counts = {len(p.get("targets") or []) for p in mesh.get("primitives") or []}
        n = max(counts, default=0)
        if n == 0:
            continue
        name = mesh.get("name") or f"mesh_{i}"
        if len(counts) > 1:
            # The spec requires every primitive of a mesh to have the same targets (they share
            # the mesh's weights); a file breaking that cannot be animated consistently.
            raise InputError(f"mesh {name!r} has primitives with different numbers of morph "
                             f"targets {sorted(counts)}", path=path)
        names, named = _target_names(mesh, n)
        weights = np.zeros(n, np.float32)
        if isinstance(mesh.get("weights"), list) and len(mesh["weights"]) == n:
            weights[:] = np.asarray(mesh["weights"], dtype=np.float32)
        out.append(RigMesh(index=i, name=name, target_names=names, named_in_file=named,
                           default_weights=weights, nodes=tuple(users.get(i, ()))))
    if not out:
        listed = truncate([m.get("name") or f"mesh_{i}" for i, m in enumerate(meshes)])
        raise InputError(f"has no morph targets (blendshapes) on any of its {len(meshes)} "
                         f"meshes: {listed}", path=path)
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# Matching


def match_targets(rig: Rig, names: Sequence[str]) -> RigMatch:
    """Match curve names (ARKit camelCase, or any) to every mesh's morph target names.

    Matching ignores case and surrounding space ('JawOpen' drives 'jawOpen'). When a name
    appears twice among the curves, the first column wins.

    Raises:
        InputError: no target anywhere in the rig matches any curve name; the message lists the
            rig's targets per mesh.
    """
    names = tuple(names)
    column: dict[str, int] = {}
    for j, name in enumerate(names):
        column.setdefault(name.strip().lower(), j)

    used_columns: set[int] = set()
    meshes = []
    for mesh in rig.meshes:
        targets, columns, unmatched = [], [], []
        for t, target in enumerate(mesh.target_names):
            j = column.get(target.strip().lower())
            if j is None:
                unmatched.append(target)
            else:
                targets.append(t)
                columns.append(j)
                used_columns.add(j)
        meshes.append(MeshMatch(mesh=mesh.index, name=mesh.name, targets=tuple(targets),
                                columns=tuple(columns), unmatched_targets=tuple(unmatched)))

    if not used_columns:
        raise no_match_error(rig, names)

    unmatched_curves = tuple(n for j, n in enumerate(names) if j not in used_columns
                             and column[n.strip().lower()] == j)
    return RigMatch(names=names, meshes=tuple(meshes), unmatched_curves=unmatched_curves)


# ----------------------------------------------------------------------------------------------
# Writing


def _embed_resources(rig: Rig, doc: dict, blob: BinaryBuilder) -> None:
    """Move every input buffer and `uri` image into the single output buffer (in `doc`)."""
    bases = [blob.add(data) for data in rig.buffers]
    for view in doc.get("bufferViews") or []:
        view["byteOffset"] = bases[view["buffer"]] + int(view.get("byteOffset", 0))
        view["buffer"] = 0
        if view["byteOffset"] == 0:
            del view["byteOffset"]  # the default; keeps the JSON minimal
        # Optional meshopt data (extension used, not required) points into a buffer of its own.
        for ext in (view.get("extensions") or {}).values():
            if isinstance(ext, dict) and isinstance(ext.get("buffer"), int):
                ext["byteOffset"] = bases[ext["buffer"]] + int(ext.get("byteOffset", 0))
                ext["buffer"] = 0
    for i, (data, mime) in sorted(rig.images.items()):
        image = doc["images"][i]
        del image["uri"]
        image["bufferView"] = add_view(doc, blob, data)
        image["mimeType"] = mime


def animate_rig(rig: Rig, curves: Curves, *, match: RigMatch | None = None,
                plan: RigPlan | None = None, name_map=None, name: str = "speech",
                rotations: bool = True) -> bytes:
    """A self-contained GLB: the rig plus one animation driving its morph weights from `curves`.

    The animation has, for every node instancing a driven mesh, a LINEAR `weights` channel keyed
    at t_i = i / curves.fps, i = 0..T-1. Each key holds the mesh's full weight vector: driven
    targets take the sum of their drives (a curve's value for a target named after it, a VRM
    bind's weight times its expression, a viseme solved from the ARKit pose, ...; see
    `voxface.rigs.retarget`), the rest stay at the node's (else the mesh's) default weights.
    Existing animations, nodes, skins, materials, textures, images and extensions are kept.

    When `curves.extras["rotations"]` holds head / eye rotations (engine/nonverbal.py, Live Link
    names, radians) and the rig has head, neck or eye bones, the animation also has a LINEAR
    `rotation` channel per moved bone on the same keys: the bone's rest rotation times the
    delta, in its local frame (`voxface.rigs.head_pose`; a bone given by `matrix` is rewritten
    as translation / rotation / scale). A bone whose angles are all zero gets no channel, nor
    does an eye bone whose eyeball the driven eyeLook targets already turn (no double gaze).

    Args:
        rig: from `load_rig`.
        curves: weights [T, K] at curves.fps.
        match: a `match_targets(rig, curves.names)` result: plain name matching only.
        plan: the run's rig plan (`retarget.plan_rig(rig, curves.names, ...)`, as the pipeline
            keeps it): used as given, never recomputed.
        name_map: target name -> (ARKit name, scale), from `retarget.load_name_map`; used only
            to make a plan when neither match nor plan is given.
        name: the new animation's name.
        rotations: False leaves every bone at rest even when the curves carry rotations.
    Returns:
        The GLB file contents.
    Raises:
        InputError: nothing in the rig can be driven by the curves, or no node uses a driven
            mesh.
        ValueError: curves (or their rotations) empty, non-finite or of another length, or
            `match` / `plan` made for other names.
    """
    doc, blob = _animated(rig, curves, match=match, plan=plan, name_map=name_map, name=name,
                          rotations=rotations)
    return glb_bytes(doc, blob.finish())


def animation_arrays(rig: Rig, curves: Curves, *, plan, name: str = "speech",
                     rotations: bool = True) -> tuple[dict, dict[int, np.ndarray]]:
    """What `animate_rig` writes, before it is serialised: the output glTF document (the new
    animation last in `doc["animations"]`) and {accessor index: its values} for the accessors
    the new animation added (keys float32 [T], weights float32 [T * n_targets], rotations
    float32 [T, 4]). For writers of other formats (`--format blend`) that key exactly what the
    GLB plays without building the GLB and reading it back. Arguments as `animate_rig`."""
    doc, blob = _animated(rig, curves, match=None, plan=plan, name_map=None, name=name,
                          rotations=rotations)
    parts: dict[int, object] = {}
    offset = 0
    for part in blob.parts:
        parts[offset] = part
        offset += memoryview(part).nbytes
    arrays = {}
    views = doc.get("bufferViews") or []
    for i, acc in enumerate(doc.get("accessors") or []):
        part = parts.get(views[acc["bufferView"]].get("byteOffset", 0)) \
            if "bufferView" in acc else None
        if isinstance(part, np.ndarray):  # ours; the rig's own buffers are bytes
            arrays[i] = part
    return doc, arrays


def _animated(rig: Rig, curves: Curves, *, match: RigMatch | None, plan: RigPlan | None,
              name_map,
              name: str, rotations: bool = True) -> tuple[dict, BinaryBuilder]:
    """The output document and its binary buffer (not yet serialised): see `animate_rig`."""
    if match is not None:
        if match.names != curves.names:
            raise ValueError("match was made for different curve names than curves.names")
        plan = plan_from_match(match)
    elif plan is None:
        plan = plan_rig(rig, curves.names, name_map=name_map)
    elif plan.names != curves.names:
        raise ValueError("plan was made for different curve names than curves.names")
    values = curves.values  # float32 [T, K]
    n_frames = values.shape[0]
    if n_frames == 0:
        raise ValueError("curves have no frames")
    if not np.isfinite(values).all():
        raise ValueError("curves contain NaN or infinite values")
    rot = curves.extras.get("rotations") if rotations and isinstance(curves.extras, dict) \
        else None
    if rot is not None:
        if not isinstance(rot, Curves) or rot.n_frames != n_frames:
            raise ValueError(f"curves.extras['rotations'] must be Curves with {n_frames} frames "
                             "like the curves")
        if not np.isfinite(rot.values).all():
            raise ValueError("rotation curves contain NaN or infinite values")
    channels = plan_channels(plan, curves)

    doc = copy.deepcopy(rig.document)
    blob = BinaryBuilder()
    _embed_resources(rig, doc, blob)

    # Float32 keys from float64 i/fps: exact frame times, strictly increasing for any length
    # the engine produces (float32 spacing at 1 h is ~0.25 ms, far below a frame).
    times = (np.arange(n_frames, dtype=np.float64) / float(curves.fps)).astype(np.float32)
    time_accessor = add_float_accessor(doc, blob, times)

    nodes = doc.get("nodes") or []
    samplers: list[dict] = []
    channels_out: list[dict] = []
    for mesh_index in plan.driven_meshes:
        mesh = rig.mesh(mesh_index)
        drives = plan.drives_of(mesh_index)
        # Nodes with the same default weights and the same drives share one output accessor.
        outputs: dict[tuple, int] = {}
        for node_index in mesh.nodes:
            default = mesh.default_weights
            node_weights = nodes[node_index].get("weights")
            if isinstance(node_weights, list) and len(node_weights) == mesh.n_targets:
                default = np.asarray(node_weights, dtype=np.float32)  # node overrides mesh
            mine = tuple(d for d in drives if d.node is None or d.node == node_index)
            if not mine:
                continue
            key = (default.tobytes(), mine)
            if key not in outputs:
                weights = np.empty((n_frames, mesh.n_targets), np.float32)
                weights[:] = default
                weights[:, sorted({d.target for d in mine})] = 0.0
                for d in mine:
                    if d.weight == 1.0:
                        weights[:, d.target] += channels[d.channel]
                    else:
                        weights[:, d.target] += np.float32(d.weight) * channels[d.channel]
                outputs[key] = add_float_accessor(doc, blob, weights)
            samplers.append({"input": time_accessor, "output": outputs[key],
                             "interpolation": "LINEAR"})
            channels_out.append({"sampler": len(samplers) - 1,
                                 "target": {"node": node_index, "path": "weights"}})
    if not channels_out:
        driven = ", ".join(rig.mesh(m).name for m in plan.driven_meshes)
        raise InputError(f"the meshes whose targets match ({driven}) are not used by any node",
                         path=rig.path)
    if rot is not None:
        bones = find_head_bones(doc)
        # Eyes whose gaze morphs already turn the eyeballs keep their bones at rest.
        turned = eyes_turned_by_morphs(rig, plan, (bones.left_eye, bones.right_eye))
        for node_index, quats in rotation_tracks(doc, rot, bones=bones, skip=turned):
            set_trs(nodes[node_index])  # an animated node must not have a matrix
            samplers.append({"input": time_accessor,
                             "output": add_vec4_accessor(doc, blob, quats),
                             "interpolation": "LINEAR"})
            channels_out.append({"sampler": len(samplers) - 1,
                                 "target": {"node": node_index, "path": "rotation"}})
    doc.setdefault("animations", []).append(
        {"name": name, "channels": channels_out, "samplers": samplers})

    blob.pad_end()
    first = (rig.document.get("buffers") or [{}])[0]
    buffer = {k: v for k, v in first.items() if k in ("name", "extras")}
    buffer["byteLength"] = blob.size
    doc["buffers"] = [buffer]
    return doc, blob


def write_animated_glb(rig: Rig, curves: Curves, out_path: str | os.PathLike, *,
                       match: RigMatch | None = None, plan: RigPlan | None = None, name_map=None,
                       name: str = "speech", rotations: bool = True) -> Path:
    """Write `animate_rig(rig, curves)` to `out_path` atomically; return the path written.

    The file appears complete or not at all (`voxface.core.fileio.atomic_path`: a temporary
    file in the same directory, renamed over `out_path`). The rig's own file is never written.

    Raises:
        InputError: `out_path` is the rig's file or ends in .gltf (the output is always GLB),
            or see `animate_rig`.
    """
    out_path = Path(out_path)
    if out_path.suffix.lower() == ".gltf":
        raise InputError("the animated rig is always written as binary GLB; use a .glb name",
                         path=out_path)
    if out_path.exists() and os.path.samefile(out_path, rig.path):
        raise InputError("refusing to overwrite the input rig; choose another output path",
                         path=out_path)
    directory = out_path.parent
    if not directory.is_dir():
        raise InputError(f"output directory {str(directory)!r} does not exist", path=out_path)
    doc, blob = _animated(rig, curves, match=match, plan=plan, name_map=name_map, name=name,
                          rotations=rotations)
    with atomic_path(out_path) as tmp, open(tmp, "wb") as f:
        # Streamed part by part: the same bytes as animate_rig, without joining them.
        f.write(glb_head(doc, blob.size))
        blob.write_to(f)
    return out_path
