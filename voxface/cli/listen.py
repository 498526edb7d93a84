"""`animate listen URL AUDIO`: the reference client of the live server (voxface.live.client)."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import os
import sys
from pathlib import Path

import soundfile as sf

from voxface.cli.common import EXIT_OK, Parser
from voxface.core.audio import load_audio
from voxface.core.errors import InputError, MissingDependencyError
from voxface.core.fileio import write_bytes_all
from voxface.live.client import listen, result_json


def run(argv: list[str]) -> int:
    p = Parser(prog="animate listen",
                description="Stream AUDIO to an `animate serve` server in small chunks and "
                            "write the frames it sends back, with latency statistics: "
                            "response (chunk sent -> its frames arrived) and frame delay "
                            "(a frame's audio sent -> the frame arrived, look-ahead included) "
                            "as p50 / p95 / max milliseconds.")
    p.add_argument("url", help="server address, ws://HOST:PORT")
    p.add_argument("audio", nargs="?", help="speech audio (any format animate reads; "
                                            "resampled to 16 kHz)")
    p.add_argument("-o", "--output", help="frames and latency as JSON (default: none)")
    p.add_argument("--realtime", action="store_true",
                   help="send audio at the speed of speech, as a microphone would")
    p.add_argument("--chunk-ms", type=float, default=20.0,
                   help="chunk length in milliseconds, 10..20 typical (default: 20)")
    p.add_argument("--say", metavar="TEXT", help="after the audio (or instead of it), ask the "
                                                 "server to speak TEXT")
    p.add_argument("--say-audio", metavar="WAV", help="write the spoken audio received here")
    p.add_argument("--format", default="s16", choices=("s16", "f32"),
                   help="PCM sent: int16 or float32 little-endian (default: s16)")
    p.add_argument("--token", default=os.environ.get("VOXFACE_TOKEN"),
                   help="the server's token (default: $VOXFACE_TOKEN)")
    p.add_argument("--seed", type=int, default=0, help="seed of the non-verbal motion")
    args = p.parse_args(argv)
    if importlib.util.find_spec("websockets") is None:
        raise MissingDependencyError("animate listen: needs websockets (pip install "
                                     "'voxface[live]')")
    if args.audio is None and args.say is None:
        raise InputError("animate listen: give AUDIO or --say TEXT (see --help)")
    if not 1.0 <= args.chunk_ms <= 1000.0:
        raise InputError(f"--chunk-ms: {args.chunk_ms:g} is out of range 1..1000")
    if not args.url.startswith(("ws://", "wss://")):
        raise InputError(f"{args.url!r} is not a ws:// or wss:// address")
    for out in (args.output, args.say_audio):
        if out is not None and not (Path(out).parent.is_dir()
                                    and os.access(Path(out).parent, os.W_OK)):
            raise InputError("its folder does not exist or is not writable", path=out)
    samples = None
    if args.audio is not None:
        samples = load_audio(args.audio).samples

    result = asyncio.run(listen(args.url, samples, chunk_ms=args.chunk_ms,
                                realtime=args.realtime, token=args.token, say=args.say,
                                fmt=args.format, seed=args.seed))
    for err in result.errors:
        print(f"animate listen: warning: server error {err.get('code')}: "
              f"{err.get('message')}", file=sys.stderr)
    doc = result_json(result, url=args.url, audio=args.audio, chunk_ms=args.chunk_ms,
                      realtime=args.realtime)
    files = {}
    if args.output is not None:
        files[Path(args.output)] = json.dumps(doc).encode()
    if args.say_audio is not None:
        buf = io.BytesIO()
        sf.write(buf, result.audio, 16000, subtype="PCM_16", format="WAV")
        files[Path(args.say_audio)] = buf.getvalue()
    if files:
        write_bytes_all(files)
    for key, stats in doc["latency_ms"].items():
        if stats["n"]:
            print(f"animate listen: {key:<11s} p50 {stats['p50']:7.1f} ms  p95 "
                  f"{stats['p95']:7.1f} ms  max {stats['max']:7.1f} ms  ({stats['n']})",
                  file=sys.stderr)
    print(f"animate listen: {result.arkit.shape[0]} frames "
          f"({result.arkit.shape[0] / doc['fps']:.2f} s)", file=sys.stderr)
    return EXIT_OK
