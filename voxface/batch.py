"""`animate batch`: every audio file of a folder, in parallel, resumable, with a manifest.

One input is one audio file (any suffix `load_audio` reads) with its optional sidecar transcript
`<stem>.txt` or `<stem>.lab` beside it — the same rule as the single-file command. The folder is
searched recursively (hidden files and folders, and the output folder itself, are skipped) and
outputs mirror its layout: `IN/a/b.wav` -> `OUT/a/b.json`, ...

Guarantees:
  * one input's failure is recorded in the manifest and the batch goes on;
  * each input's outputs appear all together or not at all (temporary files + rename);
  * re-running skips an input whose outputs all exist and are newer than the audio, its
    transcript and the rig, when the options that shape outputs are unchanged;
  * outputs do not depend on the backend or the number of workers (byte-identical);
  * `OUT/manifest.json` lists every input with status, outputs, per-stage seconds and errors.

Backends: `local` runs a `concurrent.futures.ProcessPoolExecutor` (each worker process keeps its
PocketSphinx decoders between files: they are cached per process); `ray` sends each input's
bytes to a Ray task and writes the returned output bytes here, so worker nodes need no shared
filesystem, only the same voxface installed.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import json
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, TextIO

from voxface.core.audio import SUPPORTED_SUFFIXES
from voxface.core.errors import InputError, MissingDependencyError
from voxface.core.fileio import (
    ensure_output_dir,
    read_text,
    sidecar_transcript,
    write_bytes_all,
)
from voxface.exporters.json_curves import audio_reference
from voxface.exporters.registry import EXPORTERS, check_formats, write_outputs
from voxface.options import AnimationOptions
from voxface.pipeline import animate, prepare_rig
from voxface.rigs.gltf_rig import load_rig

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
BACKENDS = ("local", "ray")
_MANIFEST_EVERY_S = 2.0  # rewrite the manifest at most this often while running (crash record)


@dataclass
class BatchItem:
    """One input and its fate.

    Attributes:
        audio: the audio file.
        rel: its path relative to the input folder, POSIX style (the manifest key).
        transcript: the sidecar transcript, or None (phones recognised without one).
        outputs: exporter name -> final output path.
        result: filled in as the batch runs (the manifest entry, less `input`).
    """

    audio: Path
    rel: str
    transcript: Path | None
    outputs: dict[str, Path]
    result: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# Finding inputs


def find_inputs(input_dir: Path, outdir: Path, formats: tuple[str, ...], *,
                recursive: bool = True) -> list[BatchItem]:
    """Every audio file under `input_dir` (sorted by relative path) with its sidecar and outputs.

    Two audio files whose outputs would collide (`a.wav` and `a.flac` in one folder) are both
    kept, the later one pre-failed with an error naming the earlier, so nothing is overwritten.
    """
    if not input_dir.exists():
        raise InputError("no such input directory", path=input_dir)
    if not input_dir.is_dir():
        raise InputError("is not a directory; `animate batch` takes a folder of audio files "
                         "(use `animate FILE` for one file)", path=input_dir)
    outdir_resolved = outdir.resolve()
    audio_suffixes = {s.lower() for s in SUPPORTED_SUFFIXES}
    found: list[Path] = []
    for root, dirs, files in os.walk(input_dir):
        root_path = Path(root)
        # Skip hidden folders and our own output folder (when it lies inside the input).
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and (root_path / d).resolve() != outdir_resolved)
        if not recursive:
            dirs[:] = []
        for name in files:
            p = root_path / name
            if not name.startswith(".") and p.suffix.lower() in audio_suffixes and p.is_file():
                found.append(p)
    found.sort(key=lambda p: p.relative_to(input_dir).as_posix())

    items: list[BatchItem] = []
    owners: dict[Path, str] = {}
    for audio in found:
        rel_path = audio.relative_to(input_dir)
        transcript = sidecar_transcript(audio)
        base = outdir / rel_path.parent / audio.stem
        outputs = {f: base.with_name(base.name + EXPORTERS[f].suffix) for f in formats}
        item = BatchItem(audio=audio, rel=rel_path.as_posix(), transcript=transcript,
                         outputs=outputs)
        clash = owners.get(base)
        if clash is not None:
            item.result = _failure(InputError(f"outputs would overwrite those of {clash} (same "
                                              "name stem); rename one of them", path=audio))
        else:
            owners[base] = item.rel
        items.append(item)
    if not items:
        raise InputError(f"no audio files ({', '.join(SUPPORTED_SUFFIXES)}) found"
                         + ("" if recursive else " (not searching subfolders)"), path=input_dir)
    return items


# ----------------------------------------------------------------------------------------------
# One input (runs in a worker process)


def _failure(exc: BaseException) -> dict:
    """A manifest result for an input that failed with `exc`."""
    if isinstance(exc, InputError):
        return {"status": "failed", "error": str(exc), "error_kind": "input"}
    return {"status": "failed", "error": f"internal error: {type(exc).__name__}: {exc}",
            "error_kind": "internal"}


def process_item(audio: Path, transcript: Path | None, outputs: dict[str, Path],
                 options: AnimationOptions, export_options: dict | None = None) -> dict:
    """Animate one input and write its outputs (all or nothing). Never raises for bad input.

    `export_options`: {exporter name: options} for `exporters.registry.write_outputs`.

    Returns the manifest result: status 'ok' with `outputs` (names), `audio_seconds`,
    `seconds` (per stage and 'total', wall seconds) and `warnings`; or status 'failed' with
    `error` (one line) and `error_kind` ('input' or 'internal').
    """

    t0 = time.perf_counter()
    try:
        text = read_text(transcript, "transcript") if transcript is not None else None
        inputs = {p.resolve() for p in [audio, transcript, *options.rig_sources()]
                  if p is not None}
        for out in outputs.values():
            if out.resolve() in inputs:
                raise InputError("output would overwrite an input; choose another -o OUTDIR",
                                 path=out)
        prepared, rig_s = None, 0.0
        if options.needs_rig:  # the same rig path as `animate FILE --rig R --map M`
            t_rig = time.perf_counter()
            prepared = _cached_rig(options.rig, options.name_map)
            rig_s = time.perf_counter() - t_rig
        anim = animate(audio, transcript=text, prepared_rig=prepared,
                       name_map=prepared[1].name_map if prepared else None,
                       **options.pipeline_kwargs())
        stages = dict(anim.timings)
        if prepared is not None:
            stages["rig"] = rig_s
        write_outputs(anim, outputs, lambda stage, seconds, detail: stages.__setitem__(
            stage, seconds), options=export_options)
    except Exception as exc:  # recorded in the manifest; the batch goes on
        result = _failure(exc)
        result["seconds"] = {"total": round(time.perf_counter() - t0, 4)}
        return result
    stages["total"] = time.perf_counter() - t0
    return {"status": "ok", "outputs": [p.name for p in outputs.values()],
            "audio_seconds": round(anim.audio.duration, 4),
            "seconds": {k: round(v, 4) for k, v in stages.items()},
            "warnings": list(anim.alignment.warnings) + list(anim.input_warnings)}


def _file_key(path: Path | None) -> tuple | None:
    if path is None:
        return None
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def _cached_rig(rig: Path, name_map: Path | None = None):
    """`pipeline.prepare_rig(rig, name_map)`: (Rig, RigPlan), read once per worker process (a
    big avatar takes ~0.7 s to load) and again only when a file changes (path, size and
    modification time are the key)."""
    return _prepare_rig_cached(_file_key(rig), _file_key(name_map))


@functools.lru_cache(maxsize=2)
def _prepare_rig_cached(rig_key: tuple, map_key: tuple | None):
    return prepare_rig(Path(rig_key[0]), Path(map_key[0]) if map_key is not None else None)


def _process_tuple(args: tuple) -> dict:
    """Pool entry point (one picklable argument)."""
    return process_item(*args)


# ----------------------------------------------------------------------------------------------
# Resume


def _up_to_date(item: BatchItem, options: AnimationOptions) -> bool:
    """All outputs exist and each is newer than the audio, the transcript and (for formats
    that need one) the rig and its name map."""
    try:
        sources = [item.audio.stat().st_mtime_ns]
        if item.transcript is not None:
            sources.append(item.transcript.stat().st_mtime_ns)
        sources += [p.stat().st_mtime_ns for p in options.rig_sources()]
        oldest_output = min(p.stat().st_mtime_ns for p in item.outputs.values())
    except OSError:  # an output (or an input, vanished meanwhile) is missing
        return False
    return oldest_output > max(sources)


def _read_manifest(path: Path) -> dict | None:
    """The previous run's manifest, or None when there is none or it is unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("version") == MANIFEST_VERSION else None


# ----------------------------------------------------------------------------------------------
# Progress


class Progress:
    """A progress line on a stream: `\\r`-updated on a terminal, one line per input otherwise.

    Shows done/total, percent, failures, elapsed time and an ETA from the mean wall seconds
    per input processed so far (inputs skipped as up to date do not count toward the rate).
    """

    def __init__(self, total: int, stream: TextIO | None, *, workers: int = 1):
        self.total, self.stream, self.workers = total, stream, workers
        self.done = self.failed = self.skipped = 0
        self.t0 = time.perf_counter()
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._width = 0

    @staticmethod
    def _clock(seconds: float) -> str:
        s = int(round(seconds))
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else \
            f"{s // 60}:{s % 60:02d}"

    def update(self, item: BatchItem) -> None:
        status = item.result.get("status")
        self.done += 1
        self.failed += status == "failed"
        self.skipped += status == "skipped"
        if self.stream is None:
            return
        elapsed = time.perf_counter() - self.t0
        processed = self.done - self.skipped
        remaining = self.total - self.done
        eta = "--:--" if processed == 0 else self._clock(elapsed / processed * remaining)
        width = len(str(self.total))
        line = (f"batch: [{self.done:>{width}}/{self.total}] {100 * self.done / self.total:3.0f}%"
                f"  {self.failed} failed  elapsed {self._clock(elapsed)}  ETA {eta}  "
                f"{item.rel} {status}")
        if self.tty:
            pad = " " * max(0, self._width - len(line))
            self._width = len(line)
            self.stream.write("\r" + line + pad)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the progress line on a terminal, so other text can be printed on its own
        line; the next update draws it again."""
        if self.stream is not None and self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def close(self) -> None:
        if self.stream is not None and self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()


# ----------------------------------------------------------------------------------------------
# The batch


@dataclass
class BatchReport:
    """What a batch did: every item with its result, the manifest path, and wall seconds."""

    items: list[BatchItem]
    manifest: Path
    wall_seconds: float

    def count(self, status: str) -> int:
        return sum(1 for it in self.items if it.result.get("status") == status)

    @property
    def exit_code(self) -> int:
        """0 all ok or up to date; else 1 if any internal error, 2 if only bad inputs."""
        kinds = {it.result.get("error_kind") for it in self.items
                 if it.result.get("status") == "failed"}
        return 0 if not kinds else 1 if "internal" in kinds else 2


def run_batch(input_dir: str | os.PathLike, outdir: str | os.PathLike,
              options: AnimationOptions, *, workers: int = 1, backend: str = "local",
              address: str | None = None, recursive: bool = True, force: bool = False,
              progress: TextIO | None = None, warn: Callable[[str], None] | None = None
              ) -> BatchReport:
    """Animate every audio file under `input_dir` into `outdir`; see the module docstring.

    Args:
        input_dir: folder searched for audio (recursively unless `recursive` is False).
        outdir: output folder (created); outputs mirror the input layout.
        options: the animation options (formats, fps, aligner, rig, style, engine, ...;
            the transcript source and preview are not used: each input's transcript is its
            sidecar).
        workers: worker processes for the local backend (1: run in this process); for a Ray
            instance this run starts itself, its CPU count.
        backend: 'local' or 'ray'.
        address: Ray cluster address ('HOST:6379', or 'auto'); None starts a local Ray
            instance (or uses the one this process already initialised).
        recursive: search subfolders.
        force: redo inputs whose outputs are up to date.
        progress: stream for the progress line (None: silent).
        warn: called with one-line warnings: the rig's notes (once), an unreadable old
            manifest, and each processed input's warnings ("<audio path>: <warning>", as it
            finishes; the manifest records them too).

    Raises InputError for a bad folder, no audio, a bad rig, a bad backend or Ray missing;
    an input's own failure never raises, it is recorded.
    """
    t0 = time.perf_counter()
    input_dir, outdir = Path(input_dir), Path(outdir)
    if backend not in BACKENDS:
        raise InputError(f"--backend: unknown backend {backend!r}; available: "
                         f"{', '.join(BACKENDS)}")
    if workers < 1:
        raise InputError(f"--workers: {workers} is not a positive number")
    if outdir.exists() and not outdir.is_dir():
        raise InputError("output directory is a file", path=outdir)
    check_formats(options.formats)  # e.g. blend without bpy: fail before any work
    items = find_inputs(input_dir, outdir, options.formats, recursive=recursive)
    if options.needs_rig:
        # A bad rig fails the batch once, not every input; its notes are shown once.
        for note in _check_rig(options):
            if warn is not None:
                warn(note)
    if backend == "ray":
        _import_ray()  # fail before writing anything when Ray is missing
    ensure_output_dir(outdir)
    manifest_path = outdir / MANIFEST_NAME

    previous = _read_manifest(manifest_path)
    if previous is None and manifest_path.exists() and warn is not None:
        warn(f"{manifest_path}: unreadable manifest from an earlier run; redoing every input")
    same_options = previous is not None and previous.get("options") == options.fingerprint()
    old_results = {e.get("input"): e for e in (previous or {}).get("items", [])
                   if isinstance(e, dict)}
    todo: list[BatchItem] = []
    for item in items:
        if item.result:
            continue  # pre-failed (name clash)
        if not force and same_options and _up_to_date(item, options):
            old = old_results.get(item.rel, {})
            item.result = {"status": "skipped", "reason": "outputs up to date",
                           "outputs": [p.name for p in item.outputs.values()],
                           "audio_seconds": old.get("audio_seconds"),
                           "seconds": old.get("seconds")}
        else:
            todo.append(item)

    bar = Progress(len(items), progress, workers=workers)
    writer = _ManifestWriter(manifest_path, input_dir, outdir, options, items)
    for item in items:
        if item.result:
            bar.update(item)
    try:
        def done(item: BatchItem) -> None:
            if warn is not None and item.result.get("warnings"):
                bar.clear()  # the warning takes its own line, not the tail of the bar's
                for note in item.result["warnings"]:
                    warn(f"{item.audio}: {note}")
            bar.update(item)
            writer.maybe_write(time.perf_counter() - t0)

        for item in todo:
            for p in item.outputs.values():
                p.parent.mkdir(parents=True, exist_ok=True)
        if backend == "ray":
            _run_ray(todo, options, workers, address, done)
        elif workers == 1 or len(todo) <= 1:
            for item in todo:
                item.result = process_item(item.audio, item.transcript, item.outputs, options)
                done(item)
        else:
            _run_pool(todo, options, workers, done)
    finally:
        bar.close()
        writer.write(time.perf_counter() - t0)
    return BatchReport(items=items, manifest=manifest_path,
                       wall_seconds=time.perf_counter() - t0)


def _check_rig(options: AnimationOptions) -> tuple[str, ...]:
    """Load and plan the rig as every input will (`pipeline.prepare_rig`); return the plan's
    warnings. Raises InputError for a missing or unusable rig or name map."""
    if not options.rig.exists():
        raise InputError("no such rig file", path=options.rig)
    if options.name_map is not None and not options.name_map.is_file():
        raise InputError("name map not found", path=options.name_map)
    _, plan = _cached_rig(options.rig, options.name_map)
    return tuple(plan.warnings)


def _pool_context():
    # forkserver: workers start from a clean, single-threaded server process, so a parent
    # holding threads (Ray, a progress thread, BLAS) cannot leave them a poisoned lock.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _run_pool(todo: list[BatchItem], options: AnimationOptions, workers: int,
              done: Callable[[BatchItem], None]) -> None:
    """Run `todo` on a process pool; inputs in flight when a worker dies are retried once,
    each alone in a fresh process, so one crashing input cannot take others down with it."""
    crashed: list[BatchItem] = []
    with cf.ProcessPoolExecutor(max_workers=min(workers, len(todo)),
                                mp_context=_pool_context()) as pool:
        futures = {pool.submit(_process_tuple, (it.audio, it.transcript, it.outputs, options)): it
                   for it in todo}
        for fut in cf.as_completed(futures):
            item = futures[fut]
            try:
                item.result = fut.result()
            except cf.process.BrokenProcessPool:
                crashed.append(item)
                continue
            done(item)
    for item in crashed:
        with cf.ProcessPoolExecutor(max_workers=1, mp_context=_pool_context()) as alone:
            try:
                item.result = alone.submit(
                    _process_tuple, (item.audio, item.transcript, item.outputs, options)).result()
            except cf.process.BrokenProcessPool:
                item.result = {"status": "failed", "error_kind": "internal",
                               "error": f"{item.audio}: the worker process died while "
                                        "processing it (crash or out of memory)"}
        done(item)


# ----------------------------------------------------------------------------------------------
# Ray


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(f"--backend ray needs Ray: pip install 'voxface[ray]' "
                                     f"({exc})") from None
    return ray


def _rig_files(rig: Path) -> dict[str, bytes]:
    """The rig and every local file it references, keyed by path relative to their common
    folder, so a Ray worker can rebuild it in a temporary folder."""

    doc = load_rig(rig).document
    files = [rig.resolve()]
    for entry in (doc.get("buffers") or []) + (doc.get("images") or []):
        uri = entry.get("uri") if isinstance(entry, dict) else None
        if isinstance(uri, str) and not uri.startswith("data:"):
            import urllib.parse

            files.append((rig.parent / urllib.parse.unquote(uri)).resolve())
    base = Path(os.path.commonpath([str(f.parent) for f in files]))
    return {f.relative_to(base).as_posix(): f.read_bytes() for f in dict.fromkeys(files)}


def ray_task(name: str, audio: bytes, transcript: str | None, rig_files: dict[str, bytes] | None,
             rig_name: str | None, options: AnimationOptions, suffixes: dict[str, str],
             name_map: bytes | None = None,
             source_audio: str | None = None) -> tuple[dict, dict[str, bytes]]:
    """Run one input from bytes in a temporary folder; return (result, format -> output bytes).

    The audio keeps its file name (the JSON output records it); transcript is text; name_map
    is the `--map` file's bytes; `options`' rig and map paths are replaced by the copies made
    here from rig_files and name_map; source_audio is where the JSON says the input is (the
    user's file relative to the final JSON's folder, not the worker's copy).
    """
    with tempfile.TemporaryDirectory(prefix="voxface-ray-") as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        audio_path = root / "in" / name
        audio_path.write_bytes(audio)
        transcript_path = None
        if transcript is not None:
            transcript_path = root / "transcript.txt"
            transcript_path.write_text(transcript, encoding="utf-8")
        rig = root / "rig.glb"
        if rig_files:
            for rel, data in rig_files.items():
                (root / "rig" / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / "rig" / rel).write_bytes(data)
            rig = root / "rig" / rig_name
        map_path = None
        if name_map is not None:
            map_path = root / "map.json"
            map_path.write_bytes(name_map)
        out = root / "out"
        out.mkdir()
        stem = Path(name).stem
        outputs = {f: out / f"{stem}{suffixes[f]}" for f in options.formats}
        result = process_item(audio_path, transcript_path, outputs,
                              replace(options, rig=rig, name_map=map_path),
                              {"json": {"source_audio": source_audio}} if source_audio
                              else None)
        if result["status"] != "ok":
            # Name the user's file, not the worker's temporary copy.
            result["error"] = result["error"].replace(str(audio_path), name)
            return result, {}
        return result, {f: p.read_bytes() for f, p in outputs.items()}


def _run_ray(todo: list[BatchItem], options: AnimationOptions, workers: int, address: str | None,
             done: Callable[[BatchItem], None]) -> None:
    ray = _import_ray()
    started_here = False
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        except ConnectionError as exc:
            raise InputError(f"--address: cannot connect to a Ray cluster at {address!r} "
                             f"({str(exc).splitlines()[0] if str(exc) else exc})") from None
        started_here = True
    try:
        task = ray.remote(num_cpus=1, max_retries=1)(ray_task)
        rig_files = rig_name = map_bytes = None
        if options.needs_rig:
            files = _rig_files(options.rig)
            rig_name = next(iter(files))  # the rig itself comes first
            rig_files = ray.put(files)  # shipped once to the object store, not per task
            if options.name_map is not None:
                map_bytes = options.name_map.read_bytes()
        suffixes = {f: EXPORTERS[f].suffix for f in options.formats}
        pending: dict[Any, BatchItem] = {}
        for item in todo:
            try:
                text = None
                if item.transcript is not None:
                    text = read_text(item.transcript, "transcript")
                source = (audio_reference(item.audio, item.outputs["json"].parent)
                          if "json" in item.outputs else None)
                ref = task.remote(item.audio.name, item.audio.read_bytes(), text, rig_files,
                                  rig_name, options, suffixes, map_bytes, source)
            except (InputError, OSError) as exc:
                item.result = _failure(exc if isinstance(exc, InputError)
                                       else InputError(f"cannot read ({exc.strerror})",
                                                       path=item.audio))
                done(item)
                continue
            pending[ref] = item
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            item = pending.pop(ready[0])
            try:
                result, blobs = ray.get(ready[0])
                if result["status"] == "ok":
                    write_bytes_all({item.outputs[f]: data for f, data in blobs.items()})
                    result["outputs"] = [item.outputs[f].name for f in blobs]
                elif result.get("error_kind") == "input":
                    result["error"] = result["error"].replace(item.audio.name, str(item.audio), 1)
            except Exception as exc:  # a task that died (worker lost) or a failed write here
                result = _failure(exc)
            item.result = result
            done(item)
    finally:
        if started_here:
            ray.shutdown()


# ----------------------------------------------------------------------------------------------
# Manifest


class _ManifestWriter:
    """Writes OUTDIR/manifest.json atomically: now and then while running, and at the end."""

    def __init__(self, path: Path, input_dir: Path, outdir: Path, options: AnimationOptions,
                 items: list[BatchItem]):
        self.path, self.input_dir, self.outdir = path, input_dir, outdir
        self.options, self.items = options, items
        self.last = time.perf_counter()

    def maybe_write(self, wall: float) -> None:
        if time.perf_counter() - self.last >= _MANIFEST_EVERY_S:
            self.write(wall)

    def document(self, wall: float) -> dict:
        entries = []
        for it in self.items:
            entry = {"input": it.rel,
                     "transcript": it.transcript.relative_to(self.input_dir).as_posix()
                     if it.transcript is not None else None,
                     "status": it.result.get("status", "pending")}
            entry.update({k: v for k, v in it.result.items() if k != "status"})
            if "outputs" in entry:  # names -> paths relative to the output folder
                parent = Path(it.rel).parent
                entry["outputs"] = [(parent / name).as_posix() for name in entry["outputs"]]
            entries.append(entry)
        counts = {s: sum(1 for e in entries if e["status"] == s)
                  for s in ("ok", "skipped", "failed", "pending")}
        audio_s = sum(e.get("audio_seconds") or 0.0 for e in entries if e["status"] == "ok")
        return {"version": MANIFEST_VERSION, "input_dir": str(self.input_dir),
                "outdir": str(self.outdir), "options": self.options.fingerprint(),
                "summary": {"inputs": len(entries), **counts, "wall_seconds": round(wall, 3),
                            "audio_seconds_processed": round(audio_s, 3)},
                "items": entries}

    def write(self, wall: float) -> None:
        self.last = time.perf_counter()
        data = json.dumps(self.document(wall), indent=1, ensure_ascii=False) + "\n"
        write_bytes_all({self.path: data.encode("utf-8")})


def summary_line(report: BatchReport) -> str:
    """One line: counts, wall time and, when inputs were processed, the throughput (files
    processed per minute; inputs up to date or failed do not count)."""
    ok, skipped, failed = report.count("ok"), report.count("skipped"), report.count("failed")
    rate = ""
    if ok and report.wall_seconds > 0:
        rate = f" ({ok / report.wall_seconds * 60:.1f} files/min)"
    return (f"batch: {ok} done, {skipped} up to date, {failed} failed of {len(report.items)} "
            f"in {report.wall_seconds:.1f} s{rate}; manifest {report.manifest}")


def print_failures(report: BatchReport, stream: TextIO = sys.stderr) -> None:
    """One line per failed input (its error), for the terminal."""
    for it in report.items:
        if it.result.get("status") == "failed":
            stream.write(f"batch: failed: {it.result.get('error')}\n")
