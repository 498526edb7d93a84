"""`animate batch INPUT_DIR -o OUTDIR ...`: every audio file of a folder (voxface.batch), with
the same animation options as `animate AUDIO`. Exit 0 when every input succeeded (or was up to
date), 2 when some had bad input, 1 on an internal error."""

from __future__ import annotations

import os
import sys

from voxface.batch import print_failures, run_batch, summary_line
from voxface.cli.common import Parser, warn
from voxface.cli.options import add_animation_options, options_from_args
from voxface.core.errors import InputError


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def build_parser() -> Parser:
    p = Parser(prog="animate batch",
               description="Animate every audio file under INPUT_DIR (recursively) into "
                           "OUTDIR, mirroring the folder layout. Each clip's transcript is its "
                           "sidecar <stem>.txt or .lab; a clip without one is animated from "
                           "the audio alone by the neural engine (or, without "
                           "'voxface[neural]', from phones recognised without a transcript, "
                           "lower quality), with a warning. The animation options are those "
                           "of `animate AUDIO`. Warnings and failures are printed on stderr "
                           "and recorded in OUTDIR/manifest.json, and the batch goes on; "
                           "re-running skips inputs whose outputs are up to date.")
    p.add_argument("input_dir", help="folder of speech audio (wav, flac, ogg/opus, mp3, aiff)")
    p.add_argument("-o", "--outdir", required=True, help="output folder (created)")
    add_animation_options(p, single_file=False)
    p.add_argument("--workers", type=int, default=_cpus(),
                   help="parallel worker processes (default: the CPUs available)")
    p.add_argument("--backend", default="local", choices=("local", "ray"),
                   help="local: a process pool here; ray: a Ray cluster (pip install "
                        "'voxface[ray]')")
    p.add_argument("--address", default=None,
                   help="Ray cluster address HOST:6379 (default: start a local Ray instance)")
    p.add_argument("--no-recursive", action="store_true", help="do not search subfolders")
    p.add_argument("--force", action="store_true", help="redo inputs that are up to date")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return p


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    options = options_from_args(args)
    if args.address is not None and args.backend != "ray":
        raise InputError("--address is only used with --backend ray")
    report = run_batch(args.input_dir, args.outdir, options, workers=args.workers,
                       backend=args.backend, address=args.address,
                       recursive=not args.no_recursive, force=args.force,
                       progress=None if args.quiet else sys.stderr, warn=warn)
    print_failures(report)
    if not args.quiet or report.exit_code:
        print(summary_line(report), file=sys.stderr)
    return report.exit_code
