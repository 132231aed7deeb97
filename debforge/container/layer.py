"""An image as its dist's shared base image plus one layer of the packages a target or a caller adds.

Every builder of a dist shares the same host toolchain (rustc, cargo, cmake, meson, ...): about 220
packages and 1.1 GB. Only the cross compilers differ per target. So the builder of a new target is
the dist's base image plus a layer of its cross gcc, installed by dpkg inside a container of the
base (natively: the builder runs on the engine's own arch), and committed. A runtime image with
extra packages (`debforge image --package`, emulated builders) is the target's plain runtime image
plus such a layer. The layer is installed the way dpkg installs a set of .debs: unpacked, Pre-Depends
configured first (dpkg refuses to unpack a package whose Pre-Depends is not configured, Policy 7.2),
then `dpkg --configure -a`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from debforge.container.engine import LABEL, Image
from debforge.container.runner import ContainerSpec, open_container
from debforge.errors import ContainerError

if TYPE_CHECKING:
    from debforge.archive.index import PackageRecord, Relations
    from debforge.resolve import Closure
    from debforge.session import Session

_DEBS = PurePosixPath("/debforge-layer")


def layer_of(base: Closure, full: Closure) -> tuple[PackageRecord, ...] | None:
    """What `full` adds to `base`, or None when `full` changes a base package (another version, or one
    left out): then the image cannot be that base plus a layer and is built whole."""
    in_full = {(r.name, r.arch): r for r in full.packages}
    if any(in_full.get((r.name, r.arch)) != r for r in base.packages):
        return None
    in_base = {(r.name, r.arch) for r in base.packages}
    return tuple(r for r in full.packages if (r.name, r.arch) not in in_base)


def unpack_batches(records: Sequence[PackageRecord]) -> list[list[PackageRecord]]:
    """The records in batches for `dpkg --unpack`, each batch then configured: a package comes in a
    batch after the one that gives its Pre-Depends, since that must be configured before it is
    unpacked (Policy 7.2), and not before a batch that gives its Depends, or the `dpkg --configure -a`
    after its batch would find the dependency missing (meson's python3-pkg-resources needs python3,
    which comes after python3-minimal's pre-dependency chain)."""
    gives = {name: r.name for r in records for name in (r.name, *(p for p, _ in r.provides))}

    def inside(relations: Relations, name: str) -> set[str]:
        return {gives[t.name] for group in relations for t in group if t.name in gives} - {name}

    pre = {r.name: inside(r.pre_depends, r.name) for r in records}
    dep = {r.name: inside(r.depends, r.name) for r in records}
    level = dict.fromkeys(pre, 0)
    for _ in range(len(records) + 1):  # relax until nothing moves
        moved = False
        for name in level:
            want = max([level[p] + 1 for p in pre[name]] + [level[d] for d in dep[name]] + [0])
            if want > level[name]:
                level[name], moved = want, True
        if not moved:
            ordered = sorted(records, key=lambda r: (level[r.name], r.name))
            return [[r for r in ordered if level[r.name] == n] for n in sorted(set(level.values()))]
    return [sorted(records, key=lambda r: r.name)]  # a Pre-Depends cycle: dpkg will say what it refuses


def install_script(batches: Sequence[Sequence[PackageRecord]], names: dict[str, str], *, lists: bool) -> str:
    """The shell script that installs the batches (each file under /debforge-layer, by `names`)."""
    steps = []
    for batch in batches:
        files = " ".join(str(_DEBS / names[r.sha256]) for r in batch)
        steps.append(f"dpkg --unpack {files}\ndpkg --configure -a\n")
    # apt's binary cache holds dpkg's status: rebuilt here, not by the first apt run in the image.
    cache = "apt-cache gencaches >/dev/null\n" if lists else ""
    return (
        "set -e\nexport DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true LC_ALL=C.UTF-8\n"
        # invoke-rc.d: start no services (policy-rc.d), as in the base image's bootstrap
        "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d\nchmod 755 /usr/sbin/policy-rc.d\n"
        f"{''.join(steps)}rm -f /usr/sbin/policy-rc.d\n"
        f"rm -rf {_DEBS} /var/log/dpkg.log /var/log/apt/*\n{cache}"
    )


def add_layer(
    session: Session,
    base: Image,
    layer: Sequence[PackageRecord],
    *,
    debs: Mapping[str, Path],
    tag: str,
    closure_key: str,
    lists: bool,
) -> None:
    """Install `layer` (its debs by sha256, as rootfs.fetch_debs gives them) into a container of `base`
    and commit it as `tag`, labelled with the whole closure's key."""
    import docker  # noqa: PLC0415 - docker-py is only needed by commands that use containers

    names = {sha: path.name for sha, path in debs.items()}
    script = install_script(unpack_batches(layer), names, lists=lists)
    spec = ContainerSpec(
        image=base, argv=("sh", "-c", script), role="image", network="none",
        copies=tuple((_DEBS, debs[r.sha256]) for r in layer),
    )  # fmt: skip
    with open_container(session, spec, keep=False) as box:
        done = box.wait(spec.argv)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).decode("utf-8", "replace")[-2000:]
            raise ContainerError(
                f"installing {len(layer)} packages into {base.tag} failed (exit {done.returncode})\n{tail}"
            )
        repository, _, version = tag.rpartition(":")
        try:
            box.handle.commit(
                repository=repository,
                tag=version,
                changes=[f"LABEL {LABEL}.closure={closure_key}", 'CMD ["bash"]'],
            )
        except docker.errors.APIError as exc:
            raise ContainerError(f"the Docker engine refused to commit {tag}: {exc}") from exc
