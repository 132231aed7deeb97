"""The check every static build ends with, whatever built it (cargo +crt-static, C with -static)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from debforge.errors import BuildError

_ELF_MAGIC = b"\x7fELF"


def check_static(files: Iterable[tuple[str, Path]], *, hint: str) -> None:
    """A static build must leave no NEEDED library and no PT_INTERP loader in any ELF it made:
    either means a library was linked as a shared one and the program needs the target's ld.so."""
    from debforge.elf import read_elf  # noqa: PLC0415 - pyelftools only for this check

    for name, path in files:
        with path.open("rb") as stream:
            if stream.read(4) != _ELF_MAGIC:  # man pages, data files: nothing to link
                continue
        info = read_elf(path)
        if info.needed or info.interpreter is not None:
            raise BuildError(
                f"the static build of {name} still needs {', '.join(info.needed) or str(info.interpreter)}",
                hint=hint,
            )
