"""A bullseye target built with bookworm's rustc: hello-ssl (edition 2021 needs rustc 1.56, bullseye's
is 1.48) is cross-built by bookworm's builder and rustc-web against bullseye's own sysroot, then
test-installed on bullseye, where it must print OpenSSL 1.1 (bullseye has no OpenSSL 3).

Mostly amd64: this machine's mirror lists bullseye-security's arm64 packages (libc6-dev 2.31-13+deb11u14,
libssl-dev, dpkg 1.20.14...) but answers 404 for every one of their .deb files (seen 2026-12-01), while
bullseye-security's amd64 pool is complete. The arm64 test (bookworm's aarch64-linux-gnu-gcc linking
bullseye's glibc) therefore drops the security suite from its target.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from debforge import testinstall
from debforge.cache import Cache
from debforge.dists import Target, make_target
from debforge.elf import read_elf
from debforge.pipeline import PackageResult, package
from debforge.recipe import load_recipe
from debforge.recipe.prebuilt import with_static
from debforge.report import NullReporter
from debforge.run import run
from debforge.session import Session
from tests.conftest import require_docker

# Cold: bookworm's amd64 builder image (about 1 minute here) and bullseye's runtime image.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
BULLSEYE = make_target("bullseye", "amd64")


# Without bullseye-security, whose arm64 .deb files this mirror does not have (see above).
BULLSEYE_ARM64 = dataclasses.replace(
    make_target("bullseye", "arm64"),
    suites=tuple(s for s in make_target("bullseye", "arm64").suites if s.name != "bullseye-security"),
)


def _package(
    cache: Cache, out: Path, *, static: bool, target: Target = BULLSEYE
) -> tuple[PackageResult, float]:
    recipe = load_recipe(ROOT / "recipes/hello-ssl", arch=target.arch, reporter=NullReporter())
    recipe = with_static(recipe) if static else recipe
    start = time.monotonic()
    with Session(cache=cache, reporter=NullReporter()) as session:
        result = package(session, recipe, target, out=out)
    return result, time.monotonic() - start


def _installs_and_prints_openssl_1_1(cache: Cache, deb: Path, target: Target = BULLSEYE) -> str:
    with Session(cache=cache, reporter=NullReporter()) as session:
        report = testinstall.check_install(session, [deb], target, run="hello-ssl", expect="OpenSSL 1.1.")
    run_step = next(step for step in report.steps if step.name == "run")
    assert report.ok, report.to_json()
    return run_step.output_tail


def test_bullseye_built_with_bookworms_rustc(e2e_cache: Cache, tmp_path: Path) -> None:
    require_docker()
    result, seconds = _package(e2e_cache, tmp_path / "out", static=False)
    toolchain = dict(result.buildinfo.toolchain)
    assert toolchain["rustc"].startswith("rustc 1.96."), toolchain  # bookworm-security's rustc-web
    assert "(Debian 12." in toolchain["cc"], toolchain  # bookworm's gcc, linking bullseye's glibc
    assert "libssl1.1" in result.depends and "libssl3" not in result.depends, result.depends
    printed = _installs_and_prints_openssl_1_1(e2e_cache, result.package.path)
    print(f"bullseye amd64 with bookworm's rustc: package {seconds:.1f}s, run: {printed.strip()}")


def test_bullseye_static_build_with_bookworms_rustc(e2e_cache: Cache, tmp_path: Path) -> None:
    """gcc 12's libgcc_eh.a calls glibc 2.35's _dl_find_object: the static link must take bullseye's."""
    require_docker()
    result, seconds = _package(e2e_cache, tmp_path / "out", static=True)
    assert dict(result.buildinfo.toolchain)["rustc"].startswith("rustc 1.96.")
    assert "libssl" not in result.depends and "libc6" not in result.depends, result.depends
    run(["dpkg-deb", "-x", result.package.path, tmp_path / "x"])  # dpkg-deb as the oracle
    info = read_elf(tmp_path / "x/usr/bin/hello-ssl")
    assert not info.needed and info.interpreter is None
    printed = _installs_and_prints_openssl_1_1(e2e_cache, result.package.path)
    print(f"bullseye amd64 static with bookworm's rustc: package {seconds:.1f}s, run: {printed.strip()}")


def test_bullseye_arm64_cross_built_with_bookworms_gcc_and_rustc(e2e_cache: Cache, tmp_path: Path) -> None:
    require_docker()
    result, seconds = _package(e2e_cache, tmp_path / "out", static=False, target=BULLSEYE_ARM64)
    toolchain = dict(result.buildinfo.toolchain)
    assert toolchain["rustc"].startswith("rustc 1.96."), toolchain
    assert toolchain["cc"].startswith("aarch64-linux-gnu-gcc (Debian 12."), toolchain
    assert "libssl1.1" in result.depends, result.depends
    printed = _installs_and_prints_openssl_1_1(e2e_cache, result.package.path, BULLSEYE_ARM64)
    print(f"bullseye arm64 with bookworm's rustc: package {seconds:.1f}s, run: {printed.strip()}")
