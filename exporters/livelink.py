"""Live Link Face take CSV: read, write, and convert to and from `Curves`.

Layout (as the iPhone app writes it): `Timecode,BlendShapeCount,` then the 52 ARKit names
capitalised in the app's own order (JawRight before JawLeft), then nine head/eye rotation
columns; BlendShapeCount is 61. Timecode is `HH:MM:SS:FF.mmm` (FF = frame within the second,
mmm = sub-frame in thousandths). Columns are always mapped by name, never by position.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxface.core.curves import Curves
from voxface.core.names import ARKIT_52, LIVE_LINK_BLENDSHAPES, LIVE_LINK_EXTRAS, canonical_arkit
from voxface.core.errors import InputError

LIVE_LINK_COLUMNS: tuple[str, ...] = LIVE_LINK_BLENDSHAPES + LIVE_LINK_EXTRAS
_TIMECODE = re.compile(r"^(\d+):(\d{2}):(\d{2})[:;](\d+)(?:\.(\d+))?$")


@dataclass(frozen=True)
class LiveLinkTake:
    """One take as stored in the CSV.

    Attributes:
        timecodes: one `HH:MM:SS:FF.mmm` string per row, kept verbatim.
        columns: value column names as in the header (61 for the app's own files).
        values: float64 [T, len(columns)]; blendshapes 0..1, rotations in the app's units.
        count_header: the second header cell ('BlendShapeCount' or 'BlendshapeCount').
    """

    timecodes: tuple[str, ...]
    columns: tuple[str, ...]
    values: np.ndarray
    count_header: str = "BlendShapeCount"


def parse_timecode(tc: str, frame_rate: float) -> float:
    """Seconds of `HH:MM:SS:FF.mmm` at a timecode frame rate (frames per second)."""
    m = _TIMECODE.match(tc.strip())
    if not m:
        raise ValueError(f"bad timecode {tc!r}, expected HH:MM:SS:FF.mmm")
    h, mi, s, ff = (int(g) for g in m.groups()[:4])
    sub = float("0." + m.group(5)) if m.group(5) else 0.0
    return h * 3600 + mi * 60 + s + (ff + sub) / frame_rate


def format_timecode(t: float, fps: float) -> str:
    """`HH:MM:SS:FF.mmm` for time `t` seconds, frames counted at round(fps) per second."""
    nominal = max(1, int(round(fps)))
    # Work in integer thousandths of a frame so that i / fps lands exactly on frame i.
    total = int(round(t * nominal * 1000))
    sub = total % 1000
    frames = total // 1000
    ff = frames % nominal
    secs = frames // nominal
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}:{ff:02d}.{sub:03d}"


def read_livelink(path: str | Path) -> LiveLinkTake:
    """Read a Live Link Face CSV. Raises InputError naming the file on malformed content."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("no such file", path=p) from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise InputError(f"not a text CSV file ({type(exc).__name__})", path=p) from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError("empty CSV, expected a Live Link Face header", path=p)
    header = [h.strip() for h in lines[0].split(",")]
    if len(header) < 3 or header[0].lower() != "timecode" or header[1].lower() != "blendshapecount":
        raise InputError("not a Live Link Face CSV: header must start with "
                         "'Timecode,BlendShapeCount'", path=p)
    columns = tuple(header[2:])
    rows = []
    timecodes = []
    for lineno, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if len(cells) != len(header):
            raise InputError(f"line {lineno} has {len(cells)} cells, header has {len(header)}",
                             path=p)
        if not _TIMECODE.match(cells[0].strip()):
            raise InputError(f"line {lineno}: bad timecode {cells[0]!r}, expected "
                             "HH:MM:SS:FF.mmm", path=p)
        try:
            rows.append([float(c) for c in cells[2:]])
        except ValueError:
            raise InputError(f"line {lineno}: non-numeric value", path=p) from None
        timecodes.append(cells[0].strip())
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(columns))
    if not np.all(np.isfinite(values)):
        raise InputError("CSV holds NaN or infinite values", path=p)
    return LiveLinkTake(tuple(timecodes), columns, values, header[1])


_ROWS_PER_CHUNK = 4096  # rows formatted and written at a time


def _write_rows(path: str | Path, header: str, n_rows: int, rows) -> None:
    """Write `header` and then, chunk by chunk, the lines of `rows(start, stop)` (LF ends)."""
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(header + "\n")
        for start in range(0, n_rows, _ROWS_PER_CHUNK):
            out.write("".join(line + "\n" for line in rows(start, min(start + _ROWS_PER_CHUNK,
                                                                      n_rows))))


_NEGATIVE_ZERO = "-" + "%.10f" % 0.0


def _format_rows(timecodes, values: np.ndarray, n_cols: int) -> list[str]:
    """One CSV line per row: timecode, column count, the values with 10 decimals. A value that
    rounds to zero is written 0.0000000000, never -0.0000000000 (-0.0, or a tiny negative)."""
    fmt = ",".join(["%.10f"] * values.shape[1])
    return [f"{tc},{n_cols}," + (fmt % tuple(row)).replace(_NEGATIVE_ZERO, _NEGATIVE_ZERO[1:])
            for tc, row in zip(timecodes, values.tolist())]


def write_livelink(take: LiveLinkTake, path: str | Path) -> None:
    """Write a take in the app's CSV layout (values with 10 decimals, LF line ends)."""
    n_cols = len(take.columns)
    header = ",".join(("Timecode", take.count_header)
                      + tuple(take.columns))
    _write_rows(path, header, len(take.timecodes), lambda a, b: _format_rows(
        take.timecodes[a:b], np.asarray(take.values[a:b], np.float64).reshape(b - a, n_cols),
        n_cols))


def _column_sources(curves: Curves) -> list[tuple[np.ndarray, int] | None]:
    """For each of the 61 LIVE_LINK_COLUMNS: (array [T, K], column) holding it, or None (0)."""
    index = {}
    for j, name in enumerate(curves.names):
        arkit = canonical_arkit(name)
        if arkit is not None:
            index[arkit.lower()] = j
        elif name in LIVE_LINK_EXTRAS:
            index[name.lower()] = j
    sources: list[tuple[np.ndarray, int] | None] = []
    # Head / eye rotations (radians) travel as a separate Curves in extras['rotations'].
    rotations = curves.extras.get("rotations") if isinstance(curves.extras, dict) else None
    if not (isinstance(rotations, Curves) and rotations.n_frames == curves.n_frames):
        rotations = None
    for col in LIVE_LINK_COLUMNS:
        j = index.get(col.lower())
        if j is not None:
            sources.append((curves.values, j))
        elif rotations is not None and col in rotations.names:
            sources.append((rotations.values, rotations.names.index(col)))
        else:
            sources.append(None)
    return sources


def _take_values(sources, start: int, stop: int) -> np.ndarray:
    values = np.zeros((stop - start, len(sources)), np.float64)
    for k, src in enumerate(sources):
        if src is not None:
            values[:, k] = src[0][start:stop, src[1]]
    return values


def curves_to_take(curves: Curves) -> LiveLinkTake:
    """Map curves (any names; ARKit ones matched case-insensitively) to the 61 columns.
    Columns with no curve are written as 0."""
    values = _take_values(_column_sources(curves), 0, curves.n_frames)
    timecodes = tuple(format_timecode(i / curves.fps, curves.fps) for i in range(curves.n_frames))
    return LiveLinkTake(timecodes, LIVE_LINK_COLUMNS, values)


def write_livelink_curves(curves: Curves, path: str | Path) -> None:
    """Write `curves` as a Live Link Face CSV at the curves' own fps: the same bytes as
    `write_livelink(curves_to_take(curves), path)`, built a chunk of rows at a time (an hour
    at 60 fps is 216,000 rows)."""
    sources = _column_sources(curves)
    n_cols = len(LIVE_LINK_COLUMNS)
    header = ",".join(("Timecode", "BlendShapeCount") + LIVE_LINK_COLUMNS)

    def rows(a: int, b: int) -> list[str]:
        timecodes = [format_timecode(i / curves.fps, curves.fps) for i in range(a, b)]
        return _format_rows(timecodes, _take_values(sources, a, b), n_cols)

    _write_rows(path, header, curves.n_frames, rows)


def take_to_curves(take: LiveLinkTake, *, timecode_rate: float | None = None) -> Curves:
    """ARKit curves (52 columns, ARKit order) from a take, at the take's own frame rate.

    The frame rate is the median spacing of the timecodes; `timecode_rate` is the rate the
    FF field counts in (inferred: 60 if any FF >= 30, else 30).
    """
    if len(take.timecodes) < 2:
        raise ValueError("a take needs at least two rows to have a frame rate")
    if timecode_rate is None:
        max_ff = max(int(_TIMECODE.match(tc).group(4)) for tc in take.timecodes)
        timecode_rate = 60.0 if max_ff >= 30 else 30.0
    t = np.array([parse_timecode(tc, timecode_rate) for tc in take.timecodes])
    step = float(np.median(np.diff(t)))
    fps = round(1.0 / step, 3) if step > 0 else timecode_rate
    lower = {c.lower(): k for k, c in enumerate(take.columns)}
    values = np.zeros((len(take.timecodes), 52), np.float32)
    for j, name in enumerate(ARKIT_52):
        k = lower.get(name.lower())
        if k is not None:
            values[:, j] = take.values[:, k]
    duration = (len(take.timecodes) - 1) / fps
    if not math.isfinite(duration):
        raise ValueError("bad timecodes")
    return Curves(fps=fps, names=ARKIT_52, values=values, duration=duration)
