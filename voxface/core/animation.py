"""The result of one run: what every exporter reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voxface.core.alignment import Alignment
from voxface.core.audio import Audio
from voxface.core.curves import Curves


@dataclass
class Animation:
    """Everything the exporters need.

    Attributes:
        audio: the analysed audio (16 kHz mono) with the original file's path.
        alignment: word and phone timings in seconds.
        curves: the 52 ARKit curves at the output fps.
        rig: a loaded `voxface.rigs.gltf_rig.Rig`, or None when no rig output is wanted.
        plan: how the curves drive `rig` (`voxface.rigs.retarget.RigPlan`), made once by the
            pipeline with the rig; every rig output (GLB, .blend, preview) uses it.
        visemes: the 15 Oculus viseme curves from the same timeline, when computed.
        timings: seconds spent per stage.
        name_map: rig target name -> (ARKit name, scale) (`--map`), or None.
        warnings: one-line notes about the rig (e.g. 'rig lacks 12 ARKit shapes: ...').
        input_warnings: one-line notes about suspicious input (silence, very quiet, clipped,
            a transcript that does not fit the speech; voxface.engine.checks).
    """

    audio: Audio
    alignment: Alignment
    curves: Curves
    rig: Any = None
    plan: Any = None
    visemes: Curves | None = None
    timings: dict[str, float] = field(default_factory=dict)
    name_map: Any = None
    warnings: list[str] = field(default_factory=list)
    input_warnings: list[str] = field(default_factory=list)
