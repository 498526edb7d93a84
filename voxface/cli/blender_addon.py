"""`animate blender-addon [-o ZIP]`: write the Blender add-on as an installable zip."""

from __future__ import annotations

import sys

from voxface.cli.common import EXIT_OK, Parser
from voxface.exporters.blender import build_addon_zip


def build_parser() -> Parser:
    p = Parser(prog="animate blender-addon",
               description="Write the voxface lipsync Blender add-on as an installable zip "
                           "(Blender: Edit > Preferences > Add-ons > Install from Disk). See "
                           "docs/blender.md.")
    p.add_argument("-o", "--output", default="voxface_lipsync.zip",
                   help="output .zip (default: voxface_lipsync.zip)")
    return p


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    out = build_addon_zip(args.output)
    print(f"animate: wrote {out}", file=sys.stderr)
    return EXIT_OK
