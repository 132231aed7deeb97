"""`apt-get install name/release`: apt's pkgDepCache::SetCandidateRelease (apt 2.6, depcache.cc).

Choosing `name/bookworm-backports` makes that suite's version the candidate, and then walks its
Depends and Pre-Depends: where the current candidate of a dependency cannot satisfy it (or is not
installable), the same release's version takes over, recursively ("Selected version X for Y because
of Z"). This is how a backport that needs newer libraries from the same suite installs at all,
although the suite is pinned at 100.
"""

from __future__ import annotations

from debforge.archive.index import PackageRecord, Relation
from debforge.resolve.marker import Marker


def from_release(marker: Marker, key: str, suite: str) -> PackageRecord | None:
    """The newest version of package `key` in `suite` (pkgVersionMatch::Release.Find)."""
    return next((r for r in marker.records(key) if r.suite == suite), None)


def set_candidate_release(marker: Marker, rec: PackageRecord, suite: str, changed: list[str]) -> bool:
    """Make `rec` its package's candidate and switch dependencies to `suite` where that helps.

    `changed` holds the keys switched so far in this run (apt's `Changed` list); False when some
    Depends/Pre-Depends group is neither fine as it is nor fixed from `suite`. The walk stops at the
    first such group, and what it switched before stays switched (apt's undo re-sets the new versions).
    """
    marker.base[marker.key_of(rec)] = rec  # SetCandidateVersion
    for group in (*rec.pre_depends, *rec.depends):  # the DependsList order of the critical kinds
        if _group_fine(marker, group) or _switch_group(marker, group, suite, changed):
            continue
        return False  # apt's "undo" re-sets the versions it switched to, so nothing else changes
    return True


def _installable(marker: Marker, rec: PackageRecord) -> bool:
    # VersionState(deps, DepInstall, DepCandMin, ...): every critical dependency is met by what is
    # marked for installation *now* (DepInstall, not the candidates). With an empty status and only
    # the requests marked, that fails for nearly anything with a Depends, so an unversioned dependency
    # usually stops the walk: apt's behaviour, reproduced as is.
    if any(not any(marker.satisfied(r) for r in group) for group in (*rec.pre_depends, *rec.depends)):
        return False
    owner = marker.key_of(rec)
    return not any(marker.satisfied(r, owner) for group in (*rec.conflicts, *rec.breaks) for r in group)


def _group_fine(marker: Marker, group: tuple[Relation, ...]) -> bool:
    index = marker.index
    for rel in group:
        if not index.versions(rel.name) and not index.provided_by(rel.name):
            continue  # virtual packages can't be a solution
        cand = marker.cand(rel.name)
        if rel.op is None:
            providers = index.provided_by(rel.name)
            if providers:  # a provided name counts only through an installable provider
                if any(marker.cand(marker.key_of(p)) is p and _installable(marker, p) for p in providers):
                    return True
                continue
            if cand is not None and _installable(marker, cand):
                return True
            continue
        if cand is not None and marker.own_match(rel, cand) and _installable(marker, cand):
            return True
    return False


def _switch_group(marker: Marker, group: tuple[Relation, ...], suite: str, changed: list[str]) -> bool:
    # Walk the group again: the first alternative whose version from `suite` satisfies it and whose
    # own dependencies can be met that way becomes the candidate.
    for i, rel in enumerate(group):
        last = i == len(group) - 1
        if rel.op is None:
            if last:
                return False
            continue  # changing the candidate does not help an unversioned dependency
        found = from_release(marker, rel.name, suite)
        if found is None or not marker.own_match(rel, found):
            if last:
                return False
            continue
        old = marker.cand(rel.name)
        if found is old and marker.key_of(found) in changed:
            return True  # switched already: its dependencies were checked then
        changed.append(marker.key_of(found))
        if set_candidate_release(marker, found, suite, changed):
            return True
        if last:
            return False
        marker.base[rel.name] = old  # undo this alternative's switch and try the next
        changed.pop()
    return False
