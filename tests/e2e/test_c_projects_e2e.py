"""Real upstream C projects (recipes/<name>/ with an upstream.toml), packaged for bookworm arm64.

Each source is Debian's orig tarball of the version bookworm ships, fetched from the pool and
checked against the SHA256 pinned in upstream.toml before it is unpacked. Oracles: `dpkg-deb`,
`lintian`, the ELF header, a run of the installed binary in a target container under QEMU, and
the Depends of Debian's own binary package of the same upstream version (from the archive index).
"""

from __future__ import annotations

import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from debforge import testinstall
from debforge.archive import fetch_index
from debforge.builder import build
from debforge.cache import Cache
from debforge.dists import Target
from debforge.elf import read_elf
from debforge.errors import BuildError
from debforge.pipeline import package
from debforge.recipe import Recipe, load_recipe
from debforge.report import NullReporter
from debforge.run import run
from debforge.session import Session
from tests.conftest import require_docker, require_tool
from tests.helpers.upstream import pinned_tarball, unpack_top

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2700)]

ROOT = Path(__file__).resolve().parents[2]
C_RECIPES = tuple(
    sorted(
        p.name
        for p in (ROOT / "recipes").iterdir()
        if (p / "upstream.toml").is_file() and 'kind = "cargo"' not in (p / "debforge.toml").read_text()
    )
)  # the Rust ones (kind = "cargo") are tests/e2e/test_rust_projects_e2e.py's


@dataclass(frozen=True, slots=True, kw_only=True)
class Upstream:
    """A recipe's upstream.toml: the orig tarball, its SHA256 and Debian's binary package to compare."""

    url: str
    sha256: str
    debian_package: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Packaged:
    name: str
    recipe: Recipe
    upstream: Upstream
    deb: Path


def _upstream(name: str) -> Upstream:
    data = tomllib.loads((ROOT / "recipes" / name / "upstream.toml").read_text())
    return Upstream(url=data["url"], sha256=data["sha256"], debian_package=data["debian-package"])


def _project(session: Session, name: str, tmp: Path) -> Path:
    """The recipe dir copied to `tmp`, with the orig tarball unpacked into its src/ (top dir stripped)."""
    project = tmp / name
    shutil.copytree(ROOT / "recipes" / name, project)
    upstream = _upstream(name)
    tarball = pinned_tarball(session, upstream.url, upstream.sha256)
    unpack_top(tarball, tmp / "unpacked").rename(project / "src")
    return project


@pytest.fixture(scope="module", params=C_RECIPES)
def packaged(
    request: pytest.FixtureRequest,
    e2e_session: Session,
    bookworm_arm64: Target,
    tmp_path_factory: pytest.TempPathFactory,
) -> Packaged:
    """Each C recipe cross-built and packaged once for bookworm arm64."""
    require_docker()
    name: str = request.param
    project = _project(e2e_session, name, tmp_path_factory.mktemp(f"{name}-src"))
    recipe = load_recipe(project, arch="arm64", reporter=NullReporter())
    out = tmp_path_factory.mktemp(f"{name}-deb")
    deb = package(e2e_session, recipe, bookworm_arm64, out=out).package.path
    return Packaged(name=name, recipe=recipe, upstream=_upstream(name), deb=deb)


def _field(deb: Path, name: str) -> str:
    return run(["dpkg-deb", "--field", deb, name]).text.strip()


def _package_names(relations: str) -> set[str]:
    """The package names of a Depends value, alternatives included, without versions or arch."""
    return {
        re.split(r"[\s(:\[]", alt.strip(), maxsplit=1)[0]
        for alt in re.split(r"[,|]", relations)
        if alt.strip()
    }


def test_it_cross_builds_an_arm64_program(packaged: Packaged, tmp_path: Path) -> None:
    require_tool("dpkg-deb")
    run(["dpkg-deb", "-x", packaged.deb, tmp_path])
    contents = run(["dpkg-deb", "--contents", packaged.deb]).text
    print(contents)
    assert packaged.recipe.test is not None
    program = tmp_path / "usr" / "bin" / packaged.recipe.test.run.split()[0]  # e.g. bwrap of bubblewrap
    info = read_elf(program)
    assert info.deb_arch == "arm64"
    assert str(info.interpreter) == "/lib/ld-linux-aarch64.so.1"
    assert not any(line.endswith((".h", ".a", ".la")) for line in contents.splitlines())
    man = list((tmp_path / "usr" / "share" / "man").rglob("*"))
    assert all(p.name.endswith(".gz") for p in man if p.is_file()), man  # dh_compress, Policy 12.3


def test_its_binary_runs_under_qemu(packaged: Packaged, e2e_cache: Cache, bookworm_arm64: Target) -> None:
    spec = packaged.recipe.test
    assert spec is not None, f"recipes/{packaged.name} has no [test]"
    report = testinstall.check_install(
        Session(cache=e2e_cache), [packaged.deb], bookworm_arm64, run=spec.run, expect=spec.expect
    )
    assert report.ok, report.to_json()
    assert report.leftovers == ()


def test_lintian_reports_no_errors(packaged: Packaged) -> None:
    require_tool("lintian")
    done = run(["lintian", "--no-cfg", "--allow-root", "--display-info", packaged.deb], check=False)
    output = done.text + done.stderr.decode("utf-8", "replace")
    print(f"lintian {packaged.deb.name}:\n{output or '(no output)'}")
    assert [line for line in output.splitlines() if line.startswith("E:")] == [], output


def test_depends_names_the_packages_debian_depends_on(
    packaged: Packaged, e2e_session: Session, bookworm_arm64: Target
) -> None:
    require_tool("dpkg-deb")
    records = fetch_index(e2e_session, bookworm_arm64).packages[packaged.upstream.debian_package]
    same = [r for r in records if r.version.split(":")[-1].startswith(f"{packaged.recipe.version}-")]
    assert same, f"bookworm has no {packaged.upstream.debian_package} {packaged.recipe.version}"
    debian = {rel.name for group in (*same[0].pre_depends, *same[0].depends) for rel in group}
    ours = _package_names(_field(packaged.deb, "Depends")) | _package_names(
        _field(packaged.deb, "Pre-Depends")
    )
    print(f"Debian's {same[0].name} {same[0].version}: {sorted(debian)}; ours: {sorted(ours)}")
    assert ours == debian


@pytest.mark.parametrize("packaged", ["cmark"], indirect=True)  # the one recipe shipping a shared library
def test_a_shipped_shared_library_serves_its_own_program(packaged: Packaged, tmp_path: Path) -> None:
    """cmark ships libcmark.so.0.30.2 and its program NEEDS it: no self-Depends, no libcmark.so link,
    and the shlibs file and ldconfig trigger dh_makeshlibs writes."""
    require_tool("dpkg-deb")
    run(["dpkg-deb", "-x", packaged.deb, tmp_path / "root"])
    lib = tmp_path / "root/usr/lib/aarch64-linux-gnu"
    assert sorted(p.name for p in lib.iterdir()) == ["libcmark.so.0.30.2"]  # no -lcmark link
    assert read_elf(lib / "libcmark.so.0.30.2").soname == "libcmark.so.0.30.2"
    assert "libcmark.so.0.30.2" in read_elf(tmp_path / "root/usr/bin/cmark").needed
    assert "cmark" not in _package_names(_field(packaged.deb, "Depends"))
    run(["dpkg-deb", "-e", packaged.deb, tmp_path / "control"])
    assert (tmp_path / "control/shlibs").read_text() == "libcmark 0.30.2 cmark\n"
    assert (tmp_path / "control/triggers").read_text() == "activate-noawait ldconfig\n"


def test_an_install_outside_the_staging_tree_is_one_sentence(
    e2e_session: Session, bookworm_arm64: Target, tmp_path: Path
) -> None:
    """tree's Makefile installs under /usr/local unless told otherwise: refused, naming the path."""
    require_docker()
    project = _project(e2e_session, "tree", tmp_path)
    toml = project / "debforge.toml"
    toml.write_text(re.sub(r"(?m)^install-args = .*$", "", toml.read_text()))
    recipe = load_recipe(project, arch="arm64", reporter=NullReporter())
    with pytest.raises(BuildError) as caught:
        package(e2e_session, recipe, bookworm_arm64, out=tmp_path / "out")
    message = str(caught.value)
    assert message.startswith(
        "the install step of the make build of tree for bookworm/arm64 wrote outside"
    ), message
    assert "($DESTDIR): /usr/local/" in message.splitlines()[0]  # the man page, under /usr/local
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_missing_pc_file_is_one_sentence_naming_the_module(
    e2e_session: Session, bookworm_arm64: Target, tmp_path: Path
) -> None:
    """fdupes without libncurses-dev in its build-depends: configure finds no ncursesw.pc."""
    require_docker()
    project = _project(e2e_session, "fdupes", tmp_path)
    toml = project / "debforge.toml"
    toml.write_text(re.sub(r"(?m)^build-depends = .*$", 'build-depends = ["libpcre2-dev"]', toml.read_text()))
    recipe = load_recipe(project, arch="arm64", reporter=NullReporter())
    with pytest.raises(BuildError) as caught:
        package(e2e_session, recipe, bookworm_arm64, out=tmp_path / "out")
    assert str(caught.value) == (
        "the autotools build of fdupes for bookworm/arm64 needs ncursesw.pc, which no package in [build] "
        f"build-depends of {project / 'debforge.toml'} provides for the target"
    )
    assert caught.value.hint is not None and "ncursesw.pc" in caught.value.hint


def test_emulate_builds_natively_in_a_target_container(
    e2e_session: Session, bookworm_arm64: Target, tmp_path: Path
) -> None:
    """--emulate: the same tree recipe built by gcc running under QEMU, with the same staged tree."""
    require_docker()
    project = _project(e2e_session, "tree", tmp_path)
    recipe = load_recipe(project, arch="arm64", reporter=NullReporter())
    artifacts = build(e2e_session, recipe, bookworm_arm64, emulate=True)
    names = sorted(a.name for a in artifacts.files)
    assert names == ["usr/bin/tree", "usr/share/man/man1/tree.1.gz"]
    info = read_elf(artifacts.get("usr/bin/tree").source)
    assert info.deb_arch == "arm64"


def test_a_static_build_needs_no_library_and_runs(
    e2e_session: Session, e2e_cache: Cache, bookworm_arm64: Target, tmp_path: Path
) -> None:
    """`[build] static = true` for kind make: tree links with -static against the sysroot's libc.a,
    so its ELF has no loader and no NEEDED, the deb no libc6 Depends, and it still runs (QEMU)."""
    require_docker()
    require_tool("lintian")
    project = _project(e2e_session, "tree", tmp_path)
    toml = project / "debforge.toml"
    toml.write_text(toml.read_text().replace('kind = "make"\n', 'kind = "make"\nstatic = true\n'))
    recipe = load_recipe(project, arch="arm64", reporter=NullReporter())
    deb = package(e2e_session, recipe, bookworm_arm64, out=tmp_path / "out").package.path
    run(["dpkg-deb", "-x", deb, tmp_path / "root"])
    info = read_elf(tmp_path / "root/usr/bin/tree")
    assert (info.deb_arch, info.interpreter, info.needed) == ("arm64", None, ())
    print(f"Depends of the static tree: {_field(deb, 'Depends')!r}")
    assert "libc6" not in _package_names(_field(deb, "Depends"))
    overrides = (tmp_path / "root/usr/share/lintian/overrides/tree").read_text()
    assert "tree: statically-linked-binary\n" in overrides
    done = run(["lintian", "--no-cfg", "--allow-root", "--display-info", deb], check=False)
    output = done.text + done.stderr.decode("utf-8", "replace")
    print(f"lintian {deb.name}:\n{output or '(no output)'}")
    assert [line for line in output.splitlines() if line.startswith("E:")] == [], output
    report = testinstall.check_install(
        Session(cache=e2e_cache), [deb], bookworm_arm64, run="tree --version", expect="tree v2.1.0"
    )
    assert report.ok, report.to_json()
