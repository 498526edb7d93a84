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
SUBCOMMANDS = ("rig", "batch", "view", "blender-addon", "eval", "train", "export-model",
               "serve", "listen")


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
               "coreml|onnx -o PATH` exports it for apps (docs/neural.md); `animate serve` "
               "streams live animation over WebSocket and `animate listen ws://HOST:PORT "
               "AUDIO` is its reference client (docs/live.md). "
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
    p.add_argument("--livelink", metavar="HOST:PORT",
                   help="after writing the outputs, play the curves in real time as Live Link "
                        "Face UDP packets to HOST:PORT (Unreal's LiveLinkFace source listens "
                        "on 11111; docs/live.md)")
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
    livelink = None
    if args.livelink is not None:  # checked before the pipeline runs
        from voxface.live.udp import parse_address

        livelink = parse_address(args.livelink)

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
    if livelink is not None:
        from voxface.live.udp import play_curves

        sent = play_curves(anim.curves, *livelink)
        report("livelink", anim.curves.n_frames / anim.curves.fps,
               f"{sent} Live Link Face packets to {livelink[0]}:{livelink[1]}")
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
                   help="identity morphs to bake, e.g. nose_length=0.4,jaw_width=-0.3 "
                        "(face_width, jaw_width, chin_length, chin_protrusion, cheek_fullness, "
                        "nose_length, nose_width, lip_fullness, eye_spacing, brow_ridge, "
                        "head_length; weights about -1..1)")
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
    identity = {}
    for item in filter(None, (s.strip() for s in args.identity.split(","))):
        key, _, val = item.partition("=")
        try:
            identity[key.strip()] = float(val)
        except ValueError:
            raise InputError(f"--identity: {item!r} is not name=number") from None
    from voxface.rigs.fitme import resolve_identity

    identity = resolve_identity(identity)  # nose_length -> id_noseLength; unknown: exit 2
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


def run_serve(argv: list[str]) -> int:
    """`animate serve`: the live WebSocket server (voxface.live.server, docs/live.md)."""
    from voxface.live.protocol import Limits

    d = Limits()
    p = _Parser(prog="animate serve",
                description="Serve live animation over WebSocket: clients send 16 kHz PCM "
                            "(binary, int16 or float32 little-endian) or {\"say\": TEXT} and "
                            "get frames (52 ARKit values, head/eye rotations, visemes, each "
                            "with its audio time) as soon as the model's 80 ms look-ahead "
                            "allows. Protocol: docs/live.md. Needs 'voxface[neural,live]'.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; any "
                        "other needs --token)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default: 8765; 0: any)")
    p.add_argument("--token", default=os.environ.get("VOXFACE_TOKEN"),
                   help="secret clients must send in their hello (default: $VOXFACE_TOKEN)")
    p.add_argument("--livelink", metavar="HOST:PORT",
                   help="also send every session's frames as Live Link Face UDP packets "
                        "(subject = the hello's 'subject', default voxface)")
    p.add_argument("--max-sessions", type=int, default=d.max_sessions,
                   help=f"sessions at once (default: {d.max_sessions})")
    p.add_argument("--max-message", type=int, default=d.max_message,
                   help=f"bytes per message (default: {d.max_message})")
    p.add_argument("--idle", type=float, default=d.idle_s,
                   help=f"seconds without a message before a session closes (default: "
                        f"{d.idle_s:g})")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-session log on stderr")
    args = p.parse_args(argv)
    if not 0 <= args.port < 65536:
        raise InputError(f"--port: {args.port} is out of range 0..65535")
    if args.max_sessions < 1 or args.max_message < 1024 or args.idle <= 0:
        raise InputError("--max-sessions must be >= 1, --max-message >= 1024, --idle > 0")
    from voxface.live.server import check_bind, run

    check_bind(args.host, args.token)
    livelink = None
    if args.livelink is not None:
        from voxface.live.udp import parse_address

        livelink = parse_address(args.livelink)
    limits = Limits(max_sessions=args.max_sessions, max_message=args.max_message,
                    idle_s=args.idle)
    run(args.host, args.port, token=args.token, limits=limits, livelink=livelink,
        quiet=args.quiet)
    return EXIT_OK


def run_listen(argv: list[str]) -> int:
    """`animate listen URL AUDIO`: the reference client (voxface.live.client)."""
    p = _Parser(prog="animate listen",
                description="Stream AUDIO to an `animate serve` server in small chunks and "
                            "write the frames it sends back, with latency statistics: "
                            "response (chunk sent -> its frames arrived) and frame delay "
                            "(a frame's audio sent -> the frame arrived, look-ahead included) "
                            "as p50 / p95 / max milliseconds.")
    p.add_argument("url", help="server address, ws://HOST:PORT")
    p.add_argument("audio", nargs="?", help="speech audio (any format animate reads; "
                                            "resampled to 16 kHz)")
    p.add_argument("-o", "--output", help="frames and latency as JSON (default: none)")
    p.add_argument("--realtime", action="store_true",
                   help="send audio at the speed of speech, as a microphone would")
    p.add_argument("--chunk-ms", type=float, default=20.0,
                   help="chunk length in milliseconds, 10..20 typical (default: 20)")
    p.add_argument("--say", metavar="TEXT", help="after the audio (or instead of it), ask the "
                                                 "server to speak TEXT")
    p.add_argument("--say-audio", metavar="WAV", help="write the spoken audio received here")
    p.add_argument("--format", default="s16", choices=("s16", "f32"),
                   help="PCM sent: int16 or float32 little-endian (default: s16)")
    p.add_argument("--token", default=os.environ.get("VOXFACE_TOKEN"),
                   help="the server's token (default: $VOXFACE_TOKEN)")
    p.add_argument("--seed", type=int, default=0, help="seed of the non-verbal motion")
    args = p.parse_args(argv)
    if args.audio is None and args.say is None:
        raise InputError("animate listen: give AUDIO or --say TEXT (see --help)")
    if not 1.0 <= args.chunk_ms <= 1000.0:
        raise InputError(f"--chunk-ms: {args.chunk_ms:g} is out of range 1..1000")
    if not args.url.startswith(("ws://", "wss://")):
        raise InputError(f"{args.url!r} is not a ws:// or wss:// address")
    for out in (args.output, args.say_audio):
        if out is not None and not (Path(out).parent.is_dir()
                                    and os.access(Path(out).parent, os.W_OK)):
            raise InputError("its folder does not exist or is not writable", path=out)
    samples = None
    if args.audio is not None:
        from voxface.core.audio import load_audio

        samples = load_audio(args.audio).samples
    import asyncio
    import json

    from voxface.live.client import listen, result_json

    result = asyncio.run(listen(args.url, samples, chunk_ms=args.chunk_ms,
                                realtime=args.realtime, token=args.token, say=args.say,
                                fmt=args.format, seed=args.seed))
    for err in result.errors:
        print(f"animate listen: warning: server error {err.get('code')}: "
              f"{err.get('message')}", file=sys.stderr)
    doc = result_json(result, url=args.url, audio=args.audio, chunk_ms=args.chunk_ms,
                      realtime=args.realtime)
    files = {}
    if args.output is not None:
        files[Path(args.output)] = json.dumps(doc).encode()
    if args.say_audio is not None:
        import io

        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, result.audio, 16000, subtype="PCM_16", format="WAV")
        files[Path(args.say_audio)] = buf.getvalue()
    if files:
        from voxface.core.fileio import write_bytes_all

        write_bytes_all(files)
    for key, stats in doc["latency_ms"].items():
        if stats["n"]:
            print(f"animate listen: {key:<11s} p50 {stats['p50']:7.1f} ms  p95 "
                  f"{stats['p95']:7.1f} ms  max {stats['max']:7.1f} ms  ({stats['n']})",
                  file=sys.stderr)
    print(f"animate listen: {result.arkit.shape[0]} frames "
          f"({result.arkit.shape[0] / doc['fps']:.2f} s)", file=sys.stderr)
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
        if argv and argv[0] in ("serve", "listen"):
            return (run_serve if argv[0] == "serve" else run_listen)(argv[1:])
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
