"""The animation options on the command line, declared once for `animate` and `animate batch`.

`add_animation_options(parser)` adds them to a subcommand's parser; `options_from_args(args)`
turns the parsed arguments into one `voxface.options.AnimationOptions`, validating everything
that can be checked before any audio is read (fps, formats and their dependencies, the rig and
name map, style intensities, the engine, an empty --text), so both commands accept and refuse
the same things with the same one-line messages.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from voxface.assets import asset_path
from voxface.core.errors import InputError, MissingDependencyError
from voxface.engine.emotion import parse_emotion
from voxface.engine.neural.infer import ENGINES, neural_ready
from voxface.engine.styles import STYLES
from voxface.exporters.registry import EXPORTERS, check_formats, format_names
from voxface.options import FPS_RANGE, MOTIONS, AnimationOptions
from voxface.phonemes.align import ALIGNERS
from voxface.phonemes.languages import resolve_language
from voxface.rigs.retarget import load_name_map

DEFAULT_FORMATS = ",".join(k for k in format_names() if EXPORTERS[k].default)

_MOTION_HELP = {
    "blinks": "turn off blinks",
    "brows": "turn off brow raises on stressed words",
    "head": "turn off head motion: nods and drift (the CSV's head rotations, the rig's "
            "head and neck bones)",
    "gaze": "turn off gaze shifts: eye saccades (eyeLook* shapes, the CSV's eye rotations, "
            "eye bones)",
}


def add_animation_options(parser: argparse.ArgumentParser, *, single_file: bool = True) -> None:
    """Add the animation options to `parser`.

    single_file: also the options that only make sense for one input: the transcript source
    (--text / --transcript / --alignment; a batch reads each clip's sidecar) and --preview.
    """
    parser.add_argument("--rig", help="glTF 2.0 rig (.glb, .gltf or .vrm) with morph targets "
                                      "(default: the bundled fitme head)")
    if single_file:
        src = parser.add_mutually_exclusive_group()
        src.add_argument("--text", help="the transcript, inline (must not be empty)")
        src.add_argument("--transcript", help="a text file holding the transcript")
        src.add_argument("--alignment", help="a TextGrid (MFA/Praat), or a TTS service's timing "
                         "marks (Amazon Polly speech marks, Azure viseme/word events, a "
                         "character-timed alignment; detected, see docs/marks.md) to use "
                         "instead of aligning")
    parser.add_argument("--aligner", default="pocketsphinx", choices=tuple(ALIGNERS),
                        help="forced aligner (default: pocketsphinx; mfa needs `mfa` on PATH)")
    parser.add_argument("--engine", default=None, choices=ENGINES,
                        help="curves from the transcript's alignment (rules; the default when "
                             "there is a transcript) or from the audio alone by the neural "
                             "model (neural; the default without one, needs 'voxface[neural]')")
    parser.add_argument("--fps", type=float, default=60.0,
                        help=f"output frame rate, {FPS_RANGE[0]:g}..{FPS_RANGE[1]:g} "
                             "(default: 60)")
    fmt_help = "; ".join(f"{k}: {EXPORTERS[k].description}" for k in format_names())
    parser.add_argument("--format", default=DEFAULT_FORMATS,
                        help=f"comma-separated outputs (default: {DEFAULT_FORMATS}). {fmt_help}")
    parser.add_argument("--map", metavar="NAMES_JSON",
                        help="rig target names -> ARKit names, a JSON object such as "
                             '{"JawOpen_L": "jawOpen", "Mouth_Smile": {"arkit": '
                             '"mouthSmileLeft", "scale": 0.8}} (see docs/rigs.md and '
                             "`animate rig inspect`)")
    parser.add_argument("--emotion", default=None, metavar="NAME[:INTENSITY]|auto|TRACK.json",
                        help="an expression layered on the speech: neutral, happy, sad, angry, "
                             "surprised, fearful, disgusted or contempt, intensity 0..1 "
                             "(default 0.6); auto = expressiveness from the speech's arousal; "
                             "or a JSON track of {start, end, emotion, intensity}. Tags in the "
                             "transcript ('[happy] Well done!') also set emotions "
                             "(docs/emotions.md)")
    parser.add_argument("--language", metavar="CODE", default=None,
                        help="the language spoken (BCP-47: es, de, fr, it, pt-br, ru, zh, ja, "
                             "hi, ar, ...; any language espeak-ng has a voice for; default: "
                             "English). `animate say` speaks the text in it; a transcript in it "
                             "is aligned by DTW against espeak-ng's rendering (--aligner is then "
                             "not used). Phones keep ARPAbet labels mapped from IPA; the JSON "
                             "adds phones[i].ipa, the TextGrid an 'ipa' tier")
    parser.add_argument("--style", default="neutral", choices=tuple(STYLES),
                        help="speaking-style preset (default: neutral; see docs/styles.md)")
    parser.add_argument("--jaw", type=float, default=None,
                        help="jaw intensity 0..2 (default: the style's, 1 for neutral)")
    parser.add_argument("--lips", type=float, default=None,
                        help="lip intensity 0..2 (default: the style's, 1 for neutral)")
    motion = parser.add_argument_group("non-verbal motion (subtle, on by default)")
    for name in MOTIONS:
        motion.add_argument(f"--no-{name}", action="store_true", help=_MOTION_HELP[name])
    motion.add_argument("--seed", type=int, default=0,
                        help="seed of the non-verbal motion (blinks, gaze), for reproducible "
                             "runs (default: 0)")
    if single_file:
        parser.add_argument("--preview", metavar="PATH",
                            help="also render the animated rig: PATH.mp4 = H.264 video at the "
                                 "output fps with the speech's own audio; PATH.png = a contact "
                                 "sheet of frames at the phone centres (docs/preview.md; needs "
                                 "'voxface[preview]')")
        parser.add_argument("--preview-engine", default="pyrender",
                            choices=("pyrender", "blender"),
                            help="pyrender: OpenGL offscreen (OSMesa/EGL), the default; "
                                 "blender: Blender Workbench through bpy (docs/blender.md)")
        parser.add_argument("--preview-size", type=int, default=None,
                            help="preview frame size in pixels, square (default: 512 for "
                                 "video, 192 per contact sheet tile)")
        parser.add_argument("--preview-audio", default="auto",
                            choices=("auto", "flac", "alac", "aac"),
                            help="audio in the MP4: auto copies AAC/MP3/ALAC/FLAC/Opus "
                                 "unchanged and re-packs WAV/AIFF losslessly as FLAC "
                                 "(default: auto)")


def parse_formats(spec: str) -> tuple[str, ...]:
    """'glb, json,glb' -> ('glb', 'json'); InputError for an unknown name or none."""
    chosen = [f.strip().lower() for f in spec.split(",") if f.strip()]
    bad = [f for f in chosen if f not in format_names()]
    if bad or not chosen:
        raise InputError(f"--format: unknown format {', '.join(bad) or '(none)'}; "
                         f"available: {', '.join(format_names())}")
    return tuple(dict.fromkeys(chosen))


def options_from_args(args: argparse.Namespace) -> AnimationOptions:
    """The parsed arguments of `add_animation_options` -> AnimationOptions, validated.

    Raises InputError (one line naming the option or file) for an empty --text, an fps out of
    range, an unknown format or one whose dependency is missing, a missing rig or alignment
    file, an unreadable or invalid --map, --jaw/--lips out of 0..2, and --engine neural where
    it cannot run.
    """
    text = getattr(args, "text", None)
    if text is not None and not text.strip():
        raise InputError("--text: the transcript is empty; give the words spoken, or leave "
                         "--text out to animate without a transcript")
    if not (FPS_RANGE[0] <= args.fps <= FPS_RANGE[1]):
        raise InputError(f"--fps: {args.fps:g} is out of range, expected "
                         f"{FPS_RANGE[0]:g}..{FPS_RANGE[1]:g}")
    formats = parse_formats(args.format)
    check_formats(formats)  # e.g. blend without bpy: fail before any work
    if args.rig is not None:
        rig = Path(args.rig)
        if not rig.exists():
            raise InputError("no such rig file", path=rig)
    else:
        rig = Path(asset_path("fitme.glb"))
    alignment = getattr(args, "alignment", None)
    if alignment is not None and not Path(alignment).is_file():
        raise InputError("no such alignment file", path=Path(alignment))
    name_map = Path(args.map) if args.map is not None else None
    if name_map is not None:
        load_name_map(name_map)  # a missing file or bad entry fails here, once
    transcript = getattr(args, "transcript", None)
    preview = getattr(args, "preview", None)
    options = AnimationOptions(
        formats=formats, rig=rig, text=text,
        transcript=Path(transcript) if transcript is not None else None,
        alignment=Path(alignment) if alignment is not None else None,
        aligner=args.aligner, engine=args.engine, fps=args.fps, name_map=name_map,
        style=args.style, jaw=args.jaw, lips=args.lips,
        **{m: not getattr(args, f"no_{m}") for m in MOTIONS}, seed=args.seed,
        emotion=args.emotion,
        preview=Path(preview) if preview is not None else None,
        preview_engine=getattr(args, "preview_engine", "pyrender"),
        preview_size=getattr(args, "preview_size", None),
        preview_audio=getattr(args, "preview_audio", "auto"),
        language=getattr(args, "language", None))
    if options.language is not None:
        resolve_language(options.language)  # an unsupported code: exit 2 listing the codes
    options.speaking_style()  # --jaw / --lips within 0..2
    parse_emotion(options.emotion)  # a bad name or track file fails before any work
    if options.engine == "neural":
        why = neural_ready()
        if why:
            raise MissingDependencyError(f"--engine neural: {why}")
    return options
