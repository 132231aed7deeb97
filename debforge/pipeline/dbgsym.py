"""The automatic `<name>-dbgsym` package: the detached debug files, installed by build-id.

What dh_strip and dh_gencontrol make for a binary package (debhelper 13, bookworm): the files under
/usr/lib/debug/.build-id/<xx>/<rest>.debug, where gdb and debuginfod clients look them up, and a
control paragraph marked `Auto-Built-Package: debug-symbols` with the `Build-Ids` it carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from debforge.builder import Artifact
from debforge.deb import FileFromPath, PackageSpec, Symlink
from debforge.elf import build_id
from debforge.errors import PackageError

BUILD_ID_DIR = PurePosixPath("/usr/lib/debug/.build-id")


def debug_path(build_id_hex: str) -> PurePosixPath:
    """Where gdb looks for the debug file of a build-id: `.build-id/<first 2 hex>/<rest>.debug`.

    >>> debug_path("ab12cd")
    PurePosixPath('/usr/lib/debug/.build-id/ab/12cd.debug')
    """
    return BUILD_ID_DIR / build_id_hex[:2] / f"{build_id_hex[2:]}.debug"


def _by_build_id(debug: Sequence[Artifact]) -> tuple[list[str], list[FileFromPath]]:
    """The build-ids and the `.build-id/<xx>/<rest>.debug` entries of detached debug files."""
    ids: list[str] = []
    files: list[FileFromPath] = []
    for artifact in debug:
        found = build_id(artifact.source)
        if not found or len(found) <= len("xx"):  # the path needs a dir and a file name part
            raise PackageError(f"the debug file {artifact.name} has no usable build-id note")
        if found in ids:
            continue  # two artifacts from one link: the same debug file, listed once (as dh_strip does)
        ids.append(found)
        files.append(FileFromPath(dest=debug_path(found), source=artifact.source, mode=0o644))
    return ids, files


def separate_debug_entries(debug: Sequence[Artifact]) -> list[FileFromPath]:
    """cargo-deb's `separate-debug-symbols` without dbgsym: the debug files inside the main package."""
    return _by_build_id(debug)[1]


def dbgsym_spec(main: PackageSpec, debug: Sequence[Artifact]) -> PackageSpec:
    """The -dbgsym PackageSpec of `main`: its debug files by build-id, tied to its exact version."""
    ids, files = _by_build_id(debug)
    name = f"{main.name}-dbgsym"
    # dh_strip links the doc dir to the main package's; the exact-version Depends makes that valid
    # (Policy 12.5, lintian usr-share-doc-symlink-without-dependency).
    doc = Symlink(dest=PurePosixPath("/usr/share/doc", name), target=main.name)
    return PackageSpec(
        name=name, version=main.version, arch=main.arch, maintainer=main.maintainer,
        description=f"debug symbols for {main.name}", section="debug", priority="optional",
        source=main.source or main.name, depends=f"{main.name} (= {main.version})",
        multi_arch=main.multi_arch, files=(*files, doc), source_date_epoch=main.source_date_epoch,
        extra_fields={"Auto-Built-Package": "debug-symbols", "Build-Ids": " ".join(sorted(ids))},
    )  # fmt: skip
