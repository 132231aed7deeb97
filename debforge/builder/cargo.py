"""Pure pieces of a cargo build for a target: argv, environment, strip and dbgsym steps, config.

Nothing here runs anything; debforge.builder.rust runs cargo with what these functions return.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from debforge.dists import Target
from debforge.errors import BuildError
from debforge.recipe import CargoBuild
from debforge.recipe.model import DebugCompression

# Fixed paths inside the builder: the binary never depends on where the project or cache lives.
_IN = PurePosixPath("/debforge")
# dh_strip's choice for executables and shared libraries (debhelper: dh_strip).
_STRIP_ARGS = ("--strip-unneeded", "--remove-section=.comment", "--remove-section=.note")
_ERROR_LINES = 60
# Where the detached debug files of a dbgsym build wait, one dir per artifact, in the work out dir.
DEBUG_DIR = ".dbgsym"


@dataclass(frozen=True, slots=True, kw_only=True)
class Paths:
    """Where the build sees its inputs: fixed paths in a container, real ones for --toolchain host."""

    src: str
    sysroot: str
    std: str
    cargo_home: str
    target_dir: str
    out: str


IN_CONTAINER = Paths(
    src=f"{_IN}/src", sysroot=f"{_IN}/sysroot", std=f"{_IN}/std", cargo_home=f"{_IN}/cargo",
    target_dir=f"{_IN}/target", out=f"{_IN}/out",
)  # fmt: skip


def cargo_argv(spec: CargoBuild, *, triple: str | None, locked: bool, manifest: str) -> list[str]:
    """The `cargo build` command line of a recipe (`triple` None: a native build)."""
    profile = ["--release"] if spec.profile == "release" else ["--profile", spec.profile]
    flags = [f for f in spec.cargo_flags if not (locked and f == "--locked")]
    return [
        "cargo", "build", "--manifest-path", manifest, *profile, "--color", spec.color,
        *(["--target", triple] if triple else []),
        *(["--locked"] if locked else []), *flags,
        *(f"--package={name}" for name in spec.packages),
        *(["--features", ",".join(spec.features)] if spec.features else []),
        *(["--all-features"] if spec.all_features else []),
        *([] if spec.default_features else ["--no-default-features"]),
        *(f"--bin={name}" for name in spec.binaries),
        *(["--lib"] if spec.cdylibs else []),
    ]  # fmt: skip


def strip_lines(
    tools: str,
    built: str,
    out: str,
    name: str,
    *,
    dbgsym: bool,
    strip: bool = True,
    compress: DebugCompression | None = "zlib",
) -> list[str]:
    """Shell lines that strip one artifact into `out`; when splitting debug info, dh_strip's three steps.

    dh_strip (debhelper 13): `objcopy --only-keep-debug --compress-debug-sections` into
    .build-id/<xx>/<rest>.debug, strip, then `objcopy --add-gnu-debuglink` so gdb finds the file
    by name and CRC as well as by build-id. The debug file is named `<rest>.debug` here, since the
    debuglink records its base name. cargo-deb's `--no-strip` copies the file as cargo left it.
    `compress` is the .debug file's section compression (None: none), as objcopy spells it.
    """
    src, dest = shlex.quote(f"{built}/{name}"), shlex.quote(f"{out}/{name}")
    if not strip:
        return [f"cp {src} {dest}"]
    command = f"{shlex.join([f'{tools}strip', *_STRIP_ARGS, '-o', f'{out}/{name}', f'{built}/{name}'])}"
    if not dbgsym:
        return [command]
    sections = f" --compress-debug-sections={compress}" if compress else ""
    debug_dir = shlex.quote(f"{out}/{DEBUG_DIR}/{name}")
    debug = f'{debug_dir}/"${{id#??}}.debug"'
    return [
        f"rm -rf {debug_dir} && mkdir -p {debug_dir}",
        f"id=$({tools}readelf -n {src} | sed -n 's/^ *Build ID: *//p' | head -n 1)",
        f'[ -n "$id" ] || {{ echo "error: {name} has no build-id note, so its debug symbols '
        'cannot be split off (link with -Wl,--build-id)" >&2; exit 1; }',
        f"{tools}objcopy --only-keep-debug{sections} {src} {debug}",
        command,
        f"chmod 0644 {debug}",
        f"{tools}objcopy --add-gnu-debuglink={debug} {dest}",
    ]


def copy_lines(built: str, out: str, names: Sequence[str]) -> list[str]:
    """Shell lines that copy files a build script wrote into the profile dir (cargo-deb assets such as
    `target/release/tool.1`), as they are; a missing one fails with the asset's name.

    >>> copy_lines("/b", "/o", ["tool.1"])  # doctest: +NORMALIZE_WHITESPACE
    ['[ -f /b/tool.1 ] || { echo "error: the build wrote no target/release/tool.1 (it is not a bin or
    cdylib target, so a build script must write it)" >&2; exit 1; }', 'cp /b/tool.1 /o/tool.1']
    """
    lines = []
    for name in names:
        src, dest = shlex.quote(f"{built}/{name}"), shlex.quote(f"{out}/{name}")
        lines += [
            f'[ -f {src} ] || {{ echo "error: the build wrote no target/release/{name} (it is not a bin or '
            'cdylib target, so a build script must write it)" >&2; exit 1; }',
            f"cp {src} {dest}",
        ]
    return lines


def artifact_names(spec: CargoBuild) -> list[str]:
    """Files cargo writes for the recipe's targets: bins by name, cdylibs as lib<name>.so."""
    return [*spec.binaries, *(f"lib{name.replace('-', '_')}.so" for name in spec.cdylibs)]


def profile_dir(profile: str) -> str:
    """The target/<dir> of a cargo profile (`dev` writes to `debug`)."""
    return {"dev": "debug", "test": "debug", "bench": "release"}.get(profile, profile)


def cross_env(
    target: Target, paths: Paths, *, std: bool, static: bool = False, libgcc: str | None = None
) -> dict[str, str]:
    """Everything cargo, rustc, the cc crate, pkg-config and openssl-sys need to cross-build
    (`static`: see static_env; `libgcc`: a sysroot directory searched for libgcc before the compiler's)."""
    triple, gnu, sysroot = target.rust_triple, target.gnu_triplet, paths.sysroot
    low, up = triple.replace("-", "_"), triple.replace("-", "_").upper()
    libdir = f"{sysroot}/usr/lib/{target.multiarch}"
    # Target-only rustflags (S8): build scripts and proc-macros keep the builder's own std.
    rustflags = [
        *([f"--sysroot={paths.std}/usr"] if std else []),
        f"-Clink-arg=--sysroot={sysroot}",  # crt1.o, libc.so from the sysroot (S9)
        # gcc puts -L before its own directories, so -lgcc/-lgcc_eh find the target's first.
        *([f"-Clink-arg=-L{sysroot}{libgcc}"] if libgcc else []),
        *remap_flags(paths),
        *static_rustflags(static),
    ]
    return {
        **base_env(paths),
        **(static_env(target) if static else {}),
        f"CARGO_TARGET_{up}_LINKER": f"{gnu}-gcc",  # S6: the host cc cannot link aarch64 objects
        f"CARGO_TARGET_{up}_RUSTFLAGS": " ".join(rustflags),
        f"CC_{low}": f"{gnu}-gcc", f"CXX_{low}": f"{gnu}-g++", f"AR_{low}": f"{gnu}-ar",
        f"CFLAGS_{low}": f"--sysroot={sysroot}", f"CXXFLAGS_{low}": f"--sysroot={sysroot}",
        # S7: pkg-config reads the target's .pc files, prefixed with the sysroot.
        "PKG_CONFIG_SYSROOT_DIR": sysroot,
        "PKG_CONFIG_LIBDIR": f"{libdir}/pkgconfig:{sysroot}/usr/share/pkgconfig",
        "PKG_CONFIG_ALLOW_CROSS": "1",
        # openssl-sys reads <TRIPLE>_OPENSSL_* before probing the (host's) system.
        f"{up}_OPENSSL_DIR": f"{sysroot}/usr", f"{up}_OPENSSL_LIB_DIR": libdir,
        f"{up}_OPENSSL_INCLUDE_DIR": f"{sysroot}/usr/include",
    }  # fmt: skip


_CRT_STATIC = "-Ctarget-feature=+crt-static"


def static_env(target: Target) -> dict[str, str]:
    """A static build: pkg-config and openssl-sys pick the target's static archives (libssl.a).

    rustc's `+crt-static` (in the rustflags) links glibc's libc.a from libc6-dev; the pkg-config
    crate reads PKG_CONFIG_ALL_STATIC (and passes --static, for Libs.private), openssl-sys reads
    OPENSSL_STATIC.

    >>> from debforge.dists import make_target
    >>> sorted(static_env(make_target("bookworm", "arm64")))
    ['AARCH64_UNKNOWN_LINUX_GNU_OPENSSL_STATIC', 'PKG_CONFIG_ALL_STATIC']
    """
    up = target.rust_triple.replace("-", "_").upper()
    return {"PKG_CONFIG_ALL_STATIC": "1", f"{up}_OPENSSL_STATIC": "1"}


def static_rustflags(static: bool) -> list[str]:
    """`-Ctarget-feature=+crt-static` for a static build, nothing otherwise."""
    return [_CRT_STATIC] if static else []


def debug_compression(spec: CargoBuild) -> DebugCompression | None:
    """How the split-off .debug files are compressed (None: not at all).

    Unasked, as dh_strip: zlib. A bare `--compress-debug-symbols` chooses as cargo-deb 3.1 does: zstd
    for full debug info (for debuggers), zlib otherwise (for panic backtraces). With split debug
    info debforge builds with full debug info unless `--override-debug` says otherwise.

    >>> from pathlib import Path
    >>> spec = CargoBuild(manifest=Path("Cargo.toml"), dbgsym=True, compress_debug_symbols=True)
    >>> debug_compression(spec), debug_compression(CargoBuild(manifest=Path("Cargo.toml")))
    ('zstd', 'zlib')
    """
    if spec.compress_debug_symbols is False:
        return None
    if spec.debug_compression is not None or spec.compress_debug_symbols is None:
        return spec.debug_compression or "zlib"
    level = {**debug_env(spec)}.get(_profile_var(spec.profile, "DEBUG"), "false")
    return "zstd" if level in ("true", "2", "full") else "zlib"


def check_debug_compression(spec: CargoBuild, target: Target) -> None:
    """zstd-compressed .debug files only where the target's objcopy writes them and its gdb reads them."""
    if spec.split_debug and debug_compression(spec) == "zstd" and not target.debug_zstd:
        raise BuildError(
            f"zstd-compressed debug symbols (--compress-debug-symbols) are not available for {target.dist}: "
            "its binutils and gdb do not handle zstd-compressed debug sections",
            hint="use --compress-debug-symbols=zlib for this target",
        )


def _profile_var(profile: str, what: str) -> str:
    return f"CARGO_PROFILE_{profile.upper().replace('-', '_')}_{what}"


def debug_env(spec: CargoBuild) -> dict[str, str]:
    """With split debug info: full debug info in the build (as Debian's Rust packages get
    `-C debuginfo=2`); cargo-deb's `--override-debug`/`--override-lto` win.

    Cargo's release profile has none, which would leave the -dbgsym package only a symbol table.

    >>> from pathlib import Path
    >>> debug_env(CargoBuild(manifest=Path("Cargo.toml"), dbgsym=True))
    {'CARGO_PROFILE_RELEASE_DEBUG': 'true'}
    """
    split = {_profile_var(spec.profile, "DEBUG"): "true"} if spec.split_debug else {}
    return {**split, **dict(spec.profile_env)}


def base_env(paths: Paths) -> dict[str, str]:
    """Where cargo keeps its home and target dir; no colours in captured output."""
    return {"CARGO_HOME": paths.cargo_home, "CARGO_TARGET_DIR": paths.target_dir, "CARGO_TERM_COLOR": "never"}


def remap_flags(paths: Paths) -> list[str]:
    """`--remap-path-prefix` for the build paths, so no host or builder path is baked into the binary."""
    return [
        f"--remap-path-prefix={paths.src}=.",
        f"--remap-path-prefix={paths.cargo_home}=/cargo",
        f"--remap-path-prefix={paths.sysroot}/usr=/usr",
    ]


def cargo_config(crates: str, paths: Paths, registry: str) -> str:
    """The cargo home's config.toml: crates.io replaced by Debian's registry or vendor/ (S10)."""
    if crates == "registry":
        return ""
    directory = registry if crates == "debian" else f"{paths.src}/vendor"
    return (
        "# Written by debforge: crates come from a local directory source, never from the network.\n"
        f'[source.crates-io]\nreplace-with = "local"\n\n[source.local]\ndirectory = "{directory}"\n'
        "\n[net]\noffline = true\n"
    )


def error_tail(output: str) -> str:
    """Cargo's own error: from the first `error` line on (at most 60 lines), else the last lines."""
    lines = output.rstrip().splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("error")), None)
    kept = lines[first : first + _ERROR_LINES] if first is not None else lines[-30:]
    return "\n".join(kept)


def depends_requests(groups: Sequence[str], known: Callable[[str], bool]) -> list[str]:
    """A resolver request per build-depends group: its first alternative the archive knows.

    >>> known = {"libbar-dev"}.__contains__
    >>> depends_requests(["libfoo-dev (>= 1) | libbar-dev [arm64]", "zlib1g-dev"], known)
    ['libbar-dev', 'zlib1g-dev']
    """
    requests = []
    for group in groups:
        names = [re.split(r"[\s(\[]", alt.strip(), maxsplit=1)[0] for alt in group.split("|")]
        requests.append(next((n for n in names if known(n)), names[0]))
    return requests
