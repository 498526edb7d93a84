"""`animate`: the command line. One module per subcommand (`animate AUDIO` is
`voxface.cli.animate`); the animation options that `animate` and `animate batch` share are
declared once in `voxface.cli.options`. This module dispatches and is the one error edge.

Exit codes: 0 success; 2 bad input or usage (one line on stderr naming the file and problem);
1 internal error (`VOXFACE_DEBUG=1` shows the traceback).
"""

from __future__ import annotations

import os
import sys

from voxface.cli import animate, batch, blender_addon, export_model, rig, train, view
from voxface.cli import eval as eval_  # the module; `eval` would shadow the builtin
from voxface.cli.animate import build_parser as _build_animate_parser
from voxface.cli.common import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK
from voxface.core.errors import InputError, VoxfaceError

__all__ = ["main", "build_parser", "SUBCOMMANDS", "EXIT_OK", "EXIT_INPUT", "EXIT_INTERNAL"]

# `animate NAME ...` -> the module whose run(argv) handles it; `animate --help` lists each with
# its module's USAGE and SUMMARY, in this order.
SUBCOMMANDS = {
    "batch": batch,
    "view": view,
    "rig": rig,
    "blender-addon": blender_addon,
    "eval": eval_,
    "train": train,
    "export-model": export_model,
}


def _summaries() -> dict[str, tuple[str, str]]:
    return {name: (module.USAGE, module.SUMMARY) for name, module in SUBCOMMANDS.items()}


def build_parser():
    """The parser of `animate AUDIO ...`, its help listing every subcommand."""
    return _build_animate_parser(_summaries())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return SUBCOMMANDS[argv[0]].run(argv[1:])
        return animate.run(argv, _summaries())
    except InputError as exc:
        print(f"animate: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except VoxfaceError as exc:
        print(f"animate: error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("animate: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal bug: one line, full traceback only on request
        if os.environ.get("VOXFACE_DEBUG"):
            raise
        print(f"animate: internal error: {type(exc).__name__}: {exc} "
              "(set VOXFACE_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL
