"""ELF facts (pyelftools): headers, dynamic tags, symbol versions and the dynamic symbol table."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from elftools.common.exceptions import ELFError as _PyElfError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection

from debforge.errors import ElfError

# ELF constants (System V gABI; ARM and RISC-V psABI for the float-ABI flags).
_EF_ARM_ABI_FLOAT_HARD = 0x400
_EF_RISCV_FLOAT_ABI = 0x6
_EF_RISCV_FLOAT_ABI_DOUBLE = 0x4
_VER_FLG_BASE = 0x1
_SHN_UNDEF = 0
_STB_WEAK = 2
# Linux binaries say SYSV (0) almost always, GNU/Linux (3) when they use GNU extensions (IFUNC).
_LINUX_OSABIS = ("ELFOSABI_SYSV", "ELFOSABI_LINUX")

# (e_machine, ELF class) → Debian architecture; ARM and RISC-V are refined by e_flags below.
# fmt: off
_DEB_ARCH: dict[tuple[str, int], str] = {
    ("EM_AARCH64", 64): "arm64",
    ("EM_X86_64", 64):  "amd64",
    ("EM_X86_64", 32):  "x32",
    ("EM_386", 32):     "i386",
    ("EM_ARM", 32):     "armel",
    ("EM_RISCV", 64):   "riscv64",
    ("EM_PPC64", 64):   "ppc64el",
    ("EM_S390", 64):    "s390x",
    ("EM_MIPS", 64):    "mips64el",
    ("EM_LOONGARCH", 64): "loong64",
}
# fmt: on
# The one Debian release architecture whose ELF files are big-endian (EI_DATA = ELFDATA2MSB).
_BIG_ENDIAN_ARCHES = frozenset({"s390x"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ElfInfo:
    """What debforge needs to know about one ELF file."""

    path: Path
    machine: str
    deb_arch: str
    elf_class: int
    endian: str
    abi: tuple[int, int, str]  # (class, data, machine): the "format" dpkg-shlibdeps matches libraries by
    interpreter: PurePosixPath | None
    needed: tuple[str, ...]
    soname: str | None
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    versions: Mapping[str, tuple[str, ...]]  # .gnu.version_r: library → versions needed from it
    defined_versions: tuple[str, ...]  # .gnu.version_d, without the base (file-name) entry
    is_shared_object: bool

    @property
    def glibc(self) -> str | None:
        """The highest GLIBC_x.y this file needs, or None."""
        glibcs = [v for vs in self.versions.values() for v in vs if re.fullmatch(r"GLIBC_\d+(\.\d+)*", v)]
        return max(glibcs, key=version_key) if glibcs else None

    def to_json(self) -> dict[str, object]:
        """The `debforge inspect --json` document for this file."""
        return {
            "path": str(self.path),
            "arch": self.deb_arch,
            "class": self.elf_class,
            "interpreter": str(self.interpreter) if self.interpreter else None,
            "needed": list(self.needed),
            "soname": self.soname,
            "rpath": list(self.rpath),
            "runpath": list(self.runpath),
            "glibc": self.glibc,
            "versions": {lib: list(vs) for lib, vs in self.versions.items()},
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DynSymbol:
    """One dynamic symbol, as dpkg-shlibdeps sees it (`name@version`, `@Base` when unversioned)."""

    name: str
    version: str | None
    defined: bool
    weak: bool

    @property
    def key(self) -> str:
        """`name@VERSION` or `name@Base`, the form symbols files use."""
        return f"{self.name}@{self.version or 'Base'}"


def version_key(version: str) -> tuple[int, ...]:
    """Sort key for symbol versions like GLIBC_2.38 or OPENSSL_3.2.0: their numbers, in order.

    >>> sorted(["GLIBC_2.9", "GLIBC_2.17", "GLIBC_2.2.5"], key=version_key)
    ['GLIBC_2.2.5', 'GLIBC_2.9', 'GLIBC_2.17']
    """
    return tuple(int(n) for n in re.findall(r"\d+", version))


def read_elf(path: Path) -> ElfInfo:
    """Read the facts of one ELF file; raise ElfError for anything but a supported Linux ELF."""
    with open_elf(path) as elf:
        return _facts(path, elf)


class open_elf:  # used like a function, as a contextlib manager would be
    """Open `path` as an ELFFile with every pyelftools failure turned into an ElfError naming the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream: Any = None

    def __enter__(self) -> Any:
        try:
            self.stream = self.path.open("rb")
        except OSError as exc:
            raise ElfError(f"cannot read {self.path}: {exc.strerror}") from exc
        head = self.stream.read(64)
        if head[:4] != b"\x7fELF":
            self.stream.close()
            raise ElfError(f"{self.path} is not an ELF file")
        self.stream.seek(0)
        try:
            elf = ELFFile(self.stream)
            _check_identity(self.path, elf, self.path.stat().st_size)
        except (_PyElfError, struct.error, ValueError, EOFError) as exc:
            self.stream.close()
            raise ElfError(f"{self.path} is a truncated or corrupt ELF file ({exc})") from exc
        except ElfError:
            self.stream.close()
            raise
        return elf

    def __exit__(self, *exc: object) -> None:
        self.stream.close()


def _check_identity(path: Path, elf: Any, size: int) -> None:
    ident = elf.header["e_ident"]
    if ident["EI_DATA"] not in ("ELFDATA2LSB", "ELFDATA2MSB"):
        raise ElfError(f"{path} has an invalid ELF byte order ({ident['EI_DATA']})")
    if ident["EI_OSABI"] not in _LINUX_OSABIS:
        osabi = str(ident["EI_OSABI"]).removeprefix("ELFOSABI_")
        raise ElfError(f"{path} is an ELF file for {osabi}, not for Linux")
    # A file cut short loses its section header table (at the end) first.
    ends = [elf.header["e_shoff"] + elf.header["e_shnum"] * elf.header["e_shentsize"]]
    ends.append(elf.header["e_phoff"] + elf.header["e_phnum"] * elf.header["e_phentsize"])
    ends += [seg["p_offset"] + seg["p_filesz"] for seg in elf.iter_segments()]
    if max(ends) > size:
        raise ElfError(f"{path} is a truncated ELF file ({size} bytes, its headers need {max(ends)})")


def _deb_arch(path: Path, machine: str, elf_class: int, flags: int, *, big_endian: bool) -> str:
    arch = _DEB_ARCH.get((machine, elf_class))
    if arch is None or (arch in _BIG_ENDIAN_ARCHES) != big_endian:
        order = "big" if big_endian else "little"
        raise ElfError(
            f"{path} is a {elf_class}-bit {order}-endian {machine} ELF file, which debforge does not support"
        )
    if arch == "armel" and flags & _EF_ARM_ABI_FLOAT_HARD:
        return "armhf"  # Debian's armhf is EABI5 with the VFP hard-float calling convention
    if arch == "riscv64" and flags & _EF_RISCV_FLOAT_ABI != _EF_RISCV_FLOAT_ABI_DOUBLE:
        raise ElfError(f"{path} uses a RISC-V float ABI other than lp64d, which Debian's riscv64 requires")
    return arch


def _facts(path: Path, elf: Any) -> ElfInfo:
    machine, elf_class, big = elf.header["e_machine"], elf.elfclass, not elf.little_endian
    dyn = _dynamic_tags(elf)
    return ElfInfo(
        path=path,
        machine=machine,
        deb_arch=_deb_arch(path, machine, elf_class, elf.header["e_flags"], big_endian=big),
        elf_class=elf_class,
        endian="big" if big else "little",
        abi=(elf_class, 2 if big else 1, machine),  # EI_DATA: ELFDATA2LSB = 1, ELFDATA2MSB = 2
        interpreter=read_interpreter(elf),
        needed=tuple(dyn.get("DT_NEEDED", ())),
        soname=next(iter(dyn.get("DT_SONAME", ())), None),
        rpath=_split_path(dyn.get("DT_RPATH", ())),
        runpath=_split_path(dyn.get("DT_RUNPATH", ())),
        versions=_needed_versions(elf),
        defined_versions=_defined_versions(elf),
        is_shared_object=elf.header["e_type"] == "ET_DYN",
    )


def _read(elf: Any, offset: int, size: int) -> bytes:
    elf.stream.seek(offset)
    data: bytes = elf.stream.read(size)
    return data


def read_interpreter(elf: Any) -> PurePosixPath | None:
    """The PT_INTERP path of an open ELF file, or None for a static file or a library."""
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_INTERP":
            return PurePosixPath(seg.get_interp_name())
    return None


def _dynamic_tags(elf: Any) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    section = elf.get_section_by_name(".dynamic")
    if section is None:
        return tags
    for tag in section.iter_tags():
        attr = {"DT_NEEDED": "needed", "DT_SONAME": "soname", "DT_RPATH": "rpath", "DT_RUNPATH": "runpath"}
        if tag.entry.d_tag in attr:
            tags.setdefault(tag.entry.d_tag, []).append(getattr(tag, attr[tag.entry.d_tag]))
    return tags


def _split_path(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(p for v in values for p in v.split(":") if p)


def _needed_versions(elf: Any) -> dict[str, tuple[str, ...]]:
    section = elf.get_section_by_name(".gnu.version_r")
    if section is None:
        return {}
    return {verneed.name: tuple(aux.name for aux in auxes) for verneed, auxes in section.iter_versions()}


def _defined_versions(elf: Any) -> tuple[str, ...]:
    section = elf.get_section_by_name(".gnu.version_d")
    if section is None:
        return ()
    names = []
    for verdef, auxes in section.iter_versions():
        if not verdef["vd_flags"] & _VER_FLG_BASE:
            names.append(next(iter(auxes)).name)
    return tuple(names)


def read_dynamic_symbols(path: Path) -> tuple[DynSymbol, ...]:
    """The dynamic symbol table with versions, as `objdump -T -R` shows it to dpkg-shlibdeps.

    A defined symbol that a copy relocation (R_*_COPY) fills is reported as undefined: the data
    really lives in the library (dpkg's Objdump.pm apply_relocations does the same).
    """
    with open_elf(path) as elf:
        dynsym = elf.get_section_by_name(".dynsym")
        if dynsym is None:
            return ()
        names = _version_names(elf)
        versym = elf.get_section_by_name(".gnu.version")
        indexes = _versym_indexes(elf, versym, dynsym.num_symbols()) if versym is not None else None
        copied = _copy_relocated(elf)
        symbols = []
        for i, sym in enumerate(_raw_symbols(elf, dynsym)):
            name, info, shndx = sym
            if i == 0 or not name:
                continue
            ver = names.get(indexes[i] & 0x7FFF) if indexes is not None else None
            symbols.append(DynSymbol(
                name=name, version=ver, defined=shndx != _SHN_UNDEF and i not in copied,
                weak=info >> 4 == _STB_WEAK,
            ))  # fmt: skip
        return tuple(symbols)


def _raw_symbols(elf: Any, dynsym: Any) -> Iterator[tuple[str, int, int]]:
    """(name, st_info, st_shndx) of every .dynsym entry, unpacked in bulk: pyelftools is slow here."""
    strtab = _read(elf, elf.get_section(dynsym["sh_link"])["sh_offset"],
                   elf.get_section(dynsym["sh_link"])["sh_size"])  # fmt: skip
    raw = _read(elf, dynsym["sh_offset"], dynsym["sh_size"])
    if elf.elfclass == 64:  # noqa: PLR2004 - ELFCLASS64's Elf64_Sym layout
        fmt, name_i, info_i, shndx_i = "IBBHQQ", 0, 1, 3
    else:
        fmt, name_i, info_i, shndx_i = "IIIBBH", 0, 3, 5
    fmt = byte_order(elf) + fmt
    for entry in struct.iter_unpack(fmt, raw[: len(raw) - len(raw) % struct.calcsize(fmt)]):
        start = entry[name_i]
        end = strtab.find(b"\0", start)
        yield strtab[start:end].decode("utf-8", "replace"), entry[info_i], entry[shndx_i]


def _versym_indexes(elf: Any, versym: Any, count: int) -> tuple[int, ...]:
    raw = _read(elf, versym["sh_offset"], min(versym["sh_size"], 2 * count))
    return tuple(v for (v,) in struct.iter_unpack(byte_order(elf) + "H", raw[: len(raw) & ~1]))


def byte_order(elf: Any) -> str:
    """The struct module's byte-order prefix for the file's EI_DATA: `<` little, `>` big (s390x)."""
    return "<" if elf.little_endian else ">"


def _version_names(elf: Any) -> dict[int, str]:
    """Version index → name, from .gnu.version_d (vd_ndx) and .gnu.version_r (vna_other)."""
    names: dict[int, str] = {}
    verdef = elf.get_section_by_name(".gnu.version_d")
    if verdef is not None:
        for vd, auxes in verdef.iter_versions():
            if not vd["vd_flags"] & _VER_FLG_BASE:
                names[vd["vd_ndx"]] = next(iter(auxes)).name
    verneed = elf.get_section_by_name(".gnu.version_r")
    if verneed is not None:
        for _vn, auxes in verneed.iter_versions():
            for aux in auxes:
                names[aux["vna_other"]] = aux.name
    return names


def _copy_relocated(elf: Any) -> set[int]:
    """Indexes of dynamic symbols targeted by a copy relocation."""
    copied: set[int] = set()
    for section in elf.iter_sections():
        # Copy relocations only ever sit among the dynamic relocations, never in .rela.plt.
        if section["sh_type"] not in ("SHT_RELA", "SHT_REL") or section.name not in (".rela.dyn", ".rel.dyn"):
            continue
        for reloc in section.iter_relocations():
            if _is_copy(elf.header["e_machine"], reloc["r_info_type"]):
                copied.add(reloc["r_info_sym"])
    return copied


# R_<arch>_COPY numbers from each psABI.
_R_COPY = {
    "EM_AARCH64": 1024, "EM_X86_64": 5, "EM_386": 5, "EM_ARM": 20, "EM_RISCV": 4, "EM_PPC64": 19,
    "EM_S390": 9,
}  # fmt: skip


def _is_copy(machine: str, rtype: int) -> bool:
    return _R_COPY.get(machine) == rtype


def build_id(path: Path) -> str | None:
    """The NT_GNU_BUILD_ID note of an ELF file as lowercase hex (gdb looks debug files up by it), or None.

    Unlike read_elf, no size check: a detached debug file (objcopy --only-keep-debug) keeps the
    program headers of the binary it came from, whose extents lie beyond its own end.
    """
    try:
        with path.open("rb") as stream:
            for section in ELFFile(stream).iter_sections():
                if not isinstance(section, NoteSection):
                    continue
                for note in section.iter_notes():
                    if note["n_type"] == "NT_GNU_BUILD_ID" and note["n_name"] == "GNU":
                        return str(note["n_desc"]).lower()
    except OSError as exc:
        raise ElfError(f"cannot read {path}: {exc.strerror}") from exc
    except (_PyElfError, struct.error, ValueError, EOFError) as exc:
        raise ElfError(f"{path} is a truncated or corrupt ELF file ({exc})") from exc
    return None
