"""docs/eval/styles.png: the bundled example in each speaking style (docs/styles.md).

    python -m tools.styles_docs [-o docs/eval/styles.png]

Aligns assets/example.wav with its transcript once (PocketSphinx), animates it in every
preset of engine/styles.py and plots jawOpen (with its millimetres at the incisors on the ICT
FaceKit head, tools.realface), rounding (mouthPucker + mouthFunnel) and spreading
(mouthStretch + mouthSmile, mean of the sides). Prints each style's peak jawOpen.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from voxface.core.names import ARKIT_INDEX

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from voxface.core.audio import load_audio
    from voxface.engine.coarticulation import curves_from_alignment
    from voxface.engine.styles import STYLES
    from voxface.phonemes.pocketsphinx_align import align_pocketsphinx
    from voxface.phonemes.text import normalize

    p = argparse.ArgumentParser(prog="python -m tools.styles_docs")
    p.add_argument("-o", "--output", default=str(REPO / "docs" / "eval" / "styles.png"))
    a = p.parse_args(argv)
    audio = load_audio(REPO / "assets" / "example.wav")
    text = (REPO / "assets" / "example.txt").read_text(encoding="utf-8")
    alignment = align_pocketsphinx(audio, normalize(text))
    mm_per_jaw = None
    try:
        from tools.realface import shape_table

        mm_per_jaw = dict(shape_table())["jawOpen"]["jaw"]
    except Exception:  # the head is optional: the plot is still useful without mm
        pass
    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    for name, style in STYLES.items():
        c = curves_from_alignment(alignment, audio, fps=60.0, style=style)
        v, t = c.values, c.times
        jaw = v[:, ARKIT_INDEX["jawOpen"]]
        axes[0].plot(t, jaw, label=name)
        axes[1].plot(t, v[:, ARKIT_INDEX["mouthPucker"]] + v[:, ARKIT_INDEX["mouthFunnel"]])
        axes[2].plot(t, 0.5 * (v[:, ARKIT_INDEX["mouthStretchLeft"]]
                               + v[:, ARKIT_INDEX["mouthStretchRight"]]
                               + v[:, ARKIT_INDEX["mouthSmileLeft"]]
                               + v[:, ARKIT_INDEX["mouthSmileRight"]]))
        mm = f" = {jaw.max() * mm_per_jaw:.1f} mm" if mm_per_jaw else ""
        print(f"{name}: peak jawOpen {jaw.max():.2f}{mm}")
    axes[0].set_ylabel("jawOpen")
    if mm_per_jaw:
        sec = axes[0].secondary_yaxis("right", functions=(lambda x: x * mm_per_jaw,
                                                          lambda y: y / mm_per_jaw))
        sec.set_ylabel("mm at incisors")
    axes[1].set_ylabel("pucker + funnel")
    axes[2].set_ylabel("stretch + smile")
    axes[2].set_xlabel("seconds")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper right", ncol=4, fontsize=8)
    for word in alignment.words:
        axes[0].text(0.5 * (word.start + word.end), axes[0].get_ylim()[1] * 0.95, word.label,
                     ha="center", va="top", fontsize=7)
    fig.suptitle("assets/example.wav in each style (same alignment and audio)")
    fig.tight_layout()
    out = Path(a.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
