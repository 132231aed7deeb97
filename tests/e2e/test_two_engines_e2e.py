"""Builds through the Docker API alone: a second, independent engine that cannot see this machine's files.

The engine (tests/e2e/second_engine.py) runs in its own mount and network namespaces: the checkout,
the test cache, /tmp and /work are empty tmpfs there. Against it, with DOCKER_HOST and then with
`--engine arm64=…`, hello-ssl is packaged for bookworm arm64 and test-installed. A watcher lists the
engines' build containers while they run and records each mount's type: on the second engine every
one is a named volume, never a bind mount (a bind of a host path would also find nothing there).
Then a two-engine matrix: arm64 on the second engine and amd64 on the local one, seen running at
the same moment; and a lost engine fails its own pair with one sentence.

Speed: the images the main engine already built are `docker save | docker load`ed into the second
one (the content tags match, so debforge finds them there); the one image this module builds on the
second engine alone is a native one (bookworm amd64, no QEMU), which also checks the "native" lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from debforge.builder.toolchain import builder_image
from debforge.cache import Cache
from debforge.container import (
    ContainerSpec,
    Image,
    Mount,
    content_volume,
    probe,
    run_container,
    run_in_container,
)
from debforge.container.volumes import cache_volumes
from debforge.deb.read import read_deb
from debforge.dists import Target
from debforge.engines import Endpoint
from debforge.session import Session
from tests.conftest import require_docker, require_tool
from tests.e2e.second_engine import SecondEngine, second_engine

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "hello-ssl"
MAIN = "unix:///var/run/docker.sock"


@pytest.fixture(scope="module")
def engine(
    e2e_cache: Cache, e2e_session: Session, runtime_image: Image, bookworm_arm64: Target
) -> Iterator[SecondEngine]:
    """The second engine, with the main engine's bookworm arm64 builder and runtime images loaded."""
    require_docker()
    for tool in ("dockerd", "nsenter", "unshare", "iptables", "ip", "docker"):
        require_tool(tool)
    if os.geteuid() != 0:
        pytest.skip("starting a second dockerd needs root")
    builder = builder_image(e2e_session, bookworm_arm64)
    with second_engine((ROOT, e2e_cache.root)) as started:
        start = time.monotonic()
        for tag in (builder.tag, runtime_image.tag):
            _load(tag, started.url)
        print(f"timing: images loaded into the second engine in {time.monotonic() - start:.0f} s")
        yield started


def _load(tag: str, url: str) -> None:
    """`docker save TAG | docker --host URL load`, unless the engine has it already."""
    inspect = ["docker", "--host", url, "image", "inspect", tag]
    if subprocess.run(inspect, capture_output=True, check=False).returncode == 0:
        return
    save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
    load = subprocess.run(
        ["docker", "--host", url, "load", "-q"], stdin=save.stdout, capture_output=True, check=False
    )
    assert save.stdout is not None
    save.stdout.close()
    assert save.wait() == 0 and load.returncode == 0, load.stderr


class Watcher:
    """Lists each engine's running build containers every 0.2 s: when, where, and their mount types."""

    def __init__(self, urls: dict[str, str]) -> None:
        import docker

        self.clients = {name: docker.DockerClient(base_url=url, timeout=30) for name, url in urls.items()}
        self.seen: list[tuple[float, str, str, tuple[str, ...]]] = []  # (time, engine, container, types)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        for client in self.clients.values():
            client.close()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for name, client in self.clients.items():
                for box in client.containers.list(filters={"label": "org.debforge.role=build"}):
                    types = tuple(sorted(m["Type"] for m in box.attrs.get("Mounts") or ()))
                    self.seen.append((time.monotonic(), name, str(box.name), types))

    def on(self, engine: str) -> dict[str, tuple[str, ...]]:
        """The build containers seen on `engine`, with their mount types."""
        return {box: types for _, name, box, types in self.seen if name == engine}


def _debforge(
    *args: str, env: dict[str, str], cache: Cache, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DEBFORGE_ENGINES")}
    full |= {"DEBFORGE_CACHE": str(cache.root), **env}
    return subprocess.run(
        [sys.executable, "-m", "debforge", "--progress", "plain", "--debug", *args],
        capture_output=True, text=True, check=False, timeout=timeout, env=full,
    )  # fmt: skip


def _package_and_install(
    engine: SecondEngine, cache: Cache, out: Path, env: dict[str, str], *engine_args: str
) -> str:
    """package hello-ssl for bookworm arm64, then test-install it, both on the second engine."""
    with Watcher({"second": engine.url}) as watcher:
        start = time.monotonic()
        args = ["package", str(RECIPE), "--dist", "bookworm", "--arch", "arm64", "--out", str(out)]
        done = _debforge(*args, *engine_args, env=env, cache=cache)
        packaged = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"debforge.container: engine {engine.url}: copies through the Docker API" in done.stderr
    builds = watcher.on("second")
    assert builds, "no build container was seen on the second engine"
    assert all(types and set(types) == {"volume"} for types in builds.values()), builds  # no bind mount
    (deb,) = out.glob("*.deb")
    assert read_deb(deb).get("Architecture") == "arm64"
    start = time.monotonic()
    args = ["test-install", str(deb), "--dist", "bookworm", "--arch", "arm64", "--json"]
    installed = _debforge(
        *args, "--run", "hello-ssl", "--expect", "OpenSSL 3.0.", *engine_args, env=env, cache=cache
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    assert json.loads(installed.stdout)["ok"] is True
    return f"package {packaged:.0f} s, test-install {time.monotonic() - start:.0f} s"


def test_the_second_engine_cannot_see_this_machine(
    engine: SecondEngine, runtime_image: Image, e2e_session: Session, e2e_cache: Cache
) -> None:
    with Session(cache=e2e_cache, engine=Endpoint(name=engine.url)) as remote:
        seen = run_in_container(remote, runtime_image, ["sh", "-c", f"ls -A {RECIPE} | wc -l"]).text
        assert seen.strip() == "0"  # the checkout is an empty tmpfs over there
        assert probe(remote.docker(), runtime_image, remote.workspace()) is False
    assert probe(e2e_session.docker(), runtime_image, e2e_session.workspace()) is True  # the local engine


def test_package_and_test_install_with_docker_host(
    engine: SecondEngine, e2e_cache: Cache, tmp_path: Path
) -> None:
    timing = _package_and_install(engine, e2e_cache, tmp_path, {"DOCKER_HOST": engine.url})
    print(f"timing: DOCKER_HOST={engine.url}: {timing}")
    with Session(cache=e2e_cache, engine=Endpoint(name=engine.url)) as remote:
        volumes = cache_volumes(remote)
    assert any(v.name.endswith("-target") and v.stands_for.endswith("/target") for v in volumes)


def test_package_and_test_install_with_engine_option(
    engine: SecondEngine, e2e_cache: Cache, tmp_path: Path
) -> None:
    timing = _package_and_install(engine, e2e_cache, tmp_path, {}, "--engine", f"arm64={engine.url}")
    print(f"timing: --engine arm64={engine.url}: {timing}")
    doctor = _debforge(
        "doctor", "--arch", "arm64", "--engine", f"arm64={engine.url}", "--json", env={}, cache=e2e_cache
    )
    listed = {c["name"]: c["detail"] for c in json.loads(doctor.stdout)}["cache volumes"]
    cleaned = _debforge("clean", "--engine", engine.url, "--json", env={}, cache=e2e_cache)
    assert cleaned.returncode == 0, cleaned.stderr
    (entry,) = json.loads(cleaned.stdout)
    removed = [v["name"] for v in entry["removed"]]
    assert removed and all(name in listed for name in removed)  # doctor listed what clean removed
    with Session(cache=e2e_cache, engine=Endpoint(name=engine.url)) as remote:
        assert cache_volumes(remote) == ()


def test_both_transports_carry_the_same_mounts(
    runtime_image: Image, e2e_cache: Cache, tmp_path: Path
) -> None:
    """One spec, run with bind mounts and then with copies (as on an engine elsewhere) on the local engine."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in/f").write_text("input\n")
    tree = tmp_path / "trees" / os.urandom(32).hex()  # a tree of the cache, named by its content key
    tree.mkdir(parents=True)
    (tree / "t").write_text("tree\n")
    script = (
        "cat /in/f /tree/t; cat /cache/n 2>/dev/null || echo none; echo x >> /cache/n; echo made > /out/r"
    )
    volume = f"debforge-test-{os.getpid()}"
    for bind in (True, False):
        out, cache_dir = tmp_path / f"out-{bind}", tmp_path / f"cache-{bind}"
        out.mkdir()
        cache_dir.mkdir()
        mounts = (
            Mount(source=tmp_path / "in", dest="/in", read_only=True),
            Mount(source=tree, dest="/tree", read_only=True, volume=content_volume(tree)),
            Mount(source=cache_dir, dest="/cache", volume=volume),
            Mount(source=out, dest="/out"),
        )
        spec = ContainerSpec(image=runtime_image, argv=("sh", "-c", script), role="build", mounts=mounts)
        with Session(cache=e2e_cache) as session:
            session.shares_filesystem = bind
            first = run_container(session, spec).text
            (tree / "t").write_text("changed\n")  # never happens to a real tree: its name is its content
            second = run_container(session, spec).text
            (tree / "t").write_text("tree\n")
            if not bind:
                for name in (volume, content_volume(tree)):
                    session.docker().volumes.get(name).remove()
        assert first == "input\ntree\nnone\n"
        # The cache persists (a bind dir, else the volume); a content volume is filled once, so the
        # copy transport still shows the tree as it was when it was filled.
        assert second == f"input\n{'changed' if bind else 'tree'}\nx\n"
        assert (out / "r").read_text() == "made\n"  # the output came back
        assert (cache_dir / "n").exists() is bind  # the copy transport keeps it over there, in the volume


def test_a_matrix_runs_each_pair_on_its_engine_at_once(
    engine: SecondEngine, e2e_cache: Cache, tmp_path: Path
) -> None:
    with Watcher({"main": MAIN, "second": engine.url}) as watcher:
        start = time.monotonic()
        args = ["package", str(RECIPE), "--dist", "bookworm", "--arch", "amd64,arm64", "--jobs", "1"]
        done = _debforge(
            *args,
            "--engine",
            f"arm64={engine.url}",
            "--out",
            str(tmp_path),
            "--json",
            env={},
            cache=e2e_cache,
        )
    wall = time.monotonic() - start
    print(f"timing: two-engine matrix {wall:.0f} s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    pairs = json.loads(done.stdout)["pairs"]
    assert [p["ok"] for p in pairs] == [True, True]
    assert watcher.on("main") and watcher.on("second")
    assert all("bind" in types for types in watcher.on("main").values())  # the local engine: bind mounts
    assert all(set(types) == {"volume"} for types in watcher.on("second").values())
    # Side by side with --jobs 1 (a lane per engine): one after the other, the command would take at
    # least the sum of its pairs. (Build containers of a warm cargo last a second: too short to be
    # seen overlapping reliably.)
    assert wall < sum(p["seconds"] for p in pairs), (wall, [p["seconds"] for p in pairs])


def test_a_lost_engine_fails_its_pairs_with_one_sentence(e2e_cache: Cache, tmp_path: Path) -> None:
    gone = f"unix://{tmp_path}/no-engine.sock"
    args = ["package", str(RECIPE), "--dist", "bookworm", "--arch", "amd64,arm64", "--out", str(tmp_path)]
    done = _debforge(*args, "--engine", f"arm64={gone}", "--json", env={}, cache=e2e_cache)
    assert done.returncode == 1
    amd64, arm64 = json.loads(done.stdout)["pairs"]
    assert amd64["ok"] is True
    assert arm64["ok"] is False and arm64["error"].startswith(f"cannot talk to the Docker engine {gone}:")


def test_a_native_engine_builds_its_image_alone_and_says_native(
    engine: SecondEngine, e2e_cache: Cache
) -> None:
    with Session(cache=e2e_cache, engine=Endpoint(name=engine.url)) as remote:  # kept from an earlier run
        for image in remote.docker().images.list(filters={"label": "org.debforge.target=bookworm/amd64"}):
            remote.docker().images.remove(str(image.id), force=True)
    start = time.monotonic()
    env = {"DOCKER_HOST": engine.url}
    done = _debforge("image", "--dist", "bookworm", "--arch", "amd64", "--json", env=env, cache=e2e_cache)
    assert done.returncode == 0, done.stderr[-3000:]
    print(
        f"timing: bookworm amd64 runtime image on the second engine alone: {time.monotonic() - start:.0f} s"
    )
    assert "Configuring bookworm/amd64 in a container (native)" in done.stderr
    doctor = _debforge("doctor", "--dist", "bookworm", "--arch", "amd64", "--json", env=env, cache=e2e_cache)
    checks = {c["name"]: c for c in json.loads(doctor.stdout)}
    line = checks[f"engine {engine.url}"]["detail"]
    assert (
        "API 1." in line
        and "GiB free, files copied through the API" in line
        and line.endswith("amd64: native")
    )
    assert checks["binfmt"]["detail"] == "not needed: the engine runs amd64 natively"
