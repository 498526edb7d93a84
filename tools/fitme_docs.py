"""Regenerate every docs image of the fitme head (and the RPM before/after) in one command:

    python -m tools.fitme_docs            # writes into docs/

- docs/fitme.png                neutral head: front, three-quarter and profile
- docs/fitme_contact_sheet.png  neutral + the 52 ARKit shapes at weight 1, labelled
- docs/fitme_identity.png       identity morphs (id_*) at -1 / +1, and a mixed identity
- docs/visemes_strip.png        the 15 Oculus viseme targets (lower face)
- docs/rpm_before_after.png     Ready Player Me avatar (../shared/assets/rigs/rpm_brunette.glb):
                                neutral vs the frames of a real `animate` run on
                                assets/example.wav at an AA/AY vowel and at an M

Renders use the numpy software rasterizer in rigs/render.py (pillow for PNG and textures).
The RPM image is skipped, with a message, when the avatar is not there.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from voxface.core.names import ARKIT_52, OCULUS_15
from voxface.rigs.fitme import IDENTITY_NAMES, identity_cli_name
from voxface.rigs.gltf_io import read_accessor, read_glb
from voxface.rigs.render import (
    contact_sheet,
    frame_target,
    load_glb,
    pose_meshes,
    render_meshes,
    save_png,
)

ROOT = Path(__file__).resolve().parents[1]
RPM = ROOT.parent / "shared" / "assets" / "rigs" / "rpm_brunette.glb"
EXAMPLE = ROOT / "assets" / "example.wav"


def _label(img: np.ndarray, text: str, size: int = 14) -> np.ndarray:
    """A copy of img [H,W,3] with a dark caption bar of `text` on top."""
    from PIL import Image, ImageDraw

    bar = Image.new("RGB", (img.shape[1], size + 4), (30, 30, 34))
    ImageDraw.Draw(bar).text((4, 2), text, fill=(235, 235, 235))
    return np.concatenate([np.asarray(bar), img], axis=0)


def hero(glb: Path, out: Path, size: int = 400) -> Path:
    """Neutral head from the front, at three-quarters and in profile."""
    meshes = load_glb(glb)
    target, hh = frame_target(meshes)
    face = target + np.array([0.0, -0.06, 0.3]) * hh
    posed = pose_meshes(meshes, {})
    prof = target + np.array([0.0, -0.06, 0.12]) * hh
    views = [render_meshes(posed, size, yaw, 4.0, t, hh, 0.95)
             for yaw, t in ((0.0, face), (35.0, face), (90.0, prof))]
    save_png(np.concatenate(views, axis=1), out)
    return out


def identity_sheet(glb: Path, out: Path, tile: int = 190) -> Path:
    """Each id_* morph at -1 and +1 (front, or profile for lengths/protrusions), plus a mix."""
    meshes = load_glb(glb)
    target, hh = frame_target(meshes)
    face = target + np.array([0.0, -0.06, 0.3]) * hh
    side = {"id_noseLength", "id_chinProtrusion", "id_headLength", "id_browRidge"}
    prof = target + np.array([0.0, -0.06, 0.0]) * hh
    cols = []
    for name in IDENTITY_NAMES:
        yaw, tgt = (90.0, prof) if name in side else (0.0, face)
        pair = [_label(render_meshes(pose_meshes(meshes, {name: w}), tile, yaw, 4.0, tgt, hh, 0.95),
                       f"{identity_cli_name(name)} {w:+.0f}") for w in (-1.0, 1.0)]
        cols.append(np.concatenate(pair, axis=0))
    mix = {"id_faceWidth": 0.6, "id_jawWidth": 0.8, "id_noseWidth": 0.7, "id_lipFullness": 0.8,
           "id_browRidge": 1.0, "id_cheekFullness": -0.6}
    pair = [_label(render_meshes(pose_meshes(meshes, mix), tile, 0.0, 4.0, face, hh, 0.95), "mixed identity"),
            _label(render_meshes(pose_meshes(meshes, {**mix, "jawOpen": 0.5, "mouthSmileLeft": 0.6,
                                                      "mouthSmileRight": 0.6}), tile, 25.0, 4.0, face, hh, 0.95),
                   "mixed + jawOpen .5 + smile .6")]
    cols.append(np.concatenate(pair, axis=0))
    rows = [np.concatenate(cols[:6], axis=1), np.concatenate(cols[6:], axis=1)]
    save_png(np.concatenate(rows, axis=0), out)
    return out


def visemes_strip(glb: Path, out: Path, tile: int = 180) -> Path:
    """The 15 Oculus viseme targets on the lower face, labelled, in two rows (8 + 7 and a
    three-quarter view of the open 'aa')."""
    meshes = load_glb(glb)
    target, hh = frame_target(meshes)
    low = target + np.array([0.0, -0.3, 0.5]) * hh
    tiles = [_label(render_meshes(pose_meshes(meshes, {v: 1.0}), tile, 0.0, 2.0, low, hh, 2.2), v)
             for v in OCULUS_15]
    tiles.append(_label(render_meshes(pose_meshes(meshes, {"viseme_aa": 1.0}), tile, 35.0, 2.0, low, hh, 2.2),
                        "viseme_aa, 3/4 view"))
    save_png(np.concatenate([np.concatenate(tiles[:8], axis=1), np.concatenate(tiles[8:], axis=1)], axis=0), out)
    return out


def _animated_weights(glb: Path, frame: int) -> dict[str, dict[str, float]]:
    """{mesh name: {target name: weight}} of the first animation of `glb` at key `frame`."""
    doc, blob = read_glb(glb)
    anim = doc["animations"][0]
    out: dict[str, dict[str, float]] = {}
    for ch in anim["channels"]:
        if ch["target"]["path"] != "weights":
            continue
        mesh = doc["meshes"][doc["nodes"][ch["target"]["node"]]["mesh"]]
        names = (mesh.get("extras") or {}).get("targetNames", [])
        vals = read_accessor(doc, (blob,), anim["samplers"][ch["sampler"]]["output"])
        vals = vals.reshape(-1, len(names))
        row = vals[min(frame, len(vals) - 1)]
        out[mesh["name"]] = {n: float(w) for n, w in zip(names, row) if w}
    return out


def _pose_by_mesh(meshes, weights: dict[str, dict[str, float]]):
    posed = []
    for m in meshes:
        w = weights.get(m.name.rsplit("/", 1)[0], {})
        posed.extend(pose_meshes([m], w))
    return posed


def rpm_before_after(out: Path, rpm: Path = RPM, audio: Path = EXAMPLE, size: int = 360) -> Path | None:
    """Neutral RPM head vs frames of an actual `animate` run at an AA/AY vowel and at an M."""
    if not rpm.exists():
        print(f"fitme_docs: {rpm} not found; skipping {out.name}", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "voxface.cli", str(audio), "--rig", str(rpm), "-o", tmp,
                        "--format", "glb,json", "-q"], check=True)
        doc = json.loads((Path(tmp) / f"{audio.stem}.json").read_text())
        fps = doc["fps"]

        def pick(prefixes: tuple[str, ...]) -> tuple[str, int]:
            ph = [p for p in doc["phones"] if p["phone"].rstrip("012") in prefixes]
            best = max(ph, key=lambda p: p["end"] - p["start"])  # the longest one: clearest pose
            return best["phone"], round((best["start"] + best["end"]) / 2 * fps)

        (ah, f_ah), (mm, f_m) = pick(("AA", "AY")), pick(("M",))
        glb = Path(tmp) / f"{audio.stem}.glb"
        w_ah, w_m = _animated_weights(glb, f_ah), _animated_weights(glb, f_m)
    meshes = load_glb(rpm)
    target, hh = frame_target(meshes)
    face = target + np.array([0.0, -0.05, 0.2]) * hh
    words = {p: [w["word"] for w in doc["words"] if w["start"] <= f / fps <= w["end"]]
             for p, f in ((ah, f_ah), (mm, f_m))}
    panels = [("neutral (bind pose)", {}),
              (f"{ah} in '{' '.join(words[ah])}' (frame {f_ah})", w_ah),
              (f"{mm} in '{' '.join(words[mm])}' (frame {f_m})", w_m)]
    tiles = [_label(render_meshes(_pose_by_mesh(meshes, w), size, 0.0, 2.0, face, hh, 1.6), t)
             for t, w in panels]
    save_png(np.concatenate(tiles, axis=1), out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.fitme_docs", description=__doc__.split("\n")[0])
    p.add_argument("--glb", default=str(ROOT / "assets" / "fitme.glb"), help="fitme head to render")
    p.add_argument("--docs", default=str(ROOT / "docs"), help="output folder")
    p.add_argument("--rpm", default=str(RPM), help="Ready Player Me avatar for rpm_before_after.png")
    p.add_argument("--only", default="", help="comma list of: hero,sheet,identity,visemes,rpm")
    a = p.parse_args(argv)
    glb, docs = Path(a.glb), Path(a.docs)
    docs.mkdir(parents=True, exist_ok=True)
    only = set(filter(None, a.only.split(","))) or {"hero", "sheet", "identity", "visemes", "rpm"}
    done = []
    if "hero" in only:
        done.append(hero(glb, docs / "fitme.png"))
    if "sheet" in only:
        img = contact_sheet(glb, list(ARKIT_52), tile=170, cols=9, zoom=1.5, offset=(0.0, -0.18, 0.5))
        save_png(img, docs / "fitme_contact_sheet.png")
        done.append(docs / "fitme_contact_sheet.png")
    if "identity" in only:
        done.append(identity_sheet(glb, docs / "fitme_identity.png"))
    if "visemes" in only:
        done.append(visemes_strip(glb, docs / "visemes_strip.png"))
    if "rpm" in only:
        done.append(rpm_before_after(docs / "rpm_before_after.png", Path(a.rpm)))
    for d in done:
        if d is not None:
            print(f"fitme_docs: wrote {d}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
