"""`animate eval [--quick]`: the fidelity report (tools/evaluate.py; a source checkout only)."""

from __future__ import annotations

from voxface.cli.common import dev_tool


def run(argv: list[str]) -> int:
    return dev_tool("tools.evaluate", "animate eval").main(argv)
