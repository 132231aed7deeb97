"""The Docker engine (docker-py, through `Session.docker()`): the images debforge built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
