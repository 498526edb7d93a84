"""Live server benchmarks (docs/live.md, Performance): latency with concurrent real-time
sessions, and a load test with a fuzzer. Everything on loopback (127.0.0.1).

    python bench/live_bench.py latency --sessions 1 8 --seconds 20
    python bench/live_bench.py load --sessions 32 --seconds 60 --fuzz

The server runs as its own process (`animate serve --port 0`, torch on one thread); the
clients run here, one asyncio task per session, each sending speech (LJ Speech clips from
../shared, concatenated) in 10 ms chunks at the speed of speech, with random start offsets
within one 50 ms token so that sessions do not all complete their tokens at the same instant.

Measured:
* frame delay: per frame, from sending the chunk that holds the frame's audio instant to the
  frame's arrival (what a viewer sees; includes the 80 ms look-ahead and the chunk length);
* response: from sending the chunk that completed a frames message to its arrival;
* server CPU (user + system, /proc) per 10 ms of audio per session, and server memory (RSS)
  per session above the idle server;
* load: RSS sampled every 2 s after warm-up (flat within 10 %?), frames received = frames
  expected for every well-formed session, the server process alive at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voxface.core.audio import load_audio  # noqa: E402
from voxface.live.client import listen, stats_ms  # noqa: E402

LJ = ROOT.parent / "shared" / "assets" / "speech" / "ljspeech" / "flac"


def speech(seconds: float) -> np.ndarray:
    """LJ Speech clips concatenated (looped) to `seconds` of 16 kHz audio."""
    files = sorted(LJ.glob("*.flac"))
    parts, total = [], 0
    k = 0
    while total < seconds * 16000:
        x = load_audio(files[k % len(files)]).samples
        parts.append(x)
        total += x.shape[0]
        k += 1
    return np.concatenate(parts)[:int(seconds * 16000)]


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(max_sessions: int) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "voxface.cli", "serve", "--port", "0",
                             "--max-sessions", str(max_sessions), "--idle", "120", "-q"],
                            stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
    line = proc.stderr.readline()
    if "listening on" not in line:
        raise SystemExit(f"server did not start: {line}")
    return proc, line.split("listening on ")[1].split()[0]


async def _warm(url: str) -> None:
    await listen(url, np.zeros(16000, np.float32), chunk_ms=20)


async def sessions(url: str, n: int, audio: np.ndarray, chunk_ms: float, seed: int = 0):
    rng = random.Random(seed)

    async def one(k: int):
        await asyncio.sleep(rng.uniform(0, 0.05))
        return await listen(url, audio, chunk_ms=chunk_ms, realtime=True, seed=k,
                            timeout_s=600)

    return await asyncio.gather(*(one(k) for k in range(n)))


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_latency(args) -> list[dict]:
    audio = speech(args.seconds)
    rows = []
    for n in args.sessions:
        proc, url = start_server(max(n, 16))
        try:
            asyncio.run(_warm(url))
            rss0, cpu0 = proc_rss_mb(proc.pid), proc_cpu_s(proc.pid)
            load0 = loadavg()
            t0 = time.perf_counter()
            results = asyncio.run(sessions(url, n, audio, args.chunk_ms))
            wall = time.perf_counter() - t0
            cpu = proc_cpu_s(proc.pid) - cpu0
            rss1 = proc_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
        delay = np.concatenate([r.frame_delay_ms for r in results])
        resp = np.concatenate([r.response_ms for r in results])
        expected = int(round(audio.shape[0] / 16000 * 60)) + 1
        row = {"sessions": n, "seconds": args.seconds, "chunk_ms": args.chunk_ms,
               "frame_delay_ms": stats_ms(delay), "response_ms": stats_ms(resp),
               "server_cpu_ms_per_10ms_audio_per_session": round(
                   1000 * cpu / (n * args.seconds * 100), 3),
               "server_cpu_cores": round(cpu / wall, 3),
               "server_rss_mb_idle": round(rss0, 1),
               "server_rss_mb_per_session": round((rss1 - rss0) / n, 2),
               "all_frames": all(r.arkit.shape[0] == expected for r in results),
               "loadavg_before": load0, "loadavg_after": loadavg()}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


async def fuzzer(url: str, stop: asyncio.Event, max_messages: int, rng: random.Random) -> dict:
    """Malformed traffic, bounded by count and by `stop`: bad hellos, garbage text and
    binary, odd byte counts, NaN floats, oversized messages, abrupt disconnects."""
    from websockets.asyncio.client import connect

    sent = errors = connections = 0
    garbage = [lambda: b"\x01", lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 999))),
               lambda: "{", lambda: "[]", lambda: '{"type": 3}', lambda: '{"say": ""}',
               lambda: json.dumps({"type": "say", "text": "x" * 5000}),
               lambda: np.full(160, np.nan, "<f4").tobytes(), lambda: b"\x00" * 70000,
               lambda: "\udcff".encode("utf-8", "surrogatepass"), lambda: '{"type": "hello"}',
               lambda: json.dumps({"a": [[[[[[[[[[1]]]]]]]]]]})]
    bad_hellos = ["nope", b"\x00", json.dumps({"type": "hello", "version": 9}),
                  json.dumps({"type": "hello", "format": "u8"}),
                  json.dumps({"type": "hello", "seed": -1})]
    while sent < max_messages and not stop.is_set():
        connections += 1
        try:
            async with connect(url, max_size=None, ping_interval=None) as ws:
                if rng.random() < 0.3:
                    await ws.send(rng.choice(bad_hellos))
                    sent += 1
                    await asyncio.wait_for(ws.recv(), 5)
                    errors += 1
                    continue
                await ws.send(json.dumps({"type": "hello", "format": "f32"}))
                await ws.recv()
                for _ in range(rng.randrange(1, 40)):
                    await ws.send(rng.choice(garbage)())
                    sent += 1
                    reply = await asyncio.wait_for(ws.recv(), 5)
                    errors += isinstance(reply, str) and '"error"' in reply
                    await asyncio.sleep(rng.uniform(0, 0.05))
                if rng.random() < 0.5:
                    ws.transport.abort() if hasattr(ws, "transport") else None
        except Exception:
            pass  # the server may close a misbehaving connection; that is the point
        await asyncio.sleep(rng.uniform(0, 0.1))
    return {"messages": sent, "errors_received": errors, "connections": connections}


def run_load(args) -> dict:
    audio = speech(args.seconds)
    expected = int(round(audio.shape[0] / 16000 * 60)) + 1
    proc, url = start_server(args.sessions + 8)
    rss = []
    try:
        asyncio.run(_warm(url))

        async def main():
            stop = asyncio.Event()
            rng = random.Random(1)

            async def sample():
                while not stop.is_set():
                    rss.append((time.perf_counter(), proc_rss_mb(proc.pid)))
                    await asyncio.sleep(2.0)

            sampler = asyncio.create_task(sample())
            fuzz = asyncio.create_task(fuzzer(url, stop, args.fuzz_messages, rng)) \
                if args.fuzz else None
            t0 = time.perf_counter()
            cpu0 = proc_cpu_s(proc.pid)
            results = await asyncio.gather(*(listen(url, audio, chunk_ms=args.chunk_ms,
                                                    realtime=True, seed=k, timeout_s=600)
                                             for k in range(args.sessions)),
                                           return_exceptions=True)
            wall = time.perf_counter() - t0
            cpu = proc_cpu_s(proc.pid) - cpu0
            stop.set()
            fz = await fuzz if fuzz else None
            await sampler
            return results, fz, wall, cpu

        load0 = loadavg()
        results, fz, wall, cpu = asyncio.run(main())
        alive = proc.poll() is None
        after = asyncio.run(listen(url, audio[:32000], chunk_ms=20)) if alive else None
    finally:
        proc.terminate()
        proc.wait(10)
    ok = [r for r in results if not isinstance(r, BaseException)]
    t_start = rss[0][0]
    warm = [m for t, m in rss if t - t_start >= 10.0] or [m for _, m in rss]
    row = {"sessions": args.sessions, "seconds": args.seconds, "wall_s": round(wall, 1),
           "sessions_ok": len(ok), "failures": [repr(r) for r in results
                                                if isinstance(r, BaseException)][:3],
           "all_frames": len(ok) == args.sessions and all(
               r.arkit.shape[0] == expected and not r.errors for r in ok),
           "frames_expected": expected,
           "server_alive": alive, "server_ok_after": after is not None
           and after.arkit.shape[0] == 121,
           "rss_mb_after_warmup_min_max": [round(min(warm), 1), round(max(warm), 1)],
           "rss_growth_pct": round(100 * (warm[-1] - warm[0]) / warm[0], 2),
           "server_cpu_cores": round(cpu / wall, 2),
           "frame_delay_ms": stats_ms(np.concatenate([r.frame_delay_ms for r in ok]))
           if ok else None,
           "fuzzer": fz, "loadavg_before": load0, "loadavg_after": loadavg()}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--sessions", type=int, nargs="+", default=[1, 8])
    lat.add_argument("--seconds", type=float, default=20.0)
    lat.add_argument("--chunk-ms", type=float, default=10.0)
    load = sub.add_parser("load")
    load.add_argument("--sessions", type=int, default=32)
    load.add_argument("--seconds", type=float, default=60.0)
    load.add_argument("--chunk-ms", type=float, default=20.0)
    load.add_argument("--fuzz", action="store_true")
    load.add_argument("--fuzz-messages", type=int, default=3000)
    args = p.parse_args()
    (run_latency if args.cmd == "latency" else run_load)(args)


if __name__ == "__main__":
    main()
