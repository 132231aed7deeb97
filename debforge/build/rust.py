"""Cargo builds for a target: cross in the Rust builder container (default), on the host, or emulated.

The cross build runs the builder image (the machine's own arch, same dist: rustc, cargo,
gcc-<triplet>, pkg-config) with fixed bind mounts: the project, the build-depends sysroot and the
target's Rust std (both read-only trees in the cache), a per-project cargo home and target dir.
Every snag of ../shared/reference/cross-build-notes.md is configured here, not left to the user.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from debforge import container, rootfs
from debforge.archive import PackageIndex, fetch_index
from debforge.cache import Cache, atomic_write_bytes, key
from debforge.dists import Target
from debforge.errors import BuildError, ResolveError, ToolMissingError
from debforge.recipe import BuildSpec, Recipe
from debforge.report import Reporter
from debforge.run import run, which

# Fixed paths inside the builder: the binary never depends on where the project or cache lives.
_IN = PurePosixPath("/debforge")
# Debian's librust-*-dev packages unpack each crate here, with a .cargo-checksum.json: a cargo
# "directory source" (Debian Rust team policy; dh-cargo builds against it the same way).
DEBIAN_REGISTRY = "usr/share/cargo/registry"
# dh_strip's choice for executables and shared libraries (debhelper: dh_strip).
_STRIP_ARGS = ("--strip-unneeded", "--remove-section=.comment", "--remove-section=.note")
# Where the detached debug files of a dbgsym build wait, one dir per artifact, in the work out dir.
DEBUG_DIR = ".dbgsym"
_ERROR_LINES = 60
# qemu-user (7.2 in bookworm) can deadlock a child that a multi-threaded cargo forks: the emulated
# build then sleeps forever on a futex. Seen once in four emulated builds here; a bound turns the
# hang into an error. The emulated multi-crate build takes about 13 minutes.
EMULATED_TIMEOUT = 45 * 60
_TIMED_OUT = 124  # coreutils timeout's exit status
Mount = tuple[Path, str, bool]  # host path, path in the container, read-only


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    """What a build left: (artifact name, built file) pairs, toolchain versions and cargo's output."""

    files: tuple[tuple[str, Path], ...]
    debug: tuple[tuple[str, Path], ...] = ()  # (artifact name, its detached debug file) with dbgsym
    toolchain: tuple[tuple[str, str], ...] = ()
    log: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Paths:
    """Where the build sees its inputs: fixed paths in a container, real ones for --toolchain host."""

    src: str
    sysroot: str
    std: str
    cargo_home: str
    target_dir: str
    out: str


IN_CONTAINER = Paths(
    src=f"{_IN}/src", sysroot=f"{_IN}/sysroot", std=f"{_IN}/std", cargo_home=f"{_IN}/cargo",
    target_dir=f"{_IN}/target", out=f"{_IN}/out",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkDirs:
    """The persistent host dirs of one (project, dist, arch, toolchain): kept between runs."""

    cargo_home: Path
    target_dir: Path
    out: Path
    lock: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Job:
    """One build: its inputs and its persistent dirs."""

    recipe: Recipe
    target: Target
    cache: Cache
    reporter: Reporter
    work: WorkDirs

    @property
    def what(self) -> str:
        """How the build is named in messages."""
        return f"cargo build of {self.recipe.name} for {self.target.dist}/{self.target.arch}"

    def files(self) -> tuple[tuple[str, Path], ...]:
        """The stripped artifacts in the work dir."""
        return tuple((name, self.work.out / name) for name in artifact_names(self.recipe.build))

    def debug_files(self) -> tuple[tuple[str, Path], ...]:
        """With dbgsym: each artifact's detached debug file (`<build-id minus 2 hex>.debug`)."""
        if not self.recipe.build.dbgsym:
            return ()
        return tuple((name, _one_debug_file(self.work.out / DEBUG_DIR / name, name))
                     for name in artifact_names(self.recipe.build))  # fmt: skip

    def built(self, toolchain: tuple[tuple[str, str], ...], log: str) -> Built:
        """The Built of this job once its script ran."""
        return Built(files=self.files(), debug=self.debug_files(), toolchain=toolchain, log=log)


def _one_debug_file(directory: Path, name: str) -> Path:
    found = sorted(directory.glob("*.debug"))
    if len(found) != 1:
        raise BuildError(f"the debug symbols of {name} were not split off (found {len(found)} files)")
    return found[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerPlan:
    """A build in a container, ready to run: image, mounts, environment, the cargo command line."""

    image: container.Image
    mounts: tuple[Mount, ...]
    env: tuple[tuple[str, str], ...]
    cargo: tuple[str, ...]
    script: str  # versions, cargo, strip: what the container runs
    network: bool
    timeout: int | None = None  # seconds; the container's sh is killed after it (coreutils timeout)


# --------------------------------------------------------------------------- pure helpers


def cargo_argv(spec: BuildSpec, *, triple: str | None, locked: bool, manifest: str) -> list[str]:
    """The `cargo build` command line of a recipe (`triple` None: a native build)."""
    profile = ["--release"] if spec.profile == "release" else ["--profile", spec.profile]
    return [
        "cargo", "build", "--manifest-path", manifest, *profile, "--color", "never",
        *(["--target", triple] if triple else []),
        *(["--locked"] if locked else []),
        *(["--features", ",".join(spec.features)] if spec.features else []),
        *([] if spec.default_features else ["--no-default-features"]),
        *(f"--bin={name}" for name in spec.binaries),
        *(["--lib"] if spec.cdylibs else []),
    ]  # fmt: skip


def strip_lines(tools: str, built: str, out: str, name: str, *, dbgsym: bool) -> list[str]:
    """Shell lines that strip one artifact into `out`; with dbgsym, dh_strip's three steps.

    dh_strip (debhelper 13): `objcopy --only-keep-debug --compress-debug-sections` into
    .build-id/<xx>/<rest>.debug, strip, then `objcopy --add-gnu-debuglink` so gdb finds the file
    by name and CRC as well as by build-id. The debug file is named `<rest>.debug` here, since the
    debuglink records its base name.
    """
    src, dest = shlex.quote(f"{built}/{name}"), shlex.quote(f"{out}/{name}")
    strip = f"{shlex.join([f'{tools}strip', *_STRIP_ARGS, '-o', f'{out}/{name}', f'{built}/{name}'])}"
    if not dbgsym:
        return [strip]
    debug_dir = shlex.quote(f"{out}/{DEBUG_DIR}/{name}")
    debug = f'{debug_dir}/"${{id#??}}.debug"'
    return [
        f"rm -rf {debug_dir} && mkdir -p {debug_dir}",
        f"id=$({tools}readelf -n {src} | sed -n 's/^ *Build ID: *//p' | head -n 1)",
        f'[ -n "$id" ] || {{ echo "error: {name} has no build-id note, so its debug symbols '
        'cannot be split off (link with -Wl,--build-id)" >&2; exit 1; }',
        f"{tools}objcopy --only-keep-debug --compress-debug-sections {src} {debug}",
        strip,
        f"chmod 0644 {debug}",
        f"{tools}objcopy --add-gnu-debuglink={debug} {dest}",
    ]


def artifact_names(spec: BuildSpec) -> list[str]:
    """Files cargo writes for the recipe's targets: bins by name, cdylibs as lib<name>.so."""
    return [*spec.binaries, *(f"lib{name.replace('-', '_')}.so" for name in spec.cdylibs)]


def profile_dir(profile: str) -> str:
    """The target/<dir> of a cargo profile (`dev` writes to `debug`)."""
    return {"dev": "debug", "test": "debug", "bench": "release"}.get(profile, profile)


def cross_env(target: Target, paths: Paths, *, std: bool) -> dict[str, str]:
    """Everything cargo, rustc, the cc crate, pkg-config and openssl-sys need to cross-build."""
    triple, gnu, sysroot = target.rust_triple, target.gnu_triplet, paths.sysroot
    low, up = triple.replace("-", "_"), triple.replace("-", "_").upper()
    libdir = f"{sysroot}/usr/lib/{target.multiarch}"
    # Target-only rustflags (S8): build scripts and proc-macros keep the builder's own std.
    rustflags = [
        *([f"--sysroot={paths.std}/usr"] if std else []),
        f"-Clink-arg=--sysroot={sysroot}",  # crt1.o, libc.so from the sysroot (S9)
        *remap_flags(paths),
    ]
    return {
        **base_env(paths),
        f"CARGO_TARGET_{up}_LINKER": f"{gnu}-gcc",  # S6: the host cc cannot link aarch64 objects
        f"CARGO_TARGET_{up}_RUSTFLAGS": " ".join(rustflags),
        f"CC_{low}": f"{gnu}-gcc", f"CXX_{low}": f"{gnu}-g++", f"AR_{low}": f"{gnu}-ar",
        f"CFLAGS_{low}": f"--sysroot={sysroot}", f"CXXFLAGS_{low}": f"--sysroot={sysroot}",
        # S7: pkg-config reads the target's .pc files, prefixed with the sysroot.
        "PKG_CONFIG_SYSROOT_DIR": sysroot,
        "PKG_CONFIG_LIBDIR": f"{libdir}/pkgconfig:{sysroot}/usr/share/pkgconfig",
        "PKG_CONFIG_ALLOW_CROSS": "1",
        # openssl-sys reads <TRIPLE>_OPENSSL_* before probing the (host's) system.
        f"{up}_OPENSSL_DIR": f"{sysroot}/usr", f"{up}_OPENSSL_LIB_DIR": libdir,
        f"{up}_OPENSSL_INCLUDE_DIR": f"{sysroot}/usr/include",
    }  # fmt: skip


def debug_env(*, dbgsym: bool, profile: str) -> dict[str, str]:
    """With dbgsym: full debug info in the build (as Debian's Rust packages get `-C debuginfo=2`).

    Cargo's release profile has none, which would leave the -dbgsym package only a symbol table.

    >>> debug_env(dbgsym=True, profile="release")
    {'CARGO_PROFILE_RELEASE_DEBUG': 'true'}
    """
    return {f"CARGO_PROFILE_{profile.upper().replace('-', '_')}_DEBUG": "true"} if dbgsym else {}


def base_env(paths: Paths) -> dict[str, str]:
    """Where cargo keeps its home and target dir; no colours in captured output."""
    return {"CARGO_HOME": paths.cargo_home, "CARGO_TARGET_DIR": paths.target_dir, "CARGO_TERM_COLOR": "never"}


def remap_flags(paths: Paths) -> list[str]:
    """`--remap-path-prefix` for the build paths, so no host or builder path is baked into the binary."""
    return [
        f"--remap-path-prefix={paths.src}=.",
        f"--remap-path-prefix={paths.cargo_home}=/cargo",
        f"--remap-path-prefix={paths.sysroot}/usr=/usr",
    ]


def cargo_config(crates: str, paths: Paths, registry: str) -> str:
    """The cargo home's config.toml: crates.io replaced by Debian's registry or vendor/ (S10)."""
    if crates == "registry":
        return ""
    directory = registry if crates == "debian" else f"{paths.src}/vendor"
    return (
        "# Written by debforge: crates come from a local directory source, never from the network.\n"
        f'[source.crates-io]\nreplace-with = "local"\n\n[source.local]\ndirectory = "{directory}"\n'
        "\n[net]\noffline = true\n"
    )


def error_tail(output: str) -> str:
    """Cargo's own error: from the first `error` line on (at most 60 lines), else the last lines."""
    lines = output.rstrip().splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("error")), None)
    kept = lines[first : first + _ERROR_LINES] if first is not None else lines[-30:]
    return "\n".join(kept)


def depends_requests(groups: Sequence[str], known: Callable[[str], bool]) -> list[str]:
    """A resolver request per build-depends group: its first alternative the archive knows.

    >>> known = {"libbar-dev"}.__contains__
    >>> depends_requests(["libfoo-dev (>= 1) | libbar-dev [arm64]", "zlib1g-dev"], known)
    ['libbar-dev', 'zlib1g-dev']
    """
    requests = []
    for group in groups:
        names = [re.split(r"[\s(\[]", alt.strip(), maxsplit=1)[0] for alt in group.split("|")]
        requests.append(next((n for n in names if known(n)), names[0]))
    return requests


# --------------------------------------------------------------------------- the build


def build_cargo(
    recipe: Recipe, target: Target, cache: Cache, reporter: Reporter, *, toolchain: str, emulate: bool
) -> Built:
    """Build the recipe's Cargo targets for `target` and return the stripped files (in the cache)."""
    job = _job(recipe, target, cache, reporter, "emulate" if emulate else toolchain)
    if toolchain == "host" and not emulate:
        host_rust = _host_rust(target)  # validate before any download
        return _build_on_host(job, build_depends_sysroot(recipe, target, cache, reporter), host_rust)
    plan = _emulated_plan(job) if emulate else _cross_plan(job)
    return _run_plan(job, plan)


def plan_build(
    recipe: Recipe, target: Target, cache: Cache, reporter: Reporter, *, emulate: bool = False
) -> ContainerPlan:
    """Everything prepared for a container build (image, sysroot, std, mounts), without running it."""
    job = _job(recipe, target, cache, reporter, "emulate" if emulate else "container")
    return _emulated_plan(job) if emulate else _cross_plan(job)


def _job(recipe: Recipe, target: Target, cache: Cache, reporter: Reporter, variant: str) -> _Job:
    _check_project(recipe)
    work = workdirs(recipe, target, cache, variant)
    return _Job(recipe=recipe, target=target, cache=cache, reporter=reporter, work=work)


def _cross_plan(job: _Job) -> ContainerPlan:
    """The cross build in the builder: the sysroot and the target std mounted read-only."""
    recipe, target, work, paths = job.recipe, job.target, job.work, IN_CONTAINER
    sysroot = build_depends_sysroot(recipe, target, job.cache, job.reporter)
    image = builder_image(target, job.cache, job.reporter)
    std = target_std(target, job.cache, job.reporter)
    _write_cargo_config(work, recipe.build.crates, paths, f"{paths.sysroot}/{DEBIAN_REGISTRY}")
    mounts = ((sysroot, paths.sysroot, True), (std, paths.std, True), *_rw_mounts(job))
    built = f"{paths.target_dir}/{target.rust_triple}/{profile_dir(recipe.build.profile)}"
    env = {**cross_env(target, paths, std=True), "HOME": paths.cargo_home}
    return _plan(
        job, image, mounts, env, triple=target.rust_triple, built=built, tools=f"{target.gnu_triplet}-"
    )


def _rw_mounts(job: _Job) -> tuple[Mount, ...]:
    paths = IN_CONTAINER
    return (
        (job.recipe.source_dir, paths.src, False), (job.work.cargo_home, paths.cargo_home, False),
        (job.work.target_dir, paths.target_dir, False), (job.work.out, paths.out, False),
    )  # fmt: skip


def _plan(
    job: _Job,
    image: container.Image,
    mounts: tuple[Mount, ...],
    env: Mapping[str, str],
    *,
    triple: str | None,
    built: str,
    tools: str,
) -> ContainerPlan:
    """The container's script: toolchain versions on stdout, cargo, then strip each artifact."""
    recipe, paths = job.recipe, IN_CONTAINER
    locked = (recipe.source_dir / "Cargo.lock").is_file()
    manifest = f"{paths.src}/{recipe.build.manifest.relative_to(recipe.source_dir)}"  # type: ignore[union-attr]  # checked
    argv = cargo_argv(recipe.build, triple=triple, locked=locked, manifest=manifest)
    strips = [
        line
        for name in artifact_names(recipe.build)
        for line in strip_lines(tools, built, paths.out, name, dbgsym=recipe.build.dbgsym)
    ]
    script = "\n".join([
        "set -e",
        "printf 'rustc\\t%s\\n' \"$(rustc -V)\"", "printf 'cargo\\t%s\\n' \"$(cargo -V)\"",
        f"printf 'cc\\t%s\\n' \"$({tools}gcc --version | head -n 1)\"",
        shlex.join(argv), *strips,
    ])  # fmt: skip
    env = {**env, **debug_env(dbgsym=recipe.build.dbgsym, profile=recipe.build.profile)}
    return ContainerPlan(
        image=image, mounts=mounts, env=tuple(sorted(env.items())), cargo=tuple(argv), script=script,
        network=recipe.build.crates == "registry",  # no network at all when the crates are local
    )  # fmt: skip


def _check_project(recipe: Recipe) -> None:
    manifest = recipe.build.manifest
    if manifest is None or not manifest.is_file():
        raise BuildError(
            f"{recipe.source_dir} has no Cargo.toml, so there is nothing for cargo to build",
            hint='run debforge in a Cargo project, or set [build] kind = "binary" for a prebuilt file',
        )


def workdirs(recipe: Recipe, target: Target, cache: Cache, variant: str) -> WorkDirs:
    """Per project (by path) and per (dist, arch, toolchain): host and container artefacts never mix."""
    project = key(str(recipe.source_dir))[:16]
    base = cache.root / "build" / project / f"{target.dist}-{target.arch}-{variant}"
    work = WorkDirs(
        cargo_home=base / "cargo", target_dir=base / "target", out=base / "out",
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


def build_depends_sysroot(recipe: Recipe, target: Target, cache: Cache, reporter: Reporter) -> Path:
    """The recipe's build-depends (with libc6-dev and libgcc-s1) resolved for the target, unpacked."""
    requests = depends_requests(recipe.build.build_depends, _knows(fetch_index(target, cache, reporter)))
    try:
        return rootfs.make_sysroot(target, requests, cache, reporter).path
    except ResolveError as exc:
        raise BuildError(
            f"the build-depends of {recipe.recipe_file} cannot be installed on "
            f"{target.dist}/{target.arch}: {exc}",
            hint=exc.hint or "check the package names with `debforge show NAME`",
        ) from exc


def _knows(index: PackageIndex) -> Callable[[str], bool]:
    return lambda name: name in index.packages or bool(index.provided_by(name))


def builder_image(target: Target, cache: Cache, reporter: Reporter) -> container.Image:
    """The Rust cross builder for `target` (images/builder: host arch, same dist, gcc-<triplet>)."""
    with reporter.step(f"Builder image for {target.dist}/{target.arch}"):
        return container.build_image(target, cache, reporter, definition="builder")


def target_std(target: Target, cache: Cache, reporter: Reporter) -> Path:
    """The target's Rust std alone (the -dev package, S8), pinned to the builder's exact rustc."""
    with reporter.step(f"Rust std for {target.rust_triple}"):
        return container.extract_rust_std(target, cache, reporter)


def _native_toolchain(target: Target) -> tuple[str, ...]:
    """The builder's Rust packages (rustc-web, cargo-web on bookworm), for a native target image."""
    builder = container.load_definition("builder", target)
    rust_packages = tuple(p for p in builder.packages if p.startswith(("rustc", "cargo")))
    if builder.extras.get("rustc") not in rust_packages:
        raise BuildError(f"images/builder/image.toml names no Rust toolchain for {target.dist}")
    return rust_packages


def _run_plan(job: _Job, plan: ContainerPlan) -> Built:
    with job.reporter.step(job.what), job.cache.lock(job.work.lock):
        code, stdout, stderr = _docker_run(plan, reporter=job.reporter)
    if code == _TIMED_OUT and plan.timeout:
        raise BuildError(
            f"{job.what} did not finish within {plan.timeout // 60} minutes under QEMU",
            hint="qemu-user can deadlock when cargo forks: run it again, or build without --emulate",
        )
    if code != 0:
        raise BuildError(f"{job.what} failed (exit code {code}):\n{error_tail(stderr)}")
    pairs = [line.split("\t", 1) for line in stdout.splitlines() if "\t" in line]  # the script's printf
    return job.built(tuple((tool, version) for tool, version in pairs), stderr)


def _docker_run(plan: ContainerPlan, *, reporter: Reporter) -> tuple[int, str, str]:
    """Run `sh -c script` as the calling user with bind mounts; stream stderr lines to the reporter."""
    import docker  # noqa: PLC0415 - docker-py is only needed when a container runs

    if os.environ.get("DOCKER_HOST", "unix://").split("://")[0] not in ("unix", "npipe"):
        raise BuildError(
            "the build stage bind-mounts the project and needs a local Docker engine, not DOCKER_HOST",
            hint="unset DOCKER_HOST, or build with --toolchain host",
        )
    image = plan.image
    limit = ["timeout", "--kill-after=30", str(plan.timeout)] if plan.timeout else []
    argv = [*limit, "sh", "-c", plan.script]
    volumes = {str(host): {"bind": dest, "mode": "ro" if ro else "rw"} for host, dest, ro in plan.mounts}
    try:
        handle = container.docker_client().containers.create(
            image.tag, argv, environment=dict(plan.env), volumes=volumes,
            user=f"{os.getuid()}:{os.getgid()}", working_dir=str(_IN / "src"), platform=image.platform,
            network_mode="bridge" if plan.network else "none", labels={container.LABEL: "1"},
        )  # fmt: skip
    except docker.errors.DockerException as exc:
        raise BuildError(f"cannot start the builder {image.tag}: {exc}") from exc
    try:
        handle.start()
        pending = b""
        for chunk in handle.logs(stream=True, follow=True, stdout=False, stderr=True):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                reporter.info(line.decode("utf-8", "replace"))
        code = int(handle.wait()["StatusCode"])
        stdout = handle.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        stderr = handle.logs(stdout=False, stderr=True).decode("utf-8", "replace")
    finally:
        handle.remove(force=True)
    return code, stdout, stderr


# --------------------------------------------------------------------------- --toolchain host


@dataclass(frozen=True, slots=True, kw_only=True)
class _HostRust:
    rustc: Path
    cargo: Path
    version: str


def _host_rust(target: Target) -> _HostRust:
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
    return _HostRust(rustc=Path(rustc), cargo=Path(found), version=version)


def _in_cargo_home(tool: str) -> str | None:
    """rustup installs into ~/.cargo/bin, which is often not on PATH for services and CI."""
    path = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo") / "bin" / tool
    return str(path) if path.is_file() else None


def _build_on_host(job: _Job, sysroot: Path, host: _HostRust) -> Built:
    recipe, target, work = job.recipe, job.target, job.work
    paths = Paths(
        src=str(recipe.source_dir), sysroot=str(sysroot), std="", cargo_home=str(work.cargo_home),
        target_dir=str(work.target_dir), out=str(work.out),
    )  # fmt: skip
    _write_cargo_config(work, recipe.build.crates, paths, f"{sysroot}/{DEBIAN_REGISTRY}")
    env = {
        **os.environ,
        **cross_env(target, paths, std=False),
        **debug_env(dbgsym=recipe.build.dbgsym, profile=recipe.build.profile),
        "RUSTC": str(host.rustc),
    }
    locked = (recipe.source_dir / "Cargo.lock").is_file()
    argv = cargo_argv(
        recipe.build, triple=target.rust_triple, locked=locked, manifest=str(recipe.build.manifest)
    )
    with job.reporter.step(f"{job.what} (host toolchain)"), job.cache.lock(work.lock):
        done = run([host.cargo, *argv[1:]], cwd=recipe.source_dir, env=env, check=False)
        log = done.stderr.decode("utf-8", "replace")
        if done.returncode != 0:
            raise BuildError(f"{job.what} failed (exit code {done.returncode}):\n{error_tail(log)}")
        built = work.target_dir / target.rust_triple / profile_dir(recipe.build.profile)
        lines = [
            line
            for name in artifact_names(recipe.build)
            for line in strip_lines(
                f"{target.gnu_triplet}-", str(built), str(work.out), name, dbgsym=recipe.build.dbgsym
            )
        ]
        run(["sh", "-c", "\n".join(["set -e", *lines])])
    toolchain = (("rustc", f"rustc {host.version}"), ("cargo", run([host.cargo, "-V"]).text.strip()))
    return job.built(toolchain, log)


# --------------------------------------------------------------------------- --emulate


def _emulated_plan(job: _Job) -> ContainerPlan:
    """A native build in a target-arch container under QEMU: slow, for build scripts that cannot cross."""
    recipe, target, paths = job.recipe, job.target, IN_CONTAINER
    index = fetch_index(target, job.cache, job.reporter)
    requests = depends_requests(recipe.build.build_depends, _knows(index))
    packages = (*_native_toolchain(target), "gcc", "libc6-dev", "pkg-config", *requests)
    with job.reporter.step(f"Emulated builder image for {target.dist}/{target.arch}"):
        image = container.build_image(target, job.cache, job.reporter, packages=packages)
    _write_cargo_config(job.work, recipe.build.crates, paths, f"/{DEBIAN_REGISTRY}")
    env = {**base_env(paths), "RUSTFLAGS": " ".join(remap_flags(paths)), "HOME": paths.cargo_home}
    built = f"{paths.target_dir}/{profile_dir(recipe.build.profile)}"
    plan = _plan(job, image, _rw_mounts(job), env, triple=None, built=built, tools="")
    return replace(plan, timeout=EMULATED_TIMEOUT)
