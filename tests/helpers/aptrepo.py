"""A real, signed, local apt repository for tests, served on 127.0.0.1 with injectable faults.

    key = make_key(tmp_path / "gpg")                      # throwaway OpenPGP key (close() it)
    repo = build_repo(tmp_path / "repo", [{"Package": "hello", "Version": "1.0"}], key=key)
    with serve(repo.root, faults=[Fault("Packages.xz", "500")]) as server:
        target = repo.target(server.url)                    # make_target(...) pointing at it
        index = fetch_index(Session(cache=cache), target)

The tree mirrors deb.debian.org: `<root>/debian/dists/<dist>{,-updates}` and
`<root>/debian-security/dists/<dist>-security`, with pool/, Packages{,.xz,.gz}, Contents-<arch>.gz,
by-hash copies, Release, InRelease and Release.gpg. The .debs are built by `dpkg-deb --build`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import http.server
import lzma
import os
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from debforge.dists import Target, make_target
from debforge.run import run

FaultKind = Literal["reset", "500", "truncate", "corrupt", "badsig", "unsigned", "404", "stale", "short"]
RFC1123 = "%a, %d %b %Y %H:%M:%S UTC"


@dataclass
class GpgKey:
    """A throwaway signing key: its GNUPGHOME, fingerprint and exported public keyring (for gpgv)."""

    home: Path
    fingerprint: str
    keyring: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "GNUPGHOME": str(self.home)}

    def close(self) -> None:
        """Stop the gpg-agent this key's GNUPGHOME started and remove the home."""
        run(["gpgconf", "--kill", "gpg-agent"], env=self.env(), check=False)
        shutil.rmtree(self.home, ignore_errors=True)


def make_key(keyring_dir: Path) -> GpgKey:
    """Generate an ed25519 signing key without passphrase; its public keyring goes to keyring_dir."""
    # gpg-agent's socket path must stay short (sun_path is 108 bytes): use a short /tmp home.
    home = Path(tempfile.mkdtemp(prefix="dfgpg-", dir="/tmp"))
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    uid = "debforge test archive <archive@debforge.invalid>"
    run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"], env=env)
    listing = run(["gpg", "--batch", "--with-colons", "--list-keys", uid], env=env).text
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    keyring_dir.mkdir(parents=True, exist_ok=True)
    keyring = keyring_dir / "archive-keyring.gpg"
    keyring.write_bytes(run(["gpg", "--batch", "--export", fingerprint], env=env).stdout)
    return GpgKey(home=home, fingerprint=fingerprint, keyring=keyring)


@dataclass(frozen=True)
class Repo:
    """A built repository: where it is and how to point a Target at it."""

    root: Path
    dist: str
    arch: str
    key: GpgKey
    debs: Mapping[str, Path]  # "name_version_arch" → .deb in the pool

    def target(self, url: str) -> Target:
        """The debforge Target for this repository served at `url`."""
        return make_target(
            self.dist, self.arch, mirror=f"{url}/debian", security_mirror=f"{url}/debian-security",
            keyring=self.key.keyring,
        )  # fmt: skip

    def dists(self, suite: str) -> Path:
        """`dists/<suite>` of the archive that carries `suite`."""
        archive = "debian-security" if suite.endswith("-security") else "debian"
        return self.root / archive / "dists" / suite


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_deb(workdir: Path, fields: Mapping[str, str], files: Mapping[str, bytes]) -> Path:
    """A real .deb (dpkg-deb --build) with `fields` as control file and `files` as data."""
    name = f"{fields['Package']}_{fields['Version'].split(':')[-1]}_{fields['Architecture']}"
    tree = workdir / name
    (tree / "DEBIAN").mkdir(parents=True)
    control = {
        "Maintainer": "debforge tests <tests@debforge.invalid>",
        "Description": "test package",
        **fields,
    }
    (tree / "DEBIAN" / "control").write_text("".join(f"{k}: {v}\n" for k, v in control.items()))
    for path, data in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_bytes(data)
    out = workdir / f"{name}.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, out])
    shutil.rmtree(tree)
    return out


def _control_fields(package: Mapping[str, Any], arch: str) -> dict[str, str]:
    fields = {"Package": package["Package"], "Version": package.get("Version", "1.0"), "Architecture": arch}
    fields |= {k: str(v) for k, v in package.items() if k[0].isupper() and k not in fields}
    fields["Architecture"] = str(package.get("Architecture", arch))
    return fields


def build_repo(
    root: Path,
    packages: Sequence[Mapping[str, Any]],
    *,
    key: GpgKey,
    dist: str = "bookworm",
    arch: str = "arm64",
    suites: Sequence[str] | None = None,
    valid_until: dt.datetime | None = None,
    by_hash: bool = True,
) -> Repo:
    """Build a signed repository of `packages` (control fields, plus optional "suite" and "files")."""
    suites = list(suites or (dist, f"{dist}-updates", f"{dist}-security"))
    work = root / ".work"
    work.mkdir(parents=True, exist_ok=True)
    stanzas: dict[str, list[str]] = {s: [] for s in suites}
    contents: dict[str, list[str]] = {s: [] for s in suites}
    debs: dict[str, Path] = {}
    repo = Repo(root=root, dist=dist, arch=arch, key=key, debs=debs)
    for package in packages:
        suite = package.get("suite", suites[0])
        fields = _control_fields(package, arch)
        files: Mapping[str, bytes] = package.get("files", {})
        deb = build_deb(work, fields, files)
        archive_root = repo.dists(suite).parent.parent
        pool = Path("pool/main") / fields["Package"][0] / fields["Package"] / deb.name
        (archive_root / pool).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(deb, archive_root / pool)
        data = (archive_root / pool).read_bytes()
        debs[deb.stem] = archive_root / pool
        extra = {"Filename": str(pool), "Size": str(len(data)), "SHA256": _sha256(data)}
        stanzas[suite].append("".join(f"{k}: {v}\n" for k, v in (fields | extra).items()))
        contents[suite] += [f"{path}\t\t\tmisc/{fields['Package']}\n" for path in files]
    shutil.rmtree(work)
    for suite in suites:
        _write_suite(repo, suite, "\n".join(stanzas[suite]), "".join(sorted(contents[suite])),
                     valid_until=valid_until, by_hash=by_hash)  # fmt: skip
    return repo


def _write_suite(
    repo: Repo, suite: str, packages: str, contents: str, *, valid_until: dt.datetime | None, by_hash: bool
) -> None:
    dists = repo.dists(suite)
    binary = dists / "main" / f"binary-{repo.arch}"
    binary.mkdir(parents=True, exist_ok=True)
    raw = packages.encode()
    files = {
        f"main/binary-{repo.arch}/Packages": raw,
        f"main/binary-{repo.arch}/Packages.xz": lzma.compress(raw),
        f"main/binary-{repo.arch}/Packages.gz": gzip.compress(raw, mtime=0),
        f"main/Contents-{repo.arch}.gz": gzip.compress(contents.encode(), mtime=0),
    }
    for rel, data in files.items():
        (dists / rel).write_bytes(data)
        if by_hash:
            hashed = (dists / rel).parent / "by-hash" / "SHA256" / _sha256(data)
            hashed.parent.mkdir(parents=True, exist_ok=True)
            hashed.write_bytes(data)
    now = dt.datetime.now(dt.UTC)
    head = {
        "Origin": "debforge-tests", "Label": "debforge-tests", "Suite": suite, "Codename": suite,
        "Date": now.strftime(RFC1123),
        **({"Valid-Until": valid_until.strftime(RFC1123)} if valid_until else {}),
        "Acquire-By-Hash": "yes" if by_hash else "no",
        "Architectures": repo.arch, "Components": "main", "Description": f"test {suite}",
    }  # fmt: skip
    sums = "".join(f" {_sha256(d)} {len(d):>8} {rel}\n" for rel, d in sorted(files.items()))
    release = "".join(f"{k}: {v}\n" for k, v in head.items()) + "SHA256:\n" + sums
    (dists / "Release").write_text(release)
    sign = ["gpg", "--batch", "--yes", "--local-user", repo.key.fingerprint, "--digest-algo", "SHA256"]
    run([*sign, "--clearsign", "--output", dists / "InRelease", dists / "Release"], env=repo.key.env())
    run([*sign, "--detach-sign", "--armor", "--output", dists / "Release.gpg", dists / "Release"],
        env=repo.key.env())  # fmt: skip


@dataclass
class Fault:
    """Misbehave on the next `times` requests whose path ends with `path` (times < 0: always).

    "stale" serves `body` in full instead of the file: another generation of it, as a mirror
    does in the middle of an update. "truncate" sends half the body, then a TCP reset; "short"
    sends half the body under the full Content-Length, then closes cleanly.
    """

    path: str
    kind: FaultKind
    times: int = 1
    body: bytes = b""


@dataclass
class Server:
    """A running local HTTP server: its base URL, the requests it saw, the faults still pending."""

    url: str
    faults: list[Fault]
    requests: list[tuple[str, int]] = field(default_factory=list)  # (path, status sent)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times != 0 and path.endswith(fault.path):
                    fault.times -= 1
                    return fault
        return None

    def log(self, path: str, status: int) -> None:
        with self.lock:
            self.requests.append((path, status))

    def paths(self) -> list[str]:
        """Paths requested so far, in order."""
        with self.lock:
            return [p for p, _ in self.requests]


def _tamper(data: bytes) -> bytes:
    """Change one character inside the signed text of a clearsigned file: the signature breaks."""
    at = data.index(b"Label: ") + len(b"Label: ")
    return data[:at] + b"X" + data[at + 1 :]


def _unsign(data: bytes) -> bytes:
    """The Release text alone, without the OpenPGP armour."""
    body = data.split(b"\n\n", 1)[1]
    return body.split(b"-----BEGIN PGP SIGNATURE-----")[0]


class _Handler(http.server.SimpleHTTPRequestHandler):
    server_state: Server

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def send_response(self, code: int, message: str | None = None) -> None:
        self.server_state.log(self.path, code)
        super().send_response(code, message)

    def _reset(self) -> None:
        # SO_LINGER 0 makes close() send a TCP RST: the client sees "connection reset by peer".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    def do_GET(self) -> None:
        fault = self.server_state.take_fault(self.path)
        if fault is None:
            return super().do_GET()
        if fault.kind == "reset":
            self.server_state.log(self.path, 0)
            return self._reset()
        if fault.kind in ("500", "404"):
            return self.send_error(int(fault.kind))
        data = fault.body if fault.kind == "stale" else Path(self.translate_path(self.path)).read_bytes()
        if fault.kind == "corrupt":
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        elif fault.kind == "badsig":
            data = _tamper(data)
        elif fault.kind == "unsigned":
            data = _unsign(data)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if fault.kind in ("truncate", "short"):
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return self._reset() if fault.kind == "truncate" else None
        self.wfile.write(data)
        return None


@contextlib.contextmanager
def serve_http(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Run `handler` on 127.0.0.1 (random port) in a background thread; yield its base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@contextlib.contextmanager
def serve(root: Path, faults: Sequence[Fault] = ()) -> Iterator[Server]:
    """Serve `root` over HTTP on 127.0.0.1 (random port) in a background thread."""
    state = Server(url="", faults=list(faults))
    handler = type("Handler", (_Handler,), {"server_state": state})
    with serve_http(lambda *a: handler(*a, directory=str(root))) as url:
        state.url = url
        yield state
