"""One Session per run (mkosi's `Context`): the cache, the reporter, the network, Docker, scratch space.

Stages take a Session instead of threading `cache`, `reporter`, `net` and `offline` through every
call. Per-run mutable state lives here and nowhere else: the lazily opened HTTP session and Docker
client (a warm run that needs neither never imports requests or docker-py) and the temporary
workspace. `close()` releases all three; the CLI opens one with `with Session(...) as session:`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from debforge import __version__
from debforge.cache import Cache
from debforge.errors import ContainerError
from debforge.report import NullReporter, Reporter

if TYPE_CHECKING:
    import docker
    import requests


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry: resets, timeouts, truncation and 5xx are retried."""

    attempts: int = 4
    backoff: float = 0.5  # first delay in seconds, doubled after each failure
    max_delay: float = 8.0
    timeout: float = 30.0  # connect and per-read timeout

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failed attempt."""
        return float(min(self.max_delay, self.backoff * 2 ** (failures - 1)))


DEFAULT_RETRY = RetryPolicy()
DEFAULT_TTL = 3600.0  # seconds a checked InRelease counts as fresh


class Session:
    """What one debforge run shares across its stages; see the module docstring."""

    def __init__(
        self,
        *,
        cache: Cache,
        reporter: Reporter | None = None,
        offline: bool = False,
        ttl: float = DEFAULT_TTL,
        retry: RetryPolicy = DEFAULT_RETRY,
        keep: bool = False,
        check_valid_until: bool = True,
    ) -> None:
        self.cache = cache
        self.reporter: Reporter = reporter or NullReporter()
        self.offline = offline
        self.ttl = ttl
        self.retry = retry
        self.keep = keep  # leave containers behind for inspection (`--keep`)
        # apt's Acquire::Check-Valid-Until: off only for frozen mirrors (snapshot.debian.org), whose
        # InRelease outlives its Valid-Until; then an expired Release is used with a warning.
        self.check_valid_until = check_valid_until
        self._http: requests.Session | None = None
        self._docker: docker.DockerClient | None = None
        self._workspace: Path | None = None

    def http(self) -> requests.Session:
        """The run's pooled HTTP session (debforge's User-Agent), opened on first use."""
        if self._http is None:
            import requests  # noqa: PLC0415 - lazy: warm runs never need it (0.1 s of start-up)

            self._http = requests.Session()
            self._http.headers["User-Agent"] = f"debforge/{__version__}"
        return self._http

    def docker(self) -> docker.DockerClient:
        """The Docker engine DOCKER_HOST (or the default socket) names, connected on first use."""
        if self._docker is None:
            import docker  # noqa: PLC0415 - docker-py is only needed by commands that use containers

            try:
                client = docker.from_env(timeout=600)
                client.ping()
            except docker.errors.DockerException as exc:
                raise ContainerError(
                    f"cannot talk to the Docker engine: {exc}",
                    hint="start dockerd (scripts/setup-host.sh does) or set DOCKER_HOST to a running engine",
                ) from exc
            self._docker = client
        return self._docker

    def workspace(self) -> Path:
        """A scratch directory for this run on the cache's filesystem (renames into the cache stay atomic)."""
        if self._workspace is None:
            self._workspace = self.cache.ensure().tempdir("session-")
        return self._workspace

    def close(self) -> None:
        """Close the clients and remove the workspace."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._docker is not None:
            self._docker.close()
            self._docker = None
        if self._workspace is not None:
            shutil.rmtree(self._workspace, ignore_errors=True)
            self._workspace = None

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
