"""apt's pkgDepCache marking (apt 2.6, apt-pkg/depcache.cc) as a Python model: MarkInstall and friends.

apt is greedy and order-dependent, so this follows its code path step by step rather than solving
constraints; each method names the apt function it mirrors. State is per request (one Marker).
"""

from __future__ import annotations

from collections.abc import Iterable

from debforge.archive.index import PackageIndex, PackageRecord, Relation
from debforge.archive.version import satisfies

_PRIORITY = {"required": 1, "important": 2, "standard": 3, "optional": 4, "extra": 5}
_MAX_DEPTH = 3000  # apt's IsModeChangeOk gives up this deep ("we are not trying too hard")


class Marker:
    """apt's pkgDepCache marking state for one request: candidates, marks, protection."""

    def __init__(self, index: PackageIndex) -> None:
        self.index = index
        self.native = index.arch
        self.base: dict[str, PackageRecord | None] = {}  # policy candidate (or name=version)
        self.cand_now: dict[str, PackageRecord | None] = {}  # after discards
        self.marked: dict[str, PackageRecord] = {}  # ModeInstall, in marking order
        self.marked_provides: dict[str, list[PackageRecord]] = {}
        self.marked_names: dict[str, list[PackageRecord]] = {}  # name → marked records of any arch
        self.protected: set[str] = set()
        # apt caches whether a dependency is satisfiable by candidates (DepCVer) and recomputes it
        # only when a package the dependency names changes state; a discarded candidate stays
        # visible until then. These clocks reproduce that staleness.
        self.clock = 0
        self.refreshed: dict[str, int] = {}
        self.discarded: dict[str, int] = {}
        self.parents: dict[str, str] = {}  # who first tried to pull a package in: for error chains

    # --- candidates -------------------------------------------------------------------------------

    def records(self, key: str) -> tuple[PackageRecord, ...]:
        """Every version of the package `key` (`name` native/all, or `name:arch`), newest first."""
        name, _, arch = key.partition(":")
        own = {arch} if arch else {self.native, "all"}
        return tuple(r for r in self.index.versions(name) if r.arch in own)

    def base_cand(self, key: str) -> PackageRecord | None:
        """The policy candidate (or the name=version choice), before any discard."""
        if key not in self.base:
            found = self.records(key)
            self.base[key] = found[0] if found else None  # rule 1: highest version of any suite
        return self.base[key]

    def cand(self, key: str) -> PackageRecord | None:
        """The candidate now: None once apt has discarded it."""
        return self.cand_now[key] if key in self.cand_now else self.base_cand(key)

    def key_of(self, rec: PackageRecord) -> str:
        """The package a record belongs to: its name, qualified when of a foreign architecture."""
        return rec.name if rec.arch in (self.native, "all") else f"{rec.name}:{rec.arch}"

    def _visible_cand(self, key: str, target: str) -> PackageRecord | None:
        # DepCVer as apt last computed it for dependencies on `target` (see the clocks above).
        gone = self.discarded.get(key)
        if gone is not None and gone < self.refreshed.get(target, -1):
            return self.cand(key)
        return self.base_cand(key)

    # --- relation matching ------------------------------------------------------------------------

    def own_match(self, rel: Relation, rec: PackageRecord) -> bool:
        """`rec` satisfies `rel` as the package it names (arch qualifier and version)."""
        native = rec.arch in (self.native, "all")
        if rel.arch == "any":  # `:any` is an implicit Provides of Multi-Arch: allowed packages only
            ok = rec.multi_arch == "allowed"
        elif rel.arch in (None, "native", self.native):
            # Multi-Arch: foreign packages of another architecture satisfy it as their own name.
            ok = native or rec.multi_arch == "foreign"
        else:
            ok = rec.arch == rel.arch
        return ok and satisfies(rec.version, rel.op, rel.version)

    def provide_match(self, rel: Relation, rec: PackageRecord) -> bool:
        """`rec` satisfies `rel` through its Provides."""
        if rel.arch not in (None, "native", self.native):
            return False
        for name, version in rec.provides:
            # Policy 7.5: an unversioned Provides never satisfies a versioned relation.
            if name == rel.name and (
                rel.op is None or (version is not None and satisfies(version, rel.op, rel.version))
            ):
                return True
        return False

    def candidates_for(self, rel: Relation, view: bool) -> list[PackageRecord]:
        """Candidate versions that satisfy `rel` (apt's FromDependency with CANDIDATE)."""
        found: list[PackageRecord] = []
        keys = [rel.name] if rel.arch in (None, "native", "any", self.native) else [f"{rel.name}:{rel.arch}"]
        for key in keys:
            cand = self._visible_cand(key, rel.name) if view else self.cand(key)
            if cand is not None and self.own_match(rel, cand):
                found.append(cand)
        if rel.arch in (None, "native", self.native):
            for rec in self.index.versions(rel.name):
                key = self.key_of(rec)
                if rec.arch not in (self.native, "all") and rec.multi_arch == "foreign":
                    now = self._visible_cand(key, rel.name) if view else self.cand(key)
                    if now is rec and self.own_match(rel, rec):
                        found.append(rec)
        for rec in self.index.provided_by(rel.name):
            key = self.key_of(rec)
            now = self._visible_cand(key, rel.name) if view else self.cand(key)
            if now is rec and self.provide_match(rel, rec) and rec not in found:
                found.append(rec)
        return found

    def satisfied(self, rel: Relation, owner: str | None = None) -> bool:
        """DepInstall: something marked satisfies `rel` (for Conflicts: marked and not `owner`)."""
        for hit in self.marked_names.get(rel.name, ()):
            if self.key_of(hit) != owner and self.own_match(rel, hit):
                return True
        for rec in self.marked_provides.get(rel.name, ()):
            if self.key_of(rec) != owner and self.provide_match(rel, rec):
                return True
        return False

    def _conflicting(self, rel: Relation, owner: str) -> list[PackageRecord]:
        return [r for r in self.candidates_for(rel, False) if self.key_of(r) != owner]

    # --- state changes ----------------------------------------------------------------------------

    def _refresh(self, rec: PackageRecord) -> None:
        # pkgDepCache::Update(Pkg): dependencies on the package and on what it provides.
        self.clock += 1
        self.refreshed[rec.name] = self.clock
        for name, _ in rec.provides:
            self.refreshed[name] = self.clock

    def _mark(self, key: str, rec: PackageRecord) -> None:
        if self.marked.get(key) is not rec:
            self._unmark(key)
            self.marked[key] = rec
            self.marked_names.setdefault(rec.name, []).append(rec)
            for name, _ in rec.provides:
                self.marked_provides.setdefault(name, []).append(rec)
        self._refresh(rec)

    def _unmark(self, key: str) -> None:
        rec = self.marked.pop(key, None)
        if rec is not None:
            self.marked_names[rec.name].remove(rec)
            for name, _ in rec.provides:
                self.marked_provides[name].remove(rec)
            self._refresh(rec)

    def _discard_candidate(self, key: str) -> None:
        self.clock += 1
        self.cand_now[key] = self.marked.get(key)  # CandidateVer = InstallVer
        self.discarded[key] = self.clock

    def _mark_keep(self, key: str) -> bool:
        if key not in self.marked:
            return True
        if key in self.protected:  # IsModeChangeOk: only the user may change a protected mode
            return False
        self._unmark(key)  # rule 6: what it pulled in stays marked
        return True

    def inst_broken(self, key: str) -> bool:
        """InstBroken: a Pre-Depends/Depends unmet or a Conflicts/Breaks hit by the marked set."""
        rec = self.marked[key]
        if any(not any(self.satisfied(r) for r in g) for g in (*rec.pre_depends, *rec.depends)):
            return True
        return any(self.satisfied(r, key) for g in (*rec.conflicts, *rec.breaks) for r in g)

    # --- pkgDepCache::MarkInstall -----------------------------------------------------------------

    def mark_install(self, key: str, *, auto: bool, depth: int, from_user: bool) -> bool:
        """One pkgDepCache::MarkInstall call; False when apt would refuse this package."""
        rec = self._installable(key, depth, from_user)
        if rec is None:
            return False
        if key not in self.protected and key in self.marked and not self.inst_broken(key):
            return True  # already marked and complete
        if auto and not self._dependencies_satisfiable(key, rec):
            return False
        if not auto:  # AutoInst=false: the mark alone (the command line's first pass)
            self._mark(key, rec)
            return True
        return self._mark_with_dependencies(key, rec, depth, from_user)

    def _installable(self, key: str, depth: int, from_user: bool) -> PackageRecord | None:
        # IsModeChangeOk: too deep, or a protected package that is not to be installed.
        if depth > _MAX_DEPTH or (not from_user and key not in self.marked and key in self.protected):
            return None
        return self.cand(key)

    def _mark_with_dependencies(self, key: str, rec: PackageRecord, depth: int, from_user: bool) -> bool:
        if from_user:
            self._mark(key, rec)
        propagate = key in self.protected
        fail_early = not propagate and not from_user
        to_install, to_remove = self._collect(key, rec, propagate)
        ok = self._remove_conflicts(key, to_remove, propagate, from_user)
        if not ok and fail_early:
            return False
        if not from_user:
            self._mark(key, rec)
        self.protected.add(key)  # ScopedProtected: nothing below may unmark the package
        try:
            if self._install_dependencies(key, to_install, depth, propagate, from_user):
                return ok
            if fail_early:
                self._unmark(key)  # MarkInstall_DiscardInstall
                self._discard_candidate(key)
            return False
        finally:
            if not propagate:
                self.protected.discard(key)

    def _dependencies_satisfiable(self, key: str, rec: PackageRecord) -> bool:
        # IsInstallOkDependenciesSatisfiableByCandidates (rule 7): the one-level look-ahead.
        for group in (*rec.pre_depends, *rec.depends):
            if any(self.satisfied(r) or self.candidates_for(r, True) for r in group):
                continue
            if key not in self.protected:
                self._discard_candidate(key)  # #735967: keep the problem resolver off it
            return False
        return True

    def _collect(
        self, key: str, rec: PackageRecord, propagate: bool
    ) -> tuple[list[tuple[Relation, ...]], list[Relation]]:
        # MarkInstall_CollectDependencies: Pre-Depends then Depends (rule 2), skipping satisfied
        # groups (rule 3) unless protection must be propagated.
        to_install = [
            g for g in (*rec.pre_depends, *rec.depends) if propagate or not any(self.satisfied(r) for r in g)
        ]
        to_remove = [
            r for g in (*rec.conflicts, *rec.breaks) for r in g if propagate or self.satisfied(r, key)
        ]
        return to_install, to_remove

    def _remove_conflicts(
        self, key: str, to_remove: list[Relation], propagate: bool, from_user: bool
    ) -> bool:
        # MarkInstall_RemoveConflictsIfNotUpgradeable, for an empty dpkg status (rule 6).
        failed = False
        for rel in to_remove:
            for ver in self._sorted(rel, self._conflicting(rel, key)):
                other = self.key_of(ver)
                if self.cand(other) is not ver:
                    continue
                if other in self.marked and not self._mark_keep(other):
                    failed = True
                    if not propagate and not from_user:
                        break
                elif propagate:
                    self._discard_candidate(other)
                    self.protected.add(other)
            if failed and not propagate and not from_user:
                break
        return not failed

    def _solutions(self, group: Iterable[Relation], *, ordered: bool) -> list[PackageRecord]:
        # getAllPossibleSolutions: each alternative's candidates, providers ordered (rule 4, 5).
        out: list[PackageRecord] = []
        for rel in group:
            found = self.candidates_for(rel, False)
            for rec in self._sorted(rel, found) if ordered else found:
                if not out or out[-1] is not rec:
                    out.append(rec)
        if not ordered:
            out = list({id(r): r for r in out}.values())
        return [
            r for r in out if not (self.key_of(r) in self.protected and self.key_of(r) not in self.marked)
        ]

    def _sorted(self, rel: Relation, found: list[PackageRecord]) -> list[PackageRecord]:
        if len(found) < 2:  # noqa: PLR2004 - nothing to order
            return found
        ids = self.index.name_ids

        def rank(rec: PackageRecord) -> tuple[int, ...]:
            # CompareProviders: protected, same name as the dependency, Essential, Important,
            # native architecture, Priority, then the higher package ID.
            key = self.key_of(rec)
            return (
                key not in self.protected,
                rec.name != rel.name,
                not rec.essential,
                not rec.important,
                rec.arch not in (self.native, "all"),
                _PRIORITY.get(rec.priority, 5),
                -ids.get(rec.name, -1),
            )

        return sorted(found, key=rank)

    def _install_dependencies(
        self, key: str, to_install: list[tuple[Relation, ...]], depth: int, propagate: bool, from_user: bool
    ) -> bool:
        # MarkInstall_InstallDependencies: depth-first, the first solution that can be marked wins.
        failed = False
        for group in to_install:
            if any(self.satisfied(r) for r in group):
                if propagate and not self._protect_single(group, depth):
                    failed = True
                continue
            if not self._install_one_of(key, group, depth, propagate):
                failed = True
                if not propagate and not from_user:
                    break
        return not failed

    def _protect_single(self, group: tuple[Relation, ...], depth: int) -> bool:
        # A satisfied dependency of a protected package with one possible solution: protect that
        # one too and walk its dependencies (this is how the protection of a request spreads).
        found = self._solutions(group, ordered=False)
        if len(found) != 1 or self.key_of(found[0]) in self.protected:
            return True
        self.protected.add(self.key_of(found[0]))
        return self.mark_install(self.key_of(found[0]), auto=True, depth=depth + 1, from_user=False)

    def _install_one_of(self, key: str, group: tuple[Relation, ...], depth: int, propagate: bool) -> bool:
        found = self._solutions(group, ordered=True)
        for ver in found:
            other = self.key_of(ver)
            if self.cand(other) is not ver:
                continue
            self.parents.setdefault(other, key)
            if propagate and len(found) == 1:
                if not self.mark_install(other, auto=False, depth=depth + 1, from_user=False):
                    continue
                self.protected.add(other)
            if self.mark_install(other, auto=True, depth=depth + 1, from_user=False):
                return True
        return False
