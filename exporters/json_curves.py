"""JSON curves: the app-facing format (schema in the README)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from voxface.engine.pipeline import Animation

JSON_VERSION = 1


def animation_to_dict(anim: Animation) -> dict:
    """The JSON document as a dict: version, fps, duration (s), audio file name, names,
    values [T][52] rounded to 5 decimals, phones and words with start/end in seconds, and,
    when the pipeline computed them, `visemes` {names: the 15 Oculus visemes, values [T][15]}
    on the same frames."""
    c = anim.curves
    values = np.clip(np.round(c.values.astype(np.float64), 5), 0.0, 1.0)
    doc = {
        "version": JSON_VERSION,
        "fps": int(c.fps) if float(c.fps).is_integer() else c.fps,
        "duration": round(c.duration, 6),
        "audio": anim.audio.path.name if anim.audio.path is not None else None,
        "names": list(c.names),
        "values": values.tolist(),
        "phones": [{"phone": p.label, "start": round(p.start, 4), "end": round(p.end, 4)}
                   for p in anim.alignment.phones],
        "words": [{"word": w.label, "start": round(w.start, 4), "end": round(w.end, 4)}
                  for w in anim.alignment.words],
    }
    if anim.visemes is not None:
        # An added key, not a new version: version-1 readers ignore keys they do not know.
        v = anim.visemes
        doc["visemes"] = {
            "names": list(v.names),
            "values": np.clip(np.round(v.values.astype(np.float64), 5), 0.0, 1.0).tolist(),
        }
    return doc


def write_json(anim: Animation, path: Path) -> None:
    """Write the curves JSON (compact: one frame per line would bloat; keys are fixed)."""
    doc = animation_to_dict(anim)
    Path(path).write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
