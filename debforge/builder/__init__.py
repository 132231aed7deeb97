"""The build stage: a recipe and a Target → built files (Artifacts), copied to `--out` atomically.

`build()` dispatches on `recipe.build.kind` through a table: `cargo` cross-builds in the Rust
builder container (debforge/builder/rust.py), `binary` passes a prebuilt file through after checking
it is an ELF for the target. Nothing is written to `out` until every file is built, and each file
is renamed into place whole, so a failed build leaves `out` as it was.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from debforge.builder import c, rust, tree
from debforge.builder.debcrates import CratesRecord
from debforge.cache import atomic_output, file_sha256
from debforge.dists import Target
from debforge.errors import BuildError, ElfError, UsageError
from debforge.recipe import C_KINDS, BinaryBuild, Recipe
from debforge.session import Session

Toolchain = Literal["container", "host"]
TOOLCHAINS: tuple[Toolchain, ...] = ("container", "host")


@dataclass(frozen=True, slots=True, kw_only=True)
class Artifact:
    """One built file: where it is now, its name (a bin target or file name), arch and SHA256."""

    source: Path
    name: str
    arch: str
    sha256: str

    def to_json(self) -> dict[str, str]:
        """`debforge build --json`: one entry of the list."""
        return {"path": str(self.source), "name": self.name, "arch": self.arch, "sha256": self.sha256}


@dataclass(frozen=True, slots=True, kw_only=True)
class Artifacts:
    """What the build stage returns: the files, the toolchain that made them and its output."""

    files: tuple[Artifact, ...]
    debug: tuple[Artifact, ...] = ()  # with dbgsym: `<name>.debug`, the detached debug info of each file
    toolchain: tuple[tuple[str, str], ...] = ()  # (tool, version line), for the build record
    log: str = ""  # the builder's own output (cargo's), kept for the build record
    # The build-depends tree (with its dpkg database) the files were linked against: where the
    # packaging step finds each NEEDED library's package. None for prebuilt files (kind binary).
    sysroot: Path | None = None
    # C/C++ kinds: the staging tree's symlinks (install path, link target); its files are `files`,
    # each named by its install path relative to / (e.g. "usr/bin/tree").
    links: tuple[tuple[str, str], ...] = ()
    crates: CratesRecord | None = None  # crates = "debian": the crate versions used and their packages

    def to_json(self) -> list[dict[str, str]]:
        """`debforge build --json`: a list of {path, name, arch, sha256}."""
        return [artifact.to_json() for artifact in self.files]

    def get(self, name: str) -> Artifact:
        """The artifact called `name` (a bin target, `lib<name>.so` or the prebuilt file's name)."""
        for artifact in self.files:
            if artifact.name == name:
                return artifact
        raise BuildError(f"the build produced no artifact named {name!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Request:
    session: Session
    recipe: Recipe
    target: Target
    toolchain: Toolchain
    emulate: bool


def build(
    session: Session,
    recipe: Recipe,
    target: Target,
    *,
    toolchain: Toolchain = "container",
    emulate: bool = False,
    out: Path | None = None,
) -> Artifacts:
    """Build the recipe's artifacts for `target`; with `out`, copy them there (each file atomically)."""
    if toolchain not in TOOLCHAINS:
        raise UsageError(f"unknown toolchain {toolchain!r}; choose one of: {', '.join(TOOLCHAINS)}")
    if emulate and toolchain == "host":
        raise UsageError("--emulate builds inside a target container; it cannot use --toolchain host")
    session.cache.ensure()
    request = _Request(session=session, recipe=recipe, target=target, toolchain=toolchain, emulate=emulate)
    built = _BUILDERS[recipe.build.kind](request)
    files = tuple(_deliver(name, path, target, out) for name, path in built.files)
    debug = tuple(_deliver(f"{name}.debug", path, target, out) for name, path in built.debug)
    links = built.links if isinstance(built, c.CBuilt) else ()
    crates = built.crates if isinstance(built, rust.Built) else None
    return Artifacts(
        files=files,
        debug=debug,
        toolchain=built.toolchain,
        log=built.log,
        sysroot=built.sysroot,
        links=links,
        crates=crates,
    )


def _build_cargo(request: _Request) -> rust.Built:
    return rust.build_cargo(
        request.session, request.recipe, request.target, toolchain=request.toolchain, emulate=request.emulate
    )


def _pass_binary(request: _Request) -> rust.Built:
    """kind = "binary": the prebuilt file as it is, once it is known to be an ELF for the target."""
    from debforge.elf import read_elf  # noqa: PLC0415 - pyelftools is only needed for prebuilt files

    spec = request.recipe.build
    binary = spec.binary if isinstance(spec, BinaryBuild) else None  # _BUILDERS dispatched on the kind
    if binary is None or not binary.is_file():
        raise BuildError(f"the prebuilt file {binary} of {request.recipe.recipe_file} does not exist")
    try:
        info = read_elf(binary)
    except ElfError as exc:
        raise BuildError(f"the prebuilt file {binary} is not usable: {exc}") from exc
    if info.deb_arch != request.target.arch:
        raise BuildError(
            f"the prebuilt file {binary} is built for {info.deb_arch}, not {request.target.arch}",
            hint=f"pass --arch {info.deb_arch}, or give a binary built for {request.target.arch}",
        )
    return rust.Built(files=((binary.name, binary),))


def _build_c(request: _Request) -> c.CBuilt:
    return c.build_c(
        request.session, request.recipe, request.target, toolchain=request.toolchain, emulate=request.emulate
    )


_BUILDERS: dict[str, Callable[[_Request], rust.Built | c.CBuilt]] = {
    "cargo": _build_cargo,
    "binary": _pass_binary,
    "tree": lambda request: tree.build_tree(request.session, request.recipe, request.target),
    **dict.fromkeys(C_KINDS, _build_c),  # autotools, cmake, meson, make, script: debforge/builder/c.py
}


def _deliver(name: str, path: Path, target: Target, out: Path | None) -> Artifact:
    """The Artifact of a built file; with `out`, first copied there under its name (atomic rename)."""
    if out is not None:
        dest = out / name
        with atomic_output(dest) as tmp:
            shutil.copyfile(path, tmp)
            tmp.chmod(path.stat().st_mode & 0o777)
        path = dest
    return Artifact(source=path, name=name, arch=target.arch, sha256=file_sha256(path))


__all__ = ["TOOLCHAINS", "Artifact", "Artifacts", "Toolchain", "build"]
