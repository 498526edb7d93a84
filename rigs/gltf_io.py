"""glTF 2.0 binary I/O, in one place: the GLB container, accessors, constants.

Every reader and writer of glTF bytes in voxface goes through here: the rig loader and the
animated-GLB writer (`gltf_rig`), the default head's writer (`fitme_gltf`), the renderers
(`render`, `preview`), the eye check of `head_pose`, the .blend export and the tests' rig
factory. Documents are the file's own JSON (plain dicts), buffers plain bytes; no pygltflib.

Reading: `parse_glb` (strict, one-line InputError naming the file) splits a GLB into its JSON
document and BIN chunk; `read_glb` does it for a file; `read_accessor` decodes any accessor
(byteStride, normalized integers, sparse substitution) to float64 / int64 rows.
Writing: `BinaryBuilder` accumulates one 4-byte aligned buffer, `add_view` /
`add_float_accessor` / `add_vec4_accessor` append to a document, `glb_head` / `glb_bytes`
serialise the container.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Sequence

import numpy as np

from voxface.core.errors import InputError

GLB_MAGIC = b"glTF"
GLB_VERSION = 2
CHUNK_JSON = 0x4E4F534A  # 'JSON'
CHUNK_BIN = 0x004E4942   # 'BIN\0'

# accessor.componentType
BYTE, UNSIGNED_BYTE, SHORT, UNSIGNED_SHORT, UNSIGNED_INT, FLOAT = 5120, 5121, 5122, 5123, 5125, \
    5126
# componentType -> little-endian numpy dtype
COMPONENT_DTYPES: dict[int, np.dtype] = {
    BYTE: np.dtype("<i1"), UNSIGNED_BYTE: np.dtype("<u1"), SHORT: np.dtype("<i2"),
    UNSIGNED_SHORT: np.dtype("<u2"), UNSIGNED_INT: np.dtype("<u4"), FLOAT: np.dtype("<f4")}
# accessor.type -> number of components
TYPE_WIDTHS: dict[str, int] = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4,
                               "MAT3": 9, "MAT4": 16}
# bufferView.target
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


# ----------------------------------------------------------------------------------------------
# The GLB container


def parse_glb(data: bytes, path: object = None) -> tuple[dict, bytes | None]:
    """Split GLB bytes into (JSON document, BIN chunk or None).

    Raises:
        InputError (naming `path`): shorter than the header, glTF 1.0 (KHR_binary_glTF) or
            another container version, truncated, first chunk not JSON, JSON that does not
            parse or has no 'asset' object.
    """
    if len(data) < 12:
        raise InputError(f"truncated GLB ({len(data)} bytes, shorter than the 12-byte header)",
                         path=path)
    _, version, length = struct.unpack_from("<4sII", data, 0)
    if version == 1:
        raise InputError("is a glTF 1.0 binary (KHR_binary_glTF); voxface reads glTF 2.0 only, "
                         "convert it first (e.g. by importing and re-exporting in Blender)",
                         path=path)
    if version != GLB_VERSION:
        raise InputError(f"unsupported GLB container version {version} (expected 2)", path=path)
    if length > len(data):
        raise InputError(f"truncated GLB (header says {length} bytes, file has {len(data)})",
                         path=path)
    offset = 12
    document = None
    bin_chunk = None
    while offset + 8 <= length:
        chunk_len, chunk_type = struct.unpack_from("<II", data, offset)
        start, end = offset + 8, offset + 8 + chunk_len
        if end > length:
            raise InputError(f"truncated GLB (chunk at byte {offset} runs past the end)",
                             path=path)
        if document is None:
            if chunk_type != CHUNK_JSON:
                raise InputError("malformed GLB (first chunk is not JSON)", path=path)
            try:
                # Spec pads the JSON chunk with spaces; some writers use NULs.
                text = data[start:end].rstrip(b" \x00").decode("utf-8-sig")
                document = json.loads(text)
            except (UnicodeDecodeError, ValueError) as exc:
                raise InputError(f"malformed GLB (JSON chunk does not parse: {exc})",
                                 path=path) from None
        elif chunk_type == CHUNK_BIN and bin_chunk is None:
            bin_chunk = data[start:end]
        offset = end
    if document is None:
        raise InputError("truncated GLB (no JSON chunk)", path=path)
    if not isinstance(document, dict) or not isinstance(document.get("asset"), dict):
        raise InputError("not a glTF file (GLB JSON without an 'asset' object)", path=path)
    return document, bin_chunk


def read_glb(path: str | os.PathLike) -> tuple[dict, bytes]:
    """A GLB file's (JSON document, BIN chunk; b'' when it has none). Raises InputError naming
    the file when it cannot be read or is not a GLB 2.0 container."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc})", path=path) from None
    if data[:4] != GLB_MAGIC:
        raise InputError("is not a GLB file (no glTF binary header)", path=path)
    document, binary = parse_glb(data, path)
    return document, binary if binary is not None else b""


def glb_head(doc: dict, binary_size: int) -> bytes:
    """A GLB 2.0 container up to its BIN chunk's data: header, space-padded JSON chunk (compact
    UTF-8 JSON), BIN chunk header (binary_size must be a multiple of 4)."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    json_chunk = text.encode("utf-8")
    json_chunk += b" " * (-len(json_chunk) % 4)
    total = 12 + 8 + len(json_chunk) + 8 + binary_size
    return b"".join((
        struct.pack("<4sII", GLB_MAGIC, GLB_VERSION, total),
        struct.pack("<II", len(json_chunk), CHUNK_JSON), json_chunk,
        struct.pack("<II", binary_size, CHUNK_BIN),
    ))


def glb_bytes(doc: dict, binary: bytes) -> bytes:
    """Serialise a GLB 2.0 container: header, space-padded JSON chunk, zero-padded BIN chunk."""
    binary = bytes(binary) + b"\x00" * (-len(binary) % 4)
    return glb_head(doc, len(binary)) + binary


# ----------------------------------------------------------------------------------------------
# Reading accessors


def _view_rows(document: dict, buffers: Sequence[bytes], view_index: int, offset: int,
               count: int, width: int, dtype: np.dtype) -> np.ndarray:
    """`count` rows of `width` elements of `dtype` from a bufferView (its byteStride honoured),
    as a read-only view of the buffer."""
    view = document["bufferViews"][view_index]
    stride = int(view.get("byteStride") or dtype.itemsize * width)
    return np.ndarray((count, width), dtype, buffer=buffers[int(view.get("buffer", 0))],
                      offset=int(view.get("byteOffset", 0)) + offset,
                      strides=(stride, dtype.itemsize))


def read_accessor(document: dict, buffers: Sequence[bytes], index: int) -> np.ndarray:
    """Accessor `index` of a document as [count, components] rows.

    Floats and normalized integers come back as float64 (normalized: value / max of the type,
    signed ones clamped at -1, as the spec says), other integers as int64. A sparse accessor is
    its bufferView's values (zeros without one) with the sparse rows substituted.

    Args:
        document: the glTF JSON document (dict).
        buffers: the bytes of each `buffers[i]` (a GLB's BIN chunk as buffer 0).
        index: the accessor index.
    Raises:
        KeyError, IndexError, ValueError, TypeError: the accessor or a view it uses is
            malformed or runs past its buffer (callers turn these into their own errors).
    """
    acc = document["accessors"][index]
    count, width = int(acc["count"]), TYPE_WIDTHS[acc["type"]]
    dtype = COMPONENT_DTYPES[acc["componentType"]]
    if acc.get("bufferView") is not None:
        out = np.array(_view_rows(document, buffers, acc["bufferView"],
                                  int(acc.get("byteOffset", 0)), count, width, dtype))
    else:
        out = np.zeros((count, width), dtype)
    sparse = acc.get("sparse")
    if sparse and int(sparse["count"]):
        n = int(sparse["count"])
        indices = sparse["indices"]
        rows = _view_rows(document, buffers, indices["bufferView"],
                          int(indices.get("byteOffset", 0)), n, 1,
                          COMPONENT_DTYPES[indices["componentType"]])[:, 0]
        values = sparse["values"]
        out[rows.astype(np.int64)] = _view_rows(document, buffers, values["bufferView"],
                                                int(values.get("byteOffset", 0)), n, width,
                                                dtype)
    if acc.get("normalized") and dtype.kind in "iu":
        return np.maximum(out.astype(np.float64) / np.iinfo(dtype).max, -1.0)
    return out.astype(np.float64) if dtype.kind == "f" else out.astype(np.int64)


# ----------------------------------------------------------------------------------------------
# Writing


class BinaryBuilder:
    """Accumulates one output buffer; every view starts 4-byte aligned.

    Parts are kept as given (bytes, or contiguous numpy arrays: no copy), and written out
    one after another (`write_to`), so a long animation is never joined into one big string.
    """

    def __init__(self) -> None:
        self.parts: list = []
        self.size = 0

    def add(self, data) -> int:
        """Append `data` (after padding to a 4-byte boundary); return its byte offset."""
        self._pad()
        offset = self.size
        self.parts.append(data)
        self.size += memoryview(data).nbytes
        return offset

    def _pad(self) -> None:
        pad = -self.size % 4
        if pad:
            self.parts.append(b"\x00" * pad)
            self.size += pad

    def pad_end(self) -> None:
        """Zero-pad the buffer to a multiple of 4 bytes (as a GLB BIN chunk must be)."""
        self._pad()

    def finish(self) -> bytes:
        """The whole buffer, end-padded."""
        self._pad()
        return b"".join(memoryview(p).cast("B") for p in self.parts)

    def write_to(self, f) -> None:
        """Write the end-padded buffer to a binary file object, part by part."""
        self._pad()
        for part in self.parts:
            f.write(memoryview(part).cast("B"))


def add_view(doc: dict, blob: BinaryBuilder, data, target: int | None = None) -> int:
    """Append `data` as a new bufferView of buffer 0 (optionally with a `target`); return the
    view index."""
    views = doc.setdefault("bufferViews", [])
    view = {"buffer": 0, "byteOffset": blob.add(data), "byteLength": memoryview(data).nbytes}
    if target is not None:
        view["target"] = target
    views.append(view)
    return len(views) - 1


def add_vec4_accessor(doc: dict, blob: BinaryBuilder, values: np.ndarray) -> int:
    """Append a float32 VEC4 accessor over `values` [N, 4] (with min / max); return its index."""
    data = np.ascontiguousarray(values, dtype="<f4").reshape(-1, 4)
    view = add_view(doc, blob, data)
    accessors = doc.setdefault("accessors", [])
    accessors.append({"bufferView": view, "componentType": FLOAT, "count": len(data),
                      "type": "VEC4", "min": [float(x) for x in data.min(axis=0)],
                      "max": [float(x) for x in data.max(axis=0)]})
    return len(accessors) - 1


def add_float_accessor(doc: dict, blob: BinaryBuilder, values: np.ndarray) -> int:
    """Append a float32 SCALAR accessor over `values` (any shape, row-major; with min / max);
    return its index."""
    flat = np.ascontiguousarray(values, dtype="<f4").reshape(-1)
    view = add_view(doc, blob, flat)
    accessors = doc.setdefault("accessors", [])
    accessors.append({"bufferView": view, "componentType": FLOAT, "count": int(flat.size),
                      "type": "SCALAR", "min": [float(flat.min())], "max": [float(flat.max())]})
    return len(accessors) - 1
