"""A debforge repository, published by the CI recipe script, used by real apt in a fresh arm64 container."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from debforge.container import LABEL, Image, docker_client
from tests.test_repo import gpg_key
from tests.test_repo_apt import serve

__all__ = ["gpg_key"]  # a session fixture from test_repo

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _publish(repo: Path, deb: Path, home: Path, fpr: str) -> subprocess.CompletedProcess[str]:
    """scripts/ci-publish.sh, as the docs/ci.md workflow runs it, with the deb packaged earlier."""
    env = {
        **os.environ, "DEBFORGE_REPO": str(repo), "DIST": "bookworm", "ARCH": "arm64",
        "DEBFORGE_PREBUILT_DEBS": str(deb), "DEBFORGE_SIGN_KEY": fpr, "GNUPGHOME": str(home),
        "DEBFORGE": f"{sys.executable} -m debforge", "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci-publish.sh")], env=env, capture_output=True, text=True,
        check=False, timeout=600,
    )  # fmt: skip


@pytest.fixture
def host_network_container(runtime_image: Image) -> Iterator[object]:
    """A fresh runtime container on the host's network, so 127.0.0.1 is this machine's test server."""
    client = docker_client()
    container = client.containers.run(
        runtime_image.tag, ["sleep", "3600"], detach=True, network_mode="host",
        platform=runtime_image.platform, labels={LABEL: "1", f"{LABEL}.role": "test-repo"},
    )  # fmt: skip
    try:
        yield container
    finally:
        container.remove(force=True)


def _sh(container: object, script: str) -> tuple[int, str]:
    code, output = container.exec_run(["sh", "-c", script])  # type: ignore[attr-defined]  # docker Container
    return code, output.decode(errors="replace")


def test_apt_in_arm64_container_verifies_and_installs_from_a_debforge_repo(
    hello_ssl_deb: Path, gpg_key: tuple[Path, str], host_network_container: object, tmp_path: Path
) -> None:
    home, fpr = gpg_key
    repo = tmp_path / "site"
    done = _publish(repo, hello_ssl_deb, home, fpr)
    assert done.returncode == 0, done.stderr
    key = (repo / "archive-key.asc").read_text()
    with serve(repo) as url:
        setup = (
            "mkdir -p /etc/apt/keyrings && cat > /etc/apt/keyrings/debforge.asc <<'KEY'\n" + key + "KEY\n"
            f"echo 'deb [signed-by=/etc/apt/keyrings/debforge.asc] {url} bookworm main'"
            " > /etc/apt/sources.list.d/debforge.list"
        )
        assert _sh(host_network_container, setup)[0] == 0
        # Only our source is refreshed: the Debian lists baked into the image stay as they are.
        only_ours = (
            "-o Dir::Etc::sourcelist=/etc/apt/sources.list.d/debforge.list -o Dir::Etc::sourceparts=- "
            "-o APT::Get::List-Cleanup=0"
        )
        code, update = _sh(host_network_container, f"apt-get update {only_ours}")
        assert code == 0 and "W:" not in update and "NO_PUBKEY" not in update, update
        code, install = _sh(
            host_network_container, "DEBIAN_FRONTEND=noninteractive apt-get install -y hello-ssl"
        )
        assert code == 0, install
        code, run = _sh(host_network_container, "hello-ssl")
    assert code == 0 and run.startswith("OpenSSL 3"), run


def test_apt_in_container_refuses_a_tampered_repository(
    hello_ssl_deb: Path, gpg_key: tuple[Path, str], host_network_container: object, tmp_path: Path
) -> None:
    home, fpr = gpg_key
    repo = tmp_path / "site"
    assert _publish(repo, hello_ssl_deb, home, fpr).returncode == 0
    packages = repo / "dists/bookworm/main/binary-arm64/Packages"
    packages.write_text(packages.read_text().replace("Package: hello-ssl", "Package: hello-evil"))
    for suffix in (".gz", ".xz"):
        (packages.parent / f"Packages{suffix}").unlink()
    key = (repo / "archive-key.asc").read_text()
    with serve(repo) as url:
        setup = (
            "mkdir -p /etc/apt/keyrings && cat > /etc/apt/keyrings/debforge.asc <<'KEY'\n" + key + "KEY\n"
            f"echo 'deb [signed-by=/etc/apt/keyrings/debforge.asc] {url} bookworm main'"
            " > /etc/apt/sources.list.d/debforge.list"
        )
        assert _sh(host_network_container, setup)[0] == 0
        code, update = _sh(
            host_network_container,
            "apt-get update -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/debforge.list "
            "-o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 -o Acquire::By-Hash=no",
        )
    assert code != 0 or "Hash Sum mismatch" in update or "E:" in update, update
    assert "Hash Sum mismatch" in update or "File has unexpected size" in update, update
