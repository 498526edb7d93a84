"""Speaking-style presets: JALI-style jaw and lip intensities plus motion settings.

A style scales the two articulation axes of JALI (Edwards et al., SIGGRAPH 2016) separately:
`jaw` multiplies how far the jaw opens from rest, `lips` how far the lip shapes (seal, press,
roll, round, spread) move from rest; both 0..2, 1 = as the pose table says. The audio then
modulates both per frame (louder -> wider jaw; brighter, more effortful voice -> stronger lips;
voxface.engine.prosody). Hard lip constraints (p/b/m closure, f/v contact) hold in every style.
The baseline they scale is physiological: at 1.0 the pose table (engine/poses.py) lands
conversational speech in published jaw and lip ranges in millimetres (docs/phoneme_poses.md),
so the presets are departures from a real speaker's conversational motion.

`animate --style NAME` picks a preset; `--jaw` / `--lips` override its intensities.
docs/styles.md shows each preset with before/after plots.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from voxface.core.errors import InputError


@dataclass(frozen=True)
class Style:
    """One speaking style.

    Attributes:
        jaw: jaw intensity 0..2 (1 = table poses).
        lips: lip intensity 0..2.
        smooth_s: Gaussian sigma (s) of the final smoothing; mumbled speech is smoother.
        nonverbal: scale of blinks, brows, nods and gaze (0 = none, 1 = subtle default).
        brows: extra scale on brow raises (shouting raises the brows more).
    """

    jaw: float = 1.0
    lips: float = 1.0
    smooth_s: float = 0.012
    nonverbal: float = 1.0
    brows: float = 1.0

    def with_intensities(self, jaw: float | None = None, lips: float | None = None) -> "Style":
        """This style with jaw / lips overridden where given (each checked to be 0..2)."""
        for name, v in (("--jaw", jaw), ("--lips", lips)):
            if v is not None and not (0.0 <= v <= 2.0):
                raise InputError(f"{name}: {v:g} is out of range, expected 0..2")
        return replace(self, jaw=self.jaw if jaw is None else float(jaw),
                       lips=self.lips if lips is None else float(lips))


STYLES: dict[str, Style] = {
    "neutral": Style(),
    # Clear, careful speech: lips work harder than the jaw (a presenter or a teacher).
    "articulate": Style(jaw=1.15, lips=1.45, smooth_s=0.010),
    # Low effort: small jaw, lazy lips, more blending between phones.
    "mumble": Style(jaw=0.55, lips=0.5, smooth_s=0.022, nonverbal=0.7),
    # Loud: the jaw drops far, lips stretch, brows lift on accents.
    "shout": Style(jaw=1.7, lips=1.25, smooth_s=0.010, nonverbal=1.3, brows=2.0),
}


def get_style(name: str) -> Style:
    """A preset by name; InputError listing the available ones otherwise."""
    try:
        return STYLES[name]
    except KeyError:
        raise InputError(f"--style: unknown style {name!r}; available: "
                         f"{', '.join(STYLES)}") from None
