"""`animate`: the command line. One module per subcommand (`animate AUDIO` itself is
`voxface.cli.animate`), each with `run(argv) -> exit code`; the animation options that
`animate` and `animate batch` share are declared once in `voxface.cli.options`. This module
dispatches and is the one error edge.

Exit codes: 0 success; 2 bad input or usage (one line on stderr naming the file and problem);
1 internal error (`VOXFACE_DEBUG=1` shows the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NamedTuple

from voxface.cli.common import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK
from voxface.core.errors import InputError, VoxfaceError

__all__ = ["main", "build_parser", "SUBCOMMANDS", "EXIT_OK", "EXIT_INPUT", "EXIT_INTERNAL"]


class Subcommand(NamedTuple):
    module: str   # voxface.cli.<module> has run(argv) -> exit code
    usage: str    # its arguments, for `animate --help`
    summary: str  # what it does, one line


# `animate NAME ...`; `animate --help` lists them in this order. Each module is imported only
# when its command runs, so one command does not pay for the others' imports (the rig builder,
# the web viewer, the Blender exporter, ...) at start-up.
SUBCOMMANDS: dict[str, Subcommand] = {
    "say": Subcommand("say", '"TEXT" [-o OUTDIR] [--voice V] [--rate WPM] [--name STEM] '
                             "[options]",
                      "speak the text with espeak-ng and animate it from the synthesiser's "
                      "exact phone events (tags such as [happy] set emotions)"),
    "batch": Subcommand("batch", "INPUT_DIR -o OUTDIR [--workers N] [--backend local|ray] "
                                 "[options]",
                        "animate every audio file under a folder, with the options of "
                        "`animate AUDIO`"),
    "serve": Subcommand("serve", "[--host 127.0.0.1] [--port 8765] [--token T] "
                                 "[--livelink HOST:PORT]",
                        "stream live animation over WebSocket: PCM or text in, frames out "
                        "(docs/live.md)"),
    "listen": Subcommand("listen", "ws://HOST:PORT AUDIO [-o frames.json] [--realtime]",
                         "the reference client of `animate serve`, with latency statistics"),
    "view": Subcommand("view", "OUTDIR [--glb G] [--audio A]",
                       "write a web page that plays the animated head with its speech"),
    "rig": Subcommand("rig", "build [-o PATH] [--identity pcN=v,...|random --seed N] | inspect RIG "
                             "[--map NAMES_JSON]",
                      "rebuild the bundled fitme head; show how a rig's morph targets are "
                      "driven"),
    "blender-addon": Subcommand("blender_addon", "[-o ZIP]",
                                "write the Blender add-on (docs/blender.md)"),
    "eval": Subcommand("eval", "[--quick]",
                       "write the fidelity report (docs/eval.md; from a source checkout)"),
    "train": Subcommand("train", "[-o CHECKPOINT]",
                        "retrain the neural model (docs/neural.md; from a source checkout)"),
    "export-model": Subcommand("export_model", "--format coreml|onnx -o PATH",
                               "export the neural model for apps (docs/ios_model.md)"),
}


def _command(module: str):
    return importlib.import_module(f"voxface.cli.{module}")


def _summaries() -> dict[str, tuple[str, str]]:
    return {name: (cmd.usage, cmd.summary) for name, cmd in SUBCOMMANDS.items()}


def build_parser() -> argparse.ArgumentParser:
    """The parser of `animate AUDIO ...`, its help listing every subcommand."""
    return _command("animate").build_parser(_summaries())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return _command(SUBCOMMANDS[argv[0]].module).run(argv[1:])
        return _command("animate").run(argv, _summaries())
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
