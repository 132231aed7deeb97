"""Prebuilt trees (a Nix result/): FHS layout, ELF repair with private libraries, store-path rewriting.

The trees are built by tests/helpers/nixtree.py from real cross-compiled arm64 files re-pointed
into /nix/store with patchelf; no network and no Docker here (tests/e2e/test_tree_e2e.py installs).
"""

from __future__ import annotations

import dataclasses
import shutil
import tarfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import pytest

from debforge.builder import Artifact, Artifacts
from debforge.builder.cargo import IN_CONTAINER, cross_env
from debforge.builder.tree import is_toolchain_runtime, layout_tree, stage_tree
from debforge.dists import make_target
from debforge.elf import patch_elf, read_elf
from debforge.errors import BuildError, PackageError, RecipeError
from debforge.pipeline.elfs import repair_elfs, repair_file_assets, with_repaired_assets
from debforge.pipeline.policy import generated_overrides
from debforge.pipeline.textfix import StoreFix, check_no_store_paths, rewrite_store_paths
from debforge.recipe import (
    Asset,
    BinaryBuild,
    CargoBuild,
    FileSource,
    TreeBuild,
    binary_recipe,
    load_recipe,
)
from debforge.recipe.model import DEFAULT_TREE_LAYOUT
from debforge.recipe.prebuilt import with_static
from debforge.report import NullReporter
from tests.conftest import require_tool
from tests.helpers.nixtree import BASH, SELF, make_nix_tree

TARGET = make_target("bookworm", "arm64")
LAYOUT = dict(DEFAULT_TREE_LAYOUT)
EXPECTED = {
    "etc/greet.conf",
    "usr/bin/greet",
    "usr/bin/greet-wrapper",
    "usr/lib/greet/libgreet.so.1",
    "usr/lib/greet/libgreethelper.so.1",
    "usr/share/applications/greet.desktop",
}


@pytest.fixture(scope="module")
def nix_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("aarch64-linux-gnu-gcc")
    require_tool("patchelf")
    return make_nix_tree(tmp_path_factory.mktemp("nix") / "result")


def _zlib1g(soname: str) -> str | None:
    """The Debian lookup for the test trees: bookworm's zlib1g ships libz.so.1, nothing else is known."""
    return "zlib1g" if soname == "libz.so.1" else None


def _laid_out(tmp_path: Path, *inputs: Path) -> dict[str, Path]:
    root = stage_tree(TreeBuild(inputs=inputs), tmp_path / "work")
    laid = layout_tree(root, package="greet", layout=LAYOUT, debian=_zlib1g)
    return {str(f.dest): f.source for f in laid.files}


def test_tree_is_laid_out_in_the_fhs_without_toolchain_or_build_files(nix_tree: Path, tmp_path: Path) -> None:
    files = _laid_out(tmp_path, nix_tree)
    assert set(files) == EXPECTED  # libc.so.6, libz.so.1, include/, lib/pkgconfig/, nix-support/ left out
    assert read_elf(files["usr/lib/greet/libgreet.so.1"]).soname == "libgreet.so.1"
    laid = layout_tree(files["usr/bin/greet"].parents[1], package="greet", layout=LAYOUT, debian=_zlib1g)
    assert (
        "lib/libz.so.1",
        "libz.so.1 is shipped by zlib1g, whose copy is used (and depended on)",
    ) in laid.skipped
    unknown = layout_tree(files["usr/bin/greet"].parents[1], package="greet", layout=LAYOUT)
    assert "usr/lib/greet/libz.so.1" in {str(f.dest) for f in unknown.files}  # not in Debian: kept private
    modes = {str(f.dest): f.mode for f in laid.files}
    assert modes["usr/bin/greet-wrapper"] == 0o755  # Nix's 0555 → Policy 10.9
    assert modes["usr/lib/greet/libgreet.so.1"] == 0o644  # a shared library is not executable
    assert modes["etc/greet.conf"] == 0o644


def test_tarball_and_loose_files_give_the_same_layout(nix_tree: Path, tmp_path: Path) -> None:
    tarball = tmp_path / "result.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(nix_tree, arcname="result")
    assert set(_laid_out(tmp_path / "a", tarball)) == EXPECTED
    loose = _laid_out(tmp_path / "b", nix_tree / "bin/greet", nix_tree / "bin/greet-wrapper")
    assert set(loose) == {"usr/bin/greet", "usr/bin/greet-wrapper"}


def test_unknown_top_level_directory_is_refused_with_the_layout_fix(tmp_path: Path) -> None:
    (tmp_path / "t/opt").mkdir(parents=True)
    (tmp_path / "t/opt/x").write_text("x\n")
    with pytest.raises(BuildError, match=r"has opt/ \(opt/x\), which has no place") as info:
        _laid_out(tmp_path, tmp_path / "t")
    assert "layout" in (info.value.hint or "")


def test_toolchain_runtime_names() -> None:
    assert is_toolchain_runtime("libgcc_s.so.1")
    assert is_toolchain_runtime("libpthread.so.0")
    assert not is_toolchain_runtime("libgreet.so.1")
    assert not is_toolchain_runtime("libcurl.so.4")


def _artifacts(files: dict[str, Path]) -> Artifacts:
    return Artifacts(
        files=tuple(Artifact(source=p, name=n, arch="arm64", sha256="") for n, p in files.items())
    )


def test_repair_sets_loader_private_runpath_and_leaves_no_store_bytes(nix_tree: Path, tmp_path: Path) -> None:
    files = _laid_out(tmp_path, nix_tree)
    infos = {
        i.path: i
        for i in repair_elfs(
            _artifacts(files), TARGET, NullReporter(), private=PurePosixPath("/usr/lib/greet")
        )
    }
    elfs = ("usr/bin/greet", "usr/lib/greet/libgreet.so.1", "usr/lib/greet/libgreethelper.so.1")
    program, lib, helper = (infos[files[name]] for name in elfs)
    assert program.interpreter == TARGET.ld_so
    assert (program.rpath, program.runpath) == ((), ("$ORIGIN/../lib/greet",))
    # A private library needing another private library finds it beside itself.
    assert lib.needed == ("libgreethelper.so.1", "libc.so.6")
    assert (lib.interpreter, lib.rpath, lib.runpath) == (None, (), ("$ORIGIN",))
    assert (helper.interpreter, helper.rpath, helper.runpath) == (None, (), ())  # no private NEEDED
    for name in elfs:
        assert b"/nix/store" not in files[name].read_bytes()
    check_no_store_paths([(PurePosixPath("/", n), files[n]) for n in elfs])


def test_runpath_without_room_is_added_by_patchelf(tmp_path: Path) -> None:
    require_tool("aarch64-linux-gnu-gcc")
    require_tool("patchelf")
    src = tmp_path / "m.c"
    src.write_text("int main(void) { return 0; }\n")
    program = tmp_path / "m"
    from debforge.run import run

    run(["aarch64-linux-gnu-gcc", "-o", program, src])
    patched = tmp_path / "m2"
    patched.write_bytes(patch_elf(program, interpreter=TARGET.ld_so, runpath="$ORIGIN/../lib/m"))
    assert read_elf(patched).runpath == ("$ORIGIN/../lib/m",)
    assert patch_elf(patched, interpreter=TARGET.ld_so, runpath="$ORIGIN/../lib/m") == patched.read_bytes()


def _fix(shipped: set[str]) -> StoreFix:
    def lookup(names: Sequence[str], paths: Sequence[str]) -> tuple[str, str | None] | None:
        # nixpkgs' bash-interactive-5.2p37 is guessed as Debian's bash-interactive, then bash.
        wanted = tuple(names) == ("bash-interactive", "bash") and "/bin/bash" in paths
        return ("/bin/bash", None) if wanted else None  # bash is Essential: no Depends

    return StoreFix(
        layout=LAYOUT, shipped=frozenset(PurePosixPath(p) for p in shipped), lookup=lookup, target=TARGET
    )


def test_shebang_and_desktop_store_paths_are_rewritten(nix_tree: Path, tmp_path: Path) -> None:
    files = _laid_out(tmp_path, nix_tree)
    shipped = {f"/{name}" for name in files}
    pairs = [
        (PurePosixPath("/", n), files[n])
        for n in ("usr/bin/greet-wrapper", "usr/share/applications/greet.desktop")
    ]
    assert rewrite_store_paths(pairs, _fix(shipped)) == ()
    assert files["usr/bin/greet-wrapper"].read_text() == '#!/bin/bash\nexec /usr/bin/greet "$@"\n'
    assert "Exec=/usr/bin/greet\n" in files["usr/share/applications/greet.desktop"].read_text()
    check_no_store_paths(pairs)


PYTHON = "/nix/store/qh3zhi5vmd4nkr3hb5bk3zw4vvbhymzk-python3-3.12.8"
COREUTILS = "/nix/store/8m1qkpy1c7yg7v1cyvj1gbrzpaf6nkgd-coreutils-9.5"


def _debian(table: dict[str, tuple[str, str | None]]) -> StoreFix:
    """A StoreFix whose Debian lookup answers from `table` (guessed package → (path, Depends or None))."""

    def lookup(names: Sequence[str], paths: Sequence[str]) -> tuple[str, str | None] | None:
        found = [table[n] for n in names if n in table and table[n][0] in paths]
        return found[0] if found else None

    shipped = frozenset(PurePosixPath(p) for p in ("/usr/bin/greet", "/usr/lib/systemd/system/greet.service"))
    return StoreFix(layout=LAYOUT, shipped=shipped, lookup=lookup, target=TARGET)


def test_systemd_unit_exec_lines_are_rewritten_to_fhs_paths(nix_tree: Path, tmp_path: Path) -> None:
    tree = tmp_path / "result"
    shutil.copytree(nix_tree, tree, symlinks=True)
    (tree / "lib/systemd/system").mkdir(parents=True)
    (tree / "lib/systemd/system/greet.service").write_text(
        f"[Service]\nExecStartPre={COREUTILS}/bin/true\nExecStart={SELF}/bin/greet --loud\n"
    )
    files = _laid_out(tmp_path, tree)
    unit = files["usr/lib/systemd/system/greet.service"]  # where systemd looks for a package's units
    fix = _debian({"coreutils": ("/bin/true", None)})  # coreutils is Essential: no Depends
    assert rewrite_store_paths([(PurePosixPath("/usr/lib/systemd/system/greet.service"), unit)], fix) == ()
    assert unit.read_text() == "[Service]\nExecStartPre=/bin/true\nExecStart=/usr/bin/greet --loud\n"


def test_a_debian_target_that_is_not_essential_joins_depends(tmp_path: Path) -> None:
    script = tmp_path / "greet-py"
    script.write_text(f"#!{PYTHON}/bin/python3\nprint('hello')\n")
    desktop = tmp_path / "greet-py.desktop"
    desktop.write_text(f"[Desktop Entry]\nExec={PYTHON}/bin/python3 -m greet\n")
    fix = _debian({"python3": ("/usr/bin/python3", "python3")})  # python3 is not Essential
    pairs = [
        (PurePosixPath("/usr/bin/greet-py"), script),
        (PurePosixPath("/usr/share/applications/greet-py.desktop"), desktop),
    ]
    assert rewrite_store_paths(pairs, fix) == ("python3",)  # once, however many files name it
    assert script.read_text() == "#!/usr/bin/python3\nprint('hello')\n"
    assert desktop.read_text() == "[Desktop Entry]\nExec=/usr/bin/python3 -m greet\n"


def test_pkg_config_files_are_left_out_and_a_stray_one_cannot_leak(nix_tree: Path, tmp_path: Path) -> None:
    """Dev files are not shipped (README): lib/pkgconfig/ and share/pkgconfig/ stay out, and a .pc
    elsewhere naming the store is rewritten or refused like any text file, never shipped as is."""
    tree = tmp_path / "result"
    shutil.copytree(nix_tree, tree, symlinks=True)
    (tree / "share/pkgconfig").mkdir()
    (tree / "share/pkgconfig/greet-data.pc").write_text(f"prefix={SELF}\nName: greet-data\n")
    (tree / "share/greet").mkdir()
    (tree / "share/greet/greet.pc").write_text(f"prefix={SELF}\nlibdir={SELF}/lib\nName: greet\n")
    files = _laid_out(tmp_path, tree)
    assert [n for n in files if n.endswith(".pc")] == ["usr/share/greet/greet.pc"]
    stray = (PurePosixPath("/usr/share/greet/greet.pc"), files["usr/share/greet/greet.pc"])
    with pytest.raises(PackageError, match=r"/usr/share/greet/greet.pc line 1 names .*-greet-1.0,"):
        rewrite_store_paths([stray], _debian({}))
    with pytest.raises(PackageError, match=r"/usr/share/greet/greet.pc still holds .*-greet-1.0 \(line 1\)"):
        check_no_store_paths([stray])


def test_store_path_nothing_provides_is_refused_with_file_and_line(tmp_path: Path) -> None:
    unit = tmp_path / "greet.service"
    unit.write_text(f"[Service]\nExecStart={SELF}/bin/missing\n")
    with pytest.raises(
        PackageError, match=r"/usr/lib/systemd/system/greet.service line 2 names .*-greet-1.0/bin/missing"
    ):
        rewrite_store_paths([(PurePosixPath("/usr/lib/systemd/system/greet.service"), unit)], _fix(set()))


def test_store_bytes_left_in_an_elf_are_refused(tmp_path: Path) -> None:
    blob = tmp_path / "x"
    blob.write_bytes(b"\x7fELF" + bytes(60) + f"{BASH}/bin/bash\0".encode())
    with pytest.raises(
        PackageError, match=r"/usr/bin/x still holds .*bash-interactive-5.2p37/bin/bash \(at byte 64\)"
    ):
        check_no_store_paths([(PurePosixPath("/usr/bin/x"), blob)])


def test_binary_recipe_takes_a_tree_or_one_elf(nix_tree: Path) -> None:
    tree = binary_recipe([nix_tree], name="greet", version="1.0", maintainer="J <j@example.org>")
    assert isinstance(tree.build, TreeBuild) and tree.assets == ()
    one = binary_recipe(nix_tree / "bin/greet", name="greet", version="1.0", maintainer="J <j@example.org>")
    assert isinstance(one.build, BinaryBuild)
    with pytest.raises(RecipeError, match=r"--binary .*nothere does not exist"):
        binary_recipe([nix_tree / "nothere"], name="greet", version="1.0", maintainer="J <j@example.org>")


def test_tree_recipe_with_a_layout_override(nix_tree: Path, tmp_path: Path) -> None:
    (tmp_path / "debforge.toml").write_text(
        '[package]\nname = "greet"\nversion = "1.0"\nmaintainer = "J <j@example.org>"\n'
        f'description = "say hello"\n\n[build]\nkind = "tree"\ntree = "{nix_tree}"\n'
        'layout = { share = "/usr/share", opt = "/opt/greet" }\n'
    )
    recipe = load_recipe(tmp_path, arch="arm64", reporter=NullReporter())
    assert isinstance(recipe.build, TreeBuild)
    assert recipe.build.inputs == (nix_tree,)
    assert dict(recipe.build.layout)["opt"] == PurePosixPath("/opt/greet")
    (tmp_path / "debforge.toml").write_text(
        (tmp_path / "debforge.toml").read_text().replace('"/opt/greet"', '"opt/greet"')
    )
    with pytest.raises(RecipeError, match="'opt' must map to an absolute directory"):
        load_recipe(tmp_path, arch="arm64", reporter=NullReporter())


# --------------------------------------------------------------------------- static builds

HELLO = Path(__file__).resolve().parents[1] / "recipes/hello-ssl"


def test_static_flag_and_key_make_a_static_cargo_build(tmp_path: Path) -> None:
    recipe = load_recipe(HELLO, arch="arm64", reporter=NullReporter())
    assert isinstance(recipe.build, CargoBuild) and not recipe.build.static
    static = with_static(recipe)
    assert isinstance(static.build, CargoBuild) and static.build.static
    env = cross_env(TARGET, IN_CONTAINER, std=True, static=True)
    assert env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS"].endswith(" -Ctarget-feature=+crt-static")
    assert env["PKG_CONFIG_ALL_STATIC"] == "1"
    assert "PKG_CONFIG_ALL_STATIC" not in cross_env(TARGET, IN_CONTAINER, std=True)
    project = tmp_path / "p"
    shutil.copytree(HELLO, project)
    toml = project / "debforge.toml"
    toml.write_text(toml.read_text().replace('kind = "cargo"\n', 'kind = "cargo"\nstatic = true\n'))
    parsed = load_recipe(project, arch="arm64", reporter=NullReporter())
    assert isinstance(parsed.build, CargoBuild) and parsed.build.static


def test_a_static_build_overrides_lintians_statically_linked_binary() -> None:
    recipe = load_recipe(HELLO, arch="arm64", reporter=NullReporter())
    assert "statically-linked-binary" not in {o.tag for o in generated_overrides(recipe)}
    (static,) = [o for o in generated_overrides(with_static(recipe)) if o.tag == "statically-linked-binary"]
    assert "on purpose" in static.reason


def test_static_is_refused_for_a_prebuilt_tree(nix_tree: Path) -> None:
    tree = binary_recipe([nix_tree], name="greet", version="1.0", maintainer="J <j@example.org>")
    with pytest.raises(
        RecipeError, match=r"--static builds Rust \(kind cargo\) and C projects; .* is of kind 'tree'"
    ):
        with_static(tree)


def test_elf_file_assets_are_repaired_in_a_copy(nix_tree: Path, tmp_path: Path) -> None:
    """An ELF file asset of a recipe gets the target's loader too; the project's file is untouched."""
    project_file = tmp_path / "helper"
    shutil.copy(nix_tree / "bin/greet", project_file)
    before = project_file.read_bytes()
    recipe = binary_recipe(
        nix_tree / "bin/greet", name="greet", version="1.0", maintainer="J <j@example.org>"
    )
    asset = Asset(source=FileSource(path=project_file), dest=PurePosixPath("/usr/libexec/greet/helper"))
    recipe = dataclasses.replace(recipe, assets=(*recipe.assets, asset))
    (tmp_path / "work").mkdir()
    pairs = repair_file_assets(recipe, TARGET, tmp_path / "work")
    ((original, copy),) = pairs
    assert original == project_file and copy != project_file
    assert project_file.read_bytes() == before
    assert read_elf(copy).interpreter == TARGET.ld_so
    swapped = with_repaired_assets(recipe, dict(pairs))
    assert swapped.assets[-1].source == FileSource(path=copy)


def test_lib_package_directory_is_the_private_directory(tmp_path: Path) -> None:
    (tmp_path / "t/lib/greet/plugins").mkdir(parents=True)
    (tmp_path / "t/lib/greet/plugins/data.txt").write_text("x\n")
    (tmp_path / "t/lib/other").mkdir(parents=True)
    (tmp_path / "t/lib/other/y").write_text("y\n")
    assert set(_laid_out(tmp_path, tmp_path / "t")) == {
        "usr/lib/greet/plugins/data.txt",
        "usr/lib/greet/other/y",
    }
