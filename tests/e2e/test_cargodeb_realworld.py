"""Real cargo-deb configurations (issue 14): published crates and one upstream tree from Debian's pool.

Each source is the orig tarball Debian ships (for rust-* packages, the crates.io .crate file; for
hx, helix's release tarball), fetched once into the test cache and checked against its pinned
SHA256. Each is read by `load_recipe`, the call `debforge package` makes, with no build. The
expected control fields and asset lists are written here from cargo-deb 3.x's rules
(/work/shared/reference/cargo-deb-metadata.md; kornelski/cargo-deb src/config.rs, src/assets.rs,
src/util/wordsplit.rs); built assets are checked for their mapping only.

The frozen mirror holds 26 of the 227 rust-* program sources and 43 of the 150 other cargo-built
sources of bookworm/trixie/sid; four of those carry [package.metadata.deb] (ripgrep, exa,
rebuilderd, helix). The other five here have none: cargo-deb's defaults on real manifests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from debforge.errors import RecipeError
from debforge.pipeline import multiarch_dest
from debforge.recipe import AUTO, BuiltSource, CargoBuild, FileSource, Overrides, Recipe, load_recipe
from debforge.session import Session
from tests.helpers.upstream import pinned_tarball, unpack_top
from tests.test_recipe import Recording

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

POOL = "http://deb.debian.org/debian/pool/main"


@dataclass(frozen=True, slots=True, kw_only=True)
class Orig:
    """A Debian orig tarball and its SHA256 (from the Sources index of the dist named)."""

    url: str
    sha256: str


ORIGS = {
    # bookworm
    "ripgrep": Orig(url=f"{POOL}/r/rust-ripgrep/rust-ripgrep_13.0.0.orig.tar.gz",
                    sha256="f37c9d2c2bc7e00bd2653e13771397b94e452583da9b9494eabef627618d64bf"),
    "exa": Orig(url=f"{POOL}/r/rust-exa/rust-exa_0.10.1.orig.tar.gz",
                sha256="04b8049a14b743985f26184c67f2f41f8b17268af0e2e7790facdb25b0e2a7b5"),
    "fd-find": Orig(url=f"{POOL}/r/rust-fd-find/rust-fd-find_8.6.0.orig.tar.gz",
                    sha256="c69c79334a9156267f0bd35464d6868854d6bcb29eb6af0eea337760e4850f00"),
    # trixie
    "helix": Orig(url=f"{POOL}/h/hx/hx_25.01.1.orig.tar.gz",
                  sha256="3f2364463e2e58b0e78ea16fd37a23a93ec2b086323b9ca1e6e310d86a9b3663"),
    "difference": Orig(url=f"{POOL}/r/rust-difference/rust-difference_2.0.0.orig.tar.gz",
                       sha256="524cbf6897b527295dff137cec09ecf3a05f4fddffd7dfcd1585403449e74198"),
    "coreutils": Orig(url=f"{POOL}/r/rust-coreutils/rust-coreutils_0.0.30.orig.tar.xz",
                      sha256="5fb5555996d280bd565e3e3681e9e70679cdf1e890d077fb10d1a54dab9ec50f"),
    # sid
    "rebuilderd": Orig(url=f"{POOL}/r/rust-rebuilderd/rust-rebuilderd_0.28.0+ds.orig.tar.gz",
                       sha256="54c569765ad6d103d294648263a0637514e2381901a363fddcdffcf7fec38480"),
    "rpm-sequoia": Orig(url=f"{POOL}/r/rust-rpm-sequoia/rust-rpm-sequoia_1.10.3.orig.tar.gz",
                        sha256="ab7c3f5d4ee3bf5472d4d23707a6903d03544586827385340220a89e4f32904a"),
    "sudo-rs": Orig(url=f"{POOL}/r/rust-sudo-rs/rust-sudo-rs_0.2.15.orig.tar.gz",
                    sha256="2feba7868bd3c057f8362302112d00a18fd6ff458baa3c779c9254b761052a87"),
}  # fmt: skip

Unpack = Callable[[str], Path]  # orig name → its unpacked top directory
# dest → (source relative to the tree, or "built:<name>"; mode, None for the source's own)
Mapping = dict[str, tuple[str, int | None]]


@pytest.fixture
def unpack(e2e_session: Session, tmp_path: Path) -> Unpack:
    """name → the tarball's top directory, unpacked afresh into this test's tmp_path."""

    def make(name: str) -> Path:
        orig = ORIGS[name]
        return unpack_top(pinned_tarball(e2e_session, orig.url, orig.sha256), tmp_path / name)

    return make


def load(path: Path, overrides: Overrides | None = None) -> tuple[Recipe, Recording]:
    """The reader `debforge package` calls, for bookworm arm64."""
    reporter = Recording()
    return load_recipe(path, arch="arm64", reporter=reporter, overrides=overrides), reporter


def refusal(path: Path) -> str:
    with pytest.raises(RecipeError) as info:
        load(path)
    return str(info.value)


def mapping(recipe: Recipe, tree: Path) -> Mapping:
    """The recipe's assets as dest → (source, mode), sources relative to `tree` (normalised)."""
    out: Mapping = {}
    for asset in recipe.assets:
        if isinstance(asset.source, BuiltSource):
            source = f"built:{asset.source.name}"
        else:
            assert isinstance(asset.source, FileSource), asset
            source = os.path.relpath(asset.source.path, tree)
        out[str(asset.dest)] = (source, asset.mode)
    return out


def cargo(recipe: Recipe) -> CargoBuild:
    assert isinstance(recipe.build, CargoBuild)
    return recipe.build


def files_below(root: Path, *, recursive: bool) -> list[str]:
    """Regular files under `root` as relative paths (cargo-deb's globs drop directories)."""
    if not recursive:
        return sorted(p.name for p in root.iterdir() if p.is_file())
    return sorted(
        os.path.relpath(Path(d, f), root)
        for d, _, names in os.walk(root)
        for f in names
        if Path(d, f).is_file()
    )


# ------------------------------------------------------------ with [package.metadata.deb]


def test_ripgrep_13_after_its_build_deb_script(unpack: Unpack) -> None:
    tree = unpack("ripgrep")
    # The crate lacks deployment/deb/: ci/build-deb makes it before `cargo deb`, which fails without it.
    assert "deployment/deb/rg.1" in refusal(tree)
    deploy = tree / "deployment/deb"
    deploy.mkdir(parents=True)
    for generated in ("rg.1", "rg.bash", "rg.fish"):  # ci/build-deb copies these from the build's OUT_DIR
        (deploy / generated).write_text(f"{generated} from the build\n")
    shutil.copy(tree / "complete/_rg", deploy / "_rg")
    recipe, _ = load(tree)
    assert (recipe.name, recipe.deb_version, recipe.section, recipe.priority) == (
        "ripgrep", "13.0.0-1", "utils", "optional",
    )  # fmt: skip
    assert recipe.maintainer == "Andrew Gallant <jamslam@gmail.com>"  # authors[0], no maintainer key
    assert recipe.homepage == "https://github.com/BurntSushi/ripgrep"
    assert recipe.license == "Unlicense OR MIT"
    # cargo-deb writes every line of the 3-line description, then the extended-description.
    assert (
        recipe.description == "ripgrep is a line-oriented search tool that recursively searches the current"
    )
    assert recipe.extended_description == (
        "directory for a regex pattern while respecting gitignore rules. ripgrep has\n"
        "first class support on Windows, macOS and Linux.\n"
        "ripgrep (rg) recursively searches your current directory for a regex pattern.\n"
        "By default, ripgrep will respect your .gitignore and automatically skip hidden\n"
        "files/directories and binary files."
    )
    assert recipe.relations.depends == (AUTO,)  # no depends key: "$auto"
    assert (cargo(recipe).features, cargo(recipe).binaries) == (("pcre2",), ("rg",))
    doc = "/usr/share/doc/ripgrep"
    assert mapping(recipe, tree) == {
        "/usr/bin/rg": ("built:rg", 0o755),
        f"{doc}/COPYING": ("COPYING", 0o644),  # dest ending in / keeps the file name
        f"{doc}/LICENSE-MIT": ("LICENSE-MIT", 0o644),
        f"{doc}/UNLICENSE": ("UNLICENSE", 0o644),
        f"{doc}/CHANGELOG": ("CHANGELOG.md", 0o644),  # any other dest renames
        f"{doc}/README": ("README.md", 0o644),
        f"{doc}/FAQ": ("FAQ.md", 0o644),
        "/usr/share/man/man1/rg.1": ("deployment/deb/rg.1", 0o644),
        "/usr/share/bash-completion/completions/rg": ("deployment/deb/rg.bash", 0o644),
        "/usr/share/fish/vendor_completions.d/rg.fish": ("deployment/deb/rg.fish", 0o644),
        "/usr/share/zsh/vendor-completions/_rg": ("deployment/deb/_rg", 0o644),
    }
    assert recipe.conffiles == ()


def test_exa_0_10_names_files_its_crate_lacks(unpack: Unpack) -> None:
    tree = unpack("exa")
    # 0.10.1 moved its man pages to man/*.md and completions to completions/: cargo-deb fails too.
    assert "contrib/man/exa.1" in refusal(tree)
    (tree / "contrib/man").mkdir(parents=True)
    (tree / "contrib/man/exa.1").write_text(".TH exa 1\n")
    shutil.copy(tree / "completions/completions.bash", tree / "contrib/completions.bash")
    recipe, _ = load(tree)
    assert (recipe.name, recipe.deb_version, recipe.section) == ("exa", "0.10.1-1", "utils")
    assert recipe.maintainer == "Benjamin Sago <ogham@bsago.me>"
    assert recipe.homepage == "https://the.exa.website/"
    assert (recipe.license_file, recipe.license_file_skip) == (tree / "LICENCE", 0)  # ["LICENCE"]: skip 0
    assert recipe.relations.depends == (AUTO,)  # depends = "$auto"
    assert recipe.extended_description == "exa is a replacement for ls written in Rust."
    assert mapping(recipe, tree) == {
        "/usr/bin/exa": ("built:exa", 0o755),  # "0755" is octal, leading zero and all
        "/usr/share/man/man1/exa.1": ("contrib/man/exa.1", 0o644),
        "/etc/bash_completion.d/exa": ("contrib/completions.bash", 0o644),
    }
    assert recipe.conffiles == (PurePosixPath("/etc/bash_completion.d/exa"),)  # every etc/ asset


def test_rebuilderd_as_a_crate_and_in_its_upstream_layout(unpack: Unpack, tmp_path: Path) -> None:
    crate = unpack("rebuilderd")
    # Its assets live in ../contrib of the upstream repository, outside the crate: cargo-deb fails too.
    assert "../contrib/confs/rebuilderd.conf" in refusal(crate)
    # The upstream layout: the crate is daemon/, contrib/ beside it (empty files: only paths matter here).
    repo = tmp_path / "repo"
    repo.mkdir()
    tree = crate.rename(repo / "daemon")
    for name in (
        "confs/rebuilderd.conf",
        *(f"systemd/rebuilderd.{s}" for s in ("service", "sysusers", "tmpfiles")),
    ):
        (repo / "contrib" / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / "contrib" / name).touch()
    recipe, reporter = load(tree)
    assert (recipe.name, recipe.deb_version, recipe.maintainer) == (
        "rebuilderd",
        "0.28.0-1",
        "kpcyrd <git@rxv.cc>",
    )
    assert recipe.homepage == "https://github.com/kpcyrd/rebuilderd"  # no homepage/documentation: repository
    assert recipe.relations.depends == (AUTO, "systemd", "rebuildctl")
    assert recipe.extended_description is None  # readme = false
    assert mapping(recipe, repo) == {
        "/usr/bin/rebuilderd": ("built:rebuilderd", 0o755),
        "/etc/rebuilderd.conf": ("contrib/confs/rebuilderd.conf", 0o600),
        "/usr/lib/systemd/system/rebuilderd.service": ("contrib/systemd/rebuilderd.service", 0o640),
        "/usr/lib/sysusers.d/rebuilderd.conf": ("contrib/systemd/rebuilderd.sysusers", 0o644),
        "/usr/lib/tmpfiles.d/rebuilderd.conf": ("contrib/systemd/rebuilderd.tmpfiles", 0o644),
    }
    assert recipe.conffiles == (PurePosixPath("/etc/rebuilderd.conf"),)
    # maintainer-scripts = "daemon/debian" is relative to the package dir (daemon/daemon/debian): none there.
    assert (recipe.scripts_dir, recipe.scripts) == (None, ())
    assert any("'daemon/debian' does not exist" in w for w in reporter.warnings)


def test_helix_workspace_member_with_recursive_globs(unpack: Unpack) -> None:
    tree = unpack("helix")
    recipe, _ = load(tree)  # the virtual root: its single default-members entry, helix-term
    assert recipe.recipe_file == tree / "helix-term/Cargo.toml"
    assert (recipe.name, recipe.deb_version) == ("helix", "25.1.1-1")  # name override; [workspace.package]
    assert (recipe.maintainer, recipe.license) == ("Blaž Hrastnik <blaz@mxxn.io>", "MPL-2.0")
    assert recipe.homepage == "https://helix-editor.com"
    assert (cargo(recipe).binaries, cargo(recipe).packages) == (("hx",), ("helix-term",))
    runtime, lib = tree / "runtime", "/usr/lib/helix/runtime"
    expected: Mapping = {
        "/usr/lib/helix/hx": ("built:hx", 0o755),
        "/usr/bin/hx": ("contrib/hx_launcher.sh", 0o755),
        "/usr/share/doc/helix/README.md": ("README.md", 0o644),
        "/usr/share/bash-completion/completions/hx": ("contrib/completion/hx.bash", 0o644),
        "/usr/share/fish/vendor_completions.d/hx.fish": ("contrib/completion/hx.fish", 0o644),
        "/usr/share/zsh/vendor-completions/_hx": ("contrib/completion/hx.zsh", 0o644),
        "/usr/share/applications/Helix.desktop": ("contrib/Helix.desktop", 0o644),
        "/usr/share/icons/hicolor/256x256/apps/helix.png": ("contrib/helix.png", 0o644),
    }
    # `dir/*`: the files directly in dir (dotfiles too), by name; `dir/**/*`: every file below dir,
    # by its path below the glob's first wildcard component (src/assets.rs UnresolvedAsset::resolve).
    for sub, recursive in (("", False), ("grammars", False), ("queries", True), ("themes", True)):
        for rel in files_below(runtime / sub, recursive=recursive):
            expected[str(PurePosixPath(lib, sub, rel))] = (str(Path("runtime", sub, rel)), 0o644)
    assert len(expected) > 800  # the queries and themes of ~300 languages
    assert mapping(recipe, tree) == expected


# ------------------------------------------------------------ cargo-deb's defaults


def test_fd_find_takes_every_default(unpack: Unpack) -> None:
    tree = unpack("fd-find")
    recipe, _ = load(tree)
    assert (recipe.name, recipe.deb_version, recipe.priority, recipe.section) == (
        "fd-find", "8.6.0-1", "optional", None,
    )  # fmt: skip
    assert recipe.maintainer == "David Peter <mail@david-peter.de>"
    assert recipe.copyright == "David Peter <mail@david-peter.de>"  # authors joined
    assert recipe.homepage == "https://github.com/sharkdp/fd"
    assert recipe.extended_description == (tree / "README.md").read_text().strip()  # readme fallback
    assert mapping(recipe, tree) == {  # $auto: the [[bin]] fd, and the readme into the doc dir
        "/usr/bin/fd": ("built:fd", 0o755),
        "/usr/share/doc/fd-find/README.md": ("README.md", 0o644),
    }


def test_difference_homepage_is_its_documentation_url(unpack: Unpack) -> None:
    recipe, _ = load(unpack("difference"))
    assert recipe.homepage == "https://johannhof.github.io/difference.rs/difference/index.html"
    assert [str(a.dest) for a in recipe.assets] == [
        "/usr/bin/difference",
        "/usr/share/doc/difference/README.md",
    ]


def test_coreutils_long_synopsis_is_wrapped_at_79(unpack: Unpack) -> None:
    tree = unpack("coreutils")
    recipe, _ = load(tree)
    assert (
        recipe.description == "coreutils ~ GNU coreutils (updated); implemented as universal (cross-platform)"
    )
    assert recipe.extended_description is not None
    assert recipe.extended_description.startswith("utils, written in Rust\n<!-- markdownlint-disable")
    assert recipe.maintainer == "uutils developers"  # verbatim, as cargo-deb writes it (with a warning)
    assert set(mapping(recipe, tree)) == {
        "/usr/bin/coreutils",
        "/usr/bin/uudoc",
        "/usr/share/doc/coreutils/README.md",
    }


def test_rpm_sequoia_cdylib_goes_to_usr_lib_and_moves_with_multiarch(unpack: Unpack) -> None:
    tree = unpack("rpm-sequoia")
    recipe, _ = load(tree)
    assert cargo(recipe).cdylibs == ("rpm_sequoia",)
    assert mapping(recipe, tree) == {
        "/usr/lib/librpm_sequoia.so": ("built:librpm_sequoia.so", 0o644),
        "/usr/share/doc/rpm-sequoia/README.md": ("README.md", 0o644),
    }
    same, _ = load(tree, Overrides(multiarch="same"))
    assert same.multi_arch == "same"
    lib = next(a.dest for a in same.assets if isinstance(a.source, BuiltSource))
    assert multiarch_dest(lib, "aarch64-linux-gnu") == PurePosixPath(
        "/usr/lib/aarch64-linux-gnu/librpm_sequoia.so"
    )


def test_sudo_rs_without_authors_needs_a_maintainer(unpack: Unpack) -> None:
    tree = unpack("sudo-rs")
    assert "Policy 5.3" in refusal(tree)  # cargo-deb would write no Maintainer field: a deliberate difference
    recipe, reporter = load(tree, Overrides(maintainer="sudo-rs packagers"))
    assert (
        recipe.maintainer == "sudo-rs packagers"
    )  # --maintainer verbatim, warned about for lacking an email
    assert any("sudo-rs packagers" in w for w in reporter.warnings)
    assert recipe.copyright is None
    assert set(mapping(recipe, tree)) == {
        "/usr/bin/su",
        "/usr/bin/sudo",
        "/usr/bin/visudo",
        "/usr/share/doc/sudo-rs/README.md",
    }
