"""`animate`: the command line. Parses options, checks inputs at the edge, runs the pipeline,
and writes every output atomically (all or nothing).

Exit codes: 0 success; 2 bad input or usage (one line on stderr naming the file and problem);
1 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from voxface.core.errors import InputError, VoxfaceError

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2
SUBCOMMANDS = ("rig", "batch", "view", "blender-addon", "eval", "train", "export-model")


class _Parser(argparse.ArgumentParser):
    """argparse that raises InputError (so usage errors are one line, exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{self.prog}: {message} (see --help)")


def _formats() -> dict:
    from voxface.exporters.registry import EXPORTERS

    return EXPORTERS


def _aligners() -> tuple[str, ...]:
    from voxface.phonemes.align import ALIGNERS

    return tuple(ALIGNERS)


def build_parser() -> argparse.ArgumentParser:
    formats = _formats()
    fmt_help = "; ".join(f"{k}: {e.description}" for k, e in formats.items())
    p = _Parser(
        prog="animate",
        description="Speech audio (+ transcript) -> ARKit blendshape curves -> an animated "
                    "glTF head. Writes OUTDIR/<audio stem>.{" + ",".join(
                        e.suffix.lstrip(".") for e in formats.values()) + "}.",
        epilog="Subcommands: `animate rig build [-o PATH] [--identity k=v,...]` rebuilds the "
               "bundled fitme head; `animate rig inspect RIG [--map NAMES_JSON]` shows how "
               "a rig's morph targets are driven; `animate batch INPUT_DIR -o OUTDIR [--workers N] "
               "[--backend local|ray]` animates a folder (see `animate batch --help`); "
               "`animate blender-addon [-o ZIP]` writes the Blender add-on; "
               "`animate eval [--quick]` writes the fidelity report; "
               "`animate train` retrains the neural model; `animate export-model --format "
               "coreml|onnx -o PATH` exports it for apps (docs/neural.md). "
               "Transcript sources, first found wins: --text, --transcript, "
               "--alignment, then a sidecar <audio stem>.txt or .lab next to the audio; with "
               "none, the neural engine animates from the audio alone (or, without "
               "'voxface[neural]', phones are recognised without a transcript, lower quality).",
    )
    p.add_argument("audio", help="speech audio: wav, flac, ogg/opus or mp3, any rate/channels")
    p.add_argument("--rig", help="glTF 2.0 rig (.glb or .gltf) with morph targets "
                                 "(default: the bundled fitme head)")
    p.add_argument("-o", "--outdir", default=".", help="output directory (default: .)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--text", help="the transcript, inline")
    src.add_argument("--transcript", help="a text file holding the transcript")
    src.add_argument("--alignment", help="a TextGrid (MFA/Praat) to use instead of aligning")
    p.add_argument("--aligner", default="pocketsphinx", choices=_aligners(),
                   help="forced aligner (default: pocketsphinx; mfa needs `mfa` on PATH)")
    p.add_argument("--engine", default=None, choices=("rules", "neural"),
                   help="curves from the transcript's alignment (rules; the default when "
                        "there is a transcript) or from the audio alone by the neural model "
                        "(neural; the default without one, needs 'voxface[neural]')")
    p.add_argument("--fps", type=float, default=60.0, help="output frame rate (default: 60)")
    defaults = ",".join(k for k, e in formats.items() if e.default)
    p.add_argument("--format", default=defaults,
                   help=f"comma-separated outputs (default: {defaults}). {fmt_help}")
    p.add_argument("--map", metavar="NAMES_JSON",
                   help="rig target names -> ARKit names, a JSON object such as "
                        '{"JawOpen_L": "jawOpen", "Mouth_Smile": {"arkit": "mouthSmileLeft", '
                        '"scale": 0.8}} (see docs/rigs.md and `animate rig inspect`)')
    p.add_argument("--style", default="neutral",
                   choices=("neutral", "articulate", "mumble", "shout"),
                   help="speaking-style preset (default: neutral; see docs/styles.md)")
    p.add_argument("--jaw", type=float, default=None,
                   help="jaw intensity 0..2 (default: the style's, 1 for neutral)")
    p.add_argument("--lips", type=float, default=None,
                   help="lip intensity 0..2 (default: the style's, 1 for neutral)")
    for motion in ("blinks", "brows", "head", "gaze"):
        p.add_argument(f"--no-{motion}", action="store_true",
                       help=f"no {motion} (non-verbal motion is subtle and on by default)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the non-verbal motion (blinks, gaze), for reproducible runs")
    p.add_argument("--preview", metavar="PATH",
                   help="also render the animated rig: PATH.mp4 = H.264 video at the output "
                        "fps with the speech's own audio; PATH.png = a contact sheet of frames "
                        "at the phone centres (docs/preview.md; needs 'voxface[preview]')")
    p.add_argument("--preview-engine", default="pyrender", choices=("pyrender", "blender"),
                   help="pyrender: OpenGL offscreen (OSMesa/EGL), the default; blender: "
                        "Blender Workbench through bpy (docs/blender.md)")
    p.add_argument("--preview-size", type=int, default=None,
                   help="preview frame size in pixels, square (default: 512 for video, 192 "
                        "per contact sheet tile)")
    p.add_argument("--preview-audio", default="auto", choices=("auto", "flac", "alac", "aac"),
                   help="audio in the MP4: auto copies AAC/MP3/ALAC/FLAC/Opus unchanged and "
                        "re-packs WAV/AIFF losslessly as FLAC (default: auto)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return p


def _progress(quiet: bool):
    def report(stage: str, seconds: float, detail: str) -> None:
        if not quiet:
            print(f"animate: {stage:<8s} {seconds:6.2f} s  {detail}", file=sys.stderr, flush=True)

    return report


def _parse_formats(spec: str) -> list[str]:
    formats = _formats()
    chosen = [f.strip().lower() for f in spec.split(",") if f.strip()]
    bad = [f for f in chosen if f not in formats]
    if bad or not chosen:
        raise InputError(f"--format: unknown format {', '.join(bad) or '(none)'}; "
                         f"available: {', '.join(formats)}")
    return list(dict.fromkeys(chosen))


def run_animate(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from voxface.exporters.registry import EXPORTERS

    audio = Path(args.audio)
    if not audio.exists():
        raise InputError("no such file", path=audio)
    if not audio.is_file():
        raise InputError("is not a file, expected speech audio", path=audio)
    if not (1.0 <= args.fps <= 240.0):
        raise InputError(f"--fps: {args.fps:g} is out of range, expected 1..240")
    formats = _parse_formats(args.format)
    from voxface.exporters.registry import check_formats, needs_rig

    check_formats(formats)
    preview, preview_options = _preview_args(args)
    if args.rig is not None:
        rig = Path(args.rig)
        if not rig.exists():
            raise InputError("no such rig file", path=rig)
    else:
        from voxface.assets import asset_path

        rig = Path(asset_path("fitme.glb"))
    if args.alignment is not None and not Path(args.alignment).is_file():
        raise InputError("no such alignment file", path=Path(args.alignment))
    from voxface.core.fileio import resolve_transcript, write_outputs

    transcript, transcript_path = resolve_transcript(audio, text=args.text,
                                                     transcript=args.transcript,
                                                     alignment=args.alignment)

    outdir = Path(args.outdir)
    if outdir.exists() and not outdir.is_dir():
        raise InputError("output directory is a file", path=outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a parent is a file, read-only filesystem, ...
        raise InputError(f"cannot create output directory ({exc.strerror})", path=outdir) from None
    if not os.access(outdir, os.W_OK):
        raise InputError("output directory is not writable", path=outdir)
    outputs = {f: outdir / f"{audio.stem}{EXPORTERS[f].suffix}" for f in formats}
    inputs = [audio, rig, transcript_path, Path(args.alignment) if args.alignment else None]
    resolved_inputs = {p.resolve() for p in inputs if p is not None}
    for out in outputs.values():
        if out.resolve() in resolved_inputs:
            raise InputError("output would overwrite an input; choose another -o OUTDIR",
                             path=out)
    if preview is not None and preview.resolve() in (
            resolved_inputs | {o.resolve() for o in outputs.values()}):
        raise InputError("--preview would overwrite an input or another output", path=preview)

    name_map = None
    if args.map is not None:
        from voxface.rigs.retarget import load_name_map

        name_map = load_name_map(args.map)

    from voxface.pipeline import animate

    report = _progress(args.quiet)
    anim = animate(audio, transcript=transcript, alignment_path=args.alignment,
                   aligner=args.aligner, engine=args.engine,
                   rig_path=rig if needs_rig(formats) or preview is not None else None,
                   fps=args.fps, progress=report, name_map=name_map,
                   **_motion_kwargs(args))
    for w in (*anim.alignment.warnings, *anim.input_warnings):
        print(f"animate: warning: {w}", file=sys.stderr)
    for w in getattr(anim, "warnings", ()):
        print(f"animate: warning: {w}", file=sys.stderr)
    if preview is not None:
        from voxface.rigs.preview import write_outputs_with_preview

        write_outputs_with_preview(anim, outputs, preview, preview_options, report)
    else:
        write_outputs(anim, outputs, report)
    return EXIT_OK


def _preview_args(args):
    """(--preview path or None, PreviewOptions); checked now so a missing renderer or a bad
    path fails before the pipeline runs."""
    if args.preview is None:
        return None, None
    from voxface.rigs.preview import PreviewOptions, check_preview

    preview = Path(args.preview)
    options = PreviewOptions(engine=args.preview_engine, audio=args.preview_audio)
    if args.preview_size is not None:
        options = PreviewOptions(engine=args.preview_engine, audio=args.preview_audio,
                                 size=args.preview_size, tile=args.preview_size)
    if preview.is_dir():
        raise InputError("--preview is a directory, expected a .mp4 or .png file", path=preview)
    if not preview.parent.is_dir():
        raise InputError("--preview: its folder does not exist", path=preview)
    if not os.access(preview.parent, os.W_OK):
        raise InputError("--preview: its folder is not writable", path=preview)
    check_preview(preview, options)
    return preview, options


def _motion_kwargs(args) -> dict:
    """Style, JALI intensities and non-verbal options for pipeline.animate."""
    from voxface.engine.nonverbal import NonverbalOptions
    from voxface.engine.styles import get_style

    style = get_style(args.style).with_intensities(args.jaw, args.lips)
    nonverbal = NonverbalOptions(blinks=not args.no_blinks, brows=not args.no_brows,
                                 head=not args.no_head, gaze=not args.no_gaze, seed=args.seed)
    return {"style": style, "nonverbal": nonverbal}


def run_rig(argv: list[str]) -> int:
    p = _Parser(prog="animate rig", description="Rig tools.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    b = sub.add_parser("build", help="build the fitme head (deterministic)")
    b.add_argument("-o", "--output", default=None,
                   help="output .glb (default: the bundled assets/fitme.glb)")
    b.add_argument("--identity", default="",
                   help="identity to bake: principal components of the scanned ICT FaceKit "
                        "population in standard deviations, e.g. pc0=1.5,pc3=-0.8 (pc0 ... "
                        "pc19), or 'random' for a plausible new person (within +-2 SD; "
                        "see --seed)")
    b.add_argument("--seed", type=int, default=None,
                   help="seed of --identity random (default 0)")
    i = sub.add_parser("inspect", help="list each mesh's morph targets and how voxface "
                                       "drives them")
    i.add_argument("rig", help="glTF 2.0 rig (.glb, .gltf or .vrm)")
    i.add_argument("--map", metavar="NAMES_JSON", help="target name -> ARKit name map, as for "
                                                       "`animate --map`")
    args = p.parse_args(argv)
    if args.cmd == "inspect":
        from voxface.rigs.inspect import inspect_rig_text

        print(inspect_rig_text(args.rig, name_map_path=args.map), end="")
        return EXIT_OK
    from voxface.rigs.fitme import build_fitme

    if args.output is None:
        from voxface.assets import asset_path

        out = Path(asset_path("fitme.glb"))
    else:
        out = Path(args.output)
    from voxface.rigs.fitme import parse_identity

    identity = parse_identity(args.identity, args.seed)  # pc3 -> id_pc3; unknown: exit 2
    out.parent.mkdir(parents=True, exist_ok=True)
    build_fitme(out, identity=identity or None)
    print(f"animate: wrote {out}", file=sys.stderr)
    return EXIT_OK


def run_batch(argv: list[str]) -> int:
    """`animate batch INPUT_DIR -o OUTDIR ...`: see voxface.batch. Exit 0 when every
    input succeeded (or was up to date), 2 when some had bad input, 1 on an internal error."""
    formats = _formats()
    p = _Parser(prog="animate batch",
                description="Animate every audio file under INPUT_DIR (recursively) with its "
                            "sidecar transcript <stem>.txt/.lab into OUTDIR, mirroring the "
                            "folder layout. Failures are recorded in OUTDIR/manifest.json and "
                            "the batch goes on; re-running skips inputs whose outputs are up "
                            "to date.")
    p.add_argument("input_dir", help="folder of speech audio (wav, flac, ogg/opus, mp3, aiff)")
    p.add_argument("-o", "--outdir", required=True, help="output folder (created)")
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0))
                   if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
                   help="parallel worker processes (default: the CPUs available)")
    defaults = ",".join(k for k, e in formats.items() if e.default)
    p.add_argument("--format", default=defaults,
                   help=f"comma-separated outputs (default: {defaults}): {', '.join(formats)}")
    p.add_argument("--rig", help="glTF 2.0 rig (default: the bundled fitme head)")
    p.add_argument("--map", metavar="NAMES_JSON",
                   help="rig target names -> ARKit names, as for `animate --map`")
    p.add_argument("--fps", type=float, default=60.0, help="output frame rate (default: 60)")
    p.add_argument("--aligner", default="pocketsphinx", choices=_aligners(),
                   help="forced aligner (default: pocketsphinx)")
    p.add_argument("--backend", default="local", choices=("local", "ray"),
                   help="local: a process pool here; ray: a Ray cluster (pip install "
                        "'voxface[ray]')")
    p.add_argument("--address", default=None,
                   help="Ray cluster address HOST:6379 (default: start a local Ray instance)")
    p.add_argument("--no-recursive", action="store_true", help="do not search subfolders")
    p.add_argument("--force", action="store_true", help="redo inputs that are up to date")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = p.parse_args(argv)
    if not (1.0 <= args.fps <= 240.0):
        raise InputError(f"--fps: {args.fps:g} is out of range, expected 1..240")
    if args.address is not None and args.backend != "ray":
        raise InputError("--address is only used with --backend ray")
    if args.rig is not None:
        rig = Path(args.rig)
    else:
        from voxface.assets import asset_path

        rig = Path(asset_path("fitme.glb"))
    from voxface.batch import BatchOptions, print_failures, run_batch as _run, summary_line

    options = BatchOptions(formats=tuple(_parse_formats(args.format)), fps=args.fps,
                           aligner=args.aligner, rig=rig,
                           name_map=Path(args.map) if args.map is not None else None)
    report = _run(args.input_dir, args.outdir, options, workers=args.workers,
                  backend=args.backend, address=args.address, recursive=not args.no_recursive,
                  force=args.force, progress=None if args.quiet else sys.stderr,
                  warn=lambda msg: print(f"animate: warning: {msg}", file=sys.stderr))
    print_failures(report)
    if not args.quiet or report.exit_code:
        print(summary_line(report), file=sys.stderr)
    return report.exit_code


_AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a")


def run_view(argv: list[str]) -> int:
    """`animate view OUTDIR [--glb G] [--audio A]`: write the web viewer into OUTDIR."""
    p = _Parser(prog="animate view",
                description="Write a web page into OUTDIR (index.html, three.js, and copies of "
                            "the GLB and audio) that plays the animated head in sync with the "
                            "speech, with play/pause, a scrub bar and a plot of the mouth "
                            "curves. Serve it with `python -m http.server` in OUTDIR (browsers "
                            "block its scripts on file:// pages).")
    p.add_argument("outdir", help="folder to write the viewer into (usually animate's -o)")
    p.add_argument("--glb", help="animated GLB (default: the one .glb in OUTDIR)")
    p.add_argument("--audio", help="speech to play along (default: <glb stem>.wav/.flac/... "
                                   "next to the GLB; none: plays silently)")
    args = p.parse_args(argv)
    outdir = Path(args.outdir)
    if args.glb is not None:
        glb = Path(args.glb)
    else:
        found = sorted(outdir.glob("*.glb")) if outdir.is_dir() else []
        if len(found) != 1:
            raise InputError(("no .glb" if not found else
                              f"{len(found)} .glb files ({', '.join(f.name for f in found)})")
                             + " in OUTDIR; pass --glb", path=outdir)
        glb = found[0]
    audio = Path(args.audio) if args.audio is not None else None
    if audio is None:
        candidates = [glb.with_suffix(s) for s in _AUDIO_SUFFIXES]
        audio = next((c for c in candidates if c.is_file()), None)
        if audio is None:
            print(f"animate: warning: no audio next to {glb}; the viewer plays silently "
                  "(pass --audio)", file=sys.stderr)
    from voxface.exporters.webview import write_viewer

    index = write_viewer(outdir, glb, audio=audio)
    print(f"animate: wrote {index}; serve it with `python -m http.server 8000 -d {outdir}` "
          "and open http://127.0.0.1:8000/", file=sys.stderr)
    return EXIT_OK


def run_blender_addon(argv: list[str]) -> int:
    p = _Parser(prog="animate blender-addon",
                description="Write the voxface lipsync Blender add-on as an installable zip "
                            "(Blender: Edit > Preferences > Add-ons > Install from Disk). See "
                            "docs/blender.md.")
    p.add_argument("-o", "--output", default="voxface_lipsync.zip",
                   help="output .zip (default: voxface_lipsync.zip)")
    args = p.parse_args(argv)
    from voxface.exporters.blender import build_addon_zip

    out = build_addon_zip(args.output)
    print(f"animate: wrote {out}", file=sys.stderr)
    return EXIT_OK


def _run_neural(cmd: str, argv: list[str]) -> int:
    """`animate train ...` / `animate export-model ...` (voxface.engine.neural)."""
    from voxface.engine.neural import available
    from voxface.core.errors import MissingDependencyError

    if not available():
        raise MissingDependencyError(f"animate {cmd}: needs torch (pip install "
                                     f"'voxface[{'neural' if cmd == 'train' else 'export'}]')")
    if cmd == "train":
        return _dev_tool("tools.neural.train", "animate train").main(argv)
    from voxface.exporters.model_export import main as run

    return run(argv)


def _dev_tool(module: str, command: str):
    """A developer tool from `tools/` in the source checkout (not part of the installed package).

    Raises InputError when voxface runs from an installed wheel, where `tools/` does not exist.
    """
    import importlib

    root = Path(__file__).resolve().parents[1]
    if not (root / "tools" / "__init__.py").is_file():
        raise InputError(f"{command} is a developer command: run it from a source checkout of "
                         "voxface (pip install -e .), which has the tools/ folder")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(module)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "rig":
            return run_rig(argv[1:])
        if argv and argv[0] == "batch":
            return run_batch(argv[1:])
        if argv and argv[0] == "blender-addon":
            return run_blender_addon(argv[1:])
        if argv and argv[0] == "view":
            return run_view(argv[1:])
        if argv and argv[0] in ("train", "export-model"):
            return _run_neural(argv[0], argv[1:])
        if argv and argv[0] == "eval":
            return _dev_tool("tools.evaluate", "animate eval").main(argv[1:])
        return run_animate(argv)
    except InputError as exc:
        print(f"animate: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except VoxfaceError as exc:
        print(f"animate: error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("animate: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal bug: one line, full traceback only on request
        if os.environ.get("VOXFACE_DEBUG"):
            raise
        print(f"animate: internal error: {type(exc).__name__}: {exc} "
              "(set VOXFACE_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
