"""voxface: speech -> phone timings -> ARKit blendshape curves -> an animated glTF head.

The library is a few calls, one per pipeline stage::

    from voxface.core.audio import load_audio
    from voxface.phonemes.align import align
    from voxface.engine.coarticulation import curves_from_alignment
    audio = load_audio("speech.wav")
    alignment = align(audio, "hello world")
    curves = curves_from_alignment(alignment, audio, fps=60)

and from text alone: ``voxface.say("[happy] Well done!", outdir="out")``.
"""

__version__ = "0.1.0"


def say(text: str, **options):
    """Speak `text` with espeak-ng and animate it: `voxface.speak.say` (the same as
    `animate say`). `voxface.say("[happy] Well done!", outdir="out")` writes out/say.wav,
    .json, .glb, .csv, .TextGrid and returns a `voxface.speak.Said`."""
    from voxface.speak import say as _say

    return _say(text, **options)
