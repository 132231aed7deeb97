"""How a container's `Mount`s reach its engine: one declaration, two transports.

- **bind**: the host directory itself is bind-mounted. Only when the engine has PROVED that it sees
  this machine's filesystem: a uniquely named marker file in the run's workspace, bind-mounted
  read-only into a created (never started) container and read back through the archive API. A
  `unix://` socket proves nothing: the engine behind it may live in another mount namespace (a
  rootless or sandboxed dockerd, a VM's socket forwarded here) and then sees empty directories.
- **copy**: each mount's contents go in through `put_archive` before the container starts, and the
  writable ones come back through `get_archive` after it ran. A writable mount with a `volume` name is
  a persistent cache (cargo's registry and target dir): a named volume on that engine. A read-only
  one is a content-addressed input (a sysroot, the Rust std: trees named by their content key),
  copied into its volume once, through a helper container, then mounted read-only by every build
  there. Both are labelled `org.debforge.cache`, so `doctor` lists them and `clean --engine` prunes them.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from debforge.container.engine import LABEL
from debforge.errors import ContainerError

if TYPE_CHECKING:
    import docker
    import docker.models.containers
    import docker.types

    from debforge.container.engine import Image
    from debforge.session import Session

log = logging.getLogger("debforge.container")
CACHE_LABEL = f"{LABEL}.cache"  # on named volumes: the host path the volume stands for
_PROBE_DEST = "/debforge-probe"
_FILL = "/debforge-fill"
_COMPLETE = ".debforge-complete"  # written last into a filled content volume


def content_volume(tree: Path) -> str:
    """The volume name of a read-only tree of the cache (trees/<sha256 of its inputs>), else "" (a
    tree without a content key, which is copied in every time).

    >>> content_volume(Path("/c/trees/" + "ab" * 32)), content_volume(Path("/tmp/x"))
    ('debforge-tree-abababababababababababababababab', '')
    """
    name = tree.name
    is_key = tree.parent.name == "trees" and re.fullmatch(r"[0-9a-f]{64}", name) is not None
    return f"debforge-tree-{name[:32]}" if is_key else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Mount:
    """A host directory the container sees at `dest`: bind-mounted on an engine that shares this
    filesystem, else copied in (and, when writable, back out after the run)."""

    source: Path
    dest: str
    read_only: bool = False
    copy_back: bool | None = None  # copy transport: bring dest back into source (default: when writable)
    volume: str = ""  # copy transport: a named volume keeps dest between runs (a cache, or a
    # content-addressed input when read-only: see content_volume)

    @property
    def returns(self) -> bool:
        """The copy transport brings this mount's contents back after the run."""
        return (not self.read_only and not self.volume) if self.copy_back is None else self.copy_back


# --------------------------------------------------------------------------- the probe


def shares_filesystem(session: Session, image: Image) -> bool:
    """Does the run's engine see this machine's files (bind mounts work)? Probed once per run."""
    if session.shares_filesystem is None:
        session.shares_filesystem = probe(session.docker(), image, session.workspace())
        how = "bind mounts" if session.shares_filesystem else "copies through the Docker API"
        log.debug("engine %s: %s", session.engine_name(), how)  # `doctor` says it too
    return session.shares_filesystem


def probe(client: docker.DockerClient, image: Image, where: Path) -> bool:
    """Bind-mount a fresh marker file from `where` into a created container; True if it reads back."""
    import docker  # noqa: PLC0415 - docker-py is only needed by commands that use containers
    from docker.types import Mount as DockerMount  # noqa: PLC0415 - see above

    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="probe-", dir=where) as tmp:
        marker = Path(tmp) / f"debforge-{token}"
        marker.write_text(token)
        bind = DockerMount(_PROBE_DEST, str(marker), type="bind", read_only=True)
        try:  # an engine elsewhere refuses a bind source it does not have: that is the answer "no"
            box = client.containers.create(
                image.tag, ["true"], mounts=[bind], labels={LABEL: "1", f"{LABEL}.role": "fs-probe"},
                platform=image.platform or None, network_disabled=True,
            )  # fmt: skip
        except docker.errors.APIError:
            return False
        try:
            return _read_back(box) == token.encode()
        except docker.errors.APIError:
            return False
        finally:
            with contextlib.suppress(docker.errors.DockerException):
                box.remove(force=True)


def _read_back(box: docker.models.containers.Container) -> bytes:
    stream, _ = box.get_archive(_PROBE_DEST)
    with tempfile.TemporaryFile() as tmp:
        for chunk in stream:
            tmp.write(chunk)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            member = tar.next()
            data = tar.extractfile(member) if member is not None and member.isfile() else None
            return data.read() if data is not None else b""


# --------------------------------------------------------------------------- the two transports


def docker_mounts(mounts: Sequence[Mount], *, bind: bool) -> list[docker.types.Mount]:
    """The engine's mounts: the host dirs themselves (bind), or the named volumes of the caches."""
    from docker.types import Mount as DockerMount  # noqa: PLC0415 - see probe

    if bind:
        # type=bind, not the legacy `volumes=` Binds: a missing source is an error, never an empty dir.
        return [DockerMount(m.dest, str(m.source), type="bind", read_only=m.read_only) for m in mounts]
    return [DockerMount(m.dest, m.volume, type="volume", read_only=m.read_only) for m in mounts if m.volume]


def ensure_volumes(client: docker.DockerClient, mounts: Sequence[Mount], image: Image) -> None:
    """Create the volumes that do not exist yet on the engine (labelled for doctor and clean), and fill
    each read-only one that holds no complete copy of its tree yet."""
    import docker  # noqa: PLC0415 - see probe

    for m in (m for m in mounts if m.volume):
        try:
            client.volumes.get(m.volume)
        except docker.errors.NotFound:
            client.volumes.create(m.volume, labels={LABEL: "1", CACHE_LABEL: str(m.source)})
        if m.read_only:
            _fill(client, m, image)


def _fill(client: docker.DockerClient, mount: Mount, image: Image) -> None:
    """Copy a tree into its content volume through a helper container that is never started, unless a
    complete copy is there already (its marker is written last: a fill cut short is filled again)."""
    import docker  # noqa: PLC0415 - see probe
    from docker.types import Mount as DockerMount  # noqa: PLC0415 - see probe

    helper = client.containers.create(
        image.tag, ["true"], mounts=[DockerMount(_FILL, mount.volume, type="volume")],
        labels={LABEL: "1", f"{LABEL}.role": "fill"}, platform=image.platform or None, network_disabled=True,
    )  # fmt: skip
    try:
        try:
            helper.get_archive(f"{_FILL}/{_COMPLETE}")
            return  # filled before: by this machine or another one sharing the engine
        except docker.errors.NotFound:
            pass
        copy_in(helper, [Mount(source=mount.source, dest=_FILL, read_only=True)], user="0:0")
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / _COMPLETE).write_text(str(mount.source))
            copy_in(helper, [Mount(source=Path(tmp), dest=_FILL, read_only=True)], user="0:0")
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            helper.remove(force=True)


def copy_in(box: docker.models.containers.Container, mounts: Sequence[Mount], *, user: str) -> None:
    """Every mount's contents into the created container, as one archive (copy transport)."""
    owner = _owner(user)
    with tempfile.TemporaryFile() as fh:
        with tarfile.open(fileobj=fh, mode="w") as tar:
            for m in (m for m in mounts if not (m.read_only and m.volume)):  # those are in their volume
                # Read-only inputs root-owned and readable by all; writable ones the build user's own.
                tar.add(m.source, arcname=m.dest.lstrip("/"), filter=_chown((0, 0) if m.read_only else owner))
        fh.seek(0)
        if not box.put_archive("/", fh):
            raise ContainerError(f"cannot copy the build's inputs into container {box.name}")


def copy_back(box: docker.models.containers.Container, mounts: Sequence[Mount], scratch: Path) -> None:
    """The writable mounts' contents back into their host dirs after the run (copy transport)."""
    for m in (m for m in mounts if m.returns):
        stream, _ = box.get_archive(m.dest)
        with tempfile.TemporaryFile() as tmp, tempfile.TemporaryDirectory(dir=scratch) as into:
            for chunk in stream:
                tmp.write(chunk)
            tmp.seek(0)
            with tarfile.open(fileobj=tmp, mode="r|") as tar:
                # "tar", not "data": staged trees hold absolute symlinks (/etc/alternatives/…), which
                # are data, not paths to follow; names outside the directory are still refused.
                tar.extractall(into, filter="tar")
            shutil.copytree(
                Path(into) / PurePosixPath(m.dest).name, m.source, symlinks=True, dirs_exist_ok=True
            )


def _owner(user: str) -> tuple[int, int]:
    uid, _, gid = user.partition(":")
    return (int(uid), int(gid or uid)) if uid.isdigit() and (not gid or gid.isdigit()) else (0, 0)


def _chown(owner: tuple[int, int]) -> Callable[[tarfile.TarInfo], tarfile.TarInfo]:
    def apply(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid = owner
        info.uname = info.gname = ""
        if owner == (0, 0):
            info.mode |= 0o555 if info.isdir() else 0o444
        return info

    return apply


@contextlib.contextmanager
def lost_engine(session: Session) -> Iterator[None]:
    """An engine that stops answering (connection reset, gone host) becomes one ContainerError."""
    import requests  # noqa: PLC0415 - docker-py's transport

    try:
        yield
    except requests.exceptions.ConnectionError as exc:
        raise ContainerError(
            f"lost the Docker engine {session.engine_name()}: {_first_line(exc)}",
            hint="check that engine (`docker --host … info`) and run again",
        ) from exc


def _first_line(exc: Any) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
