"""cargo-deb rules that real crates exercised (tests/e2e/test_cargodeb_realworld.py), one unit test each.

Each expectation is cargo-deb 3.x's behaviour (src/config.rs PackageConfig::new and generate_control,
src/util/wordsplit.rs, src/deb/control.rs), on a tiny manifest written here; nothing is built.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from debforge.errors import RecipeError
from debforge.recipe import Recipe, load_recipe
from debforge.recipe.fields import wrap_like_cargo_deb
from tests.test_recipe import MAIN_RS, Recording, write


def project(root: Path, package: str, metadata: str = "", extra: dict[str, str] | None = None) -> Path:
    """A Cargo project whose [package] lines (besides name and version) are all given."""
    manifest = f'[package]\nname = "tool"\nversion = "1.0.0"\n{package}\n{metadata}\n'
    return write(root, {"Cargo.toml": manifest, "src/main.rs": MAIN_RS, **(extra or {})})


def load(root: Path) -> tuple[Recipe, Recording]:
    reporter = Recording()
    return load_recipe(root, arch="arm64", reporter=reporter), reporter


AUTHORS = 'authors = ["Jane Doe <jane@example.org>"]\n'


@pytest.mark.parametrize(
    ("fields", "homepage"),
    [
        ('homepage = "https://h"\ndocumentation = "https://d"\nrepository = "https://r"', "https://h"),
        ('documentation = "https://d"\nrepository = "https://r"', "https://d"),  # difference 2.0.0
        ('repository = "https://r"', "https://r"),
        ("", None),
    ],
)
def test_homepage_is_homepage_then_documentation_then_repository(
    tmp_path: Path, fields: str, homepage: str | None
) -> None:
    recipe, _ = load(project(tmp_path, f'description = "x"\n{AUTHORS}{fields}'))
    assert recipe.homepage == homepage


def test_a_multi_line_description_keeps_its_tail_before_the_extended_description(tmp_path: Path) -> None:
    # ripgrep 13.0.0: a three-line description and an extended-description; cargo-deb writes all of both.
    package = f'description = """\nFast search\nthat respects gitignore.\n"""\n{AUTHORS}'
    meta = '[package.metadata.deb]\nextended-description = "More text.\\nAnd more."'
    recipe, _ = load(project(tmp_path, package, meta))
    assert recipe.description == "Fast search"
    assert recipe.extended_description == "that respects gitignore.\nMore text.\nAnd more."


def test_a_long_synopsis_is_wrapped_at_79_as_cargo_deb_wraps_it(tmp_path: Path) -> None:
    # coreutils 0.0.30: a 101-character description.
    long = (
        "coreutils ~ GNU coreutils (updated); implemented as universal (cross-platform) "
        "utils, written in Rust"
    )
    recipe, reporter = load(
        project(tmp_path, f'description = "{long}"\n{AUTHORS}', extra={"README": "Read."})
    )
    assert (
        recipe.description == "coreutils ~ GNU coreutils (updated); implemented as universal (cross-platform)"
    )
    assert recipe.extended_description == "utils, written in Rust\nRead."
    assert any("wrapped at 79" in w for w in reporter.warnings)


def test_wrapping_matches_cargo_deb_own_test_vectors() -> None:
    # The expectations of cargo-deb's test_split_by_chars (src/util/wordsplit.rs), verbatim.
    assert wrap_like_cargo_deb("This is a test string for split_by_chars.", 10) == [
        "This is a", "test", "string for", "split_by_chars.",
    ]  # fmt: skip
    assert wrap_like_cargo_deb("    This  is an 4-indented line", 3) == [
        "    This",
        " is",
        "an",
        "4-indented",
        "line",
    ]
    assert wrap_like_cargo_deb("    indent,    then space", 4) == ["    indent,", "   then", "space"]
    assert wrap_like_cargo_deb("  trailing space    ", 12) == ["  trailing", "space    "]
    assert wrap_like_cargo_deb("  trailing space    ", 16) == ["  trailing space", "."]
    assert wrap_like_cargo_deb("\t\ttabs are\treplaced with spaces\t", 10) == [
        "    tabs", "are ", "replaced", "with", "spaces  ",
    ]  # fmt: skip


def test_extended_description_file_wins_over_the_string(tmp_path: Path) -> None:
    meta = '[package.metadata.deb]\nextended-description = "inline"\nextended-description-file = "DESC"'
    recipe, reporter = load(project(tmp_path, f'description = "x"\n{AUTHORS}', meta, {"DESC": "From file."}))
    assert recipe.extended_description == "From file."
    assert any("using the file" in w for w in reporter.warnings)


def test_a_missing_maintainer_scripts_directory_means_no_scripts_with_a_warning(tmp_path: Path) -> None:
    # rebuilderd 0.28.0: maintainer-scripts = "daemon/debian", relative to the package dir `daemon/`.
    meta = '[package.metadata.deb]\nmaintainer-scripts = "daemon/debian"'
    recipe, reporter = load(project(tmp_path, f'description = "x"\n{AUTHORS}', meta))
    assert recipe.scripts_dir is None
    assert recipe.scripts == ()
    assert any("'daemon/debian' does not exist" in w for w in reporter.warnings)


def test_a_missing_description_is_cargo_deb_placeholder_with_a_warning(tmp_path: Path) -> None:
    recipe, reporter = load(project(tmp_path, AUTHORS))
    assert recipe.description == "[generated from Rust crate tool]"
    assert any("no description" in w for w in reporter.warnings)


def test_no_maintainer_and_no_authors_is_refused_saying_why(tmp_path: Path) -> None:
    # sudo-rs 0.2.15, tiny-dfr 0.3.5: no authors. cargo-deb writes no Maintainer; Policy 5.3 requires one.
    with pytest.raises(RecipeError) as info:
        load(project(tmp_path, 'description = "x"'))
    assert "Policy 5.3" in str(info.value)
    assert info.value.hint is not None
    assert "--maintainer" in info.value.hint
