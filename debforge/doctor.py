"""`debforge doctor`: what works on this machine, and for what does not, the command that fixes it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import docker

from debforge.dists import Target
from debforge.run import which

_BINFMT = Path("/proc/sys/fs/binfmt_misc")
_SETUP = "scripts/setup-host.sh (or the command below)"
_MIN_FREE = 5 * 1024**3  # a sysroot, an image and a builder image fit in ~5 GiB


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, object]:
        """The check as a JSON object."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


def check_environment(target: Target, cache_dir: Path) -> tuple[Check, ...]:
    """Every check, in the order a user should fix them."""
    return (
        _tool("gpgv", "verifies the archive's signatures", "apt install gpgv"),
        _keyring(target),
        _cache(cache_dir),
        _docker(),
        *_binfmt(target),
        _tool("dpkg-deb", "reads and checks packages", "apt install dpkg"),
    )


def _tool(tool: str, role: str, fix: str) -> Check:
    path = which(tool)
    return Check(name=tool, ok=path is not None, detail=f"{path} ({role})", fix=f"{tool} is missing: {fix}")


def _keyring(target: Target) -> Check:
    ok = target.keyring.is_file()
    return Check(
        name="archive keyring",
        ok=ok,
        detail=str(target.keyring),
        fix=f"{target.keyring} is missing: apt install debian-archive-keyring, or pass --keyring FILE",
    )


def _cache(cache_dir: Path) -> Check:
    probe = cache_dir if cache_dir.exists() else next((p for p in cache_dir.parents if p.exists()), Path("/"))
    writable = os.access(probe, os.W_OK)
    free = shutil.disk_usage(probe).free
    detail = f"{cache_dir} ({free / 1024**3:.1f} GiB free)"
    if not writable:
        return Check(name="cache", ok=False, detail=detail, fix=f"{probe} is not writable: pass --cache-dir")
    fix = f"only {free / 1024**3:.1f} GiB free under {probe}: free space or pass --cache-dir elsewhere"
    return Check(name="cache", ok=free >= _MIN_FREE, detail=detail, fix=fix)


def _docker() -> Check:
    try:
        version = docker.from_env(timeout=5).version()
    except Exception as exc:  # any failure means "no engine answers"
        return Check(
            name="docker",
            ok=False,
            detail=str(exc),
            fix=f"no Docker engine answers: run {_SETUP}, or `apt install docker.io && dockerd &`",
        )
    return Check(
        name="docker", ok=True, detail=f"engine {version.get('Version')} API {version.get('ApiVersion')}"
    )


def _binfmt(target: Target) -> tuple[Check, ...]:
    if os.uname().machine == target.qemu_arch or (target.arch == "i386" and os.uname().machine == "x86_64"):
        return (Check(name="binfmt", ok=True, detail=f"{target.arch} runs natively"),)
    if not (_BINFMT / "status").exists():
        return (
            Check(
                name="binfmt",
                ok=False,
                detail="binfmt_misc is not mounted",
                fix="mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc",
            ),
        )
    entry = _BINFMT / f"qemu-{target.qemu_arch}"
    if not entry.exists():
        return (
            Check(
                name="binfmt",
                ok=False,
                detail=f"no qemu-{target.qemu_arch} handler",
                fix="apt install qemu-user-static binfmt-support",
            ),
        )
    text = entry.read_text()
    flags = next((line.split()[1] for line in text.splitlines() if line.startswith("flags:")), "")
    # Containers see the host's binfmt table but not its /usr/libexec: the F flag makes the kernel
    # open the interpreter at registration time, so it works inside every container.
    ok = text.startswith("enabled") and "F" in flags
    return (
        Check(
            name="binfmt",
            ok=ok,
            detail=f"qemu-{target.qemu_arch}: {text.splitlines()[0]}, flags {flags}",
            fix=f"update-binfmts --enable qemu-{target.qemu_arch} (qemu-user-static registers it with F)",
        ),
    )
