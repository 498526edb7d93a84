"""The one error hierarchy. The CLI maps `InputError` to exit code 2, anything else to 1."""

from __future__ import annotations


class VoxfaceError(Exception):
    """Base class of every error the project raises on purpose."""


class InputError(VoxfaceError):
    """Bad input from the user: a file that cannot be read, a bad option, a rig with no match.

    The message is one line naming the file (or option) and the problem, and what is available.
    """

    def __init__(self, message: str, *, path: object | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)


class AlignmentError(VoxfaceError):
    """The aligner could not place the transcript on the audio (after every fallback)."""


class MissingDependencyError(InputError):
    """An optional tool or extra the user asked for is not installed (e.g. `mfa`, `torch`)."""
