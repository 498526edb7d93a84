"""voxface: speech -> phone timings -> ARKit blendshape curves -> an animated glTF head.

The library is a few calls, one per pipeline stage::

    from voxface.core.audio import load_audio
    from voxface.phonemes.align import align
    from voxface.engine.coarticulation import curves_from_alignment
    audio = load_audio("speech.wav")
    alignment = align(audio, "hello world")
    curves = curves_from_alignment(alignment, audio, fps=60)
"""

__version__ = "0.1.0"
