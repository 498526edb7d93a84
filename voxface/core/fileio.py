"""File handling shared by `animate` and `animate batch`: reading the transcript an input comes
with, and writing outputs so that a failed run leaves nothing half-written.

One rule each, used by both commands (the single-file CLI and every batch backend):

* `sidecar_transcript` / `resolve_transcript`: --text, else --transcript FILE, else (unless an
  --alignment TextGrid was given) the sidecar `<audio stem>.txt` or `.lab` next to the audio.
* `write_all` (and `atomic_path` for one file): every output goes to a temporary sibling
  first; all are renamed into place only when every one was written (all or nothing). This is
  the project's one atomic writer: the exporter table (`voxface.exporters.registry`) and every
  other module that writes a file in place use it rather than renaming by hand.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from voxface.core.errors import InputError

TRANSCRIPT_SUFFIXES = (".txt", ".lab")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, else delete it.

    `write_all` for one file: the temporary file lives in the same directory so the final
    rename is atomic, and gets the permissions a plain open() would.
    """
    final = Path(path)
    with _temporaries({final: lambda tmp: None}) as temps:  # the caller writes in the block
        yield temps[final]


@contextlib.contextmanager
def _temporaries(writers: Mapping[Path, Callable[[Path], Any]]) -> Iterator[dict[Path, Path]]:
    """Make a temporary sibling per final path and call its writer on it; yield them; on a
    clean exit set their permissions and rename each onto its final path; remove any left."""
    temps: dict[Path, Path] = {}
    try:
        for final, write in writers.items():
            final = Path(final)
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part",
                                       dir=final.parent)
            os.close(fd)
            temps[final] = Path(tmp)
            write(temps[final])
        yield temps
        mode = 0o666 & ~_umask()
        for tmp in temps.values():
            os.chmod(tmp, mode)
        for final, tmp in temps.items():
            os.replace(tmp, final)
    finally:
        for tmp in temps.values():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


# ----------------------------------------------------------------------------------------------
# Transcripts


def ensure_output_dir(path: str | os.PathLike) -> Path:
    """Create the output folder `path` (and its parents) if missing; return it.

    Raises InputError naming the folder when it is a file, cannot be created (a parent is a
    file, a read-only filesystem, ...) or is not writable.
    """
    outdir = Path(path)
    if outdir.exists() and not outdir.is_dir():
        raise InputError("output directory is a file", path=outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory ({exc.strerror})", path=outdir) from None
    if not os.access(outdir, os.W_OK):
        raise InputError("output directory is not writable", path=outdir)
    return outdir


def read_text(path: str | os.PathLike, what: str = "transcript") -> str:
    """A UTF-8 text file (a BOM is dropped). InputError naming the file when it is missing,
    not a file, or not UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found" if not path.exists() else f"{what} is not a file",
                         path=path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{what} is not UTF-8 text", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read {what} ({exc.strerror or exc})", path=path) from None


def sidecar_transcript(audio: str | os.PathLike) -> Path | None:
    """`<audio stem>.txt`, else `<audio stem>.lab` beside the audio (MFA's layout), or None."""
    audio = Path(audio)
    for suffix in TRANSCRIPT_SUFFIXES:
        side = audio.with_suffix(suffix)
        if side.is_file():
            return side
    return None


def resolve_transcript(audio: str | os.PathLike, *, text: str | None = None,
                       transcript: str | os.PathLike | None = None,
                       alignment: str | os.PathLike | None = None,
                       ) -> tuple[str | None, Path | None]:
    """(transcript text, the file it came from) for one input; (None, None) when there is none.

    First found wins: `text`, the file `transcript`, nothing when an `alignment` TextGrid is
    given (it carries its own words), then the sidecar `<audio stem>.txt` / `.lab`.
    """
    if text is not None:
        return text, None
    if transcript is not None:
        p = Path(transcript)
        return read_text(p, "transcript"), p
    if alignment is not None:
        return None, None
    side = sidecar_transcript(audio)
    if side is None:
        return None, None
    return read_text(side, "transcript"), side


# ----------------------------------------------------------------------------------------------
# Writing all or nothing


def _umask() -> int:
    """The process umask, read from /proc where it can be (os.umask only reads it by setting
    it, which races with other threads creating files)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_all(writers: Mapping[Path, Callable[[Path], Any]]) -> None:
    """Write several files all or nothing.

    Each writer is called with a fresh temporary path in its final file's folder; when every
    writer returned, the temporaries are renamed onto the final paths (each rename atomic).
    On any failure no final path is touched and every temporary is removed. Files get the
    permissions a plain open() would (0666 less the umask), not mkstemp's 0600.
    """
    with _temporaries(writers):
        pass


def write_bytes_all(files: Mapping[Path, bytes]) -> None:
    """`write_all` for contents already in memory."""
    write_all({final: (lambda p, d=data: Path(p).write_bytes(d)) for final, data in files.items()})
