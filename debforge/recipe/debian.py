"""Debian's rules for recipe values: package names, versions, sections, priorities, relations."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from debian.debian_support import Version

# Debian's sections as the archive lists them (https://packages.debian.org/bookworm/ and
# Policy 2.4); an area prefix (contrib/, non-free/, non-free-firmware/) is allowed in front.
_SECTION_WORDS = (
    "admin cli-mono comm database debian-installer debug devel doc editors education electronics "
    "embedded fonts games gnome gnu-r gnustep golang graphics hamradio haskell httpd interpreters "
    "introspection java javascript kde kernel libdevel libs lisp localization mail math "
    "metapackages misc net news ocaml oldlibs otherosfs perl php python ruby rust science shells "
    "sound tasks tex text utils vcs video web x11 xfce zope"
)
SECTIONS = frozenset(_SECTION_WORDS.split())
# Policy 2.4: main is the default area and is never written as a prefix.
AREAS = ("contrib", "non-free", "non-free-firmware")
# deb-control(5): Section is one word; Policy 2.4 lists Debian's, but dpkg and cargo-deb take any.
_SECTION_WORD = re.compile(r"[!-~]+")
# Policy 2.5: "extra" is deprecated (since Policy 4.0.1) in favour of "optional".
PRIORITIES = ("required", "important", "standard", "optional")

# Policy 5.6.1: lowercase letters, digits, + - . ; at least two characters, alphanumeric first.
_PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
# Policy 5.6.12: [epoch:]upstream[-revision]; upstream starts with a digit.
_EPOCH = r"(?:[0-9]+:)?"
_UPSTREAM_NOREV = r"[0-9][A-Za-z0-9.+~]*"
_UPSTREAM_REV = r"[0-9][A-Za-z0-9.+~-]*"
_REVISION = r"[A-Za-z0-9.+~]+"
_VERSION = re.compile(rf"{_EPOCH}(?:{_UPSTREAM_REV}-{_REVISION}|{_UPSTREAM_NOREV})")

# One alternative of a relation (Policy 7.1), as written in a source package: name, optional
# :archqual, optional (op version), optional [arch list], optional <build profiles>.
_ALTERNATIVE = re.compile(
    r"""\s*(?P<name>[a-z0-9][a-z0-9+.-]+)(?::(?P<archqual>[a-z0-9-]+))?
        \s*(?:\(\s*(?P<op><<|<=|=|>=|>>)\s*(?P<version>[^\s()]+)\s*\))?
        \s*(?:\[(?P<arches>[^\[\]]*)\])?
        \s*(?P<profiles>(?:<[^<>]*>\s*)*)$""",
    re.VERBOSE,
)
_ARCH_TOKEN = re.compile(r"!?[a-z0-9-]+")
AUTO = "$auto"


def suggest(word: str, choices: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest of `choices`, or an empty string."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def debian_package_name(crate: str) -> str:
    """The Debian package name cargo-deb derives from a crate name.

    >>> debian_package_name("My_Tool")
    'my-tool'
    """
    return crate.lower().replace("_", "-")


def check_package_name(name: str) -> str | None:
    """Why `name` is not a valid Debian package name (Policy 5.6.1), or None.

    >>> check_package_name("hello-ssl") is None
    True
    >>> check_package_name("Hello")
    'must be at least two characters of a-z, 0-9, +, - and ., starting with a letter or digit'
    """
    if _PACKAGE_NAME.fullmatch(name):
        return None
    return "must be at least two characters of a-z, 0-9, +, - and ., starting with a letter or digit"


def mangle_cargo_version(version: str) -> str:
    """Turn a Cargo (semver) version into a Debian upstream version, as cargo-deb does.

    A pre-release that mixes letters and digits sorts before the release with `~`; build
    metadata (`+x`) is kept; a pre-release of only letters or only digits is left alone.

    >>> mangle_cargo_version("1.0.0-alpha.1")
    '1.0.0~alpha.1'
    >>> mangle_cargo_version("1.0.0-alpha.1+build.5")
    '1.0.0~alpha.1+build.5'
    >>> mangle_cargo_version("1.0-beta")
    '1.0-beta'
    >>> mangle_cargo_version("2.3.4+g1234")
    '2.3.4+g1234'
    """
    main, sep, pre = version.partition("-")
    if sep and any(c.isdigit() for c in pre) and any(not c.isdigit() for c in pre):
        return f"{main}~{pre}"
    return version


def full_version(upstream: str, revision: str) -> str:
    """`upstream-revision`, or `upstream` alone when the revision is empty or "0" (cargo-deb).

    >>> full_version("1.2.3", "1"), full_version("1.2.3", "0"), full_version("1.2.3", "")
    ('1.2.3-1', '1.2.3', '1.2.3')
    """
    return upstream if revision in ("", "0") else f"{upstream}-{revision}"


def check_version(version: str) -> str | None:
    """Why Debian would reject `version` (Policy 5.6.12), or None.

    >>> check_version("1.0.0~alpha.1-1") is None
    True
    >>> check_version("v1.0")
    'the upstream part must start with a digit'
    >>> check_version("1.0_1")
    "it contains '_'; only A-Z a-z 0-9 . + ~ - and one ':' after an epoch are allowed"
    """
    if not version:
        return "it is empty"
    upstream = version.split(":", 1)[-1]
    if not upstream[:1].isdigit():
        return "the upstream part must start with a digit"
    bad = sorted({c for c in version if not (c.isalnum() and c.isascii()) and c not in ".+~-:"})
    if bad:
        return f"it contains '{bad[0]}'; only A-Z a-z 0-9 . + ~ - and one ':' after an epoch are allowed"
    if not _VERSION.fullmatch(version):
        return "it does not have the form [epoch:]upstream[-revision] (Policy 5.6.12)"
    try:
        Version(version)  # python-debian: the same parser apt's Python tools use
    except ValueError as exc:
        return str(exc)
    return None


def check_section_syntax(section: str) -> str | None:
    """Why `section` cannot be a Section field at all, or None: dpkg reads any one word there.

    >>> check_section_syntax("utility") is None, check_section_syntax("my utils")
    (True, 'is not one word of printable ASCII (deb-control(5))')
    """
    return None if _SECTION_WORD.fullmatch(section) else "is not one word of printable ASCII (deb-control(5))"


def check_section(section: str) -> str | None:
    """Why `section` is not one of Debian's sections, or None.

    >>> check_section("contrib/utils") is None
    True
    >>> check_section("utility")
    "is not a Debian section; did you mean 'utils'?"
    """
    area, _, name = section.rpartition("/")
    if area and area not in AREAS:
        return f"has an unknown archive area '{area}' (one of {', '.join(AREAS)})"
    if name in SECTIONS:
        return None
    return f"is not a Debian section{suggest(name, SECTIONS)}"


def arch_matches(spec: str, arch: str) -> bool:
    """Whether Debian architecture `arch` matches `spec`: a name or a wildcard (dpkg-architecture -i).

    Only Linux arches exist in debforge's targets, so `os-cpu` wildcards reduce to the cpu part.

    >>> [arch_matches(s, "arm64") for s in ("arm64", "any-arm64", "linux-any", "amd64", "kfreebsd-any")]
    [True, True, True, False, False]
    >>> arch_matches("any-arm", "armhf")
    True
    """
    if spec in ("any", "linux-any", "any-any", arch, f"linux-{arch}"):
        return True
    cpu = {"armhf": "arm", "armel": "arm"}.get(arch, arch)
    return spec in (f"any-{cpu}", f"linux-{cpu}")


def _arch_list_keeps(arches: str, arch: str) -> bool:
    """`[a b]` keeps `arch` if listed; `[!a !b]` keeps it if not listed (Policy 7.1)."""
    tokens = arches.split()
    if not tokens or not all(_ARCH_TOKEN.fullmatch(t) for t in tokens):
        raise ValueError(f"bad architecture list [{arches}]")
    negated = [t.startswith("!") for t in tokens]
    if any(negated) and not all(negated):
        raise ValueError(f"architecture list [{arches}] mixes negated and plain entries")
    if all(negated):
        return not any(arch_matches(t[1:], arch) for t in tokens)
    return any(arch_matches(t, arch) for t in tokens)


def _render_alternative(match: re.Match[str]) -> str:
    """An alternative as it goes into a binary control field: no arch list, no profiles."""
    text = match["name"] + (f":{match['archqual']}" if match["archqual"] else "")
    if match["op"]:
        text += f" ({match['op']} {match['version']})"
    return text


def parse_relation_group(text: str, arch: str) -> str | None:
    """Check one AND-group (`a (>= 1) | b [arm64]`) and filter it for `arch`.

    Returns the group without arch lists (None when no alternative applies to `arch`); raises
    ValueError with the reason when the syntax is wrong.

    >>> parse_relation_group("libc6 (>= 2.36) | libc6.1 [!arm64]", "arm64")
    'libc6 (>= 2.36)'
    >>> parse_relation_group("foo [amd64]", "arm64") is None
    True
    >>> parse_relation_group("libc6 (>= 2.36", "arm64")
    Traceback (most recent call last):
    ...
    ValueError: 'libc6 (>= 2.36' is not a valid relation
    """
    kept: list[str] = []
    for alternative in text.split("|"):
        match = _ALTERNATIVE.fullmatch(alternative)
        if not match or not alternative.strip():
            raise ValueError(f"'{alternative.strip()}' is not a valid relation")
        if match["version"] and check_version(match["version"]):
            raise ValueError(f"'{match['version']}' in '{alternative.strip()}' is not a valid version")
        if match["arches"] is None or _arch_list_keeps(match["arches"], arch):
            kept.append(_render_alternative(match))
    return " | ".join(kept) if kept else None


def split_relation_field(value: str) -> list[str]:
    """Split a comma-separated relation field into its AND-groups, keeping `$auto`.

    >>> split_relation_field("$auto, libc6 (>= 2.36),  foo | bar")
    ['$auto', 'libc6 (>= 2.36)', 'foo | bar']
    """
    return [part.strip() for part in value.split(",") if part.strip()]
