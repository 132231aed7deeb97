"""A second, independent Docker engine for the remote-engine tests, started and stopped by them.

It must not see this machine's files, and its containers must still reach the Debian mirror:
- its own network namespace (a veth pair, NAT'ed through the host), so its bridge is its own. A
  second dockerd with `--bridge=none` in the host's namespace deletes the first engine's docker0.
- its own mount namespace with a private tmpfs over /work, /tmp, /root, /home, the checkout and the
  test cache, so a bind mount of a host path would find nothing there; and over /run/containerd and
  /run/docker, so it starts its own containerd instead of sharing the host engine's.
- its own --data-root, --exec-root and --pidfile; its API on a Unix socket under /run, which both
  namespaces see. Nothing of the main engine (/var/run/docker.sock) is touched.

The data root is kept between test sessions (its images are reused by content tag, as on the main
engine); a second session running at the same time gets a throwaway one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STATE = Path("/var/lib/debforge-e2e-engine")
_HIDDEN = ("/work", "/tmp", "/root", "/home", "/run/containerd", "/run/docker", "/var/lib/docker")


@dataclass(frozen=True, slots=True, kw_only=True)
class SecondEngine:
    """The running engine: its API URL and what it hides."""

    url: str  # unix:///run/debforge-e2e-<pid>/docker.sock
    hidden: tuple[str, ...]
    log: Path


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=60)


@contextlib.contextmanager
def second_engine(extra_hidden: tuple[Path, ...]) -> Iterator[SecondEngine]:
    """Start the engine, yield it once it answers, stop it and remove its network on the way out."""
    tag = f"dfe{os.getpid() % 100000}"
    net = f"10.213.{os.getpid() % 250}"
    run_dir = Path(f"/run/debforge-e2e-{tag}")
    run_dir.mkdir(parents=True, exist_ok=True)
    with _data_root(tag) as data_root, _network(tag, net):
        hidden = tuple(dict.fromkeys([*_HIDDEN, *(str(p) for p in extra_hidden), tempfile.gettempdir()]))
        log = run_dir / "dockerd.log"
        proc = _start(
            tag,
            hidden=hidden,
            data_root=data_root,
            run_dir=run_dir,
            bip=f"10.214.{os.getpid() % 250}.1/24",
            log=log,
        )
        try:
            url = f"unix://{run_dir}/docker.sock"
            _wait_until_up(url, proc, log)
            yield SecondEngine(url=url, hidden=hidden, log=log)
        finally:
            _stop(proc, run_dir / "docker.pid")
            shutil.rmtree(run_dir, ignore_errors=True)


def _stop(proc: subprocess.Popen[bytes], pidfile: Path) -> None:
    """SIGTERM to dockerd itself (it stops its containers and its containerd), then wait for it: the
    unshare above it does not pass signals on, and a dockerd left behind would hold the data root."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(pidfile.read_text())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()  # unshare --kill-child then kills dockerd
        proc.wait()


def _start(
    tag: str, *, hidden: tuple[str, ...], data_root: Path, run_dir: Path, bip: str, log: Path
) -> subprocess.Popen[bytes]:
    # sysfs is remounted for the new network namespace (dockerd reads its interfaces there) with the
    # host's cgroup hierarchy moved back on top; then the tmpfs layers hide the host's files.
    script = "\n".join([
        "set -e", "mount --make-rprivate /",
        f"mkdir -p {run_dir}/cg && mount --rbind /sys/fs/cgroup {run_dir}/cg",
        f"mount -t sysfs sysfs /sys && mount --move {run_dir}/cg /sys/fs/cgroup",
        *(f"if [ -d {shlex.quote(d)} ]; then mount -t tmpfs tmpfs {shlex.quote(d)}; fi" for d in hidden),
        shlex.join([
            "dockerd", "--data-root", str(data_root), "--exec-root", f"{run_dir}/exec",
            "--pidfile", f"{run_dir}/docker.pid", "-H", f"unix://{run_dir}/docker.sock", "--bip", bip,
        ]).replace("dockerd", "exec dockerd", 1),
    ])  # fmt: skip
    with log.open("wb") as out:
        namespaces = ["nsenter", f"--net=/run/netns/{tag}", "unshare", "--mount", "--fork", "--kill-child"]
        return subprocess.Popen(
            [*namespaces, "sh", "-c", script], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the second dockerd exited: {log.read_text()[-2000:]}")
        if _sh("docker", "--host", url, "version", check=False).returncode == 0:
            return
        time.sleep(0.3)
    raise RuntimeError(f"the second dockerd did not answer within 60 s: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def _network(tag: str, net: str) -> Iterator[None]:
    """A network namespace with a veth pair to the host and NAT, so containers reach the mirror."""
    host, inner = f"{tag}h", f"{tag}c"
    rules = [
        ("nat", "POSTROUTING", ["-s", f"{net}.0/30", "!", "-o", host, "-j", "MASQUERADE"]),
        ("filter", "FORWARD", ["-i", host, "-j", "ACCEPT"]),  # before docker's own FORWARD rules
        ("filter", "FORWARD", ["-o", host, "-j", "ACCEPT"]),
    ]
    _sh("ip", "netns", "add", tag)
    try:
        _sh("ip", "link", "add", host, "type", "veth", "peer", "name", inner)
        _sh("ip", "link", "set", inner, "netns", tag)
        _sh("ip", "addr", "add", f"{net}.1/30", "dev", host)
        _sh("ip", "link", "set", host, "up")
        for argv in (
            ["ip", "addr", "add", f"{net}.2/30", "dev", inner], ["ip", "link", "set", inner, "up"],
            ["ip", "link", "set", "lo", "up"], ["ip", "route", "add", "default", "via", f"{net}.1"],
        ):  # fmt: skip
            _sh("ip", "netns", "exec", tag, *argv)
        for table, chain, rule in rules:
            _sh("iptables", "-t", table, "-I", chain, *rule)
        yield
    finally:
        for table, chain, rule in rules:
            _sh("iptables", "-t", table, "-D", chain, *rule, check=False)
        _sh("ip", "link", "del", host, check=False)
        _sh("ip", "netns", "del", tag, check=False)


@contextlib.contextmanager
def _data_root(tag: str) -> Iterator[Path]:
    """The kept data root when no other session holds it, else a throwaway one."""
    STATE.parent.mkdir(parents=True, exist_ok=True)
    with Path(f"{STATE}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            own = STATE.with_name(f"{STATE.name}-{tag}")
            try:
                yield own
            finally:
                shutil.rmtree(own, ignore_errors=True)
            return
        yield STATE
