"""Prebuilt install trees (a Nix `result/`, a tarball, loose files) laid out in the FHS.

A tree is an install prefix: `bin/`, `sbin/`, `lib/`, `share/`, `etc/`. Each top-level directory
goes where the recipe's layout says (FHS 3.0: /usr/bin, /usr/share, /etc...). `lib/` is split by
what each file is: the toolchain runtime (glibc, libgcc_s, libstdc++) is never shipped, since the
target's own must be used; any other shared library becomes a private library of the package under
/usr/lib/<package>/ (Policy 8.1: a library nothing else links against need not be public); headers,
static archives, libtool and pkg-config files are build-time files and stay out.

The built files are named by their relative destination (`usr/bin/hello`), so the packaging step
lays each at its own path.
"""

from __future__ import annotations

import re
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debforge.archive import Contents, fetch_contents, fetch_index
from debforge.builder.rust import Built
from debforge.dists import Target
from debforge.elf import read_elf
from debforge.errors import BuildError, ElfError
from debforge.recipe import Recipe, TreeBuild
from debforge.session import Session

# glibc's libraries, the loader, and GCC's runtime: Debian's libc6/libgcc-s1/libstdc++6 provide
# them, matched to the target's loader; a Nix copy would fight the system's (ld.so loads one libc).
_TOOLCHAIN_RUNTIME = re.compile(
    r"^(ld-linux[-\w.]*\.so\.\d+|ld64\.so\.\d+|ld\.so\.\d+"
    r"|lib(c|m|mvec|pthread|dl|rt|resolv|util|anl|nsl|BrokenLocale|thread_db|c_malloc_debug|memusage"
    r"|pcprofile|SegFault|nss_\w+)\.so(\.[\d.]+)?"
    r"|lib(gcc_s|stdc\+\+|atomic|gomp|quadmath|asan|ubsan|tsan|lsan|itm)\.so(\.[\d.]+)?)$"
)
# Build-time files of an install prefix (Policy 8.4: they belong in a -dev package, if anywhere).
_DEV_DIRS = frozenset({"include", "nix-support", "lib/pkgconfig", "lib/cmake", "share/pkgconfig"})
_DEV_SUFFIXES = (".a", ".la", ".h", ".o")
SonameLookup = Callable[[str], str | None]  # soname → the Debian package shipping it, or None
_TARBALL = re.compile(r"\.(tar|tar\.gz|tgz|tar\.xz|txz|tar\.bz2|tbz2|tar\.zst)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeFile:
    """One file of the laid-out tree: its destination (relative to /), source and Debian mode."""

    dest: PurePosixPath
    source: Path
    mode: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeLayout:
    """What a tree becomes: the files to ship, and what was left out (relative tree path, why)."""

    files: tuple[TreeFile, ...]
    skipped: tuple[tuple[str, str], ...] = ()


def build_tree(session: Session, recipe: Recipe, target: Target) -> Built:
    """kind = "tree": stage the inputs as one prefix and name each file by its FHS destination."""
    spec = recipe.build
    if not isinstance(spec, TreeBuild):  # the builder table dispatched on the kind
        raise BuildError(f"{recipe.recipe_file} is not a prebuilt tree recipe")
    with session.reporter.step(f"Laying out the prebuilt tree of {recipe.name} in the FHS"):
        work = Path(tempfile.mkdtemp(prefix="tree-", dir=session.workspace()))
        root = stage_tree(spec, work)
        debian = debian_sonames(session, target)
        laid = layout_tree(root, package=recipe.name, layout=dict(spec.layout), debian=debian)
    for rel, why in laid.skipped:
        session.reporter.info(f"left out {rel}: {why}")
    for file in laid.files:
        file.source.chmod(file.mode)  # the staged copy: the build stage delivers it with this mode
    return Built(files=tuple((str(f.dest), f.source) for f in laid.files))


def stage_tree(spec: TreeBuild, work: Path) -> Path:
    """Copy or unpack every input of `spec` into `work` as one install prefix; return it."""
    root = work / "tree"
    root.mkdir(parents=True, exist_ok=True)
    for item in spec.inputs:
        if item.is_dir():
            _merge(item, root, origin=item)
        elif item.is_file() and _TARBALL.search(item.name):
            unpacked = work / f"unpack-{len(list(work.iterdir()))}"
            _unpack(item, unpacked)
            _merge(_single_top(unpacked), root, origin=item)
        elif item.is_file():
            _merge_file(item, root / "bin" / item.name, origin=item)
        else:
            raise BuildError(f"--binary {item} does not exist")
    return root


def layout_tree(
    root: Path, *, package: str, layout: Mapping[str, PurePosixPath], debian: SonameLookup = lambda _: None
) -> TreeLayout:
    """Map every file of the prefix `root` to its FHS destination (see the module docstring);
    `debian` names the target's package shipping a soname, whose copy is then used instead."""
    files: dict[PurePosixPath, TreeFile] = {}
    skipped: list[tuple[str, str]] = []
    for rel, path in _walk(root):
        dest, why = _destination(rel, path, _Where(package=package, layout=layout, debian=debian))
        if dest is None:
            skipped.append((str(rel), why))
            continue
        if dest in files:
            if files[dest].source.read_bytes() != path.read_bytes():
                raise BuildError(
                    f"the tree has two different files for {dest}: {files[dest].source} and {path}"
                )
            continue  # the same library under two names (libfoo.so.1 and libfoo.so.1.2): one copy
        # Nix's read-only 0555/0444 → Policy 10.9; a shared library is not executable (Policy 8.1).
        library = dest.is_relative_to(_private(package)) and _soname(path) is not None
        mode = 0o755 if path.stat().st_mode & 0o111 and not library else 0o644
        files[dest] = TreeFile(dest=dest, source=path, mode=mode)
    if not files:
        raise BuildError(f"the prebuilt tree {root} has no file to package")
    return TreeLayout(files=tuple(files[d] for d in sorted(files)), skipped=tuple(skipped))


def private_library_dir(package: str) -> PurePosixPath:
    """Where a package keeps the shared libraries only it uses (Policy 10.2 allows /usr/lib/<package>)."""
    return PurePosixPath("/usr/lib", package)


def _private(package: str) -> PurePosixPath:
    return private_library_dir(package).relative_to("/")


def is_toolchain_runtime(soname: str) -> bool:
    """Whether `soname` is glibc's or GCC's runtime, which the target system provides.

    >>> names = ("libc.so.6", "ld-linux-aarch64.so.1", "libstdc++.so.6", "libz.so.1")
    >>> [is_toolchain_runtime(s) for s in names]
    [True, True, True, False]
    """
    return _TOOLCHAIN_RUNTIME.match(soname) is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Where:
    package: str
    layout: Mapping[str, PurePosixPath]
    debian: SonameLookup


def debian_sonames(session: Session, target: Target) -> SonameLookup:
    """soname → the target's package shipping it in a library directory (from Contents, read on the
    first question only), or None."""
    contents: list[Contents] = []

    def lookup(soname: str) -> str | None:
        if not contents:
            contents.append(fetch_contents(session, target))
        index = fetch_index(session, target)
        ma = target.multiarch
        for path in (f"usr/lib/{ma}/{soname}", f"lib/{ma}/{soname}", f"usr/lib/{soname}", f"lib/{soname}"):
            usable = [p for p in contents[0].packages_for(path) if index.candidate(p) is not None]
            if usable:
                return usable[0]
        return None

    return lookup


def _destination(rel: PurePosixPath, path: Path, where: _Where) -> tuple[PurePosixPath | None, str]:
    """(destination relative to /, "") or (None, why it is left out)."""
    layout = where.layout
    top, rest = rel.parts[0], PurePosixPath(*rel.parts[1:]) if len(rel.parts) > 1 else PurePosixPath()
    dev_dir = any(str(rel) == d or str(rel).startswith(d + "/") for d in _DEV_DIRS)
    if dev_dir or rel.name.endswith(_DEV_SUFFIXES):
        return None, "a build-time file"
    if top in layout:
        return (layout[top] / rest).relative_to("/"), ""
    if top == "lib":
        return _library_destination(rest, path, where)
    mapping = " ".join(f'{t} = "{d}"' for t, d in layout.items())
    raise BuildError(
        f"the prebuilt tree has {top}/ ({rel}), which has no place in the FHS layout ({mapping})",
        hint=f'package it with a kind = "tree" recipe whose [build] layout maps {top} to a directory',
    )


def _library_destination(rest: PurePosixPath, path: Path, where: _Where) -> tuple[PurePosixPath | None, str]:
    if rest.parts[0] == "systemd":  # units and their kin: where systemd looks (/usr/lib/systemd)
        return PurePosixPath("usr/lib") / rest, ""
    package, soname = where.package, _soname(path)
    if len(rest.parts) > 1 and rest.parts[0] == package:  # lib/<package>/x: already the private dir
        rest = PurePosixPath(*rest.parts[1:])
    if soname is None:  # a plugin directory, data: the package's own lib dir
        return private_library_dir(package).relative_to("/") / rest, ""
    if is_toolchain_runtime(soname):
        return None, f"{soname} is the toolchain runtime the target system provides"
    if (owner := where.debian(soname)) is not None:  # same soname, same ABI (Policy 8.6.1)
        return None, f"{soname} is shipped by {owner}, whose copy is used (and depended on)"
    if len(rest.parts) == 1 and rest.name.endswith(".so") and not soname.endswith(".so"):
        return None, "an unversioned development link"
    # Shipped under its SONAME, the one name the loader looks for (ldconfig's link name).
    return private_library_dir(package).relative_to("/") / rest.parent / soname, ""


def _soname(path: Path) -> str | None:
    """The SONAME of a shared library (its name when it has none), None for anything else."""
    with path.open("rb") as fh:
        if fh.read(4) != b"\x7fELF":
            return None
    try:
        info = read_elf(path)
    except ElfError:
        return None
    if info.soname:
        return info.soname
    return path.name if ".so" in path.name and info.interpreter is None else None


def _walk(root: Path) -> Iterator[tuple[PurePosixPath, Path]]:
    """(path relative to `root`, a regular file) of every file, links inside the tree followed."""
    for path in sorted(root.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        rel = PurePosixPath(path.relative_to(root).as_posix())
        if path.is_symlink():
            resolved = path.resolve()
            if not resolved.is_relative_to(root.resolve()) or not resolved.exists():
                raise BuildError(
                    f"{rel} in the prebuilt tree links to {path.readlink()}, outside the tree",
                    hint="copy the tree with its links followed (cp -rL result/ tree/)",
                )
            if resolved.is_dir():
                continue  # its files are walked at their own paths
            yield rel, resolved
        elif stat.S_ISREG(path.lstat().st_mode):
            yield rel, path


def _merge(source: Path, root: Path, *, origin: Path) -> None:
    """Copy a directory's files into `root`; a link leaving it (a Nix result/ into the store) is followed."""
    for path in sorted(source.iterdir()):
        dest = root / path.name
        if path.is_symlink():
            link = path.readlink()
            if not link.is_absolute() and path.resolve().is_relative_to(source.resolve()):
                if not dest.is_symlink():
                    dest.symlink_to(link)  # kept as a link: it names another file of the same tree
                continue
            if not path.exists():
                raise BuildError(f"{path} in {origin} links to {link}, which does not exist here")
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            _merge(path, dest, origin=origin)
        else:
            _merge_file(path, dest, origin=origin)


def _merge_file(path: Path, dest: Path, *, origin: Path) -> None:
    if dest.exists() and dest.read_bytes() != path.read_bytes():
        raise BuildError(f"--binary {origin} brings {dest.name} again with different contents")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, dest)
    dest.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)


def _unpack(tarball: Path, dest: Path) -> None:
    """Unpack with tarfile's "data" filter: no absolute paths, no `..`, no devices, no links out."""
    try:
        with tarfile.open(tarball) as tar:
            tar.extractall(dest, filter="data")
        for path in dest.rglob("*"):  # Nix store dirs are 0555: writable again, so cleanup can remove them
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
    except (tarfile.TarError, OSError) as exc:
        raise BuildError(f"--binary {tarball} could not be unpacked: {exc}") from exc


def _single_top(unpacked: Path) -> Path:
    """A tarball of `result/` holds one directory: the prefix is inside it."""
    entries = list(unpacked.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name not in ("bin", "lib", "share", "etc"):
        return entries[0]
    return unpacked
