"""The build record written beside each .deb (`<deb>.buildinfo.json`): its inputs and its output's SHA256.

One frozen value, made once the debs are written; the JSON text is derived from it and never edited.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from debforge.builder import Artifacts
from debforge.builder.debcrates import CratesRecord
from debforge.cache import file_sha256
from debforge.deb import Package
from debforge.dists import Target
from debforge.pipeline.policy import SourceDate
from debforge.recipe import Recipe
from debforge.resolve import Closure

RECORD_FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class DbgsymRecord:
    """The `<name>-dbgsym` deb written beside the main one, and the build-ids it carries."""

    deb: str
    sha256: str
    size: int
    build_ids: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """The record's `dbgsym` object (keys sorted, as the file has them)."""
        return {"build_ids": list(self.build_ids), "deb": self.deb, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildRecord:
    """What a `debforge package` run took in (recipe, target, sysroot closure, toolchain) and wrote."""

    package: str
    version: str
    architecture: str
    deb: str  # the file name of the .deb
    sha256: str
    size: int
    installed_size: int
    depends: str
    recipe_file: str  # the recipe's file name
    recipe_sha256: str
    dist: str
    mirror: str
    source_date_epoch: int
    source_date_origin: str
    sysroot: tuple[str, ...]  # `name=version` of each runtime sysroot package
    toolchain: tuple[tuple[str, str], ...]  # (tool, version line)
    artifacts: tuple[tuple[str, str], ...]  # (artifact name, sha256)
    dbgsym: DbgsymRecord | None = None
    crates: CratesRecord | None = None  # crates = "debian": crate → version → Debian package

    def to_json(self) -> dict[str, object]:
        """The record as JSON data. Keys are in sorted order at every level, as the file is written, so
        `--json` (which prints this order as it is) and the file say the same thing the same way."""
        dbgsym = {"dbgsym": self.dbgsym.to_json()} if self.dbgsym is not None else {}
        crates = {"crates": self.crates.to_json()} if self.crates is not None else {}
        return {
            "architecture": self.architecture,
            "artifacts": [{"name": name, "sha256": sha256} for name, sha256 in self.artifacts],
            **crates,
            **dbgsym,
            "deb": self.deb,
            "depends": self.depends,
            "format": RECORD_FORMAT,
            "installed_size": self.installed_size,
            "package": self.package,
            "recipe": {"file": self.recipe_file, "sha256": self.recipe_sha256},
            "sha256": self.sha256,
            "size": self.size,
            "source_date_epoch": {"from": self.source_date_origin, "value": self.source_date_epoch},
            "sysroot": list(self.sysroot),
            "target": {"arch": self.architecture, "dist": self.dist, "mirror": self.mirror},
            "toolchain": dict(sorted(dict(self.toolchain).items())),
            "version": self.version,
        }

    def text(self) -> str:
        """The `.buildinfo.json` file's text: indented, keys sorted, one trailing newline."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"


def build_record(
    recipe: Recipe,
    target: Target,
    deb: Package,
    artifacts: Artifacts,
    closure: Closure,
    *,
    date: SourceDate,
    dbgsym: Package | None = None,
) -> BuildRecord:
    """The build record of a written deb (its Depends is the spec's) and of its -dbgsym deb, if any."""
    return BuildRecord(
        package=recipe.name, version=recipe.deb_version, architecture=target.arch, deb=deb.path.name,
        sha256=deb.sha256, size=deb.size, installed_size=deb.installed_size, depends=deb.spec.depends,
        recipe_file=recipe.recipe_file.name, recipe_sha256=_recipe_sha256(recipe, artifacts),
        dist=target.dist, mirror=target.mirror, source_date_epoch=date.epoch, source_date_origin=date.origin,
        sysroot=tuple(f"{p.name}={p.version}" for p in closure.packages), toolchain=artifacts.toolchain,
        artifacts=tuple((a.name, a.sha256) for a in artifacts.files),
        dbgsym=_dbgsym_record(dbgsym) if dbgsym is not None else None, crates=artifacts.crates,
    )  # fmt: skip


def _recipe_sha256(recipe: Recipe, artifacts: Artifacts) -> str:
    """The recipe file's SHA256; for a prebuilt tree's directory, that of its files' `sha256sum` list."""
    if recipe.recipe_file.is_file():
        return file_sha256(recipe.recipe_file)
    listing = "".join(f"{a.sha256}  {a.name}\n" for a in artifacts.files)
    return hashlib.sha256(listing.encode()).hexdigest()


def _dbgsym_record(deb: Package) -> DbgsymRecord:
    build_ids = tuple(deb.spec.extra_fields["Build-Ids"].split())
    return DbgsymRecord(deb=deb.path.name, sha256=deb.sha256, size=deb.size, build_ids=build_ids)
