"""Cargo builds for a target: cross in the Rust builder container (default), on the host, or emulated.

The cross build runs the builder image (the engine's own arch, same dist: rustc, cargo,
gcc-<triplet>, pkg-config) with fixed mounts: the project, the build-depends sysroot and the
target's Rust std (both read-only trees in the cache), a per-project cargo home and target dir
(bind mounts on an engine that sees this filesystem, else copies and named volumes: container/transport).
Every snag of ../shared/reference/cross-build-notes.md is configured here, not left to the user.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from debforge import container
from debforge.archive import fetch_index
from debforge.builder import debcrates
from debforge.builder.cargo import (
    DEBUG_DIR,
    IN_CONTAINER,
    Paths,
    artifact_names,
    base_env,
    cargo_argv,
    cargo_config,
    check_debug_compression,
    copy_lines,
    cross_env,
    debug_compression,
    debug_env,
    depends_requests,
    error_tail,
    profile_dir,
    remap_flags,
    static_env,
    static_rustflags,
    strip_lines,
)
from debforge.builder.static import check_static
from debforge.builder.toolchain import (
    EMULATED_TIMEOUT,
    HostRust,
    build_depends_sysroot,
    builder_image_beside,
    host_rust,
    knows,
    native_toolchain,
    static_libgcc,
    target_std,
    toolchain_target,
)
from debforge.cache import Cache, atomic_write_bytes, key
from debforge.dists import Target
from debforge.errors import BuildError
from debforge.recipe import CargoBuild, Recipe
from debforge.report import Reporter
from debforge.run import run
from debforge.session import Session

# Debian's librust-*-dev packages unpack each crate here, with a .cargo-checksum.json: a cargo
# "directory source" (Debian Rust team policy; dh-cargo builds against it the same way).
DEBIAN_REGISTRY = "usr/share/cargo/registry"
_TIMED_OUT = 124  # coreutils timeout's exit status


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    """What a build left: (artifact name, built file) pairs, toolchain versions and cargo's output."""

    files: tuple[tuple[str, Path], ...]
    debug: tuple[tuple[str, Path], ...] = ()  # (artifact name, its detached debug file) with dbgsym
    toolchain: tuple[tuple[str, str], ...] = ()
    log: str = ""
    sysroot: Path | None = None  # the build-depends tree (with its dpkg database) it built against
    crates: debcrates.CratesRecord | None = None  # crates = "debian": which crate came from which package


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkDirs:
    """The persistent host dirs of one (project, dist, arch, toolchain): kept between runs."""

    cargo_home: Path
    target_dir: Path
    out: Path
    lock: str
    src: Path  # crates = "debian": the build's copy of the project (debforge.builder.debcrates.source)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Job:
    """One build: its inputs and its persistent dirs."""

    session: Session
    recipe: Recipe
    spec: CargoBuild  # recipe.build, known to be a cargo build
    target: Target
    toolchain: Target  # the target's arch on the dist whose rustc and std build (often `target`)
    work: WorkDirs
    crates: debcrates.CratePlan | None = None  # crates = "debian": the crate packages and left-out deps

    @property
    def source(self) -> Path:
        """The project dir cargo builds: the user's, or with Debian's crates the build's own copy."""
        return self.work.src if self.crates is not None else self.recipe.source_dir

    @property
    def crate_packages(self) -> tuple[str, ...]:
        """The crate packages (with system -dev packages of -sys crates) the sysroot gets."""
        return self.crates.packages if self.crates is not None else ()

    @property
    def cache(self) -> Cache:
        """The run's cache."""
        return self.session.cache

    @property
    def reporter(self) -> Reporter:
        """The run's reporter."""
        return self.session.reporter

    @property
    def what(self) -> str:
        """How the build is named in messages."""
        tool = self.toolchain
        using = "" if tool is self.target else f" with {tool.dist}'s rustc {tool.rustc}"
        return f"cargo build of {self.recipe.name} for {self.target.dist}/{self.target.arch}{using}"

    def files(self) -> tuple[tuple[str, Path], ...]:
        """The stripped artifacts in the work dir."""
        names = (*artifact_names(self.spec), *self.spec.extra_files)
        return tuple((name, self.work.out / name) for name in names)

    def debug_files(self) -> tuple[tuple[str, Path], ...]:
        """With dbgsym: each artifact's detached debug file (`<build-id minus 2 hex>.debug`)."""
        if not self.spec.split_debug:
            return ()
        return tuple((name, _one_debug_file(self.work.out / DEBUG_DIR / name, name))
                     for name in artifact_names(self.spec))  # fmt: skip

    def built(self, toolchain: tuple[tuple[str, str], ...], log: str, sysroot: Path | None) -> Built:
        """The Built of this job once its script ran."""
        crates = (
            debcrates.crates_record(self.crates, self.recipe.source_dir, self.source) if self.crates else None
        )
        return Built(
            files=self.files(),
            debug=self.debug_files(),
            toolchain=toolchain,
            log=log,
            sysroot=sysroot,
            crates=crates,
        )


def _one_debug_file(directory: Path, name: str) -> Path:
    found = sorted(directory.glob("*.debug"))
    if len(found) != 1:
        raise BuildError(f"the debug symbols of {name} were not split off (found {len(found)} files)")
    return found[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerPlan:
    """A build in a container, ready to run: image, mounts, environment, the cargo command line."""

    image: container.Image
    mounts: tuple[container.Mount, ...]
    env: tuple[tuple[str, str], ...]
    cargo: tuple[str, ...]
    script: str  # versions, cargo, strip: what the container runs
    network: bool
    timeout: int | None = None  # seconds; the container's sh is killed after it (coreutils timeout)
    sysroot: Path | None = None  # the build-depends tree mounted read-only (cross builds)

    def spec(self) -> container.ContainerSpec:
        """The builder container: `sh -c script` as the calling user, so what it writes stays the user's."""
        return container.ContainerSpec(
            image=self.image, argv=("sh", "-c", self.script), role="build", mounts=self.mounts,
            user=f"{os.getuid()}:{os.getgid()}", env=self.env, workdir=IN_CONTAINER.src,
            network="bridge" if self.network else "none", timeout=self.timeout,
        )  # fmt: skip


# --------------------------------------------------------------------------- the build


def build_cargo(session: Session, recipe: Recipe, target: Target, *, toolchain: str, emulate: bool) -> Built:
    """Build the recipe's Cargo targets for `target` and return the stripped files (in the cache)."""
    job = _job(session, recipe, target, "emulate" if emulate else toolchain)
    if job.spec.no_build:
        return _last_build(job)
    if toolchain == "host" and not emulate:
        host = host_rust(target)  # validate before any download
        sysroot = build_depends_sysroot(session, recipe, target, extra=job.crate_packages)
        return _check_static(job, _build_on_host(job, sysroot, host))
    plan = _emulated_plan(job) if emulate else _cross_plan(job)
    return _check_static(job, _run_plan(job, plan))


def _check_static(job: _Job, built: Built) -> Built:
    """A static build must leave no NEEDED library and no loader: else a library was linked as a dylib."""
    if job.spec.static:
        check_static(
            built.files,
            hint="a build script linked it as a shared library: emit cargo:rustc-link-lib=static=NAME "
            "when PKG_CONFIG_ALL_STATIC is set (as the pkg-config crate does)",
        )
    return built


def _last_build(job: _Job) -> Built:
    """cargo-deb --no-build: the files the last build of this project for this target left, unbuilt."""
    missing = [name for name, path in job.files() if not path.is_file()]
    if missing:
        raise BuildError(
            f"--no-build: {job.what} has not been built yet ({', '.join(missing)} missing)",
            hint="run once without --no-build; debforge builds in its own cache, not in target/",
        )
    with job.reporter.step(f"Using the last {job.what} (--no-build)"):
        return job.built((), "", build_depends_sysroot(job.session, job.recipe, job.target))


def plan_build(session: Session, recipe: Recipe, target: Target, *, emulate: bool = False) -> ContainerPlan:
    """Everything prepared for a container build (image, sysroot, std, mounts), without running it."""
    job = _job(session, recipe, target, "emulate" if emulate else "container")
    return _emulated_plan(job) if emulate else _cross_plan(job)


def _job(session: Session, recipe: Recipe, target: Target, variant: str) -> _Job:
    spec = _check_project(recipe)
    check_debug_compression(spec, target)
    tool = toolchain_target(spec, target, emulate=variant == "emulate") if variant != "host" else target
    own = tool.dist == target.dist  # a newer dist's toolchain gets work dirs of its own
    work = workdirs(recipe, target, session.cache, variant if own else f"{variant}-{tool.dist}")
    job = _Job(session=session, recipe=recipe, spec=spec, target=target, toolchain=tool, work=work)
    return _with_debian_crates(job) if spec.crates == "debian" and not spec.no_build else job


def _with_debian_crates(job: _Job) -> _Job:
    """crates = "debian": the crate packages found from Cargo.toml, and the project copy cargo builds."""
    plan = debcrates.plan_build(job.session, job.spec, job.target, job.recipe.source_dir, job.work.src)
    return replace(job, crates=plan)


def _cross_plan(job: _Job) -> ContainerPlan:
    """The cross build in the builder: the sysroot and the target std mounted read-only. The builder
    and std are the toolchain dist's, the sysroot (gcc --sysroot: crt1.o, libc.so) the target's."""
    recipe, target, work, paths = job.recipe, job.target, job.work, IN_CONTAINER
    libgcc = static_libgcc(job.session, job.spec, target, job.toolchain)
    extra = [*([libgcc.package] if libgcc else []), *job.crate_packages]
    with builder_image_beside(job.session, job.toolchain) as builder:
        sysroot = build_depends_sysroot(job.session, recipe, target, extra=extra)
        std = target_std(job.session, job.toolchain)
        image = builder.wait()
    _write_cargo_config(work, job.spec.crates, paths, f"{paths.sysroot}/{DEBIAN_REGISTRY}")
    mounts = (
        # Trees named by their content: on an engine elsewhere each is copied into its volume once.
        container.Mount(
            source=sysroot, dest=paths.sysroot, read_only=True, volume=container.content_volume(sysroot)
        ),
        container.Mount(source=std, dest=paths.std, read_only=True, volume=container.content_volume(std)),
        *_rw_mounts(job),
    )
    built = f"{paths.target_dir}/{target.rust_triple}/{profile_dir(job.spec.profile)}"
    libdir = libgcc.directory if libgcc else None
    env = {
        **cross_env(target, paths, std=True, static=job.spec.static, libgcc=libdir),
        "HOME": paths.cargo_home,
    }
    plan = _plan(
        job, image, mounts, env, triple=target.rust_triple, built=built, tools=f"{target.gnu_triplet}-"
    )
    return replace(plan, sysroot=sysroot)


def _rw_mounts(job: _Job) -> tuple[container.Mount, ...]:
    paths = IN_CONTAINER
    return (
        # Off this machine (the copy transport) the project goes in and never back, cargo's home and
        # target dir live in named volumes on that engine, and only `out` comes back.
        container.Mount(source=job.source, dest=paths.src, copy_back=False),
        container.Mount(
            source=job.work.cargo_home, dest=paths.cargo_home, volume=f"debforge-{job.work.lock}-cargo"
        ),
        container.Mount(
            source=job.work.target_dir, dest=paths.target_dir, volume=f"debforge-{job.work.lock}-target"
        ),
        container.Mount(source=job.work.out, dest=paths.out),
    )


def _plan(
    job: _Job,
    image: container.Image,
    mounts: tuple[container.Mount, ...],
    env: Mapping[str, str],
    *,
    triple: str | None,
    built: str,
    tools: str,
) -> ContainerPlan:
    """The container's script: toolchain versions on stdout, cargo, then strip each artifact."""
    recipe, paths = job.recipe, IN_CONTAINER
    # With Debian's crates cargo writes a new lock: the project's pins versions Debian lacks.
    locked = (recipe.source_dir / "Cargo.lock").is_file() and job.crates is None
    manifest = f"{paths.src}/{job.spec.manifest.relative_to(recipe.source_dir)}"
    argv = cargo_argv(job.spec, triple=triple, locked=locked, manifest=manifest)
    if job.session.offline and "--offline" not in argv:  # debforge's --offline is cargo's too
        argv.append("--offline")
    strips = [
        *(
            line
            for name in artifact_names(job.spec)
            for line in strip_lines(tools, built, paths.out, name, **_strip_switches(job.spec))
        ),
        *copy_lines(built, paths.out, job.spec.extra_files),
    ]
    script = "\n".join([
        "set -e",
        "printf 'rustc\\t%s\\n' \"$(rustc -V)\"", "printf 'cargo\\t%s\\n' \"$(cargo -V)\"",
        f"printf 'cc\\t%s\\n' \"$({tools}gcc --version | head -n 1)\"",
        shlex.join(argv), *strips,
    ])  # fmt: skip
    env = {**env, **debug_env(job.spec)}
    return ContainerPlan(
        image=image, mounts=mounts, env=tuple(sorted(env.items())), cargo=tuple(argv), script=script,
        network=job.spec.crates == "registry",  # no network at all when the crates are local
    )  # fmt: skip


def _strip_switches(spec: CargoBuild) -> dict[str, Any]:
    """strip_lines' switches from cargo-deb's --strip, debug-symbol and compress-debug-symbols settings."""
    return {
        "dbgsym": spec.split_debug,
        "strip": spec.strip,
        "compress": debug_compression(spec),
    }


def _check_project(recipe: Recipe) -> CargoBuild:
    spec = recipe.build
    if not isinstance(spec, CargoBuild) or not spec.manifest.is_file():
        raise BuildError(
            f"{recipe.source_dir} has no Cargo.toml, so there is nothing for cargo to build",
            hint='run debforge in a Cargo project, or set [build] kind = "binary" for a prebuilt file',
        )
    return spec


def workdirs(recipe: Recipe, target: Target, cache: Cache, variant: str) -> WorkDirs:
    """Per project (by path) and per (dist, arch, toolchain): host and container artefacts never mix."""
    project = key(str(recipe.source_dir))[:16]
    base = cache.root / "build" / project / f"{target.dist}-{target.arch}-{variant}"
    work = WorkDirs(
        cargo_home=base / "cargo", target_dir=base / "target", out=base / "out", src=base / "src",
        lock=f"build-{project}-{target.dist}-{target.arch}-{variant}",
    )  # fmt: skip
    for path in (work.cargo_home, work.target_dir, work.out):
        path.mkdir(parents=True, exist_ok=True)
    return work


def _write_cargo_config(work: WorkDirs, crates: str, paths: Paths, registry: str) -> None:
    config = work.cargo_home / "config.toml"
    text = cargo_config(crates, paths, registry)
    if not text:
        config.unlink(missing_ok=True)
    elif not config.is_file() or config.read_text() != text:
        atomic_write_bytes(config, text.encode())


def _run_plan(job: _Job, plan: ContainerPlan) -> Built:
    # An emulated build says how it runs: natively on an engine of the target's arch, else under QEMU.
    how = f" ({container.execution(job.session, job.target.arch)})" if plan.timeout else ""
    with job.reporter.step(job.what + how), job.cache.lock(job.work.lock, on_wait=job.reporter.warning):
        done = container.run_container(job.session, plan.spec())
    code, stderr = done.returncode, done.stderr.decode("utf-8", "replace")
    if code == _TIMED_OUT and plan.timeout:
        raise BuildError(
            f"{job.what} did not finish within {plan.timeout // 60} minutes under QEMU",
            hint="qemu-user can deadlock when cargo forks: run it again, or build without --emulate",
        )
    if code != 0:
        raise _failure(job, code, stderr)
    pairs = [line.split("\t", 1) for line in done.text.splitlines() if "\t" in line]  # the script's printf
    return job.built(tuple((tool, version) for tool, version in pairs), stderr, plan.sysroot)


def _failure(job: _Job, code: int, output: str) -> BuildError:
    """A build script that found no .pc file names the package to add; anything else shows cargo's error."""
    missing = debcrates.pc_error(job.session, job.target, output, job.what)
    return missing or BuildError(f"{job.what} failed (exit code {code}):\n{error_tail(output)}")


# --------------------------------------------------------------------------- --toolchain host


def _build_on_host(job: _Job, sysroot: Path, host: HostRust) -> Built:
    recipe, target, work = job.recipe, job.target, job.work
    source = job.source
    paths = Paths(
        src=str(source), sysroot=str(sysroot), std="", cargo_home=str(work.cargo_home),
        target_dir=str(work.target_dir), out=str(work.out),
    )  # fmt: skip
    _write_cargo_config(work, job.spec.crates, paths, f"{sysroot}/{DEBIAN_REGISTRY}")
    env = {
        **os.environ,
        **cross_env(target, paths, std=False, static=job.spec.static),
        **debug_env(job.spec),
        "RUSTC": str(host.rustc),
    }
    locked = (recipe.source_dir / "Cargo.lock").is_file() and job.crates is None
    manifest = source / job.spec.manifest.relative_to(recipe.source_dir)
    argv = cargo_argv(job.spec, triple=target.rust_triple, locked=locked, manifest=str(manifest))
    with (
        job.reporter.step(f"{job.what} (host toolchain)"),
        job.cache.lock(work.lock, on_wait=job.reporter.warning),
    ):
        done = run([host.cargo, *argv[1:]], cwd=source, env=env, check=False)
        log = done.stderr.decode("utf-8", "replace")
        if done.returncode != 0:
            raise _failure(job, done.returncode, log)
        built = work.target_dir / target.rust_triple / profile_dir(job.spec.profile)
        lines = [
            *(
                line
                for name in artifact_names(job.spec)
                for line in strip_lines(
                    f"{target.gnu_triplet}-", str(built), str(work.out), name, **_strip_switches(job.spec)
                )
            ),
            *copy_lines(str(built), str(work.out), job.spec.extra_files),
        ]
        run(["sh", "-c", "\n".join(["set -e", *lines])])
    toolchain = (("rustc", f"rustc {host.version}"), ("cargo", run([host.cargo, "-V"]).text.strip()))
    return job.built(toolchain, log, sysroot)


# --------------------------------------------------------------------------- --emulate


def _emulated_plan(job: _Job) -> ContainerPlan:
    """A native build in a target-arch container under QEMU: slow, for build scripts that cannot cross."""
    recipe, target, paths = job.recipe, job.target, IN_CONTAINER
    index = fetch_index(job.session, target)
    requests = depends_requests(recipe.build.build_depends, knows(index))
    packages = (*native_toolchain(target), "gcc", "libc6-dev", "pkg-config", *requests, *job.crate_packages)
    with job.reporter.step(f"Emulated builder image for {target.dist}/{target.arch}"):
        image = container.build_image(job.session, target, packages=packages)
    _write_cargo_config(job.work, job.spec.crates, paths, f"/{DEBIAN_REGISTRY}")
    rustflags = " ".join([*remap_flags(paths), *static_rustflags(job.spec.static)])
    static = static_env(target) if job.spec.static else {}
    env = {**base_env(paths), **static, "RUSTFLAGS": rustflags, "HOME": paths.cargo_home}
    built = f"{paths.target_dir}/{profile_dir(job.spec.profile)}"
    plan = _plan(job, image, _rw_mounts(job), env, triple=None, built=built, tools="")
    # The image has the build-depends installed; the same closure as a host tree (debs already in
    # the cache) tells the packaging step which package ships each library, as for a cross build.
    sysroot = build_depends_sysroot(job.session, recipe, target, extra=job.crate_packages)
    return replace(plan, timeout=EMULATED_TIMEOUT, sysroot=sysroot)
