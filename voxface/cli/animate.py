"""`animate AUDIO ...`: one audio file -> curves -> every chosen output, written all or nothing."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from voxface.cli.common import EXIT_OK, Parser, progress_printer, warn
from voxface.cli.options import add_animation_options, options_from_args
from voxface.core.alignment import Alignment
from voxface.core.errors import InputError
from voxface.core.fileio import ensure_output_dir, resolve_transcript
from voxface.exporters.preview import PreviewOptions
from voxface.exporters.registry import (
    EXPORTERS,
    check_formats,
    format_names,
    write_outputs,
)
from voxface.live.udp import parse_address, play_curves
from voxface.options import AnimationOptions
from voxface.pipeline import animate

_DESCRIPTION = ("Speech audio (+ transcript) -> ARKit blendshape curves -> an animated glTF "
                "head. Writes OUTDIR/<audio stem>.{" + ",".join(
                    EXPORTERS[f].suffix.lstrip(".") for f in format_names()) + "}.")
_SOURCES = ("Transcript sources, first found wins: --text, --transcript, --alignment, then a "
            "sidecar <audio stem>.txt or .lab next to the audio; with none, the neural engine "
            "animates from the audio alone (or, without 'voxface[neural]', phones are "
            "recognised without a transcript, lower quality).")


def build_parser(subcommands: dict[str, tuple[str, str]] | None = None
                 ) -> argparse.ArgumentParser:
    """The parser of `animate AUDIO`; `subcommands` (name -> (usage, one-line summary)) are
    listed in its help."""
    epilog = textwrap.fill(_SOURCES, 92)
    if subcommands:
        lines = ["subcommands (`animate SUBCOMMAND --help` for each):"]
        for name, (usage, summary) in subcommands.items():
            lines += textwrap.wrap(f"animate {name} {usage}", 92, initial_indent="  ",
                                   subsequent_indent="      ")
            lines += textwrap.wrap(summary, 92, initial_indent="      ",
                                   subsequent_indent="      ")
        epilog = "\n".join(lines) + "\n\n" + epilog
    p = Parser(prog="animate", description=textwrap.fill(_DESCRIPTION, 92), epilog=epilog,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("audio", help="speech audio: wav, flac, ogg/opus or mp3, any rate/channels")
    p.add_argument("-o", "--outdir", default=".", help="output directory (default: .)")
    add_animation_options(p)
    p.add_argument("--livelink", metavar="HOST:PORT",
                   help="after writing the outputs, play the curves in real time as Live Link "
                        "Face UDP packets (Unreal's LiveLinkFace source listens on 11111; "
                        "docs/live.md)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return p


def run(argv: list[str], subcommands: dict[str, tuple[str, str]] | None = None) -> int:
    return run_parsed(build_parser(subcommands).parse_args(argv))


def run_parsed(args: argparse.Namespace, alignment: Alignment | None = None) -> int:
    """`animate AUDIO ...` on parsed arguments; `alignment` (exact phone times, from
    `animate say`) replaces aligning."""
    audio = Path(args.audio)
    if not audio.exists():
        raise InputError("no such file", path=audio)
    if not audio.is_file():
        raise InputError("is not a file, expected speech audio", path=audio)
    options = options_from_args(args)
    # Checked before the pipeline runs; None without --livelink.
    livelink = parse_address(args.livelink) if getattr(args, "livelink", None) else None
    transcript, transcript_path = resolve_transcript(audio, text=options.text,
                                                     transcript=options.transcript,
                                                     alignment=options.alignment)

    outdir = ensure_output_dir(args.outdir)
    outputs = {f: outdir / f"{audio.stem}{EXPORTERS[f].suffix}" for f in options.formats}
    # After -o is created: --preview may name a file inside it (docs/preview.md).
    preview_options = _check_preview(options)
    inputs = [audio, options.rig, transcript_path, options.alignment]
    resolved_inputs = {p.resolve() for p in inputs if p is not None}
    for out in outputs.values():
        if out.resolve() in resolved_inputs:
            raise InputError("output would overwrite an input; choose another -o OUTDIR",
                             path=out)
    preview = options.preview
    if preview is not None and preview.resolve() in (
            resolved_inputs | {o.resolve() for o in outputs.values()}):
        raise InputError("--preview would overwrite an input or another output", path=preview)

    report = progress_printer(args.quiet)
    anim = animate(audio, transcript=transcript, alignment_path=options.alignment,
                   rig_path=options.rig if options.needs_rig else None, progress=report,
                   name_map=options.name_map, alignment=alignment,
                   **options.pipeline_kwargs())
    for w in (*anim.alignment.warnings, *anim.input_warnings, *anim.warnings):
        warn(w)
    if preview is not None:
        outputs["preview"] = preview
    write_outputs(anim, outputs, report, options={"preview": preview_options})
    if livelink is not None:
        sent = play_curves(anim.curves, *livelink)
        report("livelink", anim.curves.n_frames / anim.curves.fps,
               f"{sent} Live Link Face packets to {livelink[0]}:{livelink[1]}")
    return EXIT_OK


def _check_preview(options: AnimationOptions) -> PreviewOptions | None:
    """The renderer's options for --preview (None without it); checked now (the exporter
    table's preview check) so a missing renderer or a bad path fails before the pipeline runs."""
    preview = options.preview
    if preview is None:
        return None
    preview_options = PreviewOptions(engine=options.preview_engine, audio=options.preview_audio)
    if options.preview_size is not None:
        preview_options = PreviewOptions(engine=options.preview_engine,
                                         audio=options.preview_audio,
                                         size=options.preview_size, tile=options.preview_size)
    check_formats(["preview"], {"preview": preview}, {"preview": preview_options})
    return preview_options
