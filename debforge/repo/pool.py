"""Repository contents: init, add debs to the pool, remove, list, and prune old versions."""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from debian.debian_support import version_compare

from debforge.cache import atomic_output
from debforge.errors import RepoError
from debforge.repo.debfile import DebInfo, read_deb
from debforge.repo.render import pool_filename
from debforge.repo.sign import KeyOptions
from debforge.repo.state import META_DIR, Member, Repo, State, locked, pool_path, read_state, save_config

# Dists, components and architectures become directory names under dists/ and pool/: no '/', no
# leading '.', so none of them can be '..' (Debian's own are lower-case words such as bookworm-backports).
_REPO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_~-]*")


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoPackage:
    """One package version listed in one dist and component of the repository."""

    dist: str
    component: str
    name: str
    version: str
    arch: str
    filename: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, object]:
        """JSON record (`debforge repo list --json`)."""
        return {
            "dist": self.dist,
            "component": self.component,
            "name": self.name,
            "version": self.version,
            "arch": self.arch,
            "filename": self.filename,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageList:
    """A set of package versions: what `add`, `remove`, `list` and `prune` report."""

    packages: tuple[RepoPackage, ...]
    unchanged: tuple[RepoPackage, ...] = ()  # add: already there, byte-identical (no-op)
    dry_run: bool = False

    def to_json(self) -> dict[str, object]:
        """JSON document for `--json`."""
        return {
            "packages": [p.to_json() for p in self.packages],
            "unchanged": [p.to_json() for p in self.unchanged],
            "dry_run": self.dry_run,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Labels:
    """The Release's Origin, Label and Description fields (apt pins and `apt policy` show them)."""

    origin: str = "debforge"
    label: str = "debforge"
    description: str = ""


def init_repo(
    root: Path,
    *,
    dists: Sequence[str],
    components: Sequence[str] = ("main",),
    arches: Sequence[str],
    key: KeyOptions | None = None,
    labels: Labels | None = None,
) -> Repo:
    """Create (or re-configure) a repository at `root`; its configuration lives in `.debforge/`."""
    for what, values in (("dist", dists), ("component", components), ("architecture", arches)):
        if not values or not all(_REPO_NAME.fullmatch(v) for v in values):
            raise RepoError(
                f"a repository needs at least one {what}, each a letter or digit followed by letters, "
                "digits and . + _ ~ -"
            )
    if "all" in arches:
        raise RepoError("`all` is not a repository architecture: arch-all debs go into every arch's index")
    key, labels = key or KeyOptions(), labels or Labels()
    if key.key_file is not None and not key.key_file.is_file():
        raise RepoError(f"key file {key.key_file} does not exist")
    repo = Repo(
        root=root.resolve(),
        dists=tuple(dists),
        components=tuple(components),
        arches=tuple(arches),
        origin=labels.origin,
        label=labels.label,
        description=labels.description,
        sign_key=key.sign_key,
        key_file=None if key.key_file is None else key.key_file.resolve(),
    )
    (repo.root / META_DIR).mkdir(parents=True, exist_ok=True)
    (repo.root / "pool").mkdir(exist_ok=True)
    save_config(repo)
    return repo


def add_debs(
    root: Path, debs: Iterable[Path], *, dist: str | None = None, component: str | None = None
) -> PackageList:
    """Copy debs into the pool and list them in `dist`; the same file again is a no-op."""
    with locked(root) as (repo, state):
        dist = _pick(dist, repo.dists, "dist")
        component = _pick(component, repo.components, "component")
        # Validate every input, and where each would go, before copying anything (style rule 7).
        incoming = [_admit(deb, repo, state, component) for deb in debs]
        _refuse_duplicates(incoming)
        added: list[RepoPackage] = []
        unchanged: list[RepoPackage] = []
        for item in incoming:
            member = Member(dist, component, item.filename)
            same = member in state.members
            if item.dest.exists():
                state.info(repo.root, item.filename)
            else:
                _copy_into_pool(item, repo.root)
                state.remember(repo.root, item.filename, item.info)
            state.members.add(member)
            (unchanged if same else added).append(_package(member, item.info))
    return PackageList(packages=tuple(added), unchanged=tuple(unchanged))


def remove(
    root: Path, name: str, version: str | None = None, arch: str | None = None, *, dist: str | None = None
) -> PackageList:
    """Unlist matching package versions; their pool files go at the next publish."""
    with locked(root) as (_repo, state):
        gone = [
            p
            for p in _listing(root, state)
            if p.name == name
            and version in (None, p.version)
            and arch in (None, p.arch)
            and dist in (None, p.dist)
        ]
        if not gone:
            wanted = name + (f"={version}" if version else "") + (f" ({arch})" if arch else "")
            raise RepoError(f"the repository has no package {wanted}" + (f" in {dist}" if dist else ""))
        _drop(state, gone)
    return PackageList(packages=tuple(gone))


def list_packages(root: Path) -> PackageList:
    """Every package version in the repository, sorted by dist, component, name, version, arch."""
    _repo, state = read_state(root)
    return PackageList(packages=tuple(_listing(root, state)))


def prune(root: Path, *, keep_versions: int, dry_run: bool = False) -> PackageList:
    """Keep the newest `keep_versions` versions of each package per dist/component/arch; unlist the rest.

    Their pool files are deleted by the next publish, once no published Release lists them.
    """
    if keep_versions < 1:
        raise RepoError("--keep-versions must be at least 1")
    with locked(root) as (_repo, state):
        groups: dict[tuple[str, str, str, str], list[RepoPackage]] = {}
        for p in _listing(root, state):
            groups.setdefault((p.dist, p.component, p.name, p.arch), []).append(p)
        gone = [p for versions in groups.values() for p in _newest_first(versions)[keep_versions:]]
        if not dry_run:
            _drop(state, gone)
    return PackageList(packages=tuple(sorted(gone, key=_sort_key)), dry_run=dry_run)


def unreferenced_pool_files(root: Path, state: State) -> list[Path]:
    """Pool files remove/prune unlisted that no dist lists again (publish deletes them after the switch)."""
    listed = {m.filename for m in state.members}
    # pool_path: state.json is a file on disk too; a tampered orphan entry must not aim the unlink.
    return sorted(root / f for f in state.orphans if f not in listed and pool_path(root, f).exists())


def _pick(value: str | None, choices: tuple[str, ...], what: str) -> str:
    if value is None:
        return choices[0]
    if value not in choices:
        raise RepoError(
            f"the repository has no {what} {value} (it has {', '.join(choices)})",
            hint=f"add it with `debforge repo init` and the full list of {what}s",
        )
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class _Incoming:
    """A deb accepted for `add`: its checked control data and where in the pool it goes."""

    deb: Path
    info: DebInfo
    filename: str  # pool-relative, as the Packages Filename field lists it
    dest: Path  # resolved, and checked to be inside <root>/pool


def _admit(deb: Path, repo: Repo, state: State, component: str) -> _Incoming:
    # read_deb has checked Package, Source, Version and Architecture against Policy syntax, so the
    # file name built from them has no '/' or '..'; pool_path still checks where it resolves to.
    info = read_deb(deb)
    if info.arch != "all" and info.arch not in repo.arches:
        raise RepoError(
            f"{deb.name} is for architecture {info.arch}, but the repository carries only "
            f"{', '.join(repo.arches)}",
            hint=f"re-run `debforge repo init` with --arch {','.join((*repo.arches, info.arch))}",
        )
    filename = str(pool_filename(info, component))
    dest = _contained(repo.root, filename, deb)
    _refuse_conflict(state, repo.root, filename, info)
    return _Incoming(deb=deb, info=info, filename=filename, dest=dest)


def _contained(root: Path, filename: str, deb: Path) -> Path:
    try:
        return pool_path(root, filename)
    except RepoError as exc:
        raise RepoError(f"{deb}: {exc}", hint=exc.hint) from exc


def _refuse_duplicates(incoming: list[_Incoming]) -> None:
    seen: dict[tuple[str, str, str], DebInfo] = {}
    for item in incoming:
        info = item.info
        key = (info.name, info.version, info.arch)
        if key in seen and seen[key].sha256 != info.sha256:
            raise RepoError(
                f"{item.deb.name} and another file given are both {info.name} {info.version} "
                f"({info.arch}) with different content"
            )
        seen[key] = info


def _refuse_conflict(state: State, root: Path, filename: str, info: DebInfo) -> None:
    # Same name/version/arch must mean same bytes: apt caches debs by that triple, and a
    # client holding the old one would get a hash mismatch (Debian's archive refuses it too).
    if (root / filename).exists() and state.info(root, filename).sha256 != info.sha256:
        raise RepoError(
            f"the repository already has {info.name} {info.version} ({info.arch}) with different content",
            hint="give the rebuilt package a new version (e.g. a +b1 suffix) instead of replacing it",
        )


def _copy_into_pool(item: _Incoming, root: Path) -> None:
    """Copy beside the destination, check the copy is the file that was read, then rename it in."""
    item.dest.parent.mkdir(parents=True, exist_ok=True)
    dest = _contained(root, item.filename, item.deb)  # again, now that the directories exist
    with atomic_output(dest) as part:
        shutil.copyfile(item.deb, part)
        with part.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        if digest != item.info.sha256:
            raise RepoError(f"{item.deb} changed while it was being added; nothing was added")


def _package(member: Member, info: DebInfo) -> RepoPackage:
    return RepoPackage(
        dist=member.dist,
        component=member.component,
        name=info.name,
        version=info.version,
        arch=info.arch,
        filename=member.filename,
        size=info.size,
        sha256=info.sha256,
    )


def _listing(root: Path, state: State) -> list[RepoPackage]:
    return sorted((_package(m, state.info(root, m.filename)) for m in state.members), key=_sort_key)


def _drop(state: State, gone: Iterable[RepoPackage]) -> None:
    for p in gone:
        state.members.discard(Member(p.dist, p.component, p.filename))
    listed = {m.filename for m in state.members}
    for filename in [f for f in state.debs if f not in listed]:
        del state.debs[filename]
        state.orphans.add(filename)


_version_key = functools.cmp_to_key(lambda a, b: int(version_compare(a, b)))


def _newest_first(versions: list[RepoPackage]) -> list[RepoPackage]:
    return sorted(versions, key=lambda p: _version_key(p.version), reverse=True)


def _sort_key(p: RepoPackage) -> tuple[str, str, str, object, str]:
    return (p.dist, p.component, p.name, _version_key(p.version), p.arch)
