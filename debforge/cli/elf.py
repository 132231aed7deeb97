"""`inspect`, `patch-elf` and `deps`: the ELF toolkit on the command line (registered in cli/__init__)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from debforge.cli.options import Json, TargetOptions, print_json, stdout, styled, with_target


def inspect_elf(
    files: Annotated[list[Path], typer.Argument(help="ELF files to read.")],
    json_out: Json = False,
) -> None:
    """Print ELF facts: Debian arch, interpreter, NEEDED, SONAME, RPATH/RUNPATH, symbol versions."""
    from debforge.elf import read_elf

    infos = [read_elf(f).to_json() for f in files]
    if json_out:
        print_json(infos if len(infos) > 1 else infos[0])
        return
    for info in infos:
        table = Table(show_header=False, box=None, title=str(info["path"]), title_justify="left")
        for key_, value in info.items():
            if key_ != "path" and value not in (None, "", [], {}):
                table.add_row(
                    styled(key_, "bold"), json.dumps(value) if isinstance(value, (dict, list)) else str(value)
                )
        stdout().print(table)


@with_target
def patch_elf_command(
    file: Annotated[Path, typer.Argument(help="ELF file to repair.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of in place.")
    ] = None,
    sysroot: Annotated[
        Path | None, typer.Option("--sysroot", help="Target tree whose libraries the version guard reads.")
    ] = None,
    *,
    opts: TargetOptions,
) -> None:
    """Point FILE at the target's FHS loader and drop non-FHS RPATH/RUNPATH entries (e.g. /nix/store)."""
    from debforge.cache import atomic_write_bytes
    from debforge.elf import check_symbol_versions, patch_elf, read_elf

    target = opts.target()
    if sysroot is not None:
        check_symbol_versions([read_elf(file)], sysroot, target)
    data = patch_elf(file, interpreter=target.ld_so)
    dest = output or file
    atomic_write_bytes(dest, data, mode=file.stat().st_mode & 0o7777)  # the repaired file keeps its mode
    stdout().print(f"{dest}: interpreter {target.ld_so}")


@with_target
def deps(
    files: Annotated[list[Path], typer.Argument(help="ELF files shipped in one package.")],
    sysroot: Annotated[
        Path | None,
        typer.Option("--sysroot", help="Target tree with a dpkg database (default: built from the archive)."),
    ] = None,
    json_out: Json = False,
    *,
    opts: TargetOptions,
) -> None:
    """Print the shlibs Depends value dpkg-shlibdeps would compute for FILES, alone on one line."""
    from debforge.elf import check_symbol_versions, read_elf
    from debforge.shlibdeps import resolve_depends

    target, infos = opts.target(), [read_elf(file) for file in files]  # each file read once
    if sysroot is None:
        from debforge.pipeline import sysroot_for_files

        with opts.session() as session:
            sysroot = sysroot_for_files(session, infos, target).path
    check_symbol_versions(infos, sysroot, target)
    result = resolve_depends(infos, sysroot, target=target)
    if json_out:
        print_json(result.to_json())
    else:
        sys.stdout.write(result.depends + "\n")
