"""`animate listen`: the reference client of the live protocol (docs/live.md).

Streams 16 kHz audio to a server in fixed chunks (optionally at the speed of speech), collects
the frames, and measures latency two ways:

* response: from sending the chunk (or `end`) that completed a frames message to its arrival
  (network + queueing + compute);
* frame delay: for each frame, from sending the chunk that holds the frame's own audio instant
  to the frame's arrival — what a viewer sees, the model's look-ahead included (meaningful with
  --realtime, where audio is sent as it would be captured).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import numpy as np

from voxface.core.errors import InputError, VoxfaceError


class ServerError(VoxfaceError):
    """The server answered with an error message or closed the connection."""


@dataclass
class ListenResult:
    """What a client received.

    Attributes:
        ready: the server's ready message.
        t: frame times, seconds [T]; arkit [T, 52], rotations [T, 9], visemes [T, 15].
        response_ms: one latency per frames message (see module docstring).
        frame_delay_ms: one per frame.
        audio: spoken audio received (float32 [N] at 16 kHz, `say` only).
        errors: error messages received (non-fatal ones; the session went on).
        end: the server's end message.
    """

    ready: dict
    t: np.ndarray
    arkit: np.ndarray
    rotations: np.ndarray
    visemes: np.ndarray
    response_ms: np.ndarray
    frame_delay_ms: np.ndarray
    audio: np.ndarray
    errors: list = field(default_factory=list)
    end: dict | None = None


def stats_ms(values: np.ndarray) -> dict:
    """{'n', 'p50', 'p95', 'max'} of milliseconds (None when empty)."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    return {"n": int(v.size), "p50": round(float(np.percentile(v, 50)), 2),
            "p95": round(float(np.percentile(v, 95)), 2), "max": round(float(v.max()), 2)}


async def listen(url: str, samples: np.ndarray | None, *, chunk_ms: float = 20.0,
                 realtime: bool = False, token: str | None = None, say: str | None = None,
                 fmt: str = "s16", seed: int = 0, nonverbal: bool = True,
                 visemes: bool = True, timeout_s: float = 60.0) -> ListenResult:
    """Stream `samples` (float32 16 kHz mono; None with `say`) to the server at `url` and
    collect what comes back. Raises ServerError on a fatal server error or a lost connection,
    InputError when the server cannot be reached."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidURI

    hello = {"type": "hello", "version": 1, "format": fmt, "sample_rate": 16000, "seed": seed,
             "nonverbal": nonverbal, "visemes": visemes}
    if token is not None:
        hello["token"] = token
    chunk = max(1, int(round(chunk_ms * 16)))
    try:
        ws = await asyncio.wait_for(connect(url, max_size=None, open_timeout=10,
                                            ping_interval=None), 15)
    except (OSError, InvalidURI, asyncio.TimeoutError) as exc:
        raise InputError(f"cannot connect to {url} ({type(exc).__name__}: {exc})") from None
    sent: list[tuple[int, float]] = []     # (samples sent so far, send time)
    frames: list[tuple[dict, float]] = []
    audio: list[np.ndarray] = []
    errors: list[dict] = []
    result_end: dict | None = None
    async with ws:
        await ws.send(json.dumps(hello))
        ready = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
        if ready.get("type") != "ready":
            raise ServerError(f"server refused the session: {ready.get('message', ready)}")

        async def send_all() -> None:
            if samples is not None:
                t0 = time.perf_counter()
                dtype = "<i2" if fmt == "s16" else "<f4"
                for k, a in enumerate(range(0, samples.shape[0], chunk)):
                    piece = samples[a:a + chunk]
                    if realtime:  # a chunk exists once its last sample has been captured
                        wait = t0 + (a + piece.shape[0]) / 16000 - time.perf_counter()
                        if wait > 0:
                            await asyncio.sleep(wait)
                    data = ((np.clip(piece, -1, 1) * 32767).astype(dtype) if fmt == "s16"
                            else piece.astype(dtype))
                    await ws.send(data.tobytes())
                    sent.append((a + piece.shape[0], time.perf_counter()))
            if say is not None:
                await ws.send(json.dumps({"type": "say", "text": say}))
            await ws.send(json.dumps({"type": "end"}))
            sent.append((-1, time.perf_counter()))  # -1: the end message

        sender = asyncio.create_task(send_all())
        pending_audio: dict | None = None
        try:
            while True:
                msg = await asyncio.wait_for(ws.recv(), timeout_s)
                now = time.perf_counter()
                if isinstance(msg, bytes):
                    if pending_audio is not None:
                        audio.append(np.frombuffer(msg, "<i2").astype(np.float32) / 32768.0)
                        pending_audio = None
                    continue
                m = json.loads(msg)
                kind = m.get("type")
                if kind == "frames":
                    frames.append((m, now))
                elif kind == "audio":
                    pending_audio = m
                elif kind == "error":
                    errors.append(m)
                elif kind == "end":
                    result_end = m
                    break
        except ConnectionClosed as exc:
            detail = errors[-1]["message"] if errors else str(exc)
            raise ServerError(f"connection closed by the server: {detail}") from None
        except asyncio.TimeoutError:
            raise ServerError(f"no message from the server for {timeout_s:g} s") from None
        finally:
            if not sender.done():
                sender.cancel()
        await sender
    return _collect(ready, frames, sent, audio, errors, result_end)


def _collect(ready, frames, sent, audio, errors, end) -> ListenResult:
    fps, sr = ready["fps"], ready["sample_rate"]
    end_time = next((t for n, t in sent if n == -1), None)
    by_samples = {n: t for n, t in sent if n >= 0}
    counts = np.array([n for n, _ in sent if n >= 0])
    times = np.array([t for n, t in sent if n >= 0])
    response, delay = [], []
    t_all, arkit, rot, vis = [], [], [], []
    for m, arrival in frames:
        trigger = end_time if m.get("final") else by_samples.get(m["samples"])
        if trigger is not None:
            response.append(1000 * (arrival - trigger))
        for t in m["t"]:
            # the chunk holding the frame's instant (the last one for frames past the end)
            k = int(np.searchsorted(counts, t * sr, side="left")) if counts.size else 0
            if k < counts.size:
                delay.append(1000 * (arrival - times[k]))
            elif end_time is not None:
                delay.append(1000 * (arrival - end_time))
        t_all.extend(m["t"])
        arkit.extend(m["arkit"])
        rot.extend(m["rotations"])
        vis.extend(m["visemes"])
    n = len(t_all)
    return ListenResult(
        ready=ready, t=np.array(t_all, np.float64),
        arkit=np.array(arkit, np.float32).reshape(n, len(ready["arkit"])),
        rotations=np.array(rot, np.float32).reshape(n, len(ready["rotations"])),
        visemes=np.array(vis, np.float32).reshape(n, len(ready["visemes"])),
        response_ms=np.array(response), frame_delay_ms=np.array(delay),
        audio=np.concatenate(audio) if audio else np.zeros(0, np.float32),
        errors=errors, end=end)


def result_json(result: ListenResult, *, url: str, audio: str | None, chunk_ms: float,
                realtime: bool) -> dict:
    """The JSON `animate listen -o` writes."""
    r = result.ready
    return {"url": url, "audio": audio, "chunk_ms": chunk_ms, "realtime": realtime,
            "fps": r["fps"], "lookahead_s": r["lookahead_s"],
            "names": {"arkit": r["arkit"], "rotations": r["rotations"],
                      "visemes": r["visemes"]},
            "t": result.t.tolist(),
            "arkit": np.round(result.arkit.astype(np.float64), 5).tolist(),
            "rotations": np.round(result.rotations.astype(np.float64), 5).tolist(),
            "visemes": np.round(result.visemes.astype(np.float64), 5).tolist(),
            "latency_ms": {"response": stats_ms(result.response_ms),
                           "frame_delay": stats_ms(result.frame_delay_ms)},
            "errors": result.errors}
