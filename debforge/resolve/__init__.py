"""(PackageIndex, wanted) → Closure: exactly what `apt-get install -s --no-install-recommends` unpacks.

This is a model of apt's pkgDepCache::MarkInstall (apt 2.6, apt-pkg/depcache.cc), not a SAT solver:
apt is greedy and order-dependent, and the answer must match it package for package. The rules it
follows are written down in ../shared/reference/apt-resolution.md; the marker module mirrors apt's
functions one by one; `explain` turns a failure into the chain the user sees.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from debforge import cache
from debforge.archive.index import PackageIndex, PackageRecord
from debforge.errors import ResolveError, UnsatisfiableError
from debforge.resolve.explain import check_broken
from debforge.resolve.marker import Marker
from debforge.resolve.release import set_candidate_release


@dataclass(frozen=True, slots=True, kw_only=True)
class Closure:
    """The packages apt would unpack for `roots` into an empty system, sorted by name."""

    dist: str
    arch: str
    roots: tuple[str, ...]
    packages: tuple[PackageRecord, ...]

    @property
    def download_size(self) -> int:
        """Sum of the .deb sizes, in bytes."""
        return sum(p.size for p in self.packages)

    @property
    def key(self) -> str:
        """Cache key of the exact package set (the rootfs stage stores trees under it)."""
        return cache.key(sorted((p.name, p.version, p.arch, p.sha256) for p in self.packages))

    def to_json(self) -> dict[str, object]:
        """`debforge resolve --json`: dist, arch and one entry per package."""
        return {
            "dist": self.dist,
            "arch": self.arch,
            "packages": [
                {"name": p.name, "version": p.version, "arch": p.arch, "filename": str(p.filename),
                 "sha256": p.sha256, "size": p.size}
                for p in self.packages
            ],
        }  # fmt: skip


def resolve_closure(index: PackageIndex, wanted: Sequence[str], *, with_essential: bool = False) -> Closure:
    """apt's answer for `apt-get install -s --no-install-recommends WANTED` into an empty dpkg status.

    With `with_essential`, the Essential: yes and Priority: required packages are requested first,
    in one apt run together with `wanted`, as mmdebstrap's required variant installs them (apt does
    not add Essential packages by itself with an empty status).
    """
    marker = Marker(index)
    requests = [*(_essential_set(index) if with_essential else ()), *wanted]
    parsed = [(_parse_request(marker, text), text.partition("=")[0].partition("/")[2]) for text in requests]
    keys = list(dict.fromkeys(key for key, _ in parsed))
    _install_requested(marker, keys, [(key, release) for key, release in parsed if release])
    packages = tuple(sorted(marker.marked.values(), key=lambda r: (r.name, r.arch)))
    return Closure(dist=index.dist, arch=index.arch, roots=tuple(wanted), packages=packages)


def _essential_set(index: PackageIndex) -> list[str]:
    # What debootstrap/mmdebstrap start from: every candidate that is Essential or Priority: required.
    found = []
    for name in index.required or tuple(index.names()):
        cand = index.candidate(name)
        if cand is not None and (cand.essential or cand.priority == "required"):
            found.append(name)
    return sorted(found)


def _install_requested(marker: Marker, keys: list[str], releases: list[tuple[str, str]]) -> None:
    """apt-get install: mark every request (protected), switch `name/release` dependencies to that
    release (TryToInstall::propergateReleaseCandiateSwitching), then auto-install the requests in
    package-ID order."""
    for key in keys:
        marker.protected.add(key)  # pkgProblemResolver::Protect → MarkProtected
        marker.mark_install(key, auto=False, depth=0, from_user=True)
    changed: list[str] = []
    for key, release in releases:
        rec = marker.base_cand(key)
        if rec is not None:
            set_candidate_release(marker, rec, _suite_name(marker.index.dist, release), changed)
    # TryToInstall::doAutoInstall walks an APT::PackageSet, which is ordered by package ID.
    ids = marker.index.name_ids
    for key in sorted(keys, key=lambda k: ids.get(k.partition(":")[0], 1 << 30)):
        if key in marker.marked and marker.inst_broken(key):
            marker.mark_install(key, auto=True, depth=0, from_user=True)
    check_broken(marker, keys)


def _parse_request(marker: Marker, text: str) -> str:
    """`name`, `name=version`, `name/suite` or `name:arch` → the key to mark; apt's command-line rules
    (rule 9)."""
    index = marker.index
    name, _, version = text.partition("=")
    name, _, release = name.partition("/")
    name, _, arch = name.partition(":")
    key = name if arch in ("", "native", "any", index.arch, "all") else f"{name}:{arch}"
    if not marker.records(key):
        return _virtual_request(marker, name, text)
    if version:
        chosen = [r for r in marker.records(key) if r.version == version]
        if not chosen:
            have = ", ".join(r.version for r in marker.records(key))
            raise ResolveError(f"version {version!r} of {name} is not available (available: {have})")
        marker.base[key] = chosen[0]  # SetCandidateVersion: the whole run sees this version
    elif release:
        marker.base[key] = _from_release(marker, key, release, text)
    return key


def _suite_name(dist: str, release: str) -> str:
    # `backports` is debforge's short name for the dist's own `<dist>-backports`.
    return f"{dist}-backports" if release == "backports" else release


def _from_release(marker: Marker, key: str, release: str, text: str) -> PackageRecord:
    # apt's `pkg/release` picks the newest version of that suite, whatever its pin.
    suite = _suite_name(marker.index.dist, release)
    chosen = [r for r in marker.records(key) if r.suite == suite]
    if not chosen:
        have = ", ".join(sorted({r.suite for r in marker.records(key)}))
        raise ResolveError(
            f"release {suite!r} has no {text.partition('/')[0]} (it is in: {have})",
            hint="add the suite with --backports" if suite.endswith("-backports") else None,
        )
    return chosen[0]


def _virtual_request(marker: Marker, name: str, text: str) -> str:
    index = marker.index
    providers = [r for r in index.provided_by(name) if marker.cand(marker.key_of(r)) is r]
    if len(providers) == 1:  # apt: "Note, selecting X instead of V"
        return marker.key_of(providers[0])
    if providers:
        names = ", ".join(sorted({r.name for r in providers}))
        raise ResolveError(f"{name} is a virtual package provided by several packages ({names}); "
                           "name one of them")  # fmt: skip
    raise unknown_package(index, name, text)


def unknown_package(index: PackageIndex, name: str, text: str = "") -> ResolveError:
    """The error for a name with no candidate: referenced-only, or unknown with close names."""
    if name in index.name_ids or index.provided_by(name):
        return ResolveError(
            f"package {name} has no installation candidate in {index.dist}/{index.arch}",
            hint="it is only referenced by other packages (or was removed from the archive)",
        )
    close = suggest(index, name)
    hint = f"did you mean: {', '.join(close)}?" if close else None
    return ResolveError(f"unknown package {text or name!r} in {index.dist}/{index.arch}", hint=hint)


def suggest(index: PackageIndex, name: str) -> list[str]:
    """Up to three real package names close to `name` (difflib over names of similar length)."""
    near = [n for n in index.names() if abs(len(n) - len(name)) <= 2 + len(name) // 3]
    return difflib.get_close_matches(name, near, n=3, cutoff=0.75)


__all__ = ["Closure", "ResolveError", "UnsatisfiableError", "resolve_closure", "suggest", "unknown_package"]
