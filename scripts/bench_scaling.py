#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Scaling and mixing: stromautoconvertscale's software path and stromcompositor's against
videoconvertscale / compositor, side by side in one run (run by scripts/bench.sh --scaling).

CPU per frame: the gst-launch-1.0 child's user + system time over the frames, minus the same for
the sources alone (videotestsrc num-buffers=1 ! imagefreeze ! fakesink, same frames), so
process start-up and the sources cancel. Wall: the child's elapsed time, minus the sources'.
Contenders are interleaved round-robin, median of --reps. Pictures: one frame of each pattern
through each contender, mean absolute difference, max and PSNR per sample (all planes).
Floor: the frame's bytes read + written at this machine's memcpy speed.
Prints Markdown."""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

LADDER = [((1920, 1080), (1280, 720, "NV12")), ((1920, 1080), (854, 480, "NV12")),
          ((1920, 1080), (640, 360, "I420")), ((3840, 2160), (1280, 720, "NV12")),
          ((3840, 2160), (854, 480, "NV12")), ((3840, 2160), (640, 360, "I420")),
          ((3840, 2160), (1920, 1080, "NV12"))]
SCALERS = {
    "stromautoconvertscale": "stromautoconvertscale mode=software",
    "videoconvertscale n-threads=1": "videoconvertscale n-threads=1",
    "videoconvertscale": "videoconvertscale",
}
PATTERNS = ["smpte", "snow", "ball", "pinwheel", "natural"]


def frame_size(w, h):
    return w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)


def source(w, h, frames, pattern="smpte", natural=None):
    caps = f"video/x-raw,format=I420,width={w},height={h},framerate=30/1,pixel-aspect-ratio=1/1,colorimetry=bt709"
    if pattern == "natural":
        return (f"filesrc location={natural} ! rawvideoparse format=i420 width={w} height={h} "
                f"framerate=30/1 colorimetry=bt709 ! {caps} ! imagefreeze num-buffers={frames}")
    return (f"videotestsrc num-buffers=1 pattern={pattern} ! {caps} ! "
            f"imagefreeze num-buffers={frames}")


def run(pipeline):
    """(cpu seconds, wall seconds) of one gst-launch-1.0 child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(["gst-launch-1.0", "-q"] + pipeline.split(), check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def chain(pipeline):
    """The chain stromautoconvertscale's message names for `pipeline`."""
    out = subprocess.run(["gst-launch-1.0", "-m"] + pipeline.split(), check=True,
                         capture_output=True, text=True).stdout
    for part in out.split(","):
        if "chain=(string)" in part:
            return part.split("chain=(string)")[1].strip().strip('"')
    return "?"


def memcpy_speed():
    """Bytes moved (read + written) per second by one large copy, best of 5."""
    n = 64 << 20
    src, dst = bytearray(n), bytearray(n)
    best = min(timed(lambda: dst.__setitem__(slice(None), src)) for _ in range(5))
    return 2 * n / best


def timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def natural_frame(w, h, path):
    """A smooth scene with fine detail and sensor-like noise (no camera footage here)."""
    import math
    seed = 12345
    out = bytearray()
    for plane_w, plane_h, base in [(w, h, 0), ((w + 1) // 2, (h + 1) // 2, 1),
                                   ((w + 1) // 2, (h + 1) // 2, 2)]:
        sx, sy = 1920 / plane_w / (2 if base else 1), 1080 / plane_h / (2 if base else 1)
        cols = [math.sin(x * sx * 0.011 + base) * 40 + math.sin(x * sx * 0.13) * 12
                for x in range(plane_w)]
        for y in range(plane_h):
            row = math.cos(y * sy * 0.017 + base) * 35 + math.sin(y * sy * 0.21) * 10
            line = bytearray(plane_w)
            for x in range(plane_w):
                seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
                v = 128 + cols[x] + row + ((seed >> 16) % 9) - 4
                line[x] = 0 if v < 0 else 255 if v > 255 else int(v)
            out += line
    with open(path, "wb") as f:
        f.write(out)


def planes(data, w, h, fmt):
    """The samples of a frame (GStreamer's default strides) as one flat list per plane."""
    def rows(offset, stride, width, height):
        return b"".join(data[offset + r * stride: offset + r * stride + width]
                        for r in range(height))
    stride = (w + 3) & ~3
    cw, ch = (w + 1) // 2, (h + 1) // 2
    if fmt == "I420":
        cstride = ((stride // 2) + 3) & ~3
        y = rows(0, stride, w, h)
        u_off = stride * ((h + 1) & ~1)
        u = rows(u_off, cstride, cw, ch)
        v = rows(u_off + cstride * ch, cstride, cw, ch)
        return y + u + v
    y = rows(0, stride, w, h)
    return y + rows(stride * ((h + 1) & ~1), stride, cw * 2, ch)


def compare(a, b):
    diffs = [abs(x - y) for x, y in zip(a, b)]
    n = len(diffs)
    mse = sum(d * d for d in diffs) / n
    psnr = float("inf") if mse == 0 else 10 * __import__("math").log10(255 * 255 / mse)
    return sum(diffs) / n, max(diffs), psnr


def pictures(tmp, natural):
    rows = []
    for (iw, ih), (ow, oh, fmt) in LADDER:
        nat = natural[(iw, ih)]
        for pattern in PATTERNS:
            frames = {}
            for name in ["stromautoconvertscale", "videoconvertscale n-threads=1"]:
                out = os.path.join(tmp, "frame.raw")
                subprocess.run(["gst-launch-1.0", "-q"] + (
                    f"{source(iw, ih, 1, pattern, nat)} ! {SCALERS[name]} ! "
                    f"video/x-raw,format={fmt},width={ow},height={oh} ! filesink location={out}"
                ).split(), check=True)
                with open(out, "rb") as f:
                    frames[name] = planes(f.read(), ow, oh, fmt)
            mad, most, psnr = compare(frames["stromautoconvertscale"],
                                      frames["videoconvertscale n-threads=1"])
            rows.append((f"{iw}x{ih} → {ow}x{oh} {fmt}", pattern, mad, most, psnr))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--only", default="ladder,pictures,mosaic")
    args = ap.parse_args()
    only = args.only.split(",")
    load = os.getloadavg()
    print(f"Command: `scripts/bench.sh --scaling {' '.join(sys.argv[1:])}`, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} before.\n")
    speed = memcpy_speed()
    print(f"memcpy speed (read + written): {speed / 1e9:.1f} GB/s\n")
    with tempfile.TemporaryDirectory() as tmp:
        natural = {}
        if "pictures" in only:
            for size in [(1920, 1080), (3840, 2160)]:
                natural[size] = os.path.join(tmp, f"natural{size[0]}.yuv")
                natural_frame(*size, natural[size])
        if "ladder" in only:
            ladder(args, speed)
        if "mosaic" in only:
            mosaic(args, speed)
        if "pictures" in only:
            print("\n| case | content | MAD | max | PSNR dB |\n|---|---|---:|---:|---:|")
            for case, pattern, mad, most, psnr in pictures(tmp, natural):
                print(f"| {case} | {pattern} | {mad:.3f} | {most} | {psnr:.1f} |")
    load = os.getloadavg()
    print(f"\nLoad average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def measure(pipes, reps, frames):
    """Runs every pipeline `reps` times, interleaved round-robin; returns the median CPU and wall
    ms per frame of each, less those of the pipeline named "source" (the sources alone)."""
    samples = {name: [] for name in pipes}
    for _ in range(reps):
        for name, pipe in pipes.items():
            samples[name].append(run(pipe))
    src_cpu = statistics.median(c for c, _ in samples["source"])
    src_wall = statistics.median(w for _, w in samples["source"])
    net = {n: (statistics.median(c for c, _ in s) - src_cpu) / frames * 1e3
           for n, s in samples.items()}
    wall = {n: (statistics.median(w for _, w in s) - src_wall) / frames * 1e3
            for n, s in samples.items()}
    return net, wall


def ladder(args, speed):
    print("| case | chain | stromautoconvertscale CPU ms/frame | videoconvertscale n-threads=1 "
          "CPU ms/frame | CPU ratio | wall ratio (videoconvertscale ÷ ours) | floor ms | "
          "× floor |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (iw, ih), (ow, oh, fmt) in LADDER:
        frames = args.frames if iw < 3000 else args.frames // 2
        out = f"video/x-raw,format={fmt},width={ow},height={oh}"
        pipes = {name: f"{source(iw, ih, frames)} ! {el} ! {out} ! fakesink sync=false"
                 for name, el in SCALERS.items()}
        pipes["source"] = f"{source(iw, ih, frames)} ! fakesink sync=false"
        net, wall = measure(pipes, args.reps, frames)
        floor = (frame_size(iw, ih) + frame_size(ow, oh)) / speed * 1e3
        ours, stock = net["stromautoconvertscale"], net["videoconvertscale n-threads=1"]
        path = chain(pipes["stromautoconvertscale"].replace(f"num-buffers={frames}",
                                                            "num-buffers=2"))
        print(f"| {iw}x{ih} I420 → {ow}x{oh} {fmt} | {path} | {ours:.3f} | {stock:.3f} | "
              f"{ours / stock:.2f}× | {wall['videoconvertscale'] / wall['stromautoconvertscale']:.2f}× "
              f"| {floor:.3f} | {ours / floor:.1f}× |")


def mosaic(args, speed):
    print("\n| case | stromcompositor CPU ms/frame | compositor CPU ms/frame | CPU ratio | "
          "wall ratio (compositor ÷ ours) | floor ms | × floor |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    frames = args.frames // 2
    cases = {
        "2×2 mosaic, 4 × 1080p → 1080p I420": [
            f"sink_{i}::xpos={960 * (i % 2)} sink_{i}::ypos={540 * (i // 2)} "
            f"sink_{i}::width=960 sink_{i}::height=540" for i in range(4)],
        "4 layers 1080p, upper three alpha 0.5": [
            f"sink_{i}::alpha={1.0 if i == 0 else 0.5} sink_{i}::zorder={i}" for i in range(4)],
    }
    patterns = ["smpte", "ball", "snow", "pinwheel"]
    for case, props in cases.items():
        def pipe(mixer):
            srcs = " ".join(f"{source(1920, 1080, frames, patterns[i])} ! m.sink_{i}"
                            for i in range(4))
            return (f"{mixer} name=m {' '.join(props)} ! video/x-raw,format=I420,width=1920,"
                    f"height=1080 ! fakesink sync=false {srcs}")
        srcs_only = " ".join(f"{source(1920, 1080, frames, patterns[i])} ! fakesink sync=false"
                             for i in range(4))
        pipes = {"stromcompositor": pipe("stromcompositor mode=software"),
                 "compositor": pipe("compositor"), "source": srcs_only}
        if "mosaic" in case:
            # compositor's own pad scaling alone (its pads' GstVideoConverter: CUBIC, which
            # videoconvertscale method=mitchell is, to a sample): what a one-pass mosaic with
            # the same picture still pays.
            pipes["pad scaling"] = " ".join(
                f"{source(1920, 1080, frames, patterns[i])} ! videoconvertscale n-threads=1 "
                f"method=mitchell ! video/x-raw,width=960,height=540 ! fakesink sync=false"
                for i in range(4))
        net, wall = measure(pipes, args.reps, frames)
        floor = (4 * frame_size(1920, 1080) + frame_size(1920, 1080)) / speed * 1e3
        ours, stock = net["stromcompositor"], net["compositor"]
        print(f"| {case} | {ours:.3f} | {stock:.3f} | {ours / stock:.2f}× | "
              f"{wall['compositor'] / wall['stromcompositor']:.2f}× | {floor:.3f} | "
              f"{ours / floor:.1f}× |")
        if "pad scaling" in net:
            scaling = net["pad scaling"]
            print(f"| ↳ compositor's pad scaling alone (4 × videoconvertscale method=mitchell) | "
                  f"{scaling:.3f} | {stock:.3f} | {scaling / stock:.2f}× | | | |")


if __name__ == "__main__":
    main()
