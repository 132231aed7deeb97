"""Every recipe in recipes/, packaged for bookworm arm64: readable, lintian-clean, right Depends, installs.

One session-scoped .deb per recipe (hello-ssl reuses conftest's `hello_ssl_deb`), one emulated
test-install container per recipe from the shared runtime image; hello-ssl also goes through
trixie arm64 (its own builder and runtime images). Oracles: `dpkg-deb`, `lintian`,
`dpkg-shlibdeps` (tests/helpers/elfs.py) and real `apt` in the container.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from debforge import testinstall
from debforge.cache import Cache
from debforge.container import Image, build_image
from debforge.dists import Target, make_target
from debforge.pipeline import package
from debforge.recipe import AUTO, Recipe, SmokeSpec, load_recipe
from debforge.report import NullReporter
from debforge.run import run
from debforge.session import Session
from debforge.testinstall import InstallReport
from tests.conftest import require_docker, require_tool
from tests.helpers.elfs import build_sysroot as oracle_tree
from tests.helpers.elfs import dpkg_shlibdeps
from tests.helpers.mirrorproxy import serve_proxy

# Cold, a recipe's fixture builds the builder image and the crates; the trixie test two images.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2700)]

ROOT = Path(__file__).resolve().parents[2]
# Recipes with an upstream.toml build sources fetched at test time: tests/e2e/test_c_projects_e2e.py.
RECIPES = tuple(
    sorted(p.name for p in (ROOT / "recipes").iterdir() if p.is_dir() and not (p / "upstream.toml").is_file())
)
# cargo-deb-style has no [package.metadata.debforge] test: run its binary, which prints the first
# line of its conffile, so the check also proves the conffile was installed where it reads it.
FALLBACK_TESTS = {"cargo-deb-style": SmokeSpec(run="greet", expect="Hello from a cargo-deb-style package")}
# Every library a recipe's binaries link (dpkg-shlibdeps needs the providing packages' shlibs/symbols).
ORACLE_ROOTS = ("libc6", "libgcc-s1", "libssl3")
STEPS = ("image", "install", "run", "remove", "purge", "files")
ELF_MAGIC = b"\x7fELF"
TIMINGS: dict[str, float] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Packaged:
    """One recipe and the .deb debforge made of it."""

    name: str
    recipe: Recipe
    deb: Path


def _recipe(name: str) -> Recipe:
    return load_recipe(ROOT / "recipes" / name, arch="arm64", reporter=NullReporter())


@pytest.fixture(scope="session", params=RECIPES)
def packaged(
    request: pytest.FixtureRequest,
    e2e_session: Session,
    bookworm_arm64: Target,
    tmp_path_factory: pytest.TempPathFactory,
) -> Packaged:
    """Each recipe packaged once per session for bookworm arm64 (hello-ssl: the shared fixture)."""
    name: str = request.param
    start = time.monotonic()
    if name == "hello-ssl":
        deb: Path = request.getfixturevalue("hello_ssl_deb")
    else:
        require_docker()
        out = tmp_path_factory.mktemp(f"{name}-deb")
        deb = package(e2e_session, _recipe(name), bookworm_arm64, out=out).package.path
    TIMINGS[f"package {name} (bookworm arm64)"] = time.monotonic() - start
    return Packaged(name=name, recipe=_recipe(name), deb=deb)


@pytest.fixture(scope="session", autouse=True)
def _print_timings() -> Iterator[None]:
    yield
    for what, seconds in TIMINGS.items():
        print(f"timing: {what}: {seconds:.1f} s")


# --------------------------------------------------------------------------- helpers


def _field(deb: Path, name: str) -> str:
    return run(["dpkg-deb", "--field", deb, name]).text.strip()


def _installed_elfs(deb: Path, root: Path) -> list[tuple[Path, str]]:
    """(extracted file, install path) of every ELF file the deb ships: what dpkg-shlibdeps scans."""
    run(["dpkg-deb", "-x", deb, root])
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return [(p, "/" + p.relative_to(root).as_posix()) for p in files if p.read_bytes()[:4] == ELF_MAGIC]


def _expected_depends(recipe: Recipe, shlibs: str) -> str:
    """The recipe's own Depends with dpkg-shlibdeps' value where `$auto` stands (dh_gencontrol's substvar)."""
    groups: list[str] = []
    for item in recipe.relations.depends:
        groups += [g.strip() for g in shlibs.split(",")] if item == AUTO else [item.strip()]
    return ", ".join(dict.fromkeys(g for g in groups if g))


def _lintian(deb: Path) -> tuple[str, list[str]]:
    """lintian's whole output (info and overridden tags too) and its error and warning lines."""
    require_tool("lintian")
    # --no-cfg: the host's ~/.lintianrc must not change the verdict; exit 1 also means "tags found".
    done = run(
        ["lintian", "--no-cfg", "--allow-root", "--display-info", "--show-overrides", deb], check=False
    )
    output = done.text + done.stderr.decode("utf-8", "replace")
    return output, [line for line in output.splitlines() if line[:2] in ("E:", "W:")]


def _smoke_spec(item: Packaged) -> SmokeSpec:
    spec = item.recipe.test or FALLBACK_TESTS.get(item.name)
    assert spec is not None, f"recipes/{item.name} has no [test] and this file names no fallback"
    return spec


def _assert_passed(report: InstallReport) -> None:
    shown = json.dumps(report.to_json(), indent=2)
    assert report.ok, shown
    assert tuple(step.name for step in report.steps) == STEPS, shown
    assert report.leftovers == (), shown


def _step_times(report: InstallReport) -> str:
    return ", ".join(f"{step.name} {step.seconds:.1f}s" for step in report.steps)


# --------------------------------------------------------------------------- bookworm arm64, every recipe


def test_dpkg_deb_reads_it(packaged: Packaged) -> None:
    require_tool("dpkg-deb")
    recipe, deb = packaged.recipe, packaged.deb
    info = run(["dpkg-deb", "--info", deb]).text
    contents = run(["dpkg-deb", "--contents", deb]).text
    print(f"{deb.name}:\n{info}\n{contents}")
    assert deb.name == f"{recipe.name}_{recipe.deb_version}_arm64.deb"
    for line in (f"Package: {recipe.name}", f"Version: {recipe.deb_version}", "Architecture: arm64"):
        assert f" {line}\n" in info, info
    doc = f"./usr/share/doc/{recipe.name}/"
    assert f"{doc}copyright\n" in contents, contents
    assert f"{doc}changelog.Debian.gz\n" in contents, contents
    for asset in recipe.assets:  # dests are full paths: load_recipe resolved "usr/bin/" to the file
        assert f".{asset.dest}\n" in contents, f"{asset.dest} missing from\n{contents}"
    for conffile in recipe.conffiles:
        assert str(conffile) in run(["dpkg-deb", "--info", deb, "conffiles"]).text


def test_lintian_reports_no_errors_and_no_warnings(packaged: Packaged) -> None:
    output, problems = _lintian(packaged.deb)
    print(f"lintian {packaged.deb.name}:\n{output or '(no output)'}")
    assert problems == [], f"lintian on {packaged.deb.name}:\n{output}"


def test_depends_is_dpkg_shlibdeps_plus_recipe_relations(packaged: Packaged, tmp_path: Path) -> None:
    require_tool("dpkg-deb")
    require_tool("dpkg-shlibdeps")
    require_tool("unshare")
    require_tool("aarch64-linux-gnu-objdump")
    elfs = _installed_elfs(packaged.deb, tmp_path / "root")
    assert elfs, f"{packaged.deb.name} ships no ELF file"
    shlibs = dpkg_shlibdeps(elfs, oracle_tree(ORACLE_ROOTS), tmp_path / "oracle")
    # Debian keeps libgcc-s1 (Rust's unwinder); cargo-deb's -xlibgcc would drop it: we follow Debian.
    assert "libgcc-s1" in shlibs, shlibs
    assert shlibs.startswith("libc6") or ", libc6 " in shlibs, shlibs
    expected = _expected_depends(packaged.recipe, shlibs)
    assert _field(packaged.deb, "Depends") == expected


def test_test_install_passes_every_step(
    packaged: Packaged, runtime_image: Image, e2e_cache: Cache, bookworm_arm64: Target
) -> None:
    spec = _smoke_spec(packaged)
    start = time.monotonic()
    report = testinstall.check_install(
        Session(cache=e2e_cache), [packaged.deb], bookworm_arm64, run=spec.run, expect=spec.expect
    )
    TIMINGS[f"test-install {packaged.name} (bookworm arm64)"] = time.monotonic() - start
    print(f"test-install {packaged.deb.name}: {_step_times(report)}")
    _assert_passed(report)
    assert runtime_image.tag in report.steps[0].detail  # the session's image, not a new one


# --------------------------------------------------------------------------- hello-ssl on trixie arm64


def test_hello_ssl_packages_and_installs_on_trixie(e2e_cache: Cache, tmp_path: Path) -> None:
    """Packaged while the mirror's Contents is unusable (seen live on 2026-12-01: a Contents-arm64 of
    another generation than the signed InRelease, no by-hash copy): a proxy refuses every Contents
    request, and packaging must neither fail nor ask for it."""
    require_docker()
    require_tool("dpkg-deb")
    trixie = make_target("trixie", "arm64")
    recipe = load_recipe(ROOT / "recipes/hello-ssl", arch="arm64", reporter=NullReporter())
    timings: dict[str, float] = {}
    start = time.monotonic()
    build_image(Session(cache=e2e_cache), trixie, definition="builder")
    timings["trixie builder image"] = time.monotonic() - start
    start = time.monotonic()
    build_image(Session(cache=e2e_cache), trixie)
    timings["trixie arm64 runtime image (QEMU)"] = time.monotonic() - start
    start = time.monotonic()
    with serve_proxy() as proxy:
        mirrored = make_target(
            "trixie", "arm64", mirror=f"{proxy.url}/debian", security_mirror=f"{proxy.url}/debian-security"
        )
        with Session(cache=e2e_cache) as session:
            result = package(session, recipe, mirrored, out=tmp_path / "out")
    timings["package hello-ssl (trixie arm64)"] = time.monotonic() - start
    assert any(path.endswith("/InRelease") for path in proxy.served), proxy.served  # it was in the path
    assert proxy.refused == []
    deb = result.package.path
    assert deb.name == f"hello-ssl_{recipe.deb_version}_arm64.deb"
    # trixie renamed libssl3 for the 64-bit time_t transition: the Depends must name the new package.
    depends = _field(deb, "Depends")
    assert depends == result.depends
    assert "libssl3t64" in depends and "libc6" in depends, depends
    spec = _smoke_spec(Packaged(name="hello-ssl", recipe=recipe, deb=deb))
    start = time.monotonic()
    report = testinstall.check_install(
        Session(cache=e2e_cache), [deb], trixie, run=spec.run, expect=spec.expect
    )
    timings["test-install hello-ssl (trixie arm64)"] = time.monotonic() - start
    TIMINGS.update(timings)
    print(f"trixie: {timings}; test-install steps: {_step_times(report)}; Depends: {depends}")
    _assert_passed(report)
    assert report.target == "trixie/arm64"
