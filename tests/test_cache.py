"""Cache: content keys, atomic writes, single fill under concurrency, nothing partial after a crash."""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from debforge.cache import (
    Cache,
    atomic_output,
    atomic_write_bytes,
    current_umask,
    default_cache_dir,
    key,
    public_mode,
)
from debforge.errors import CacheError


def test_key_is_canonical() -> None:
    assert key({"a": 1, "b": [1, 2]}) == key({"b": [1, 2], "a": 1})
    assert key({"a": 1}) != key({"a": 2})
    assert len(key("x")) == 64


def test_default_cache_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEBFORGE_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("DEBFORGE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "debforge"


def test_atomic_write_leaves_no_partial_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CacheError, match="cannot use cache directory"):
        Cache(blocker / "cache").ensure()


def _fill_slowly(root: str, marker: str) -> None:
    cache = Cache(Path(root)).ensure()

    def fill(path: Path) -> None:
        with Path(marker).open("a") as fh:
            fh.write("x")
        time.sleep(0.3)
        (path / "done").write_text("ok")

    cache.build_tree("k" * 64, fill)


def test_concurrent_fill_runs_once(tmp_path: Path) -> None:
    marker = tmp_path / "fills"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_fill_slowly, args=(str(tmp_path / "c"), str(marker))) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    assert marker.read_text() == "x"
    assert (tmp_path / "c" / "trees" / ("k" * 64) / "done").read_text() == "ok"


def _fill_forever(root: str) -> None:
    cache = Cache(Path(root)).ensure()

    def fill(path: Path) -> None:
        (path / "partial").write_text("...")
        time.sleep(60)

    cache.build_tree("k" * 64, fill)


def test_kill_9_mid_fill_leaves_no_entry_and_lock_is_released(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_fill_forever, args=(str(tmp_path / "c"),))
    proc.start()
    deadline = time.monotonic() + 10
    while not list((tmp_path / "c" / "tmp").glob("*/partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    cache = Cache(tmp_path / "c")
    assert not cache.tree("k" * 64).exists()
    # The kernel dropped the dead process's lock: a new fill goes through at once.
    path = cache.build_tree("k" * 64, lambda p: (p / "done").write_text("ok") and None)
    assert (path / "done").read_text() == "ok"


# ---------------------------------------------------------------- file modes follow the umask


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_current_umask_reads_without_changing_it(umask_022: None) -> None:
    assert current_umask() == 0o022
    os.umask(0o027)
    assert current_umask() == 0o027
    assert os.umask(0o022) == 0o027  # reading it left it as it was


def test_atomic_outputs_are_world_readable_under_umask_022(tmp_path: Path, umask_022: None) -> None:
    # mkstemp's 0600 made published repositories unreadable to a web server running as www-data.
    atomic_write_bytes(tmp_path / "Packages", b"x")
    with atomic_output(tmp_path / "tool") as tmp:
        tmp.write_bytes(b"#!/bin/sh\n")
        tmp.chmod(0o755)  # a caller may still give its file the x bits
    atomic_write_bytes(tmp_path / "exact", b"x", mode=0o640)
    atomic_write_bytes(tmp_path / "secret", b"x", private=True)
    atomic_write_bytes(tmp_path / "sub" / "dir" / "f", b"x")
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    assert modes == {
        "Packages": 0o644, "tool": 0o755, "exact": 0o640, "secret": 0o600,
        "sub": 0o755, "sub/dir": 0o755, "sub/dir/f": 0o644,
    }  # fmt: skip
    assert public_mode() == 0o644 and public_mode(executable=True) == 0o755


def test_atomic_outputs_honour_a_stricter_umask(tmp_path: Path, umask_022: None) -> None:
    os.umask(0o027)
    atomic_write_bytes(tmp_path / "f", b"x")
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o640


# ---------------------------------------------------------------- who holds the lock


_HOLDER = """
import sys
from pathlib import Path
from debforge.cache import Cache
with Cache(Path(sys.argv[1])).ensure().lock("archive"):
    print("locked", flush=True)
    sys.stdin.read()  # hold it until the test closes stdin
"""

_WAITER = """
import sys
from pathlib import Path
from debforge.cache import Cache
from debforge.report import RichReporter
with Cache(Path(sys.argv[1])).ensure().lock("archive", on_wait=RichReporter().warning):
    print("got it", flush=True)
"""


def test_a_waiting_job_names_the_lock_holder_once(tmp_path: Path) -> None:
    (tmp_path / "holder.py").write_text(_HOLDER)
    (tmp_path / "waiter.py").write_text(_WAITER)
    out = subprocess.PIPE
    with subprocess.Popen(
        [sys.executable, "holder.py", "c", "--marker-arg"], cwd=tmp_path, stdin=out, stdout=out, text=True
    ) as holder:
        assert holder.stdin is not None and holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        with subprocess.Popen(
            [sys.executable, "waiter.py", "c"], cwd=tmp_path, stdout=out, stderr=out, text=True
        ) as waiter:
            assert waiter.stderr is not None
            # The message comes before the waiter blocks: reading it needs no sleep.
            first = waiter.stderr.readline()
            assert waiter.poll() is None  # still blocked behind the holder
            holder.stdin.close()
            got, rest = waiter.communicate(timeout=30)
    assert waiter.returncode == 0 and got == "got it\n", rest
    command = f"{sys.executable} holder.py c --marker-arg"
    assert first == f"warning: waiting for the cache lock held by PID {holder.pid} ({command})\n"
    assert "waiting" not in rest  # said once


def test_a_lock_held_by_another_thread_of_the_run_is_waited_for_silently(tmp_path: Path) -> None:
    """The images built beside the build share the run's locks: waiting on one's own thread is no news."""
    cache = Cache(tmp_path / "c").ensure()
    heard: list[str] = []
    order: list[str] = []
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with cache.lock("archive"):
            held.set()
            release.wait(10)
            order.append("holder")

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    threading.Timer(0.2, release.set).start()
    with cache.lock("archive", on_wait=heard.append):
        order.append("waiter")
    holder.join()
    assert order == ["holder", "waiter"]  # it did wait
    assert heard == []


def test_an_uncontended_lock_says_nothing(tmp_path: Path) -> None:
    heard: list[str] = []
    cache = Cache(tmp_path / "c").ensure()
    with cache.lock("archive", on_wait=heard.append):
        pass
    with cache.lock("archive", on_wait=heard.append):
        pass
    assert heard == []
    assert (tmp_path / "c" / "locks" / "archive.lock").read_text().startswith(f"{os.getpid()} ")
