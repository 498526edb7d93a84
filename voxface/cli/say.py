"""`animate say "TEXT" ...`: espeak-ng speaks the text (voxface.speak), OUT/<STEM>.wav is
written, and the face is animated from espeak's own phone events (no alignment step) with
every option of `animate AUDIO`."""

from __future__ import annotations


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
                     "`animate` applies except the transcript sources (--text, --transcript, "
                     "--alignment).")
    for action in p._actions:
        if action.dest == "audio":
            action.help = ("the text to speak (English, or the --language; may hold [emotion] "
                           "tags)")
            action.metavar = "TEXT"
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
