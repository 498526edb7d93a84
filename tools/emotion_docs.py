"""docs/emotions_fitme.png: the fitme head with each emotion at intensity 1, layered on speech.

    python -m tools.emotion_docs          # writes docs/emotions_fitme.png

Three rows per emotion column, from one espeak utterance ("Maybe move a bomb.") animated with
the rule engine and `engine.emotion.apply_emotion`: the pause before speech (the expression
alone), the open vowel of "move"/"a" with the widest jaw, and the /m/ closure of "maybe" (the
lips must still be shut). Rendered with the software rasterizer (rigs/render.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from PIL import Image, ImageDraw

    from voxface.assets import asset_path
    from voxface.engine.coarticulation import curves_from_alignment
    from voxface.engine.emotion import EMOTIONS, apply_emotion
    from voxface.phonemes import espeak
    from voxface.rigs.render import frame_target, load_glb, pose_meshes, render_meshes

    out = Path(argv[0]) if argv else ROOT / "docs" / "emotions_fitme.png"
    syn = espeak.synthesize("Maybe move a bomb.", rate_wpm=150, pad_s=0.4)
    al = syn.alignment()
    speech = curves_from_alignment(al, syn.audio, fps=60)
    jaw = speech.names.index("jawOpen")
    m = next(p for p in al.phones if p.label == "M")
    frames = {"pause": 6, "vowel": int(np.argmax(speech.values[:, jaw])),
              "/m/ closure": int(round(0.5 * (m.start + m.end) * 60))}
    meshes = load_glb(asset_path("fitme.glb"))
    target, hh = frame_target(meshes)
    target = target + np.array([0.0, 0.1, 0.45]) * hh
    tile, label = 150, 14
    sheet = Image.new("RGB", (len(EMOTIONS) * tile + 80, len(frames) * tile + label),
                      (30, 30, 34))
    draw = ImageDraw.Draw(sheet)
    for col, emotion in enumerate(EMOTIONS):
        curves = apply_emotion(speech, al, syn.audio, spec=f"{emotion}:1")
        draw.text((80 + col * tile + 4, 1), emotion, fill=(235, 235, 235))
        for row, (name, f) in enumerate(frames.items()):
            w = {n: float(v) for n, v in zip(curves.names, curves.values[f]) if v > 1e-3}
            img = render_meshes(pose_meshes(meshes, w), tile, 0.0, 0.0, target, hh, 1.3)
            sheet.paste(Image.fromarray(img), (80 + col * tile, label + row * tile))
            if col == 0:
                draw.text((4, label + row * tile + tile // 2), name, fill=(235, 235, 235))
    sheet.save(str(out))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
