"""The build stage for real: hello-ssl and multi-crate cross-built for bookworm arm64 in the builder
container, checked as ELF files and run under QEMU against the build sysroot; an incremental
rebuild; the emulated fallback; bad input (compile error, unknown build-depends)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from debforge.builder import Artifacts, build, cargo, rust, toolchain
from debforge.cache import Cache
from debforge.dists import make_target
from debforge.elf import read_elf
from debforge.errors import BuildError
from debforge.recipe import Recipe, load_recipe
from debforge.report import NullReporter
from debforge.session import Session
from tests.conftest import require_docker, require_tool

pytestmark = pytest.mark.e2e
RECIPES = Path(__file__).resolve().parents[2] / "recipes"
ARM64 = make_target("bookworm", "arm64")
LOGTALLY_OUT = '{"lines":2,"matches":3,"totals":{"a":4,"b":2}}'


def recipe(name: str, source: Path | None = None) -> Recipe:
    return load_recipe(source or RECIPES / name, arch="arm64", reporter=NullReporter())


@pytest.fixture(scope="session")
def session(e2e_session: Session) -> Session:
    require_docker()
    require_tool("qemu-aarch64-static")
    return e2e_session


@pytest.fixture(scope="session")
def cache(session: Session) -> Cache:
    return session.cache


@pytest.fixture(scope="session")
def hello(session: Session, tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    out = tmp_path_factory.mktemp("hello-out")
    return build(session, recipe("hello-ssl"), ARM64, out=out)


@pytest.fixture(scope="session")
def logtally(session: Session, tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    out = tmp_path_factory.mktemp("logtally-out")
    return build(session, recipe("multi-crate"), ARM64, out=out)


def run_arm64(binary: Path, args: list[str], sysroot: Path) -> str:
    """Run an arm64 binary through binfmt/QEMU with the target's libraries from `sysroot` (S11)."""
    env = {**os.environ, "QEMU_LD_PREFIX": str(sysroot)}
    done = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


def check_target_elf(path: Path, cache: Cache) -> None:
    info = read_elf(path)
    assert info.deb_arch == "arm64"
    assert info.interpreter == PurePosixPath("/lib/ld-linux-aarch64.so.1")
    assert info.rpath == () and info.runpath == ()
    glibc = info.glibc
    assert glibc is not None
    assert tuple(map(int, glibc.removeprefix("GLIBC_").split("."))) <= (2, 36)  # bookworm's glibc
    data = path.read_bytes()
    assert b"/debforge/" not in data and str(cache.root).encode() not in data  # --remap-path-prefix


def test_hello_ssl_cross_builds_and_runs(hello: Artifacts, session: Session, cache: Cache) -> None:
    artifact = hello.get("hello-ssl")
    assert artifact.arch == "arm64" and artifact.source.parent.name.startswith("hello-out")
    check_target_elf(artifact.source, cache)
    assert {"libssl.so.3", "libcrypto.so.3"} & set(read_elf(artifact.source).needed)
    assert dict(hello.toolchain)["rustc"].startswith("rustc 1.")
    sysroot = toolchain.build_depends_sysroot(session, recipe("hello-ssl"), ARM64)
    assert run_arm64(artifact.source, [], sysroot).startswith("OpenSSL 3.0.")


def test_multi_crate_cross_builds_from_debian_crates_and_runs(
    logtally: Artifacts, session: Session, cache: Cache
) -> None:
    artifact = logtally.get("logtally")
    check_target_elf(artifact.source, cache)
    multi = recipe("multi-crate")
    sysroot = logtally.sysroot  # the build-depends tree with the crates found from Cargo.toml
    assert sysroot is not None and multi.build.build_depends == ()  # no librust-*-dev list in the recipe
    assert run_arm64(artifact.source, ["a=1 b=2", "a=3"], sysroot) == LOGTALLY_OUT
    # The crates are Debian's (librust-clap-dev 4.0.32 in the sysroot), used as a directory source.
    assert (sysroot / rust.DEBIAN_REGISTRY / "clap-4.0.32" / ".cargo-checksum.json").is_file()
    assert logtally.crates is not None
    assert ("clap", "4.0.32", "librust-clap-dev") in logtally.crates.locked
    work = rust.workdirs(multi, ARM64, cache, "container")
    assert (
        f"{cargo.IN_CONTAINER.sysroot}/{rust.DEBIAN_REGISTRY}"
        in (work.cargo_home / "config.toml").read_text()
    )
    deps = work.target_dir / ARM64.rust_triple / "release" / "deps"
    assert any(deps.glob("libclap-*.rlib")) and any(deps.glob("libserde_json-*.rlib"))


def test_rebuild_without_change_recompiles_nothing(
    hello: Artifacts, session: Session, tmp_path: Path
) -> None:
    again = build(session, recipe("hello-ssl"), ARM64, out=tmp_path)
    assert "Compiling" not in again.log
    assert "Finished" in again.log
    assert again.get("hello-ssl").sha256 == hello.get("hello-ssl").sha256  # same bytes: reproducible


def test_compile_error_shows_cargo_error_and_writes_nothing(
    session: Session, cache: Cache, tmp_path: Path
) -> None:
    project = tmp_path / "broken"
    shutil.copytree(RECIPES / "hello-ssl", project, ignore=shutil.ignore_patterns("target"))
    main = project / "src" / "main.rs"
    main.write_text(main.read_text().replace("println!", "printn!"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("untouched")
    broken = recipe("hello-ssl", project)
    try:
        with pytest.raises(BuildError) as err:
            build(session, broken, ARM64, out=out)
    finally:  # the cache keeps a target dir per project path: drop this throwaway one
        shutil.rmtree(rust.workdirs(broken, ARM64, cache, "container").target_dir.parent.parent)
    message = str(err.value)
    assert message.startswith("cargo build of hello-ssl for bookworm/arm64 failed (exit code 101)")
    assert "error: cannot find macro `printn` in this scope" in message
    assert sorted(p.name for p in out.iterdir()) == ["keep"]


def test_unknown_build_depends_is_named(session: Session) -> None:
    base = recipe("hello-ssl")
    broken = dataclasses.replace(
        base, build=dataclasses.replace(base.build, build_depends=("libssl-dev", "libnosuchthing-dev"))
    )
    with pytest.raises(BuildError, match=r"build-depends of .*debforge.toml cannot be installed on "
                       r"bookworm/arm64: unknown package 'libnosuchthing-dev'"):  # fmt: skip
        build(session, broken, ARM64)


@pytest.mark.timeout(1200)  # qemu-user can deadlock a forking cargo; the build itself bounds it too
def test_emulated_build_of_hello_ssl_runs(session: Session, cache: Cache, tmp_path: Path) -> None:
    """The QEMU fallback: a native arm64 build in an arm64 container (slow: minutes)."""
    result = build(session, recipe("hello-ssl"), ARM64, emulate=True, out=tmp_path)
    artifact = result.get("hello-ssl")
    check_target_elf(artifact.source, cache)
    assert dict(result.toolchain)["cc"].startswith("gcc ")  # the target's native gcc, not a cross one
    sysroot = toolchain.build_depends_sysroot(session, recipe("hello-ssl"), ARM64)
    assert run_arm64(artifact.source, [], sysroot).startswith("OpenSSL 3.0.")
