"""The packaging side of a prebuilt tree (kind tree): its files, its conffiles, its store paths.

The build stage names each file of a tree by its destination (`usr/bin/hello`,
debforge/builder/tree.py), so every file is laid at its own path here.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from debforge.builder import Artifacts
from debforge.deb import FileFromPath
from debforge.dists import Target
from debforge.pipeline.textfix import (
    STORE,
    StoreFix,
    check_no_store_paths,
    debian_lookup,
    rewrite_store_paths,
)
from debforge.recipe import BuiltSource, FileSource, Recipe, TreeBuild
from debforge.session import Session


def tree_entries(recipe: Recipe, artifacts: Artifacts) -> list[FileFromPath]:
    """Every file of a prebuilt tree at its destination (none for other kinds)."""
    if not isinstance(recipe.build, TreeBuild):
        return []
    return [
        FileFromPath(dest=dest, source=path, mode=0o755 if path.stat().st_mode & 0o111 else 0o644)
        for dest, path in _tree_files(artifacts)
    ]


def tree_conffiles(recipe: Recipe, artifacts: Artifacts) -> tuple[str, ...]:
    """A tree's files under /etc: conffiles, as dh_installdeb makes every file there (Policy 10.7.2)."""
    if not isinstance(recipe.build, TreeBuild):
        return ()
    return tuple(str(dest) for dest, _ in _tree_files(artifacts) if dest.is_relative_to("/etc"))


def fix_store_paths(
    session: Session, recipe: Recipe, target: Target, artifacts: Artifacts
) -> tuple[str, ...]:
    """Rewrite a tree's /nix/store paths (see textfix), then refuse any shipped file still holding one;
    return the Debian packages the rewritten paths need (for Depends)."""
    shipped = _shipped_files(recipe, artifacts)
    if not any(STORE in path.read_bytes() for _, path in shipped):
        return ()  # the common case: no index, no download
    depends: tuple[str, ...] = ()
    if isinstance(recipe.build, TreeBuild):
        with session.reporter.step("Rewriting /nix/store paths to FHS paths"):
            fix = StoreFix(
                layout=dict(recipe.build.layout),
                shipped=frozenset(dest for dest, _ in shipped),
                lookup=debian_lookup(session, target),
                target=target,
            )
            depends = rewrite_store_paths(_tree_files(artifacts), fix)
    check_no_store_paths(shipped)
    return depends


def _tree_files(artifacts: Artifacts) -> list[tuple[PurePosixPath, Path]]:
    return [(PurePosixPath("/", a.name), a.source) for a in artifacts.files]


def _shipped_files(recipe: Recipe, artifacts: Artifacts) -> list[tuple[PurePosixPath, Path]]:
    """(destination, file) of everything the package ships from the build and the project."""
    if isinstance(recipe.build, TreeBuild):
        files = _tree_files(artifacts)
    else:
        files = [
            (a.dest, artifacts.get(a.source.name).source)
            for a in recipe.assets
            if isinstance(a.source, BuiltSource)
        ]
    files += [(a.dest, a.source.path) for a in recipe.assets if isinstance(a.source, FileSource)]
    return [(dest, path) for dest, path in files if path.is_file()]
