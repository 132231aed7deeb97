"""The Docker engine (docker-py, through `Session.docker()`): the images debforge built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from debforge.errors import ContainerError

if TYPE_CHECKING:
    from debforge.session import Session

LABEL = "org.debforge"


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    """A Docker image debforge built: its tag (content-addressed), id, platform and closure."""

    tag: str  # debforge/<dist>-<arch>-<definition>:<content key>
    id: str  # the engine's sha256:… image id
    platform: str  # os/arch as Docker writes it, e.g. linux/arm64
    closure_key: str  # Closure.key of the packages it was bootstrapped from


def engine_arch(session: Session) -> str:
    """The Debian architecture of the run's engine: the builder image is built for it, so a native arm64
    engine builds with arm64 tools instead of an amd64 builder under QEMU."""
    facts = session.engine_facts()
    if facts.arch is None:
        raise ContainerError(
            f"the Docker engine {session.engine_name()} runs on {facts.machine!r}, an architecture "
            "debforge has no Debian name for"
        )
    return facts.arch


def execution(session: Session, arch: str) -> str:
    """How `arch` programs run on the run's engine, as progress lines and doctor say it."""
    return "native" if session.engine_facts().native_for(arch) else "under QEMU"


def find_image(session: Session, tag: str) -> Image | None:
    """The image with this tag, if the engine has it."""
    import docker  # noqa: PLC0415 - docker-py is only needed by commands that use containers

    try:
        img = session.docker().images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    attrs: dict[str, Any] = img.attrs  # docker-py's inspect document: JSON, typed Any by types-docker
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    platform = f"{attrs.get('Os', 'linux')}/{attrs.get('Architecture', '')}"
    return Image(tag=tag, id=str(img.id), platform=platform, closure_key=labels.get(f"{LABEL}.closure", ""))
