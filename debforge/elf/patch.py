"""In-place repair of ELF files: an FHS PT_INTERP, and no RPATH/RUNPATH entries outside the FHS."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from debforge.elf.read import byte_order, open_elf, read_interpreter

# Directories a Debian system may legitimately search (FHS 3.0 §4.6, §3.13 for /opt add-ons).
_FHS_LIB_DIRS = ("/lib", "/lib32", "/lib64", "/libx32", "/usr/lib", "/usr/lib32", "/usr/lib64",
                 "/usr/libx32", "/usr/local/lib", "/opt")  # fmt: skip
_DT_NULL, _DT_RPATH, _DT_RUNPATH = 0, 15, 29


def keeps_rpath_entry(entry: str) -> bool:
    """Whether an RPATH/RUNPATH entry stays: `$ORIGIN`-relative or inside the FHS library directories.

    >>> [keeps_rpath_entry(e) for e in ("$ORIGIN/../lib", "/usr/lib/foo", "/nix/store/x-glibc/lib", "lib")]
    [True, True, False, False]
    """
    if entry.startswith(("$ORIGIN", "${ORIGIN}")):
        return True
    return any(entry == d or entry.startswith(d + "/") for d in _FHS_LIB_DIRS)


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the patchable strings and the dynamic array sit in the file."""

    elf_class: int
    order: str  # struct byte-order prefix: `<` little-endian, `>` big-endian (s390x)
    interp: tuple[int, int] | None  # (file offset, size incl. NUL padding)
    dynamic: tuple[int, int] | None  # (file offset, entry count)
    dynstr: int | None  # file offset of DT_STRTAB


def _layout(elf: Any) -> _Layout:
    interp = dynamic = None
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_INTERP":
            interp = (seg["p_offset"], seg["p_filesz"])
        elif seg["p_type"] == "PT_DYNAMIC":
            dynamic = (seg["p_offset"], seg["p_filesz"] // (16 if elf.elfclass == 64 else 8))  # noqa: PLR2004
    dynstr = None
    section = elf.get_section_by_name(".dynamic")
    if dynamic is not None and section is not None:
        for tag in section.iter_tags():
            if tag.entry.d_tag == "DT_STRTAB":
                dynstr = next(iter(elf.address_offsets(tag.entry.d_val)), None)
    return _Layout(
        elf_class=elf.elfclass, order=byte_order(elf), interp=interp, dynamic=dynamic, dynstr=dynstr
    )


def patch_elf(
    path: Path,
    *,
    interpreter: PurePosixPath | None,
    drop_non_fhs_rpaths: bool = True,
    runpath: str | None = None,
) -> bytes:
    """The bytes of `path` with PT_INTERP set to `interpreter` and non-FHS RPATH/RUNPATH entries dropped;
    with `runpath` (e.g. `$ORIGIN/../lib/foo`), that is the file's one search path, as DT_RUNPATH.

    Shorter strings are written in place (NUL-padded), so the layout never moves and a dropped
    string leaves no byte behind; a longer interpreter or a RUNPATH without room needs a new
    segment, which `patchelf` makes. Patching twice gives identical bytes.
    Strip before patching, never after: strip(1) can undo patchelf's layout (patchelf's README).
    """
    data = bytearray(path.read_bytes())
    with open_elf(path) as elf:
        layout = _layout(elf)
        current = read_interpreter(elf)
    if interpreter is not None and layout.interp is not None and current != interpreter:
        new = str(interpreter).encode() + b"\0"
        if len(new) <= layout.interp[1]:
            off, size = layout.interp
            data[off : off + size] = new.ljust(size, b"\0")
        else:
            data = bytearray(_patchelf(data, "--set-interpreter", str(interpreter)))
    patched = _patch_rpaths(data, drop_non_fhs_rpaths or runpath is not None, runpath)
    if runpath is not None and _search_paths(patched) != (runpath,):
        # No slot was long enough: every old string is already zeroed, patchelf adds a new one.
        patched = _patchelf(bytearray(patched), "--set-rpath", runpath)
    return patched


def _patchelf(data: bytearray, *args: str) -> bytes:
    import tempfile  # noqa: PLC0415 - only these rare paths write files

    from debforge.run import run  # noqa: PLC0415 - keep elf importable without the runner's deps

    with tempfile.TemporaryDirectory(prefix="debforge-patchelf-") as tmp:
        copy = Path(tmp) / "elf"
        copy.write_bytes(data)
        run(["patchelf", *args, copy])
        return copy.read_bytes()


def _search_paths(data: bytes) -> tuple[str, ...]:
    """The DT_RPATH/DT_RUNPATH strings of an ELF image."""
    import io  # noqa: PLC0415

    section = ELFFile(io.BytesIO(data)).get_section_by_name(".dynamic")
    if not isinstance(section, DynamicSection):
        return ()
    names = {"DT_RPATH": "rpath", "DT_RUNPATH": "runpath"}
    tags = [t for t in section.iter_tags() if t.entry.d_tag in names]
    return tuple(str(getattr(t, names[t.entry.d_tag])) for t in tags)


def _patch_rpaths(data: bytearray, drop: bool, runpath: str | None) -> bytes:
    if not drop:
        return bytes(data)
    import io  # noqa: PLC0415

    elf = ELFFile(io.BytesIO(bytes(data)))
    layout = _layout(elf)
    if layout.dynamic is None or layout.dynstr is None:
        return bytes(data)
    # Elf64_Dyn / Elf32_Dyn: a signed d_tag and an unsigned d_val, in the file's byte order.
    fmt = layout.order + ("qQ" if layout.elf_class == 64 else "iI")  # noqa: PLR2004
    width = struct.calcsize(fmt)
    off, count = layout.dynamic
    entries = [struct.unpack_from(fmt, data, off + i * width) for i in range(count)]
    kept: list[tuple[int, int]] = []
    replacing = runpath is not None  # then no old entry is kept, FHS or not
    for tag, val in entries:
        if tag in (_DT_RPATH, _DT_RUNPATH):
            if runpath is not None and _set_string(data, layout.dynstr + val, runpath):
                kept.append((_DT_RUNPATH, val))  # RUNPATH: LD_LIBRARY_PATH can still override it
                runpath = None  # one search path is enough; any other string is zeroed below
                continue
            if not _rewrite_string(data, layout.dynstr + val, keep=not replacing):
                continue  # nothing left: the tag goes (the array is re-packed below)
        kept.append((tag, val))
    kept += [(_DT_NULL, 0)] * (count - len(kept))
    for i, (tag, val) in enumerate(kept):
        struct.pack_into(fmt, data, off + i * width, tag, val)
    return bytes(data)


def _set_string(data: bytearray, start: int, value: str) -> bool:
    """Overwrite the string at `start` with `value`, NUL-padded, when it fits; else leave it."""
    end = data.index(b"\0", start)
    new = value.encode()
    if len(new) > end - start:
        return False
    data[start:end] = new.ljust(end - start, b"\0")
    return True


def _rewrite_string(data: bytearray, start: int, *, keep: bool = True) -> bool:
    """Rewrite the search path at `start` keeping allowed entries (none unless `keep`); False (and
    zeroed) if none remain."""
    end = data.index(b"\0", start)
    old = data[start:end].decode("utf-8", "surrogateescape")
    kept = ":".join(e for e in old.split(":") if e and keep and keeps_rpath_entry(e))
    data[start:end] = kept.encode("utf-8", "surrogateescape").ljust(end - start, b"\0")
    return bool(kept)
