"""Cache: content keys, atomic writes, single fill under concurrency, nothing partial after a crash."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from debforge.cache import Cache, atomic_output, atomic_write_bytes, default_cache_dir, key
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
