"""Read blendshape takes for the add-on: voxface JSON curves and Live Link Face CSV.

This module runs inside Blender's own Python, where voxface is not installed, so it reads both
formats itself with the standard library and numpy (which every Blender ships). It mirrors
`voxface.exporters.json_curves` and `voxface.exporters.livelink`; the schemas are in the
project README. No bpy here, so the readers can be used (and tested) outside Blender.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_TIMECODE = re.compile(r"^(\d+):(\d{2}):(\d{2})[:;](\d+)(?:\.(\d+))?$")


class TakeError(ValueError):
    """A file that is not a readable take; the message names the file and the problem."""


@dataclass(frozen=True)
class Take:
    """Blendshape weights over time, as read from one file.

    Attributes:
        names: one name per column, as in the file (ARKit camelCase for voxface JSON,
            capitalised for Live Link CSV).
        times: float64 [T], seconds from the first frame (0 for the first row), increasing.
        values: float32 [T, len(names)], weights (0..1 for blendshapes).
        fps: the nominal frame rate in frames per second.
        duration: seconds the take covers (the audio's length for voxface JSON).
        audio: the audio file name the take was made from, or None.
    """

    names: tuple[str, ...]
    times: np.ndarray
    values: np.ndarray
    fps: float
    duration: float
    audio: str | None = None


def read_take(path: str | Path) -> Take:
    """A take from `.json` (voxface curves) or `.csv` (Live Link Face), chosen by content."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TakeError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TakeError(f"{p}: cannot read as text ({type(exc).__name__})") from None
    if text.lstrip().startswith("{"):
        return parse_curves_json(text, p)
    return parse_livelink_csv(text, p)


def parse_curves_json(text: str, where: object = "JSON") -> Take:
    """voxface curves JSON: frame i at i / fps seconds; `values` is [T][len(names)]."""
    try:
        doc = json.loads(text)
        fps = float(doc["fps"])
        names = tuple(str(n) for n in doc["names"])
        values = np.asarray(doc["values"], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as exc:
        raise TakeError(f"{where}: not voxface curves JSON ({type(exc).__name__}: {exc}); "
                        "expected keys fps, names, values") from None
    if values.ndim != 2 or values.shape[1] != len(names) or len(values) == 0:
        raise TakeError(f"{where}: values shape {values.shape} does not match "
                        f"{len(names)} names")
    if not (fps > 0 and np.all(np.isfinite(values))):
        raise TakeError(f"{where}: fps must be positive and values finite")
    times = np.arange(len(values), dtype=np.float64) / fps
    duration = float(doc.get("duration", times[-1]))
    return Take(names, times, values, fps, duration, doc.get("audio"))


def parse_livelink_csv(text: str, where: object = "CSV") -> Take:
    """Live Link Face take CSV: `Timecode,BlendShapeCount,<names...>`, one row per frame.

    Rows are placed at their own timecodes (relative to the first), so dropped frames keep
    their timing. The timecode's FF field counts at 60 fps if any FF >= 30, else at 30 fps;
    the nominal fps is the median row spacing.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise TakeError(f"{where}: empty file, expected JSON curves or a Live Link Face CSV")
    header = [h.strip() for h in lines[0].split(",")]
    if len(header) < 3 or header[0].lower() != "timecode" or \
            header[1].lower() != "blendshapecount":
        raise TakeError(f"{where}: neither voxface JSON nor a Live Link Face CSV (header must "
                        "start with 'Timecode,BlendShapeCount')")
    names = tuple(header[2:])
    stamps, rows = [], []
    for lineno, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        m = _TIMECODE.match(cells[0].strip())
        if len(cells) != len(header) or not m:
            raise TakeError(f"{where}: line {lineno}: expected a HH:MM:SS:FF.mmm timecode and "
                            f"{len(header) - 1} more cells")
        try:
            rows.append([float(c) for c in cells[2:]])
        except ValueError:
            raise TakeError(f"{where}: line {lineno}: non-numeric value") from None
        h, mi, s, ff = (int(g) for g in m.groups()[:4])
        stamps.append((h * 3600 + mi * 60 + s, ff + (float("0." + m.group(5)) if m.group(5)
                                                     else 0.0)))
    if len(rows) < 2:
        raise TakeError(f"{where}: a take needs at least two rows to have a frame rate")
    rate = 60.0 if max(ff for _, ff in stamps) >= 30 else 30.0
    t = np.array([sec + ff / rate for sec, ff in stamps], dtype=np.float64)
    t -= t[0]
    step = float(np.median(np.diff(t)))
    if not (step > 0 and np.all(np.diff(t) > 0)):
        raise TakeError(f"{where}: timecodes do not increase")
    values = np.asarray(rows, dtype=np.float32)
    if not np.all(np.isfinite(values)):
        raise TakeError(f"{where}: NaN or infinite values")
    return Take(names, t, values, round(1.0 / step, 3), float(t[-1]))


def read_name_map(path: str | Path) -> dict[str, tuple[str, float]]:
    """A name map, the same file `animate --map` takes: a JSON object
    {shape key name: curve name | {"arkit": curve name, "scale": number}}.

    Returns {shape key name lower-cased: (curve name, scale)}. Shape keys not in the map are
    driven by the curve of their own name (both ignoring case).
    """
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise TakeError(f"{p}: no such name map file") from None
    except (OSError, ValueError) as exc:
        raise TakeError(f"{p}: name map is not JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise TakeError(f"{p}: name map must be a JSON object {{shape key: curve name}}")
    out = {}
    for target, value in doc.items():
        name, scale = value, 1.0
        if isinstance(value, dict):
            name, scale = value.get("arkit", value.get("name")), value.get("scale", 1.0)
        if not isinstance(name, str) or isinstance(scale, bool) or \
                not isinstance(scale, (int, float)) or not np.isfinite(scale):
            raise TakeError(f"{p}: name map entry {target!r}: expected a curve name or "
                            '{"arkit": name, "scale": number}')
        out[str(target).strip().lower()] = (name.strip(), float(scale))
    return out
