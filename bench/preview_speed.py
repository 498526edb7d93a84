"""Benchmark: `--preview` rendering speed (target: >= 30 fps at 512x512 on 2 cores).

Runs the pipeline once on the bundled example (or AUDIO), then times, for each rig:

* render: GLRenderer.frame over every video frame (CPU morph blending, vertex buffer update,
  OpenGL draw and read-back), no encoding;
* end to end: `write_preview` to an MP4 (H.264 encode and audio mux in a parallel ffmpeg
  process included), as frames / render-loop seconds, and its wall time with setup.

The process is pinned to `--cores` CPUs (default 2) before OpenGL starts, and llvmpipe gets
as many threads (LP_NUM_THREADS), so a bigger machine measures the 2-core target.

    python bench/preview_speed.py [--size 512] [--cores 2] [--repeat 3] [--rig RIG ...] [AUDIO]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RPM = REPO.parent / "shared/assets/rigs/rpm_brunette.glb"


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("audio", nargs="?", default=str(REPO / "assets/example.wav"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--rig", action="append", default=None,
                    help="rig(s) to time (default: the fitme head, and rpm_brunette.glb when "
                         "../shared has it)")
    args = ap.parse_args()

    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[: args.cores]
        os.sched_setaffinity(0, cpus)
    os.environ.setdefault("LP_NUM_THREADS", str(args.cores))

    from voxface.assets import asset_path
    from voxface.pipeline import animate
    from voxface.exporters import preview as P

    rigs = args.rig or [asset_path("fitme.glb")] + ([str(RPM)] if RPM.is_file() else [])
    audio = Path(args.audio)
    side = audio.with_suffix(".txt")
    transcript = side.read_text() if side.is_file() else None
    print(f"preview_speed: {args.size}x{args.size}, {args.cores} cores, "
          f"LP_NUM_THREADS={os.environ['LP_NUM_THREADS']}, audio {audio.name}")
    for rig in rigs:
        anim = animate(audio, transcript=transcript, rig_path=rig, fps=args.fps)
        glb = P._animated_glb(anim)
        scene = P.build_scene(glb, fps=anim.curves.fps, duration=anim.curves.duration)
        r = P.GLRenderer(scene, args.size)
        r.frame(0)
        render, cpu_render = [], []
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            for i in range(scene.n_frames):
                r.frame(i)
            render.append(scene.n_frames / (time.perf_counter() - t))
            cpu_render.append((time.process_time() - c) / scene.n_frames * 1000)
        r.close()
        e2e, walls, cpu_e2e = [], [], []
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.repeat):
                t, c, k = time.perf_counter(), time.process_time(), _children_cpu()
                st = P.write_preview(anim, Path(tmp) / "p.mp4",
                                     P.PreviewOptions(size=args.size))
                walls.append(time.perf_counter() - t)
                e2e.append(st.render_fps)
                cpu_e2e.append((time.process_time() - c + _children_cpu() - k)
                               / st.frames * 1000)
        verts = sum(len(s.pos) for s in scene.sets)
        print(f"{Path(rig).name}: {scene.n_frames} frames, {len(scene.sets)} vertex sets, "
              f"{verts} vertices, platform {st.platform}")
        print(f"  render only : {statistics.median(render):6.1f} fps (median of "
              f"{args.repeat}; {min(render):.1f}..{max(render):.1f}); "
              f"{statistics.median(cpu_render):.1f} CPU-ms/frame (all threads)")
        print(f"  end to end  : {statistics.median(e2e):6.1f} fps with H.264 encode + mux; "
              f"wall {statistics.median(walls):.2f} s incl. setup; "
              f"{statistics.median(cpu_e2e):.1f} CPU-ms/frame incl. ffmpeg; audio: {st.audio}")
    print(f"load average {os.getloadavg()[0]:.2f} (other processes share these cores: the "
          "CPU-ms/frame figures are what the frames cost, the fps what this run got)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
