"""The named volumes that hold build caches on engines that do not share this filesystem.

The copy transport (container/transport.py) keeps cargo's home and target dir in volumes labelled
`org.debforge.cache=<the host dir they stand for>`; `doctor` lists them and `clean --engine` prunes
them. A volume a running build uses is left alone: the engine refuses to remove it anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from debforge.container.transport import CACHE_LABEL

if TYPE_CHECKING:
    from debforge.session import Session


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheVolume:
    """One cache volume on an engine."""

    name: str
    stands_for: str  # the host directory it replaces, e.g. …/build/<project>/bookworm-arm64-container/target

    def to_json(self) -> dict[str, str]:
        """The volume as a JSON object."""
        return {"name": self.name, "stands_for": self.stands_for}


def cache_volumes(session: Session) -> tuple[CacheVolume, ...]:
    """The debforge cache volumes on the run's engine, by name."""
    found = session.docker().volumes.list(filters={"label": CACHE_LABEL})
    labels = [(str(v.name), (v.attrs.get("Labels") or {}).get(CACHE_LABEL, "")) for v in found]
    return tuple(CacheVolume(name=n, stands_for=s) for n, s in sorted(labels))


def prune_cache_volumes(session: Session) -> tuple[tuple[CacheVolume, ...], tuple[str, ...]]:
    """Remove every debforge cache volume on the run's engine: (removed, sentences for those kept)."""
    import docker  # noqa: PLC0415 - docker-py is only needed by commands that use containers

    removed: list[CacheVolume] = []
    kept: list[str] = []
    for volume in cache_volumes(session):
        try:
            session.docker().volumes.get(volume.name).remove()
        except docker.errors.NotFound:
            continue  # pruned by someone else meanwhile
        except docker.errors.APIError as exc:  # in use by a running build (409 Conflict)
            kept.append(f"{volume.name} is in use: {exc.explanation or exc}")
            continue
        removed.append(volume)
    return tuple(removed), tuple(kept)
