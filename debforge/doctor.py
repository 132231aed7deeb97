"""`debforge doctor`: what works on this machine, and for what does not, the command that fixes it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from debforge.container import LABEL, Image, run_in_container, shares_filesystem
from debforge.container.volumes import cache_volumes
from debforge.dists import Target, host_arch
from debforge.errors import CommandError, ContainerError
from debforge.run import which
from debforge.session import Session

# Docker's image `Architecture` (Go's GOARCH) → Debian's name, for the engine's own images.
_DOCKER_ARCH = {"amd64": "amd64", "arm64": "arm64", "386": "i386", "ppc64le": "ppc64el", "s390x": "s390x",
                "riscv64": "riscv64"}  # fmt: skip
_NEED_GIB = 4.0  # a sysroot, a runtime image build and a builder image fit in about 4 GiB


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One line of the doctor's report: what was found and, when not ok, the exact fix."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, object]:
        """The check as a JSON object."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


def check_environment(session: Session, target: Target) -> tuple[Check, ...]:
    """Every check, in the order a user should fix them (the cache is probed, never created)."""
    return (
        check_tool("gpgv", "verifies the archive's signatures", "sudo apt install gpgv"),
        check_keyring(target),
        check_cache(session.cache.root),
        check_engine(session, (target.arch,)),
        check_binfmt(target, native=_native(session, target.arch)),
        check_docker_target(session, target),
        check_cache_volumes(session),
        check_tool("dpkg-deb", "reads and checks packages", "sudo apt install dpkg"),
    )


def check_engine(session: Session, arches: Sequence[str]) -> Check:
    """The engine's architecture, versions, free disk, and for each arch: native or QEMU."""
    name = f"engine {session.engine_name()}"
    try:
        facts = session.engine_facts()
    except ContainerError as exc:
        return Check(name=name, ok=False, detail=str(exc), fix=exc.hint or "start that Docker engine")
    runs = ", ".join(f"{a}: {'native' if facts.native_for(a) else 'needs QEMU'}" for a in arches)
    detail = (
        f"{facts.machine} ({facts.arch or 'no Debian arch'}), Docker {facts.server_version}, "
        f"API {facts.api_version}, {_engine_free(session)}; {runs}"
    )
    if facts.arch is None:
        fix = f"debforge has no Debian architecture for a {facts.machine} engine: use another engine"
        return Check(name=name, ok=False, detail=detail, fix=fix)
    return Check(name=name, ok=True, detail=detail)


def _engine_free(session: Session) -> str:
    """Free space where the engine keeps images and volumes (`df` in a debforge image of its own arch:
    the API reports usage, never free space), and whether it shares this filesystem (the probe)."""
    native = [
        img for img in session.docker().images.list(filters={"label": f"{LABEL}.closure"})
        if img.tags and session.engine_facts().arch == _DOCKER_ARCH.get(str(img.attrs.get("Architecture")))
    ]  # fmt: skip
    if not native:
        return "free disk unknown until debforge has built an image there"
    image = Image(tag=native[0].tags[0], id="", platform="", closure_key="")
    files = "bind mounts" if shares_filesystem(session, image) else "files copied through the API"
    try:
        lines = run_in_container(session, image, ["df", "-Pk", "/"]).text.splitlines()
        return f"{int(lines[-1].split()[3]) / 2**20:.1f} GiB free, {files}"
    except (ContainerError, CommandError, ValueError, IndexError):
        return f"free disk unknown, {files}"


def _native(session: Session, arch: str) -> bool:
    try:
        return session.engine_facts().native_for(arch)
    except ContainerError:
        return host_arch() == arch


def check_cache_volumes(session: Session) -> Check:
    """The build-cache volumes debforge keeps on the engine (those of engines elsewhere)."""
    try:
        found = cache_volumes(session)
    except ContainerError as exc:
        return Check(name="cache volumes", ok=False, detail=str(exc), fix=exc.hint or "")
    names = ", ".join(v.name for v in found) if found else "none"
    return Check(name="cache volumes", ok=True, detail=f"{len(found)} on this engine: {names}")


def check_tool(tool: str, role: str, fix: str) -> Check:
    """Is `tool` on PATH?"""
    path = which(tool)
    return Check(name=tool, ok=path is not None, detail=f"{path or 'missing'} ({role})", fix=fix)


def check_keyring(target: Target) -> Check:
    """Is the archive keyring that verifies the target's InRelease files present?"""
    return Check(
        name="archive keyring", ok=target.keyring.is_file(), detail=str(target.keyring),
        fix="sudo apt install debian-archive-keyring, or pass --keyring FILE",
    )  # fmt: skip


def check_cache(cache_dir: Path, *, need_gib: float = _NEED_GIB) -> Check:
    """Is the cache writable, with room for .debs, trees and image builds?"""
    probe = next((p for p in (cache_dir, *cache_dir.parents) if p.exists()), Path("/"))
    free = shutil.disk_usage(probe).free / 2**30
    detail = f"{cache_dir} ({free:.1f} GiB free)"
    if not os.access(probe, os.W_OK):
        return Check(name="cache", ok=False, detail=detail, fix=f"{probe} is not writable: pass --cache-dir")
    fix = f"free space or pass --cache-dir on a disk with {need_gib:g} GiB free"
    return Check(name="cache", ok=free >= need_gib, detail=detail, fix=fix)


def check_binfmt(
    target: Target, *, native: bool | None = None, binfmt: Path = Path("/proc/sys/fs/binfmt_misc")
) -> Check:
    """Is qemu-<arch> registered with binfmt_misc, enabled, and with the F flag containers need?
    Not needed at all (`native`) when the engine runs the target's arch itself."""
    if native if native is not None else host_arch() == target.arch:
        return Check(name="binfmt", ok=True, detail=f"not needed: the engine runs {target.arch} natively")
    name = f"qemu-{target.qemu_arch}"
    if not (binfmt / "status").exists():
        return Check(name="binfmt", ok=False, detail="binfmt_misc is not mounted",
                     fix="sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc")  # fmt: skip
    entry = binfmt / name
    if not entry.exists():
        fix = f"sudo apt install qemu-user-static binfmt-support && sudo update-binfmts --import {name}"
        return Check(
            name="binfmt", ok=False, detail=f"no {name} entry: {target.arch} programs cannot run", fix=fix
        )
    lines = entry.read_text().splitlines()
    if not lines or lines[0] != "enabled":
        return Check(
            name="binfmt", ok=False, detail=f"{name} is disabled", fix=f"sudo update-binfmts --enable {name}"
        )
    flags = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("flags:")), "")
    if "F" not in flags:
        # Without F the kernel opens the interpreter lazily, by a path that does not exist in containers.
        fix = f"sudo update-binfmts --disable {name} && sudo apt install --reinstall qemu-user-static"
        return Check(name="binfmt", ok=False, detail=f"{name} lacks the F flag containers need", fix=fix)
    return Check(name="binfmt", ok=True, detail=f"{name} registered, enabled, flags {flags}")


def check_docker_target(session: Session, target: Target) -> Check:
    """Can the engine run a container of the target's platform (tried in a debforge image of it)?"""
    name = f"docker {target.docker_platform}"
    try:
        client = session.docker()
        found = client.images.list(filters={"label": f"{LABEL}.target={target.dist}/{target.arch}"})
    except ContainerError as exc:
        return Check(name=name, ok=False, detail=str(exc), fix=exc.hint or "run scripts/setup-host.sh")
    if not found:
        detail = f"Docker answers; no {target.dist}/{target.arch} image to try a container in yet"
        return Check(
            name=name, ok=True, detail=detail, fix=f"debforge image --dist {target.dist} --arch {target.arch}"
        )
    tag = found[0].tags[0] if found[0].tags else str(found[0].id)
    try:
        image = Image(tag=tag, id="", platform=target.docker_platform, closure_key="")
        machine = run_in_container(session, image, ["uname", "-m"]).text.strip()
    except (ContainerError, CommandError) as exc:
        return Check(name=name, ok=False, detail=f"a container does not run: {exc}", fix="fix binfmt (above)")
    ok = machine == target.qemu_arch
    return Check(name=name, ok=ok, detail=f"a container runs and reports {machine}", fix="fix binfmt (above)")
