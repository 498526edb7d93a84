"""The live protocol's messages (docs/live.md): parsing what a client sends, building what the
server sends. No I/O here.

Client -> server: a `hello` text message first, then binary PCM chunks and text messages
(`say`, `end`, `ping`). Server -> client: `ready`, `frames`, `audio` (+ one binary message),
`end`, `pong`, `error`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from voxface.core.names import ARKIT_52, LIVE_LINK_EXTRAS, OCULUS_15

VERSION = 1
PCM_FORMATS = {"s16": np.dtype("<i2"), "f32": np.dtype("<f4")}
DECIMALS = 5  # values in frame messages are rounded to 1e-5 (float32 carries ~1e-7)


@dataclass(frozen=True)
class Limits:
    """Server limits (all per server process unless said otherwise).

    Attributes:
        max_sessions: open sessions at once; one more is refused with `busy`.
        max_message: bytes in one message (binary PCM or text); larger ones get `too_large`.
        idle_s: seconds without any message before a session is closed (`idle`).
        max_say_chars: characters in one `say` text.
        max_session_s: seconds of audio (received + spoken) per session.
        max_errors: errors in one session before the server closes it.
    """

    max_sessions: int = 16
    max_message: int = 64 * 1024
    idle_s: float = 30.0
    max_say_chars: int = 2000
    max_session_s: float = 4 * 3600.0
    max_errors: int = 100

    def as_json(self) -> dict:
        return {"max_sessions": self.max_sessions, "max_message": self.max_message,
                "idle_s": self.idle_s, "max_say_chars": self.max_say_chars,
                "max_session_s": self.max_session_s}


class ProtocolError(Exception):
    """A malformed or refused message: `code` (a word) and a one-line message. `fatal`
    errors end the session (the connection is closed after the error message)."""

    def __init__(self, code: str, message: str, *, fatal: bool = False):
        super().__init__(message)
        self.code, self.message, self.fatal = code, message, fatal


@dataclass(frozen=True)
class Hello:
    """The client's first message, checked."""

    format: str = "s16"
    seed: int = 0
    nonverbal: bool = True
    visemes: bool = True
    token: str | None = None
    subject: str = "voxface"


def _json_object(text: str) -> dict:
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "text message is not valid JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolError("bad_message", "a text message must be a JSON object")
    return msg


def parse_hello(text: str | bytes) -> Hello:
    """The first message -> Hello; raises a fatal ProtocolError otherwise."""
    if not isinstance(text, str):
        raise ProtocolError("no_hello", "the first message must be a JSON 'hello' text "
                            "message", fatal=True)
    try:
        msg = _json_object(text)
    except ProtocolError as exc:
        raise ProtocolError(exc.code, exc.message, fatal=True) from None
    if msg.get("type") != "hello":
        raise ProtocolError("no_hello", "the first message must be {\"type\": \"hello\", ...}",
                            fatal=True)
    if msg.get("version", VERSION) != VERSION:
        raise ProtocolError("bad_version", f"protocol version {msg.get('version')!r} is not "
                            f"supported (this server speaks {VERSION})", fatal=True)
    fmt = msg.get("format", "s16")
    if not isinstance(fmt, str) or fmt not in PCM_FORMATS:
        raise ProtocolError("bad_hello", f"format must be one of {sorted(PCM_FORMATS)}",
                            fatal=True)
    rate = msg.get("sample_rate", 16000)
    if rate != 16000:
        raise ProtocolError("bad_hello", "sample_rate must be 16000 (resample on the client)",
                            fatal=True)
    seed = msg.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2 ** 32:
        raise ProtocolError("bad_hello", "seed must be an integer 0 .. 2^32-1", fatal=True)
    flags = {}
    for key in ("nonverbal", "visemes"):
        value = msg.get(key, True)
        if not isinstance(value, bool):
            raise ProtocolError("bad_hello", f"{key} must be true or false", fatal=True)
        flags[key] = value
    token = msg.get("token")
    if token is not None and not isinstance(token, str):
        raise ProtocolError("bad_hello", "token must be a string", fatal=True)
    subject = msg.get("subject", "voxface")
    if not (isinstance(subject, str) and 0 < len(subject) <= 64):
        raise ProtocolError("bad_hello", "subject must be a string of 1..64 characters",
                            fatal=True)
    return Hello(format=fmt, seed=seed, token=token, subject=subject, **flags)


def parse_command(text: str, limits: Limits) -> dict:
    """A text message after the hello -> {'type': 'say', 'text': ...} | {'type': 'end'} |
    {'type': 'ping'}; raises ProtocolError (not fatal) for anything else."""
    msg = _json_object(text)
    if "say" in msg and "type" not in msg:  # the short form {"say": "..."}
        msg = {"type": "say", "text": msg["say"]}
    kind = msg.get("type")
    if kind == "say":
        say = msg.get("text")
        if not isinstance(say, str) or not say.strip():
            raise ProtocolError("bad_message", "say needs a non-empty 'text' string")
        if len(say) > limits.max_say_chars:
            raise ProtocolError("too_large", f"say text over {limits.max_say_chars} characters")
        return {"type": "say", "text": say}
    if kind in ("end", "ping"):
        return {"type": kind}
    if kind == "hello":
        raise ProtocolError("bad_message", "hello was already received")
    raise ProtocolError("bad_message", f"unknown message type {kind!r} (expected say, end, "
                        "ping or binary PCM)")


def decode_pcm(data: bytes, fmt: str) -> np.ndarray:
    """A binary message -> float32 [N] in -1..1. Raises ProtocolError (not fatal) for a
    length that is not whole samples or non-finite float samples."""
    dtype = PCM_FORMATS[fmt]
    if len(data) % dtype.itemsize:
        raise ProtocolError("bad_audio", f"{len(data)} bytes is not a whole number of {fmt} "
                            f"samples ({dtype.itemsize} bytes each)")
    x = np.frombuffer(data, dtype)
    if fmt == "s16":
        return x.astype(np.float32) / 32768.0
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ProtocolError("bad_audio", "f32 PCM holds NaN or infinite samples")
    return np.clip(x, -1.0, 1.0)


def _rows(a: np.ndarray) -> list:
    return np.round(a.astype(np.float64), DECIMALS).tolist()


def ready_message(session: str, lookahead_s: float, limits: Limits, hello: Hello) -> str:
    return json.dumps({"type": "ready", "version": VERSION, "session": session, "fps": 60,
                       "sample_rate": 16000, "format": hello.format,
                       "lookahead_s": lookahead_s, "arkit": list(ARKIT_52),
                       "rotations": list(LIVE_LINK_EXTRAS), "visemes": list(OCULUS_15),
                       "limits": limits.as_json()})


def frames_message(batch, *, final: bool = False) -> str:
    """A FrameBatch (voxface.live.session) -> the `frames` text message (final: the frames
    that `end` released)."""
    return json.dumps({"type": "frames", "start": batch.start, "samples": batch.samples,
                       "final": final,
                       "t": [round(t, 6) for t in batch.times.tolist()],
                       "arkit": _rows(batch.arkit), "rotations": _rows(batch.rotations),
                       "visemes": _rows(batch.visemes)})


def error_message(code: str, message: str) -> str:
    return json.dumps({"type": "error", "code": code, "message": message})


def audio_message(start: int, n: int) -> str:
    """Header of spoken audio; the next message is n int16 samples (binary, little-endian)."""
    return json.dumps({"type": "audio", "start": start, "n": n, "format": "s16",
                       "sample_rate": 16000})


def end_message(frames: int, samples: int) -> str:
    return json.dumps({"type": "end", "frames": frames, "samples": samples,
                       "duration": samples / 16000})
