"""A talking head straight from text: espeak-ng speaks it, its own phone events time the face.

`say(text, outdir=...)` (also `voxface.say`) and `animate say "TEXT"` do the same thing:

1. emotion tags are taken out of the text (`[happy] Well done! [concerned] But check the
   verb.`, engine.emotion.split_tags);
2. libespeak-ng speaks the clean text (in `language`, or switching at '[lang:CODE]' tags) (phonemes.espeak.synthesize): the phone times are the
   synthesiser's own events, sample-exact at 22050 Hz (stops start at their closure, see
   phonemes/espeak.py), so there is no alignment step and no alignment error;
3. the speech is written as OUTDIR/<name>.wav (16-bit PCM, 22050 Hz), and the pipeline runs
   on it with that exact alignment, writing <name>.json/.glb/.csv/... beside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import soundfile as sf

from voxface.assets import asset_path
from voxface.core.animation import Animation
from voxface.core.errors import InputError
from voxface.core.fileio import atomic_path, ensure_output_dir
from voxface.engine.emotion import split_tags
from voxface.exporters.registry import (
    EXPORTERS,
    check_formats,
    format_names,
    needs_rig,
    write_outputs,
)
from voxface.phonemes.espeak import synthesize
from voxface.phonemes.languages import (
    LANGUAGE_TAG,
    split_language_tags,
    synthesize_language,
    synthesize_segments,
)
from voxface.pipeline import animate

DEFAULT_NAME = "say"
DEFAULT_VOICE = "en-us"
DEFAULT_RATE_WPM = 175


@dataclass
class Said:
    """What `say` made: the animation, espeak's synthesis (exact phones in `.phones`, raw
    events in `.event_phones`), the WAV and every output written ({format: path})."""

    animation: Animation
    synthesis: Any
    wav: Path
    outputs: dict[str, Path] = field(default_factory=dict)


def synthesize_wav(text: str, wav: str | os.PathLike, *, voice: str = DEFAULT_VOICE,
                   rate_wpm: int = DEFAULT_RATE_WPM, pitch: int = 50,
                   language: str | None = None) -> Any:
    """Speak `text` (tags already removed) with espeak-ng and write it to `wav` atomically.

    `language`: a BCP-47 code ('es', 'pt-br', 'zh'): espeak's voice for it speaks the text
    and the phones are mapped from IPA (phonemes.languages); `voice` is then not used.
    Language tags in the text ('Hello [lang:es] hola') switch the language from there on
    (each stretch spoken by its own voice, the speech joined; phonemes.languages).

    Returns the phonemes.espeak.Synthesis. Raises InputError for empty text, an unknown
    voice or language, or a rate outside 80..450 wpm.
    """
    if not 80 <= int(rate_wpm) <= 450:
        raise InputError(f"--rate: {rate_wpm} words per minute is out of range, expected "
                         "80..450")
    _, segments = split_language_tags(text, language)
    if LANGUAGE_TAG.search(text):
        syn = synthesize_segments(segments, voice=voice, rate_wpm=int(rate_wpm), pitch=pitch)
    elif language is not None:
        syn = synthesize_language(text, language, rate_wpm=int(rate_wpm), pitch=pitch)
    else:
        syn = synthesize(text, voice=voice, rate_wpm=int(rate_wpm), pitch=pitch)
    with atomic_path(wav) as tmp:
        sf.write(str(tmp), syn.samples, syn.sample_rate, subtype="PCM_16", format="WAV")
    return syn


def say(text: str, *, outdir: str | os.PathLike = ".", name: str = DEFAULT_NAME,
        voice: str = DEFAULT_VOICE, rate_wpm: int = DEFAULT_RATE_WPM,
        language: str | None = None, emotion: Any = None, formats: Iterable[str] | None = None,
        rig: str | os.PathLike | None = None, fps: float = 60.0, progress: Any = None,
        **options: Any) -> Said:
    """Speak `text` and animate it: OUTDIR/<name>.wav plus every requested output.

    Args:
        text: the text (English unless `language`); may hold emotion tags ('[happy] Well done!').
        outdir: folder for the WAV and the outputs (created).
        name: file stem of every output.
        voice, rate_wpm: espeak-ng voice ('en-us', 'en-us+f2', 'en-gb-x-rp', ...) and rate.
        language: a BCP-47 code ('es', 'de', 'fr', 'pt-br', 'zh', ...): speak in that
            language instead of `voice` (JSON phones then carry `ipa`).
        emotion: as `animate --emotion` ('happy:0.8', 'auto', a JSON track path).
        formats: exporter keys (default: the CLI's defaults).
        rig: glTF rig (default: the bundled fitme head).
        fps: output frame rate.
        progress: pipeline progress callback (stage, seconds, detail).
        options: more `voxface.pipeline.animate` keywords (style, jaw, lips, nonverbal).
    Returns:
        Said; `animation.alignment.phones` are espeak's phones exactly.
    """
    clean, tags = split_tags(text)
    if not clean or not clean.strip():
        raise InputError("say: the text is empty")
    listed = format_names()
    chosen = list(formats) if formats is not None else [k for k in listed
                                                        if EXPORTERS[k].default]
    bad = [f for f in chosen if f not in listed]
    if bad:
        raise InputError(f"unknown format {', '.join(bad)}; available: {', '.join(listed)}")
    check_formats(chosen)
    out = ensure_output_dir(outdir)
    if rig is None:
        rig = asset_path("fitme.glb")
    wav = out / f"{name}.wav"
    syn = synthesize_wav(clean, wav, voice=voice, rate_wpm=rate_wpm, language=language)
    kwargs = {"progress": progress} if progress is not None else {}
    # the transcript keeps the emotion tags (the pipeline places them) but not the language
    # tags, which are not words
    anim = animate(wav, transcript=LANGUAGE_TAG.sub(" ", text), alignment=syn.alignment(),
                   rig_path=rig if needs_rig(chosen) else None, fps=fps, emotion=emotion,
                   **kwargs, **options)
    outputs = {f: out / f"{name}{EXPORTERS[f].suffix}" for f in chosen}
    write_outputs(anim, outputs, progress or (lambda *a: None))
    return Said(animation=anim, synthesis=syn, wav=wav, outputs=outputs)
