"""Docker images of a target built from the archive, and the one runner for containers (docker-py).

`engine` names the images, `runner` creates, feeds, runs and removes containers, `transport` carries
their mounts (bind mounts on an engine that shares this filesystem, else copies and named volumes),
`volumes` lists and prunes the cache volumes, `image` builds images from images/*/image.toml (`layer`
adds a target's packages over a shared base image, `aptfiles` writes apt's sources and lists); the
common names are re-exported here for `from debforge.container import X`.
"""

from __future__ import annotations

from debforge.container.aptfiles import _lists_name as _lists_name  # tests/test_container.py checks it
from debforge.container.aptfiles import prefill_apt_lists, write_apt_sources
from debforge.container.engine import LABEL, Image, engine_arch, execution, find_image
from debforge.container.image import (
    IMAGE_FORMAT,
    IMAGES_DIR,
    ImageDefinition,
    build_image,
    extract_rust_std,
    host_target,
    load_definition,
    resolve_bootstrap,
    rust_toolchain_version,
)
from debforge.container.runner import (
    IDLE,
    ROLE_LABEL,
    Container,
    ContainerSpec,
    open_container,
    run_container,
    run_in_container,
)
from debforge.container.transport import CACHE_LABEL, Mount, content_volume, probe, shares_filesystem

__all__ = [
    "CACHE_LABEL",
    "IDLE",
    "IMAGES_DIR",
    "IMAGE_FORMAT",
    "LABEL",
    "ROLE_LABEL",
    "Container",
    "ContainerSpec",
    "Image",
    "ImageDefinition",
    "Mount",
    "build_image",
    "content_volume",
    "engine_arch",
    "execution",
    "extract_rust_std",
    "find_image",
    "host_target",
    "load_definition",
    "open_container",
    "prefill_apt_lists",
    "probe",
    "resolve_bootstrap",
    "run_container",
    "run_in_container",
    "rust_toolchain_version",
    "shares_filesystem",
    "write_apt_sources",
]
