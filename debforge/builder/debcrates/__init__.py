"""`crates = "debian"`: the crates a Cargo project needs, found in Debian's librust-*-dev packages.

`plan_crates` reads the project's Cargo.toml files (debforge.builder.debcrates.manifest), maps every
dependency to the package that ships it (mapping), and resolves the set as apt would: the
packages' own Depends carry the rest of the graph. What cargo compiles must be there, or the build
stops with one sentence naming the crate; what cargo only puts in Cargo.lock (dev-dependencies,
other platforms, optional ones left off) is installed when Debian has it and otherwise left out of
the build's copy of Cargo.toml (source), as debcargo does. `crates_record` tells the build record
which crate versions came from which packages once cargo wrote its new Cargo.lock.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from pathlib import Path

from debforge.archive import fetch_index
from debforge.archive.index import PackageIndex
from debforge.builder.debcrates.manifest import Need, read_needs
from debforge.builder.debcrates.mapping import (
    CrateChoice,
    Missing,
    choose,
    lacking_features,
    missing_error,
    sys_packages,
)
from debforge.builder.debcrates.pkgconfig import pc_error
from debforge.builder.debcrates.semver import crate_version, format_version
from debforge.builder.debcrates.source import prepare_source, read_lock
from debforge.cache import key
from debforge.dists import Target
from debforge.errors import BuildError, ResolveError
from debforge.recipe import CargoBuild
from debforge.resolve import resolve_closure
from debforge.session import Session

_HOST_TRIPLES = {"x86_64": "x86_64-unknown-linux-gnu", "aarch64": "aarch64-unknown-linux-gnu"}


@dataclass(frozen=True, slots=True, kw_only=True)
class CratePlan:
    """What the build sysroot gets for the project's crates, and what its Cargo.toml loses."""

    packages: tuple[str, ...]  # real packages to install: crates, feature packages, system -dev packages
    chosen: tuple[CrateChoice, ...]
    dropped: tuple[Missing, ...]  # not compiled and not in Debian: left out of the build's Cargo.toml
    # (manifest, feature, `dep/feat` item) naming a feature Debian's crate lacks: left out as well
    features: tuple[tuple[Path, str, str], ...] = ()
    shipped: tuple[tuple[str, str], ...]  # (package, version) of every librust-*-dev package installed
    # (librust-<crate>-dev, package) where a package ships another crate too (test-case-macros)
    bundled: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """Identifies the crate set: a Cargo.lock made against another one is thrown away."""
        features = sorted(f"{m}:{f}:{i}" for m, f, i in self.features)
        return key([list(self.shipped), sorted(_where(m.need) for m in self.dropped), features])


@dataclass(frozen=True, slots=True, kw_only=True)
class CratesRecord:
    """The build record's `crates`: each crate version locked and its package, what was left out, and
    how the new Cargo.lock differs from the project's own."""

    # (crate, version, Debian package) of every registry crate in the new Cargo.lock: what cargo
    # compiled and the dev-dependencies it only resolved
    locked: tuple[tuple[str, str, str], ...]
    dropped: tuple[tuple[str, str, str], ...]  # (crate, requirement, where it was named)
    relocked: tuple[tuple[str, str, str], ...]  # (crate, version in the project's Cargo.lock, used version)

    def to_json(self) -> dict[str, object]:
        """Keys sorted, as the record file is written."""
        return {
            "dropped": [{"crate": c, "requirement": r, "from": w} for c, r, w in self.dropped],
            "relocked": [{"crate": c, "lock": old, "used": new} for c, old, new in self.relocked],
            "locked": [{"crate": c, "package": p, "version": v} for c, v, p in self.locked],
            "source": "debian",
        }


def host_triple() -> str:
    """The Rust triple of the machine the builder runs on (build scripts and proc-macros run there)."""
    machine = platform.machine()
    return _HOST_TRIPLES.get(machine, f"{machine}-unknown-linux-gnu")


def plan_crates(index: PackageIndex, spec: CargoBuild, target: Target) -> CratePlan:
    """The Debian packages for every crate the project needs; a compiled crate Debian lacks is an error."""
    needs = read_needs(
        spec.manifest, features=spec.features, default_features=spec.default_features,
        all_features=spec.all_features, packages=spec.packages, target=target.rust_triple, host=host_triple(),
    )  # fmt: skip
    chosen: list[CrateChoice] = []
    dropped: list[Missing] = []
    for need in needs:
        found = choose(index, need)
        if isinstance(found, CrateChoice):
            chosen.append(found)
        elif need.built:
            raise missing_error(found, index.dist)
        else:
            dropped.append(found)
    crates = list(dict.fromkeys(p for c in chosen for p in c.packages))
    try:
        closure = resolve_closure(index, crates)
    except ResolveError as exc:
        raise BuildError(
            f"Debian's crate packages for {spec.manifest} cannot be installed together: {exc}"
        ) from exc
    installed = [p.name for p in closure.packages]
    extra = [dev for dev in sys_packages(installed) if dev not in installed]
    rust = [p for p in closure.packages if p.name.startswith("librust-")]
    bundled = tuple(
        (name, p.name)
        for p in rust
        for name, _ in p.provides
        if re.fullmatch(r"librust-[^+]*[a-z]-dev", name)
    )
    return CratePlan(
        packages=(*crates, *extra), chosen=tuple(chosen), dropped=tuple(dropped),
        shipped=tuple((p.name, p.version) for p in rust), bundled=bundled,
        features=tuple(lacking_features(index, chosen, {n.manifest for n in needs})),
    )  # fmt: skip


def prepare(plan: CratePlan, source: Path, dest: Path) -> Path:
    """The build's copy of the project (debforge.builder.debcrates.source) for this crate plan."""
    drop = [m.need for m in plan.dropped]
    return prepare_source(source, dest, drop, crate_set=plan.key, features=plan.features)


def plan_build(session: Session, spec: CargoBuild, target: Target, source: Path, copy: Path) -> CratePlan:
    """The crate plan of a build, and the build's copy of the project at `copy` (its Cargo.toml
    without what Debian lacks, its Cargo.lock cargo's own); what is left out is reported."""
    with session.reporter.step(f"Debian's crates for {spec.manifest.parent.name}"):
        plan = plan_crates(fetch_index(session, target), spec, target)
        prepare(plan, source, copy)
    for manifest, feature, item in plan.features:
        session.reporter.info(
            f"left out {item} from feature {feature} of {manifest.name}: Debian's crate lacks it"
        )
    for missing in plan.dropped:
        need = missing.need
        session.reporter.info(
            f"left out {need.crate} {need.requirement} ({'.'.join(need.table)}): Debian lacks it and "
            "the build does not compile it"
        )
    return plan


def crates_record(plan: CratePlan, source: Path, copy: Path) -> CratesRecord:
    """After the build: the crate versions of the copy's new Cargo.lock, each with its package."""
    used = read_lock(copy / "Cargo.lock")
    upstream = read_lock(source / "Cargo.lock")
    return CratesRecord(
        locked=tuple(
            (crate, version, _package_of(plan, crate, version)) for crate, version in sorted(used.items())
        ),
        dropped=(
            *((m.need.crate, m.need.requirement, _where(m.need)) for m in plan.dropped),
            *(
                (item, "feature", f"features.{feature} of {manifest.name}")
                for manifest, feature, item in plan.features
            ),
        ),
        relocked=tuple(
            (crate, upstream[crate], version)
            for crate, version in sorted(used.items())
            if crate in upstream and upstream[crate] != version
        ),
    )


def _package_of(plan: CratePlan, crate: str, version: str) -> str:
    """The installed package that ships `crate` at `version`: `librust-<crate>-dev`, or a versioned
    `librust-<crate>-<major>-dev` where Debian keeps a second version (librust-clap-2-dev)."""
    stem = f"librust-{crate.lower().replace('_', '-')}"
    for name, deb_version in plan.shipped:
        suffix = name.removeprefix(stem).removesuffix("-dev")
        ours = name.startswith(stem) and (suffix == "" or re.fullmatch(r"-[0-9.]+", suffix) is not None)
        if ours and crate_version(deb_version) == crate_version(version):
            return name
    return dict(plan.bundled).get(f"{stem}-dev", "?")


def _where(need: Need) -> str:
    return f"{'.'.join(need.table)}.{need.key} of {need.manifest.name}"


__all__ = [
    "CratePlan",
    "CratesRecord",
    "crates_record",
    "format_version",
    "host_triple",
    "pc_error",
    "plan_build",
    "plan_crates",
    "prepare",
]
