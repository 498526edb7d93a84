"""What every `animate` subcommand shares: exit codes, the argument parser that turns usage
errors into one-line InputErrors, and the progress printer."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Callable

from voxface.core.errors import InputError

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse that raises InputError (so usage errors are one line, exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{self.prog}: {message} (see --help)")


def progress_printer(quiet: bool) -> Callable[[str, float, str], None]:
    """A `pipeline.animate` progress callback: one stderr line per stage (none when quiet)."""
    def report(stage: str, seconds: float, detail: str) -> None:
        if not quiet:
            print(f"animate: {stage:<8s} {seconds:6.2f} s  {detail}", file=sys.stderr, flush=True)

    return report


def warn(message: str) -> None:
    """One `animate: warning:` line on stderr."""
    print(f"animate: warning: {message}", file=sys.stderr)


def dev_tool(module: str, command: str):
    """A developer tool from `tools/` in the source checkout (not part of the installed package),
    imported by name: `dev_tool("tools.evaluate", "animate eval").main(argv)`.

    Raises InputError when voxface runs from an installed wheel, where `tools/` does not exist.
    """
    root = Path(__file__).resolve().parents[2]  # voxface/cli/common.py -> the checkout
    if not (root / "tools" / "__init__.py").is_file():
        raise InputError(f"{command} is a developer command: run it from a source checkout of "
                         "voxface (pip install -e .), which has the tools/ folder")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(module)
