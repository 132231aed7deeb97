"""What every builder kind shares: the builder image, the target's Rust std, the build-depends sysroot,
the dist whose Rust toolchain builds, the host's own Rust toolchain, and the bound on emulated builds.

Cargo (rust.py) and the C kinds (c.py) both build on these; neither imports the other.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from debforge import container, rootfs
from debforge.ahead import Ahead, beside
from debforge.archive import PackageIndex, fetch_index
from debforge.builder.cargo import depends_requests
from debforge.dists import Target, make_target
from debforge.errors import BuildError, ResolveError, ToolMissingError
from debforge.recipe import CargoBuild, Recipe
from debforge.run import run, which
from debforge.session import Session

# qemu-user (7.2 in bookworm) can deadlock a child that a multi-threaded cargo forks: the emulated
# build then sleeps forever on a futex. Seen once in four emulated builds here; a bound turns the
# hang into an error. The emulated multi-crate build takes about 13 minutes.
EMULATED_TIMEOUT = 45 * 60


def build_depends_sysroot(
    session: Session, recipe: Recipe, target: Target, *, extra: Sequence[str] = ()
) -> Path:
    """The recipe's build-depends (with libc6-dev and libgcc-s1, plus `extra`) resolved for the target,
    unpacked.

    Through `session`, so `--offline` holds here too: nothing is downloaded that is not cached.
    """
    requests = depends_requests(recipe.build.build_depends, knows(fetch_index(session, target)))
    try:
        return rootfs.make_sysroot(session, target, [*requests, *extra]).path
    except ResolveError as exc:
        raise BuildError(
            f"the build-depends of {recipe.recipe_file} cannot be installed on "
            f"{target.dist}/{target.arch}: {exc}",
            hint=exc.hint or "check the package names with `debforge show NAME`",
        ) from exc


def knows(index: PackageIndex) -> Callable[[str], bool]:
    return lambda name: name in index.packages or bool(index.provided_by(name))


def builder_image(session: Session, target: Target, *, kind: str | None = None) -> container.Image:
    """The cross builder for `target` (images/builder: host arch, same dist, gcc-<triplet>), with the
    tools of build `kind` (its kind-packages) when it has some."""
    with session.reporter.step(f"Builder image for {target.dist}/{target.arch}"):
        pins = _rust_pins(session, target)
        extra = container.load_definition("builder", target).kind_packages.get(kind or "", ())
        return container.build_image(
            session, target, definition="builder", base_packages=pins, packages=extra
        )


def builder_image_beside(
    session: Session, target: Target, *, kind: str | None = None
) -> AbstractContextManager[Ahead[container.Image]]:
    """builder_image on its own thread while the caller prepares the build-depends sysroot and the
    std: the image mostly waits for the engine, the sysroot is Python unpacking (a cold bookworm arm64
    `package` spent 11 s on the sysroot and 5.6 s on the std before the builder even started)."""
    session.docker()  # connected here, once, before two threads share it
    return beside(lambda: builder_image(session, target, kind=kind), name="builder-image")


def _rust_pins(session: Session, target: Target) -> tuple[str, ...]:
    """`rustc=V`, `cargo=V` and `std=V` when the target's std exists only in an older version than the
    candidate rustc (apt's `name=version`: the candidate for the whole resolution); else no pins."""
    version = container.rust_toolchain_version(session, target)
    builder_target = container.host_target(target, arch=container.engine_arch(session))
    candidate = fetch_index(session, builder_target).candidate(_builder_rust(target)[0])
    if candidate is not None and candidate.version == version:
        return ()
    # rustc Depends on its own arch's std `(= version)`, so that one is pinned too.
    std = container.load_definition("builder", target).extras["std"]
    return tuple(f"{name}={version}" for name in (*_builder_rust(target), std))


def _builder_rust(target: Target) -> tuple[str, ...]:
    """The builder's rustc and cargo packages for the dist (rustc first)."""
    builder = container.load_definition("builder", target)
    rustc = builder.extras.get("rustc")
    cargo = [p for p in builder.packages if p.startswith("cargo")]
    if rustc is None or not cargo:
        raise BuildError(f"images/builder/image.toml names no Rust toolchain for {target.dist}")
    return (rustc, *cargo)


def target_std(session: Session, target: Target) -> Path:
    """The target's Rust std alone (the -dev package, S8), pinned to the builder's exact rustc."""
    with session.reporter.step(f"Rust std for {target.rust_triple}"):
        return container.extract_rust_std(session, target)


def toolchain_target(spec: CargoBuild, target: Target, *, emulate: bool = False) -> Target:
    """The target's arch on the dist whose rustc, cargo and Rust std build `spec`: `[build] toolchain-dist`,
    else the target's own dist, else (its rustc older than the project's rust-version or edition needs)
    the newer dist the dist table names. Only the compiler comes from there: the sysroot (libc6-dev,
    build-depends) stays the target's, and the glibc guard checks the result against the target."""
    dist = spec.toolchain_dist or _dist_for(spec, target)
    if dist == target.dist:
        return target
    if emulate:  # an emulated build runs the target dist's own packages, its rustc included
        raise BuildError(
            f"--emulate builds with {target.dist}'s own rustc {target.rustc}, but {spec.manifest} is built "
            f"with {dist}'s (its rust-version or edition, or [build] toolchain-dist)",
            hint=f"build without --emulate: the cross build uses {dist}'s rustc against {target.dist}",
        )
    return make_target(
        dist, target.arch, mirror=target.mirror, security_mirror=target.security_mirror,
        components=target.components, keyring=target.keyring,
    )  # fmt: skip


def _dist_for(spec: CargoBuild, target: Target) -> str:
    """The target's dist when its own rustc is new enough and has a std for the arch, else the newer
    dist the table names (bookworm armel: no rustc-web std there, so trixie's rustc builds for it)."""
    if target.own_rust and _at_least(target.rustc, spec.min_rustc):
        return target.dist
    newer = target.toolchain_dist
    if newer is None or not _at_least(make_target(newer, target.arch).rustc, spec.min_rustc):
        own = (
            f"{target.dist}'s rustc is {target.rustc}"
            if target.own_rust
            else f"{target.dist} has no Rust std for {target.arch}"
        )
        raise BuildError(
            f"{spec.manifest} needs rustc {spec.min_rustc} (its rust-version or edition), but {own} "
            "and no newer Debian toolchain for it is known",
            hint='set [build] toolchain-dist = "DIST" to build with a newer dist\'s rustc',
        )
    return newer


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetLibgcc:
    """The target's own libgcc.a and libgcc_eh.a: its libgcc-N-dev and the directory they are in."""

    package: str
    directory: str  # /usr/lib/gcc/<triplet>/<N> inside the sysroot


def static_libgcc(session: Session, spec: CargoBuild, target: Target, tool: Target) -> TargetLibgcc | None:
    """A static build with a newer dist's gcc (`tool`) links the target's own libgcc; else None."""
    return _target_libgcc(session, target) if spec.static and tool.dist != target.dist else None


def _target_libgcc(session: Session, target: Target) -> TargetLibgcc:
    """For a static build with a newer dist's gcc: the target's libgcc, taken before the compiler's.

    A newer gcc's libgcc_eh.a calls what the newer glibc added (gcc 12's unwinder calls
    _dl_find_object, glibc 2.35), so a static link against an older glibc fails; the target's own
    gcc-N (what its `gcc` package depends on) built its libgcc against its own glibc.
    """
    gcc = fetch_index(session, target).candidate("gcc")
    names = [rel.name for group in (gcc.depends if gcc else ()) for rel in group]
    major = next((n.removeprefix("gcc-") for n in names if re.fullmatch(r"gcc-\d+", n)), None)
    if major is None:
        raise BuildError(f"{target.dist}/{target.arch} has no gcc-N package to take its static libgcc from")
    return TargetLibgcc(package=f"libgcc-{major}-dev", directory=f"/usr/lib/gcc/{target.gnu_triplet}/{major}")


def _at_least(have: str, needed: str) -> bool:
    """Whether rustc `have` (major.minor) is at least `needed` (rust-version: major.minor[.patch]).

    >>> _at_least("1.48", "1.56"), _at_least("1.96", "1.56.1"), _at_least("1.85", "1.85")
    (False, True, True)
    """
    return _numbers(have)[:2] >= _numbers(needed)[:2]


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def native_toolchain(target: Target) -> tuple[str, ...]:
    """The builder's Rust packages (rustc-web, cargo-web on bookworm), for a native target image."""
    return _builder_rust(target)


# --------------------------------------------------------------------------- --toolchain host


@dataclass(frozen=True, slots=True, kw_only=True)
class HostRust:
    rustc: Path
    cargo: Path
    version: str


def host_rust(target: Target) -> HostRust:
    """The host's rustc and cargo, when its std for the target is installed; else the fix, named."""
    rustc = which("rustc") or _in_cargo_home("rustc")
    if rustc is None:
        raise ToolMissingError("rustc", hint="use --toolchain container (the default), or install rustc")
    version = run([rustc, "-V"]).text.split()[1]
    sysroot = Path(run([rustc, "--print", "sysroot"]).text.strip())
    triple = target.rust_triple
    if not (sysroot / "lib" / "rustlib" / triple / "lib").is_dir():
        fix = (
            f"rustup target add {triple}"
            if which("rustup") or _in_cargo_home("rustup")
            else f"dpkg --add-architecture {target.arch} && apt install libstd-rust-dev:{target.arch}"
        )
        raise BuildError(
            f"the host's rustc {'.'.join(version.split('.')[:2])} has no std for {triple}; "
            f"use --toolchain container (default), or install it with `{fix}`"
        )
    cargo = sysroot / "bin" / "cargo"
    found = str(cargo) if cargo.is_file() else which("cargo") or _in_cargo_home("cargo")
    if found is None:
        raise ToolMissingError("cargo", hint="use --toolchain container (the default), or install cargo")
    if which(f"{target.gnu_triplet}-gcc") is None:
        raise ToolMissingError(f"{target.gnu_triplet}-gcc", hint=f"apt install gcc-{target.gnu_triplet}")
    return HostRust(rustc=Path(rustc), cargo=Path(found), version=version)


def _in_cargo_home(tool: str) -> str | None:
    """rustup installs into ~/.cargo/bin, which is often not on PATH for services and CI."""
    path = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo") / "bin" / tool
    return str(path) if path.is_file() else None
