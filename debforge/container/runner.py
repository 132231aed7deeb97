"""The one container runner: create, copy in, start, stream logs, wait or exec, copy out, remove.

Build (a script with bind mounts), test-install (an idle container commands are exec'd in) and
doctor all go through `open_container`. Every container is named before it is created and labelled
`org.debforge.role=<role>`, so it is removed by name on every path, Ctrl-C included, even when the
create call itself was interrupted. With `--keep` (Session.keep) it is left and the reporter says
how to enter it. Files travel through the engine's archive API (`put_archive`/`get_archive`), and a
spec's `mounts` are bind mounts only on an engine proved to share this filesystem, else copies and
named volumes (container/transport.py): every stage runs on a remote engine as on the local one.
"""

from __future__ import annotations

import contextlib
import secrets
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from debforge.container.engine import LABEL, Image
from debforge.container.transport import (
    Mount,
    copy_back,
    copy_in,
    docker_mounts,
    ensure_volumes,
    lost_engine,
    shares_filesystem,
)
from debforge.dists import platform_arch, qemu_cpu
from debforge.errors import CommandError, ContainerError
from debforge.run import Completed

if TYPE_CHECKING:
    import docker
    import docker.models.containers

    from debforge.report import Reporter
    from debforge.session import Session

ROLE_LABEL = f"{LABEL}.role"
# Docker's network modes debforge uses: the default bridge (a network of its own, NAT'ed), none, or
# the host's (127.0.0.1 is this machine: a repository served by a test).
Network = Literal["bridge", "none", "host"]
IDLE = ("sleep", "infinity")  # a container that waits for `exec` until it is removed
_TAIL_LINES = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerSpec:
    """Everything about one container before it exists."""

    image: Image
    argv: tuple[str, ...] = IDLE
    role: str = "run"  # the name's prefix and the org.debforge.role label: build, test-install, …
    name: str | None = None  # default: debforge-<role>-<12 random hex digits>
    labels: tuple[tuple[str, str], ...] = ()
    mounts: tuple[Mount, ...] = ()
    copies: tuple[tuple[PurePosixPath, Path], ...] = ()  # (directory inside, host file or dir), before start
    user: str = ""  # "" is the image's user (root)
    env: tuple[tuple[str, str], ...] = ()
    workdir: str | None = None
    network: Network = "bridge"
    timeout: int | None = None  # seconds; coreutils `timeout` ends argv after it (exit status 124)


class Container:
    """A container of `open_container`: exec commands, wait for its command, copy files in and out."""

    def __init__(
        self,
        handle: docker.models.containers.Container,
        name: str,
        reporter: Reporter,
        emulation: Mapping[str, str] | None = None,
    ) -> None:
        self.handle = handle
        self.name = name
        self._reporter = reporter
        self._emulation = dict(emulation or {})  # QEMU's settings, for every process exec'd

    def exec(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        user: str = "",
        check: bool = True,
    ) -> Completed:
        """Run argv inside the running container; raise CommandError on a non-zero exit when `check`."""
        res = self.handle.exec_run(
            list(argv),
            environment={**self._emulation, **(env or {})},
            workdir=workdir,
            user=user,
            demux=True,
        )
        out, err = res.output if isinstance(res.output, tuple) else (None, None)
        code = -1 if res.exit_code is None else int(res.exit_code)
        done = Completed(
            argv=tuple(argv), returncode=code, stdout=bytes(out or b""), stderr=bytes(err or b"")
        )
        return _checked(done) if check else done

    def wait(self, argv: Sequence[str] = ()) -> Completed:
        """Stream the container's output to the reporter line by line until it exits; status and output."""
        pending = b""
        for chunk in self.handle.logs(stream=True, follow=True, stdout=True, stderr=True):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._reporter.info(line.decode("utf-8", "replace"))
        if pending:
            self._reporter.info(pending.decode("utf-8", "replace"))
        code = int(self.handle.wait()["StatusCode"])
        stdout = self.handle.logs(stdout=True, stderr=False)
        stderr = self.handle.logs(stdout=False, stderr=True)
        return Completed(argv=tuple(argv), returncode=code, stdout=stdout, stderr=stderr)

    def copy_in(self, sources: Sequence[Path], dest: PurePosixPath) -> None:
        """Copy host files or directories into directory `dest` (created), owned by root, readable by all.

        Readable by all: apt fetches local .debs as its unprivileged `_apt` user (apt ≥ 1.1 sandbox).
        """
        with tempfile.TemporaryFile() as fh:
            with tarfile.open(fileobj=fh, mode="w") as tar:
                for src in sources:
                    tar.add(src, arcname=f"{str(dest).lstrip('/')}/{src.name}", filter=_root_owned)
            fh.seek(0)
            # Extracted at /: the engine creates the missing parents of `dest` (0755, root).
            if not self.handle.put_archive("/", fh):
                raise ContainerError(f"cannot copy files into {dest} in container {self.name}")

    def copy_out(self, src: PurePosixPath, dest: Path) -> Path:
        """Copy a file or directory out of the container into host directory `dest`; return its path."""
        import docker  # noqa: PLC0415 - docker-py is only needed by commands that use containers

        try:
            stream, _ = self.handle.get_archive(str(src))
        except docker.errors.NotFound as exc:
            raise ContainerError(f"{src} does not exist in container {self.name}") from exc
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as tmp:
            for chunk in stream:
                tmp.write(chunk)
            tmp.seek(0)
            with tarfile.open(fileobj=tmp, mode="r|") as tar:
                tar.extractall(dest, filter="data")  # the data filter refuses links and names out of dest
        return dest / src.name


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode |= 0o555 if info.isdir() else 0o444
    return info


def _checked(done: Completed) -> Completed:
    if done.returncode != 0:
        text = (done.stderr or done.stdout).decode("utf-8", "replace")
        raise CommandError(done.argv, done.returncode, "\n".join(text.splitlines()[-_TAIL_LINES:]))
    return done


@contextlib.contextmanager
def open_container(session: Session, spec: ContainerSpec, *, keep: bool | None = None) -> Iterator[Container]:
    """Create the container, bring `spec.mounts` and `spec.copies` in, start it; after a normal exit
    copy the writable mounts back (copy transport); remove it afterwards unless kept.

    `keep` overrides `session.keep` (`--keep`): a kept container stays and the reporter says how to
    enter it.
    """
    client = session.docker()
    name = spec.name or f"debforge-{spec.role}-{secrets.token_hex(6)}"
    box: Container | None = None
    with lost_engine(session):
        bind = bool(spec.mounts) and shares_filesystem(session, spec.image)
        try:
            if not bind:
                ensure_volumes(client, spec.mounts, spec.image)
            emulation = _emulation(session, spec.image)
            handle = _create(client, spec, name, bind=bind, emulation=emulation)
            box = Container(handle, name, session.reporter, emulation)
            if spec.mounts and not bind:
                copy_in(box.handle, spec.mounts, user=spec.user)
            for dest in dict.fromkeys(dest for dest, _ in spec.copies):  # one archive per directory
                box.copy_in([src for to, src in spec.copies if to == dest], dest)
            box.handle.start()
            yield box
            if not bind:
                copy_back(box.handle, spec.mounts, session.workspace())
        finally:
            # Always, also on Ctrl-C (KeyboardInterrupt passes through here): containers are throwaway.
            if box is not None and (session.keep if keep is None else keep):
                session.reporter.warning(_kept(box))
            else:
                _remove(session, client, name)


def run_container(session: Session, spec: ContainerSpec) -> Completed:
    """Run `spec.argv` as the container's command, its output streamed to the reporter; its exit status."""
    with open_container(session, spec) as box:
        return box.wait(_argv(spec))


def run_in_container(
    session: Session,
    image: Image,
    argv: Sequence[str],
    *,
    files: Mapping[PurePosixPath, Path] | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> Completed:
    """One command in a fresh container, after copying `files` (dest directory → host path) in."""
    spec = ContainerSpec(
        image=image, argv=tuple(argv), copies=tuple((files or {}).items()), env=tuple((env or {}).items())
    )
    done = run_container(session, spec)
    return _checked(done) if check else done


def _argv(spec: ContainerSpec) -> tuple[str, ...]:
    limit = ("timeout", "--kill-after=30", str(spec.timeout)) if spec.timeout else ()
    return (*limit, *spec.argv)


def _emulation(session: Session, image: Image) -> dict[str, str]:
    """QEMU's settings for the processes of a container the engine emulates: its CPU model (dists)."""
    arch = platform_arch(image.platform)
    if arch is None or not qemu_cpu(arch) or session.engine_facts().native_for(arch):
        return {}
    return {"QEMU_CPU": qemu_cpu(arch)}


def _create(
    client: docker.DockerClient, spec: ContainerSpec, name: str, *, bind: bool, emulation: Mapping[str, str]
) -> docker.models.containers.Container:
    import docker  # noqa: PLC0415 - see Container.copy_out

    # QEMU reads QEMU_CPU from each process's environment. `env` sets it for the command and its
    # children only: in the container's own Env, `docker commit` would keep it in the image.
    settings = ("env", *(f"{k}={v}" for k, v in emulation.items())) if emulation else ()
    try:
        return client.containers.create(
            spec.image.tag, [*settings, *_argv(spec)], name=name, detach=True, environment=dict(spec.env),
            mounts=docker_mounts(spec.mounts, bind=bind) or None, user=spec.user,
            working_dir=spec.workdir, platform=spec.image.platform or None, network_mode=spec.network,
            labels={LABEL: "1", ROLE_LABEL: spec.role, **dict(spec.labels)},
        )  # fmt: skip
    except docker.errors.DockerException as exc:
        raise ContainerError(f"cannot create a container from {spec.image.tag}: {exc}") from exc


def _remove(session: Session, client: docker.DockerClient, name: str) -> None:
    import docker  # noqa: PLC0415 - see Container.copy_out

    try:
        client.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass  # never created: the create call failed or was interrupted before the engine made it
    except docker.errors.DockerException as exc:
        session.reporter.warning(
            f"cannot remove container {name}: {exc}; remove it with `docker rm -f {name}`"
        )


def _kept(box: Container) -> str:
    import docker  # noqa: PLC0415 - see Container.copy_out

    with contextlib.suppress(docker.errors.DockerException):  # then the status is the one seen at start
        box.handle.reload()
    if box.handle.status in ("running", "created"):
        return f"the container {box.name} is kept; enter it with `docker exec -it {box.name} bash`"
    return (
        f"the container {box.name} is kept (it has exited); open a shell in what it left with "
        f"`docker commit {box.name} {box.name} && docker run --rm -it {box.name} bash`"
    )
