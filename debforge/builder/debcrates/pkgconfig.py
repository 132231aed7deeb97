"""A -sys crate's build script that found no .pc file: the Debian package that ships it, from Contents.

The pkg-config crate (used by nearly every -sys crate's build.rs) fails with "The system library
`X` required by crate `Y` was not found. The file `X.pc` needs to be installed ..."; the archive's
Contents-<arch> (listed in the signed Release) names the package with that file for the target.
"""

from __future__ import annotations

import re

from debforge.archive import fetch_contents
from debforge.dists import Target
from debforge.errors import BuildError
from debforge.session import Session

_PKG_CONFIG_CRATE = re.compile(
    r"The system library `(?P<lib>[^`]+)` required by crate `(?P<crate>[^`]+)` was not found"
)


def missing_library(output: str) -> tuple[str, str] | None:
    """(pkg-config module, crate asking for it) from cargo's output, if a build script missed a .pc file.

    >>> missing_library("The system library `libpcre2-8` required by crate `pcre2-sys` was not found.")
    ('libpcre2-8', 'pcre2-sys')
    """
    found = _PKG_CONFIG_CRATE.search(output)
    return (found["lib"], found["crate"]) if found else None


def pc_error(session: Session, target: Target, output: str, what: str) -> BuildError | None:
    """One sentence naming the missing .pc file and the package of `target` that ships it; None when
    cargo failed for another reason."""
    found = missing_library(output)
    if found is None:
        return None
    module, crate = found
    paths = (f"usr/lib/{target.multiarch}/pkgconfig/{module}.pc", f"usr/share/pkgconfig/{module}.pc")
    contents = fetch_contents(session, target)
    packages = sorted({p.rpartition("/")[2] for path in paths for p in contents.packages_for(path)})
    if not packages:
        return BuildError(
            f"the {what} failed: crate {crate} needs {module}.pc, which no package of "
            f"{target.dist}/{target.arch} ships"
        )
    return BuildError(
        f"the {what} failed: crate {crate} needs {module}.pc, which {' or '.join(packages)} ships; add it to "
        "[build] build-depends",
        hint=f'build-depends = ["{packages[0]}"]',
    )
