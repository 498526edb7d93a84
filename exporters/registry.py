"""The one table of outputs, and the one way to write them.

Every file a run writes is an entry of `EXPORTERS` (the protocol is `voxface.exporters.base`):
the CLI's `--format` choices are its listed entries, `--preview PATH` is its 'preview' entry,
and `animate` and `animate batch` write only through `write_outputs`, which runs the chosen
exporters on temporary paths and renames them all into place only when every one succeeded
(`voxface.core.fileio.write_all`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from voxface.core.animation import Animation
from voxface.core.fileio import write_all
from voxface.exporters import blender, json_curves, livelink, preview, rhubarb
from voxface.exporters.base import Exporter, Output, check_needs, rig_plan
from voxface.phonemes.textgrid import write_textgrid
from voxface.rigs.gltf_rig import write_animated_glb


def _glb(anim: Animation, path: Path, out: Output | None = None) -> None:
    write_animated_glb(anim.rig, anim.curves, path, name=anim.audio.stem, plan=rig_plan(anim))


def _json(anim: Animation, path: Path, out: Output | None = None) -> None:
    # options: {'source_audio': str} where the audio read is a copy (a Ray worker's).
    json_curves.write_json(anim, path, **(out.options or {} if out else {}))


def _csv(anim: Animation, path: Path, out: Output | None = None) -> None:
    livelink.write_livelink_curves(anim.curves, path)


def _textgrid(anim: Animation, path: Path, out: Output | None = None) -> None:
    write_textgrid(anim.alignment, path)


def _rhubarb_json(anim: Animation, path: Path, out: Output | None = None) -> None:
    rhubarb.write_rhubarb_json(anim, path)


def _rhubarb_tsv(anim: Animation, path: Path, out: Output | None = None) -> None:
    rhubarb.write_rhubarb_tsv(anim, path)


def _blend(anim: Animation, path: Path, out: Output | None = None) -> None:
    blender.write_blend(anim, path)


def _check_blend(path: Path | None, options: Any) -> None:
    blender.check_blender()


def _preview(anim: Animation, path: Path, out: Output | None = None) -> str:
    st = preview.write_preview(anim, path, out.options if out and out.options else
                               preview.PreviewOptions(), like=out.path if out else path)
    return (f"{st.frames} frames, {st.render_fps:.0f} fps rendered ({st.platform})"
            + (f"; audio: {st.audio}" if st.audio else ""))


def _check_preview(path: Path | None, options: Any) -> None:
    preview.check_preview(path, options or preview.PreviewOptions())


EXPORTERS: dict[str, Exporter] = {
    e.name: e
    for e in (
        Exporter("glb", ".glb", _glb, "the rig with a morph-weight animation (glTF 2.0 binary)",
                 needs=("rig",)),
        Exporter("json", ".json", _json, "ARKit curves, phones and words (schema in README)"),
        Exporter("csv", ".csv", _csv, "Live Link Face take CSV (61 columns)"),
        Exporter("textgrid", ".TextGrid", _textgrid, "the alignment: words and phones tiers",
                 needs=("alignment",)),
        Exporter("rhubarb-json", ".rhubarb.json", _rhubarb_json,
                 "Rhubarb Lip Sync mouth cues A-H, X (its JSON layout)", default=False,
                 needs=("alignment",)),
        Exporter("rhubarb-tsv", ".rhubarb.tsv", _rhubarb_tsv,
                 "Rhubarb Lip Sync mouth cues A-H, X (its TSV layout)", default=False,
                 needs=("alignment",)),
        # Not a default: it needs Blender's bpy in its own interpreter (docs/blender.md).
        Exporter("blend", ".blend", _blend, "a Blender scene: the rig, a shape-key action and "
                 "the audio strip (needs bpy, see docs/blender.md)", default=False,
                 needs=("rig",), check=_check_blend),
        # `--preview PATH` (docs/preview.md): an MP4 video or a PNG contact sheet by suffix.
        Exporter("preview", ".mp4", _preview, "a rendered preview video (.mp4) or contact "
                 "sheet (.png)", default=False, needs=("rig",), check=_check_preview,
                 listed=False, stage="preview"),
    )
}


def format_names() -> list[str]:
    """The `--format` choices, in table order."""
    return [name for name, e in EXPORTERS.items() if e.listed]


def needs_rig(formats: Iterable[str]) -> bool:
    """Whether any of these exporter names reads `anim.rig` (so the rig must be loaded)."""
    return any(EXPORTERS[f].needs_rig for f in formats)


def check_formats(formats: Iterable[str], paths: Mapping[str, Path] | None = None,
                  options: Mapping[str, Any] | None = None) -> None:
    """Run each chosen exporter's fail-fast check (a missing optional dependency raises
    MissingDependencyError, an unusable path InputError) before any work is done. `paths` and
    `options` ({exporter name: final path / options}) are passed on where known."""
    paths, options = paths or {}, options or {}
    for f in formats:
        if EXPORTERS[f].check is not None:
            EXPORTERS[f].check(paths.get(f), options.get(f))


def write_outputs(anim: Animation, outputs: Mapping[str, Path],
                  progress: Callable[[str, float, str], None] | None = None,
                  options: Mapping[str, Any] | None = None) -> None:
    """Write `anim` in every format of `outputs` ({exporter name: final path}), all or nothing.

    `options` gives an exporter its options ({exporter name: options}, e.g. {'preview':
    PreviewOptions}). An exporter with a `stage` (the preview) is reported to `progress` as
    that stage with its own seconds and detail; the rest as one 'export' stage listing their
    paths. Raises InputError before writing anything when `anim` lacks what an output needs.
    """
    options = options or {}
    jobs = [Output(fmt, Path(final), options.get(fmt)) for fmt, final in outputs.items()]
    for job in jobs:
        check_needs(EXPORTERS[job.format], anim)
    details: dict[str, tuple[float, str | None]] = {}

    def writer(job: Output) -> Callable[[Path], None]:
        def write(tmp: Path) -> None:
            t = time.perf_counter()
            detail = EXPORTERS[job.format].write(anim, tmp, job)
            details[job.format] = (time.perf_counter() - t, detail)
        return write

    t0 = time.perf_counter()
    write_all({job.path: writer(job) for job in jobs})
    if progress is None:
        return
    staged = [job for job in jobs if EXPORTERS[job.format].stage is not None]
    for job in staged:
        seconds, detail = details[job.format]
        progress(EXPORTERS[job.format].stage, seconds,
                 f"{job.path}: {detail}" if detail else str(job.path))
    rest = [job for job in jobs if job not in staged]
    progress("export", time.perf_counter() - t0 - sum(details[j.format][0] for j in staged),
             ", ".join(str(job.path) for job in rest))
