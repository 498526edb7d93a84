"""Regenerate every docs image of the fitme head (and the RPM before/after) in one command:

    python -m tools.fitme_docs            # writes into docs/

- docs/fitme.png                neutral head: front, three-quarter and profile
- docs/fitme_contact_sheet.png  neutral + the 52 ARKit shapes at weight 1, labelled
- docs/fitme_identity.png       six random identities (`--identity random --seed 1..6`)
- docs/visemes_strip.png        the 15 Oculus viseme targets (lower face)
- docs/fitme_old_new.png        the procedural head fitme v1 (from git history) beside v2
- docs/rpm_before_after.png     Ready Player Me avatar (../shared/assets/rigs/rpm_brunette.glb):
                                neutral vs the frames of a real `animate` run on
                                assets/example.wav at an AA/AY vowel and at an M
- docs/rpm_preview.png          frames of the `--preview` renderer (pyrender) on the same run:
                                textures sampled, head turned by the animation's bones

Renders use the numpy software rasterizer in voxface/rigs/render.py (pillow for PNG and
textures), except rpm_preview.png (pyrender, needs the preview extra). The RPM images are
skipped, with a message, when the avatar is not there.
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


def identity_sheet(out: Path, tile: int = 220, seeds=range(1, 7)) -> Path:
    """Six random people (`animate rig build --identity random --seed N`): front and 3/4."""
    from voxface.rigs.fitme import build_fitme, random_identity

    cols = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            p = Path(tmp) / f"id{seed}.glb"
            build_fitme(p, random_identity(seed))
            meshes = load_glb(p)
            target, hh = frame_target(meshes)
            face = target + np.array([0.0, 0.02, 0.3]) * hh
            posed = pose_meshes(meshes, {})
            front = _label(render_meshes(posed, tile, 0.0, 4.0, face, hh, 1.0), f"--seed {seed}")
            side = render_meshes(pose_meshes(meshes, {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5}),
                                 tile, 35.0, 4.0, face, hh, 1.0)
            cols.append(np.concatenate([front, side], axis=0))
    save_png(np.concatenate(cols, axis=1), out)
    return out


def old_new(glb: Path, out: Path, size: int = 360) -> Path | None:
    """fitme v1 (the procedural head, read from git history) beside the current head."""
    try:
        rev = subprocess.run(["git", "rev-list", "-1", "HEAD", "--", "rigs/fitme_geom.py"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()
        old = subprocess.run(["git", "show", f"{rev}^:assets/fitme.glb"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        print("fitme_docs: no git history with the v1 head; skipping " + out.name, file=sys.stderr)
        return None
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "v1.glb"
        p.write_bytes(old)
        for path, label in ((p, "fitme v1 (procedural)"), (glb, "fitme v2 (ICT FaceKit scan)")):
            meshes = load_glb(path)
            target, hh = frame_target(meshes)
            face = target + np.array([0.0, 0.0, 0.3]) * hh
            posed = pose_meshes(meshes, {})
            tiles.append(_label(np.concatenate([render_meshes(posed, size, yaw, 4.0, face, hh, 0.95)
                                                for yaw in (0.0, 35.0)], axis=1), label))
    save_png(np.concatenate(tiles, axis=1), out)
    return out


def rpm_preview(out: Path, rpm: Path = RPM, audio: Path = EXAMPLE, size: int = 360) -> Path | None:
    """Three frames of the pyrender `--preview` of an `animate` run on the RPM avatar: the
    first, the one with the head turned furthest, and mid-vowel."""
    if not rpm.exists():
        print(f"fitme_docs: {rpm} not found; skipping {out.name}", file=sys.stderr)
        return None
    from voxface.pipeline import animate
    from voxface.exporters import preview as P

    txt = audio.with_suffix(".txt")
    anim = animate(audio, transcript=txt.read_text() if txt.is_file() else None, rig_path=rpm, fps=30.0)
    scene = P.build_scene(P._animated_glb(anim), fps=anim.curves.fps, duration=anim.curves.duration)
    rot = anim.curves.extras.get("rotations")
    turn, deg = 0, 0.0
    if rot is not None and "HeadYaw" in rot.names:
        ang = np.sqrt(sum(rot.column(n)[:scene.n_frames].astype(np.float64) ** 2
                          for n in ("HeadYaw", "HeadPitch", "HeadRoll")))
        turn, deg = int(np.argmax(ang)), float(np.rad2deg(ang.max()))
    jaw = anim.curves.column("jawOpen")[:scene.n_frames] if "jawOpen" in anim.curves.names else None
    mid = int(np.argmax(jaw)) if jaw is not None else scene.n_frames // 2
    r = P.GLRenderer(scene, size)
    try:
        tiles = [_label(r.frame(i), f"{what} (frame {i})")
                 for what, i in (("first frame", 0), (f"head turned most, {deg:.1f} deg", turn),
                                 ("widest jaw", mid))]
    finally:
        r.close()
    save_png(np.concatenate(tiles, axis=1), out)
    return out


def visemes_strip(glb: Path, out: Path, tile: int = 180) -> Path:
    """The 15 Oculus viseme targets on the lower face, labelled, in two rows (8 + 7 and a
    three-quarter view of the open 'aa')."""
    meshes = load_glb(glb)
    target, hh = frame_target(meshes)
    low = target + np.array([0.0, -0.1, 0.5]) * hh
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
    p.add_argument("--only", default="",
                   help="comma list of: hero,sheet,identity,visemes,oldnew,rpm,rpmpreview")
    a = p.parse_args(argv)
    glb, docs = Path(a.glb), Path(a.docs)
    docs.mkdir(parents=True, exist_ok=True)
    only = set(filter(None, a.only.split(","))) or {"hero", "sheet", "identity", "visemes", "oldnew",
                                                    "rpm", "rpmpreview"}
    done = []
    if "hero" in only:
        done.append(hero(glb, docs / "fitme.png"))
    if "sheet" in only:
        img = contact_sheet(glb, list(ARKIT_52), tile=170, cols=9, zoom=1.5, offset=(0.0, -0.18, 0.5))
        save_png(img, docs / "fitme_contact_sheet.png")
        done.append(docs / "fitme_contact_sheet.png")
    if "identity" in only:
        done.append(identity_sheet(docs / "fitme_identity.png"))
    if "visemes" in only:
        done.append(visemes_strip(glb, docs / "visemes_strip.png"))
    if "oldnew" in only:
        done.append(old_new(glb, docs / "fitme_old_new.png"))
    if "rpm" in only:
        done.append(rpm_before_after(docs / "rpm_before_after.png", Path(a.rpm)))
    if "rpmpreview" in only:
        done.append(rpm_preview(docs / "rpm_preview.png", Path(a.rpm)))
    for d in done:
        if d is not None:
            print(f"fitme_docs: wrote {d}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
