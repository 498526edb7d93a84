"""JSON curves: the app-facing format (schema in the README)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator, TextIO

import numpy as np

from voxface.core.animation import Animation

JSON_VERSION = 1
_ROWS_PER_CHUNK = 4096  # frames converted to text at a time when writing


def _rounded(values: np.ndarray) -> np.ndarray:
    """Values as written: rounded to 5 decimals and clipped to 0..1 (float64)."""
    return np.clip(np.round(np.asarray(values).astype(np.float64), 5), 0.0, 1.0)


def _phone(p) -> dict:
    return {"phone": p.label, "start": round(p.start, 4), "end": round(p.end, 4)}


def _phone_ipa(pi) -> dict:
    # An added key: the phone's IPA where the speech came from IPA (another language);
    # `phone` stays the ARPAbet the poses use.
    p, ipa = pi
    out = _phone(p)
    if ipa:  # '' = a phone of an English stretch in mixed-language text: no IPA known
        out["ipa"] = ipa
    return out


def _phones(alignment) -> list[tuple]:
    ipa = alignment.ipa if alignment.ipa is not None else (None,) * len(alignment.phones)
    return list(zip(alignment.phones, ipa))


def _word(w, confidence: float | None = None) -> dict:
    out = {"word": w.label, "start": round(w.start, 4), "end": round(w.end, 4)}
    if confidence is not None:  # 0..1, aligned transcripts (voxface.phonemes.confidence)
        out["confidence"] = round(float(confidence), 3)
    return out


def _scored_words(alignment) -> list[tuple]:
    conf = alignment.confidence or (None,) * len(alignment.words)
    return list(zip(alignment.words, conf))


def source_audio(anim: Animation, folder: Path | None) -> str | None:
    """`audio_reference` for the animation's audio; None when it did not come from a file."""
    if anim.audio.path is None:
        return None
    return audio_reference(anim.audio.path, folder)


def audio_reference(audio: str | os.PathLike, folder: Path | None) -> str:
    """Where the input audio is, as the JSON records it (`source_audio`): relative to `folder`
    (the JSON's own folder) with '/' separators, so an output folder moved together with its
    input still finds it; absolute when `folder` is None or on another drive."""
    audio = Path(audio).resolve()
    if folder is not None:
        try:
            return Path(os.path.relpath(audio, Path(folder).resolve())).as_posix()
        except ValueError:  # another drive (Windows)
            pass
    return audio.as_posix()


def _header(anim: Animation, folder: Path | None = None, source: str | None = None) -> dict:
    """Every key of the document, in order, with `values`, `phones`, `words` (and
    `visemes.values`) left as None: the big parts, which the writer streams. `folder`: where
    the document is written (for `source_audio`); `source`: `source_audio` as given."""
    c = anim.curves
    doc = {
        "version": JSON_VERSION,
        "fps": int(c.fps) if float(c.fps).is_integer() else c.fps,
        "duration": round(c.duration, 6),
        "audio": anim.audio.path.name if anim.audio.path is not None else None,
        "names": list(c.names),
        "values": None,
        "phones": None,
        "words": None,
    }
    if anim.visemes is not None:
        # An added key, not a new version: version-1 readers ignore keys they do not know.
        doc["visemes"] = {"names": list(anim.visemes.names), "values": None}
    source = source if source is not None else source_audio(anim, folder)
    if source is not None:
        # Also an added key: `animate view` finds the speech by it (exporters/webview.py).
        doc["source_audio"] = source
    if anim.alignment.language is not None:
        doc["language"] = anim.alignment.language  # also added: the BCP-47 code spoken
    if c.extras.get("emotions"):
        # The emotion track (engine/emotion.py), also an added key.
        doc["emotions"] = list(c.extras["emotions"])
    return doc


def animation_to_dict(anim: Animation, folder: Path | None = None) -> dict:
    """The JSON document as a dict: version, fps, duration (s), audio file name, names,
    values [T][52] rounded to 5 decimals, phones and words with start/end in seconds, and,
    when the pipeline computed them, `visemes` {names: the 15 Oculus visemes, values [T][15]}
    on the same frames, and `source_audio` (see `source_audio`; relative to `folder`, else
    absolute). (For long audio `write_json` streams the rows instead.)"""
    doc = _header(anim, folder)
    doc["values"] = _rounded(anim.curves.values).tolist()
    doc["phones"] = [_phone_ipa(pi) for pi in _phones(anim.alignment)]
    doc["words"] = [_word(w, c) for w, c in _scored_words(anim.alignment)]
    if anim.visemes is not None:
        doc["visemes"]["values"] = _rounded(anim.visemes.values).tolist()
    return doc


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def _rows_text(values: np.ndarray) -> Iterator[str]:
    """`_dumps(_rounded(values).tolist())`, a chunk of rows at a time."""
    yield "["
    for start in range(0, values.shape[0], _ROWS_PER_CHUNK):
        if start:
            yield ","
        yield _dumps(_rounded(values[start:start + _ROWS_PER_CHUNK]).tolist())[1:-1]
    yield "]"


def _items_text(items, to_json) -> Iterator[str]:
    """`_dumps([to_json(x) for x in items])`, a chunk of items at a time."""
    yield "["
    for start in range(0, len(items), _ROWS_PER_CHUNK):
        yield ("," if start else "") + ",".join(
            _dumps(to_json(x)) for x in items[start:start + _ROWS_PER_CHUNK])
    yield "]"


def _write_object(out: TextIO, doc: dict, streams: dict) -> None:
    """Write `doc` as compact JSON; a key in `streams` (its value in doc is None) is written
    from the text pieces streams[key] yields (or, for a dict, as a nested object)."""
    out.write("{")
    for i, (key, value) in enumerate(doc.items()):
        out.write(("," if i else "") + _dumps(key) + ":")
        if key in streams:
            if isinstance(streams[key], dict):
                _write_object(out, value, streams[key])
            else:
                for part in streams[key]:
                    out.write(part)
        else:
            out.write(_dumps(value))
    out.write("}")


def write_json(anim: Animation, path: Path, *, source_audio: str | None = None) -> None:
    """Write the curves JSON (compact: one frame per line would bloat; keys are fixed).

    `source_audio`: what to record as the input audio's location, when the file at
    `anim.audio.path` is a stand-in (a batch worker's copy); default: that path, relative to
    the JSON's folder.

    The bytes are those of `json.dumps(animation_to_dict(anim, path.parent),
    separators=(",", ":"))`, but
    the frame rows are converted and written a chunk at a time, so an hour of curves (216,000
    frames x 52) never sits in memory as Python lists or one huge string.
    """
    streams: dict = {"values": _rows_text(anim.curves.values),
                     "phones": _items_text(_phones(anim.alignment), _phone_ipa),
                     "words": _items_text(_scored_words(anim.alignment),
                                          lambda wc: _word(*wc))}
    if anim.visemes is not None:
        streams["visemes"] = {"values": _rows_text(anim.visemes.values)}
    with open(path, "w", encoding="utf-8") as out:
        _write_object(out, _header(anim, Path(path).parent, source_audio), streams)
