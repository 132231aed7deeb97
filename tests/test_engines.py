"""Engines chosen the Docker way (engines.py), the runner's transport choice, and a matrix's lanes."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from debforge.container.transport import Mount, _owner
from debforge.engines import Endpoint, connect, describe, parse_engines
from debforge.errors import ContainerError, UsageError
from debforge.pipeline.matrix import Made, Pair, run_matrix


def test_engine_words_map_arches_to_endpoints() -> None:
    engines = parse_engines(["arm64=ssh://pi@board armhf=tcp://10.0.0.2:2376", "riscv64=visionfive"])
    assert engines.for_arch("arm64") == Endpoint(name="ssh://pi@board")
    assert engines.for_arch("riscv64").name == "visionfive" and not engines.for_arch("riscv64").is_url
    assert engines.for_arch("amd64") == Endpoint()  # not named: the Docker CLI's own choice
    assert [e.name for e in engines.endpoints()] == [
        "default",
        "ssh://pi@board",
        "tcp://10.0.0.2:2376",
        "visionfive",
    ]


@pytest.mark.parametrize(
    ("word", "sentence"),
    [
        ("arm64", "--engine takes ARCH=ENDPOINT"),
        ("arm64=", "--engine takes ARCH=ENDPOINT"),
        ("aarch64=ssh://x", "'aarch64' is not an architecture debforge knows"),
        ("arm64=a,arm64=b", "--engine names two engines for arm64: a and b"),
    ],
)
def test_bad_engine_words_are_usage_errors(word: str, sentence: str) -> None:
    with pytest.raises(UsageError, match=sentence):
        parse_engines([word])


def test_the_cli_refuses_a_bad_engine_with_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "debforge", "show", "bash", "--engine", "arm64"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "error: --engine takes ARCH=ENDPOINT (a Docker context or URL), not 'arm64'" in done.stderr


def test_an_engine_that_does_not_answer_is_named(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/none.sock"
    with pytest.raises(ContainerError, match=f"cannot talk to the Docker engine {url}: "):
        connect(Endpoint(name=url))


def _docker_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / ".docker"))
    (tmp_path / ".docker").mkdir()
    # docker-py keeps contexts beside config.json, or in ./contexts when there is none.
    (tmp_path / ".docker/config.json").write_text("{}")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)


def test_contexts_are_followed_by_name_and_as_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docker.context import ContextAPI

    _docker_home(tmp_path, monkeypatch)
    # No engine there: the error names what was resolved (docker-py stores it as http+unix://).
    ContextAPI.create_context("board", host=f"unix://{tmp_path}/board.sock")
    with pytest.raises(
        ContainerError, match=r"cannot talk to the Docker engine \S+/board.sock \(context board\): "
    ):
        connect(Endpoint(name="board"))
    monkeypatch.setenv("DOCKER_CONTEXT", "board")  # the default engine follows DOCKER_CONTEXT (docker-py 7.2)
    assert describe(Endpoint()).endswith("/board.sock (context board)")
    with pytest.raises(
        ContainerError, match=r"cannot talk to the Docker engine \S+/board.sock \(context board\)"
    ):
        connect(Endpoint())
    monkeypatch.setenv("DOCKER_HOST", "unix:///elsewhere.sock")  # DOCKER_HOST wins, as for the docker CLI
    assert describe(Endpoint()) == "unix:///elsewhere.sock"


def test_a_missing_context_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _docker_home(tmp_path, monkeypatch)
    with pytest.raises(ContainerError, match="there is no Docker context named 'nowhere'"):
        connect(Endpoint(name="nowhere"))


def test_what_the_copy_transport_brings_back() -> None:
    src = Path("/x")
    assert Mount(source=src, dest="/out").returns  # writable: comes back
    assert not Mount(source=src, dest="/in", read_only=True).returns
    assert not Mount(source=src, dest="/target", volume="v").returns  # lives on in its volume
    assert not Mount(source=src, dest="/src", copy_back=False).returns  # the project: in, never back
    assert (_owner("1000:100"), _owner("7"), _owner(""), _owner("builder")) == (
        (1000, 100),
        (7, 7),
        (0, 0),
        (0, 0),
    )


def test_pairs_on_two_engines_run_at_once_even_with_one_job() -> None:
    both = threading.Barrier(2, timeout=10)  # broken (an error) unless both pairs run at the same time

    def stage(pair: Pair) -> Made:
        both.wait()
        return Made(path=None)

    pairs = (Pair(dist="bookworm", arch="amd64"), Pair(dist="bookworm", arch="arm64"))
    result = run_matrix(pairs, stage, jobs=1, lane=lambda p: "local" if p.arch == "amd64" else "board")
    assert result.ok, result.failures


def test_pairs_on_one_engine_take_turns_with_one_job() -> None:
    running: list[int] = []
    peak: list[int] = []
    lock = threading.Lock()

    def stage(pair: Pair) -> Made:
        with lock:
            running.append(1)
            peak.append(len(running))
        threading.Event().wait(0.05)
        with lock:
            running.pop()
        return Made(path=None)

    pairs = tuple(Pair(dist=d, arch="arm64") for d in ("bookworm", "trixie", "sid"))
    assert run_matrix(pairs, stage, jobs=1, lane=lambda p: "board").ok
    assert max(peak) == 1


def test_an_amd64_engine_runs_i386_itself_but_an_arm64_one_needs_qemu_for_armhf() -> None:
    from debforge.engines import EngineFacts

    def facts(arch: str) -> EngineFacts:
        return EngineFacts(arch=arch, machine="", api_version="1.43", server_version="24", name="e")

    assert facts("amd64").native_for("amd64") and facts("amd64").native_for("i386")
    assert not facts("amd64").native_for("arm64") and not facts("i386").native_for("amd64")
    assert facts("arm64").native_for("arm64") and not facts("arm64").native_for("armhf")
