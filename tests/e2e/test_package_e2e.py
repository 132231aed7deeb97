"""`debforge package` end to end: a Nix-style prebuilt binary and hello-ssl for bookworm arm64.

Oracles: `dpkg-deb` reads the .deb, `dpkg-shlibdeps` gives the Depends, `lintian` finds nothing.
The Debian index and sysroot cache is shared through one session cache under $DEBFORGE_TEST_CACHE.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from debforge.cache import Cache, file_sha256
from debforge.dists import make_target
from debforge.elf import read_elf
from debforge.errors import DebforgeError, ElfError
from debforge.pipeline import PackageResult, package
from debforge.recipe import LintianOverride, Recipe, binary_recipe, load_recipe
from debforge.report import NullReporter, TimedReporter, Timings
from debforge.run import run
from debforge.session import Session
from tests.conftest import require_tool
from tests.helpers.elfs import build_sysroot as oracle_tree
from tests.helpers.elfs import dpkg_shlibdeps

pytestmark = pytest.mark.e2e

TARGET = make_target("bookworm", "arm64")
EPOCH = "1704067200"  # 2024-01-01
NIX_LD = "/nix/store/8k2m3p6xq1f0yy0c9w4h5l7n2b3d4e5f-glibc-2.37-8/lib/ld-linux-aarch64.so.1"
NIX_RPATH = "/nix/store/8k2m3p6xq1f0yy0c9w4h5l7n2b3d4e5f-glibc-2.37-8/lib:/nix/store/x-zlib-1.3/lib"
SOURCE = (
    "#include <stdio.h>\n#include <zlib.h>\n"
    'int main(void) { printf("zlib %s\\n", zlibVersion()); return 0; }\n'
)
# Debian's default hardening flags (dpkg-buildflags), so lintian's hardening checks pass.
CFLAGS = ("-O2", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong", "-Wl,-z,relro,-z,now")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def shared_cache(e2e_cache: Cache) -> Cache:
    """The session's e2e cache: the index and sysroots are fetched once per session."""
    return e2e_cache


@pytest.fixture(scope="session")
def zlib_tree() -> Path:
    """A bookworm arm64 tree (libc6, zlib1g) from the test helpers, not debforge: for gcc and the oracle."""
    return oracle_tree(["libc6", "zlib1g"])


@pytest.fixture(scope="session")
def nix_binary(tmp_path_factory: pytest.TempPathFactory, zlib_tree: Path) -> Path:
    """A stripped arm64 program re-pointed at a /nix/store loader and RPATH, as a Nix build leaves it."""
    require_tool("aarch64-linux-gnu-gcc")
    require_tool("patchelf")
    work = tmp_path_factory.mktemp("nix")
    (work / "zlib.h").write_text("const char *zlibVersion(void);\n")
    (work / "hello.c").write_text(SOURCE)
    binary = work / "hello"
    zlib = zlib_tree / "usr/lib/aarch64-linux-gnu/libz.so.1"
    run(["aarch64-linux-gnu-gcc", *CFLAGS, f"-I{work}", "-o", binary, work / "hello.c", zlib])
    run(["aarch64-linux-gnu-strip", "--remove-section=.comment", "--remove-section=.note", binary])
    run(["patchelf", "--set-interpreter", NIX_LD, "--set-rpath", NIX_RPATH, binary])
    return binary


def _recipe(binary: Path) -> Recipe:
    recipe = binary_recipe(
        binary, name="hello-nix", version="1.2.3", maintainer="Jane Doe <jane@example.org>",
        description="print the version of zlib it runs with",
    )  # fmt: skip
    return dataclasses.replace(
        recipe,
        extended_description="A tiny C program built with Nix, repackaged for Debian by debforge.",
        lintian_overrides=(
            LintianOverride(tag="no-manual-page", reason="a test program with one line of output"),
        ),
    )


def _package(recipe: Recipe, cache: Cache, out: Path, monkeypatch: pytest.MonkeyPatch) -> PackageResult:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    with Session(cache=cache) as session:
        return package(session, recipe, TARGET, out=out)


def _lintian(deb: Path) -> list[str]:
    require_tool("lintian")
    # --no-cfg: the host's ~/.lintianrc must not change the verdict; exit 1 also means "tags found".
    done = run(["lintian", "--no-cfg", "--allow-root", deb], check=False)
    return [line for line in done.text.splitlines() if line[:2] in ("E:", "W:")]


def _extract(deb: Path, dest: Path) -> Path:
    run(["dpkg-deb", "-x", deb, dest])
    return dest


def test_nix_binary_packages_with_fhs_loader_and_shlibdeps_depends(
    nix_binary: Path, shared_cache: Cache, zlib_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("dpkg-deb")
    require_tool("dpkg-shlibdeps")
    require_tool("unshare")
    require_tool("aarch64-linux-gnu-objdump")
    result = _package(_recipe(nix_binary), shared_cache, tmp_path / "out", monkeypatch)
    deb = result.package.path
    assert deb == tmp_path / "out/hello-nix_1.2.3-1_arm64.deb"
    info = run(["dpkg-deb", "--info", deb]).text
    contents = run(["dpkg-deb", "--contents", deb]).text
    assert "Package: hello-nix" in info
    assert "./usr/bin/hello-nix" in contents
    assert "./usr/share/doc/hello-nix/copyright" in contents
    assert "./usr/share/doc/hello-nix/changelog.Debian.gz" in contents

    installed = _extract(deb, tmp_path / "root") / "usr/bin/hello-nix"
    elf = read_elf(installed)
    assert (elf.interpreter, elf.rpath, elf.runpath) == (PurePosixPath("/lib/ld-linux-aarch64.so.1"), (), ())
    expected = dpkg_shlibdeps([(installed, "/usr/bin/hello-nix")], zlib_tree, tmp_path / "oracle")
    assert expected.startswith("libc6")
    control_depends = run(["dpkg-deb", "--field", deb, "Depends"]).text.strip()
    assert control_depends == result.depends == expected

    record = result.to_json()
    assert result.record == deb.with_name(deb.name + ".buildinfo.json")
    assert record["sha256"] == result.package.sha256
    assert any(item.startswith("zlib1g=") for item in record["sysroot"])
    assert _lintian(deb) == []


def test_nix_binary_runs_after_repair(
    nix_binary: Path, shared_cache: Cache, zlib_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qemu = require_tool("qemu-aarch64-static")
    result = _package(_recipe(nix_binary), shared_cache, tmp_path / "out", monkeypatch)
    installed = _extract(result.package.path, tmp_path / "root") / "usr/bin/hello-nix"
    env = {**os.environ, "QEMU_LD_PREFIX": str(zlib_tree)}
    assert run([qemu, installed], env=env, timeout=60).text.startswith("zlib 1.2.13")


def test_binary_needing_a_newer_glibc_is_refused(
    nix_binary: Path, shared_cache: Cache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same length, so the ELF layout stays valid: the file now asks for a glibc bookworm lacks.
    data = nix_binary.read_bytes()
    assert b"GLIBC_2.34\0" in data
    newer = tmp_path / "hello"
    newer.write_bytes(data.replace(b"GLIBC_2.34\0", b"GLIBC_2.99\0"))
    newer.chmod(0o755)
    out = tmp_path / "out"
    refusal = r"needs GLIBC_2\.99 \(for __libc_start_main\) but bookworm provides GLIBC_2\.36"
    with pytest.raises(ElfError, match=refusal):
        _package(_recipe(newer), shared_cache, out, monkeypatch)
    assert not out.exists() or not any(out.iterdir())


def test_two_checkouts_two_empty_caches_give_identical_debs(
    nix_binary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    debs: list[Path] = []
    for checkout in ("checkout-a", "elsewhere/checkout-b"):
        project = tmp_path / checkout
        project.mkdir(parents=True)
        binary = project / "hello"
        shutil.copy2(nix_binary, binary)
        cache = Cache(tmp_path / f"cache-{len(debs)}")  # empty: nothing cached may stand in
        debs.append(_package(_recipe(binary), cache, project / "dist", monkeypatch).package.path)
    assert debs[0].name == debs[1].name
    assert debs[0].read_bytes() == debs[1].read_bytes()


# --- bad input: one sentence, exit 1, nothing in --out -------------------------------------------

BASE = """\
[package]
name = "hello"
version = "1.0"
maintainer = "Jane Doe <jane@example.org>"
description = "say hello"

[build]
kind = "binary"
binary = "hello"
"""
BAD_RECIPES = {
    "malformed-toml": (BASE.replace("[build]", "[build"), "line"),
    "unknown-key": (BASE.replace("maintainer =", "maintainr ="), "maintainer"),
    "missing-required-field": (BASE.replace('description = "say hello"\n', ""), "description"),
    "missing-asset-source": (
        BASE + '\n[[assets]]\nsource = "nothere.txt"\ndest = "usr/share/hello/"\n',
        "nothere",
    ),
    "relation-syntax": (BASE + '\n[relations]\ndepends = ["libc6 (>> )"]\n', "libc6"),
    "invalid-version": (BASE.replace('version = "1.0"', 'version = "one_point_0"'), "version"),
}


def _bad_project(tmp_path: Path, text: str, nix_binary: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(nix_binary, project / "hello")
    (project / "debforge.toml").write_text(text)
    return project


@functools.cache
def _has_package_command() -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "debforge", "package", "--help"], capture_output=True, cwd=ROOT, check=False
    )
    return done.returncode == 0


@pytest.mark.parametrize("case", sorted(BAD_RECIPES))
def test_bad_recipe_is_one_sentence_and_leaves_out_empty(
    case: str, nix_binary: Path, shared_cache: Cache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, mentions = BAD_RECIPES[case]
    project = _bad_project(tmp_path, text, nix_binary)
    out = tmp_path / "out"
    if _has_package_command():
        done = subprocess.run(
            [sys.executable, "-m", "debforge", "package", project, "--out", out, "--dist", "bookworm",
             "--arch", "arm64", "--cache-dir", shared_cache.root],
            capture_output=True, text=True, cwd=ROOT, check=False,
            env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH},
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        message = done.stderr.strip().splitlines()[0]
    else:
        with pytest.raises(DebforgeError) as caught:
            recipe = load_recipe(project, arch="arm64", reporter=NullReporter())
            _package(recipe, shared_cache, out, monkeypatch)
        message = str(caught.value)
    assert "\n" not in message
    print(f"{case}: {message}")
    assert mentions in message
    assert not out.exists() or not any(out.iterdir())


# --- hello-ssl: the real recipe through the real build -------------------------------------------


def test_hello_ssl_is_lintian_clean_with_shlibdeps_depends(
    shared_cache: Cache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("dpkg-shlibdeps")
    require_tool("unshare")
    require_tool("aarch64-linux-gnu-objdump")
    recipe = load_recipe(ROOT / "recipes/hello-ssl", arch="arm64", reporter=NullReporter())
    toolchain = os.environ.get("DEBFORGE_TEST_TOOLCHAIN", "container")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    with Session(cache=shared_cache) as session:
        result = package(session, recipe, TARGET, out=tmp_path / "out", toolchain=toolchain)  # type: ignore[arg-type]  # "container" or "host" from the env
    installed = _extract(result.package.path, tmp_path / "root") / "usr/bin/hello-ssl"
    oracle = oracle_tree(["libc6", "libssl3", "libgcc-s1"])
    expected = dpkg_shlibdeps([(installed, "/usr/bin/hello-ssl")], oracle, tmp_path / "oracle")
    assert "libssl3" in expected
    assert result.depends == expected
    assert _lintian(result.package.path) == []
    # Again, nothing changed: skipped by its plan key, the same deb and record, no build step run.
    timings = Timings()
    with Session(cache=shared_cache, reporter=TimedReporter(NullReporter(), timings)) as session:
        again = package(session, recipe, TARGET, out=tmp_path / "out", toolchain=toolchain)  # type: ignore[arg-type]  # as above
    assert again.package.path == result.package.path
    assert again.package.sha256 == result.package.sha256 == file_sha256(result.package.path)
    titles = [step.title for step in timings.steps()]  # index checks may come first, no build step
    assert titles[-1] == f"{result.package.path.name} is up to date (nothing changed since it was made)"
    assert not [title for title in titles if "cargo" in title or title.startswith(("Unpacking", "write"))]
