"""compute_depends on hand-written dpkg databases: the dpkg-shlibdeps rules one at a time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from debforge.archive.version import compare_versions
from debforge.dists import make_target
from debforge.elf import read_elf
from debforge.errors import ElfError
from debforge.shlibdeps import build_depends_minimums, compute_depends, library_packages, resolve_depends
from tests.conftest import require_tool
from tests.helpers.elfs import compile_c

TARGET = make_target("bookworm", "arm64")
CROSS_LIBS = Path("/usr/aarch64-linux-gnu/lib")
LIBDIR = "lib/aarch64-linux-gnu"


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("aarch64-linux-gnu-gcc")
    # -lm without --as-needed: NEEDED libm.so.6 although no libm symbol is used.
    return compile_c(tmp_path_factory.mktemp("b") / "hello", args=["-Wl,--no-as-needed", "-lm"])


def _sysroot(
    tmp_path: Path, *, symbols: str | None, shlibs: str | None = None, libm: str | None = None
) -> Path:
    root = tmp_path / "sysroot"
    (root / LIBDIR).mkdir(parents=True)
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    for name in ("libc.so.6", "libm.so.6"):
        shutil.copy(CROSS_LIBS / name, root / LIBDIR / name)
    (info / "libc6:arm64.list").write_text(f"/.\n/lib\n/{LIBDIR}\n/{LIBDIR}/libc.so.6\n/{LIBDIR}/libm.so.6\n")
    if symbols is not None:
        (info / "libc6:arm64.symbols").write_text(symbols + (libm or ""))
    if shlibs is not None:
        (info / "libc6:arm64.shlibs").write_text(shlibs)
    return root


LIBM = "libm.so.6 libc6 #MINVER#\n cos@GLIBC_2.17 2.17\n sin@GLIBC_2.17 2.29\n"


def test_minimum_comes_from_the_symbols_file_not_the_version_tag(hello: Path, tmp_path: Path) -> None:
    symbols = "libc.so.6 libc6 #MINVER#\n abort@GLIBC_2.17 2.17\n puts@GLIBC_2.17 2.34\n"
    root = _sysroot(tmp_path, symbols=symbols, libm=LIBM)
    assert compute_depends([hello], root, target=TARGET) == "libc6 (>= 2.34)"


def test_symbols_file_minimum_applies_when_no_symbol_is_used(hello: Path, tmp_path: Path) -> None:
    symbols = "libc.so.6 libc6 #MINVER#\n puts@GLIBC_2.17 2.17\n"
    libm = "libm.so.6 libm-fake #MINVER#\n cos@GLIBC_2.17 2.27\n sin@GLIBC_2.17 2.29\n"
    root = _sysroot(tmp_path, symbols=symbols, libm=libm)
    assert compute_depends([hello], root, target=TARGET) == "libc6 (>= 2.17), libm-fake (>= 2.27)"


def test_version_zero_means_unversioned(hello: Path, tmp_path: Path) -> None:
    symbols = "libc.so.6 libc6 #MINVER#\n puts@GLIBC_2.17 0\n abort@GLIBC_2.17 0\n"
    root = _sysroot(tmp_path, symbols=symbols, libm=LIBM.replace("2.17", "0").replace("2.29", "0"))
    assert compute_depends([hello], root, target=TARGET) == "libc6"


def test_alternative_templates_keep_their_extra_clauses(hello: Path, tmp_path: Path) -> None:
    symbols = (
        "libc.so.6 libc6 #MINVER#\n| libc6 (>> 2.36), libc6 (<< 2.37)\n"
        " abort@GLIBC_2.17 2.17\n puts@GLIBC_2.17 2.36 1\n"
    )
    root = _sysroot(tmp_path, symbols=symbols, libm=LIBM)
    assert (
        compute_depends([hello], root, target=TARGET) == "libc6 (>= 2.17), libc6 (>> 2.36), libc6 (<< 2.37)"
    )


def test_or_templates_and_build_depends_package(hello: Path, tmp_path: Path) -> None:
    symbols = (
        "libc.so.6 libc6 #MINVER# | libc6-alt\n* Build-Depends-Package: libc6-dev\n"
        " puts@GLIBC_2.17 2.17\n#MISSING: 2.30# gone@GLIBC_2.17 2.3\n"
    )
    root = _sysroot(tmp_path, symbols=symbols, libm=LIBM.replace("libc6", "libm-fake"))
    # The deprecated (#MISSING) symbol still counts for the file's smallest version, as in dpkg.
    assert compute_depends([hello], root, target=TARGET) == "libc6 (>= 2.17) | libc6-alt, libm-fake (>= 2.17)"
    got = resolve_depends([read_elf(hello)], root, target=TARGET, build_depends={"libc6-dev": "2.36"})
    assert got.depends == "libc6 (>= 2.36) | libc6-alt, libm-fake (>= 2.17)"
    assert {lib.source for lib in got.libraries} == {"symbols"}


@pytest.mark.parametrize(
    ("build_depends", "expected"),
    [
        ((), "libc6 (>= 2.17), libm-fake (>= 2.17)"),  # no versions: the symbols file's minimum
        (("libc6-dev",), "libc6 (>= 2.17), libm-fake (>= 2.17)"),
        (("libc6-dev (>= 2.36)",), "libc6 (>= 2.36), libm-fake (>= 2.17)"),
        (
            ("libc6-dev (>> 2.30) | libc6-dev-alt", "libc6-dev (>= 2.28)"),
            "libc6 (>= 2.30), libm-fake (>= 2.17)",
        ),
        (("libc6-dev (= 2.36)", "libc6-dev (<< 3)"), "libc6 (>= 2.17), libm-fake (>= 2.17)"),  # not minimums
        (("libm-fake-dev (>= 9)",), "libc6 (>= 2.17), libm-fake (>= 2.17)"),  # no Build-Depends-Package
        (("libc6-dev (>= 2.1)",), "libc6 (>= 2.17), libm-fake (>= 2.17)"),  # raises, never lowers
    ],
)
def test_versioned_build_depends_raise_the_build_depends_package_minimum(
    hello: Path, tmp_path: Path, build_depends: tuple[str, ...], expected: str
) -> None:
    symbols = "libc.so.6 libc6 #MINVER#\n* Build-Depends-Package: libc6-dev\n puts@GLIBC_2.17 2.17\n"
    root = _sysroot(tmp_path, symbols=symbols, libm=LIBM.replace("libc6", "libm-fake"))
    minimums = build_depends_minimums(build_depends)
    assert resolve_depends([read_elf(hello)], root, target=TARGET, build_depends=minimums).depends == expected


def test_shlibs_file_is_the_fallback(hello: Path, tmp_path: Path) -> None:
    shlibs = "libc 6 libc6 (>= 2.36)\nudeb: libc 6 libc6-udeb (>= 2.36)\nlibm 6 libc6 (>= 2.36)\n"
    root = _sysroot(tmp_path, symbols=None, shlibs=shlibs)
    assert compute_depends([hello], root, target=TARGET) == "libc6 (>= 2.36)"


def test_library_no_package_ships_is_an_error_naming_it(hello: Path, tmp_path: Path) -> None:
    root = _sysroot(tmp_path, symbols="libc.so.6 libc6 #MINVER#\n puts@GLIBC_2.17 2.17\n")
    (root / "var/lib/dpkg/info/libc6:arm64.list").write_text("/.\n")
    with pytest.raises(
        ElfError,
        match=r"^libm\.so\.6 \(needed by hello\) is /lib/aarch64-linux-gnu/libm\.so\.6 in the sysroot, which",
    ):
        compute_depends([hello], root, target=TARGET)


def test_package_without_symbols_or_shlibs_is_an_error(hello: Path, tmp_path: Path) -> None:
    root = _sysroot(tmp_path, symbols=None)
    with pytest.raises(
        ElfError,
        match=r"^libm\.so\.6 \(needed by hello\) comes from libc6, which has neither a symbols nor a shlibs",
    ):
        compute_depends([hello], root, target=TARGET)


def test_missing_library_is_an_error(hello: Path, tmp_path: Path) -> None:
    root = _sysroot(tmp_path, symbols="libc.so.6 libc6 #MINVER#\n")
    (root / LIBDIR / "libm.so.6").unlink()
    with pytest.raises(ElfError, match=r"^libm\.so\.6 needed by hello is not in the bookworm arm64 sysroot"):
        compute_depends([hello], root, target=TARGET)


def test_static_binary_has_no_depends(tmp_path: Path) -> None:
    require_tool("aarch64-linux-gnu-gcc")
    static = compile_c(tmp_path / "static", args=["-static"])
    root = _sysroot(tmp_path, symbols=None)
    assert compute_depends([static], root, target=TARGET) == ""


# --- library_packages: which package ships each NEEDED soname, from the build sysroot -----------


def test_library_packages_come_from_the_dpkg_database(hello: Path, tmp_path: Path) -> None:
    root = _sysroot(tmp_path, symbols=None)
    # Multi-Arch: same packages are `pkg:arch` in the database; the package name is what is wanted.
    assert library_packages([read_elf(hello)], root, TARGET) == {"libc.so.6": "libc6", "libm.so.6": "libc6"}


def test_library_packages_follow_usrmerge_links_to_the_listed_path(hello: Path, tmp_path: Path) -> None:
    # bookworm's builder tree is merged (/lib → usr/lib) while libc6 still lists /lib/...: dpkg -S on
    # the realpath, as dpkg-shlibdeps does, finds the owner anyway.
    root = tmp_path / "merged"
    (root / "usr" / LIBDIR).mkdir(parents=True)
    (root / "lib").symlink_to("usr/lib")
    shutil.copy(CROSS_LIBS / "libc.so.6", root / "usr" / LIBDIR / "libc.so.6")
    shutil.copy(CROSS_LIBS / "libm.so.6", root / "usr" / LIBDIR / "libm.so.6")
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/info/libc6:arm64.list").write_text(f"/.\n/usr/{LIBDIR}/libc.so.6\n")
    (root / "var/lib/dpkg/info/libm-only.list").write_text(f"/.\n/{LIBDIR}/libm.so.6\n")
    found = library_packages([read_elf(hello)], root, TARGET)
    assert found == {"libc.so.6": "libc6", "libm.so.6": "libm-only"}


def test_library_packages_leave_out_what_the_sysroot_lacks(hello: Path, tmp_path: Path) -> None:
    root = _sysroot(tmp_path, symbols=None)
    (root / LIBDIR / "libm.so.6").unlink()  # not in the tree: left for Contents
    (root / "var/lib/dpkg/info/libc6:arm64.list").write_text(f"/.\n/{LIBDIR}/libm.so.6\n")  # libc: no owner
    assert library_packages([read_elf(hello)], root, TARGET) == {}


def test_library_of_another_architecture_is_not_taken(hello: Path, tmp_path: Path) -> None:
    root = _sysroot(tmp_path, symbols=None)
    (root / LIBDIR / "libm.so.6").write_bytes(b"\x7fELF" + bytes(60))  # not an arm64 ELF: skipped
    assert library_packages([read_elf(hello)], root, TARGET) == {"libc.so.6": "libc6"}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("1.0", "1.0-0", 0), ("1.0~rc1", "1.0", -1), ("1:1.0", "2.0", 1), ("72.1~rc-1~", "72.1~rc-1", -1),
     ("2.36-9+deb12u4", "2.36-9", 1), ("1.0a", "1.0+", -1)],
)  # fmt: skip
def test_debian_version_order(a: str, b: str, expected: int) -> None:
    assert compare_versions(a, b) == expected
