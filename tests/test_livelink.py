"""Live Link Face CSV: real iPhone captures round-trip byte for byte; our curves write and read
back within the CSV's 10-decimal precision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voxface.core.curves import Curves
from voxface.core.names import ARKIT_52, LIVE_LINK_BLENDSHAPES, LIVE_LINK_EXTRAS
from voxface.core.errors import InputError
from voxface.exporters.livelink import (
    format_timecode, parse_timecode, read_livelink, take_to_curves, write_livelink,
    write_livelink_curves)

LIVELINK = Path(__file__).resolve().parents[2] / "shared/assets/curves/livelink"
CAPTURES = sorted(LIVELINK.glob("alex_rom_*.csv"))


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_real_capture_round_trips_byte_for_byte(path: Path, tmp_path: Path) -> None:
    take = read_livelink(path)
    assert take.values.shape[1] == 61
    out = tmp_path / "rt.csv"
    write_livelink(take, out)
    assert out.read_bytes() == path.read_bytes()


def test_real_capture_to_curves_maps_by_name() -> None:
    take = read_livelink(CAPTURES[0])
    curves = take_to_curves(take)
    assert curves.names == ARKIT_52
    # JawRight precedes JawLeft in the file: the mapping must follow names, not positions.
    jaw_left_col = take.columns.index("JawLeft")
    np.testing.assert_allclose(curves.column("jawLeft"), take.values[:, jaw_left_col], atol=1e-7)
    assert 25 <= curves.fps <= 61


def test_curves_written_then_read_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 1, (121, 52)).astype(np.float32)
    curves = Curves(fps=60, names=ARKIT_52, values=values, duration=2.0)
    out = tmp_path / "take.csv"
    write_livelink_curves(curves, out)
    header = out.read_text().splitlines()[0].split(",")
    assert header[:2] == ["Timecode", "BlendShapeCount"]
    assert tuple(header[2:]) == LIVE_LINK_BLENDSHAPES + LIVE_LINK_EXTRAS
    assert out.read_text().splitlines()[1].split(",")[1] == "61"
    back = take_to_curves(read_livelink(out), timecode_rate=60)
    assert back.fps == 60 and back.n_frames == 121
    np.testing.assert_allclose(back.values, values, atol=1e-9 + 1e-7)


def test_timecodes() -> None:
    assert format_timecode(0.0, 60) == "00:00:00:00.000"
    assert format_timecode(61 / 60, 60) == "00:00:01:01.000"
    assert format_timecode(3725.5, 60) == "01:02:05:30.000"
    assert parse_timecode("13:13:04:31.652", 60) == pytest.approx(
        13 * 3600 + 13 * 60 + 4 + 31.652 / 60)


@pytest.mark.parametrize("content,problem", [
    ("", "empty"),
    ("a,b,c\n1,2,3\n", "header"),
    ("Timecode,BlendShapeCount,JawOpen\n00:00:00:00.000,1\n", "cells"),
    ("Timecode,BlendShapeCount,JawOpen\nnoon,1,0.5\n", "timecode"),
    ("Timecode,BlendShapeCount,JawOpen\n00:00:00:00.000,1,abc\n", "non-numeric"),
    ("Timecode,BlendShapeCount,JawOpen\n00:00:00:00.000,1,nan\n", "NaN"),
])
def test_malformed_csv_is_a_clear_input_error(tmp_path: Path, content: str, problem: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(InputError, match=problem) as info:
        read_livelink(p)
    assert "bad.csv" in str(info.value) and "\n" not in str(info.value)


def test_streamed_csv_is_the_takes_bytes(tmp_path: Path, monkeypatch) -> None:
    """write_livelink_curves formats a chunk of rows at a time (an hour at 60 fps is 216,000
    rows); the bytes are those of write_livelink(curves_to_take(...)) for any chunk size."""
    from voxface.engine.nonverbal import apply_nonverbal, nonverbal_motion
    from voxface.exporters import livelink
    from voxface.core.alignment import Alignment, Interval

    rng = np.random.default_rng(1)
    al = Alignment(words=(), phones=(Interval("AA1", 0.1, 0.4),), duration=1.0)
    curves = apply_nonverbal(Curves(fps=60.0, names=ARKIT_52,
                                    values=rng.random((61, 52), np.float32), duration=1.0),
                             nonverbal_motion(al, fps=60.0, n_frames=61))
    write_livelink(livelink.curves_to_take(curves), tmp_path / "whole.csv")
    expect = (tmp_path / "whole.csv").read_bytes()
    for chunk in (1, 7, 4096):
        monkeypatch.setattr(livelink, "_ROWS_PER_CHUNK", chunk)
        write_livelink_curves(curves, tmp_path / "c.csv")
        assert (tmp_path / "c.csv").read_bytes() == expect, chunk


def test_values_that_round_to_zero_are_written_0_not_minus_0(tmp_path: Path) -> None:
    """-0.0 and tiny negatives (e.g. -1e-13 from a smoothing filter) print as 0.0000000000."""
    values = np.zeros((3, len(ARKIT_52)), np.float32)
    values[0, 0] = -0.0
    values[1, 1] = -1e-13
    values[2, 2] = -0.25  # a real negative stays negative
    out = tmp_path / "zero.csv"
    write_livelink_curves(Curves(fps=60.0, names=ARKIT_52, values=values, duration=2 / 60), out)
    text = out.read_text()
    assert "-0.0000000000" not in text
    assert "-0.2500000000" in text
    rows = text.splitlines()[1:]
    assert len(rows) == 3 and all(",0.0000000000," in r for r in rows)
