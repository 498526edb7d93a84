"""`animate say "TEXT" ...`: espeak-ng speaks the text (voxface.speak), OUT/<STEM>.wav is
written, and the face is animated from espeak's own phone events (no alignment step) with
every option of `animate AUDIO`."""

from __future__ import annotations

import argparse

from voxface.cli.animate import build_parser, run_parsed
from voxface.core.errors import InputError
from voxface.core.fileio import ensure_output_dir
from voxface.engine.emotion import split_tags
from voxface.phonemes.languages import (
    LANGUAGE_TAG,
    resolve_language,
    split_language_tags,
)
from voxface.speak import synthesize_wav


def run(argv: list[str]) -> int:
    p = build_parser()
    p.prog = "animate say"
    p.description = ("Speak TEXT with espeak-ng and animate it from the synthesiser's exact "
                     "phone events: writes OUTDIR/<name>.wav beside every other output. Tags "
                     "in the text set emotions: '[happy] Well done! [concerned] But check "
                     "the verb.' and languages: 'Hello [lang:es] hola'. Every option of "
                     "`animate` applies except the transcript sources and the aligner.")
    for action in p._actions:
        # The transcript sources and the aligner do not apply (espeak's events are the
        # alignment): still parsed, to refuse them with a clear error, but not listed.
        if action.dest in ("text", "transcript", "alignment", "aligner"):
            action.help = argparse.SUPPRESS
        if action.dest == "audio":
            action.help = ("the text to speak (English, or the --language; may hold [emotion] "
                           "tags)")
            action.metavar = "TEXT"
    # argparse cannot format a usage line with hidden members of a mutually exclusive group
    # (an AssertionError, or "empty group" once they leave it): drop the emptied group.
    for group in p._mutually_exclusive_groups:
        group._group_actions[:] = [a for a in group._group_actions
                                   if a.help is not argparse.SUPPRESS]
    p._mutually_exclusive_groups[:] = [g for g in p._mutually_exclusive_groups
                                       if g._group_actions]
    p.epilog = None  # animate's epilog is about transcript sources
    p.add_argument("--voice", default="en-us",
                   help="espeak-ng voice (default: en-us; e.g. en-us+f2, en-gb-x-rp, en-029); "
                        "--language CODE speaks in that language's voice instead, and a "
                        "'[lang:CODE]' tag in the text switches the language from there on")
    p.add_argument("--rate", type=int, default=175,
                   help="words per minute, 80..450 (default: 175)")
    p.add_argument("--name", default="say",
                   help="file stem of the WAV and outputs (default: say)")
    args = p.parse_args(argv)
    if args.text is not None or args.transcript is not None or args.alignment is not None:
        raise InputError("animate say: the text is the first argument; --text, --transcript "
                         "and --alignment do not apply")
    if args.aligner != "pocketsphinx":
        raise InputError("animate say: --aligner does not apply (espeak-ng's own phone events "
                         "are the alignment)")
    text = args.audio
    clean, _ = split_tags(text)  # unknown tags fail before synthesis
    if not clean or not clean.strip():
        raise InputError("animate say: the text is empty")
    outdir = ensure_output_dir(args.outdir)
    wav = outdir / f"{args.name}.wav"
    if args.language is not None:
        resolve_language(args.language)  # an unsupported code fails before any work
    split_language_tags(clean, args.language)  # so does one in a '[lang:CODE]' tag
    syn = synthesize_wav(clean, wav, voice=args.voice, rate_wpm=args.rate,
                         language=args.language)
    args.audio, args.text = str(wav), LANGUAGE_TAG.sub(" ", text)
    return run_parsed(args, alignment=syn.alignment())
