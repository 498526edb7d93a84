"""`animate serve`: the live WebSocket server (protocol in docs/live.md).

One asyncio event loop serves every connection; each connection is one independent
`LiveSession` (its own model state, non-verbal motion and timeline) sharing the loaded model.
The model runs inline in the loop: one 50 ms token costs ~1 ms, so a session's frames go out
as soon as the chunk that completes a token arrives, and sessions only wait on each other for
that long. Every failure of a message is answered with an `error` message; only a failed
hello, a wrong token, a full server, idleness or too many errors close a connection, and
nothing a client sends stops the server.

This module is the top layer (like the CLI): the pipeline never imports it.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import itertools
import sys
import threading
from dataclasses import dataclass

import numpy as np

from voxface.assets import asset_path
from voxface.core.errors import InputError
from voxface.engine.nonverbal import NonverbalOptions, motion_schedule
from voxface.exporters.webview import WEBVIEWER_DIR
from voxface.live.protocol import (
    Hello,
    Limits,
    ProtocolError,
    audio_message,
    decode_pcm,
    end_message,
    error_message,
    frames_message,
    parse_command,
    parse_hello,
    ready_message,
)
from voxface.live.session import FPS, SAMPLE_RATE, LiveSession, load_model
from voxface.live.udp import LiveLinkSender
from voxface.phonemes import espeak

SAY_CHUNK = SAMPLE_RATE // 10   # spoken audio goes out in 100 ms pieces, frames in between
SAY_TAIL = int(0.15 * SAMPLE_RATE)  # silence after speech: the look-ahead of its last token


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ServerStats:
    """Counters for tests and benchmarks."""

    sessions: int = 0          # open now
    opened: int = 0
    errors: int = 0
    frames: int = 0


class LiveServer:
    """The server's state: model, limits, token, optional Live Link output."""

    def __init__(self, *, token: str | None = None, limits: Limits = Limits(),
                 livelink: tuple[str, int] | None = None, model=None, log=None):
        if model is None:
            model = load_model()
        self.model = model
        self.token = token
        self.limits = limits
        self.stats = ServerStats()
        self._ids = itertools.count(1)
        self._log = log
        self.browser_model = _BrowserModel(model)
        self.livelink = None
        if livelink is not None:
            self.livelink = LiveLinkSender(*livelink)

    def log(self, text: str) -> None:
        if self._log is not None:
            self._log(text)

    async def handler(self, ws) -> None:
        """One connection, start to end. Never raises (a bug in a session is reported to its
        client and logged, and the other sessions go on)."""
        from websockets.exceptions import ConnectionClosed

        conn = _Connection(self, ws)
        try:
            await conn.run()
        except ConnectionClosed:
            pass
        except Exception as exc:  # a bug: keep the server up, tell the client
            self.log(f"session {conn.id}: internal error {type(exc).__name__}: {exc}")
            try:
                await ws.send(error_message("internal", f"{type(exc).__name__}: {exc}"))
                await ws.close(1011, "internal error")
            except Exception:
                pass
        finally:
            if conn.counted:
                self.stats.sessions -= 1
            if conn.session is not None:
                self.log(f"session {conn.id}: closed ({conn.frames_sent} frames, "
                         f"{conn.errors} errors)")


class _Connection:
    def __init__(self, server: LiveServer, ws):
        self.server, self.ws = server, ws
        self.limits = server.limits
        self.id = f"s{next(server._ids)}"
        self.counted = False
        self.errors = 0
        self.frames_sent = 0
        self.session: LiveSession | None = None
        self.hello: Hello | None = None

    async def _recv(self):
        try:
            return await asyncio.wait_for(self.ws.recv(), self.limits.idle_s)
        except asyncio.TimeoutError:
            raise ProtocolError("idle", f"no message for {self.limits.idle_s:g} s",
                                fatal=True) from None

    async def _fail(self, exc: ProtocolError) -> bool:
        """Send the error; True when the connection must close."""
        self.errors += 1
        self.server.stats.errors += 1
        await self.ws.send(error_message(exc.code, exc.message))
        if exc.fatal or self.errors >= self.limits.max_errors:
            code = {"unauthorized": 1008, "busy": 1013, "idle": 1000}.get(exc.code, 1008)
            await self.ws.close(code, exc.code)
            return True
        return False

    async def run(self) -> None:
        stats = self.server.stats
        if stats.sessions >= self.limits.max_sessions:
            await self._fail(ProtocolError("busy", f"the server is full ({self.limits.max_sessions}"
                                           " sessions); try again later", fatal=True))
            return
        stats.sessions += 1
        stats.opened += 1
        self.counted = True
        try:
            first = await self._recv()
            if len(first) > self.limits.max_message:
                raise ProtocolError("too_large", "hello over the message size limit", fatal=True)
            self.hello = parse_hello(first)
            if self.server.token is not None and not hmac.compare_digest(
                    (self.hello.token or "").encode(), self.server.token.encode()):
                raise ProtocolError("unauthorized", "missing or wrong token", fatal=True)
        except ProtocolError as exc:
            await self._fail(exc)
            return
        self.session = self._new_session()
        await self.ws.send(ready_message(self.id, self.session.lookahead_s, self.limits,
                                         self.hello))
        self.server.log(f"session {self.id}: open ({self.ws.remote_address})")
        while True:
            try:
                msg = await self._recv()
                await self._handle(msg)
            except ProtocolError as exc:
                if await self._fail(exc):
                    return

    def _new_session(self) -> LiveSession:
        h = self.hello
        return LiveSession(self.server.model, seed=h.seed, nonverbal=h.nonverbal,
                           visemes=h.visemes)

    def _check_length(self, more: int) -> None:
        if (self.session.samples + more) / SAMPLE_RATE > self.limits.max_session_s:
            raise ProtocolError("too_long", f"a stream is limited to "
                                f"{self.limits.max_session_s:g} s of audio; send end to start "
                                "a new one")

    async def _handle(self, msg) -> None:
        if len(msg) > self.limits.max_message:
            raise ProtocolError("too_large", f"message of {len(msg)} bytes over the "
                                f"{self.limits.max_message}-byte limit; send smaller chunks")
        if isinstance(msg, bytes):
            pcm = decode_pcm(msg, self.hello.format)
            self._check_length(pcm.shape[0])
            await self._send_frames(self.session.feed(pcm))
            return
        cmd = parse_command(msg, self.limits)
        if cmd["type"] == "ping":
            await self.ws.send('{"type": "pong"}')
        elif cmd["type"] == "end":
            await self._send_frames(self.session.flush(), final=True)
            await self.ws.send(end_message(self.session.frames, self.session.samples))
            self.session = self._new_session()
        elif cmd["type"] == "say":
            await self._say(cmd["text"])

    async def _say(self, text: str) -> None:
        if not espeak.available():
            raise ProtocolError("say_unavailable", "this server has no espeak-ng; say is off")
        try:
            synth = await asyncio.to_thread(espeak.synthesize, text)
        except InputError as exc:
            raise ProtocolError("bad_message", f"say: {exc}") from None
        pcm = np.concatenate([synth.audio.samples.astype(np.float32),
                              np.zeros(SAY_TAIL, np.float32)])
        self._check_length(pcm.shape[0])
        for a in range(0, pcm.shape[0], SAY_CHUNK):
            piece = pcm[a:a + SAY_CHUNK]
            start = self.session.samples
            await self.ws.send(audio_message(start, piece.shape[0]))
            await self.ws.send((np.clip(piece, -1, 1) * 32767).astype("<i2").tobytes())
            await self._send_frames(self.session.feed(piece))

    async def _send_frames(self, batch, *, final: bool = False) -> None:
        if len(batch) == 0:
            return
        self.server.stats.frames += len(batch)
        self.frames_sent += len(batch)
        await self.ws.send(frames_message(batch, final=final))
        if self.server.livelink is not None:
            self.server.livelink.send(batch.arkit, batch.rotations, batch.start,
                                      subject=self.hello.subject)


# The live page (exporters/webviewer/live.html): served on plain HTTP GETs to the same port.
# path -> (file in WEBVIEWER_DIR, content type); the wasm is stored gzipped (build_vendor.sh).
_PAGE = {"/": ("live.html", "text/html; charset=utf-8"),
         "/live.js": ("live.js", "text/javascript; charset=utf-8"),
         "/vendor/three-viewer.min.js": ("vendor/three-viewer.min.js",
                                         "text/javascript; charset=utf-8"),
         "/vendor/ort.wasm.bundle.min.mjs": ("vendor/ort.wasm.bundle.min.mjs",
                                             "text/javascript; charset=utf-8"),
         "/vendor/ort-wasm-simd-threaded.wasm": ("vendor/ort-wasm-simd-threaded.wasm.gz",
                                                 "application/wasm"),
         "/vendor/LICENSE-onnxruntime.txt": ("vendor/LICENSE-onnxruntime.txt",
                                             "text/plain; charset=utf-8"),
         "/head.glb": (None, "model/gltf-binary")}
# The in-browser mode's model: the server's own checkpoint exported as the streaming ONNX
# variant (`animate export-model --format onnx --variant stream`) on the first request.
_MODEL = {"/model.onnx": "application/octet-stream",
          "/model.json": "application/json; charset=utf-8"}
# ... and its non-verbal motion: the seeded schedule (blink times, drift phases, saccades) that
# live.js renders frame by frame, `/motion.json?seed=S&seconds=H`.
_MOTION = "/motion.json"
_MOTION_MAX_S = 4 * 3600.0 + 60.0


def _motion_schedule(query: str) -> bytes:
    """`engine.nonverbal.motion_schedule` as JSON for a query string `seed=S&seconds=H`
    (seed 0 .. 2^32-1, default 0; 1 <= H <= 4 h + 60 s, default 600). Raises ValueError with a
    one-line reason."""
    import json
    import urllib.parse

    q = urllib.parse.parse_qs(query, keep_blank_values=True)
    try:
        seed = int(q.get("seed", ["0"])[-1])
        seconds = float(q.get("seconds", ["600"])[-1])
    except ValueError:
        raise ValueError("seed must be an integer and seconds a number") from None
    if not 0 <= seed < 2 ** 32 or not 1.0 <= seconds <= _MOTION_MAX_S:
        raise ValueError(f"seed must be 0 .. 2^32-1 and seconds 1 .. {_MOTION_MAX_S:g}")
    return json.dumps(motion_schedule(NonverbalOptions(seed=seed), seconds, FPS)).encode()


class _BrowserModel:
    """The streaming ONNX export of the server's model and its metadata, made once (~3 s, in a
    worker thread so that sessions go on) and kept in memory."""

    def __init__(self, model):
        self._model = model
        self._lock = asyncio.Lock()
        self.files: dict[str, bytes] | None = None
        self.error: str | None = None

    async def get(self) -> dict[str, bytes] | None:
        async with self._lock:
            if self.files is None and self.error is None:
                try:
                    self.files = await asyncio.to_thread(self._export)
                except Exception as exc:  # onnx missing or an export bug: the page says so
                    self.error = f"{type(exc).__name__}: {exc}"
        return self.files

    def _export(self) -> dict[str, bytes]:
        import copy
        import importlib.util
        import json
        import tempfile
        import warnings
        from pathlib import Path

        if importlib.util.find_spec("onnx") is None:
            raise RuntimeError("the in-browser mode needs the onnx package (pip install "
                               "'voxface[live]')")
        # torch at module top, like the CLI's export-model, so imported here.
        from voxface.engine.neural.stream import StepModule
        from voxface.exporters.model_export import export_onnx, metadata

        # A copy: tracing must not touch the module the sessions are running.
        model = copy.deepcopy(self._model)
        with tempfile.TemporaryDirectory(prefix="voxface-serve-") as tmp, \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes, not the server's business
            path = export_onnx(model, Path(tmp) / "stream.onnx", variant="stream")
            onnx_bytes = path.read_bytes()
        # The ONNX metadata_props, typed, plus what the page needs to feed the step model.
        meta: dict = metadata(model, "stream")
        meta["names"] = meta["names"].split(",")
        meta["description"] = json.loads(meta["description"])
        for key in ("sample_rate", "left_pad", "samples_per_token", "window_samples", "version"):
            meta[key] = int(meta[key])
        for key in ("fps", "lookahead_s"):
            meta[key] = float(meta[key])
        meta["frames_per_token"] = int(model.cfg.frames_per_token)
        meta["cache_shape"] = list(StepModule(model).cache_shape())
        return {"/model.onnx": onnx_bytes, "/model.json": json.dumps(meta).encode()}


def _http_response(status: int, kind: str, body: bytes, extra=()):
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    headers = Headers([("Content-Type", kind), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-cache"), *extra])
    return Response(status, "OK" if status == 200 else "Error", headers, body)


def _http_handler(server: LiveServer):
    """websockets' process_request for `server`: None (go on with the WebSocket handshake)
    for upgrade requests, else the live page's files (GET only; 404 for anything else)."""

    async def process_request(connection, request):
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        import gzip
        from pathlib import Path

        path, _, query = request.path.partition("?")
        if path == _MOTION:
            try:
                body = await asyncio.to_thread(_motion_schedule, query)
            except ValueError as exc:
                return connection.respond(400, f"{_MOTION}: {exc}\n")
            return _http_response(200, "application/json; charset=utf-8", body)
        if path in _MODEL:
            files = await server.browser_model.get()
            if files is None:
                return connection.respond(503, f"in-browser model unavailable: "
                                               f"{server.browser_model.error}\n")
            return _http_response(200, _MODEL[path], files[path])
        if path not in _PAGE:
            return connection.respond(404, "not found\n")
        name, kind = _PAGE[path]
        file = Path(asset_path("fitme.glb")) if name is None else WEBVIEWER_DIR / name
        body = file.read_bytes()
        extra = ()
        if file.suffix == ".gz":
            if "gzip" in request.headers.get("Accept-Encoding", ""):
                extra = (("Content-Encoding", "gzip"),)
            else:
                body = gzip.decompress(body)
        return _http_response(200, kind, body, extra)

    return process_request


async def serve(server: LiveServer, host: str, port: int, *, ready=None,
                stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (forever when None). `ready(port)` is called once
    listening (port is the real one when 0 was asked for)."""
    from websockets.asyncio.server import serve as ws_serve

    # The library's own ceiling closes a connection (1009) only for messages far over the
    # limit; those between 1x and 4x get a too_large error message and the session goes on.
    # No keepalive pings: a server that falls behind (more sessions than cores) stops reading
    # (backpressure), and a ping timeout would then drop sessions that are merely queued;
    # dead clients are dropped by the idle limit instead.
    async with ws_serve(server.handler, host, port, max_size=4 * server.limits.max_message,
                        max_queue=64, ping_interval=None,
                        process_request=_http_handler(server)) as ws_server:
        actual = ws_server.sockets[0].getsockname()[1] if ws_server.sockets else port
        if ready is not None:
            ready(actual)
        if stop is None:
            await asyncio.Future()
        else:
            await stop.wait()


def check_bind(host: str, token: str | None) -> None:
    """A server reachable from other machines needs a token. Raises InputError."""
    if not is_loopback(host) and not token:
        raise InputError(f"--host {host}: listening beyond this machine needs --token "
                         "(clients send it in their hello)")


class ServerThread:
    """A server on a background thread with its own event loop (tests, benchmarks, the
    reference client's self-test): `with ServerThread(port=0) as st: st.url`."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **kwargs):
        self.host, self.port = host, port
        self.server = LiveServer(**kwargs)
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def _main(self) -> None:
        async def main():
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()

            def ready(port):
                self.port = port
                self._started.set()

            await serve(self.server, self.host, self.port, ready=ready, stop=self._stop)
        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error = exc
            self._started.set()

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        self._started.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def run(host: str, port: int, *, token: str | None, limits: Limits,
        livelink: tuple[str, int] | None, quiet: bool = False) -> None:
    """`animate serve`: load the model, listen, log one line per session on stderr."""
    import torch

    # One thread per op: sessions run one token at a time, and threads only add contention
    # on a small machine (docs/neural.md, Speed).
    torch.set_num_threads(1)
    check_bind(host, token)
    log = None if quiet else (lambda text: print(f"animate serve: {text}", file=sys.stderr,
                                                 flush=True))
    server = LiveServer(token=token, limits=limits, livelink=livelink, log=log)

    def ready(actual: int) -> None:
        print(f"animate serve: listening on ws://{host}:{actual} (Ctrl-C stops)",
              file=sys.stderr, flush=True)

    try:
        asyncio.run(serve(server, host, port, ready=ready))
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
