"""debforge repositories read by the host's real apt, in an isolated APT_CONFIG (host apt untouched)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from debforge.repo import KeyOptions, add_debs, export_key, init_repo, publish
from debforge.repo.render import parse_release_hashes
from tests.conftest import require_tool
from tests.test_repo import gpg_key, make_deb

__all__ = ["gpg_key", "serve"]  # gpg_key is a fixture re-exported from test_repo

pytestmark = pytest.mark.integration


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        del format, args


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve `root` over HTTP on 127.0.0.1 (a free port); yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Apt:
    """apt-get with its own configuration, state, cache and sources: nothing of the host's apt."""

    def __init__(self, base: Path, *, arch: str = "amd64", extra_arch: str = "arm64") -> None:
        self.base = base
        for sub in (
            "etc/apt.conf.d",
            "etc/sources.list.d",
            "etc/preferences.d",
            "etc/trusted.gpg.d",
            "state/lists/partial",
            "cache/archives/partial",
            "log",
        ):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "status").write_text("")
        conf = f'''
Dir::State "{base}/state/";
Dir::State::status "{base}/status";
Dir::Cache "{base}/cache/";
Dir::Etc "{base}/etc/";
Dir::Etc::SourceList "{base}/etc/sources.list";
Dir::Etc::SourceParts "{base}/etc/sources.list.d/";
Dir::Etc::Parts "{base}/etc/apt.conf.d/";
Dir::Etc::Preferences "{base}/etc/preferences";
Dir::Etc::PreferencesParts "{base}/etc/preferences.d/";
Dir::Etc::Trusted "{base}/etc/trusted.gpg";
Dir::Etc::TrustedParts "{base}/etc/trusted.gpg.d/";
Dir::Log "{base}/log/";
APT::Architecture "{arch}";
APT::Architectures {{ "{arch}"; "{extra_arch}"; }};
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::Retries "0";
Debug::NoLocking "true";
'''
        self.config = base / "apt.conf"
        self.config.write_text(conf)

    def sources(self, line: str) -> None:
        """Replace the sources list with one line."""
        (self.base / "etc/sources.list").write_text(line + "\n")

    def __call__(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run apt-get with this configuration; never raises on a non-zero exit."""
        env = {**os.environ, "APT_CONFIG": str(self.config), "LC_ALL": "C.UTF-8"}
        return subprocess.run(
            [require_tool("apt-get"), *args],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


@pytest.fixture
def signed_repo(tmp_path: Path, gpg_key: tuple[Path, str]) -> tuple[Path, Path]:
    """A published bookworm repo with hello (arm64 and amd64) and hello-doc (all); (root, armored key)."""
    home, fpr = gpg_key
    root = tmp_path / "repo"
    init_repo(root, dists=["bookworm"], arches=["arm64", "amd64"], key=KeyOptions(sign_key=fpr))
    debs = tmp_path / "debs"
    debs.mkdir()
    add_debs(
        root, [make_deb(debs, "hello", "1.0-1", a, extra="Depends: hello-doc\n") for a in ("arm64", "amd64")]
    )
    add_debs(root, [make_deb(debs, "hello-doc", "1.0-1", "all", extra="Multi-Arch: foreign\n")])
    publish(root, key=KeyOptions(gpg_home=home))
    key = tmp_path / "debforge-test.asc"  # apt reads armored keys only with the .asc suffix
    key.write_text(export_key(root, KeyOptions(gpg_home=home)))
    return root, key


def test_apt_verifies_and_installs(signed_repo: tuple[Path, Path], tmp_path: Path) -> None:
    root, key = signed_repo
    apt = Apt(tmp_path / "apt")
    with serve(root) as url:
        apt.sources(f"deb [signed-by={key}] {url} bookworm main")
        update = apt("update")
        assert update.returncode == 0, update.stdout + update.stderr
        assert "W:" not in update.stderr and "E:" not in update.stderr, update.stderr
        sim = apt("install", "-s", "hello:arm64")
        assert sim.returncode == 0, sim.stdout + sim.stderr
        assert "Inst hello:arm64 (1.0-1 debforge:bookworm [arm64])" in sim.stdout
        assert "Inst hello-doc (1.0-1 debforge:bookworm [all])" in sim.stdout
        download = apt("download", "hello", cwd=tmp_path)
        assert download.returncode == 0, download.stderr
    got = (tmp_path / "hello_1.0-1_amd64.deb").read_bytes()
    assert got == (root / "pool/main/h/hello/hello_1.0-1_amd64.deb").read_bytes()


def test_apt_refuses_a_tampered_index(signed_repo: tuple[Path, Path], tmp_path: Path) -> None:
    root, key = signed_repo
    index = root / "dists/bookworm/main/binary-amd64"
    sha = parse_release_hashes((root / "dists/bookworm/Release").read_text())[
        "main/binary-amd64/Packages.xz"
    ][1]
    for victim in (index / "Packages.xz", index / "by-hash/SHA256" / sha):
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.write_bytes(bytes(data))
    apt = Apt(tmp_path / "apt")
    with serve(root) as url:
        apt.sources(f"deb [signed-by={key}] {url} bookworm main")
        update = apt("update")
    print(update.stderr)  # shows apt refusing, for the test log
    assert update.returncode != 0
    assert "Hash Sum mismatch" in update.stderr or "File has unexpected size" in update.stderr, update.stderr


def test_apt_refuses_an_unsigned_repository(tmp_path: Path, gpg_key: tuple[Path, str]) -> None:
    home, fpr = gpg_key
    root = tmp_path / "repo"
    init_repo(root, dists=["bookworm"], arches=["amd64"])
    add_debs(root, [make_deb(tmp_path, "hello", "1.0-1", "amd64")])
    publish(root, unsigned=True)
    assert not (root / "dists/bookworm/InRelease").exists()
    key = tmp_path / "k.asc"
    key.write_text(export_key(root, KeyOptions(gpg_home=home, sign_key=fpr)))
    apt = Apt(tmp_path / "apt")
    with serve(root) as url:
        apt.sources(f"deb [signed-by={key}] {url} bookworm main")
        update = apt("update")
    print(update.stderr)
    assert update.returncode != 0
    assert "is not signed" in update.stderr, update.stderr


def test_reader_never_sees_a_mismatch_during_publishes(tmp_path: Path, gpg_key: tuple[Path, str]) -> None:
    """Poll InRelease and every index it lists by hash while 20 publishes change the repository."""
    home, fpr = gpg_key
    root = tmp_path / "repo"
    init_repo(root, dists=["bookworm"], arches=["arm64"], key=KeyOptions(sign_key=fpr))
    debs = [make_deb(tmp_path, "app", f"1.{i}", "arm64") for i in range(21)]
    add_debs(root, debs[:1])
    publish(root, key=KeyOptions(gpg_home=home))
    stop = threading.Event()
    stats = {"reads": 0, "checked": 0, "mismatches": 0, "gone": 0}
    errors: list[str] = []

    def reader(url: str) -> None:
        base = f"{url}/dists/bookworm"
        while not stop.is_set():
            inrelease = urllib.request.urlopen(f"{base}/InRelease").read().decode()  # noqa: S310 - local http
            stats["reads"] += 1
            for path, (size, sha) in parse_release_hashes(inrelease).items():
                hashed = f"{base}/{path.rsplit('/', 1)[0]}/by-hash/SHA256/{sha}"
                try:
                    data = urllib.request.urlopen(hashed).read()  # noqa: S310 - local http
                except urllib.error.HTTPError:
                    stats["gone"] += 1  # pruned after `keep_generations` newer publishes: never wrong
                    continue
                stats["checked"] += 1
                if (len(data), hashlib.sha256(data).hexdigest()) != (size, sha):
                    stats["mismatches"] += 1
                    errors.append(path)

    with serve(root) as url:
        thread = threading.Thread(target=reader, args=(url,))
        thread.start()
        for deb in debs[1:]:
            add_debs(root, [deb])
            publish(root, key=KeyOptions(gpg_home=home))
        stop.set()
        thread.join(timeout=30)
    assert stats["mismatches"] == 0, errors
    assert stats["reads"] >= 5 and stats["checked"] > 0, stats
    assert "Version: 1.20" in (root / "dists/bookworm/main/binary-arm64/Packages").read_text()


# A stand-in for `debforge repo …` used only while cli.py does not have the repo commands yet:
# the same options, calling the same functions. Once `debforge repo publish --help` works, the
# test below runs the real CLI instead.
_SHIM = """
import argparse, sys
from pathlib import Path
from debforge import repo
p = argparse.ArgumentParser()
sub = p.add_subparsers(dest="cmd", required=True)
r = sub.add_parser("repo").add_subparsers(dest="sub", required=True)
i = r.add_parser("init"); i.add_argument("--repo", type=Path); i.add_argument("--dist", action="append")
i.add_argument("--component", action="append"); i.add_argument("--arch")
i.add_argument("--origin"); i.add_argument("--label"); i.add_argument("--sign-key")
a = r.add_parser("add"); a.add_argument("--repo", type=Path); a.add_argument("--dist")
a.add_argument("debs", nargs="+")
for name in ("publish", "export-key"):
    x = r.add_parser(name); x.add_argument("--repo", type=Path)
x = r.add_parser("prune"); x.add_argument("--repo", type=Path); x.add_argument("--keep-versions", type=int)
o = p.parse_args()
if o.sub == "init":
    repo.init_repo(o.repo, dists=o.dist, components=o.component, arches=o.arch.split(","),
                   labels=repo.Labels(origin=o.origin, label=o.label),
                   key=repo.KeyOptions(sign_key=o.sign_key))
elif o.sub == "add":
    repo.add_debs(o.repo, [Path(d) for d in o.debs], dist=o.dist)
elif o.sub == "prune":
    repo.prune(o.repo, keep_versions=o.keep_versions)
elif o.sub == "publish":
    repo.publish(o.repo)
else:
    sys.stdout.write(repo.export_key(o.repo))
"""


def _debforge_command(tmp_path: Path) -> str:
    """The real CLI when it has the repo commands, else the stand-in above."""
    import sys

    real = subprocess.run(
        [sys.executable, "-m", "debforge", "repo", "publish", "--help"], capture_output=True, check=False
    )
    if real.returncode == 0:
        return f"{sys.executable} -m debforge"
    shim = tmp_path / "debforge_shim.py"
    shim.write_text(_SHIM)
    return f"{sys.executable} {shim}"


def test_ci_publish_script_with_prebuilt_debs(tmp_path: Path, gpg_key: tuple[Path, str]) -> None:
    """scripts/ci-publish.sh (the docs/ci.md recipe) with prebuilt debs: init, add, prune, publish, key."""
    home, fpr = gpg_key
    script = Path(__file__).resolve().parent.parent / "scripts" / "ci-publish.sh"
    debs = tmp_path / "debs"
    debs.mkdir()
    for version in ("1.0", "1.1", "1.2"):
        make_deb(debs, "hello", version, "arm64")
    repo = tmp_path / "site"
    env = {
        **os.environ,
        "DEBFORGE_REPO": str(repo),
        "DIST": "bookworm",
        "ARCH": "arm64",
        "REPO_ARCHES": "arm64,amd64",
        "DEBFORGE_PREBUILT_DEBS": str(debs),
        "KEEP_VERSIONS": "2",
        "DEBFORGE_SIGN_KEY": fpr,
        "GNUPGHOME": str(home),
        "DEBFORGE": _debforge_command(tmp_path),
        "PYTHONPATH": str(script.parent.parent),
    }
    done = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "test-installing" not in done.stderr  # prebuilt debs skip the package and test-install steps
    key = tmp_path / "archive-key.asc"
    key.write_bytes((repo / "archive-key.asc").read_bytes())
    apt = Apt(tmp_path / "apt", arch="arm64", extra_arch="amd64")
    with serve(repo) as url:
        apt.sources(f"deb [signed-by={key}] {url} bookworm main")
        update = apt("update")
        assert update.returncode == 0 and "W:" not in update.stderr, update.stderr
        policy = apt("install", "-s", "hello")
    assert "Inst hello (1.2 debforge:bookworm [arm64])" in policy.stdout, policy.stdout
    assert not (repo / "pool/main/h/hello/hello_1.0_arm64.deb").exists()  # pruned: keep 2 versions
