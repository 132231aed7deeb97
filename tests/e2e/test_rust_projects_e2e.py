"""Real upstream Rust programs (recipes/<name>/ with kind "cargo" and an upstream.toml) packaged for
bookworm arm64 with `crates = "debian"` and no crate list: every crate found from Cargo.toml in
bookworm's librust-*-dev packages.

Each source is Debian's orig tarball of the version bookworm ships (SHA256 pinned in upstream.toml),
with Debian's quilt series applied when the recipe names Debian's packaging. Oracles: the ELF header,
a run of the installed program in a target container under QEMU, and the Depends of Debian's own
binary package (from the archive index): the same package names, minimum versions no weaker.
fd-find runs in `make test`; ripgrep (larger, PCRE2 through pcre2-sys) joins with
DEBFORGE_REALWORLD=1 (`make realworld`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from debforge import testinstall
from debforge.archive import compare_versions, fetch_index, parse_relations
from debforge.builder import build
from debforge.builder.debcrates import pc_error
from debforge.dists import Target
from debforge.elf import read_elf
from debforge.errors import BuildError
from debforge.pipeline import package
from debforge.recipe import CargoBuild, Recipe, load_recipe
from debforge.report import NullReporter
from debforge.run import run
from debforge.session import Session
from tests.conftest import require_docker, require_tool
from tests.helpers.upstream import pinned_tarball, unpack_top

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ("fd-find", "ripgrep") if os.environ.get("DEBFORGE_REALWORLD") == "1" else ("fd-find",)


@dataclass(frozen=True, slots=True, kw_only=True)
class Packaged:
    name: str
    recipe: Recipe
    debian_package: str
    deb: Path
    record: dict[str, object]


def project(session: Session, name: str, tmp: Path) -> Path:
    """The recipe dir copied to `tmp`, the orig tarball in its src/, Debian's patches applied (quilt
    series order, `patch -p1` as dpkg-source's 3.0 (quilt) format does)."""
    upstream = tomllib.loads((ROOT / "recipes" / name / "upstream.toml").read_text())
    dest = tmp / name
    shutil.copytree(ROOT / "recipes" / name, dest)
    orig = pinned_tarball(session, upstream["url"], upstream["sha256"])
    unpack_top(orig, tmp / "orig").rename(dest / "src")
    if "debian-url" in upstream:
        debian = pinned_tarball(session, upstream["debian-url"], upstream["debian-sha256"])
        with tarfile.open(debian) as archive:
            archive.extractall(tmp / "debian", filter="data")
        patches = tmp / "debian" / "debian" / "patches"
        for patch in (patches / "series").read_text().split():
            run(["patch", "-p1", "--quiet", "-i", patches / patch], cwd=dest / "src")
    return dest


@pytest.fixture(scope="module", params=RECIPES)
def packaged(request: pytest.FixtureRequest, e2e_session: Session, bookworm_arm64: Target) -> Packaged:
    """Each Rust recipe cross-built and packaged once for bookworm arm64 (the deb beside its source)."""
    name: str = request.param
    require_docker()
    require_tool("patch")
    # A fixed place in the test cache: debforge keeps a target dir per project path, so a rerun is warm.
    where = e2e_session.cache.root / "projects" / name
    shutil.rmtree(where, ignore_errors=True)
    src = project(e2e_session, name, where)
    recipe = load_recipe(src, arch="arm64", reporter=NullReporter())
    deb = package(e2e_session, recipe, bookworm_arm64, out=where / "deb").package.path
    record = json.loads(deb.with_name(f"{deb.name}.buildinfo.json").read_text())
    debian = tomllib.loads((ROOT / "recipes" / name / "upstream.toml").read_text())["debian-package"]
    return Packaged(name=name, recipe=recipe, debian_package=debian, deb=deb, record=record)


def test_the_recipe_lists_no_crates_and_the_record_names_each_package(packaged: Packaged) -> None:
    spec = packaged.recipe.build
    assert isinstance(spec, CargoBuild) and spec.crates == "debian"
    assert spec.build_depends == ()  # no librust-*-dev list: found from Cargo.toml
    crates = packaged.record["crates"]
    assert isinstance(crates, dict)
    used = {entry["crate"]: entry for entry in crates["locked"]}
    print(f"{packaged.name}: {len(used)} crates from Debian; relocked {crates['relocked']}; "
          f"dropped {crates['dropped']}")  # fmt: skip
    assert len(used) > 30
    unknown = [c for c, entry in used.items() if not entry["package"].startswith("librust-")]
    assert unknown == [], unknown
    sysroot = {entry.partition("=")[0] for entry in packaged.record["sysroot"]}  # type: ignore[attr-defined]
    assert "librust-clap-dev" not in sysroot  # the runtime closure holds no crate sources


def test_it_cross_builds_an_arm64_program(packaged: Packaged, tmp_path: Path) -> None:
    require_tool("dpkg-deb")
    run(["dpkg-deb", "-x", packaged.deb, tmp_path])
    assert packaged.recipe.test is not None
    info = read_elf(tmp_path / "usr" / "bin" / packaged.recipe.test.run.split()[0])
    assert (info.deb_arch, str(info.interpreter)) == ("arm64", "/lib/ld-linux-aarch64.so.1")


def test_its_binary_runs_under_qemu(packaged: Packaged, e2e_session: Session, bookworm_arm64: Target) -> None:
    spec = packaged.recipe.test
    assert spec is not None
    report = testinstall.check_install(
        e2e_session, [packaged.deb], bookworm_arm64, run=spec.run, expect=spec.expect
    )
    assert report.ok, report.to_json()


def _minimums(depends: str) -> dict[str, str | None]:
    """package → its `>=` version (None: unversioned) of a Depends value without alternatives."""
    found: dict[str, str | None] = {}
    for group in parse_relations(depends):
        for rel in group:
            found[rel.name] = rel.version if rel.op == ">=" else found.get(rel.name)
    return found


def test_depends_match_debians_own_package(
    packaged: Packaged, e2e_session: Session, bookworm_arm64: Target
) -> None:
    require_tool("dpkg-deb")
    records = fetch_index(e2e_session, bookworm_arm64).packages[packaged.debian_package]
    same = [r for r in records if re.match(rf"^{re.escape(packaged.recipe.version)}-", r.version)]
    assert same, f"bookworm has no {packaged.debian_package} {packaged.recipe.version}"
    debian = _minimums(", ".join(str(rel) for group in same[0].depends for rel in group))
    ours = _minimums(run(["dpkg-deb", "--field", packaged.deb, "Depends"]).text.strip())
    print(f"Debian's {same[0].name} {same[0].version}: {debian}; ours: {ours}")
    assert set(ours) == set(debian)
    weaker = {
        name: (ours[name], floor)
        for name, floor in debian.items()
        if floor is not None and (ours[name] is None or compare_versions(ours[name] or "", floor) < 0)
    }
    assert weaker == {}, f"minimum versions weaker than Debian's: {weaker}"


_MISSING = """\
[package]
name = "needs-jemalloc"
version = "0.1.0"
edition = "2021"
description = "a program that wants jemalloc"
authors = ["debforge tests <tests@debforge.invalid>"]
license = "MIT"

[dependencies]
regex = "1.7"
jemallocator = "0.5"
"""


def test_a_crate_debian_does_not_ship_is_one_sentence(
    e2e_session: Session, bookworm_arm64: Target, tmp_path: Path
) -> None:
    """jemallocator is not in bookworm: the build stops before any container, naming crate, requirement,
    what Debian has and the three ways out."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text("fn main() {}\n")
    (tmp_path / "Cargo.toml").write_text(_MISSING + '\n[package.metadata.debforge]\ncrates = "debian"\n')
    recipe = load_recipe(tmp_path, arch="arm64", reporter=NullReporter())
    with pytest.raises(BuildError) as caught:
        build(e2e_session, recipe, bookworm_arm64)
    assert str(caught.value) == (
        f"crate jemallocator 0.5 (dependencies of {tmp_path / 'Cargo.toml'}) cannot come from Debian: "
        "Debian bookworm ships no crate jemallocator (librust-jemallocator-dev); vendor it "
        '(crates = "vendored"), take crates from crates.io (crates = "registry"), or change the '
        "requirement with a [patch] or a version bump"
    )


def test_a_build_script_missing_a_pc_file_names_the_package_from_contents(
    e2e_session: Session, bookworm_arm64: Target
) -> None:
    """The pkg-config crate's failure, as pcre2-sys prints it without libpcre2-dev in the sysroot."""
    output = (
        "error: failed to run custom build command for `pcre2-sys v0.2.5`\n"
        "  The system library `libpcre2-8` required by crate `pcre2-sys` was not found.\n"
        "  The file `libpcre2-8.pc` needs to be installed and the PKG_CONFIG_PATH environment variable "
        "must contain its parent directory.\n"
    )
    error = pc_error(e2e_session, bookworm_arm64, output, "cargo build of rg for bookworm/arm64")
    assert error is not None
    assert str(error) == (
        "the cargo build of rg for bookworm/arm64 failed: crate pcre2-sys needs libpcre2-8.pc, which "
        "libpcre2-dev ships; add it to [build] build-depends"
    )
    assert pc_error(e2e_session, bookworm_arm64, "error[E0425]: cannot find value", "x") is None
