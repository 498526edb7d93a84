"""`animate train ...`: retrain the neural model (tools/neural/train.py; a source checkout
with torch only)."""

from __future__ import annotations

from voxface.cli.common import dev_tool
from voxface.core.errors import MissingDependencyError
from voxface.engine.neural import available


def run(argv: list[str]) -> int:
    if not available():
        raise MissingDependencyError("animate train: needs torch (pip install "
                                     "'voxface[neural]')")
    return dev_tool("tools.neural.train", "animate train").main(argv)
