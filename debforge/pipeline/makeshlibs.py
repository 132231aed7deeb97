"""What dh_makeshlibs gives a package that ships public shared libraries: `shlibs` and the ldconfig trigger.

Policy 8.6.4: a package shipping a shared library in a public directory says, in its `shlibs`
control file, which dependency a program linked against the library needs; dpkg-shlibdeps reads it
when other packages are built. Policy 8.1.1: the ld.so cache of the library directories is
refreshed after install, which dh_makeshlibs does with the `activate-noawait ldconfig` trigger.
lintian reports a package without them as no-shlibs and lacks-ldconfig-trigger (errors).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath

from debforge.elf import ElfInfo

LDCONFIG_TRIGGER = b"activate-noawait ldconfig\n"


def public_directories(multiarch: str) -> tuple[PurePosixPath, ...]:
    """The directories ld.so searches without a RUNPATH: where a library is public (Policy 8.1)."""
    return tuple(PurePosixPath(d) for d in (f"/lib/{multiarch}", f"/usr/lib/{multiarch}", "/lib", "/usr/lib"))


def shlibs_line(soname: str, package: str) -> str | None:
    """dh_makeshlibs' `<library> <version> <package>` for a SONAME, None for a SONAME without a version.

    Without -V, dh_makeshlibs makes the dependency the package alone, unversioned.

    >>> shlibs_line("libcmark.so.0.30.2", "cmark")
    'libcmark 0.30.2 cmark'
    >>> shlibs_line("libfoo-1.2.so", "foo")
    'libfoo 1.2 foo'
    >>> shlibs_line("libbar.so", "bar") is None
    True
    """
    if m := re.fullmatch(r"(.+)\.so\.(.+)", soname):  # libfoo.so.1
        return f"{m.group(1)} {m.group(2)} {package}"
    if m := re.fullmatch(r"(.+)-(\d.*)\.so", soname):  # libfoo-1.2.so
        return f"{m.group(1)} {m.group(2)} {package}"
    return None


def makeshlibs(package: str, files: Mapping[PurePosixPath, ElfInfo], multiarch: str) -> dict[str, bytes]:
    """The control files for the public shared libraries among `files` (install path → facts):
    `shlibs` and `triggers`, or nothing when the package ships none."""
    public = public_directories(multiarch)
    sonames = sorted({info.soname for path, info in files.items() if info.soname and path.parent in public})
    if not sonames:
        return {}
    lines = [line for soname in sonames if (line := shlibs_line(soname, package))]
    control = {"triggers": LDCONFIG_TRIGGER}
    if lines:
        control["shlibs"] = "".join(f"{line}\n" for line in lines).encode()
    return control


def with_makeshlibs(scripts: Mapping[str, bytes], control: Mapping[str, bytes]) -> dict[str, bytes]:
    """The recipe's control-area files plus dh_makeshlibs' ones; the ldconfig trigger is added to
    the recipe's own triggers file, not put in its place."""
    merged = {**scripts, **{name: body for name, body in control.items() if name != "triggers"}}
    if "triggers" in control:
        own = scripts.get("triggers", b"")
        if LDCONFIG_TRIGGER not in own.splitlines(keepends=True):
            sep = b"" if not own or own.endswith(b"\n") else b"\n"
            merged["triggers"] = own + sep + LDCONFIG_TRIGGER
    return merged
