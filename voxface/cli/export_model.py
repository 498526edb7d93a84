"""`animate export-model --format coreml|onnx -o PATH`: the neural model for apps."""

from __future__ import annotations

from voxface.core.errors import MissingDependencyError
from voxface.engine.neural import available


def run(argv: list[str]) -> int:
    if not available():
        raise MissingDependencyError("animate export-model: needs torch (pip install "
                                     "'voxface[export]')")
    # Imports torch at its top: only when this command runs.
    from voxface.exporters.model_export import main

    return main(argv)
