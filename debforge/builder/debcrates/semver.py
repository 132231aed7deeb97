"""Cargo version requirements (`^1.2`, `~0.4.3`, `>= 0.1, < 0.3`, `0.2.*`) and the crate version of a
Debian package.

Cargo's rules (cargo reference, "Specifying dependencies"): a bare version is a caret requirement,
whose upper bound is the next change in the leftmost non-zero part; missing parts are zero for the
lower bound. Pre-releases are left out: Debian's crate packages are releases (a `~` pre-release in a
Debian version is taken as its release).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Version = tuple[int, int, int]
_PART = re.compile(r"^\s*(?P<op>\^|~|=|>=|<=|>|<)?\s*(?P<ver>[0-9*xX]+(?:\.[0-9*xX]+){0,2})(?:[-+].*)?\s*$")
_UPSTREAM = re.compile(r"^(?:\d+:)?(\d+)(?:\.(\d+))?(?:\.(\d+))?")
_INF = 1 << 62
_PARTS = 3  # major.minor.patch


@dataclass(frozen=True, slots=True)
class Requirement:
    """A requirement as half-open ranges [low, high) that must all hold."""

    text: str
    ranges: tuple[tuple[Version, Version], ...]

    def matches(self, version: Version) -> bool:
        """Whether a crate version meets every comparator.

        >>> parse_requirement("0.13").matches((0, 13, 0)), parse_requirement("0.13").matches((0, 14, 0))
        (True, False)
        """
        return all(low <= version < high for low, high in self.ranges)

    def __str__(self) -> str:
        return self.text


def parse_requirement(text: str) -> Requirement:
    """Cargo's requirement text → ranges.

    >>> parse_requirement("1.2.3").ranges, parse_requirement("~0.4").ranges
    ((((1, 2, 3), (2, 0, 0)),), (((0, 4, 0), (0, 5, 0)),))
    >>> parse_requirement(">= 0.1.3, < 0.3").ranges
    (((0, 1, 3), (4611686018427387904, 0, 0)), ((0, 0, 0), (0, 3, 0)))
    >>> parse_requirement("*").matches((9, 9, 9)), parse_requirement("0.0.4").matches((0, 0, 5))
    (True, False)
    """
    ranges = []
    for part in (text or "*").split(","):
        m = _PART.match(part)
        if m is None:
            raise ValueError(f"not a Cargo version requirement: {text!r}")
        ranges.append(_range(m["op"] or "^", m["ver"]))
    return Requirement(text=text.strip() or "*", ranges=tuple(ranges))


def _range(op: str, ver: str) -> tuple[Version, Version]:  # noqa: PLR0911 - one return per Cargo operator
    parts = [int(p) for p in ver.split(".") if p not in ("*", "x", "X")]
    wild = len(parts) < _PARTS
    low: Version = (*parts, *(0,) * (_PARTS - len(parts)))  # type: ignore[assignment]  # always 3 ints
    bump = _next(parts, len(parts) - 1) if parts else (_INF, 0, 0)
    if op in ("=",) or (op == "^" and "*" in ver) or ver in ("*", "x", "X"):
        return low, bump
    if op == "^":
        first = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
        return low, _next(parts, first)
    if op == "~":
        return low, _next(parts, min(1, len(parts) - 1))
    if op == ">=":
        return low, (_INF, 0, 0)
    after = bump if wild else (low[0], low[1], low[2] + 1)  # the first version above `ver`
    if op == ">":
        return after, (_INF, 0, 0)
    if op == "<":
        return (0, 0, 0), low
    return (0, 0, 0), after  # "<="


def _next(parts: list[int], i: int) -> Version:
    """The version after bumping part `i` (later parts zero)."""
    if i < 0:
        return (_INF, 0, 0)
    bumped = [*parts[:i], parts[i] + 1]
    return (*bumped, *(0,) * (3 - len(bumped)))  # type: ignore[return-value]  # always 3 ints


def crate_version(debian_version: str) -> Version | None:
    """The crate version a Debian version packages (epoch and revision dropped).

    >>> crate_version("4.0.32-1"), crate_version("0.13.0-1+b1"), crate_version("1:2.0~rc1-3")
    ((4, 0, 32), (0, 13, 0), (2, 0, 0))
    """
    m = _UPSTREAM.match(debian_version)
    if m is None:
        return None
    return (int(m[1]), int(m[2] or 0), int(m[3] or 0))


def format_version(version: Version) -> str:
    """`(1, 2, 3)` → `1.2.3`."""
    return ".".join(str(p) for p in version)
