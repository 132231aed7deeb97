"""cargo-deb's flags on `debforge package` (issue 14): parsing, meaning, and the refusals that say why."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from debforge.builder import cargo
from debforge.builder.cargo import check_debug_compression
from debforge.cli.cargodeb import (
    _PARAMS,
    CargoDebFlags,
    ColorChoice,
    CompressType,
    MultiarchChoice,
    debian_arch,
    hoist_global_options,
    preprocess_argv,
)
from debforge.dists import make_target
from debforge.errors import BuildError, UsageError
from debforge.recipe import BuildOverrides, CargoBuild, Overrides, load_recipe
from tests.helpers.cli import run_debforge
from tests.helpers.elfs import compile_c
from tests.test_recipe import Recording, cargo_project


def flags(**given: Any) -> CargoDebFlags:
    """The flags as typer hands them over when only `given` is on the command line."""
    return CargoDebFlags(**({name: default for name, _, default in _PARAMS} | given))


@pytest.mark.parametrize(
    ("triple", "arch"),
    [
        ("aarch64-unknown-linux-gnu", "arm64"),
        ("armv7-unknown-linux-gnueabihf", "armhf"),
        ("arm-unknown-linux-gnueabi", "armel"),
        ("i686-unknown-linux-gnu", "i386"),
        ("x86_64-unknown-linux-gnu", "amd64"),
        ("riscv64gc-unknown-linux-gnu", "riscv64"),
        ("powerpc64le-unknown-linux-gnu", "ppc64el"),
    ],
)
def test_rust_triples_map_to_debian_arches(triple: str, arch: str) -> None:
    assert debian_arch(triple) == arch


def test_a_triple_without_debian_arch_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="'wasm32-unknown-unknown' has no Debian architecture"):
        debian_arch("wasm32-unknown-unknown")
    with pytest.raises(UsageError, match="not a Rust target triple"):
        debian_arch("arm64")


def test_global_options_are_hoisted_from_anywhere_but_after_double_dash() -> None:
    assert hoist_global_options(["package", "-vv", "x", "--debug", "-q"]) == [
        "-v", "--debug", "-q", "package", "x",
    ]  # fmt: skip
    assert hoist_global_options(["package", "--", "-q"]) == ["package", "--", "-q"]


def test_flags_become_overrides_with_cargo_debs_meaning() -> None:
    reporter = Recording()
    given = flags(
        deb_version="1.0-9", deb_revision="2", section="net", multiarch=MultiarchChoice.same,
        features=["a,b", "c d"], no_default_features=True, all_features=True, locked=True, frozen=True,
        profile="dist", override_debug="full", override_lto="fat", compress_type=CompressType.gz,
        strip=False, separate_debug_symbols=True, compress_debug_symbols=False, dbgsym=True, no_build=True,
    )  # fmt: skip
    out = given.overrides(maintainer="Jo", reporter=reporter)
    assert (out.deb_version, out.deb_revision, out.section, out.multiarch, out.compression) == (
        "1.0-9", "2", "net", "same", "gzip",
    )  # fmt: skip
    assert out.maintainer == "Jo"
    assert out.build == BuildOverrides(
        profile="dist", features=("a", "b", "c", "d"), no_default_features=True, all_features=True,
        cargo_flags=("--locked", "--frozen"),
        profile_env=(("CARGO_PROFILE_DIST_DEBUG", "full"), ("CARGO_PROFILE_DIST_LTO", "fat")),
        strip=False, separate_debug_symbols=True, compress_debug_symbols=False, dbgsym=True, no_build=True,
    )  # fmt: skip
    assert reporter.warnings == []


def test_fast_is_gzip_and_compressor_tuning_is_a_warning() -> None:
    reporter = Recording()
    assert flags(fast=True).overrides(maintainer=None, reporter=reporter).compression == "gzip"
    assert (
        flags(compress_type=CompressType.zstd).overrides(maintainer=None, reporter=reporter).compression
        == "zstd"
    )
    assert reporter.warnings == []
    flags(rsyncable=True).overrides(maintainer=None, reporter=reporter)
    assert reporter.warnings == [
        "--rsyncable is ignored: debforge always compresses with its own reproducible writer"
    ]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["package", "--compress-debug-symbols"], ["package", "--compress-debug-symbols"]),
        (["package", "--compress-debug-symbols=zstd", "."],
         ["package", "--compress-debug-symbols", "--debug-compression=zstd", "."]),
        (["package", "--compress-debug-symbols", "zlib", "."],
         ["package", "--compress-debug-symbols", "--debug-compression=zlib", "."]),
        (["package", "--compress-debug-symbols", "proj"], ["package", "--compress-debug-symbols", "proj"]),
        (["package", "--compress-debug-symbols=lz4"],
         ["package", "--compress-debug-symbols", "--debug-compression=lz4"]),
        (["--progress", "plain", "package", "-v", "--", "--timings", "-j", "2"],
         ["-v", "--progress", "plain", "package", "--cargo-arg=--timings", "--cargo-arg=-j",
          "--cargo-arg=2"]),
        (["build", "--compress-debug-symbols=zstd", "--", "x"],
         ["build", "--compress-debug-symbols=zstd", "--", "x"]),
    ],
)  # fmt: skip
def test_argv_preprocessing_gives_cargo_debs_optional_value_and_cargo_args(
    argv: list[str], expected: list[str]
) -> None:
    assert preprocess_argv(argv) == expected


def test_debug_compression_color_and_cargo_args_reach_the_cargo_build(tmp_path: Path) -> None:
    given = flags(debug_compression="zstd", color=ColorChoice.always, cargo_args=["--timings", "-j", "2"])
    build = given.overrides(maintainer=None, reporter=Recording()).build
    assert build is not None
    assert (build.compress_debug_symbols, build.debug_compression, build.color) == (True, "zstd", "always")
    assert build.cargo_flags == ("--timings", "-j", "2")
    recipe = load_recipe(
        cargo_project(tmp_path), arch="arm64", reporter=Recording(),
        overrides=Overrides(build=dataclasses.replace(build, dbgsym=True)),
    )  # fmt: skip
    spec = recipe.build
    assert isinstance(spec, CargoBuild) and spec.debug_compression == "zstd"
    argv = cargo.cargo_argv(
        spec, triple="aarch64-unknown-linux-gnu", locked=False, manifest="/src/Cargo.toml"
    )
    assert argv[argv.index("--color") + 1] == "always" and argv.count("--color") == 1
    assert argv[argv.index("--timings") :][:3] == ["--timings", "-j", "2"]
    bookworm = make_target("bookworm", "arm64")
    check_debug_compression(spec, bookworm)  # binutils 2.40 and gdb 13 handle zstd
    with pytest.raises(
        BuildError, match=r"zstd-compressed debug symbols \(--compress-debug-symbols\) are not"
    ):
        check_debug_compression(spec, dataclasses.replace(bookworm, debug_zstd=False))


def test_a_bare_compress_debug_symbols_chooses_as_cargo_deb_does(tmp_path: Path) -> None:
    """cargo-deb 3.1: zstd for full debug info, zlib otherwise; unasked, zlib as dh_strip."""
    base = CargoBuild(manifest=tmp_path / "Cargo.toml", dbgsym=True)
    bare = dataclasses.replace(base, compress_debug_symbols=True)
    lines = dataclasses.replace(bare, profile_env=(("CARGO_PROFILE_RELEASE_DEBUG", "line-tables-only"),))
    assert [cargo.debug_compression(s) for s in (base, bare, lines)] == ["zlib", "zstd", "zlib"]
    named = dataclasses.replace(lines, debug_compression="zstd")
    off = dataclasses.replace(named, compress_debug_symbols=False)
    assert (cargo.debug_compression(named), cargo.debug_compression(off)) == ("zstd", None)


def test_bad_debug_compression_and_cargo_args_debforge_sets_itself_are_refused() -> None:
    with pytest.raises(
        UsageError, match=r"--compress-debug-symbols=lz4 is not a debug compression \(zlib or zstd\)"
    ):
        flags(debug_compression="lz4").overrides(maintainer=None, reporter=Recording())
    with pytest.raises(
        UsageError, match="cargo's --target-dir after `--` would change where cargo puts"
    ) as info:
        flags(cargo_args=["--target-dir=/tmp/x"]).overrides(maintainer=None, reporter=Recording())
    assert info.value.hint == "use debforge's nothing (debforge keeps its own target dir) instead"


@pytest.mark.parametrize("compression", ["zlib", "zstd"])
def test_debug_file_sections_are_compressed_as_asked(tmp_path: Path, compression: str) -> None:
    """The real strip script on a real arm64 ELF: objcopy writes the .debug file's sections with the
    asked compression (readelf -t names it), and None leaves them uncompressed."""
    from debforge.run import run
    from tests.conftest import require_tool

    require_tool("aarch64-linux-gnu-gcc")
    built, out = tmp_path / "built", tmp_path / "out"
    built.mkdir()
    out.mkdir()
    compile_c(built / "hello", args=["-g", "-Wl,--build-id"])
    for compress, where in ((compression, out), (None, tmp_path / "plain")):
        where.mkdir(exist_ok=True)
        lines = cargo.strip_lines(
            "aarch64-linux-gnu-",
            str(built),
            str(where),
            "hello",
            dbgsym=True,
            compress=compress,  # type: ignore[arg-type]
        )
        run(["sh", "-c", "\n".join(["set -e", *lines])])
    [debug] = (out / cargo.DEBUG_DIR).rglob("*.debug")
    [plain] = (tmp_path / "plain" / cargo.DEBUG_DIR).rglob("*.debug")
    assert compression.upper() in run(["aarch64-linux-gnu-readelf", "-t", "-W", debug]).text
    details = run(["aarch64-linux-gnu-readelf", "-t", "-W", plain]).text
    assert "ZLIB" not in details and "ZSTD" not in details


def test_cargo_build_other_than_build_says_why() -> None:
    with pytest.raises(UsageError, match="--cargo-build zigbuild is not available"):
        flags(cargo_build="zigbuild").overrides(maintainer=None, reporter=Recording())


# ---------------------------------------------------------------- the real command line


def test_cargo_deb_command_line_is_accepted_and_quiet_after_the_subcommand(tmp_path: Path) -> None:
    """A cargo-deb CI line: every flag parses, -q after the subcommand silences progress, and
    --no-build without an earlier build stops with the reason (before any download)."""
    project = cargo_project(tmp_path / "proj", metadata='[package.metadata.deb]\nmaintainer = "Team"')
    done = run_debforge(
        "package", "--manifest-path", str(project / "Cargo.toml"), "-q",
        "--target", "aarch64-unknown-linux-gnu",
        "-o", str(tmp_path / "out"), "--deb-version", "1.2.3-4", "--deb-revision", "5", "--section", "utils",
        "--multiarch", "foreign", "--no-build", "--profile", "release", "-F", "x", "--no-default-features",
        "--locked", "--fast", "--no-strip", "--no-dbgsym", "--offline", "--no-install-dbgsym",
        "--compress-debug-symbols=zstd", "--color", "always", "--", "--timings",
        cache=tmp_path / "cache",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith(
        "error: --no-build: cargo build of my-tool for bookworm/arm64 has not been built"
    )
    assert lines[1].startswith("hint: run once without --no-build")
    assert done.stdout == ""


def test_cargo_build_target_env_picks_the_arch_unless_arch_is_given(tmp_path: Path) -> None:
    env = {"CARGO_BUILD_TARGET": "wasm32-unknown-unknown"}
    done = run_debforge("package", str(tmp_path), cache=tmp_path / "cache", env=env)
    assert done.returncode == 2 and "'wasm32-unknown-unknown' has no Debian architecture" in done.stderr
    done = run_debforge("package", str(tmp_path), "--arch", "arm64", cache=tmp_path / "cache", env=env)
    assert "has neither debforge.toml nor Cargo.toml" in done.stderr  # the env var was not used


def test_target_and_arch_that_disagree_are_refused(tmp_path: Path) -> None:
    done = run_debforge(
        "package", str(tmp_path), "--target", "aarch64-unknown-linux-gnu", "--arch", "armhf",
        cache=tmp_path / "cache",
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: --target aarch64-unknown-linux-gnu is Debian arch arm64, but --arch armhf was also given"
    )


def test_a_bad_debug_compression_on_the_real_command_line_is_a_usage_error(tmp_path: Path) -> None:
    project = cargo_project(tmp_path / "proj")
    done = run_debforge("package", str(project), "--compress-debug-symbols=lz4", cache=tmp_path / "cache")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: --compress-debug-symbols=lz4 is not a debug compression (zlib or zstd)"
    )
