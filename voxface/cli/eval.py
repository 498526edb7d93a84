"""`animate eval [--quick]`: the fidelity report (tools/evaluate.py; a source checkout only)."""

from __future__ import annotations

from voxface.cli.common import dev_tool

USAGE = "[--quick]"
SUMMARY = "write the fidelity report (docs/eval.md; from a source checkout)"


def run(argv: list[str]) -> int:
    return dev_tool("tools.evaluate", "animate eval").main(argv)
