"""Checks a PackageSpec must pass before any byte is written: Debian Policy's field syntax and a sane tree."""

from __future__ import annotations

import re
import stat
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from debforge.deb.tree import FileFromPath, Symlink, TreeEntry, kind_of
from debforge.errors import PackageError
from debforge.recipe import debian as debian_rules

if TYPE_CHECKING:
    from debforge.deb import PackageSpec

# dpkg-architecture names (lower case, digits, '-'), or "all" for architecture-independent packages.
_ARCH = re.compile(r"[a-z0-9][a-z0-9-]*")
# Policy 5.6.2: "Full Name <email@address>".
_MAINTAINER = re.compile(r"[^<>\n]*[^<>\s][^<>\n]* <[^<>@\s]+@[^<>\s]+>")
_BARE_NAME = re.compile(r"[^<>\n]*[^<>\s][^<>\n]*")  # a name without email, as cargo-deb allows
# Policy 7.1 in a binary package: name, optional :arch qualifier, optional (op version); no [arch] or
# <profile> restrictions, which belong to source packages only.
_RELATION = re.compile(
    r"(?P<name>[a-z0-9][a-z0-9+.-]+)(:[a-z0-9-]+)?"
    r"(\s*\(\s*(?P<op><<|<=|=|>=|>>)\s*(?P<version>[A-Za-z0-9.+:~-]+)\s*\))?"
)
SECTIONS = debian_rules.SECTIONS
PRIORITIES = ("required", "important", "standard", "optional", "extra")
MULTI_ARCH = ("same", "foreign", "allowed", "no")
# `shlibs` is data too: dh_makeshlibs writes it for a package shipping public shared libraries.
SCRIPTS = ("preinst", "postinst", "prerm", "postrm", "config", "templates", "triggers", "shlibs")
DATA_MEMBERS = ("templates", "triggers", "shlibs")  # control files that are not scripts
_RELATION_FIELDS = (
    ("Pre-Depends", "pre_depends", True),
    ("Depends", "depends", True),
    ("Recommends", "recommends", True),
    ("Suggests", "suggests", True),
    ("Enhances", "enhances", True),
    ("Conflicts", "conflicts", False),
    ("Breaks", "breaks", False),
    ("Replaces", "replaces", False),
    ("Provides", "provides", False),
)
_OWN_FIELDS = """
    package source version architecture essential maintainer installed-size section priority multi-arch
    homepage description
"""
_MANAGED_FIELDS = frozenset(_OWN_FIELDS.split()) | {name.lower() for name, _, _ in _RELATION_FIELDS}
# deb-control(5): a field name is printable US-ASCII except ':' and space, not starting with '#' or '-'.
_MAX_MODE = 0o7777
_FIELD_NAME = re.compile(r"[!-9;-~][!-9;-~]*")
# Policy 5.1: simple fields are one line. A continuation line in one of these is an attempt to smuggle a
# second value past whoever reads only the first line (Package and Version become pool file names).
_SIMPLE_FIELDS = frozenset(
    {"package", "source", "version", "architecture", "essential", "multi-arch", "section", "priority"}
    | {"installed-size"}
)
# Policy 5.6.1: `Source: name` or, when the binary's version differs, `Source: name (version)`.
_SOURCE = re.compile(r"(?P<name>[^\s()]+)(?: \((?P<version>[^\s()]+)\))?")
_CONTROL_CHAR = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def check_spec(spec: PackageSpec, *, allow_zstd: bool) -> None:
    """Raise PackageError with one sentence for the first thing in `spec` dpkg or Policy would reject."""
    check_name(spec.name)
    check_version(spec.version)
    _check_identity(spec)
    check_section(spec.section)
    for field_name, attr, alternatives in _RELATION_FIELDS:
        check_relations(field_name, getattr(spec, attr), alternatives=alternatives)
    _check_extra_fields(spec)
    _check_files(spec)
    _check_scripts(spec)
    if spec.compression == "zstd" and not allow_zstd:
        raise PackageError(
            "zstd-compressed .debs cannot be read by dpkg before Debian 12 (bookworm)",
            hint="use xz (the default) for this target",
        )
    if not 0 <= spec.source_date_epoch < 8**11:
        raise PackageError(f"SOURCE_DATE_EPOCH {spec.source_date_epoch} is out of range for a tar header")


def check_control(fields: Sequence[tuple[str, str]], origin: str) -> None:
    """Refuse a read .deb's control stanza that dpkg-deb would not have built, in one sentence.

    Package, Source, Version and Architecture name pool directories and files, so they are held to
    Policy syntax before anyone builds a path from them; `origin` names the .deb in the sentence.
    """
    _check_field_lines(fields, origin)
    values = {name.lower(): value for name, value in fields}
    for needed in ("Package", "Version", "Architecture"):
        if not values.get(needed.lower()):
            raise PackageError(f"{origin} has no {needed} field in its control file")
    rules = (
        ("Package", debian_rules.check_package_name, "a valid Debian package name (Policy 5.6.1)"),
        ("Version", debian_rules.check_version, "a valid Debian version (Policy 5.6.12)"),
        ("Architecture", _arch_problem, "a single Debian architecture name or all"),
        ("Source", _source_problem, "a source package name with an optional (version) (Policy 5.6.1)"),
    )
    for field, problem, what in rules:
        value = values.get(field.lower())
        if value is not None and (reason := problem(value)):
            raise PackageError(f"{origin}: {field} field '{value}' is not {what}", hint=f"{field}: {reason}")


def _check_field_lines(fields: Sequence[tuple[str, str]], origin: str) -> None:
    seen: set[str] = set()
    for name, value in fields:
        if not _FIELD_NAME.fullmatch(name) or name[0] in "#-":
            raise PackageError(f"{origin}: control field name {name!r} is invalid (deb-control(5))")
        if name.lower() in seen:  # dpkg: "duplicate value for '<field>' field"
            raise PackageError(f"{origin}: the {name} field appears twice in its control file")
        seen.add(name.lower())
        if bad := _CONTROL_CHAR.search(value):
            char = "a NUL" if bad.group() == "\0" else f"the control character U+{ord(bad.group()):04X}"
            raise PackageError(f"{origin}: the {name} field of its control file contains {char}")
        if "\n" in value and name.lower() in _SIMPLE_FIELDS:
            raise PackageError(
                f"{origin}: the {name} field continues onto a second line, but it is a one-line field "
                "(Policy 5.1)"
            )


def _arch_problem(arch: str) -> str | None:
    if arch == "all" or (_ARCH.fullmatch(arch) and arch != "any"):
        return None
    return "must be one architecture such as amd64 or arm64 (lower case, digits and '-'), or all"


def _source_problem(source: str) -> str | None:
    match = _SOURCE.fullmatch(source)
    if match is None:
        return "must read 'name' or 'name (version)'"
    if reason := debian_rules.check_package_name(match["name"]):
        return reason
    if match["version"] and (reason := debian_rules.check_version(match["version"])):
        return f"has a version that is invalid: {reason}"
    return None


def check_name(name: str) -> None:
    """Policy 5.6.1 package name syntax (the rule lives in recipe.debian, shared with recipes)."""
    if reason := debian_rules.check_package_name(name):
        raise PackageError(f"package name {name!r} is invalid: it {reason} (Policy 5.6.1)")


def check_version(version: str) -> None:
    """Policy 5.6.12 version syntax: [epoch:]upstream[-revision], upstream starting with a digit."""
    if reason := debian_rules.check_version(version):
        raise PackageError(f"version {version!r} is invalid: {reason} (Policy 5.6.12)")


def check_section(section: str | None) -> None:
    """The section must be one word. Whether it is one of Debian's is the recipe's business: dpkg writes
    any word, and cargo-deb writes its metadata's section verbatim (a warning in debforge)."""
    if section is not None and (reason := debian_rules.check_section_syntax(section)):
        raise PackageError(
            f"section {section!r} {reason}",
            hint=f"use one of: {', '.join(sorted(SECTIONS))}, optionally prefixed by contrib/ or non-free/",
        )


def check_relations(field_name: str, value: str, *, alternatives: bool = True) -> None:
    """Policy 7.1 relation syntax for one already-formatted field of a binary package.

    >>> check_relations("Depends", "libc6 (>= 2.34), libssl3 | libssl1.1")
    >>> check_relations("Depends", "libc6 (>= )")
    Traceback (most recent call last):
    ...
    debforge.errors.PackageError: Depends: 'libc6 (>= )' is not a valid relation ...
    """
    if not value.strip():
        return
    for group in value.split(","):
        choices = group.split("|")
        if len(choices) > 1 and not alternatives:
            raise PackageError(
                f"{field_name}: alternatives ('|') are not allowed in this field: {group.strip()!r}"
            )
        for choice in choices:
            match = _RELATION.fullmatch(choice.strip())
            if match is None:
                raise PackageError(
                    f"{field_name}: {choice.strip()!r} is not a valid relation "
                    "(expected 'name', 'name:arch' or 'name (op version)' with op one of << <= = >= >>)"
                )
            if match["version"]:
                check_version(match["version"])
            if field_name == "Provides" and match["op"] not in (None, "="):
                raise PackageError(
                    f"Provides: only '=' versions are allowed, not {choice.strip()!r} (Policy 7.5)"
                )


def _check_identity(spec: PackageSpec) -> None:
    """Architecture, Maintainer, Description, Priority, Multi-Arch, Homepage, Source."""
    if spec.arch != "all" and not _ARCH.fullmatch(spec.arch):
        raise PackageError(f"architecture {spec.arch!r} is not a Debian architecture name")
    # dpkg reads any one-line Maintainer; cargo-deb writes a bare name (no email) verbatim and the
    # recipe stage warns about it. A malformed `<email>` part is still refused.
    if not (_MAINTAINER.fullmatch(spec.maintainer) or _BARE_NAME.fullmatch(spec.maintainer)):
        raise PackageError(
            f"maintainer {spec.maintainer!r} must read 'Full Name <email@address>' (Policy 5.6.2)"
        )
    synopsis = spec.description.strip("\n").partition("\n")[0].strip()
    if not synopsis:
        raise PackageError("the description needs a one-line synopsis (Policy 3.4.1)")
    if spec.priority is not None and spec.priority not in PRIORITIES:
        raise PackageError(f"priority {spec.priority!r} is not one of {', '.join(PRIORITIES)} (Policy 2.5)")
    if spec.multi_arch is not None and spec.multi_arch not in MULTI_ARCH:
        raise PackageError(f"Multi-Arch {spec.multi_arch!r} is not one of {', '.join(MULTI_ARCH)}")
    if spec.homepage is not None and not re.fullmatch(r"https?://\S+", spec.homepage):
        raise PackageError(f"homepage {spec.homepage!r} is not an http(s) URL")
    if spec.source is not None:
        check_name(spec.source.split(" (")[0])


def _check_extra_fields(spec: PackageSpec) -> None:
    for name, value in spec.extra_fields.items():
        if not _FIELD_NAME.fullmatch(name) or name[0] in "#-":
            raise PackageError(f"control field name {name!r} is invalid (deb-control(5))")
        if name.lower() in _MANAGED_FIELDS:
            raise PackageError(f"control field {name!r} is set from the package spec, not as an extra field")
        lines = value.strip().split("\n")
        if any(not line.strip() or not line[0].isspace() for line in lines[1:]):
            raise PackageError(
                f"control field {name!r}: continuation lines must start with a space, none empty"
            )


def _check_files(spec: PackageSpec) -> None:
    """Each destination once, absolute and clean; sources readable regular files; no entry below a file."""
    kinds: dict[PurePosixPath, str] = {}
    for entry in spec.files:
        _check_entry(entry)
        if entry.dest in kinds:
            raise PackageError(f"{entry.dest} is listed twice in the package")
        kinds[entry.dest] = kind_of(entry)
    for dest in kinds:
        for parent in dest.parents:
            if kinds.get(parent, "dir") != "dir":
                raise PackageError(f"{dest} cannot be installed below {parent}, which is a {kinds[parent]}")
    for conffile in spec.conffiles:
        if kinds.get(PurePosixPath(conffile)) != "file" or not conffile.startswith("/"):
            raise PackageError(
                f"conffile {conffile} is not an absolute path of a regular file in the package"
            )
    if len(set(spec.conffiles)) != len(spec.conffiles):
        raise PackageError("a conffile is listed twice")


def _check_entry(entry: TreeEntry) -> None:
    dest = entry.dest
    text = str(dest)
    if not dest.is_absolute() or dest == PurePosixPath("/") or ".." in dest.parts or "\n" in text:
        raise PackageError(f"destination {text!r} must be an absolute path below / without '..' or newlines")
    mode = None if isinstance(entry, Symlink) else entry.mode
    if mode is not None and not 0 <= mode <= _MAX_MODE:
        raise PackageError(f"{dest}: mode {mode:#o} is not a permission mode (0 to 07777)")
    if isinstance(entry, Symlink) and not entry.target:
        raise PackageError(f"{dest}: a symlink needs a target")
    if isinstance(entry, FileFromPath):
        try:
            file_mode = entry.source.stat().st_mode
        except OSError as exc:
            raise PackageError(f"{dest}: cannot read its source {entry.source}: {exc.strerror}") from exc
        if not stat.S_ISREG(file_mode):
            raise PackageError(f"{dest}: its source {entry.source} is not a regular file")


def _check_scripts(spec: PackageSpec) -> None:
    for name, body in spec.scripts.items():
        if name not in SCRIPTS:
            raise PackageError(
                f"{name!r} is not a maintainer script or control file dpkg knows ({', '.join(SCRIPTS)})"
            )
        # dpkg runs maintainer scripts with execve, so they need an interpreter line (Policy 10.4).
        if name not in DATA_MEMBERS and not body.startswith(b"#!"):
            raise PackageError(
                f"maintainer script {name} must start with '#!' and an interpreter (Policy 10.4)"
            )
