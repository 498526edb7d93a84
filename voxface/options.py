"""The animation options of one run: what `animate FILE` and `animate batch` both accept.

`voxface.cli.options` declares them on the command line once and builds one `AnimationOptions`
(validated once); the single-file command and `voxface.batch` both read it, so the two accept
and check the same options. A frozen dataclass of plain values (paths, names, numbers), so it
pickles to batch worker processes and Ray tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voxface.engine.emotion import parse_emotion
from voxface.engine.nonverbal import NonverbalOptions
from voxface.engine.styles import Style, get_style
from voxface.exporters.registry import needs_rig

MOTIONS = ("blinks", "brows", "head", "gaze")  # the non-verbal motions, each switchable
FPS_RANGE = (1.0, 240.0)


@dataclass(frozen=True)
class AnimationOptions:
    """Everything that shapes one input's outputs, besides the input itself.

    Attributes:
        formats: exporter names from `voxface.exporters.registry.EXPORTERS`, in order.
        rig: the glTF rig to animate (used only when a format or the preview needs a rig).
        text: the transcript, inline (single file only; batch reads sidecars).
        transcript: a file holding the transcript (single file only).
        alignment: a TextGrid to use instead of aligning (single file only).
        aligner: a name from `voxface.phonemes.align.ALIGNERS`.
        engine: 'rules', 'neural' or None (auto: rules with a transcript, else neural).
        fps: output frames per second, within FPS_RANGE.
        name_map: a `--map` JSON file (rig target names -> ARKit names), or None.
        style: a preset name from `voxface.engine.styles.STYLES`.
        jaw, lips: JALI intensities 0..2 overriding the style's (None: the style's).
        blinks, brows, head, gaze: the non-verbal motions (head: nods, drift and turns).
        seed: seed of the non-verbal motion.
        emotion: `--emotion` as given: 'NAME[:INTENSITY]', 'auto' or a JSON track file
            (voxface.engine.emotion.parse_emotion), or None.
        preview: a .mp4 / .png to render the animated rig into (single file only), or None.
        preview_engine: 'pyrender' or 'blender'.
        preview_size: frame size in pixels, square (None: the renderer's default).
        preview_audio: the MP4's audio: 'auto', 'flac', 'alac' or 'aac'.
        language: the BCP-47 code of the speech (None: English): `say` speaks in it, a
            transcript in it is aligned by DTW against espeak-ng (phonemes.dtw_align).
    """

    formats: tuple[str, ...]
    rig: Path
    text: str | None = None
    transcript: Path | None = None
    alignment: Path | None = None
    aligner: str = "pocketsphinx"
    engine: str | None = None
    fps: float = 60.0
    name_map: Path | None = None
    style: str = "neutral"
    jaw: float | None = None
    lips: float | None = None
    blinks: bool = True
    brows: bool = True
    head: bool = True
    gaze: bool = True
    seed: int = 0
    emotion: str | None = None
    preview: Path | None = None
    preview_engine: str = "pyrender"
    preview_size: int | None = None
    preview_audio: str = "auto"
    language: str | None = None

    @property
    def needs_rig(self) -> bool:
        """True when an output (or the preview) draws on the rig, so it must be loaded."""
        return needs_rig(self.formats) or self.preview is not None

    def speaking_style(self) -> Style:
        """The style preset with --jaw / --lips applied (InputError when out of 0..2)."""
        return get_style(self.style).with_intensities(self.jaw, self.lips)

    def nonverbal(self) -> NonverbalOptions:
        return NonverbalOptions(blinks=self.blinks, brows=self.brows, head=self.head,
                                gaze=self.gaze, seed=self.seed)

    def pipeline_kwargs(self) -> dict:
        """The keyword arguments of `voxface.pipeline.animate` these options set (not the
        transcript, alignment nor rig, which each command resolves itself)."""
        return {"aligner": self.aligner, "engine": self.engine, "fps": self.fps,
                "style": self.speaking_style(), "nonverbal": self.nonverbal(),
                "emotion": parse_emotion(self.emotion), "language": self.language}

    def fingerprint(self) -> dict:
        """The options that shape a batch's outputs, as JSON values: a change of any of them
        invalidates old outputs. The options batch had from the start are always listed; the
        later ones only when they differ from their defaults, so a manifest written before
        they existed still matches a run with the defaults."""
        doc = {"formats": list(self.formats), "fps": self.fps, "aligner": self.aligner,
               "rig": str(self.rig.resolve()) if self.needs_rig else None}
        if self.needs_rig and self.name_map is not None:
            doc["map"] = str(self.name_map.resolve())
        defaults = AnimationOptions(formats=(), rig=Path())
        for key in ("engine", "style", "jaw", "lips", *MOTIONS, "seed", "emotion",
                    "language"):
            if getattr(self, key) != getattr(defaults, key):
                doc[key] = getattr(self, key)
        return doc

    def rig_sources(self) -> list[Path]:
        """The files besides each input that shape its outputs: the rig and the map."""
        if not self.needs_rig:
            return []
        return [self.rig] + ([self.name_map] if self.name_map is not None else [])
