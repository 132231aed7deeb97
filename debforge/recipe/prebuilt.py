"""A Recipe for `debforge package --binary FILE --name N --version V`: no recipe file at all."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from debforge.errors import RecipeError
from debforge.recipe.debian import AUTO, check_package_name, check_version, full_version
from debforge.recipe.model import Asset, BinaryBuild, BuiltSource, Recipe, RelationFields
from debforge.recipe.tomlfile import display


def binary_recipe(
    binary: Path,
    *,
    name: str,
    version: str,
    revision: str = "1",
    maintainer: str | None = None,
    description: str | None = None,
) -> Recipe:
    """A recipe packaging one prebuilt ELF as /usr/bin/<name>, with `$auto` Depends."""
    if not binary.is_file():
        raise RecipeError(f"--binary {display(binary)} does not exist or is not a file")
    reason = check_package_name(name)
    if reason:
        raise RecipeError(f"--name '{name}' is not a valid Debian package name: it {reason}")
    reason = check_version(full_version(version, revision))
    if reason:
        raise RecipeError(f"--version '{version}' is not a valid Debian version: {reason}")
    binary = binary.absolute()
    built = Asset(source=BuiltSource(name=binary.name), dest=PurePosixPath("/usr/bin", name), mode=0o755)
    return Recipe(
        recipe_file=binary,
        source_dir=binary.parent,
        name=name,
        version=version,
        revision="" if revision == "0" else revision,
        maintainer=maintainer or _maintainer_from_env(),
        # lintian: a synopsis must not start with the package name, and an extended description is needed.
        description=description or "prebuilt program packaged with debforge",
        extended_description=(
            f"This package ships {binary.name} as /usr/bin/{name}, repaired for the Debian loader "
            "and with its shared-library dependencies computed by debforge."
        ),
        section="utils",
        relations=RelationFields(depends=(AUTO,)),
        build=BinaryBuild(binary=binary),
        assets=(built,),
    )


def _maintainer_from_env() -> str:
    """`DEBFULLNAME <DEBEMAIL>`, the variables dch and dh_make read."""
    full_name, email = os.environ.get("DEBFULLNAME"), os.environ.get("DEBEMAIL")
    if full_name and email:
        return f"{full_name} <{email}>"
    raise RecipeError(
        "a package needs a maintainer, and none was given",
        hint="pass --maintainer 'Full Name <email>' or set DEBFULLNAME and DEBEMAIL",
    )
