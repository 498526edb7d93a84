"""The one table of output formats. The CLI's `--format` choices come from here.

Each exporter writes one file from an `Animation` (the pipeline's result) to a path it is given;
the CLI hands it a temporary path and renames all outputs only after every exporter succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from voxface.core.animation import Animation


@dataclass(frozen=True)
class Exporter:
    name: str
    suffix: str  # appended to the audio stem: OUTDIR/<stem><suffix>
    write: Callable[[Animation, Path], None]
    description: str
    # False: written only when asked for by name in --format (niche formats would clutter
    # every output folder otherwise).
    default: bool = True
    # True: the exporter reads `anim.rig`, so the CLI loads (and checks) the rig first.
    needs_rig: bool = False
    # Called before the pipeline runs, so a missing optional dependency fails fast (it raises
    # MissingDependencyError) instead of after the alignment.
    check: Callable[[], None] | None = None


def _glb(anim: Animation, path: Path) -> None:
    from voxface.rigs.gltf_rig import write_animated_glb

    write_animated_glb(anim.rig, anim.curves, path, name=anim.audio.stem,
                       name_map=getattr(anim, "name_map", None))


def _json(anim: Animation, path: Path) -> None:
    from voxface.exporters.json_curves import write_json

    write_json(anim, path)


def _csv(anim: Animation, path: Path) -> None:
    from voxface.exporters.livelink import write_livelink_curves

    write_livelink_curves(anim.curves, path)


def _textgrid(anim: Animation, path: Path) -> None:
    from voxface.phonemes.textgrid import write_textgrid

    write_textgrid(anim.alignment, path)


def _blend(anim: Animation, path: Path) -> None:
    from voxface.exporters.blender import write_blend

    write_blend(anim, path)


def _check_blend() -> None:
    from voxface.exporters.blender import check_blender

    check_blender()


def _rhubarb_json(anim: Animation, path: Path) -> None:
    from voxface.exporters.rhubarb import write_rhubarb_json

    write_rhubarb_json(anim, path)


def _rhubarb_tsv(anim: Animation, path: Path) -> None:
    from voxface.exporters.rhubarb import write_rhubarb_tsv

    write_rhubarb_tsv(anim, path)


EXPORTERS: dict[str, Exporter] = {
    e.name: e
    for e in (
        Exporter("glb", ".glb", _glb, "the rig with a morph-weight animation (glTF 2.0 binary)",
                 needs_rig=True),
        Exporter("json", ".json", _json, "ARKit curves, phones and words (schema in README)"),
        Exporter("csv", ".csv", _csv, "Live Link Face take CSV (61 columns)"),
        Exporter("textgrid", ".TextGrid", _textgrid, "the alignment: words and phones tiers"),
        Exporter("rhubarb-json", ".rhubarb.json", _rhubarb_json,
                 "Rhubarb Lip Sync mouth cues A-H, X (its JSON layout)", default=False),
        Exporter("rhubarb-tsv", ".rhubarb.tsv", _rhubarb_tsv,
                 "Rhubarb Lip Sync mouth cues A-H, X (its TSV layout)", default=False),
        # Not a default: it needs Blender's bpy in its own interpreter (docs/blender.md).
        Exporter("blend", ".blend", _blend, "a Blender scene: the rig, a shape-key action and "
                 "the audio strip (needs bpy, see docs/blender.md)", default=False,
                 needs_rig=True, check=_check_blend),
    )
}


def needs_rig(formats) -> bool:
    """Whether any of these exporter names reads `anim.rig` (so the rig must be loaded)."""
    return any(EXPORTERS[f].needs_rig for f in formats)


def check_formats(formats) -> None:
    """Run each chosen exporter's fail-fast check (a missing optional dependency raises
    MissingDependencyError before any work is done)."""
    for f in formats:
        if EXPORTERS[f].check is not None:
            EXPORTERS[f].check()
