"""ELF facts, refusals, repair and the symbol-version guard, on files the tests build."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path, PurePosixPath

import pytest

from debforge.dists import make_target
from debforge.elf import build_id, check_symbol_versions, patch_elf, read_dynamic_symbols, read_elf
from debforge.errors import ElfError
from debforge.run import run
from tests.conftest import require_tool
from tests.helpers.elfs import compile_c, elf_header

NIX_LD = "/nix/store/8k2m3p6xq1f0yy0c9w4h5l7n2b3d4e5f-glibc-2.37-8/lib/ld-linux-aarch64.so.1"
NIX_RPATH = "/nix/store/8k2m3p6xq1f0yy0c9w4h5l7n2b3d4e5f-glibc-2.37-8/lib:/nix/store/aa-openssl-3.2/lib"
ARM64_LD = PurePosixPath("/lib/ld-linux-aarch64.so.1")


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("aarch64-linux-gnu-gcc")
    return compile_c(tmp_path_factory.mktemp("arm64") / "hello")


def _nix_style(src: Path, dest: Path, rpath: str = NIX_RPATH, *, force_rpath: bool = False) -> Path:
    require_tool("patchelf")
    shutil.copy(src, dest)
    run(["patchelf", "--set-interpreter", NIX_LD, *(["--force-rpath"] if force_rpath else []),
         "--set-rpath", rpath, dest])  # fmt: skip
    return dest


def test_reads_arm64_facts(hello: Path) -> None:
    info = read_elf(hello)
    assert (info.deb_arch, info.elf_class, info.machine) == ("arm64", 64, "EM_AARCH64")
    assert info.interpreter == ARM64_LD
    assert info.needed == ("libc.so.6",)
    assert "GLIBC_2.17" in info.versions["libc.so.6"]
    assert info.glibc is not None and info.glibc.startswith("GLIBC_2.")
    doc = info.to_json()
    assert set(doc) == {"path", "arch", "class", "interpreter", "needed", "soname", "rpath", "runpath",
                        "glibc", "versions"}  # fmt: skip
    assert doc["arch"] == "arm64" and doc["runpath"] == []


def test_undefined_symbols_carry_versions(hello: Path) -> None:
    undefined = {s.key for s in read_dynamic_symbols(hello) if not s.defined}
    assert "puts@GLIBC_2.17" in undefined


def test_armhf_and_armel_are_told_apart_by_the_float_abi_flag(tmp_path: Path) -> None:
    require_tool("arm-linux-gnueabihf-gcc")
    # Freestanding: the armhf cross compiler here may come without libc6-dev-armhf-cross.
    flags = ["-nostdlib", "-pie", "-fPIE", "-Wl,-dynamic-linker,/lib/ld-linux-armhf.so.3"]
    source = "void _start(void) { for (;;) ; }\n"
    armhf = compile_c(tmp_path / "hello", cc="arm-linux-gnueabihf-gcc", source=source, args=flags)
    info = read_elf(armhf)
    assert (info.deb_arch, info.elf_class, str(info.interpreter)) == ("armhf", 32, "/lib/ld-linux-armhf.so.3")
    data = bytearray(armhf.read_bytes())
    (flags,) = struct.unpack_from("<I", data, 36)
    struct.pack_into("<I", data, 36, flags & ~0x400)  # clear EF_ARM_ABI_FLOAT_HARD
    armel = tmp_path / "armel"
    armel.write_bytes(bytes(data))
    assert read_elf(armel).deb_arch == "armel"


def test_riscv64_needs_the_lp64d_float_abi(tmp_path: Path) -> None:
    good, soft = tmp_path / "lp64d", tmp_path / "lp64"
    good.write_bytes(elf_header(machine=243, flags=0x5))
    soft.write_bytes(elf_header(machine=243, flags=0x1))
    assert read_elf(good).deb_arch == "riscv64"
    with pytest.raises(ElfError, match="lp64d"):
        read_elf(soft)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"#!/bin/sh\necho hi\n", "is not an ELF file"),
        (elf_header(endian=2), "64-bit big-endian EM_AARCH64 ELF file, which debforge does not support"),
        (elf_header(osabi=9), "FREEBSD, not for Linux"),
        (elf_header(machine=0x1234), "does not support"),
    ],
    ids=["script", "big-endian", "freebsd", "unknown-machine"],
)
def test_refuses_what_is_not_a_supported_linux_elf(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "thing"
    path.write_bytes(content)
    with pytest.raises(ElfError, match=message) as err:
        read_elf(path)
    assert str(path) in str(err.value)


def test_truncated_file_is_refused_by_name(hello: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    cut.write_bytes(hello.read_bytes()[:3000])
    with pytest.raises(ElfError, match="truncated") as err:
        read_elf(cut)
    assert str(cut) in str(err.value)


def test_nix_binary_is_repaired_in_place_and_idempotently(hello: Path, tmp_path: Path) -> None:
    nix = _nix_style(hello, tmp_path / "nix", rpath=f"{NIX_RPATH}:$ORIGIN/../lib")
    before = read_elf(nix)
    assert str(before.interpreter) == NIX_LD and before.runpath[-1] == "$ORIGIN/../lib"
    fixed = tmp_path / "fixed"
    fixed.write_bytes(patch_elf(nix, interpreter=ARM64_LD))
    after = read_elf(fixed)
    assert after.interpreter == ARM64_LD
    assert after.runpath == ("$ORIGIN/../lib",)
    assert len(fixed.read_bytes()) == len(nix.read_bytes())  # shorter strings: layout untouched
    assert patch_elf(fixed, interpreter=ARM64_LD) == fixed.read_bytes()


@pytest.mark.parametrize("force_rpath", [False, True], ids=["runpath", "rpath"])
def test_tag_goes_when_no_entry_remains(hello: Path, tmp_path: Path, force_rpath: bool) -> None:
    nix = _nix_style(hello, tmp_path / "nix", force_rpath=force_rpath)
    assert read_elf(nix).rpath if force_rpath else read_elf(nix).runpath
    fixed = tmp_path / "fixed"
    fixed.write_bytes(patch_elf(nix, interpreter=ARM64_LD))
    info = read_elf(fixed)
    assert (info.rpath, info.runpath, info.needed) == ((), (), ("libc.so.6",))
    readelf = run(["aarch64-linux-gnu-readelf", "-d", fixed]).text
    assert "RPATH" not in readelf and "RUNPATH" not in readelf and "NEEDED" in readelf
    assert b"/nix/store" not in fixed.read_bytes()


def test_longer_interpreter_goes_through_patchelf(hello: Path, tmp_path: Path) -> None:
    require_tool("patchelf")
    longer = PurePosixPath("/lib/aarch64-linux-gnu/a/much/longer/path/to/ld-linux-aarch64.so.1")
    out = tmp_path / "longer"
    out.write_bytes(patch_elf(hello, interpreter=longer))
    assert read_elf(out).interpreter == longer
    assert patch_elf(out, interpreter=longer) == out.read_bytes()


def _arm64_sysroot(tmp_path: Path) -> Path:
    lib = tmp_path / "sysroot/lib/aarch64-linux-gnu"
    lib.mkdir(parents=True)
    shutil.copy("/usr/aarch64-linux-gnu/lib/libc.so.6", lib / "libc.so.6")
    return tmp_path / "sysroot"


def _retag(path: Path, old: bytes, new: bytes) -> None:
    assert len(old) == len(new)
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new))


def test_guard_refuses_a_newer_glibc_with_the_sentence(hello: Path, tmp_path: Path) -> None:
    sysroot = _arm64_sysroot(tmp_path)
    target = make_target("bookworm", "arm64")
    check_symbol_versions([read_elf(hello)], sysroot, target)  # built against 2.36: fine
    newer = tmp_path / "foo"
    shutil.copy(hello, newer)
    _retag(newer, b"GLIBC_2.17", b"GLIBC_2.38")
    with pytest.raises(ElfError) as err:
        check_symbol_versions([read_elf(newer)], sysroot, target)
    assert (
        str(err.value)
        == "foo needs GLIBC_2.38 (for abort, puts, __cxa_finalize) but bookworm provides GLIBC_2.36; "
        "build against the bookworm sysroot"
    )


def test_guard_sentence_names_the_function_that_needs_the_newer_glibc(tmp_path: Path) -> None:
    """strlcpy arrived in glibc 2.38: a program calling it is refused for bookworm, naming strlcpy."""
    require_tool("aarch64-linux-gnu-gcc")
    sysroot = _arm64_sysroot(tmp_path)
    (tmp_path / "v.map").write_text("GLIBC_2.38 { global: strlcpy; local: *; };\n")
    flags = [
        "-shared",
        "-fPIC",
        "-nostdlib",
        "-Wl,-soname,libc.so.6",
        f"-Wl,--version-script={tmp_path / 'v.map'}",
    ]
    (tmp_path / "new").mkdir()  # a glibc 2.38 stand-in to link against; bookworm's is the sysroot's
    newlibc = compile_c(tmp_path / "new/libc.so.6", source="int strlcpy(void) { return 0; }\n", args=flags)
    # No C runtime: the stand-in shares libc.so.6's soname, so ld would take only one of the two.
    start = "int strlcpy(void);\nvoid _start(void) { strlcpy(); for (;;) {} }\n"
    prog = compile_c(tmp_path / "copier", source=start, args=["-nostdlib", str(newlibc)])
    with pytest.raises(ElfError) as err:
        check_symbol_versions([read_elf(prog)], sysroot, make_target("bookworm", "arm64"))
    assert str(err.value) == (
        "copier needs GLIBC_2.38 (for strlcpy) but bookworm provides GLIBC_2.36; "
        "build against the bookworm sysroot"
    )


def test_guard_reads_any_library_version_from_the_sysroot(tmp_path: Path) -> None:
    require_tool("aarch64-linux-gnu-gcc")
    sysroot = _arm64_sysroot(tmp_path)
    lib = sysroot / "lib/aarch64-linux-gnu/libfakessl.so.3"
    (tmp_path / "v.map").write_text("OPENSSL_3.0.0 { global: ssl_thing; local: *; };\n")
    flags = ["-shared", "-fPIC", "-Wl,-soname,libfakessl.so.3", f"-Wl,--version-script={tmp_path / 'v.map'}"]
    compile_c(lib, source="int ssl_thing(void) { return 3; }\n", args=flags)
    main = "int ssl_thing(void);\nint main(void) { return ssl_thing(); }\n"
    prog = compile_c(tmp_path / "app", source=main, args=[str(lib)])
    target = make_target("bookworm", "arm64")
    check_symbol_versions([read_elf(prog)], sysroot, target)
    _retag(prog, b"OPENSSL_3.0.0", b"OPENSSL_3.2.0")
    with pytest.raises(
        ElfError, match=r"^app needs OPENSSL_3.2.0 \(for ssl_thing\) but bookworm provides OPENSSL_3.0.0;"
    ):
        check_symbol_versions([read_elf(prog)], sysroot, target)


def test_static_binary_has_no_interpreter_and_no_needs(tmp_path: Path) -> None:
    require_tool("aarch64-linux-gnu-gcc")
    info = read_elf(compile_c(tmp_path / "static", args=["-static"]))
    assert (info.interpreter, info.needed, info.glibc) == (None, (), None)


def test_build_id_is_the_gnu_note_readelf_shows(tmp_path: Path) -> None:
    require_tool("aarch64-linux-gnu-gcc")
    binary = compile_c(tmp_path / "withid", args=["-Wl,--build-id=sha1"])
    shown = run(["aarch64-linux-gnu-readelf", "-n", binary]).text
    expected = next(line.split(":", 1)[1].strip() for line in shown.splitlines() if "Build ID:" in line)
    assert build_id(binary) == expected and len(expected) == 40


def test_build_id_is_none_without_the_note(tmp_path: Path) -> None:
    require_tool("aarch64-linux-gnu-gcc")
    assert build_id(compile_c(tmp_path / "noid", args=["-Wl,--build-id=none"])) is None


# Big-endian (s390x) and 32-bit (i386, armhf) files, built here by Debian's cross compilers:
# freestanding PIEs (no cross libc needed) linked with a Nix-style interpreter and RPATH.
_CROSS = [
    ("s390x-linux-gnu", "s390x", 64, "big", "/lib/ld64.so.1"),
    ("i686-linux-gnu", "i386", 32, "little", "/lib/ld-linux.so.2"),
    ("arm-linux-gnueabihf", "armhf", 32, "little", "/lib/ld-linux-armhf.so.3"),
]


def _cross_nix(tmp_path: Path, gnu: str) -> Path:
    require_tool(f"{gnu}-gcc")
    nix_ld = f"/nix/store/8k2m3p6xq1f0yy0c9w4h5l7n2b3d4e5f-glibc-2.37-8/lib/{gnu}-loader-with-a-long-name.so"
    flags = ["-nostdlib", "-pie", "-fPIE", f"-Wl,-dynamic-linker,{nix_ld}", "-Wl,--export-dynamic",
             f"-Wl,-rpath,{NIX_RPATH}:$ORIGIN/../lib", "-Wl,--enable-new-dtags"]  # fmt: skip
    source = "int answer(void) { return 42; }\nvoid _start(void) { for (;;) ; }\n"
    return compile_c(tmp_path / gnu, cc=f"{gnu}-gcc", source=source, args=flags)


@pytest.mark.parametrize("case", _CROSS, ids=[c[1] for c in _CROSS])
def test_reads_and_patches_big_endian_and_32_bit_files(
    tmp_path: Path, case: tuple[str, str, int, str, str]
) -> None:
    gnu, arch, elf_class, endian, loader = case
    built = _cross_nix(tmp_path, gnu)
    before = read_elf(built)
    assert (before.deb_arch, before.elf_class, before.endian) == (arch, elf_class, endian)
    assert before.abi[1] == (2 if endian == "big" else 1)
    assert before.runpath[-1] == "$ORIGIN/../lib" and str(before.interpreter).startswith("/nix/store/")
    assert make_target("bookworm", arch).ld_so == PurePosixPath(loader)
    fixed = tmp_path / "fixed"
    fixed.write_bytes(patch_elf(built, interpreter=PurePosixPath(loader)))
    after = read_elf(fixed)
    assert (after.interpreter, after.runpath, after.deb_arch) == (
        PurePosixPath(loader),
        ("$ORIGIN/../lib",),
        arch,
    )
    assert len(fixed.read_bytes()) == len(built.read_bytes())  # in place: the layout did not move
    assert b"/nix/store" not in fixed.read_bytes()
    assert patch_elf(fixed, interpreter=PurePosixPath(loader)) == fixed.read_bytes()
    # The target's own binutils agree: the patched dynamic array is well-formed in its byte order.
    readelf = run([f"{gnu}-readelf", "-d", "-l", fixed]).text
    assert f"[Requesting program interpreter: {loader}]" in readelf
    assert "Library runpath: [$ORIGIN/../lib]" in readelf and "nix" not in readelf
    assert {s.name for s in read_dynamic_symbols(fixed) if s.defined} >= {"answer"}


def test_big_endian_file_of_a_little_endian_arch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ppc64"
    path.write_bytes(elf_header(machine=21, endian=2))  # EM_PPC64, big-endian: Debian's ppc64, not ppc64el
    with pytest.raises(
        ElfError, match="64-bit big-endian EM_PPC64 ELF file, which debforge does not support"
    ):
        read_elf(path)
