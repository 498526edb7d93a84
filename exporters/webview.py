"""The web viewer: a self-contained folder (index.html, viewer.js, three.js, the GLB and the audio)
that plays an animated head in a browser in sync with its speech.

Everything the page loads is in the folder and referenced by relative URL; three.js is bundled
with the package (`webviewer/vendor/`, MIT), so nothing is fetched from the network. Browsers
block ES modules on file:// pages, so the folder has to be served: `python -m http.server` in it.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
from pathlib import Path

from voxface.core.errors import InputError
from voxface.rigs.gltf_io import GLB_MAGIC, parse_glb

WEBVIEWER_DIR = Path(__file__).resolve().parent / "webviewer"
_PAGE_FILES = ("index.html", "viewer.js")
_VENDOR_FILES = ("three-viewer.min.js", "LICENSE-three.txt")
# What Chromium, Firefox and Safari all decode (FLAC and Opus everywhere current; WAV PCM).
BROWSER_AUDIO = (".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".webm")
# Looked for next to the GLB, in this order, when no audio is given.
SIBLING_AUDIO = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a")


def find_audio(glb: str | Path) -> Path | None:
    """The speech to play with `glb` when none is given: `<glb stem>.wav/.flac/...` next to
    it, else the input audio the run recorded in `<glb stem>.json` (`source_audio`, relative
    to the JSON's folder; see `voxface.exporters.json_curves`) when that file still exists and
    browsers play it; None when neither is found."""
    glb = Path(glb)
    for suffix in SIBLING_AUDIO:
        if glb.with_suffix(suffix).is_file():
            return glb.with_suffix(suffix)
    recorded = glb.with_suffix(".json")
    if not recorded.is_file():
        return None
    try:
        with open(recorded, encoding="utf-8") as f:
            source = json.load(f).get("source_audio")
    except (OSError, ValueError, AttributeError):  # not ours, or not JSON: no recorded audio
        return None
    if not isinstance(source, str) or not source:
        return None
    audio = recorded.parent / source  # an absolute `source` stays absolute
    if audio.is_file() and audio.suffix.lower() in BROWSER_AUDIO:
        return audio
    return None


def glb_animations(path: Path) -> list[str]:
    """Names of the animations in a GLB (unnamed ones as 'animation_<i>').

    Raises InputError naming the file when it is not a GLB 2.0 container.
    """
    data = Path(path).read_bytes()
    if data[:4] != GLB_MAGIC:
        raise InputError("is not a GLB file (no glTF binary header)", path=path)
    doc, _ = parse_glb(data, path)  # the one GLB reader (rigs/gltf_io.py)
    return [a.get("name") or f"animation_{i}" for i, a in enumerate(doc.get("animations", []))]


def _copy_into(src: Path, outdir: Path) -> str:
    """Copy `src` into `outdir` (unless it already is that file); return its relative URL."""
    dest = outdir / src.name
    if src.name in _PAGE_FILES or src.name == "vendor":
        raise InputError(f"its name clashes with the viewer's own {src.name}; rename it",
                         path=src)
    if not (dest.exists() and dest.resolve() == src.resolve()):
        shutil.copyfile(src, dest)
    return urllib.parse.quote(src.name)


def write_viewer(outdir: str | Path, glb: str | Path, *, audio: str | Path | None = None,
                 title: str | None = None) -> Path:
    """Write the viewer into `outdir` and return the path of its index.html.

    Args:
        outdir: folder to write (created if missing); the GLB and audio are copied into it.
        glb: an animated GLB (as `animate` writes); its first animation is played (one named
            after the GLB's stem is preferred).
        audio: the speech to play along (any format the browser decodes: wav, mp3, ogg, flac,
            m4a); None plays the animation silently on a wall clock.
        title: shown on the page; default: the GLB's stem.

    Raises:
        InputError: a missing or non-GLB file, a GLB without an animation, an audio format
            browsers do not play, or an output folder that is a file.
    """
    outdir, glb = Path(outdir), Path(glb)
    if not glb.is_file():
        raise InputError("no such GLB file" if not glb.exists() else "is not a file", path=glb)
    animations = glb_animations(glb)
    if not animations:
        raise InputError("holds no animation; give the .glb that `animate` wrote", path=glb)
    audio_path = Path(audio) if audio is not None else None
    if audio_path is not None:
        if not audio_path.is_file():
            raise InputError("no such audio file" if not audio_path.exists()
                             else "is not a file", path=audio_path)
        if audio_path.suffix.lower() not in BROWSER_AUDIO:
            raise InputError(f"browsers cannot play {audio_path.suffix or 'this'} audio; "
                             f"use one of {', '.join(BROWSER_AUDIO)}", path=audio_path)
    if outdir.exists() and not outdir.is_dir():
        raise InputError("output directory is a file", path=outdir)
    outdir.mkdir(parents=True, exist_ok=True)

    vendor = outdir / "vendor"
    vendor.mkdir(exist_ok=True)
    for name in _VENDOR_FILES:
        shutil.copyfile(WEBVIEWER_DIR / "vendor" / name, vendor / name)
    shutil.copyfile(WEBVIEWER_DIR / "viewer.js", outdir / "viewer.js")
    config = {
        "glb": _copy_into(glb, outdir),
        "audio": _copy_into(audio_path, outdir) if audio_path is not None else None,
        "clip": glb.stem if glb.stem in animations else animations[0],
        "title": title if title is not None else glb.stem,
    }
    # '<' escaped so no file name can close the <script> element that holds the config.
    text = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    page = (WEBVIEWER_DIR / "index.html").read_text(encoding="utf-8")
    index = outdir / "index.html"
    index.write_text(page.replace("{{CONFIG}}", text), encoding="utf-8")
    return index
