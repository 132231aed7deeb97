"""Checks of the package's control fields, each failure naming the file and key."""

from __future__ import annotations

import re

from debforge.dists import supported_dists
from debforge.errors import RecipeError
from debforge.recipe.debian import (
    PRIORITIES,
    check_package_name,
    check_section,
    check_section_syntax,
    check_version,
    full_version,
    suggest,
)
from debforge.recipe.tomlfile import Table
from debforge.report import Reporter

# Policy 5.6.2: "Full Name <email@address>".
_CONTACT = re.compile(r"[^<>,\n]*[^<>,\s][^<>,\n]* <[^<>@\s]+@[^<>\s]+>")


def package_name(table: Table, key: str, name: str) -> str:
    """A valid Debian package name (Policy 5.6.1)."""
    reason = check_package_name(name)
    if reason:
        raise table.error(key, f"'{name}' is not a valid Debian package name: it {reason}")
    return name


def version(table: Table, key: str, upstream: str, revision: str) -> None:
    """Refuse a version Debian would reject (Policy 5.6.12), naming the key that made it."""
    reason = check_version(full_version(upstream, revision))
    if reason:
        raise table.error(
            key, f"'{full_version(upstream, revision)}' is not a valid Debian version: {reason}"
        )


def revision(table: Table, key: str) -> str:
    """The Debian revision: a string (or integer), default "1" as cargo-deb; "" or "0" omits it."""
    value = table.raw(key)
    if value is None:
        return "1"
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise table.error(key, 'expected a string such as "1"')
    return "" if str(value) == "0" else str(value)


def section(table: Table, key: str, value: str | None) -> str | None:
    """A Debian section (with an optional archive area), or None; cargo-deb metadata (a lenient table)
    may name any one word, written verbatim as cargo-deb writes it, with a warning."""
    if value is None:
        return None
    reason = check_section_syntax(value) or check_section(value)
    if reason and (table.strict or check_section_syntax(value)):
        raise table.error(key, f"'{value}' {reason}")
    if reason:
        table.reporter.warning(
            f"{table.ref(key)}: '{value}' is written as it is, as cargo-deb does, though it {reason}"
        )
    return value


def priority(table: Table, key: str, value: str | None) -> str:
    """A Debian priority; "extra" (deprecated by Policy 4.0.1) becomes "optional" with a warning."""
    if value is None:
        return "optional"
    if value == "extra":
        table.reporter.warning(f"{table.ref(key)}: priority 'extra' is deprecated; using 'optional'")
        return "optional"
    if value not in PRIORITIES:
        raise table.error(
            key, f"'{value}' is not a Debian priority ({', '.join(PRIORITIES)}){suggest(value, PRIORITIES)}"
        )
    return value


def maintainer(table: Table, key: str, value: str) -> str:
    """A `Full Name <email>` contact (Policy 5.6.2); cargo-deb metadata (a lenient table) only warns."""
    if not table.strict:
        return lenient_maintainer(value, table.ref(key), table.reporter)
    if not _CONTACT.fullmatch(value.strip()):
        raise table.error(key, f"'{value}' is not of the form 'Full Name <email@example.org>'")
    return value.strip()


def lenient_maintainer(value: str, where: str, reporter: Reporter) -> str:
    """The maintainer verbatim, as cargo-deb writes it, with a warning when it is not `Name <email>`."""
    text = value.strip()
    if not text:
        raise RecipeError(f"{where} is empty; a package needs a maintainer")
    if not _CONTACT.fullmatch(text):
        reporter.warning(
            f"{where}: maintainer '{text}' is not of the form 'Full Name <email@example.org>' "
            "(Policy 5.6.2); it is written as it is"
        )
    return text


def description(table: Table, key: str, text: str, extended: str | None) -> tuple[str, str | None]:
    """Synopsis and extended description; a multi-line description donates its tail to the latter."""
    first, _, rest = text.strip().partition("\n")
    synopsis = first.strip()
    if not synopsis:
        raise table.error(key, "the description is empty")
    # Policy 3.4.1: the synopsis should be under 80 characters; dpkg accepts longer, lintian warns.
    if len(synopsis) >= 80:  # noqa: PLR2004  # Policy 3.4.1
        table.reporter.warning(
            f"{table.ref(key)}: the synopsis is {len(synopsis)} characters; keep it under 80"
        )
    long = extended if extended is not None else (rest.strip() or None)
    return synopsis, (long.strip() or None) if long else None


# cargo-deb wraps the Description at 79 columns (src/util/wordsplit.rs `split_by_chars(79)`).
_CARGO_DEB_WIDTH = 79


def cargo_deb_description(table: Table, key: str, text: str, extended: str | None) -> tuple[str, str | None]:
    """Synopsis and extended description as cargo-deb writes them: every line of the Cargo description,
    wrapped at 79 columns, then the extended description; the first wrapped line is the synopsis."""
    first, *rest = text.strip().splitlines() or [""]
    if not first.strip():
        raise table.error(key, "the description is empty")
    head, *tail = wrap_like_cargo_deb(first)
    if tail:
        table.reporter.warning(
            f"{table.ref(key)}: the synopsis is {len(first)} characters; as cargo-deb does, it is wrapped "
            f"at {_CARGO_DEB_WIDTH} and the rest opens the extended description"
        )
    lines = [*tail, *rest, *(extended.strip().splitlines() if extended and extended.strip() else [])]
    long = "\n".join(lines).strip()
    return head.strip(), long or None


def wrap_like_cargo_deb(line: str, width: int = _CARGO_DEB_WIDTH) -> list[str]:
    """One line split into chunks the way cargo-deb's `split_by_chars(79)` splits it (by words, by bytes).

    >>> [len(c) for c in wrap_like_cargo_deb("word " * 30)]
    [79, 70]
    """
    chunks: list[str] = []
    current, has_words = "", False
    for word in line.replace("\t", "  ").split(" "):
        if current.strip() and len(current.encode()) + len(word.encode()) >= width:
            chunks.append(current)
            current = word
            continue
        current += (" " if has_words else "") + word
        has_words = True
    chunks.append(current if current.strip() else ".")
    return chunks


def toolchain_dist(table: Table, key: str) -> str | None:
    """`toolchain-dist`: the dist whose rustc and Rust std build the project, one debforge knows."""
    dist = table.string(key)
    if dist is not None and dist not in supported_dists():
        raise table.error(key, f"'{dist}' is not a dist debforge knows ({', '.join(supported_dists())})")
    return dist
