"""`animate serve`: the live WebSocket server (voxface.live.server, docs/live.md)."""

from __future__ import annotations

import importlib.util
import os

from voxface.cli.common import EXIT_OK, Parser
from voxface.core.errors import InputError, MissingDependencyError
from voxface.engine.neural.infer import neural_ready
from voxface.live.protocol import Limits
from voxface.live.server import check_bind
from voxface.live.server import run as serve_forever
from voxface.live.udp import parse_address


def run(argv: list[str]) -> int:
    d = Limits()
    p = Parser(prog="animate serve",
                description="Serve live animation over WebSocket: clients send 16 kHz PCM "
                            "(binary, int16 or float32 little-endian) or {\"say\": TEXT} and "
                            "get frames (52 ARKit values, head/eye rotations, visemes, each "
                            "with its audio time) as soon as the model's 80 ms look-ahead "
                            "allows. Protocol: docs/live.md. http://HOST:PORT/ is a live page "
                            "(microphone or text -> head); /?mode=browser runs the model in the "
                            "page (onnxruntime-web). Needs 'voxface[neural,live]'.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; any "
                        "other needs --token)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default: 8765; 0: any)")
    p.add_argument("--token", default=os.environ.get("VOXFACE_TOKEN"),
                   help="secret clients must send in their hello (default: $VOXFACE_TOKEN)")
    p.add_argument("--livelink", metavar="HOST:PORT",
                   help="also send every session's frames as Live Link Face UDP packets "
                        "(subject = the hello's 'subject', default voxface)")
    p.add_argument("--max-sessions", type=int, default=d.max_sessions,
                   help=f"sessions at once (default: {d.max_sessions})")
    p.add_argument("--max-message", type=int, default=d.max_message,
                   help=f"bytes per message (default: {d.max_message})")
    p.add_argument("--idle", type=float, default=d.idle_s,
                   help=f"seconds without a message before a session closes (default: "
                        f"{d.idle_s:g})")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-session log on stderr")
    args = p.parse_args(argv)
    # The optional extras it runs on, checked before anything binds (one line, exit 2).
    why = neural_ready()
    if why:
        raise MissingDependencyError(f"animate serve: {why}")
    if importlib.util.find_spec("websockets") is None:
        raise MissingDependencyError("animate serve: needs websockets (pip install "
                                     "'voxface[live]')")
    if not 0 <= args.port < 65536:
        raise InputError(f"--port: {args.port} is out of range 0..65535")
    if args.max_sessions < 1 or args.max_message < 1024 or args.idle <= 0:
        raise InputError("--max-sessions must be >= 1, --max-message >= 1024, --idle > 0")

    check_bind(args.host, args.token)
    livelink = None
    if args.livelink is not None:
        livelink = parse_address(args.livelink)
    limits = Limits(max_sessions=args.max_sessions, max_message=args.max_message,
                    idle_s=args.idle)
    serve_forever(args.host, args.port, token=args.token, limits=limits, livelink=livelink,
        quiet=args.quiet)
    return EXIT_OK
