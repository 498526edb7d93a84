"""Warnings for input that is valid but suspicious: the run goes on ("a sensible result with a
warning") and the user is told, in one line per problem, why the animation may look wrong.

`input_warnings(audio, alignment)` checks, from the audio's level (prosody.intensity_db) and
the alignment's word count:
* digital silence (every sample 0), or no speech at all (the level never varies by
  MIN_RANGE_DB: silence with noise, a steady hum or tone);
* very low level (the loud end of the level below QUIET_DBFS);
* clipping (more than CLIPPED_FRACTION of the file's samples at full scale);
* a 16-bit file whose bytes were misread in stretches (repaired on loading, see
  voxface.core.bytealign) or whose loud stretches wrapped around (integer overflow);
* a transcript whose length is wildly off for the speech heard (more than MAX_WORDS_PER_S
  words per second of speech, or under MIN_WORDS_PER_S over at least MIN_SPEECH_S of it);
* a transcript of plausible length that the audio does not bear out: its forced path scores
  far below free phone recognition of the same audio (`transcript_fit` < MIN_TRANSCRIPT_FIT,
  PocketSphinx alignments only, the first 10 s; skipped when the forced path alone scores
  above SURE_FORCED_SCORE).

The aligner's own notes (fallback rungs, estimated phone times) are in `Alignment.warnings`.
"""

from __future__ import annotations

import numpy as np

from voxface.core import bytealign, overflow
from voxface.core.alignment import Alignment
from voxface.core.audio import Audio
from voxface.engine.prosody import (
    DYNAMIC_RANGE_DB,
    FLOOR_PERCENTILE,
    LOUD_PERCENTILE,
    MIN_RANGE_DB,
    intensity_db,
)
from voxface.phonemes.pocketsphinx_align import transcript_fit

ANALYSIS_FPS = 50.0
QUIET_DBFS = -50.0          # loud end (95th percentile frame level) below this: very quiet
CLIPPED_FRACTION = 0.005    # > 0.5 % of samples at full scale: clipped
MAX_WORDS_PER_S = 8.0       # read speech is ~2-5 words per second of speech
MIN_WORDS_PER_S = 0.3
MIN_SPEECH_S = 5.0
SPEECH_LEVEL = 0.3          # loudness envelope (0..1) from which a frame counts as speech
# The right transcript scores above about -23 (real and synthetic clean speech; 2 % of clips
# at 10 dB SNR fall below), another utterance's below -25 in 96 % of cases (docs/robustness.md).
MIN_TRANSCRIPT_FIT = -25.0
# A forced word path this good on its own needs no comparison: every wrong transcript
# measured scored below -24 per frame (clean or at 10 dB SNR), most right ones of real
# speech above -15; the free-recognition pass (~30 ms CPU per s) then runs only for the rest.
SURE_FORCED_SCORE = -15.0


def input_warnings(audio: Audio, alignment: Alignment | None = None) -> list[str]:
    """One-line warnings about the audio and how the transcript fits it (empty when fine).

    alignment: the transcript's alignment, or None when there is no transcript."""

    samples = np.asarray(audio.samples)
    if samples.size == 0 or not np.any(samples):
        # Without a transcript (alignment None) nothing is guessed from one: the engine's own
        # note says where the curves come from, and this one must not contradict it.
        return ["audio is digital silence (every sample is 0): there is no speech to follow"
                + ("; any mouth motion is guessed from the transcript alone"
                   if alignment is not None else "")]
    out: list[str] = []
    db = intensity_db(audio, ANALYSIS_FPS)
    hi = float(np.percentile(db, LOUD_PERCENTILE))
    lo = max(float(np.percentile(db, FLOOR_PERCENTILE)), hi - DYNAMIC_RANGE_DB)
    no_speech = hi - lo < MIN_RANGE_DB
    if no_speech:
        out.append(f"no speech found: the audio's level never changes by {MIN_RANGE_DB:g} dB "
                   "(silence, steady noise or a tone); any mouth motion is guessed")
    elif hi < QUIET_DBFS:
        out.append(f"audio is very quiet (its loud end is {hi:.0f} dBFS): alignment may be "
                   "poor; normalise it (speech peaks near -20 dBFS) for a better result")
    if audio.misread:
        # Repaired exactly on loading (voxface.core.bytealign); the user should still know the
        # file is damaged, since other tools will play it as noise.
        out.append("audio file's 16-bit samples are misread at "
                   f"{bytealign.describe(audio.misread)} (a byte lost or gained in the file, "
                   "or the wrong byte order: it plays as loud noise there); repaired exactly "
                   "for this run, re-export the file to fix it for other tools")
    if overflow.is_wrapped(audio.samples):
        # Wrapped, not clipped: full-scale jumps between neighbouring samples. The aligner
        # names the ranges when it aligned a transcript; otherwise say it here.
        if alignment is None or not any("integer overflow" in w for w in alignment.warnings):
            spans = overflow.wrapped_spans(audio.samples, audio.sample_rate)
            out.append("audio looks wrapped by integer overflow (a gain raised past full "
                       f"scale) at {overflow.describe(spans)}: the loud stretches are noise "
                       "to the aligner and the model; re-export it without the gain boost")
    elif audio.clipped > CLIPPED_FRACTION:
        out.append(f"audio is clipped: {100 * audio.clipped:.1f}% of its samples are at full "
                   "scale; lower the recording level if you can (loudness drives the jaw)")
    if alignment is not None and alignment.words and not no_speech:
        env = np.clip((db - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
        speech_s = float(np.count_nonzero(env >= SPEECH_LEVEL)) / ANALYSIS_FPS
        n = len(alignment.words)
        rate = n / speech_s if speech_s > 0 else float("inf")
        if rate > MAX_WORDS_PER_S or (speech_s >= MIN_SPEECH_S and rate < MIN_WORDS_PER_S):
            out.append(f"transcript may not match the audio: {n} words for {speech_s:.1f} s of "
                       f"speech ({rate:.1f} words/s; speech runs at 2-5): check that the "
                       "transcript is this recording's")
        elif alignment.source.startswith("pocketsphinx"):
            fit = transcript_fit(audio, alignment, sure=SURE_FORCED_SCORE)
            if fit is not None and fit < MIN_TRANSCRIPT_FIT:
                out.append(f"transcript may not match the audio: the words do not fit the "
                           f"sounds (acoustic fit {fit:.0f} against free phone recognition; "
                           f"a matching transcript scores above {MIN_TRANSCRIPT_FIT:.0f}): "
                           "check that the transcript is this recording's")
    return out
