"""The Docker engine (docker-py): images debforge built, and containers to run commands in."""

from __future__ import annotations

import contextlib
import io
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from debforge.errors import CommandError, ContainerError
from debforge.run import Completed

if TYPE_CHECKING:
    import docker
    import docker.models.containers

LABEL = "org.debforge"


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    """A Docker image debforge built: its tag (content-addressed), id, platform and closure."""

    tag: str
    id: str
    platform: str
    closure_key: str


# A command run in a container leaves what a host command leaves: one result type for both.
ExecResult = Completed


# --------------------------------------------------------------------------- docker client


def docker_client() -> docker.DockerClient:
    """A client for the engine DOCKER_HOST names (docker-py's from_env), or ContainerError."""
    import docker  # noqa: PLC0415 - docker-py is only needed by commands that use containers

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        raise ContainerError(
            f"cannot talk to the Docker engine: {exc}",
            hint="start dockerd (scripts/setup-host.sh does) or set DOCKER_HOST to a running engine",
        ) from exc
    return client


def find_image(tag: str) -> Image | None:
    """The image with this tag, if the engine has it."""
    import docker  # noqa: PLC0415 - see docker_client

    try:
        img = docker_client().images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    attrs: dict[str, Any] = img.attrs
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    platform = f"{attrs.get('Os', 'linux')}/{attrs.get('Architecture', '')}"
    return Image(tag=tag, id=str(img.id), platform=platform, closure_key=labels.get(f"{LABEL}.closure", ""))


# --------------------------------------------------------------------------- containers


class Container:
    """A running container: exec commands, copy files in and out. Made by `open_container`."""

    def __init__(self, handle: docker.models.containers.Container) -> None:
        self.handle = handle

    def exec(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        user: str = "",
        check: bool = True,
    ) -> ExecResult:
        """Run argv inside; raise CommandError on a non-zero exit when `check`."""
        res = self.handle.exec_run(
            list(argv), environment=dict(env or {}), workdir=workdir, user=user, demux=True
        )
        out, err = res.output if isinstance(res.output, tuple) else (None, None)
        code = -1 if res.exit_code is None else int(res.exit_code)
        done = ExecResult(
            argv=tuple(argv), returncode=code, stdout=bytes(out or b""), stderr=bytes(err or b"")
        )
        if check and done.returncode != 0:
            tail = (done.stderr or done.stdout).decode("utf-8", "replace")
            raise CommandError(done.argv, done.returncode, "\n".join(tail.splitlines()[-20:]))
        return done

    def put(self, src: Path, dest: PurePosixPath) -> None:
        """Copy a host file or directory into directory `dest` (created), through the archive API."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(src, arcname=src.name)
        self.put_tar(buf.getvalue(), dest)

    def put_files(self, files: Mapping[str, bytes], dest: PurePosixPath, *, mode: int = 0o644) -> None:
        """Write in-memory files (relative names) into directory `dest`."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), mode
                tar.addfile(info, io.BytesIO(data))
        self.put_tar(buf.getvalue(), dest)

    def put_tar(self, data: bytes, dest: PurePosixPath) -> None:
        """Unpack a tar archive into directory `dest` inside the container."""
        self.exec(["mkdir", "-p", str(dest)])
        if not self.handle.put_archive(str(dest), data):
            raise ContainerError(f"cannot copy files into {dest} in container {self.handle.short_id}")

    def get(self, src: PurePosixPath, dest: Path) -> Path:
        """Copy a file or directory out of the container into host directory `dest`; return its path."""
        import docker  # noqa: PLC0415 - see docker_client

        try:
            stream, _ = self.handle.get_archive(str(src))
        except docker.errors.NotFound as exc:
            raise ContainerError(f"{src} does not exist in container {self.handle.short_id}") from exc
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as tmp:
            for chunk in stream:
                tmp.write(chunk)
            tmp.seek(0)
            with tarfile.open(fileobj=tmp, mode="r|") as tar:
                tar.extractall(dest, filter="data")  # the data filter refuses links and names out of dest
        return dest / src.name


@contextlib.contextmanager
def open_container(
    image: Image | str, *, env: Mapping[str, str] | None = None, network: bool = True
) -> Iterator[Container]:
    """Create and start a container that idles until removed; it is always removed afterwards."""
    import docker  # noqa: PLC0415 - see docker_client

    client = docker_client()
    ref = image.tag if isinstance(image, Image) else image
    platform = image.platform if isinstance(image, Image) else None
    try:
        handle = client.containers.create(
            ref, ["sleep", "infinity"], detach=True, environment=dict(env or {}), platform=platform,
            network_mode="bridge" if network else "none", labels={LABEL: "1"},
        )  # fmt: skip
    except docker.errors.DockerException as exc:
        raise ContainerError(f"cannot create a container from {ref}: {exc}") from exc
    try:
        handle.start()
        yield Container(handle)
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            handle.remove(force=True)


def run_in_container(
    image: Image | str,
    argv: Sequence[str],
    *,
    files: Mapping[PurePosixPath, Path] | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> ExecResult:
    """One command in a fresh container, after copying `files` (dest directory → host path) in."""
    with open_container(image, env=env) as box:
        for dest, src in (files or {}).items():
            box.put(src, dest)
        return box.exec(argv, env=env, check=check)
