"""A small headless-Chromium driver for the web viewer test: the DevTools protocol over
`--remote-debugging-pipe` (fds 3 and 4, NUL-separated JSON), so it needs no websocket library,
plus a PNG decoder for the screenshots it takes (numpy only).

Only what the test uses: open a page, wait for its title, collect console errors and uncaught
exceptions, and capture a screenshot as an RGBA array.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np

# The flags this machine needs: no sandbox (root in a container), software GL (no GPU), and no
# background traffic (the tests run offline). SwiftShader must be allowed explicitly since
# Chromium stopped falling back to it for WebGL on its own.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--mute-audio",
    "--autoplay-policy=no-user-gesture-required", "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium process driven over the DevTools pipe. Use as a context manager."""

    def __init__(self, executable: str, *, width: int = 640, height: int = 480,
                 extra_flags: tuple[str, ...] = ()):
        self._profile = tempfile.mkdtemp(prefix="voxface-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds() -> None:  # Chromium reads commands on fd 3 and writes replies on fd 4
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        # stderr to a file, not a pipe nobody reads (a full pipe would stall the browser).
        self._log_path = Path(self._profile) / "chromium-stderr.txt"
        self._log = open(self._log_path, "wb")
        self.proc = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, *extra_flags, "--remote-debugging-pipe",
             f"--user-data-dir={self._profile}", f"--window-size={width},{height}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
            # pass_fds keeps 3 and 4 open: the fd closing runs after preexec_fn
            preexec_fn=wire_fds, pass_fds=(3, 4))
        os.close(to_child_r)
        os.close(from_child_w)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._events: "queue.Queue[dict]" = queue.Queue()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self.session: str | None = None
        self.width, self.height = width, height

    # -- transport -------------------------------------------------------------------------
    def _read_loop(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._replies[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self._events.put(msg)

    def send(self, method: str, params: dict | None = None, *, session: bool = True,
             timeout: float = 30.0) -> dict:
        """Send one command and wait for its result (RuntimeError on a protocol error)."""
        self._next_id += 1
        mid = self._next_id
        msg: dict = {"id": mid, "method": method, "params": params or {}}
        if session and self.session is not None:
            msg["sessionId"] = self.session
        try:
            os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        except OSError as exc:  # the browser is gone
            raise RuntimeError(f"cannot send {method}: {exc}; chromium's stderr ends: "
                               f"{self._stderr_tail()!r}") from None
        deadline = time.monotonic() + timeout
        with self._cond:
            while mid not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise RuntimeError(f"no reply to {method} (chromium rc={self.proc.poll()}); "
                                       f"its stderr ends: {self._stderr_tail()!r}")
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _stderr_tail(self, n: int = 600) -> str:
        try:
            return self._log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    # -- page ------------------------------------------------------------------------------
    def open(self, url: str) -> None:
        """Open `url` in a new tab and attach to it, with console and log events on."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send("Target.attachToTarget",
                             {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session = attached["sessionId"]
        for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.send(domain)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                   "mobile": False})
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression: str, *, await_promise: bool = False, timeout: float = 30.0):
        """The value of a JavaScript expression in the page (None when it throws); with
        `await_promise`, the value the promise it gives resolves to (RuntimeError when it
        throws or the promise rejects)."""
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": await_promise}, timeout=timeout)
        if await_promise and "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise RuntimeError(str(d.get("exception", {}).get("description") or d.get("text")))
        return res.get("result", {}).get("value")

    def wait_title(self, done, timeout: float = 60.0) -> str:
        """Poll document.title until `done(title)` is true; return it (TimeoutError if not)."""
        deadline = time.monotonic() + timeout
        title = ""
        while time.monotonic() < deadline:
            title = self.evaluate("document.title") or ""
            if done(title):
                return title
            time.sleep(0.1)
        raise TimeoutError(f"page title still {title!r} after {timeout:g} s; "
                           f"errors: {self.errors()}")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads reported so far."""
        out = []
        while True:
            try:
                ev = self._events.get_nowait()
            except queue.Empty:
                return out
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                  for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: " + str(d.get("exception", {}).get("description")
                                                or d.get("text")))
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                e = p["entry"]
                out.append(f"log: {e.get('text')} {e.get('url', '')}".strip())

    def screenshot(self) -> np.ndarray:
        """The viewport as uint8 RGBA, shape [H, W, 4]."""
        res = self.send("Page.captureScreenshot", {"format": "png"})
        return decode_png(base64.b64decode(res["data"]))

    # -- lifetime --------------------------------------------------------------------------
    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close", session=False, timeout=5)
                except RuntimeError:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            self._log.close()
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def decode_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium writes) to RGBA [H, W, 4]."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat = 8, []
    width = height = bit_depth = color = interlace = None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, bit_depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if bit_depth != 8 or color not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG (depth {bit_depth}, colour {color}, "
                         f"interlace {interlace})")
    bpp = 3 if color == 2 else 4
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(height):
        ftype, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 255
        elif ftype == 1:  # Sub: a running sum per channel, so a cumulative sum mod 256
            cur = (np.cumsum(line.reshape(-1, bpp), axis=0) & 255).reshape(-1)
        else:  # Average and Paeth depend on the pixel just decoded: sequential (plain lists,
            # which are several times faster than numpy scalars here)
            ln, up, cu = line.tolist(), prev.tolist(), [0] * stride
            for x in range(stride):
                a = cu[x - bpp] if x >= bpp else 0
                b = up[x]
                if ftype == 3:
                    cu[x] = (ln[x] + ((a + b) >> 1)) & 255
                else:
                    c = up[x - bpp] if x >= bpp else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    pred = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                    cu[x] = (ln[x] + pred) & 255
            cur = np.array(cu, np.int32)
        out[y] = cur
        prev = cur
    img = out.reshape(height, width, bpp)
    if bpp == 3:
        img = np.concatenate([img, np.full((height, width, 1), 255, np.uint8)], axis=2)
    return img
