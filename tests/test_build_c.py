"""C/C++ kinds: recipe parsing, the generated cross files, the build script, the staging tree, errors.

Real oracles where the host has them: cmake reads the toolchain file, configparser and the
Meson literal rules read the cross file, the host's pkg-config runs the wrapper against a sysroot
with a .pc file, and `sh -n` parses every generated script. The container build itself is
covered by tests/e2e/test_c_projects_e2e.py.
"""

from __future__ import annotations

import configparser
import gzip
import shlex
import subprocess
import textwrap
from pathlib import Path, PurePosixPath

import pytest

from debforge import builder
from debforge.builder import Artifact, Artifacts, c, crossfiles
from debforge.builder.crossfiles import CrossPaths
from debforge.builder.staging import collect_stage
from debforge.deb import FileFromPath, Symlink
from debforge.dists import make_target
from debforge.errors import BuildError, RecipeError
from debforge.pipeline import package_spec
from debforge.pipeline.policy import SourceDate
from debforge.recipe import C_KINDS, INSTALL, CBuild, InstallTree, load_recipe
from debforge.report import NullReporter
from tests.conftest import require_tool

ARM64 = make_target("bookworm", "arm64")
ARMHF = make_target("bookworm", "armhf")
ROOT = Path(__file__).resolve().parent.parent


def _recipe_dir(tmp_path: Path, build: str, *, extra: str = "") -> Path:
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
        + extra
    )
    return tmp_path


def _load(path: Path) -> object:
    return load_recipe(path, arch="arm64", reporter=NullReporter())


# --------------------------------------------------------------------------- recipes


@pytest.mark.parametrize("kind", [k for k in C_KINDS if k != "script"])
def test_every_c_kind_parses_with_install_as_default_assets(tmp_path: Path, kind: str) -> None:
    build = f'[build]\nkind = "{kind}"\nsource = "src"\nconfigure-args = ["-DFOO=1"]\n'
    recipe = load_recipe(_recipe_dir(tmp_path, build), arch="arm64", reporter=NullReporter())
    assert isinstance(recipe.build, CBuild)
    assert recipe.build.kind == kind
    assert recipe.build.configure_args == ("-DFOO=1",)
    assert [type(a.source) for a in recipe.assets] == [InstallTree]
    assert str(recipe.assets[0].source) == INSTALL


def test_make_recipe_keeps_arguments_env_subdir_and_build_depends(tmp_path: Path) -> None:
    (tmp_path / "src" / "build" / "unix").mkdir(parents=True)
    build = textwrap.dedent("""\
        [build]
        kind = "make"
        source = "src"
        subdir = "build/unix"
        build-depends = ["libncurses-dev", "zlib1g-dev [armhf]"]
        make-args = ["V=1"]
        install-args = ["PREFIX=$DESTDIR/usr"]
        env = { CFLAGS = "-O1", LDLIBS = "-lm" }
        keep-dev-files = true
        """)
    recipe = load_recipe(_recipe_dir(tmp_path, build), arch="arm64", reporter=NullReporter())
    spec = recipe.build
    assert isinstance(spec, CBuild)
    assert spec.subdir == PurePosixPath("build/unix")
    assert spec.build_depends == ("libncurses-dev",)  # the armhf-only one is filtered for arm64
    assert spec.make_args == ("V=1",)
    assert spec.install_args == ("PREFIX=$DESTDIR/usr",)
    assert spec.env == (("CFLAGS", "-O1"), ("LDLIBS", "-lm"))
    assert spec.keep_dev_files


def test_the_shipped_tree_recipe_loads_once_its_source_is_there(tmp_path: Path) -> None:
    project = tmp_path / "tree"
    (project / "src").mkdir(parents=True)
    for name in ("debforge.toml", "upstream.toml"):
        (project / name).write_bytes((ROOT / "recipes" / "tree" / name).read_bytes())
    recipe = load_recipe(project, arch="arm64", reporter=NullReporter())
    assert isinstance(recipe.build, CBuild)
    assert recipe.build.kind == "make"
    assert "DESTDIR=$DESTDIR/usr/bin" in recipe.build.install_args
    assert recipe.test is not None and recipe.test.expect == "tree v2.1.0"


@pytest.mark.parametrize(
    ("build", "sentence"),
    [
        ('[build]\nkind = "scons"\n', "'scons' is not a build kind (one of cargo, binary, "),
        ('[build]\nkind = "script"\nsource = "src"\n', "kind 'script' needs the commands to run"),
        ('[build]\nkind = "make"\nsource = "src"\nscript = ["make"]\n', "'script' is for kind 'script'"),
        (
            '[build]\nkind = "cmake"\nsource = "src"\nfeatures = ["x"]\n',
            "'features' does not apply to kind 'cmake'",
        ),
        ('[build]\nkind = "make"\nsource = "src"\nsubdir = "../up"\n', "must be a path inside the project"),
        ('[build]\nkind = "make"\nsource = "src"\nsubdir = "nope"\n', "'nope' is not a directory of"),
        (
            '[build]\nkind = "make"\nsource = "src"\nenv = { "1X" = "a" }\n',
            "is not an environment variable name",
        ),
        ('[build]\nkind = "make"\nsource = "src"\nenv = ["A=b"]\n', "expected a table of strings"),
    ],
)
def test_bad_c_build_tables_are_one_sentence_naming_the_key(
    tmp_path: Path, build: str, sentence: str
) -> None:
    with pytest.raises(RecipeError) as caught:
        _load(_recipe_dir(tmp_path, build))
    assert sentence in str(caught.value)
    assert "debforge.toml" in str(caught.value)


def test_every_c_kind_has_a_builder() -> None:
    assert all(kind in builder._BUILDERS for kind in C_KINDS)


# --------------------------------------------------------------------------- generated files

PATHS = CrossPaths(sysroot="/debforge/sysroot", cross="/debforge/cross", stage="/debforge/stage")


def test_cmake_toolchain_file_sets_the_cross_facts_cmake_reads(tmp_path: Path) -> None:
    cmake = require_tool("cmake")
    toolchain = tmp_path / "toolchain.cmake"
    toolchain.write_text(crossfiles.cmake_toolchain(ARM64, PATHS))
    names = (
        "CMAKE_SYSTEM_NAME", "CMAKE_SYSTEM_PROCESSOR", "CMAKE_SYSROOT", "CMAKE_C_COMPILER",
        "CMAKE_CXX_COMPILER", "CMAKE_FIND_ROOT_PATH_MODE_PROGRAM", "CMAKE_FIND_ROOT_PATH_MODE_LIBRARY",
        "CMAKE_FIND_ROOT_PATH_MODE_INCLUDE", "CMAKE_FIND_ROOT_PATH_MODE_PACKAGE",
        "CMAKE_LIBRARY_ARCHITECTURE", "PKG_CONFIG_EXECUTABLE", "CMAKE_CROSSCOMPILING_EMULATOR",
    )  # fmt: skip
    script = tmp_path / "show.cmake"
    script.write_text(f'include("{toolchain}")\n' + "".join(f'message("{n}=${{{n}}}")\n' for n in names))
    done = subprocess.run([cmake, "-P", script], capture_output=True, text=True, check=True)
    values = dict(line.split("=", 1) for line in done.stderr.splitlines())
    assert values == {
        "CMAKE_SYSTEM_NAME": "Linux", "CMAKE_SYSTEM_PROCESSOR": "aarch64",
        "CMAKE_SYSROOT": "/debforge/sysroot",
        "CMAKE_C_COMPILER": "aarch64-linux-gnu-gcc", "CMAKE_CXX_COMPILER": "aarch64-linux-gnu-g++",
        "CMAKE_FIND_ROOT_PATH_MODE_PROGRAM": "NEVER", "CMAKE_FIND_ROOT_PATH_MODE_LIBRARY": "ONLY",
        "CMAKE_FIND_ROOT_PATH_MODE_INCLUDE": "ONLY", "CMAKE_FIND_ROOT_PATH_MODE_PACKAGE": "ONLY",
        "CMAKE_LIBRARY_ARCHITECTURE": "aarch64-linux-gnu",
        "PKG_CONFIG_EXECUTABLE": "/debforge/cross/pkg-config",
        "CMAKE_CROSSCOMPILING_EMULATOR": "/debforge/cross/emulator",
    }  # fmt: skip


def _meson_literal(value: str) -> object:
    """A Meson string or array literal as Python (the cross file uses nothing else)."""
    if value.startswith("["):
        return [_meson_literal(part.strip()) for part in value[1:-1].split(",")]
    assert value.startswith("'") and value.endswith("'"), value
    return value[1:-1].replace("\\'", "'").replace("\\\\", "\\")


def test_meson_cross_file_has_binaries_properties_and_host_machine() -> None:
    parser = configparser.ConfigParser()
    parser.read_string(crossfiles.meson_cross_file(ARMHF, PATHS))
    section = {name: {k: _meson_literal(v) for k, v in parser[name].items()} for name in parser.sections()}
    assert section["binaries"]["c"] == ["arm-linux-gnueabihf-gcc", "--sysroot=/debforge/sysroot"]
    assert section["binaries"]["cpp"] == ["arm-linux-gnueabihf-g++", "--sysroot=/debforge/sysroot"]
    assert section["binaries"]["ar"] == "arm-linux-gnueabihf-ar"
    assert section["binaries"]["strip"] == "arm-linux-gnueabihf-strip"
    assert section["binaries"]["pkgconfig"] == "/debforge/cross/pkg-config"
    assert section["binaries"]["exe_wrapper"] == "/debforge/cross/emulator"
    assert section["properties"] == {
        "sys_root": "/debforge/sysroot",
        "pkg_config_libdir": "/debforge/sysroot/usr/lib/arm-linux-gnueabihf/pkgconfig:"
        "/debforge/sysroot/usr/share/pkgconfig",
    }
    assert section["host_machine"] == {
        "system": "linux",
        "cpu_family": "arm",
        "cpu": "arm",
        "endian": "little",
    }


def test_autotools_options_are_debhelpers_cross_ones() -> None:
    args = crossfiles.autotools_args(ARM64, "x86_64-linux-gnu")
    assert args[:3] == ["--build=x86_64-linux-gnu", "--host=aarch64-linux-gnu", "--prefix=/usr"]
    assert "--libdir=${prefix}/lib/aarch64-linux-gnu" in args
    env = crossfiles.cross_env(
        ARM64, PATHS, (("CFLAGS", "-O1"), ("DOCDIR", "$DESTDIR/doc")), build="x86_64-linux-gnu"
    )
    assert env["CC"] == "aarch64-linux-gnu-gcc --sysroot=/debforge/sysroot"
    assert env["PKG_CONFIG"] == "/debforge/cross/pkg-config"
    assert env["CFLAGS"] == "-O1"  # the recipe's env wins over dpkg-buildflags' defaults
    assert env["DOCDIR"] == "/debforge/stage/doc"
    assert env["DEB_HOST_MULTIARCH"] == "aarch64-linux-gnu"


def test_make_variables_are_command_line_assignments_for_every_tool() -> None:
    assert crossfiles.make_variables(ARM64, PATHS) == [
        "CC=aarch64-linux-gnu-gcc --sysroot=/debforge/sysroot",
        "CXX=aarch64-linux-gnu-g++ --sysroot=/debforge/sysroot",
        "AR=aarch64-linux-gnu-ar", "RANLIB=aarch64-linux-gnu-ranlib", "STRIP=aarch64-linux-gnu-strip",
        "PKG_CONFIG=/debforge/cross/pkg-config",
    ]  # fmt: skip


def test_pkg_config_wrapper_reads_only_the_sysroot(tmp_path: Path) -> None:
    require_tool("pkg-config")
    sysroot, cross = tmp_path / "sysroot", tmp_path / "cross"
    pcdir = sysroot / "usr/lib/aarch64-linux-gnu/pkgconfig"
    pcdir.mkdir(parents=True)
    cross.mkdir()
    (pcdir / "demo.pc").write_text(
        "prefix=/usr\nlibdir=${prefix}/lib/aarch64-linux-gnu\nincludedir=${prefix}/include\n"
        "Name: demo\nDescription: d\nVersion: 1.2\nLibs: -L${libdir} -ldemo\nCflags: -I${includedir}/demo\n"
    )
    paths = CrossPaths(sysroot=str(sysroot), cross=str(cross), stage=str(tmp_path / "stage"))
    wrapper = cross / "pkg-config"
    wrapper.write_text(crossfiles.pkg_config_wrapper(ARM64, paths))
    wrapper.chmod(0o755)
    # As in the builder: the cross dir comes first on PATH (the wrapper must not run itself).
    env = {"PATH": f"{cross}:/usr/bin:/bin"}
    done = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "demo"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=10,
    )
    assert done.stdout.split() == [
        f"-I{sysroot}/usr/include/demo",
        f"-L{sysroot}/usr/lib/aarch64-linux-gnu",
        "-ldemo",
    ]
    missing = subprocess.run([wrapper, "--exists", "zlib"], check=False, env=env, timeout=10)
    assert missing.returncode != 0  # the host's own .pc files are not seen


# --------------------------------------------------------------------------- the build script


@pytest.mark.parametrize("kind", C_KINDS)
def test_build_script_is_valid_shell_and_expands_destdir(tmp_path: Path, kind: str) -> None:
    spec = CBuild(
        kind=kind, source=tmp_path, configure_args=("--with-x=$DESTDIR/x",), make_args=("V=1",),
        install_args=("PREFIX=$DESTDIR/usr",),
        script=('make install DESTDIR="$DESTDIR"',) if kind == "script" else (),
    )  # fmt: skip
    script = c.build_script(spec, ARM64, build="x86_64-linux-gnu")
    subprocess.run(["sh", "-n", "-c", script], check=True)
    assert "aarch64-linux-gnu-strip --strip-unneeded" in script
    if kind != "script":
        assert "PREFIX=/debforge/stage/usr" in script
        assert "$DESTDIR" not in script


def test_make_passes_cross_tools_before_the_recipes_own_arguments(tmp_path: Path) -> None:
    spec = CBuild(kind="make", source=tmp_path, install_args=("DESTDIR=$DESTDIR/usr/bin",))
    script = c.build_script(spec, ARM64, build="x86_64-linux-gnu")
    install = next(line for line in script.splitlines() if "make install" in line)
    words = shlex.split(install.removeprefix("if ! ").split(";")[0])
    assert words.index("CC=aarch64-linux-gnu-gcc --sysroot=/debforge/sysroot") < words.index(
        "DESTDIR=/debforge/stage/usr/bin"
    )
    # make takes the last assignment: the recipe's DESTDIR wins over debforge's.
    assert words.index("DESTDIR=/debforge/stage") < words.index("DESTDIR=/debforge/stage/usr/bin")


def test_autotools_without_configure_runs_autoreconf_and_shows_config_log(tmp_path: Path) -> None:
    script = c.build_script(CBuild(kind="autotools", source=tmp_path), ARM64, build="x86_64-linux-gnu")
    assert "[ -x ./configure ] || autoreconf -fi" in script
    assert "--host=aarch64-linux-gnu" in script
    assert "sed '/^## Cache variables/,$d' config.log | tail -n 40" in script
    assert f"exit {c.CONFIGURE_FAILED}" in script


# --------------------------------------------------------------------------- failures


def test_a_failed_configure_shows_the_end_of_its_log() -> None:
    output = "--- end of config.log:\nconfigure: error: C compiler cannot create executables"
    error = c.failure(
        "autotools build of demo for bookworm/arm64", _spec(), Path("/r/debforge.toml"), 90, output
    )
    assert str(error).startswith(
        "the configure step of the autotools build of demo for bookworm/arm64 failed:"
    )
    assert "C compiler cannot create executables" in str(error)


@pytest.mark.parametrize(
    "output",
    [
        "Package ncursesw was not found in the pkg-config search path.",
        "No package 'ncursesw' found",
        'meson.build:3:0: ERROR: Dependency "ncursesw" not found, tried pkgconfig',
        "-- Checking for module 'ncursesw'\n--   Package 'ncursesw', required by 'virtual:world', not found",
    ],
)
def test_a_missing_pc_file_names_the_module_and_the_fix(output: str) -> None:
    error = c.failure("meson build of demo for bookworm/arm64", _spec(), Path("/r/debforge.toml"), 90, output)
    assert str(error) == (
        "the meson build of demo for bookworm/arm64 needs ncursesw.pc, which no package in [build] "
        "build-depends of /r/debforge.toml provides for the target"
    )
    assert error.hint is not None and "ncursesw.pc" in error.hint


def test_an_install_refused_outside_the_staging_tree_names_the_path() -> None:
    output = "install: cannot create directory \u2018/usr/local/bin\u2019: Permission denied"
    error = c.failure("make build of tree for bookworm/arm64", _spec(), Path("/r/debforge.toml"), 91, output)
    assert str(error) == (
        "the install step of the make build of tree for bookworm/arm64 wrote outside the staging tree "
        "($DESTDIR): /usr/local/bin"
    )


def _spec() -> CBuild:
    return CBuild(kind="make", source=Path("/src"))


# --------------------------------------------------------------------------- the staging tree


def _stage(tmp_path: Path, files: dict[str, str]) -> Path:
    stage = tmp_path / "stage"
    for rel, text in files.items():
        path = stage / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("->"):
            path.symlink_to(text[2:])
        else:
            path.write_text(text)
    return stage


def test_staging_drops_development_files_and_keeps_the_runtime_library(tmp_path: Path) -> None:
    lib = "usr/lib/aarch64-linux-gnu"
    stage = _stage(tmp_path, {
        "usr/bin/demo": "elf", f"{lib}/libdemo.so.1.2.3": "lib", f"{lib}/libdemo.so.1": "->libdemo.so.1.2.3",
        f"{lib}/libdemo.so": "->libdemo.so.1", f"{lib}/libdemo.a": "ar", f"{lib}/libdemo.la": "la",
        f"{lib}/pkgconfig/demo.pc": "pc", f"{lib}/cmake/Demo/DemoConfig.cmake": "cm",
        "usr/include/demo.h": "h",
        "usr/share/man/man1/demo.1": ".TH DEMO 1", "usr/share/man/man1/demo2.1": "->demo.1",
    })  # fmt: skip
    staged = collect_stage(stage, what="make build of demo", keep_dev_files=False)
    assert [rel for rel, _ in staged.files] == [
        "usr/bin/demo",
        f"{lib}/libdemo.so.1.2.3",
        "usr/share/man/man1/demo.1.gz",
    ]
    assert staged.links == (
        (f"{lib}/libdemo.so.1", "libdemo.so.1.2.3"),
        ("usr/share/man/man1/demo2.1.gz", "demo.1.gz"),
    )
    assert set(staged.dropped) == {
        f"{lib}/libdemo.so", f"{lib}/libdemo.a", f"{lib}/libdemo.la", f"{lib}/pkgconfig/demo.pc",
        f"{lib}/cmake/Demo/DemoConfig.cmake", "usr/include/demo.h",
    }  # fmt: skip
    page = stage / "usr/share/man/man1/demo.1.gz"
    assert gzip.decompress(page.read_bytes()) == b".TH DEMO 1"
    assert page.read_bytes()[4:8] == b"\0\0\0\0"  # gzip -n: no timestamp


def test_staging_keeps_development_files_when_asked(tmp_path: Path) -> None:
    stage = _stage(tmp_path, {"usr/include/demo.h": "h", "usr/lib/libdemo.so": "->libdemo.so.1"})
    staged = collect_stage(stage, what="x", keep_dev_files=True)
    assert [rel for rel, _ in staged.files] == ["usr/include/demo.h"]
    assert staged.links == (("usr/lib/libdemo.so", "libdemo.so.1"),)


@pytest.mark.parametrize(
    ("files", "sentence"),
    [
        ({}, "the install step of make build of demo put no files into the staging tree ($DESTDIR)"),
        (
            {"usr/local/bin/demo": "x"},
            "put /usr/local/bin/demo under /usr/local, which a Debian package must not use",
        ),
        ({"debforge/stage/usr/bin/demo": "x"}, "inside the staging tree twice"),
        ({"demo": "x"}, "put demo at the top of the staging tree, so it would be installed as /demo"),
    ],
)
def test_bad_staging_trees_are_one_sentence(tmp_path: Path, files: dict[str, str], sentence: str) -> None:
    stage = _stage(tmp_path, files)
    stage.mkdir(exist_ok=True)
    with pytest.raises(BuildError) as caught:
        collect_stage(stage, what="make build of demo", keep_dev_files=False)
    assert sentence in str(caught.value)


def test_emulated_builds_use_the_containers_own_system_as_sysroot(tmp_path: Path) -> None:
    """--emulate: the same script, with / as the sysroot and the target's triplet as --build."""
    spec = CBuild(kind="autotools", source=tmp_path)
    script = c.build_script(spec, ARM64, build=ARM64.gnu_triplet, paths=c.EMULATED)
    assert "--build=aarch64-linux-gnu --host=aarch64-linux-gnu" in script  # configure does not cross
    assert "/debforge/sysroot" not in script
    wrapper = crossfiles.pkg_config_wrapper(ARM64, c.EMULATED)
    assert "PKG_CONFIG_SYSROOT_DIR" not in wrapper
    assert "PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig" in wrapper
    env = crossfiles.cross_env(ARM64, c.EMULATED, (), build=ARM64.gnu_triplet)
    assert env["CC"] == "aarch64-linux-gnu-gcc --sysroot=/"


def test_install_tree_is_packaged_at_its_own_paths_with_etc_as_conffiles(tmp_path: Path) -> None:
    """`$install`: each staged file and link at its install path; /etc files are conffiles (dh_installdeb)."""
    recipe = load_recipe(
        _recipe_dir(tmp_path, '[build]\nkind = "make"\nsource = "src"\n'),
        arch="arm64",
        reporter=NullReporter(),
    )
    staged = {"usr/bin/demo": tmp_path / "demo", "etc/demo.conf": tmp_path / "demo.conf"}
    for path in staged.values():
        path.write_text("x")
    artifacts = Artifacts(
        files=tuple(Artifact(source=p, name=n, arch="arm64", sha256="0") for n, p in staged.items()),
        links=(("usr/lib/aarch64-linux-gnu/libdemo.so.1", "libdemo.so.1.0"),),
    )
    spec = package_spec(
        recipe, ARM64, artifacts, depends="libc6", date=SourceDate(epoch=1700000000, origin="env")
    )
    files = {str(e.dest): e for e in spec.files}
    assert (
        isinstance(files["/usr/bin/demo"], FileFromPath)
        and files["/usr/bin/demo"].source == staged["usr/bin/demo"]
    )
    assert isinstance(files["/etc/demo.conf"], FileFromPath)
    assert files["/usr/lib/aarch64-linux-gnu/libdemo.so.1"] == Symlink(
        dest=PurePosixPath("/usr/lib/aarch64-linux-gnu/libdemo.so.1"), target="libdemo.so.1.0"
    )
    assert spec.conffiles == ("/etc/demo.conf",)


def test_runstatedir_only_for_a_configure_that_lists_it(tmp_path: Path) -> None:
    """debhelper passes --runstatedir=/run only when ./configure's --help lists it: GNU hello 2.10's
    (autoconf 2.69, gnulib mentions the variable) refuses the option."""

    def words(configure_text: str) -> str:
        (tmp_path / "configure").write_text(configure_text)
        script = f'{crossfiles.RUNSTATEDIR_IF_KNOWN}\necho "$#:$*"'
        done = subprocess.run(["sh", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
        return done.stdout

    assert (
        words("  --runstatedir=DIR       modifiable per-process data [LOCALSTATEDIR/run]\n")
        == "1:--runstatedir=/run\n"
    )
    assert words("if test \"x$runstatedir\" = x; then runstatedir='${localstatedir}/run'; fi\n") == "0:\n"
    assert "--runstatedir" not in crossfiles.autotools_args(
        make_target("bookworm", "arm64"), "x86_64-linux-gnu"
    )
