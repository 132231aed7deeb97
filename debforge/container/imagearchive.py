"""The image archive `docker load` reads (what `docker save` writes): one layer tar, a config, a manifest.

Format code only (style rule 9): it knows the archive layout, not what goes into the tree. The layout
is Docker's image spec v1.2 as `docker save` writes it: `manifest.json` lists the config file, the
repository tags and the layer tars; the config's `rootfs.diff_ids` are the sha256 of each
uncompressed layer tar, and `architecture`/`variant` are what `docker run --platform` matches.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from debforge.cache import HashingWriter

_LAYER = "layer/layer.tar"


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageConfig:
    """The parts of an image config debforge sets: platform, environment, command and labels."""

    platform: str  # os/arch[/variant], as Target.docker_platform: linux/arm/v7
    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()

    def document(self, diff_id: str) -> dict[str, object]:
        """The config JSON of an image whose one layer has this diff id."""
        os_, arch, *variant = self.platform.split("/")
        config: dict[str, object] = {
            "Env": list(self.env),
            "Cmd": list(self.cmd),
            "Labels": dict(self.labels),
        }
        return {
            "architecture": arch,
            **({"variant": variant[0]} if variant else {}),
            "os": os_,
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "debforge: the unpacked packages of the closure"}],
        }


def write_image_archive(path: Path, root: Path, config: ImageConfig, *, tag: str) -> None:
    """Write the `docker load` archive of the tree `root` as one layer, tagged `tag`, to `path`.

    One pass over the tree: the layer tar is streamed into the archive and hashed on the way, its
    member header filled in once its size is known; config and manifest follow it (`docker load`
    reads the whole archive before it reads the manifest, so their order does not matter).
    """
    with path.open("w+b") as fh:
        header_at = fh.tell()
        fh.write(b"\0" * 512)
        hashing = HashingWriter(fh)
        with tarfile.open(fileobj=hashing, mode="w", format=tarfile.GNU_FORMAT) as tar:  # type: ignore[call-overload]  # any object with write() is a file here
            for entry in sorted(root.iterdir()):
                tar.add(entry, arcname=entry.name)
        end = fh.tell()
        layer = tarfile.TarInfo(_LAYER)
        layer.size = end - header_at - 512
        fh.seek(header_at)
        fh.write(layer.tobuf(tarfile.GNU_FORMAT))
        fh.seek(end)
        fh.write(b"\0" * (-end % 512))
        diff_id = f"sha256:{hashing.sha256.hexdigest()}"
        document = json.dumps(config.document(diff_id), sort_keys=True).encode()
        config_name = f"{hashlib.sha256(document).hexdigest()}.json"
        manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [_LAYER]}]).encode()
        with tarfile.open(fileobj=fh, mode="w", format=tarfile.GNU_FORMAT) as outer:
            for name, data in ((config_name, document), ("manifest.json", manifest)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                outer.addfile(info, io.BytesIO(data))
