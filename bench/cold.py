"""Benchmark: a new user's first `debforge package recipes/hello-ssl --test`, then the same again (warm).

Usage: .venv/bin/python bench/cold.py [--dist bookworm] [--arch arm64] [--keep-images]

A true cold start: every image in the engine's `debforge/` repository namespace is REMOVED first (all
of them, for every target: debforge keeps all its images there, so that is how to start from nothing)
and the cache is a new empty directory; the host is already set up. Use `--keep-images` on a shared
engine and a (dist, arch) pair nobody else uses instead: only that pair's images are then removed.

Prints, from the command's own `--timings` breakdown:
  figure 1  cold `package --test` wall time              (target <= 90 s)
  figure 3  the builder image for the new target         (target <= 30 s)
  figure 5  warm `package --test` of the same, no change  (target < 3 s)
Figures 2 and 4 are printed by bench/rootfs.py and bench/cross_vs_emulated.py.

It also prints how fast the host was, as a fixed Python loop's time: on the same 2-core machine,
figure 1 of the same code took 87 to 116 s on one day and 48 to 51 s on another (its loop 2 to 3
times faster), so a figure means little without it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
DEBFORGE = Path(sys.executable).parent / "debforge"
_STEP = re.compile(r"^\s+([\d.]+) s\s+[\d.]+%  @\s*([\d.]+)  (\s*)(.*?)(  \(failed\))?$")


@dataclass(frozen=True)
class Run:
    """One timed CLI run: its wall time and its --timings steps (seconds, start, depth, title)."""

    wall: float
    steps: tuple[tuple[float, float, int, str], ...]

    def step(self, prefix: str) -> float | None:
        """Seconds of the first step whose title starts with `prefix`."""
        return next((s for s, _, _, title in self.steps if title.startswith(prefix)), None)

    def breakdown(self) -> str:
        return "\n".join(
            f"    {s:7.1f} s  @{start:6.1f}  {'  ' * depth}{title}" for s, start, depth, title in self.steps
        )


def remove_images(client: docker.DockerClient, prefix: str) -> int:
    """Remove every image with a tag under `prefix` (a repository namespace such as `debforge/`)."""
    removed = 0
    for image in client.images.list():
        if any(tag.startswith(prefix) for tag in image.tags):
            for tag in image.tags:
                client.images.remove(tag, force=True)
            removed += 1
    return removed


def package(cache: Path, out: Path, dist: str, arch: str, *, test: bool = True) -> Run:
    """`debforge --timings package recipes/hello-ssl [--test]` with this cache; wall seconds and steps."""
    argv = [
        str(DEBFORGE), "--timings", "--progress", "plain", "package", str(ROOT / "recipes/hello-ssl"),
        "--dist", dist, "--arch", arch, *(["--test"] if test else []), "--cache-dir", str(cache),
        "--out", str(out),
    ]  # fmt: skip
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"debforge failed ({done.returncode}):\n{done.stderr[-3000:]}")
    block = done.stderr.split("timings:\n", 1)[-1].splitlines()
    steps = []
    for line in block:
        found = _STEP.match(line)
        if found:
            seconds, start, indent, title = found.group(1, 2, 3, 4)
            steps.append((float(seconds), float(start), len(indent) // 2, title))
    return Run(wall=wall, steps=tuple(steps))


def host_speed() -> str:
    """The CPU count and a fixed 30M-step Python loop's time: what the figures' host was like."""
    start, total = time.perf_counter(), 0
    for step in range(30_000_000):
        total += step
    return f"host: {os.cpu_count()} CPUs; a 30M-step Python loop took {time.perf_counter() - start:.2f} s"


def figure(number: int, what: str, value: float | None, target: str, ok: bool) -> None:
    shown = "n/a" if value is None else f"{value:.1f} s"
    print(f"figure {number}: {what}: {shown} (target {target}) {'met' if ok else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default="bookworm")
    parser.add_argument("--arch", default="arm64")
    parser.add_argument("--new-arch", default="armhf", help="the second target of figure 3")
    parser.add_argument("--keep-images", action="store_true", help="remove only this pair's images")
    args = parser.parse_args()
    client = docker.from_env()
    speed = host_speed()
    prefixes = [f"debforge/{args.dist}-{a}-" for a in (args.arch, args.new_arch, "amd64")]
    for prefix in prefixes if args.keep_images else ["debforge/"]:  # amd64: the dist's builder base
        print(f"removed {remove_images(client, prefix)} images under {prefix}")
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        cache, out = Path(tmp) / "cache", Path(tmp) / "out"
        cold = package(cache, out, args.dist, args.arch)
        warm = package(cache, out, args.dist, args.arch)
        second = package(cache, Path(tmp) / "out2", args.dist, args.new_arch, test=False)
    target = f"{args.dist}/{args.arch}"
    print(speed)
    print(f"cold `package recipes/hello-ssl --dist {args.dist} --arch {args.arch} --test`, --timings:")
    print(cold.breakdown())
    builder = second.step(f"Builder image for {args.dist}/{args.new_arch}")
    figure(1, f"cold package --test ({target})", cold.wall, "<= 90 s", cold.wall <= 90)
    figure(3, f"builder image for a new target ({args.dist}/{args.new_arch}, after {target})", builder,
           "<= 30 s", builder is not None and builder <= 30)  # fmt: skip
    print(
        f"    (the cold run's builder for {target}, base and layer from nothing: "
        f"{cold.step(f'Builder image for {target}') or 0:.1f} s)"
    )
    figure(5, "warm package --test, no change", warm.wall, "< 3 s", warm.wall < 3)
    print("warm run, --timings:")
    print(warm.breakdown() or "    (no steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
