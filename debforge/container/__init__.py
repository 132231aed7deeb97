"""Docker images of a target built from the archive, and containers to run commands in (docker-py).

`engine` holds the client, images and containers; `image` builds images from images/*/image.toml and
imports `engine` (one way), so both are re-exported here for `from debforge.container import X`.
"""

from __future__ import annotations

from debforge.container.engine import (
    LABEL,
    Container,
    ExecResult,
    Image,
    docker_client,
    find_image,
    open_container,
    run_in_container,
)
from debforge.container.image import (
    IMAGE_FORMAT,
    IMAGES_DIR,
    ImageDefinition,
    build_image,
    extract_rust_std,
    host_target,
    load_definition,
    prefill_apt_lists,
    resolve_bootstrap,
    write_apt_sources,
)
from debforge.container.image import _lists_name as _lists_name  # tests/test_container.py checks it

__all__ = [
    "IMAGES_DIR",
    "IMAGE_FORMAT",
    "LABEL",
    "Container",
    "ExecResult",
    "Image",
    "ImageDefinition",
    "build_image",
    "docker_client",
    "extract_rust_std",
    "find_image",
    "host_target",
    "load_definition",
    "open_container",
    "prefill_apt_lists",
    "resolve_bootstrap",
    "run_in_container",
    "write_apt_sources",
]
