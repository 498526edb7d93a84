"""Live Link Face over UDP: send frames to Unreal's LiveLinkFace source (or any tool that
reads the app's packets), live from a session or played back from curves in real time.
The packet layout is `voxface.exporters.livelink.encode_udp_packet`.
"""

from __future__ import annotations

import socket
import time

import numpy as np

from voxface.core.curves import Curves
from voxface.core.errors import InputError
from voxface.core.names import ARKIT_52, LIVE_LINK_EXTRAS
from voxface.exporters.livelink import LIVE_LINK_UDP_PORT, encode_udp_packet


def parse_address(text: str, *, option: str = "--livelink") -> tuple[str, int]:
    """'HOST:PORT' (or 'HOST', port 11111; '[::1]:PORT' for IPv6) -> (host, port). Raises
    InputError naming the option."""
    host, sep, port = text.rpartition(":") if not text.endswith("]") else (text, "", "")
    if not sep:
        host, port = text, str(LIVE_LINK_UDP_PORT)
    host = host.strip("[]")
    try:
        number = int(port)
    except ValueError:
        raise InputError(f"{option}: {text!r} is not HOST:PORT") from None
    if not host or not 0 < number < 65536:
        raise InputError(f"{option}: {text!r} is not HOST:PORT (port 1..65535)")
    return host, number


class LiveLinkSender:
    """A UDP socket that sends frames as Live Link Face packets to (host, port)."""

    def __init__(self, host: str, port: int, *, device_id: str = "voxface"):
        try:
            info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as exc:
            raise InputError(f"--livelink: cannot resolve {host!r} ({exc.strerror})") from None
        self.address = info[4]
        self.device_id = device_id
        self._sock = socket.socket(info[0], socket.SOCK_DGRAM)
        self.sent = 0

    def send(self, arkit: np.ndarray, rotations: np.ndarray, start: int, *,
             subject: str = "voxface", fps: int = 60) -> None:
        """Frames start .. start + k - 1: arkit float [k, 52], rotations float [k, 9]."""
        for i in range(arkit.shape[0]):
            packet = encode_udp_packet(np.concatenate([arkit[i], rotations[i]]),
                                       frame=start + i, fps=fps, subject=subject,
                                       device_id=self.device_id)
            try:
                self._sock.sendto(packet, self.address)
            except OSError:
                # UDP is fire-and-forget: a listener that is not there (ICMP refused) must
                # not stop the animation.
                continue
            self.sent += 1

    def close(self) -> None:
        self._sock.close()


def curves_matrices(curves: Curves) -> tuple[np.ndarray, np.ndarray]:
    """(arkit [T, 52] in ARKIT_52 order, rotations [T, 9]) from curves by name (zeros for
    missing columns; rotations from curves.extras['rotations'])."""
    arkit = np.zeros((curves.n_frames, len(ARKIT_52)), np.float32)
    for j, name in enumerate(ARKIT_52):
        if name in curves.names:
            arkit[:, j] = curves.column(name)
    rotations = np.zeros((curves.n_frames, len(LIVE_LINK_EXTRAS)), np.float32)
    rot = curves.extras.get("rotations") if isinstance(curves.extras, dict) else None
    if isinstance(rot, Curves) and rot.n_frames == curves.n_frames:
        for j, name in enumerate(LIVE_LINK_EXTRAS):
            if name in rot.names:
                rotations[:, j] = rot.column(name)
    return arkit, rotations


def play_curves(curves: Curves, host: str, port: int, *, subject: str = "voxface",
                realtime: bool = True, clock=time.monotonic, sleep=time.sleep) -> int:
    """Send every frame of `curves` to host:port, frame i at i / fps seconds after the start
    (as fast as possible when realtime is False). Returns the packets sent."""
    arkit, rotations = curves_matrices(curves)
    sender = LiveLinkSender(host, port)
    fps = int(round(curves.fps))
    try:
        t0 = clock()
        for i in range(curves.n_frames):
            if realtime:
                wait = t0 + i / curves.fps - clock()
                if wait > 0:
                    sleep(wait)
            sender.send(arkit[i:i + 1], rotations[i:i + 1], i, subject=subject, fps=fps)
        return sender.sent
    finally:
        sender.close()
