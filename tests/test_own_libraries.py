"""A package that ships its own shared library: its programs get no Depends on it, as dpkg-shlibdeps.

The install tree is real: a library built with `-Wl,-soname,libfoo.so.1` installed as
libfoo.so.1.2.3 with the versioned links ldconfig and `make install` lay out, a library without a
SONAME (libbar.so, which its users NEED by file name), a header and the unversioned libfoo.so link
for `-lfoo`. The oracle is the real dpkg-shlibdeps on the same files and links in a debian/<pkg>
tree, against a hand-made dpkg database holding the cross toolchain's libc.so.6.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

import pytest

from debforge.builder import Artifact, Artifacts
from debforge.builder.staging import collect_stage
from debforge.dists import make_target
from debforge.elf import check_symbol_versions
from debforge.pipeline.elfs import own_libraries, repair_elfs
from debforge.pipeline.makeshlibs import LDCONFIG_TRIGGER, makeshlibs, with_makeshlibs
from debforge.pipeline.runtime import needed_sonames
from debforge.report import NullReporter
from debforge.run import run
from debforge.shlibdeps import package_libraries, resolve_depends
from tests.conftest import require_tool
from tests.helpers.elfs import dpkg_shlibdeps

TARGET = make_target("bookworm", "arm64")
LIB = "usr/lib/aarch64-linux-gnu"
CC = "aarch64-linux-gnu-gcc"
LIBC_SYMBOLS = "libc.so.6 libc6 #MINVER#\n __libc_start_main@GLIBC_2.34 2.34\n puts@GLIBC_2.17 2.17\n"


def _install_tree(tmp_path: Path) -> Path:
    """What `make install DESTDIR=stage` of a small library project leaves."""
    src, stage = tmp_path / "src", tmp_path / "stage"
    src.mkdir()
    for rel in (LIB, "usr/bin", "usr/include"):
        (stage / rel).mkdir(parents=True)
    (src / "foo.c").write_text('#include <stdio.h>\nint foo(void) { puts("foo"); return 40; }\n')
    (src / "bar.c").write_text("int bar(void) { return 2; }\n")
    (src / "main.c").write_text(
        "int foo(void); int bar(void);\nint main(void) { return foo() + bar() != 42; }\n"
    )
    (stage / "usr/include/foo.h").write_text("int foo(void);\n")
    lib = stage / LIB
    run(
        [
            CC,
            "-O1",
            "-fPIC",
            "-shared",
            "-Wl,-soname,libfoo.so.1",
            "-o",
            lib / "libfoo.so.1.2.3",
            src / "foo.c",
        ]
    )
    run([CC, "-O1", "-fPIC", "-shared", "-o", lib / "libbar.so", src / "bar.c"])  # no SONAME
    (lib / "libfoo.so.1").symlink_to("libfoo.so.1.2.3")
    (lib / "libfoo.so").symlink_to("libfoo.so.1")
    run([CC, "-O1", "-o", stage / "usr/bin/foo", src / "main.c", f"-L{lib}", "-lfoo", "-lbar"])
    return stage


def _libc_sysroot(tmp_path: Path) -> Path:
    """A usrmerged arm64 root whose dpkg database says libc6 ships libc.so.6, with a symbols file."""
    root = tmp_path / "sysroot"
    (root / LIB).mkdir(parents=True)
    (root / "lib").symlink_to("usr/lib")
    shutil.copy(Path("/usr/aarch64-linux-gnu/lib/libc.so.6"), root / LIB / "libc.so.6")
    dpkg = root / "var/lib/dpkg"
    (dpkg / "info").mkdir(parents=True)
    (dpkg / "updates").mkdir()
    (dpkg / "status").write_text(
        "Package: libc6\nStatus: install ok installed\nArchitecture: arm64\nMulti-Arch: same\n"
        "Version: 2.36-9\nMaintainer: x <x@example.org>\nDescription: GNU C Library\n"
    )
    (dpkg / "arch").write_text("arm64\n")
    (dpkg / "info/format").write_text("1\n")
    (dpkg / "info/libc6:arm64.list").write_text(f"/.\n/usr\n/usr/lib\n/{LIB}\n/{LIB}/libc.so.6\n")
    (dpkg / "info/libc6:arm64.symbols").write_text(LIBC_SYMBOLS)
    return root


@pytest.mark.integration
def test_own_library_satisfies_its_program_as_dpkg_shlibdeps_says(tmp_path: Path) -> None:
    for tool in (CC, "patchelf", "dpkg-shlibdeps", "unshare"):
        require_tool(tool)
    staged = collect_stage(_install_tree(tmp_path), what="the test build", keep_dev_files=False)
    # Policy 8.4: the unversioned link is for the linker only; the versioned one ships.
    assert staged.dropped == ("usr/include/foo.h", f"{LIB}/libfoo.so")
    assert staged.links == ((f"{LIB}/libfoo.so.1", "libfoo.so.1.2.3"),)
    files = tuple(Artifact(source=path, name=name, arch="arm64", sha256="") for name, path in staged.files)
    artifacts = Artifacts(files=files, links=staged.links)
    infos = repair_elfs(artifacts, TARGET, NullReporter())
    program = next(info for info in infos if info.path.name == "foo")
    assert program.needed == ("libfoo.so.1", "libbar.so", "libc.so.6")
    provided = own_libraries(artifacts, infos)
    assert {"libfoo.so.1", "libbar.so"} <= provided
    # A SONAME alone does not cover libbar.so, which the program NEEDS by its file name.
    assert "libbar.so" in needed_sonames(infos)
    assert needed_sonames(infos, provided) == {"libc.so.6": "foo"}

    sysroot = _libc_sysroot(tmp_path)
    check_symbol_versions(infos, sysroot, TARGET, provided=provided)
    depends = resolve_depends(infos, sysroot, target=TARGET, provided=provided)
    assert [lib.soname for lib in depends.libraries] == ["libc.so.6"] * len(depends.libraries)
    oracle = dpkg_shlibdeps(
        [(path, f"/{name}") for name, path in staged.files], sysroot, tmp_path / "oracle", links=staged.links
    )
    assert depends.depends == oracle == "libc6 (>= 2.34)"
    # dh_makeshlibs: the public library with a versioned SONAME gets a shlibs line and ldconfig runs.
    installed = {PurePosixPath("/", name): info for (name, _), info in zip(staged.files, infos, strict=True)}
    assert makeshlibs("foo", installed, TARGET.multiarch) == {
        "shlibs": b"libfoo 1 foo\n",
        "triggers": b"activate-noawait ldconfig\n",
    }


def test_the_ldconfig_trigger_joins_the_recipes_own_triggers() -> None:
    control = {"triggers": LDCONFIG_TRIGGER, "shlibs": b"libfoo 1 foo\n"}
    merged = with_makeshlibs(
        {"triggers": b"interest-noawait /usr/share/foo", "postinst": b"#!/bin/sh\n"}, control
    )
    assert merged == {
        "triggers": b"interest-noawait /usr/share/foo\nactivate-noawait ldconfig\n",
        "shlibs": b"libfoo 1 foo\n",
        "postinst": b"#!/bin/sh\n",
    }
    assert with_makeshlibs({"triggers": LDCONFIG_TRIGGER}, control)["triggers"] == LDCONFIG_TRIGGER
    assert makeshlibs("foo", {}, TARGET.multiarch) == {}


def test_links_count_only_when_they_lead_to_a_shipped_file() -> None:
    lib = PurePosixPath("/", LIB)

    class _Info:  # package_libraries reads only .soname of a file: a stand-in is enough
        soname = "libfoo.so.1"

    files = {lib / "libfoo.so.1.2.3": _Info()}
    links = {
        lib / "libfoo.so.1": "libfoo.so.1.2.3",
        lib / "libfoo.so.one": "../aarch64-linux-gnu/./libfoo.so.1",  # a chain, with .. and .
        lib / "libgone.so.3": "libgone.so.3.0",  # dangling: not the package's library
        PurePosixPath("/usr/lib/libabs.so.1"): f"/{LIB}/libfoo.so.1.2.3",
    }
    names = package_libraries(files, links)  # type: ignore[arg-type]
    assert names == {"libfoo.so.1", "libfoo.so.1.2.3", "libfoo.so.one", "libabs.so.1"}
