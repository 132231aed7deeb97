"""`[build] static = true` / `--static` for the C kinds: the flags each kind gets, the recipe keys,
and the check that a static build's ELFs need no loader and no library (real gcc, real pkgconf)."""

from __future__ import annotations

import shlex
import subprocess
import textwrap
from pathlib import Path

import pytest

from debforge.builder import c, crossfiles
from debforge.builder.crossfiles import CrossPaths
from debforge.builder.static import check_static
from debforge.dists import make_target
from debforge.errors import BuildError, RecipeError
from debforge.pipeline.policy import generated_overrides
from debforge.recipe import CBuild, Recipe, load_recipe
from debforge.recipe.prebuilt import with_static
from debforge.report import NullReporter
from tests.conftest import require_tool

ARM64 = make_target("bookworm", "arm64")
PATHS = c.PATHS


def _recipe(tmp_path: Path, build: str) -> Recipe:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "debforge.toml").write_text(
        textwrap.dedent("""\
        [package]
        name = "demo"
        version = "1.0"
        maintainer = "Jane <jane@example.org>"
        description = "a demo"
        """)
        + build
    )
    return load_recipe(tmp_path, arch="arm64", reporter=NullReporter())


def _spec(kind: str, *, static: bool, tmp_path: Path) -> CBuild:
    return CBuild(kind=kind, source=tmp_path, static=static, script=("make",) if kind == "script" else ())  # type: ignore[arg-type]


# --------------------------------------------------------------------------- recipes


def test_static_is_read_for_a_c_kind_and_made_by_with_static(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, '[build]\nkind = "make"\nsource = "src"\nstatic = true\n')
    assert isinstance(recipe.build, CBuild) and recipe.build.static
    plain = _recipe(tmp_path, '[build]\nkind = "cmake"\nsource = "src"\n')
    assert isinstance(plain.build, CBuild) and not plain.build.static
    made = with_static(plain)
    assert isinstance(made.build, CBuild) and made.build.static


def test_static_on_a_prebuilt_kind_is_one_sentence_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "prog").write_bytes(b"\x7fELF")
    with pytest.raises(
        RecipeError, match=r"'static' is for kinds that compile \(cargo and C\), not 'binary'"
    ):
        _recipe(tmp_path, '[build]\nkind = "binary"\nbinary = "prog"\nstatic = true\n')
    with pytest.raises(RecipeError, match="'toolchain-dist' is for kind 'cargo' only, not 'make'"):
        _recipe(tmp_path, '[build]\nkind = "make"\nsource = "src"\ntoolchain-dist = "trixie"\n')


def test_a_static_c_build_gets_the_statically_linked_binary_override(tmp_path: Path) -> None:
    plain = _recipe(tmp_path, '[build]\nkind = "make"\nsource = "src"\n')
    assert "statically-linked-binary" not in {o.tag for o in generated_overrides(plain)}
    assert "statically-linked-binary" in {o.tag for o in generated_overrides(with_static(plain))}


# --------------------------------------------------------------------------- flags per kind


def test_the_environment_links_static_after_the_recipes_own_ldflags() -> None:
    plain = crossfiles.cross_env(ARM64, PATHS, (), build="x86_64-linux-gnu")
    assert plain["LDFLAGS"] == "-Wl,-z,relro"
    static = crossfiles.cross_env(ARM64, PATHS, (), build="x86_64-linux-gnu", static=True)
    assert static["LDFLAGS"] == "-Wl,-z,relro -static"
    own = crossfiles.cross_env(ARM64, PATHS, (("LDFLAGS", "-Wl,--as-needed"),), build="x", static=True)
    assert own["LDFLAGS"] == "-Wl,--as-needed -static"


@pytest.mark.parametrize("kind", ["autotools", "cmake", "meson", "script"])
def test_the_configure_kinds_read_static_ldflags_from_the_container_env(tmp_path: Path, kind: str) -> None:
    env = dict(c._env(_spec(kind, static=True, tmp_path=tmp_path), ARM64, "x86_64-linux-gnu", PATHS))
    assert env["LDFLAGS"].split()[-1] == "-static"
    plain = dict(c._env(_spec(kind, static=False, tmp_path=tmp_path), ARM64, "x86_64-linux-gnu", PATHS))
    assert "-static" not in plain["LDFLAGS"].split()


def test_plain_make_gets_ldflags_static_on_its_command_line(tmp_path: Path) -> None:
    assert crossfiles.make_variables(ARM64, PATHS, static=True)[-1] == "LDFLAGS=-static"
    assert not any(v.startswith("LDFLAGS=") for v in crossfiles.make_variables(ARM64, PATHS))
    script = c.build_script(_spec("make", static=True, tmp_path=tmp_path), ARM64, build="x86_64-linux-gnu")
    makes = [shlex.split(line) for line in script.splitlines() if line.startswith("make ")]
    assert makes and all("LDFLAGS=-static" in words for words in makes)
    installs = [line for line in script.splitlines() if "make install" in line]
    assert installs and all("LDFLAGS=-static" in line for line in installs)


def test_meson_prefers_static_libraries(tmp_path: Path) -> None:
    assert "-Dprefer_static=true" in crossfiles.meson_args(ARM64, PATHS, static=True)
    assert not any("prefer_static" in a for a in crossfiles.meson_args(ARM64, PATHS))
    script = c.build_script(_spec("meson", static=True, tmp_path=tmp_path), ARM64, build="x86_64-linux-gnu")
    assert "-Dprefer_static=true" in script


def test_the_static_pkg_config_wrapper_brings_libs_private(tmp_path: Path) -> None:
    require_tool("pkg-config")
    sysroot, cross = tmp_path / "sysroot", tmp_path / "cross"
    pcdir = sysroot / "usr/lib/aarch64-linux-gnu/pkgconfig"
    pcdir.mkdir(parents=True)
    cross.mkdir()
    (pcdir / "demo.pc").write_text(
        "Name: demo\nDescription: d\nVersion: 1.2\nLibs: -ldemo\nLibs.private: -lz -lm\n"
    )
    paths = CrossPaths(sysroot=str(sysroot), cross=str(cross), stage=str(tmp_path / "stage"))

    def libs(static: bool) -> list[str]:
        wrapper = cross / "pkg-config"
        wrapper.write_text(crossfiles.pkg_config_wrapper(ARM64, paths, static=static))
        wrapper.chmod(0o755)
        done = subprocess.run(
            [wrapper, "--libs", "demo"], capture_output=True, text=True, check=True, timeout=10,
            env={"PATH": f"{cross}:/usr/bin:/bin"},
        )  # fmt: skip
        return done.stdout.split()

    assert libs(static=False) == ["-ldemo"]
    assert libs(static=True) == ["-ldemo", "-lz", "-lm"]


# --------------------------------------------------------------------------- the check


def _compile(tmp_path: Path, name: str, *flags: str) -> Path:
    require_tool("gcc")
    source = tmp_path / "hello.c"
    source.write_text("int main(void) { return 0; }\n")
    out = tmp_path / name
    subprocess.run(["gcc", *flags, "-o", out, source], check=True, timeout=60, capture_output=True)
    return out


def test_a_static_elf_passes_and_a_dynamic_one_is_one_sentence_naming_it(tmp_path: Path) -> None:
    static = _compile(tmp_path, "hello-static", "-static")
    man = tmp_path / "hello.1.gz"
    man.write_bytes(b"\x1f\x8b not an ELF")
    check_static([("usr/bin/hello", static), ("usr/share/man/man1/hello.1.gz", man)], hint="h")
    dynamic = _compile(tmp_path, "hello-dynamic")
    with pytest.raises(BuildError) as caught:
        check_static([("usr/bin/hello", static), ("usr/bin/dyn", dynamic)], hint="link it static")
    assert str(caught.value).startswith("the static build of usr/bin/dyn still needs libc.so.6")
    assert caught.value.hint == "link it static"
