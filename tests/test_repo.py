"""debforge.repo: pool layout, Packages/Release rendering (apt-ftparchive as oracle), signing, retention."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import pytest

from debforge.errors import RepoError
from debforge.repo import (
    KeyOptions,
    Labels,
    add_debs,
    export_key,
    init_repo,
    list_packages,
    pool,
    prune,
    publish,
    remove,
)
from debforge.repo.debfile import read_deb
from debforge.repo.render import (
    IndexFile,
    ReleaseInfo,
    package_stanza,
    parse_release_hashes,
    pool_filename,
    render_release,
)
from debforge.repo.state import pool_path
from tests.conftest import require_tool

DATE = datetime(2024, 6, 10, 8, 47, 43, tzinfo=UTC)


# ---------------------------------------------------------------- helpers (also used by test_repo_apt)


def make_deb(
    out_dir: Path, name: str, version: str = "1.0", arch: str = "amd64", *, extra: str = "", payload: str = ""
) -> Path:
    """A real .deb built by dpkg-deb, with a small file under /usr/share/<name>/."""
    require_tool("dpkg-deb")
    tree = out_dir / f"tree-{name}-{version}-{arch}".replace(":", "_")
    (tree / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (tree / "usr" / "share" / name).mkdir(parents=True, exist_ok=True)
    (tree / "usr" / "share" / name / "data").write_text(payload or f"{name} {version}\n")
    control = (
        f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\n"
        f"Maintainer: Test <test@example.com>\n{extra}Description: test package {name}\n"
        " A package built by the debforge tests.\n"
    )
    (tree / "DEBIAN" / "control").write_text(control)
    deb = out_dir / f"{name}_{version.rsplit(':', maxsplit=1)[-1]}_{arch}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)], check=True, capture_output=True
    )
    return deb


def make_key(home: Path, passphrase: str = "") -> str:
    """A throwaway ed25519 signing key in `home`; returns its fingerprint."""
    require_tool("gpg")
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The agent calibrates key protection to ~100 ms per use, which made a protected key take 7 s
    # to create here; the minimum count keeps the test fast (the key is thrown away anyway).
    (home / "gpg-agent.conf").write_text("s2k-count 65536\n")
    base = [
        "gpg",
        "--batch",
        "--homedir",
        str(home),
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        passphrase,
    ]
    subprocess.run(
        [*base, "--quick-gen-key", "debforge test <test@example.com>", "ed25519", "sign", "never"],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        ["gpg", "--homedir", str(home), "--with-colons", "--list-secret-keys"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def kill_agent(home: Path) -> None:
    """Stop the gpg-agent a test keyring started."""
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True
    )


@pytest.fixture(scope="session")
def gpg_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(GNUPGHOME, fingerprint) of an unprotected throwaway key shared by the session."""
    home = Path(tmp_path_factory.mktemp("gpg-")) / "g"
    yield home, make_key(home)
    kill_agent(home)


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every published file (not debforge's own records) → its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".debforge" not in p.parts
    }


# ---------------------------------------------------------------- unit: rendering


def test_pool_filename_follows_debian_layout(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "libfoo1", "2:1.2-3", extra="Source: libfoo (1.2-3)\n")
    info = read_deb(deb)
    assert info.source == "libfoo"
    assert pool_filename(info, "main") == PurePosixPath("pool/main/libf/libfoo/libfoo1_1.2-3_amd64.deb")
    hello = read_deb(make_deb(tmp_path, "hello", "1.0", "arm64"))
    assert pool_filename(hello, "contrib") == PurePosixPath("pool/contrib/h/hello/hello_1.0_arm64.deb")


def test_release_rendering() -> None:
    files = (IndexFile(path="main/binary-arm64/Packages", size=12, md5="a" * 32, sha256="b" * 64),)
    info = ReleaseInfo(
        origin="O",
        label="L",
        suite="bookworm",
        codename="bookworm",
        date=DATE,
        valid_for=timedelta(days=7),
        architectures=("arm64", "amd64"),
        components=("main",),
        description="D",
        files=files,
    )
    text = render_release(info).decode()
    assert text.splitlines()[:10] == [
        "Origin: O",
        "Label: L",
        "Suite: bookworm",
        "Codename: bookworm",
        "Date: Mon, 10 Jun 2024 08:47:43 UTC",
        "Valid-Until: Mon, 17 Jun 2024 08:47:43 UTC",
        "Architectures: arm64 amd64",
        "Components: main",
        "Description: D",
        "Acquire-By-Hash: yes",
    ]
    assert f" {'a' * 32}               12 main/binary-arm64/Packages" in text
    assert parse_release_hashes(text) == {"main/binary-arm64/Packages": (12, "b" * 64)}


@pytest.mark.integration
def test_packages_stanza_matches_apt_ftparchive(tmp_path: Path) -> None:
    ftparchive = require_tool("apt-ftparchive")
    extra = (
        "Source: foosrc (0.9)\nSection: utils\nPriority: optional\nHomepage: https://example.org\n"
        "Multi-Arch: foreign\nDepends: libc6 (>= 2.36)\nX-Custom: kept\nInstalled-Size: 12\nEssential: no\n"
        "Provides: foo-virtual\nBuilt-Using: rustc (= 1.0)\n"
    )
    root = tmp_path / "repo"
    init_repo(root, dists=["bookworm"], arches=["amd64"])
    add_debs(root, [make_deb(tmp_path, "foo", "1:1.0-1", extra=extra), make_deb(tmp_path, "bar", "2.0")])
    publish(root, date=DATE, unsigned=True)
    ours = (root / "dists/bookworm/main/binary-amd64/Packages").read_text()
    # Debian's archive (dak) lists MD5sum and SHA256 only: switch apt-ftparchive's others off.
    theirs = subprocess.run(
        [
            ftparchive,
            "-o",
            "APT::FTPArchive::SHA1=false",
            "-o",
            "APT::FTPArchive::SHA512=false",
            "packages",
            "pool",
        ],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert sorted(ours.strip().split("\n\n")) == sorted(theirs.strip().split("\n\n"))
    assert "\nX-Custom: kept\n" in ours


def test_stanza_drops_archive_fields_from_control(tmp_path: Path) -> None:
    info = read_deb(make_deb(tmp_path, "odd", extra="SHA256: bogus\n"))
    stanza = package_stanza(info, PurePosixPath("pool/main/o/odd/odd_1.0_amd64.deb"))
    assert "bogus" not in stanza
    assert stanza.count("SHA256:") == 1


# ---------------------------------------------------------------- pool operations


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    init_repo(
        root,
        dists=["bookworm", "trixie"],
        arches=["arm64", "amd64"],
        labels=Labels(origin="Test", label="Test"),
    )
    return root


def test_add_is_idempotent_and_refuses_changed_content(repo: Path, tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "hello", "1.0", "arm64")
    first = add_debs(repo, [deb])
    assert [p.filename for p in first.packages] == ["pool/main/h/hello/hello_1.0_arm64.deb"]
    again = add_debs(repo, [deb])
    assert again.packages == () and len(again.unchanged) == 1
    other = tmp_path / "other"
    other.mkdir()
    rebuilt = make_deb(other, "hello", "1.0", "arm64", payload="different\n")
    with pytest.raises(RepoError, match=r"already has hello 1.0 \(arm64\) with different content") as err:
        add_debs(repo, [rebuilt])
    assert err.value.hint and "new version" in err.value.hint
    assert len(list_packages(repo).packages) == 1


def test_add_refuses_bad_input(repo: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.deb"
    text.write_text("hello\n")
    with pytest.raises(RepoError, match="is not a Debian binary package"):
        add_debs(repo, [text])
    with pytest.raises(
        RepoError, match="is for architecture riscv64, but the repository carries only arm64, amd64"
    ):
        add_debs(repo, [make_deb(tmp_path, "rv", arch="riscv64")])
    with pytest.raises(RepoError, match="has no dist sid"):
        add_debs(repo, [make_deb(tmp_path, "x")], dist="sid")
    good = make_deb(tmp_path, "good")
    with pytest.raises(RepoError):  # one bad file: nothing at all is added (validate before work)
        add_debs(repo, [good, text])
    assert list_packages(repo).packages == ()


def test_a_deb_that_changes_while_being_added_is_not_listed(repo: Path, tmp_path: Path) -> None:
    """Fault injection: the bytes copied into the pool differ from the bytes read and checked."""
    checked = make_deb(tmp_path, "hello", "1.0", "arm64")
    (tmp_path / "swapped").mkdir()
    swapped = make_deb(tmp_path / "swapped", "hello", "1.0", "arm64", payload="swapped in\n")
    filename = "pool/main/h/hello/hello_1.0_arm64.deb"
    item = pool._Incoming(
        deb=swapped, info=read_deb(checked), filename=filename, dest=pool_path(repo, filename)
    )
    with pytest.raises(RepoError, match=r"hello_1\.0_arm64\.deb changed while it was being added"):
        pool._copy_into_pool(item, repo)
    assert [p for p in (repo / "pool").rglob("*") if p.is_file()] == []


def test_remove_and_prune(repo: Path, tmp_path: Path, gpg_key: tuple[Path, str]) -> None:
    home, fpr = gpg_key
    debs = [make_deb(tmp_path, "app", v, "arm64") for v in ("1.0", "1.10", "1.9", "2.0~rc1")]
    add_debs(repo, debs)
    add_debs(repo, [make_deb(tmp_path, "tool", "1.0", "all")], dist="trixie")
    dry = prune(repo, keep_versions=2, dry_run=True)
    assert [p.version for p in dry.packages] == ["1.0", "1.9"]  # Debian ordering: 1.9 < 1.10, 2.0~rc1 > 1.10
    assert len(list_packages(repo).packages) == 5
    done = prune(repo, keep_versions=2)
    assert [p.version for p in done.packages] == ["1.0", "1.9"]
    pool_file = repo / "pool/main/a/app/app_1.9_arm64.deb"
    assert pool_file.exists()  # still listed by the published Release until the next publish
    result = publish(repo, date=DATE, key=KeyOptions(gpg_home=home, sign_key=fpr))
    assert not pool_file.exists()
    assert "pool/main/a/app/app_1.9_arm64.deb" in result.removed_files
    removed = remove(repo, "app", "1.10")
    assert [(p.name, p.version) for p in removed.packages] == [("app", "1.10")]
    with pytest.raises(RepoError, match=r"has no package app=1\.10"):
        remove(repo, "app", "1.10")
    assert {(p.dist, p.name, p.version) for p in list_packages(repo).packages} == {
        ("bookworm", "app", "2.0~rc1"),
        ("trixie", "tool", "1.0"),
    }


# ---------------------------------------------------------------- publish


@pytest.mark.integration
def test_publish_writes_a_verifiable_repository(
    repo: Path, tmp_path: Path, gpg_key: tuple[Path, str]
) -> None:
    home, fpr = gpg_key
    add_debs(repo, [make_deb(tmp_path, "hello", "1.0", "arm64"), make_deb(tmp_path, "doc", "1", "all")])
    result = publish(
        repo, date=DATE, valid_for=timedelta(days=30), key=KeyOptions(gpg_home=home, sign_key=fpr)
    )
    assert result.signed and result.changed
    dist = repo / "dists/bookworm"
    release = (dist / "Release").read_text()
    assert "Valid-Until: Wed, 10 Jul 2024 08:47:43 UTC" in release
    hashes = parse_release_hashes(release)
    assert set(hashes) == {
        f"main/binary-{a}/Packages{s}" for a in ("arm64", "amd64") for s in ("", ".gz", ".xz")
    }
    for path, (size, sha) in hashes.items():
        data = (dist / path).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, sha)
        assert (dist / Path(path).parent / "by-hash/SHA256" / sha).read_bytes() == data
    amd64 = (dist / "main/binary-amd64/Packages").read_text()
    assert "Package: doc\n" in amd64 and "Package: hello\n" not in amd64  # arch all in every arch
    gpgv = require_tool("gpgv")
    keyring = tmp_path / "key.gpg"
    keyring.write_bytes(
        subprocess.run(
            ["gpg", "--homedir", str(home), "--export", fpr], check=True, capture_output=True
        ).stdout
    )
    subprocess.run(
        [gpgv, "--keyring", str(keyring), str(dist / "InRelease")], check=True, capture_output=True
    )
    subprocess.run(
        [gpgv, "--keyring", str(keyring), str(dist / "Release.gpg"), str(dist / "Release")],
        check=True,
        capture_output=True,
    )
    assert "BEGIN PGP PUBLIC KEY BLOCK" in export_key(repo, KeyOptions(gpg_home=home, sign_key=fpr))


@pytest.mark.integration
def test_publish_is_idempotent(repo: Path, tmp_path: Path, gpg_key: tuple[Path, str]) -> None:
    home, fpr = gpg_key
    add_debs(repo, [make_deb(tmp_path, "hello", "1.0", "arm64")])
    publish(repo, date=DATE, key=KeyOptions(gpg_home=home, sign_key=fpr))
    before = tree_bytes(repo)
    again = publish(repo, date=DATE, key=KeyOptions(gpg_home=home, sign_key=fpr))
    assert not again.changed
    assert tree_bytes(repo) == before  # not a byte, signatures included
    later = publish(
        repo, key=KeyOptions(gpg_home=home, sign_key=fpr)
    )  # a new Date: only Release and signatures change
    after = tree_bytes(repo)
    differing = {k for k in before if before[k] != after.get(k)}
    assert later.changed
    assert differing == {
        f"dists/{d}/{f}" for d in ("bookworm", "trixie") for f in ("Release", "InRelease", "Release.gpg")
    }
    for d in ("bookworm", "trixie"):
        old, new = (x[f"dists/{d}/Release"].decode().splitlines() for x in (before, after))
        assert [ln for ln in old if not ln.startswith("Date:")] == [
            ln for ln in new if not ln.startswith("Date:")
        ]


@pytest.mark.integration
def test_by_hash_keeps_recent_generations(repo: Path, tmp_path: Path, gpg_key: tuple[Path, str]) -> None:
    home, fpr = gpg_key
    by_hash = repo / "dists/bookworm/main/binary-arm64/by-hash/SHA256"
    seen: list[set[str]] = []
    for i in range(4):
        add_debs(repo, [make_deb(tmp_path, "app", f"1.{i}", "arm64")])
        publish(repo, date=DATE, key=KeyOptions(gpg_home=home, sign_key=fpr), keep_generations=2)
        seen.append({p.name for p in by_hash.iterdir()})
    assert len(seen[-1]) == 6  # Packages, .gz, .xz of the current and the previous publish
    assert not seen[0] & seen[-1]


def test_publish_refuses_without_key(repo: Path, tmp_path: Path) -> None:
    add_debs(repo, [make_deb(tmp_path, "hello", "1.0", "arm64")])
    with pytest.raises(RepoError, match="no signing key is configured"):
        publish(repo, key=KeyOptions(env={}))
    assert not (repo / "dists").exists()  # validated before writing anything


@pytest.mark.integration
def test_publish_refuses_a_key_not_in_the_keyring(repo: Path, tmp_path: Path) -> None:
    require_tool("gpg")
    empty = tmp_path / "empty-gnupg"
    empty.mkdir(mode=0o700)
    with pytest.raises(RepoError, match="signing key DEADBEEF is not in"):
        publish(repo, key=KeyOptions(env={"DEBFORGE_SIGN_KEY": "DEADBEEF", "GNUPGHOME": str(empty)}))


@pytest.mark.integration
def test_private_key_and_passphrase_from_environment(repo: Path, tmp_path: Path) -> None:
    """The CI path: an armored, passphrase-protected private key in env vars, no keyring, no tty."""
    home = tmp_path / "ci-gnupg"
    fpr = make_key(home, passphrase="s3cret")  # noqa: S106 - a throwaway test key
    armored = subprocess.run(
        [
            "gpg",
            "--batch",
            "--homedir",
            str(home),
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "s3cret",
            "--armor",
            "--export-secret-keys",
            fpr,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    kill_agent(home)
    add_debs(repo, [make_deb(tmp_path, "hello", "1.0", "arm64")])
    env = {
        "DEBFORGE_SIGN_PRIVATE_KEY": armored,
        "DEBFORGE_SIGN_PASSPHRASE": "wrong",
        "PATH": os.environ["PATH"],
    }
    with pytest.raises(RepoError, match="gpg could not sign"):
        publish(repo, key=KeyOptions(env=env))
    result = publish(repo, key=KeyOptions(env={**env, "DEBFORGE_SIGN_PASSPHRASE": "s3cret"}))
    assert result.signed
    assert (repo / "dists/bookworm/InRelease").read_text().startswith("-----BEGIN PGP SIGNED MESSAGE-----")


@pytest.mark.integration
def test_repo_bench_runs(tmp_path: Path) -> None:
    # bench/ is not imported by the other tests: this keeps `make bench` from breaking unseen when
    # publish's signature changes (it did, once: the signing options became KeyOptions).
    require_tool("apt-ftparchive")
    bench = Path(__file__).resolve().parent.parent / "bench/repo.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--debs", "20", "--workdir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ratio debforge/apt-ftparchive:" in done.stdout
    assert list(tmp_path.iterdir()) == []  # its work directory is removed
