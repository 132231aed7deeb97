"""Which Docker engine runs a target's containers, chosen the Docker way, one per architecture.

An endpoint is what the user wrote: nothing (the Docker CLI's own choice: `DOCKER_HOST` with the
`DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH` variables, else `DOCKER_CONTEXT`, else the current context of
~/.docker/config.json), a URL (`unix://`, `tcp://` with the same TLS variables, `ssh://` through the
ssh client and its ~/.ssh/config, as `docker -H` does) or a context name. `--engine ARCH=ENDPOINT`
(repeatable; `DEBFORGE_ENGINES` holds the same words) sends one architecture's work to its engine.
Contexts need docker-py ≥ 7.2: 7.1's `from_env` ignores them, so a context-only setup silently fell
back to the local socket.
"""

from __future__ import annotations

import gc
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from debforge.dists import RUNS_ALSO, machine_arch, supported_arches
from debforge.errors import ContainerError, UsageError

if TYPE_CHECKING:
    import docker

DEFAULT = "default"  # the endpoint of an arch no --engine names: the Docker CLI's own choice
CLIENT_TIMEOUT = 600  # seconds one API call may take (an image build's context upload, a long wait)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://")


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One engine as the user named it: `default`, a URL or a Docker context name."""

    name: str = DEFAULT

    @property
    def is_url(self) -> bool:
        """A URL such as unix:///run/docker.sock, tcp://host:2376 or ssh://user@host."""
        return bool(_URL.match(self.name))


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineMap:
    """`--engine ARCH=ENDPOINT` pairs: the engine of each architecture, the default for the others."""

    pairs: tuple[tuple[str, Endpoint], ...] = ()

    def for_arch(self, arch: str) -> Endpoint:
        """The endpoint that runs `arch`'s containers."""
        return next((e for a, e in self.pairs if a == arch), Endpoint())

    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every distinct endpoint named, the default first."""
        return tuple(dict.fromkeys((Endpoint(), *(e for _, e in self.pairs))))


def parse_engines(words: Iterable[str]) -> EngineMap:
    """`ARCH=ENDPOINT` words (each may hold several, split on spaces or commas) → an EngineMap.

    >>> parse_engines(["arm64=ssh://pi@board", "armhf=arm-ctx"]).for_arch("arm64").name
    'ssh://pi@board'
    >>> parse_engines([]).for_arch("amd64").name
    'default'
    """
    pairs: dict[str, Endpoint] = {}
    for word in (w for value in words for w in re.split(r"[\s,]+", value) if w):
        arch, sep, endpoint = word.partition("=")
        if not sep or not endpoint:
            raise UsageError(f"--engine takes ARCH=ENDPOINT (a Docker context or URL), not {word!r}")
        if arch not in supported_arches():
            raise UsageError(f"--engine {word}: {arch!r} is not an architecture debforge knows")
        if arch in pairs and pairs[arch].name != endpoint:
            raise UsageError(f"--engine names two engines for {arch}: {pairs[arch].name} and {endpoint}")
        pairs[arch] = Endpoint(name=endpoint)
    return EngineMap(pairs=tuple(sorted(pairs.items())))


def connect(endpoint: Endpoint) -> docker.DockerClient:
    """A client of the engine `endpoint` names, answering a ping; ContainerError naming it otherwise."""
    import docker  # noqa: PLC0415 - docker-py is only needed by commands that use containers

    failure = ""
    # docker-py's constructor asks for the API version; when that fails, the socket it opened is only
    # closed when its exception (and the half-made client in its frames) is freed, right here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = _client(endpoint)
            client.ping()
            return client
        except docker.errors.DockerException as exc:
            failure = f"cannot talk to the Docker engine {describe(endpoint)}: {exc}"
        gc.collect()  # the half-made client sits in a reference cycle: free its socket now, quietly
    raise ContainerError(
        failure, hint="start that engine, or point --engine/DOCKER_HOST/DOCKER_CONTEXT at a running one"
    )


def _client(endpoint: Endpoint) -> docker.DockerClient:
    import docker  # noqa: PLC0415 - see connect
    from docker.context import ContextAPI  # noqa: PLC0415 - see connect
    from docker.utils import kwargs_from_env  # noqa: PLC0415 - see connect

    # ssh:// through the ssh binary, as the docker CLI does (keys, agent and ~/.ssh/config apply).
    if endpoint.name == DEFAULT:  # DOCKER_HOST + the TLS variables, else the current context
        return docker.from_env(timeout=CLIENT_TIMEOUT, use_ssh_client=True)
    if endpoint.is_url:
        tls = kwargs_from_env().get("tls", False) if endpoint.name.startswith("tcp://") else False
        return docker.DockerClient(
            base_url=endpoint.name, tls=tls, timeout=CLIENT_TIMEOUT, use_ssh_client=True
        )
    if ContextAPI.get_context(endpoint.name) is None:
        raise ContainerError(
            f"there is no Docker context named {endpoint.name!r}",
            hint="`docker context ls` lists them; an endpoint is a context name or a URL",
        )
    client: docker.DockerClient = docker.DockerClient.from_context(
        endpoint.name, timeout=CLIENT_TIMEOUT, use_ssh_client=True
    )
    return client


def describe(endpoint: Endpoint) -> str:
    """How messages name the engine: its URL, `context NAME`, or what the default resolves to."""
    if endpoint.is_url:
        return endpoint.name
    from docker.context import ContextAPI  # noqa: PLC0415 - see connect

    if endpoint.name == DEFAULT and os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    wanted = os.environ.get("DOCKER_CONTEXT") if endpoint.name == DEFAULT else endpoint.name
    # get_context answers None for a context that does not exist (its stubs say otherwise).
    context = ContextAPI.get_context(wanted or None)
    name, host = getattr(context, "Name", DEFAULT), getattr(context, "Host", None)
    if host is None and endpoint.name != DEFAULT:
        return f"context {endpoint.name}"
    named = "" if name == DEFAULT else f" (context {name})"
    return f"{host or 'unix:///var/run/docker.sock'}{named}"


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineFacts:
    """What an engine says about itself: its Debian architecture, API version and name."""

    arch: str | None  # None: a machine debforge has no Debian arch for
    machine: str  # the engine's `uname -m`, e.g. aarch64
    api_version: str
    server_version: str
    name: str  # the engine host's name

    def native_for(self, arch: str) -> bool:
        """The engine runs `arch` programs itself: no QEMU, no binfmt (i386 on amd64 too)."""
        return self.arch == arch or (self.arch is not None and arch in RUNS_ALSO.get(self.arch, ()))


def engine_facts(client: docker.DockerClient) -> EngineFacts:
    """Ask the engine (`docker info` and `docker version`) for its architecture and versions."""
    info, version = client.info(), client.version()
    machine = str(info.get("Architecture", ""))
    return EngineFacts(
        arch=machine_arch(machine), machine=machine, api_version=str(version.get("ApiVersion", "")),
        server_version=str(version.get("Version", "")), name=str(info.get("Name", "")),
    )  # fmt: skip
