"""Debian version ordering (dpkg's `verrevcmp`), without importing python-debian on the warm path."""

from __future__ import annotations

import functools
import re

_DIGITS = re.compile(r"(\d*)")


def _order(char: str) -> int:
    # dpkg lib/dpkg/version.c order(): '~' sorts before everything, even the end of the string;
    # letters sort before non-letters.
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """Compare an upstream version or a revision as dpkg does (alternating non-digit/digit runs)."""
    i = j = 0
    while i < len(a) or j < len(b):
        # Non-digit run, compared character by character with _order; the end of a run counts 0.
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        # Digit run, compared numerically (leading zeros do not count).
        da = _DIGITS.match(a, i).group(1)  # type: ignore[union-attr]  # \d* always matches
        db = _DIGITS.match(b, j).group(1)  # type: ignore[union-attr]  # \d* always matches
        i += len(da)
        j += len(db)
        if (na := int(da or 0)) != (nb := int(db or 0)):
            return -1 if na < nb else 1
    return 0


def split_version(version: str) -> tuple[int, str, str]:
    """(epoch, upstream, revision) as Debian Policy 5.6.12 defines them.

    >>> split_version("1:2.36-9+deb12u4")
    (1, '2.36', '9+deb12u4')
    """
    epoch, sep, rest = version.partition(":")
    if not sep:
        epoch, rest = "0", version
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    return int(epoch or 0), upstream, revision


@functools.lru_cache(maxsize=8192)  # a pure function of two strings: safe to share, not per-run state
def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` sorts before, equal to or after `b` (dpkg ordering).

    >>> compare_versions("1.0~rc1", "1.0") < 0 < compare_versions("1:0.1", "9.9")
    True
    >>> compare_versions("2.36-9+deb12u10", "2.36-9+deb12u9") > 0
    True
    """
    ea, ua, ra = split_version(a)
    eb, ub, rb = split_version(b)
    if ea != eb:
        return -1 if ea < eb else 1
    order = _compare_part(ua, ub) or _compare_part(ra, rb)
    return (order > 0) - (order < 0)


version_key = functools.cmp_to_key(compare_versions)


def satisfies(version: str, op: str | None, wanted: str | None) -> bool:
    """True when `version` meets `(op wanted)`; `<`/`>` are dpkg's obsolete `<=`/`>=`.

    >>> satisfies("3.0.11-1~deb12u2", ">=", "3.0.0"), satisfies("1.0", "<<", "1.0")
    (True, False)
    """
    if op is None or wanted is None:
        return True
    cmp = compare_versions(version, wanted)
    return {
        "<<": cmp < 0, "<=": cmp <= 0, "<": cmp <= 0, "=": cmp == 0,
        ">=": cmp >= 0, ">": cmp >= 0, ">>": cmp > 0,
    }[op]  # fmt: skip
