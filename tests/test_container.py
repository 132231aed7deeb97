"""container: image definitions as data, apt sources and lists layout, doctor checks (no Docker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from debforge import container
from debforge.dists import make_target
from debforge.errors import ContainerError

BOOKWORM = make_target("bookworm", "arm64")
TRIXIE = make_target("trixie", "arm64")


def test_runtime_definition_is_target_arch_with_apt_lists() -> None:
    runtime = container.load_definition("runtime", BOOKWORM)
    assert not runtime.host_arch and runtime.apt_lists
    assert runtime.files is not None and (runtime.files / "etc/apt/apt.conf.d/90debforge").is_file()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (BOOKWORM, {"rustc-web", "cargo-web", "gcc-aarch64-linux-gnu", "pkg-config"}),
        (TRIXIE, {"rustc", "cargo", "gcc-aarch64-linux-gnu", "pkg-config"}),
    ],
)
def test_builder_definition_is_parametrised_by_target(target: object, expected: set[str]) -> None:
    builder = container.load_definition("builder", target)  # type: ignore[arg-type]
    assert builder.host_arch
    assert expected <= set(builder.packages)
    assert not any("{" in p for p in builder.packages)


def test_definition_digest_follows_content(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x/image.toml").write_text('packages = ["a"]\n')
    first = container.load_definition("x", BOOKWORM, images_dir=tmp_path)
    (tmp_path / "x/files/etc").mkdir(parents=True)
    (tmp_path / "x/files/etc/motd").write_text("hi\n")
    second = container.load_definition("x", BOOKWORM, images_dir=tmp_path)
    assert first.digest != second.digest and second.packages == ("a",)


def test_bad_definition_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/image.toml").write_text("packages = [\n")
    with pytest.raises(ContainerError, match=r"bad/image\.toml"):
        container.load_definition("bad", BOOKWORM, images_dir=tmp_path)


def test_apt_sources_cover_every_suite_with_the_verified_keyring(tmp_path: Path) -> None:
    container.write_apt_sources(tmp_path, BOOKWORM)
    text = (tmp_path / "etc/apt/sources.list.d/debian.sources").read_text()
    assert "URIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n" in text
    assert "URIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n" in text
    assert text.count("Signed-By: /etc/apt/keyrings/debforge-archive.gpg") == 2
    assert (tmp_path / "etc/apt/keyrings/debforge-archive.gpg").read_bytes() == BOOKWORM.keyring.read_bytes()


def test_lists_names_are_apts() -> None:
    url = "http://deb.debian.org/debian-security/dists/bookworm-security/main/binary-arm64/Packages.xz"
    assert (
        container._lists_name(url)
        == "deb.debian.org_debian-security_dists_bookworm-security_main_binary-arm64_Packages.xz"
    )
