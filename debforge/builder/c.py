"""C/C++ builds (autotools, CMake, Meson, make, script): cross in the builder container, into a staging tree.

The builder image (images/builder: the machine's own arch, Debian's gcc/g++-<triplet>, cmake,
meson, autotools) gets fixed mounts (bind or copied, container/transport.py): a fresh copy of the
project, the build-depends sysroot (read-only), the generated cross files
(debforge/builder/crossfiles.py) and an empty staging dir that the install step writes into. What it
installed is then checked and trimmed (debforge/builder/staging.py) and handed on file by file;
`assets = ["$install"]` packages it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debforge import container
from debforge.archive import fetch_index
from debforge.builder import crossfiles
from debforge.builder.cargo import depends_requests
from debforge.builder.crossfiles import CrossPaths
from debforge.builder.staging import collect_stage
from debforge.builder.static import check_static
from debforge.builder.toolchain import EMULATED_TIMEOUT, build_depends_sysroot, builder_image_beside
from debforge.cache import atomic_write_bytes, key
from debforge.dists import Target
from debforge.errors import BuildError
from debforge.recipe import CBuild, Recipe
from debforge.session import Session

_IN = "/debforge"
PATHS = CrossPaths(sysroot=f"{_IN}/sysroot", cross=f"{_IN}/cross", stage=f"{_IN}/stage")
# --emulate: a target-arch container with the build-depends installed at /, so "/" is the sysroot;
# the same script then builds natively under QEMU (build = host: configure does not cross).
EMULATED = CrossPaths(sysroot="/", cross=f"{_IN}/cross", stage=f"{_IN}/stage")
# The emulated image's tools: the compilers always, the build system's own per kind.
_NATIVE_BASE = ("gcc", "g++", "make", "libc6-dev", "pkgconf", "file")
_NATIVE_TOOLS = {
    "autotools": ("autoconf", "automake", "autopoint", "libtool", "gettext", "bison", "flex"),
    "cmake": ("cmake",), "meson": ("meson", "ninja-build"), "make": (), "script": (),
}  # fmt: skip
SRC, BUILD_DIR = f"{_IN}/src", f"{_IN}/build"
# The script's own exit codes: which step failed decides the sentence the user gets.
CONFIGURE_FAILED, INSTALL_FAILED, WROTE_OUTSIDE = 90, 91, 92
_OUTSIDE_HEADER = "--- written outside the staging tree:"
_MARKER = f"{BUILD_DIR}/.debforge-started"
# The builder's own scratch places; anything else newer than the marker was written by the build.
_PRUNED = (_IN, "/proc", "/sys", "/dev", "/tmp", "/run", "/var/tmp")  # noqa: S108 - paths in the container, not temp files
_LOG_LINES = 40
_STATIC_HINT = (
    "a library was linked as a shared one: make sure its static archive (.a, in its -dev package) is in "
    "[build] build-depends and the build system asks pkg-config --static / $LDFLAGS"
)
# pkg-config (pkgconf), CMake's FindPkgConfig and Meson, when a module's .pc file is missing.
_MISSING_PC = (
    re.compile(r"Package '?([\w.+-]+)'?,? (?:was not found in the pkg-config search path|.*not found)"),
    re.compile(r"No package '([\w.+-]+)' found"),
    re.compile(r'Dependency "?([\w.+-]+)"? not found'),
    re.compile(r"Could not find a package configuration file provided by \"?([\w.+-]+)"),
)
# `install: cannot create directory '/usr/local/bin': Permission denied` (or quoted with U+2018/U+2019).
_DENIED = re.compile(r"(/[^\s'\"\u2018\u2019:]+)['\"\u2019]?: (?:Permission denied|Read-only file system)")


@dataclass(frozen=True, slots=True, kw_only=True)
class CBuilt:
    """What a C build left: the staged files and symlinks by install path, toolchain, output, sysroot."""

    files: tuple[tuple[str, Path], ...]  # ("usr/bin/tree", the staged file)
    links: tuple[tuple[str, str], ...] = ()
    debug: tuple[tuple[str, Path], ...] = ()
    toolchain: tuple[tuple[str, str], ...] = ()
    log: str = ""
    sysroot: Path | None = None


def build_c(session: Session, recipe: Recipe, target: Target, *, toolchain: str, emulate: bool) -> CBuilt:
    """Cross-build a C/C++ recipe in the builder container (or natively under QEMU with `emulate`)
    and return its trimmed staging tree."""
    spec = recipe.build
    if not isinstance(spec, CBuild):  # the dispatch table sent only C kinds here
        raise BuildError(f"{recipe.recipe_file} does not describe a C/C++ build")
    if toolchain != "container" and not emulate:
        raise BuildError(
            f"kind '{spec.kind}' of {recipe.recipe_file} builds in the builder container (or with "
            "--emulate), so --toolchain host does not apply to it"
        )
    what = f"{spec.kind} build of {recipe.name} for {target.dist}/{target.arch}" + (
        f" ({container.execution(session, target.arch)})" if emulate else ""
    )
    if emulate:
        sysroot = build_depends_sysroot(session, recipe, target)
        image = _emulated_image(session, spec, target)
    else:
        with builder_image_beside(session, target, kind=spec.kind) as builder:
            sysroot = build_depends_sysroot(session, recipe, target)
            image = builder.wait()
    work, box = _container(session, spec, target, sysroot, image, emulate=emulate)
    with (
        session.reporter.step(what),
        session.cache.lock(f"build-c-{work.parent.name}-{work.name}", on_wait=session.reporter.warning),
    ):
        done = container.run_container(session, box)
    log = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        raise failure(what, spec, recipe.recipe_file, done.returncode, done.text + log)
    staged = collect_stage(work / "stage", what=what, keep_dev_files=spec.keep_dev_files)
    if spec.static:
        check_static(staged.files, hint=_STATIC_HINT)
    if staged.dropped:
        session.reporter.info(f"left out development files: {', '.join(staged.dropped)}")
    pairs = [line.split("\t", 1) for line in done.text.splitlines() if line.startswith("cc\t")]
    return CBuilt(
        files=staged.files, links=staged.links, toolchain=tuple((t, v) for t, v in pairs), log=log,
        sysroot=sysroot,
    )  # fmt: skip


def _container(
    session: Session, spec: CBuild, target: Target, sysroot: Path, image: container.Image, *, emulate: bool
) -> tuple[Path, container.ContainerSpec]:
    """The work dir and the build container: the builder with the sysroot mounted, or (emulate) a
    target-arch image with the build-depends installed, running the same script natively."""
    paths = EMULATED if emulate else PATHS
    work = _prepare(session, spec, target, paths, variant="emulate" if emulate else "cross")
    build = (
        target.gnu_triplet
        if emulate
        else container.host_target(target, arch=container.engine_arch(session)).gnu_triplet
    )
    return work, container.ContainerSpec(
        image=image, argv=("sh", "-c", build_script(spec, target, build=build, paths=paths)), role="build",
        mounts=(
            *([] if emulate else [container.Mount(source=sysroot, dest=PATHS.sysroot, read_only=True,
                                                  volume=container.content_volume(sysroot))]),
            container.Mount(source=work / "cross", dest=paths.cross, read_only=True),
            container.Mount(source=work / "src", dest=SRC, copy_back=False),  # scratch: only the
            container.Mount(source=work / "build", dest=BUILD_DIR, copy_back=False),  # stage comes back
            container.Mount(source=work / "stage", dest=paths.stage),
        ),
        user=f"{os.getuid()}:{os.getgid()}", workdir=_workdir(spec), network="none",
        env=_env(spec, target, build, paths), timeout=EMULATED_TIMEOUT if emulate else None,
    )  # fmt: skip


def _env(spec: CBuild, target: Target, build: str, paths: CrossPaths) -> tuple[tuple[str, str], ...]:
    env = {
        **crossfiles.cross_env(target, paths, spec.env, build=build, static=spec.static),
        "HOME": BUILD_DIR,
    }
    return tuple(sorted(env.items()))


def _emulated_image(session: Session, spec: CBuild, target: Target) -> container.Image:
    """A target-arch image with the compilers, the kind's build tools and the build-depends (QEMU)."""
    index = fetch_index(session, target)
    known = lambda name: name in index.packages or bool(index.provided_by(name))  # noqa: E731 - a predicate
    requests = depends_requests(spec.build_depends, known)
    packages = (*_NATIVE_BASE, *_NATIVE_TOOLS[spec.kind], *requests)
    with session.reporter.step(f"Emulated builder image for {target.dist}/{target.arch}"):
        return container.build_image(session, target, packages=packages)


def _workdir(spec: CBuild) -> str:
    return f"{SRC}/{spec.subdir}" if spec.subdir else SRC


def _prepare(session: Session, spec: CBuild, target: Target, paths: CrossPaths, *, variant: str) -> Path:
    """A fresh copy of the project, empty build and staging dirs, and the cross files, in the cache."""
    project = key(str(spec.source))[:16]
    work = session.cache.root / "build" / project / f"{target.dist}-{target.arch}-c-{variant}"
    for name in ("src", "build", "stage"):
        shutil.rmtree(work / name, ignore_errors=True)
    (work / "build").mkdir(parents=True)
    (work / "stage").mkdir()
    # A copy: in-tree builds (autotools, plain make) must not leave objects in the user's project.
    shutil.copytree(spec.source, work / "src", symlinks=True)
    cross = work / "cross"
    cross.mkdir(exist_ok=True)
    pkg_config = crossfiles.pkg_config_wrapper(target, paths, static=spec.static)
    files = {
        "toolchain.cmake": (crossfiles.cmake_toolchain(target, paths), 0o644),
        "cross.ini": (crossfiles.meson_cross_file(target, paths), 0o644),
        "pkg-config": (pkg_config, 0o755),
        f"{target.gnu_triplet}-pkg-config": (pkg_config, 0o755),
        "emulator": (crossfiles.emulator_wrapper(paths), 0o755),
    }
    for name, (text, mode) in files.items():
        atomic_write_bytes(cross / name, text.encode())
        (cross / name).chmod(mode)
    return work


# --------------------------------------------------------------------------- the script


@dataclass(frozen=True, slots=True, kw_only=True)
class _Step:
    """What every kind's steps are made from: the target, the build triplet, the expanded arguments."""

    spec: CBuild
    target: Target
    build: str
    paths: CrossPaths
    configure: list[str]
    make: list[str]
    install: list[str]


def build_script(spec: CBuild, target: Target, *, build: str, paths: CrossPaths = PATHS) -> str:
    """The shell script the builder runs: configure, build, install into $DESTDIR, strip (dh_strip)."""

    def expand(args: tuple[str, ...]) -> list[str]:
        return [crossfiles.expand_destdir(arg, paths.stage) for arg in args]

    step = _Step(
        spec=spec, target=target, build=build, paths=paths, configure=expand(spec.configure_args),
        make=expand(spec.make_args), install=expand(spec.install_args),
    )  # fmt: skip
    gnu = target.gnu_triplet
    return "\n".join([
        "set -e",
        f"touch {_MARKER}",
        f"printf 'cc\\t%s\\n' \"$({gnu}-gcc --version | head -n 1)\"",
        *_STEPS[spec.kind](step),
        *_outside_check(),
        # dh_strip: executables and shared libraries, found by their ELF magic.
        f"find {paths.stage} -type f | while read -r f; do",
        "  if [ \"$(head -c 4 \"$f\" | tail -c 3)\" = ELF ]; then",
        f"    {gnu}-strip --strip-unneeded --remove-section=.comment --remove-section=.note \"$f\"",
        "  fi",
        "done",
    ])  # fmt: skip


def _outside_check() -> list[str]:
    """Fail when the build wrote files outside the staging tree: as root in the container nothing
    stops `make install` writing to /usr/local, and what lands there would silently be lost."""
    prune = " -o ".join(f"-path {shlex.quote(path)}" for path in _PRUNED)
    find = f"find / -xdev \\( {prune} \\) -prune -o -newer {_MARKER} ! -type d -print"
    return [
        f"outside=$({find} | head -n 20)",
        f'if [ -n "$outside" ]; then echo {shlex.quote(_OUTSIDE_HEADER)} >&2; echo "$outside" >&2; '
        f"exit {WROTE_OUTSIDE}; fi",
    ]


def _guard(command: list[str], code: int, log: str | None = None, *, shell_args: str = "") -> str:
    """`command` (then `shell_args`, unquoted shell words such as "$@"); on failure print the end of
    `log` (config.log, CMakeError.log…) and exit with `code`."""
    show = f"echo '--- end of {log}:' >&2; {_log_tail(log)} >&2 || true; " if log else ""
    words = f"{shlex.join(command)} {shell_args}".rstrip()
    return f"if ! {words}; then {show}exit {code}; fi"


def _log_tail(log: str) -> str:
    """The last lines of a configure log that say why; config.log ends with a dump of every cache
    variable and confdefs.h, so it is cut there, and pkg-config's own complaint (logged by
    PKG_CHECK_MODULES, often far above the end) is shown first."""
    quoted = shlex.quote(log)
    if PurePosixPath(log).name != "config.log":
        return f"tail -n {_LOG_LINES} {quoted}"
    complaints = "was not found in the pkg-config search path|No package '.*' found"
    return (
        f"{{ grep -E {shlex.quote(complaints)} {quoted} | head -n 5; "
        f"sed '/^## Cache variables/,$d' {quoted} | tail -n {_LOG_LINES}; }}"
    )


def _jobs() -> str:
    return f"-j{os.cpu_count() or 1}"


def _autotools(step: _Step) -> list[str]:
    configure = ["./configure", *crossfiles.autotools_args(step.target, step.build), *step.configure]
    install = ["make", "install", f"DESTDIR={step.paths.stage}", "AM_UPDATE_INFO_DIR=no", *step.install]
    return [
        # dh_autoreconf: a release tarball with only configure.ac is prepared as Debian does.
        "[ -x ./configure ] || autoreconf -fi",
        crossfiles.RUNSTATEDIR_IF_KNOWN,
        _guard(configure, CONFIGURE_FAILED, "config.log", shell_args='"$@"'),
        shlex.join(["make", _jobs(), *step.make]),
        _guard(install, INSTALL_FAILED),
    ]


def _make(step: _Step) -> list[str]:
    variables = crossfiles.make_variables(step.target, step.paths, static=step.spec.static)
    # Later command-line assignments win in make, so the recipe's own arguments come last.
    return [
        shlex.join(["make", _jobs(), *variables, *step.make]),
        _guard(["make", "install", *variables, f"DESTDIR={step.paths.stage}", *step.install], INSTALL_FAILED),
    ]


def _cmake(step: _Step) -> list[str]:
    configure = [
        "cmake",
        "-S",
        ".",
        "-B",
        BUILD_DIR,
        *crossfiles.cmake_args(step.target, step.paths),
        *step.configure,
    ]
    jobs = ["--parallel", str(os.cpu_count() or 1)]
    return [
        # CMake < 3.26 (bookworm has 3.25) writes its failed checks to CMakeFiles/CMakeError.log.
        _guard(configure, CONFIGURE_FAILED, f"{BUILD_DIR}/CMakeFiles/CMakeError.log"),
        shlex.join(["cmake", "--build", BUILD_DIR, *jobs, *(["--", *step.make] if step.make else [])]),
        _guard(["cmake", "--install", BUILD_DIR, "--prefix", "/usr", *step.install], INSTALL_FAILED),
    ]


def _meson(step: _Step) -> list[str]:
    configure = [
        "meson",
        "setup",
        BUILD_DIR,
        *crossfiles.meson_args(step.target, step.paths, static=step.spec.static),
        *step.configure,
    ]
    install = [
        "meson",
        "install",
        "-C",
        BUILD_DIR,
        "--no-rebuild",
        "--destdir",
        step.paths.stage,
        *step.install,
    ]
    return [
        _guard(configure, CONFIGURE_FAILED, f"{BUILD_DIR}/meson-logs/meson-log.txt"),
        shlex.join(["meson", "compile", "-C", BUILD_DIR, *step.make]),
        _guard(install, INSTALL_FAILED),
    ]


def _script(step: _Step) -> list[str]:
    # The user's commands as written: $DESTDIR, $CC, $PKG_CONFIG… come from the environment.
    return list(step.spec.script)


_STEPS: dict[str, Callable[[_Step], list[str]]] = {
    "autotools": _autotools, "make": _make, "cmake": _cmake, "meson": _meson, "script": _script,
}  # fmt: skip


# --------------------------------------------------------------------------- failures


def failure(what: str, spec: CBuild, recipe_file: Path, code: int, output: str) -> BuildError:
    """The one sentence for a failed C build: a missing .pc, a configure or install failure, or the tail."""
    tail = "\n".join(output.rstrip().splitlines()[-_LOG_LINES:])
    missing = missing_pc(output)
    if missing is not None:
        return BuildError(
            f"the {what} needs {missing}.pc, which no package in [build] build-depends of {recipe_file} "
            "provides for the target",
            hint=f"add the -dev package with {missing}.pc to build-depends (`apt-file search {missing}.pc`)",
        )
    if code == CONFIGURE_FAILED:
        return BuildError(f"the configure step of the {what} failed:\n{tail}")
    outside = written_outside(output)
    if code in (INSTALL_FAILED, WROTE_OUTSIDE) and outside is not None:
        return BuildError(
            f"the install step of the {what} wrote outside the staging tree ($DESTDIR): {outside}",
            hint='point the install at $DESTDIR, e.g. install-args = ["PREFIX=$DESTDIR/usr"]',
        )
    step = "install step" if code == INSTALL_FAILED else "build"
    return BuildError(f"the {step} of the {what} failed (exit code {code}):\n{tail}")


def missing_pc(output: str) -> str | None:
    """The pkg-config module a configure step could not find, from its output.

    >>> missing_pc("Package 'ncursesw', required by 'virtual:world', not found")
    'ncursesw'
    >>> missing_pc("checking for FOO... no") is None
    True
    """
    for pattern in _MISSING_PC:
        found = pattern.search(output)
        if found:
            return found.group(1)
    return None


def written_outside(output: str) -> PurePosixPath | None:
    r"""The first path outside the staging tree the build wrote, or was refused to write.

    >>> written_outside("install: cannot create directory '/usr/local/bin': Permission denied")
    PurePosixPath('/usr/local/bin')
    >>> written_outside("--- written outside the staging tree:\n/usr/local/man/man1/tree.1\n")
    PurePosixPath('/usr/local/man/man1/tree.1')
    """
    lines = output.splitlines()
    if _OUTSIDE_HEADER in lines:
        return PurePosixPath(lines[lines.index(_OUTSIDE_HEADER) + 1])
    for found in _DENIED.finditer(output):
        path = PurePosixPath(found.group(1))
        if not path.is_relative_to(PATHS.stage):
            return path
    return None
