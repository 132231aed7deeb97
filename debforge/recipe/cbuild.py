"""`[build]` of a C/C++ project (kinds autotools, cmake, meson, make, script) → CBuild."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from debforge.recipe import parts
from debforge.recipe.model import C_KINDS, CBuild, CKind
from debforge.recipe.tomlfile import Table, display

# The [build] keys only the C kinds read (native.BUILD_KEYS lists them with the Cargo ones).
C_KEYS = ("subdir", "configure-args", "make-args", "install-args", "env", "script", "keep-dev-files")
# Keys of the Cargo and debug-symbol side that mean nothing to a C build: refused, not ignored.
_CARGO_ONLY = ("features", "default-features", "crates", "profile", "binaries", "binary")
_DEBUG_KEYS = ("dbgsym", "separate-debug-symbols", "compress-debug-symbols")


def c_kind(kind: str) -> CKind | None:
    """The C kind named `kind`, or None when it is not one."""
    return next((k for k in C_KINDS if k == kind), None)


def c_build(table: Table, kind: CKind, source_dir: Path, arch: str) -> CBuild:
    """The [build] table of a C/C++ recipe, every key checked against its kind."""
    for key in (*_CARGO_ONLY, *_DEBUG_KEYS):
        if table.has(key):
            raise table.error(key, f"'{key}' does not apply to kind '{kind}'")
    subdir = _subdir(table, source_dir)
    script = table.strings("script", allow_string=True) or ()
    if kind == "script" and not script:
        raise table.error("script", "kind 'script' needs the commands to run, e.g. script = [\"make\"]")
    if kind != "script" and script:
        raise table.error("script", f"'script' is for kind 'script'; kind '{kind}' runs its own steps")
    return CBuild(
        kind=kind,
        source=source_dir,
        subdir=subdir,
        build_depends=parts.relations(table, "build-depends", arch),
        configure_args=table.strings("configure-args", allow_string=False) or (),
        make_args=table.strings("make-args") or (),
        install_args=table.strings("install-args") or (),
        env=_env(table),
        script=script,
        keep_dev_files=table.boolean("keep-dev-files", False),
        static=table.boolean("static", False),
    )


def _subdir(table: Table, source_dir: Path) -> PurePosixPath | None:
    value = table.string("subdir")
    if value is None:
        return None
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise table.error("subdir", f"'{value}' must be a path inside the project, without '..'")
    if not (source_dir / path).is_dir():
        raise table.error("subdir", f"'{value}' is not a directory of {display(source_dir)}")
    return path


def _env(table: Table) -> tuple[tuple[str, str], ...]:
    raw = table.raw("env")
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise table.error("env", 'expected a table of strings, e.g. env = { CFLAGS = "-O2" }')
    for name in raw:
        if not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise table.error("env", f"'{name}' is not an environment variable name")
    return tuple(sorted((str(k), str(v)) for k, v in raw.items()))
