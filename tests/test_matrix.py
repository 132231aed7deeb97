"""The build matrix: pairs, bounded concurrency, isolated failures, the summary and --json.

A fake stage stands in for `package` here (scheduling only); tests/e2e/test_matrix_e2e.py runs the
real pipeline for a small representative matrix.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import typer

from debforge.cli.matrix import pair_debs, pair_out, render_matrix
from debforge.errors import BuildError, TargetError, UsageError
from debforge.pipeline.matrix import Made, Pair, matrix_pairs, run_matrix, split_list
from tests.helpers.cli import run_debforge

PAIRS = matrix_pairs(("bookworm", "trixie"), ("arm64", "armhf", "amd64"))


def test_pairs_are_dist_major_and_every_pair_is_checked_first() -> None:
    assert [p.name for p in PAIRS] == ["bookworm-arm64", "bookworm-armhf", "bookworm-amd64",
                                       "trixie-arm64", "trixie-armhf", "trixie-amd64"]  # fmt: skip
    with pytest.raises(TargetError) as caught:
        matrix_pairs(("bookworm", "trixie"), ("riscv64",))
    assert "bookworm has no architecture 'riscv64'" in str(caught.value)
    assert caught.value.hint == "riscv64 is in trixie, forky, sid"


def test_explicit_pairs_stand_alone_beside_crossed_dists() -> None:
    pairs = matrix_pairs(("bullseye/arm64", "trixie", "bookworm/s390x", "trixie/armhf"), ("armhf", "riscv64"))
    assert [p.name for p in pairs] == ["bullseye-arm64", "trixie-armhf", "trixie-riscv64", "bookworm-s390x"]
    with pytest.raises(TargetError, match="bullseye has no architecture 'riscv64'"):
        matrix_pairs(("bullseye/riscv64",), ("arm64",))


def test_cli_a_lone_dist_slash_arch_is_one_pair_not_a_matrix(tmp_path: Path) -> None:
    done = run_debforge("show", "hello", "--dist", "bullseye/riscv64", "--offline", cache=tmp_path / "c")
    assert done.returncode == 1 and "error: bullseye has no architecture 'riscv64'" in done.stderr
    done = run_debforge("show", "hello", "--dist", "trixie/riscv64", "--offline", cache=tmp_path / "c")
    assert done.returncode == 1 and "trixie InRelease" in done.stderr and "--offline" in done.stderr


def test_lists_split_on_commas_and_drop_repeats() -> None:
    assert split_list(" trixie,bookworm ,trixie", "--dist") == ("trixie", "bookworm")
    with pytest.raises(UsageError, match="--arch names no value"):
        split_list(" , ", "--arch")


def test_concurrency_is_bounded_by_jobs_and_order_is_kept() -> None:
    running, peak, lock = 0, 0, threading.Lock()

    def stage(pair: Pair) -> Made:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05 if pair.arch == "arm64" else 0.01)  # finish out of order
        with lock:
            running -= 1
        return Made(path=Path(pair.name) / "x.deb")

    result = run_matrix(PAIRS, stage, jobs=2)
    assert peak == 2
    assert [r.pair for r in result.results] == list(PAIRS)
    assert result.ok and all(r.made and r.made.path == Path(r.pair.name) / "x.deb" for r in result.results)
    assert run_matrix(PAIRS[:3], stage, jobs=1).ok and peak == 2


def test_a_failing_pair_never_stops_the_others() -> None:
    def stage(pair: Pair) -> Made:
        if pair.arch == "armhf":
            raise BuildError(f"cargo failed for {pair.name}", hint="see the build log")
        if pair.name == "trixie-amd64":
            raise KeyError("bug")
        return Made(path=Path(f"{pair.name}.deb"), doc={"name": "hello"})

    result = run_matrix(PAIRS, stage, jobs=3)
    assert not result.ok
    assert [r.pair.name for r in result.failures] == ["bookworm-armhf", "trixie-armhf", "trixie-amd64"]
    assert result.failures[0].error == "cargo failed for bookworm-armhf"
    assert result.failures[0].hint == "see the build log"
    assert result.failures[2].error.startswith("internal error: KeyError")
    doc = result.to_json()
    assert doc["ok"] is False and len(doc["pairs"]) == 6  # type: ignore[arg-type]
    first = doc["pairs"][0]  # type: ignore[index]
    assert first == {"dist": "bookworm", "arch": "arm64", "ok": True, "seconds": 0.0,
                     "deb": "bookworm-arm64.deb", "result": {"name": "hello"}}  # fmt: skip


def test_jobs_below_one_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--jobs must be at least 1, not 0"):
        run_matrix(PAIRS, lambda p: Made(path=None), jobs=0)


def test_summary_table_then_failures_in_full_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    def stage(pair: Pair) -> Made:
        if pair.name == "trixie-armhf":
            raise BuildError("the linker refused libssl.so.3", hint="install libssl-dev for armhf")
        return Made(path=Path("dist") / pair.name / "hello_1.0_arm64.deb")

    result = run_matrix(PAIRS, stage, jobs=2)
    with pytest.raises(typer.Exit) as exited:
        render_matrix(result, json_out=False)
    assert exited.value.exit_code == 1
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "-arm" in line or "-amd64" in line]
    assert len([r for r in rows if " ok " in r]) == 5 and len([r for r in rows if "FAIL" in r]) == 1
    assert "dist/bookworm-arm64/hello_1.0_arm64.deb" in out
    tail = out[out.index("trixie-armhf failed:") :]
    assert "the linker refused libssl.so.3" in tail and "hint: install libssl-dev for armhf" in tail


def test_json_lists_every_pair(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_matrix(PAIRS[:2], lambda p: Made(path=Path(p.name)), jobs=2)
    render_matrix(result, json_out=True)  # all ok: no exit
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and [p["arch"] for p in doc["pairs"]] == ["arm64", "armhf"]


def test_outputs_of_pairs_never_collide(tmp_path: Path) -> None:
    outs = {pair_out(tmp_path, p) for p in PAIRS}
    assert len(outs) == len(PAIRS) and pair_out(tmp_path, PAIRS[0]) == tmp_path / "bookworm-arm64"


def test_test_install_takes_each_pairs_debs_from_a_matrix_directory(tmp_path: Path) -> None:
    (tmp_path / "bookworm-arm64").mkdir()
    deb = tmp_path / "bookworm-arm64" / "hello_1.0_arm64.deb"
    deb.write_bytes(b"!<arch>\n")
    shared = tmp_path / "data_1.0_all.deb"
    assert pair_debs([tmp_path, shared], PAIRS[0]) == [deb, shared]
    with pytest.raises(UsageError, match=r"trixie-arm64 holds no \.deb for trixie/arm64"):
        pair_debs([tmp_path], PAIRS[3])


def test_cli_matrix_refuses_a_missing_arch_before_any_work(tmp_path: Path) -> None:
    done = run_debforge("package", str(tmp_path), "--dist", "bullseye,trixie", "--arch", "riscv64,arm64",
                        "--offline", cache=tmp_path / "cache")  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert "error: bullseye has no architecture 'riscv64'" in done.stderr
    assert "hint: riscv64 is in trixie, forky, sid" in done.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("index-*"))


def test_cli_matrix_from_environment_lists(tmp_path: Path) -> None:
    env = {"DEBFORGE_DIST": "bookworm,sid", "DEBFORGE_ARCH": "armel"}
    done = run_debforge("package", str(tmp_path), "--offline", cache=tmp_path / "cache", env=env)
    assert done.returncode == 1
    assert (
        "error: sid has no architecture 'armel'" in done.stderr
        and "armel is in bookworm, trixie" in done.stderr
    )
