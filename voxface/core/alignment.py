"""Typed values of the phonemes stage: timed intervals and an alignment."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Interval:
    """A labelled time span in seconds. Phone labels are ARPAbet with stress digits ('AH0');
    silence is the label 'sil'. Word labels are lower-case words."""

    label: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class ForcedScore:
    """How well the transcript's forced word path fits the start of the audio (PocketSphinx
    alignments only; `pocketsphinx_align.transcript_fit` compares it with free phone
    recognition of the same audio)."""

    score: float    # mean acoustic score per frame (PocketSphinx log units; 0 = the best
                    # senone every frame, lower = worse)
    pad_s: float    # seconds of quiet padding on both sides of the audio decoded
    end_s: float    # the audio decoded: the clip's first end_s seconds
    n_words: int    # transcript words in it


@dataclass(frozen=True)
class Alignment:
    """Word and phone timelines of one utterance.

    `phones` and `words` hold only speech (no silence intervals), sorted by start time and
    non-overlapping; gaps between them are silence. `duration` is the audio length in seconds.
    `source` says how it was made ('pocketsphinx', 'textgrid:<file>', 'mfa', 'allphone').
    """

    words: tuple[Interval, ...]
    phones: tuple[Interval, ...]
    duration: float
    source: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # PocketSphinx only: the forced word path's score over the whole clip (up to 30 s) or,
    # for longer audio, over the words of its first 10 s; else None.
    forced_score: ForcedScore | None = None
    # Aligned transcripts only (voxface.phonemes.confidence): per word, 0..1, how plausible
    # its timing is; and (start_s, end_s) stretches whose timing is not to be trusted (the
    # fusion engine animates them from the audio alone). None / () when not scored.
    confidence: tuple[float, ...] | None = None
    suspect: tuple[tuple[float, float], ...] = ()
    # Speech in another language (phonemes.languages): the IPA of each phone, parallel to
    # `phones` (whose labels stay ARPAbet, the poses' key), and the BCP-47 code it was
    # spoken in. None when the phones did not come from IPA.
    ipa: tuple[str, ...] | None = None
    language: str | None = None
