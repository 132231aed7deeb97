"""A Recipe for `debforge package --binary PATH --name N --deb-version V`: no recipe file at all.

One ELF file is packaged as /usr/bin/<name> (kind binary); several files, a directory (an install
prefix such as a Nix `result/`) or a tarball of one is a prebuilt tree (kind tree), laid out in
the FHS by debforge/builder/tree.py.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from debforge.errors import RecipeError
from debforge.recipe.debian import AUTO, check_package_name, check_version, full_version
from debforge.recipe.model import (
    DEFAULT_TREE_LAYOUT,
    Asset,
    BinaryBuild,
    BuiltSource,
    CargoBuild,
    CBuild,
    Recipe,
    RelationFields,
    TreeBuild,
)
from debforge.recipe.tomlfile import Table, display

_TARBALL = re.compile(r"\.(tar|tar\.gz|tgz|tar\.xz|txz|tar\.bz2|tbz2|tar\.zst)$")


def binary_recipe(
    binary: Path | Sequence[Path],
    *,
    name: str,
    version: str,
    revision: str = "1",
    maintainer: str | None = None,
    description: str | None = None,
) -> Recipe:
    """A recipe for `--binary`: one ELF as /usr/bin/<name>, or a prebuilt tree; `$auto` Depends."""
    inputs = (binary,) if isinstance(binary, Path) else tuple(binary)
    if not inputs:
        raise RecipeError("--binary needs a file, a directory or a tarball")
    for item in inputs:
        if not item.exists():
            raise RecipeError(f"--binary {display(item)} does not exist")
    _check_identity(name, version, revision)
    one = inputs[0].absolute()
    if len(inputs) > 1 or one.is_dir() or _TARBALL.search(one.name):
        build: BinaryBuild | TreeBuild = TreeBuild(inputs=tuple(p.absolute() for p in inputs))
        assets: tuple[Asset, ...] = ()  # the build stage lays every file out at its FHS place
        what = "a prebuilt install tree laid out in the FHS, its programs"
    else:
        build = BinaryBuild(binary=one)
        assets = (Asset(source=BuiltSource(name=one.name), dest=PurePosixPath("/usr/bin", name), mode=0o755),)
        what = f"{one.name} as /usr/bin/{name},"
    return Recipe(
        recipe_file=one,
        source_dir=one if one.is_dir() else one.parent,
        name=name,
        version=version,
        revision="" if revision == "0" else revision,
        maintainer=maintainer or _maintainer_from_env(),
        # lintian: a synopsis must not start with the package name, and an extended description is needed.
        description=description or "prebuilt program packaged with debforge",
        extended_description=(
            f"This package ships {what} repaired for the Debian loader "
            "and with its shared-library dependencies computed by debforge."
        ),
        section="utils",
        relations=RelationFields(depends=(AUTO,)),
        build=build,
        assets=assets,
    )


def tree_build(table: Table, base: Path) -> TreeBuild:
    """`[build] kind = "tree"`: `tree` (a path or a list: directories, tarballs, files), `layout`.

    `layout = { opt = "/opt/foo", bin = "/usr/games" }` maps top-level directories of the tree to
    absolute directories, over the default FHS mapping (bin → /usr/bin, etc → /etc...).
    """
    names = table.strings("tree", allow_string=True)
    if not names:
        raise table.error("tree", "a prebuilt tree needs `tree`: a directory, a tarball or a list of files")
    inputs = []
    for name in names:
        path = base / name
        if not path.exists():
            raise table.error("tree", f"'{name}' does not exist in {display(base)}")
        inputs.append(path)
    layout = dict(DEFAULT_TREE_LAYOUT)
    overrides = table.table("layout")
    for top, value in overrides.data.items() if overrides else ():
        if not isinstance(value, str) or not value.startswith("/") or ".." in PurePosixPath(value).parts:
            raise table.error("layout", f"'{top}' must map to an absolute directory such as \"/usr/share\"")
        layout[top] = PurePosixPath(value)
    return TreeBuild(inputs=tuple(inputs), layout=tuple(sorted(layout.items())))


def with_static(recipe: Recipe) -> Recipe:
    """`--static`: the recipe's Rust or C build made static (`[build] static = true`)."""
    if not isinstance(recipe.build, CargoBuild | CBuild):
        raise RecipeError(
            f"--static builds Rust (kind cargo) and C projects; {display(recipe.recipe_file)} is of kind "
            f"'{recipe.build.kind}', which is linked already"
        )
    return dataclasses.replace(recipe, build=dataclasses.replace(recipe.build, static=True))


def _check_identity(name: str, version: str, revision: str) -> None:
    reason = check_package_name(name)
    if reason:
        raise RecipeError(f"--name '{name}' is not a valid Debian package name: it {reason}")
    reason = check_version(full_version(version, revision))
    if reason:
        raise RecipeError(f"--deb-version '{version}' is not a valid Debian version: {reason}")


def _maintainer_from_env() -> str:
    """`DEBFULLNAME <DEBEMAIL>`, the variables dch and dh_make read."""
    full_name, email = os.environ.get("DEBFULLNAME"), os.environ.get("DEBEMAIL")
    if full_name and email:
        return f"{full_name} <{email}>"
    raise RecipeError(
        "a package needs a maintainer, and none was given",
        hint="pass --maintainer 'Full Name <email>' or set DEBFULLNAME and DEBEMAIL",
    )
