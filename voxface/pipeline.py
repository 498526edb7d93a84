"""The whole pipeline as a few calls: audio -> alignment -> curves (-> rig animation).

Each stage is a function from one typed value to the next; this module only sequences them,
times them, and reports progress.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from voxface.core.alignment import Alignment
from voxface.core.animation import Animation
from voxface.core.audio import Audio, load_audio
from voxface.core.names import ARKIT_52
from voxface.engine.checks import input_warnings
from voxface.engine.coarticulation import curves_from_alignment, visemes_from_alignment
from voxface.engine.emotion import apply_emotion, split_tags
from voxface.engine.fusion import fused_curves
from voxface.engine.neural.infer import choose_engine, curves_from_audio
from voxface.engine.nonverbal import NonverbalOptions, apply_nonverbal, nonverbal_motion
from voxface.engine.styles import STYLES, get_style
from voxface.phonemes.align import align
from voxface.phonemes.dtw_align import align_dtw
from voxface.phonemes.languages import is_english, resolve_language
from voxface.phonemes.marks import read_alignment_file
from voxface.rigs.gltf_rig import load_rig
from voxface.rigs.retarget import load_name_map, parse_name_map, plan_rig

Progress = Callable[[str, float, str], None]  # (stage, seconds, detail)


def _quiet(stage: str, seconds: float, detail: str) -> None:
    pass


class _Stopwatch:
    def __init__(self, progress: Progress, timings: dict[str, float]):
        self.progress, self.timings = progress, timings

    def run(self, stage: str, fn: Callable[[], Any], detail: Callable[[Any], str]) -> Any:
        t0 = time.perf_counter()
        value = fn()
        dt = time.perf_counter() - t0
        self.timings[stage] = dt
        self.progress(stage, dt, detail(value))
        return value


def animate(
    audio_path: str | Path,
    *,
    transcript: str | None = None,
    alignment_path: str | Path | None = None,
    aligner: str = "pocketsphinx",
    rig_path: str | Path | None = None,
    fps: float = 60.0,
    progress: Progress = _quiet,
    name_map: Any = None,
    style: Any = None,
    jaw: float | None = None,
    lips: float | None = None,
    nonverbal: Any = "default",
    engine: str | None = None,
    prepared_rig: tuple[Any, Any] | None = None,
    emotion: Any = None,
    alignment: Alignment | None = None,
    language: str | None = None,
) -> Animation:
    """Run every stage on one audio file.

    Args:
        audio_path: wav/flac/ogg/mp3 file; read only.
        transcript: what is said (None: phone recognition without a transcript, lower quality).
        alignment_path: a TextGrid (MFA/Praat) or TTS timing marks (Polly, Azure, character
            times; voxface.phonemes.marks) to use instead of aligning.
        aligner: a name from `voxface.phonemes.align.ALIGNERS`.
        rig_path: glTF/GLB to animate; loaded and matched first so a bad rig fails fast.
        fps: output frames per second.
        progress: called after each stage with (stage, seconds, detail).
        name_map: rig target name -> ARKit name (`--map`): a JSON file path, a dict as in the
            file, or `voxface.rigs.retarget.load_name_map`'s result.
        style: a voxface.engine.styles.Style or preset name (None = neutral).
        jaw, lips: JALI intensities 0..2 overriding the style's.
        nonverbal: voxface.engine.nonverbal.NonverbalOptions ("default" = subtle blinks,
            brows, nods and gaze; None = none).
        engine: 'rules' (alignment + coarticulation), 'neural' (the audio-only regressor,
            voxface.engine.neural; no transcript used for the curves) or None = auto: rules
            when there is a transcript or alignment, else neural when torch and its weights
            are installed, else rules on allphone recognition with a warning. With the
            neural engine and no transcript the alignment is empty (no phones or words).
        prepared_rig: `prepare_rig(rig_path, name_map)`'s result, already loaded (a batch
            loads its rig once); used instead of `rig_path`.
        emotion: `--emotion` ('happy', 'sad:0.8', 'auto', a JSON track path, or an
            engine.emotion.EmotionSpec); None = neutral. Tags in the transcript ('[happy]
            Well done!') are taken out before alignment and set emotions too (brackets that
            name no emotion at all, '[laughs]', are left as text).
        alignment: an exact Alignment to use as is (e.g. espeak's own phone events for
            `say`); no aligning.
        language: the BCP-47 code the transcript is in (None: English). A language other
            than English is aligned by DTW against espeak-ng's rendering of the transcript
            (voxface.phonemes.dtw_align; `aligner` is then not used).
    """

    transcript, emotion_tags = split_tags(transcript, strict=False)
    if isinstance(style, str):
        style = get_style(style)
    if style is not None or jaw is not None or lips is not None:
        style = (style or STYLES["neutral"]).with_intensities(jaw, lips)
    timings: dict[str, float] = {}
    sw = _Stopwatch(progress, timings)

    rig = plan = None
    rig_warnings: list[str] = []
    name_map = normalize_name_map(name_map)
    if prepared_rig is not None:
        rig, plan = prepared_rig
        rig_warnings = list(plan.warnings)
    elif rig_path is not None:
        rig, plan = sw.run("rig", lambda: prepare_rig(rig_path, name_map),
                           lambda v: v[1].describe(v[0]))
        rig_warnings = list(plan.warnings)

    audio = sw.run("audio", lambda: load_audio(audio_path),
                   lambda a: f"{a.duration:.2f} s, {a.original_rate} Hz x "
                             f"{a.original_channels} ch -> 16 kHz mono")

    has_text = (bool(transcript and transcript.strip()) or alignment_path is not None
                or alignment is not None)
    engine, engine_note = choose_engine(engine, has_transcript=has_text)
    if alignment is not None:
        given = alignment
        alignment = sw.run("align", lambda: given,
                           lambda al: f"{len(al.words)} words, {len(al.phones)} phones "
                                      f"({al.source}, exact)")
    elif engine == "neural" and not has_text:
        alignment = sw.run("align", lambda: Alignment(
            words=(), phones=(), duration=audio.duration, source="neural",
            warnings=("no transcript given: curves from the audio alone (neural engine); "
                      "the outputs list no phones or words",)),
            lambda al: "skipped: no transcript (neural engine)")
    else:
        alignment = sw.run("align", lambda: _alignment(audio, transcript, alignment_path,
                                                       aligner, language),
                           lambda al: f"{len(al.words)} words, {len(al.phones)} phones "
                                      f"({al.source})")
    if engine_note:
        alignment = replace(alignment, warnings=alignment.warnings + (engine_note,))

    if engine == "neural":
        curves = sw.run("curves", lambda: curves_from_audio(audio, fps=fps),
                        lambda c: f"{c.n_frames} frames x {len(c.names)} shapes at "
                                  f"{c.fps:g} fps (neural)")
    elif alignment.suspect:  # implausible stretches: audio-only curves there (engine.fusion)

        curves = sw.run("curves", lambda: fused_curves(alignment, audio, fps=fps, style=style),
                        lambda c: f"{c.n_frames} frames x {len(c.names)} shapes at "
                                  f"{c.fps:g} fps (fused)")
    else:
        curves = sw.run("curves", lambda: curves_from_alignment(alignment, audio, fps=fps,
                                                                style=style),
                        lambda c: f"{c.n_frames} frames x {len(c.names)} shapes at "
                                  f"{c.fps:g} fps")
    if nonverbal is not None:
        opts = NonverbalOptions() if nonverbal == "default" else nonverbal
        if style is not None:
            from dataclasses import replace as _replace

            opts = _replace(opts, strength=opts.strength * style.nonverbal,
                            brow_strength=opts.brow_strength * style.brows)
        curves = apply_nonverbal(curves, nonverbal_motion(alignment, audio, fps=fps,
                                                          n_frames=curves.n_frames,
                                                          options=opts))
    if emotion is not None or emotion_tags:
        speech = curves
        curves = sw.run("emotion", lambda: apply_emotion(speech, alignment, audio, spec=emotion,
                                                          tags=emotion_tags, text=transcript),
                        lambda c: ", ".join(f"{e['emotion']} {e['intensity']:g} "
                                            f"{e['start']:g}-{e['end']:g} s"
                                            for e in c.extras.get("emotions", [])) or "none")
    visemes = visemes_from_alignment(alignment, fps=fps)
    return Animation(audio=audio, alignment=alignment, curves=curves, rig=rig, plan=plan,
                     visemes=visemes, timings=timings, name_map=name_map,
                     warnings=rig_warnings,
                     input_warnings=input_warnings(audio, alignment if has_text else None))


def normalize_name_map(name_map: Any) -> Any:
    """A `--map` given as a JSON file path, a dict as in the file, or `load_name_map`'s result
    -> `load_name_map`'s form ({target: (name, scale)}); None stays None."""
    if name_map is None:
        return None

    if isinstance(name_map, (str, Path)):
        return load_name_map(name_map)
    if not all(isinstance(v, tuple) for v in name_map.values()):
        return parse_name_map(name_map)
    return name_map


def prepare_rig(rig_path: str | Path, name_map: Any = None) -> tuple[Any, Any]:
    """Load a rig and decide how the 52 ARKit curves drive it: (Rig, RigPlan).

    The one rig path of every command (single file and batch): `plan_rig` accepts ARKit
    names, `--map` names, Oculus visemes and VRM expressions, and raises InputError when
    nothing on the rig can be driven. `plan.warnings` are the notes to show the user.
    """

    rig = load_rig(rig_path)
    return rig, plan_rig(rig, ARKIT_52, name_map=normalize_name_map(name_map))


def _alignment(audio: Audio, transcript: str | None, alignment_path: str | Path | None,
               aligner: str, language: str | None = None) -> Alignment:
    if (language is not None and alignment_path is None and transcript and transcript.strip()
            and not is_english(resolve_language(language))):
        return align_dtw(audio, transcript, language)
    if alignment_path is not None:
        imported = read_alignment_file(alignment_path, duration=audio.duration)
        if imported.phones:
            return imported
        # A TextGrid with words but no phone tier (e.g. one transcript per utterance): its
        # text is the transcript, so align it rather than animate nothing.
        transcript = " ".join(w.label for w in imported.words)

        aligned = align(audio, transcript or None, aligner=aligner)
        note = f"{Path(alignment_path).name} has no phone tier; aligned its words with {aligner}"
        return replace(aligned, warnings=aligned.warnings + imported.warnings + (note,))

    return align(audio, transcript, aligner=aligner)


def _describe_match(match: Any) -> str:
    """e.g. '3 meshes driven (Head 52, Teeth 6, Tongue 4); unmatched: tongueOut'."""
    driven = ", ".join(f"{m.name} {len(m.targets)}" for m in match.driven)
    text = f"{len(match.driven)} meshes driven ({driven})"
    if match.unmatched_curves:
        missing = list(match.unmatched_curves)
        text += f"; no target for {len(missing)}: {', '.join(missing[:6])}"
        text += ", ..." if len(missing) > 6 else ""
    return text
