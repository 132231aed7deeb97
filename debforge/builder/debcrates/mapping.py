"""Crates.io dependencies → the Debian packages that ship them, as debcargo names them.

Debian's Rust team packages each crate as `librust-<crate>-dev` (crate names lowercased, `_` as
`-`), with Provides for `librust-<crate>-<major>[.<minor>[.<patch>]]-dev` and one
`librust-<crate>[-<version>]+<feature>-dev` per feature; a feature that pulls extra crates is a real
package of its own, the others are only virtual (debcargo, "Debian Rust packaging policy" 2.2).
A requirement is met by the provider whose crate version matches it and which offers every feature
asked; apt then follows each package's Depends, which debcargo wrote from the crate's own
Cargo.toml, so the whole graph is Debian's own.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from debforge.archive.index import PackageIndex, PackageRecord
from debforge.builder.debcrates.manifest import Need
from debforge.builder.debcrates.semver import Version, crate_version, format_version, parse_requirement
from debforge.errors import BuildError

# -sys crates whose build scripts look for a system library with pkg-config: the target's -dev
# package that ships its .pc file (Debian's own librust-*-sys-dev packages depend on the same).
SYS_PACKAGES = {
    "alsa-sys": "libasound2-dev", "bzip2-sys": "libbz2-dev", "curl-sys": "libcurl4-openssl-dev",
    "expat-sys": "libexpat1-dev", "freetype-sys": "libfreetype-dev", "glib-sys": "libglib2.0-dev",
    "libdbus-sys": "libdbus-1-dev", "libgit2-sys": "libgit2-dev", "libnghttp2-sys": "libnghttp2-dev",
    "libseccomp-sys": "libseccomp-dev", "libsodium-sys": "libsodium-dev", "libsqlite3-sys": "libsqlite3-dev",
    "libssh2-sys": "libssh2-1-dev", "libudev-sys": "libudev-dev", "libusb1-sys": "libusb-1.0-0-dev",
    "libz-sys": "zlib1g-dev", "lzma-sys": "liblzma-dev", "onig_sys": "libonig-dev",
    "openssl-sys": "libssl-dev", "pcre2-sys": "libpcre2-dev", "zstd-sys": "libzstd-dev",
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class CrateChoice:
    """A dependency met by Debian: the crate version chosen and the packages that ship it."""

    need: Need
    version: Version
    packages: tuple[str, ...]  # the real packages to install (the crate's, its feature packages)


@dataclass(frozen=True, slots=True, kw_only=True)
class Missing:
    """A dependency Debian cannot meet, and what Debian has instead (None: no version at all)."""

    need: Need
    have: tuple[str, ...]  # crate versions Debian has
    feature: str | None = None  # the feature Debian lacks, when the version is there


def package_name(crate: str, feature: str | None = None) -> str:
    """Debian's package name for a crate (and one of its features).

    >>> package_name("serde_json"), package_name("clap", "wrap_help")
    ('librust-serde-json-dev', 'librust-clap+wrap-help-dev')
    """
    base = crate.lower().replace("_", "-")
    return f"librust-{base}-dev" if feature is None else f"librust-{base}+{feature.replace('_', '-')}-dev"


def choose(index: PackageIndex, need: Need) -> CrateChoice | Missing:
    """The newest crate version Debian ships that meets the requirement with every feature asked."""
    requirement = parse_requirement(need.requirement)
    names = [package_name(need.crate), *(package_name(need.crate, f) for f in need.features)]
    if need.default_features and _offered(index, package_name(need.crate, "default")):
        names.append(package_name(need.crate, "default"))
    base = _offered(index, names[0])
    versions = sorted({v for v, _ in base if requirement.matches(v)}, reverse=True)
    for version in versions:
        found = [[r.name for v, r in _offered(index, name) if v == version] for name in names]
        if all(found):
            return CrateChoice(need=need, version=version, packages=tuple(dict.fromkeys(f[0] for f in found)))
    have = tuple(sorted({format_version(v) for v, _ in base}))
    if not versions:
        return Missing(need=need, have=have)
    lacking = next(n for n in names if not any(v == versions[0] for v, _ in _offered(index, n)))
    return Missing(need=need, have=have, feature=lacking.partition("+")[2].removesuffix("-dev"))


def lacking_features(
    index: PackageIndex, chosen: Sequence[CrateChoice], manifests: Iterable[Path]
) -> list[tuple[Path, str, str]]:
    """(manifest, feature, item) for each `dep/feat` item of a [features] table whose feature the chosen
    Debian crate lacks: cargo resolves every feature of the workspace members to write Cargo.lock, so
    such an item fails the build even when the feature is off (debcargo patches these out)."""
    by_key = {(c.need.manifest, c.need.key): c for c in chosen}
    found = []
    for manifest in sorted(set(manifests)):
        for feature, items in tomllib.loads(manifest.read_text()).get("features", {}).items():
            for item in items:
                dep, _, sub = item.removeprefix("dep:").partition("/")
                choice = by_key.get((manifest, dep.rstrip("?")))
                name = package_name(choice.need.crate, sub) if choice and sub else None
                if choice and name and not any(v == choice.version for v, _ in _offered(index, name)):
                    found.append((manifest, feature, item))
    return found


def _offered(index: PackageIndex, name: str) -> list[tuple[Version, PackageRecord]]:
    """(crate version, candidate record) of every package that is or Provides `name`."""
    found = []
    for rec in index.versions(name)[:1]:
        found.append((crate_version(rec.version), rec))
    for rec in index.provided_by(name):
        if index.candidate(rec.name) is not rec:
            continue  # apt installs candidates only
        for provided, version in rec.provides:
            if provided == name:
                found.append((crate_version(version or rec.version), rec))
    return [(v, r) for v, r in found if v is not None]


def missing_error(missing: Missing, dist: str) -> BuildError:
    """One sentence for a crate Debian cannot supply: which, what is asked, what Debian has, what to do."""
    need, where = missing.need, f"{'.'.join(missing.need.table)} of {missing.need.manifest}"
    if missing.feature is not None:
        what = f"Debian {dist} ships {need.crate} {missing.have[-1]} without its feature {missing.feature!r}"
    elif missing.have:
        what = f"Debian {dist} only ships {need.crate} {', '.join(missing.have)}"
    else:
        what = f"Debian {dist} ships no crate {need.crate} ({package_name(need.crate)})"
    return BuildError(
        f"crate {need.crate} {need.requirement} ({where}) cannot come from Debian: {what}; vendor it "
        f'(crates = "vendored"), take crates from crates.io (crates = "registry"), or change the '
        "requirement with a [patch] or a version bump",
    )


def sys_packages(crates: Sequence[str]) -> list[str]:
    """The system -dev packages the -sys crates among `crates` look for with pkg-config.

    >>> sys_packages(["librust-pcre2-sys-dev", "regex"])
    ['libpcre2-dev']
    """
    names = {c.removeprefix("librust-").removesuffix("-dev").replace("_", "-") for c in crates}
    return sorted({dev for crate, dev in SYS_PACKAGES.items() if crate.replace("_", "-") in names})
