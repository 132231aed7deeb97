"""Cargo's platform tables (`[target.'cfg(...)'.dependencies]`) evaluated for a Rust target triple.

Cargo keeps a target-specific dependency when the table's key is the triple itself or a `cfg()`
expression true for it (cargo reference, "Platform specific dependencies"); build-dependencies
are matched against the host, since build scripts run there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# rustc's target_arch per triple prefix (rustc --print cfg --target ...).
_ARCHES = {"aarch64": "aarch64", "x86_64": "x86_64", "i686": "x86", "i586": "x86", "armv7": "arm",
           "arm": "arm", "powerpc64le": "powerpc64", "s390x": "s390x", "riscv64gc": "riscv64",
           "mips64el": "mips64", "loongarch64": "loongarch64"}  # fmt: skip
_BITS32 = ("x86", "arm")
_BIG_ENDIAN = ("s390x",)
_TOKEN = re.compile(r'\s*(?:(?P<str>"[^"]*")|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),=]))')


def target_cfg(triple: str) -> dict[str, tuple[str, ...]]:
    """The cfg keys rustc sets for a Linux GNU triple (names map to their values; flags map to ()).

    >>> cfg = target_cfg("aarch64-unknown-linux-gnu")
    >>> cfg["target_arch"], cfg["target_pointer_width"], "unix" in cfg, "windows" in cfg
    (('aarch64',), ('64',), True, False)
    """
    arch = _ARCHES.get(triple.split("-", 1)[0], triple.split("-", 1)[0])
    env = triple.rsplit("-", 1)[-1]
    return {
        "target_arch": (arch,), "target_os": ("linux",), "target_family": ("unix",), "unix": (),
        "target_env": ("gnu",), "target_vendor": ("unknown",),
        "target_abi": (env.removeprefix("gnu"),) if env.startswith("gnu") and env != "gnu" else ("",),
        "target_endian": ("big" if arch in _BIG_ENDIAN else "little",),
        "target_pointer_width": ("32" if arch in _BITS32 else "64",),
        "target_has_atomic": ("8", "16", "32", "64", "ptr"),
        "panic": ("unwind",),
    }  # fmt: skip


def platform_matches(key: str, triple: str) -> bool:
    """Whether a `[target.KEY]` table applies to `triple`: the triple itself, or a true cfg().

    >>> t = "aarch64-unknown-linux-gnu"
    >>> platform_matches('cfg(all(unix, not(target_os = "macos")))', t), platform_matches("cfg(windows)", t)
    (True, False)
    >>> platform_matches("x86_64-pc-windows-msvc", t), platform_matches('cfg(target_arch = "aarch64")', t)
    (False, True)
    """
    key = key.strip()
    if not key.startswith("cfg("):
        return key == triple
    tokens = [m.group(m.lastgroup or "") for m in _TOKEN.finditer(key)]
    value, rest = _expr(tokens, target_cfg(triple))
    return value and not rest


def _expr(tokens: list[str], cfg: Mapping[str, tuple[str, ...]]) -> tuple[bool, list[str]]:
    """One cfg predicate from the front of `tokens`: (its value, the tokens after it)."""
    head, rest = tokens[0], tokens[1:]
    if head in ("cfg", "all", "any", "not") and rest[:1] == ["("]:
        values, rest = _args(rest[1:], cfg)
        if head == "all":
            return all(values), rest
        if head == "any":
            return any(values), rest
        return (not values[0]) if head == "not" else values[0], rest
    if rest[:1] == ["="]:
        return rest[1].strip('"') in cfg.get(head, ()), rest[2:]
    return head in cfg, rest


def _args(tokens: list[str], cfg: Mapping[str, tuple[str, ...]]) -> tuple[list[bool], list[str]]:
    values: list[bool] = []
    while tokens and tokens[0] != ")":
        value, tokens = _expr(tokens, cfg)
        values.append(value)
        if tokens[:1] == [","]:
            tokens = tokens[1:]
    return values, tokens[1:]
