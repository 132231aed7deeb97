"""Why a request fails: the dependency chain down to what nothing satisfies, in one sentence."""

from __future__ import annotations

from debforge.archive.index import PackageRecord, Relation
from debforge.errors import ResolveError, UnsatisfiableError
from debforge.resolve.marker import Marker


def check_broken(marker: Marker, keys: list[str]) -> None:
    """Fail as apt does when a marked package is left with unmet dependencies or conflicts."""
    for key in [*keys, *marker.marked]:
        if key not in marker.marked or not marker.inst_broken(key):
            continue
        rec = marker.marked[key]
        for group in (*rec.conflicts, *rec.breaks):
            for rel in group:
                if marker.satisfied(rel, key):
                    raise ResolveError(f"{rec.name} conflicts with {rel} which must also be installed; "
                                       "apt would reject this set")  # fmt: skip
        chain = [*_ancestors(marker, key), rec.name]
        found = _unsatisfiable(marker, rec, chain, set())
        raise found or ResolveError(f"{' -> '.join(chain)} cannot be installed: apt would leave it broken")


def _ancestors(marker: Marker, key: str) -> list[str]:
    out: list[str] = []
    while (key := marker.parents.get(key, "")) and key not in out:
        out.insert(0, key)
    return out


def _unsatisfiable(
    marker: Marker, rec: PackageRecord, chain: list[str], seen: set[str]
) -> ResolveError | None:
    """The first unmet dependency below `rec` that nothing can satisfy (or that a conflict blocks)."""
    seen.add(rec.name)
    unmet = [g for g in (*rec.pre_depends, *rec.depends) if not any(marker.satisfied(r) for r in g)]
    here = " -> ".join(chain)
    for group in unmet:  # first the relations no candidate satisfies at all
        if not any(_base_candidates(marker, alt) for alt in group):
            text = " | ".join(str(r) for r in group)
            return UnsatisfiableError(f"{here} -> {text}: {_why(marker, group[0])}", chain=[*chain, text])
    for group in unmet:  # then the ones a conflict with the chosen set blocks
        for cand in (c for alt in group for c in _base_candidates(marker, alt)):
            if clash := _clash(marker, cand):
                return ResolveError(f"{here} -> {' | '.join(map(str, group))}: {cand.name} {clash}")
    for group in unmet:  # then deeper down
        for cand in (c for alt in group for c in _base_candidates(marker, alt)):
            if cand.name not in seen and (found := _unsatisfiable(marker, cand, [*chain, cand.name], seen)):
                return found
    return None


def _base_candidates(marker: Marker, rel: Relation) -> list[PackageRecord]:
    cands = [marker.base_cand(rel.name), *(r for r in marker.index.provided_by(rel.name)
                                           if marker.base_cand(marker.key_of(r)) is r)]  # fmt: skip
    return [c for c in cands if c is not None and (marker.own_match(rel, c) or marker.provide_match(rel, c))
            and (c.name == rel.name or marker.provide_match(rel, c))]  # fmt: skip


def _clash(marker: Marker, cand: PackageRecord) -> str:
    key = marker.key_of(cand)
    for rel in (r for g in (*cand.conflicts, *cand.breaks) for r in g):
        if marker.satisfied(rel, key):
            return f"conflicts with {rel}, which is to be installed"
    for other, rec in marker.marked.items():
        for rel in (r for g in (*rec.conflicts, *rec.breaks) for r in g):
            if other != key and ((rel.name == cand.name and marker.own_match(rel, cand))
                                 or marker.provide_match(rel, cand)):  # fmt: skip
                return f"is in conflict with {rec.name} ({rel}), which is to be installed"
    return ""


def _why(marker: Marker, rel: Relation) -> str:
    have = marker.base_cand(rel.name)
    if have is not None:
        if len(marker.records(rel.name)) == 1:
            return f"only {have.version} is available"
        return f"the candidate is {have.version} and apt never falls back to an older version"
    if marker.index.provided_by(rel.name):
        return "no package provides a matching version"
    return "no package of that name or providing it exists"
