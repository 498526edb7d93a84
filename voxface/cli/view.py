"""`animate view OUTDIR [--glb G] [--audio A]`: write the web viewer into OUTDIR."""

from __future__ import annotations

import sys
from pathlib import Path

from voxface.cli.common import EXIT_OK, Parser, warn
from voxface.core.errors import InputError
from voxface.exporters.webview import find_audio, write_viewer




def build_parser() -> Parser:
    p = Parser(prog="animate view",
               description="Write a web page into OUTDIR (index.html, three.js, and copies of "
                           "the GLB and audio) that plays the animated head in sync with the "
                           "speech, with play/pause, a scrub bar and a plot of the mouth "
                           "curves. Serve it with `python -m http.server` in OUTDIR (browsers "
                           "block its scripts on file:// pages).")
    p.add_argument("outdir", help="folder to write the viewer into (usually animate's -o)")
    p.add_argument("--glb", help="animated GLB (default: the one .glb in OUTDIR)")
    p.add_argument("--audio", help="speech to play along (default: <glb stem>.wav/.flac/... "
                                   "next to the GLB, else the input audio recorded in "
                                   "<glb stem>.json; none: plays silently)")
    return p


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    outdir = Path(args.outdir)
    if args.glb is not None:
        glb = Path(args.glb)
    else:
        found = sorted(outdir.glob("*.glb")) if outdir.is_dir() else []
        if len(found) != 1:
            raise InputError(("no .glb" if not found else
                              f"{len(found)} .glb files ({', '.join(f.name for f in found)})")
                             + " in OUTDIR; pass --glb", path=outdir)
        glb = found[0]
    audio = Path(args.audio) if args.audio is not None else None
    if audio is None:
        audio = find_audio(glb)
        if audio is None:
            warn(f"no audio next to {glb} nor recorded in {glb.with_suffix('.json').name}; "
                 "the viewer plays silently (pass --audio)")
    index = write_viewer(outdir, glb, audio=audio)
    print(f"animate: wrote {index}; serve it with `python -m http.server 8000 -d {outdir}` "
          "and open http://127.0.0.1:8000/", file=sys.stderr)
    return EXIT_OK
