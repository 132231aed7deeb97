"""A debforge repository, published by the CI recipe script, used by real apt in a fresh arm64 container."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from debforge.cache import Cache
from debforge.container import Container, ContainerSpec, Image, build_image, open_container
from debforge.dists import make_target
from debforge.pipeline import package
from debforge.recipe import binary_recipe
from debforge.session import Session
from tests.conftest import require_tool
from tests.test_repo import gpg_key
from tests.test_repo_apt import serve

__all__ = ["gpg_key"]  # a session fixture from test_repo

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _publish(
    repo: Path, deb: Path, home: Path, fpr: str, arch: str = "arm64"
) -> subprocess.CompletedProcess[str]:
    """scripts/ci-publish.sh, as the docs/ci.md workflow runs it, with the deb packaged earlier."""
    env = {
        **os.environ, "DEBFORGE_REPO": str(repo), "DIST": "bookworm", "ARCH": arch,
        "DEBFORGE_PREBUILT_DEBS": str(deb), "DEBFORGE_SIGN_KEY": fpr, "GNUPGHOME": str(home),
        "DEBFORGE": f"{sys.executable} -m debforge", "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci-publish.sh")], env=env, capture_output=True, text=True,
        check=False, timeout=600,
    )  # fmt: skip


@pytest.fixture
def host_network_container(runtime_image: Image, e2e_session: Session) -> Iterator[Container]:
    """A fresh runtime container on the host's network, so 127.0.0.1 is this machine's test server."""
    with _host_network_container(e2e_session, runtime_image) as container:
        yield container


def _host_network_container(session: Session, image: Image) -> contextlib.AbstractContextManager[Container]:
    return open_container(session, ContainerSpec(image=image, role="test-repo", network="host"))


def _add_source(container: Container, key: str, url: str) -> None:
    """The repository's key under /etc/apt/keyrings and a signed-by source line, as docs/ci.md says."""
    setup = (
        "mkdir -p /etc/apt/keyrings && cat > /etc/apt/keyrings/debforge.asc <<'KEY'\n" + key + "KEY\n"
        f"echo 'deb [signed-by=/etc/apt/keyrings/debforge.asc] {url} bookworm main'"
        " > /etc/apt/sources.list.d/debforge.list"
    )
    assert _sh(container, setup)[0] == 0


def _sh(container: Container, script: str) -> tuple[int, str]:
    done = container.exec(["sh", "-c", script], check=False)
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


def test_apt_in_arm64_container_verifies_and_installs_from_a_debforge_repo(
    hello_ssl_deb: Path, gpg_key: tuple[Path, str], host_network_container: Container, tmp_path: Path
) -> None:
    code, run = _install_from_repo(hello_ssl_deb, "hello-ssl", gpg_key, host_network_container, tmp_path)
    assert code == 0 and run.startswith("OpenSSL 3"), run


def test_apt_in_amd64_container_verifies_and_installs_from_a_debforge_repo(
    e2e_cache: Cache, gpg_key: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for amd64: a C program built on this host, packaged by debforge, served, installed."""
    target = make_target("bookworm", "amd64")
    source = tmp_path / "hello.c"
    source.write_text('#include <stdio.h>\nint main(void) { puts("hello from amd64"); return 0; }\n')
    binary = tmp_path / "hello-amd64"
    subprocess.run([require_tool("gcc"), "-O2", "-o", binary, source], check=True)
    recipe = binary_recipe(
        binary, name="hello-amd64", version="1.0", maintainer="Jane Doe <jane@example.org>",
        description="print a greeting",
    )  # fmt: skip
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    session = Session(cache=e2e_cache)
    deb = package(session, recipe, target, out=tmp_path / "out").package.path
    image = build_image(session, target)
    with _host_network_container(session, image) as container:
        code, run = _install_from_repo(deb, "hello-amd64", gpg_key, container, tmp_path, arch="amd64")
    assert code == 0 and run.strip() == "hello from amd64", run


def _install_from_repo(
    deb: Path,
    name: str,
    gpg_key: tuple[Path, str],
    container: Container,
    tmp_path: Path,
    *,
    arch: str = "arm64",
) -> tuple[int, str]:
    """Publish `deb` with ci-publish.sh, serve it, apt-get update + install it in `container`, run it."""
    home, fpr = gpg_key
    repo = tmp_path / "site"
    done = _publish(repo, deb, home, fpr, arch)
    assert done.returncode == 0, done.stderr
    key = (repo / "archive-key.asc").read_text()
    with serve(repo) as url:
        _add_source(container, key, url)
        # Only our source is refreshed: the Debian lists baked into the image stay as they are.
        only_ours = (
            "-o Dir::Etc::sourcelist=/etc/apt/sources.list.d/debforge.list -o Dir::Etc::sourceparts=- "
            "-o APT::Get::List-Cleanup=0"
        )
        code, update = _sh(container, f"apt-get update {only_ours}")
        assert code == 0 and "W:" not in update and "NO_PUBKEY" not in update, update
        code, install = _sh(container, f"DEBIAN_FRONTEND=noninteractive apt-get install -y {name}")
        assert code == 0, install
    return _sh(container, name)


def test_apt_in_container_refuses_a_tampered_repository(
    hello_ssl_deb: Path, gpg_key: tuple[Path, str], host_network_container: Container, tmp_path: Path
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
        _add_source(host_network_container, key, url)
        code, update = _sh(
            host_network_container,
            "apt-get update -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/debforge.list "
            "-o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 -o Acquire::By-Hash=no",
        )
    assert code != 0 or "Hash Sum mismatch" in update or "E:" in update, update
    assert "Hash Sum mismatch" in update or "File has unexpected size" in update, update
