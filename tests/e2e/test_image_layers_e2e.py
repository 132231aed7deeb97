"""A dist's builders share one base image; a new target adds only its cross compilers as a layer
(container/layer.py), installed by the real dpkg. dpkg and apt inside the result are the oracles:
the layer's packages are installed, nothing is half-configured, apt sees no broken dependency."""

from __future__ import annotations

import pytest

from debforge.builder.toolchain import builder_image
from debforge.container import Image, build_image, run_in_container
from debforge.dists import Target, make_target
from debforge.session import Session
from tests.conftest import require_docker

pytestmark = pytest.mark.e2e


def _layers(session: Session, image: Image) -> list[str]:
    return list(session.docker().images.get(image.tag).attrs["RootFS"]["Layers"])


def _sh(session: Session, image: Image, script: str) -> str:
    return run_in_container(session, image, ["sh", "-c", script]).stdout.decode()


def test_two_targets_of_a_dist_share_the_base_layers(e2e_session: Session, bookworm_arm64: Target) -> None:
    require_docker()
    arm64 = builder_image(e2e_session, bookworm_arm64)
    # An armhf builder left by an earlier run may sit on an older base (its base's tag removed since):
    # this one is made now, over the base the arm64 builder has.
    client = e2e_session.docker()
    for old in client.images.list(name="debforge/bookworm-armhf-builder"):
        client.images.remove(str(old.id), force=True)
    armhf = builder_image(e2e_session, make_target("bookworm", "armhf"))
    first, second = _layers(e2e_session, arm64), _layers(e2e_session, armhf)
    # The dist's base (the unpacked tree, then its configure step), then the target's own layer.
    assert len(first) == len(second) == 3
    assert first[:2] == second[:2] and first[2] != second[2]
    # dpkg: the layer's packages are installed and configured; --audit lists nothing half-done;
    # apt-get check: every dependency of what is installed is satisfied.
    status = _sh(
        e2e_session, armhf,
        "dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf"
        " rustc-web && dpkg --audit && apt-get check -q=2 && arm-linux-gnueabihf-gcc --version | head -n1",
    )  # fmt: skip
    assert "gcc-arm-linux-gnueabihf ii" in status and "g++-arm-linux-gnueabihf ii" in status
    assert "rustc-web ii" in status and "arm-linux-gnueabihf-gcc (Debian" in status
    assert "gcc-aarch64-linux-gnu" not in _sh(e2e_session, armhf, "dpkg-query -W -f '${Package}\\n'")


def test_extra_packages_are_a_layer_over_the_plain_runtime_image(
    e2e_session: Session, bookworm_arm64: Target, runtime_image: Image
) -> None:
    """`debforge image --package` (and the emulated builders): the target's runtime image plus a layer,
    whose maintainer scripts ran under QEMU."""
    with_file = build_image(e2e_session, bookworm_arm64, packages=("file",))
    plain, layered = _layers(e2e_session, runtime_image), _layers(e2e_session, with_file)
    assert layered[: len(plain)] == plain and len(layered) == len(plain) + 1
    out = _sh(e2e_session, with_file, "dpkg --audit && apt-get check -q=2 && file -b /bin/true")
    assert "ELF 64-bit LSB" in out and "ARM aarch64" in out
    assert with_file.closure_key != runtime_image.closure_key
