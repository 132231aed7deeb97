"""A Nix-style result/ tree → one bookworm arm64 deb that installs and runs; and the two refusals.

The tree (tests/helpers/nixtree.py) holds a cross-compiled program, its private library (which
NEEDS a second private library), a copy of a library Debian ships (libz.so.1), a Nix glibc copy,
a shebang script and a .desktop file naming /nix/store. Oracles: dpkg-shlibdeps on the repaired
files for Depends, lintian for errors, apt in a fresh bookworm arm64 container for the install and
the run (which prints Debian's zlib version).
The static path (`--static` hello-ssl) is at the end.
"""

from __future__ import annotations

import dataclasses
import shutil
import tarfile
from pathlib import Path, PurePosixPath

import pytest

from debforge.cache import Cache
from debforge.dists import make_target
from debforge.elf import read_elf
from debforge.errors import ElfError
from debforge.pipeline import PackageResult, package
from debforge.pipeline.textfix import debian_lookup, fhs_candidates
from debforge.recipe import LintianOverride, binary_recipe, load_recipe
from debforge.recipe.prebuilt import with_static
from debforge.report import NullReporter
from debforge.run import run
from debforge.session import Session
from debforge.testinstall import check_install
from tests.conftest import require_docker, require_tool
from tests.helpers.cli import run_debforge
from tests.helpers.elfs import build_sysroot as oracle_tree
from tests.helpers.elfs import dpkg_shlibdeps
from tests.helpers.nixtree import make_nix_tree

pytestmark = pytest.mark.e2e

TARGET = make_target("bookworm", "arm64")
EPOCH = "1704067200"  # 2024-01-01


@pytest.fixture(scope="module")
def nix_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("aarch64-linux-gnu-gcc")
    require_tool("patchelf")
    return make_nix_tree(tmp_path_factory.mktemp("nix") / "result")


def _package(session: Session, tree: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> PackageResult:
    recipe = binary_recipe(
        [tree], name="greet", version="1.0", maintainer="Jane Doe <jane@example.org>",
        description="say hello through a private library",
    )  # fmt: skip
    recipe = dataclasses.replace(
        recipe,
        extended_description="A tiny C program and its library, built with Nix, repackaged by debforge.",
        lintian_overrides=(LintianOverride(tag="no-manual-page", reason="a test program"),),
    )
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    return package(session, recipe, TARGET, out=out)


def test_nix_tree_packages_installs_and_runs(
    nix_tree: Path, e2e_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_docker()
    for tool in ("dpkg-deb", "dpkg-shlibdeps", "unshare", "lintian"):
        require_tool(tool)
    result = _package(e2e_session, nix_tree, tmp_path / "out", monkeypatch)
    deb = result.package.path
    root = tmp_path / "root"
    run(["dpkg-deb", "-x", deb, root])
    shipped = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert shipped == [
        "etc/greet.conf", "usr/bin/greet", "usr/bin/greet-wrapper", "usr/lib/greet/libgreet.so.1",
        "usr/lib/greet/libgreethelper.so.1", "usr/share/applications/greet.desktop",
        "usr/share/doc/greet/changelog.Debian.gz", "usr/share/doc/greet/copyright",
        "usr/share/lintian/overrides/greet",
    ]  # fmt: skip
    for path in shipped:
        assert b"/nix/store" not in (root / path).read_bytes(), path
    assert (root / "usr/bin/greet-wrapper").read_text().startswith("#!/bin/bash\n")
    control = tmp_path / "control"
    run(["dpkg-deb", "-e", deb, control])
    assert (control / "conffiles").read_text() == "/etc/greet.conf\n"

    files = [
        (root / "usr/bin/greet", "/usr/bin/greet"),
        (root / "usr/lib/greet/libgreet.so.1", "/usr/lib/greet/libgreet.so.1"),
        (root / "usr/lib/greet/libgreethelper.so.1", "/usr/lib/greet/libgreethelper.so.1"),
    ]
    # libgreet NEEDS the private libgreethelper: found through its own RUNPATH, beside it.
    assert read_elf(root / "usr/lib/greet/libgreet.so.1").runpath == ("$ORIGIN",)
    expected = dpkg_shlibdeps(files, oracle_tree(["libc6", "zlib1g"]), tmp_path / "oracle")
    assert expected.startswith("libc6") and "zlib1g" in expected  # the tree's libz.so.1 is Debian's
    assert run(["dpkg-deb", "--field", deb, "Depends"]).text.strip() == result.depends == expected

    lintian = run(["lintian", "--no-cfg", "--allow-root", deb], check=False).text
    assert [line for line in lintian.splitlines() if line.startswith("E:")] == [], lintian

    report = check_install(
        e2e_session, [deb], TARGET, run="greet && greet-wrapper", expect="hello from libgreet\nzlib 1.2.13"
    )
    failed = [(step.name, step.detail, step.output_tail) for step in report.steps if not step.ok]
    assert failed == [] and report.leftovers == ()


def test_debian_lookup_says_which_targets_join_depends(e2e_session: Session) -> None:
    """The real lookup behind store-path rewriting: bash is Essential (no Depends), python3 is not."""
    lookup = debian_lookup(e2e_session, TARGET)
    assert lookup(("bash-interactive", "bash"), fhs_candidates(PurePosixPath("bin/bash"), "x")) == (
        "/bin/bash",
        None,
    )
    python = fhs_candidates(PurePosixPath("bin/python3"), TARGET.multiarch)
    assert lookup(("python3",), python) == ("/usr/bin/python3", "python3")
    assert lookup(("no-such-package-here",), python) is None


def test_tree_needing_a_newer_glibc_is_refused(
    nix_tree: Path, e2e_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "result"
    shutil.copytree(nix_tree, tree, symlinks=True)
    program = tree / "bin/greet"
    data = program.read_bytes()
    assert b"GLIBC_2.34\0" in data  # __libc_start_main@GLIBC_2.34; same length keeps the layout valid
    program.write_bytes(data.replace(b"GLIBC_2.34\0", b"GLIBC_2.38\0"))
    out = tmp_path / "out"
    refusal = r"greet needs GLIBC_2\.38 \(for __libc_start_main\) but bookworm provides GLIBC_2\.36"
    with pytest.raises(ElfError, match=refusal) as info:
        _package(e2e_session, tree, out, monkeypatch)
    assert "older glibc" in (info.value.hint or "") and "static" in (info.value.hint or "")
    assert not out.exists() or not any(out.iterdir())


def test_tree_missing_its_private_library_is_refused(
    e2e_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("aarch64-linux-gnu-gcc")
    require_tool("patchelf")
    tree = make_nix_tree(tmp_path / "result", with_library=False)
    with pytest.raises(ElfError, match=r"greet needs libgreet\.so\.1, which no bookworm arm64 package ships"):
        _package(e2e_session, tree, tmp_path / "out", monkeypatch)


def test_cli_packages_a_tarball_of_result(nix_tree: Path, e2e_cache: Cache, tmp_path: Path) -> None:
    """`debforge package --binary result.tar.gz --name N --deb-version V`: the NixOS story's command."""
    tarball = tmp_path / "result.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(nix_tree, arcname="result")
    done = run_debforge(
        "package", "--binary", str(tarball), "--name", "greet", "--deb-version", "1.0",
        "--maintainer", "Jane Doe <jane@example.org>", "--dist", "bookworm", "--arch", "arm64",
        "--out", str(tmp_path / "out"), cache=e2e_cache.root, env={"SOURCE_DATE_EPOCH": EPOCH},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    deb = tmp_path / "out/greet_1.0-1_arm64.deb"
    lines = done.stdout.splitlines()
    assert str(deb) in lines
    assert any(line.startswith("Depends: libc6 (>= ") for line in lines), lines
    assert "./usr/lib/greet/libgreet.so.1" in run(["dpkg-deb", "--contents", deb]).text


# --------------------------------------------------------------------------- static builds

ROOT = Path(__file__).resolve().parents[2]


# Without bullseye-security: this machine's mirror lists its arm64 packages but answers 404 for
# their .deb files (seen 2026-12-01; tests/e2e/test_toolchain_dist_e2e.py has the same workaround).
BULLSEYE_ARM64 = dataclasses.replace(
    make_target("bullseye", "arm64"),
    suites=tuple(s for s in make_target("bullseye", "arm64").suites if s.name != "bullseye-security"),
)


def test_static_hello_ssl_has_no_depends_and_carries_its_openssl(
    e2e_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--static` hello-ssl, built once for bookworm arm64: no NEEDED, no Depends, lintian-clean; it
    installs and prints bookworm's OpenSSL 3.0 on bullseye (whose libssl is 1.1), bookworm and
    trixie (whose own libssl is 3.5), so the library is its own."""
    require_docker()
    require_tool("dpkg-deb")
    require_tool("lintian")
    recipe = with_static(load_recipe(ROOT / "recipes/hello-ssl", arch="arm64", reporter=NullReporter()))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    result = package(e2e_session, recipe, TARGET, out=tmp_path / "out")
    assert result.depends == ""
    deb = result.package.path
    assert run(["dpkg-deb", "--field", deb, "Depends"]).text.strip() == ""
    run(["dpkg-deb", "-x", deb, tmp_path / "root"])
    info = read_elf(tmp_path / "root/usr/bin/hello-ssl")
    assert (info.needed, info.interpreter) == ((), None)
    lintian = run(["lintian", "--no-cfg", "--allow-root", deb], check=False).text
    assert [line for line in lintian.splitlines() if line.startswith("E:")] == [], lintian
    for target in (BULLSEYE_ARM64, TARGET, make_target("trixie", "arm64")):
        report = check_install(e2e_session, [deb], target, run="hello-ssl", expect="OpenSSL 3.0.")
        failed = [(step.name, step.detail, step.output_tail) for step in report.steps if not step.ok]
        assert failed == [], target.dist
