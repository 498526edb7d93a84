"""Shared fixtures. The Khronos glTF validator is required by the suite (tests/setup.sh installs
it); a test that needs it fails, rather than skips, when it is missing, unless
VOXFACE_ALLOW_NO_VALIDATOR=1 is set for a quick local run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def validate_glb():
    """A function path -> the validator's report dict (numErrors, numWarnings, messages)."""
    from voxface.core.errors import MissingDependencyError
    from voxface.rigs.validator import validate_gltf

    def run(path: Path) -> dict:
        try:
            return validate_gltf(path)
        except (FileNotFoundError, MissingDependencyError) as exc:
            if os.environ.get("VOXFACE_ALLOW_NO_VALIDATOR"):
                pytest.skip(f"glTF validator not installed: {exc}")
            raise

    return run
