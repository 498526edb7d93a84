"""`animate rig build|inspect`: rebuild the bundled fitme head; show how a rig is driven."""

from __future__ import annotations

import sys
from pathlib import Path

from voxface.assets import asset_path
from voxface.cli.common import EXIT_OK, Parser
from voxface.rigs.fitme import build_fitme, parse_identity
from voxface.rigs.inspect import inspect_rig_text


def build_parser() -> Parser:
    p = Parser(prog="animate rig", description="Rig tools.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=Parser)
    b = sub.add_parser("build", help="build the fitme head (deterministic)")
    b.add_argument("-o", "--output", default=None,
                   help="output .glb (default: the bundled assets/fitme.glb)")
    b.add_argument("--identity", default="",
                   help="identity to bake: principal components of the scanned ICT FaceKit "
                        "population in standard deviations, e.g. pc0=1.5,pc3=-0.8 (pc0 ... "
                        "pc19), or 'random' for a plausible new person (within +-2 SD; "
                        "see --seed)")
    b.add_argument("--seed", type=int, default=None,
                   help="seed of --identity random (default 0)")
    i = sub.add_parser("inspect", help="list each mesh's morph targets and how voxface "
                                       "drives them")
    i.add_argument("rig", help="glTF 2.0 rig (.glb, .gltf or .vrm)")
    i.add_argument("--map", metavar="NAMES_JSON", help="target name -> ARKit name map, as for "
                                                       "`animate --map`")
    return p


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.cmd == "inspect":
        print(inspect_rig_text(args.rig, name_map_path=args.map), end="")
        return EXIT_OK
    out = Path(asset_path("fitme.glb")) if args.output is None else Path(args.output)
    identity = parse_identity(args.identity, args.seed)  # pc3 -> id_pc3; unknown: exit 2
    out.parent.mkdir(parents=True, exist_ok=True)
    build_fitme(out, identity=identity or None)
    print(f"animate: wrote {out}", file=sys.stderr)
    return EXIT_OK
