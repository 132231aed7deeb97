"""Pure pieces of a C/C++ cross build: CMake toolchain file, Meson cross file, autotools and make flags.

Nothing here runs anything; debforge.builder.c writes these files into the builder container and
runs the build system with them. Every value follows what debhelper passes when cross-building
(`dpkg-buildpackage -a<arch>`: dh_auto_configure/dh_auto_build/dh_auto_install, debhelper 13).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from debforge.dists import Target

# Meson's cpu_family names by GNU cpu (meson's reference tables; Debian's debcrossgen maps the same).
_MESON_CPU_FAMILY = {
    "aarch64": "aarch64", "arm": "arm", "x86_64": "x86_64", "i686": "x86", "i386": "x86",
    "powerpc64le": "ppc64", "powerpc64": "ppc64", "riscv64": "riscv64", "s390x": "s390x",
    "mips64el": "mips64", "mipsel": "mips", "loongarch64": "loongarch64",
}  # fmt: skip
_BIG_ENDIAN = frozenset({"s390x", "powerpc64", "mips64", "mips"})
# dpkg-buildflags' defaults on bookworm/trixie (hardening: fortify, stack-protector, relro), which
# dpkg-buildpackage exports; a recipe's `env` wins over them.
BUILD_FLAGS = (
    ("CFLAGS", "-g -O2 -fstack-protector-strong -Wformat -Werror=format-security"),
    ("CXXFLAGS", "-g -O2 -fstack-protector-strong -Wformat -Werror=format-security"),
    ("CPPFLAGS", "-Wdate-time -D_FORTIFY_SOURCE=2"),
    ("LDFLAGS", "-Wl,-z,relro"),
)
DESTDIR_WORDS = ("${DESTDIR}", "$DESTDIR")


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossPaths:
    """Where the build sees its inputs: fixed paths inside the builder container."""

    sysroot: str  # the build-depends tree of the target (read-only)
    cross: str  # the generated files: toolchain file, cross file, pkg-config and emulator wrappers
    stage: str  # the staging tree `make install DESTDIR=` writes into

    @property
    def pkg_config(self) -> str:
        """The pkg-config wrapper that reads the target's .pc files (cross-build-notes S7)."""
        return f"{self.cross}/pkg-config"

    @property
    def emulator(self) -> str:
        """The wrapper that runs a freshly built target program through the host's qemu binfmt."""
        return f"{self.cross}/emulator"


def gnu_cpu(target: Target) -> str:
    """DEB_HOST_GNU_CPU: the first part of the GNU triplet (`aarch64` for arm64, `arm` for armhf).

    >>> from debforge.dists import make_target
    >>> gnu_cpu(make_target("bookworm", "armhf"))
    'arm'
    """
    return target.gnu_triplet.split("-", 1)[0]


def compilers(target: Target, paths: CrossPaths) -> dict[str, str]:
    """CC, CXX and the binutils of Debian's cross toolchain; the sysroot goes into CC/CXX themselves,
    so a Makefile that sets its own CFLAGS still compiles and links against the target's libc."""
    gnu, sysroot = target.gnu_triplet, f"--sysroot={paths.sysroot}"
    return {
        "CC": f"{gnu}-gcc {sysroot}", "CXX": f"{gnu}-g++ {sysroot}", "AR": f"{gnu}-ar",
        "RANLIB": f"{gnu}-ranlib", "STRIP": f"{gnu}-strip", "OBJCOPY": f"{gnu}-objcopy",
        "LD": f"{gnu}-ld", "NM": f"{gnu}-nm", "PKG_CONFIG": paths.pkg_config,
    }  # fmt: skip


def cross_env(
    target: Target, paths: CrossPaths, extra: Sequence[tuple[str, str]], *, build: str, static: bool = False
) -> dict[str, str]:
    """The environment of every C build step: compilers, dpkg-buildflags, DEB_HOST_*, then the recipe's;
    a static build links with -static after the recipe's own LDFLAGS (configure, CMake and script read it)."""
    env = {
        **compilers(target, paths),
        **dict(BUILD_FLAGS),
        "DEB_HOST_GNU_TYPE": target.gnu_triplet, "DEB_HOST_MULTIARCH": target.multiarch,
        "DEB_HOST_ARCH": target.arch, "DEB_BUILD_GNU_TYPE": build,
        "DESTDIR": paths.stage,
        "PATH": f"{paths.cross}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        **{name: expand_destdir(value, paths.stage) for name, value in extra},
    }  # fmt: skip
    if static:
        env["LDFLAGS"] = f"{env.get('LDFLAGS', '')} -static".strip()
    return env


def expand_destdir(value: str, stage: str) -> str:
    """`$DESTDIR` (or `${DESTDIR}`) in a recipe argument → the staging directory.

    >>> expand_destdir("PREFIX=$DESTDIR/usr", "/stage")
    'PREFIX=/stage/usr'
    """
    for word in DESTDIR_WORDS:
        value = value.replace(word, stage)
    return value


def make_variables(target: Target, paths: CrossPaths, *, static: bool = False) -> list[str]:
    """Make command-line variables, as dh_auto_build passes them when cross-building.

    A variable in the environment loses to a Makefile's own `CC = gcc`; one on the command line
    wins, so the binary cannot silently come out for the build machine (nor, static, dynamically linked).
    """
    tools = compilers(target, paths)
    names = ("CC", "CXX", "AR", "RANLIB", "STRIP", "PKG_CONFIG")
    return [f"{name}={tools[name]}" for name in names] + (["LDFLAGS=-static"] if static else [])


def autotools_args(target: Target, build: str) -> list[str]:
    """dh_auto_configure's ./configure options for a cross build (debhelper 13, multiarch libdir);
    `build` is the GNU triplet of the machine the builder runs on. Without --runstatedir, which
    debhelper passes only to a configure script that knows it (autoconf < 2.70 refuses it):
    RUNSTATEDIR_IF_KNOWN adds it there."""
    return [
        f"--build={build}", f"--host={target.gnu_triplet}", "--prefix=/usr",
        "--includedir=${prefix}/include", "--mandir=${prefix}/share/man", "--infodir=${prefix}/share/info",
        "--sysconfdir=/etc", "--localstatedir=/var", "--disable-option-checking",
        "--disable-silent-rules", f"--libdir=${{prefix}}/lib/{target.multiarch}",
        "--disable-maintainer-mode", "--disable-dependency-tracking",
    ]  # fmt: skip


# Shell: sets "$@" to --runstatedir=/run when ./configure knows the option (its --help text lists
# `--runstatedir=DIR`, autoconf >= 2.70; gnulib's m4 mentions the variable in older scripts too), as
# debhelper's autoconf build system checks before passing it.
RUNSTATEDIR_IF_KNOWN = (
    "set --; if grep -q -e '--runstatedir=DIR' ./configure; then set -- --runstatedir=/run; fi"
)


def cmake_args(target: Target, paths: CrossPaths) -> list[str]:
    """dh_auto_configure's cmake definitions (debhelper 13), with debforge's toolchain file."""
    return [
        f"-DCMAKE_TOOLCHAIN_FILE={paths.cross}/toolchain.cmake", "-DCMAKE_INSTALL_PREFIX=/usr",
        "-DCMAKE_BUILD_TYPE=None", "-DCMAKE_INSTALL_SYSCONFDIR=/etc", "-DCMAKE_INSTALL_LOCALSTATEDIR=/var",
        "-DCMAKE_EXPORT_NO_PACKAGE_REGISTRY=ON", "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF",
        "-DFETCHCONTENT_FULLY_DISCONNECTED=ON", f"-DCMAKE_INSTALL_LIBDIR=lib/{target.multiarch}",
        "-DCMAKE_VERBOSE_MAKEFILE=ON",
    ]  # fmt: skip


def meson_args(target: Target, paths: CrossPaths, *, static: bool = False) -> list[str]:
    """dh_auto_configure's meson options (debhelper 13), with debforge's cross file; static, meson's
    dependency() then picks the .a of each library (prefer_static, meson >= 0.63; bookworm has 1.0)."""
    return [
        f"--cross-file={paths.cross}/cross.ini", "--prefix=/usr", "--sysconfdir=/etc",
        "--localstatedir=/var", f"--libdir=lib/{target.multiarch}", "--buildtype=plain",
        "--wrap-mode=nodownload", *(["-Dprefer_static=true"] if static else []),
    ]  # fmt: skip


def cmake_toolchain(target: Target, paths: CrossPaths) -> str:
    """The CMake toolchain file: the target system, its sysroot, compilers, find modes and emulator."""
    gnu = target.gnu_triplet
    lines = {
        "CMAKE_SYSTEM_NAME": "Linux",
        "CMAKE_SYSTEM_PROCESSOR": gnu_cpu(target),
        "CMAKE_SYSROOT": paths.sysroot,
        "CMAKE_C_COMPILER": f"{gnu}-gcc",
        "CMAKE_CXX_COMPILER": f"{gnu}-g++",
        "CMAKE_AR": f"/usr/bin/{gnu}-ar",
        "CMAKE_RANLIB": f"/usr/bin/{gnu}-ranlib",
        "CMAKE_STRIP": f"/usr/bin/{gnu}-strip",
        "CMAKE_FIND_ROOT_PATH": paths.sysroot,
        # Programs run on the build machine; libraries, headers and packages come from the target.
        "CMAKE_FIND_ROOT_PATH_MODE_PROGRAM": "NEVER",
        "CMAKE_FIND_ROOT_PATH_MODE_LIBRARY": "ONLY",
        "CMAKE_FIND_ROOT_PATH_MODE_INCLUDE": "ONLY",
        "CMAKE_FIND_ROOT_PATH_MODE_PACKAGE": "ONLY",
        # find_library() then searches <sysroot>/usr/lib/<multiarch> (Debian's multiarch layout).
        "CMAKE_LIBRARY_ARCHITECTURE": target.multiarch,
        "PKG_CONFIG_EXECUTABLE": paths.pkg_config,
        "CMAKE_CROSSCOMPILING_EMULATOR": paths.emulator,
    }
    body = "".join(f'set({name} "{value}")\n' for name, value in lines.items())
    return f"# Written by debforge: cross-building for Debian {target.arch} ({gnu}).\n{body}"


def meson_cross_file(target: Target, paths: CrossPaths) -> str:
    """The Meson cross file: binaries (with exe_wrapper), properties and host_machine."""
    gnu, cpu = target.gnu_triplet, gnu_cpu(target)
    binaries: dict[str, str | list[str]] = {
        "c": [f"{gnu}-gcc", f"--sysroot={paths.sysroot}"],
        "cpp": [f"{gnu}-g++", f"--sysroot={paths.sysroot}"],
        "ar": f"{gnu}-ar", "strip": f"{gnu}-strip", "objcopy": f"{gnu}-objcopy",
        # `pkgconfig` is the key meson 1.0 (bookworm) reads; newer meson still accepts it.
        "pkgconfig": paths.pkg_config, "pkg-config": paths.pkg_config,
        "exe_wrapper": paths.emulator,
    }  # fmt: skip
    properties = {"sys_root": paths.sysroot, "pkg_config_libdir": pkg_config_libdir(target, paths)}
    host = {
        "system": "linux", "cpu_family": _MESON_CPU_FAMILY.get(cpu, cpu), "cpu": cpu,
        "endian": "big" if cpu in _BIG_ENDIAN else "little",
    }  # fmt: skip
    return "".join([
        f"# Written by debforge: cross-building for Debian {target.arch} ({gnu}).\n",
        _ini_section("binaries", binaries), _ini_section("properties", properties),
        _ini_section("host_machine", host),
    ])  # fmt: skip


def _ini_section(name: str, values: Mapping[str, str | list[str]]) -> str:
    body = "".join(f"{key} = {_meson_value(value)}\n" for key, value in values.items())
    return f"\n[{name}]\n{body}"


def _meson_value(value: str | list[str]) -> str:
    """A Meson string or array literal (single-quoted, backslash and quote escaped)."""
    if isinstance(value, list):
        return "[" + ", ".join(_meson_value(v) for v in value) + "]"
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def pkg_config_libdir(target: Target, paths: CrossPaths) -> str:
    """Where the target's .pc files are: the multiarch dir and the arch-independent one."""
    root = paths.sysroot.rstrip("/")  # "/" under --emulate: the container's own system
    return f"{root}/usr/lib/{target.multiarch}/pkgconfig:{root}/usr/share/pkgconfig"


def pkg_config_wrapper(target: Target, paths: CrossPaths, *, static: bool = False) -> str:
    """`<cross>/pkg-config`: the host's pkgconf reading only the target's .pc files, sysroot-prefixed.

    bookworm's pkgconf:amd64 installs no `<triplet>-pkg-config` (cross-build-notes S7). Static, every
    call gets --static, so --libs includes Libs.private: a static link needs the libraries' own deps.
    """
    return (
        "#!/bin/sh\n# Written by debforge: pkg-config for the target sysroot.\n"
        + (
            f"PKG_CONFIG_SYSROOT_DIR={shlex.quote(paths.sysroot)}\nexport PKG_CONFIG_SYSROOT_DIR\n"
            if paths.sysroot != "/"
            else ""
        )
        + f"PKG_CONFIG_LIBDIR={shlex.quote(pkg_config_libdir(target, paths))}\n"
        "export PKG_CONFIG_LIBDIR\nunset PKG_CONFIG_PATH\n"
        # By absolute path: the cross dir is first on PATH, so `pkg-config` is this wrapper itself.
         + ('exec /usr/bin/pkg-config --static "$@"\n' if static else 'exec /usr/bin/pkg-config "$@"\n')
    )


def emulator_wrapper(paths: CrossPaths) -> str:
    """`<cross>/emulator`: runs a target program through the host's qemu binfmt (registered with the
    F flag, so no qemu is needed in the container), its loader and libraries from the sysroot (S11)."""
    return (
        "#!/bin/sh\n# Written by debforge: run a target program under the host's qemu binfmt.\n"
        f"QEMU_LD_PREFIX={shlex.quote(paths.sysroot)}\nexport QEMU_LD_PREFIX\n"
        'exec "$@"\n'
    )
