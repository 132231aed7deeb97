"""container: image definitions as data, apt sources and lists layout, the runner (no Docker needed)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath

import pytest

from debforge import container
from debforge.cache import Cache
from debforge.dists import make_target
from debforge.engines import EngineFacts
from debforge.errors import ContainerError
from debforge.report import NullReporter
from debforge.session import Session

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
    assert expected <= {*builder.packages, *builder.layer_packages}
    # The cross compilers are the target's layer; the shared base names no target.
    assert set(builder.layer_packages) == {"gcc-aarch64-linux-gnu", "g++-aarch64-linux-gnu"}
    assert not any("{" in p or "aarch64" in p for p in builder.packages)
    # meson (and python3 with it) only in the builders of meson builds.
    assert "meson" not in builder.packages and builder.kind_packages["meson"] == ("meson",)


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


# --------------------------------------------------------------------------- the runner, without an engine
# Fast checks with a stand-in for docker-py; tests/e2e/test_sysroot_image.py runs the same paths for real.


class FakeHandle:
    """The part of a docker-py Container the runner uses before `exec`."""

    def __init__(self, name: str, client: FakeClient) -> None:
        self.name, self.id, self.status, self.client = name, f"id-{name}", "created", client
        self.archives: list[tuple[str, bytes]] = []

    def put_archive(self, path: str, data: io.BufferedIOBase) -> bool:
        self.archives.append((path, data.read()))
        return True

    def start(self) -> None:
        self.status = "running"

    def reload(self) -> None:
        pass

    def remove(self, *, force: bool) -> None:
        assert force
        del self.client.made[self.name]

    def exec_run(self, argv: list[str], **kwargs: object) -> object:
        self.client.execs.append({"argv": argv, **kwargs})
        return type("ExecResult", (), {"output": (b"", b""), "exit_code": 0})()


class FakeClient:
    """Creates FakeHandles, finds them by name."""

    def __init__(self) -> None:
        self.made: dict[str, FakeHandle] = {}
        self.created: list[dict[str, object]] = []
        self.execs: list[dict[str, object]] = []
        self.containers = self

    def create(self, image: str, argv: list[str], **kwargs: object) -> FakeHandle:
        self.created.append({"image": image, "argv": argv, **kwargs})
        handle = self.made[str(kwargs["name"])] = FakeHandle(str(kwargs["name"]), self)
        return handle

    def get(self, name: str) -> FakeHandle:
        import docker

        if name not in self.made:
            raise docker.errors.NotFound(name)
        return self.made[name]


class Recorder(NullReporter):
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def fake_session(
    tmp_path: Path, *, keep: bool = False, engine_arch: str = "amd64"
) -> tuple[Session, FakeClient, Recorder]:
    client, reporter = FakeClient(), Recorder()
    session = Session(cache=Cache(tmp_path / "cache"), reporter=reporter, keep=keep)
    session._docker = client  # type: ignore[assignment]  # fault injection: a stand-in engine
    session._facts = EngineFacts(
        arch=engine_arch, machine="?", api_version="1.43", server_version="24", name="fake"
    )
    return session, client, reporter


IMAGE = container.Image(tag="debforge/x:1", id="sha256:1", platform="linux/arm64", closure_key="k")


def test_copies_go_in_as_one_root_owned_readable_archive_before_start(tmp_path: Path) -> None:
    deb = tmp_path / "a.deb"
    deb.write_bytes(b"deb")
    deb.chmod(0o600)  # a umask-077 build: apt's _apt user must still read it
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree/f").write_text("x")
    session, client, _ = fake_session(tmp_path)
    dest = PurePosixPath("/tmp/in")
    spec = container.ContainerSpec(image=IMAGE, role="probe", copies=((dest, deb), (dest, tmp_path / "tree")))
    with container.open_container(session, spec) as box:
        assert box.handle.status == "running"
        ((path, data),) = client.made[box.name].archives
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert path == "/"
    assert sorted(members) == ["tmp/in/a.deb", "tmp/in/tree", "tmp/in/tree/f"]
    assert {(m.uid, m.gid, m.uname) for m in members.values()} == {(0, 0, "root")}
    assert members["tmp/in/a.deb"].mode == 0o644
    assert client.made == {}


def test_the_spec_becomes_the_create_call(tmp_path: Path) -> None:
    session, client, _ = fake_session(tmp_path)
    spec = container.ContainerSpec(
        image=IMAGE, argv=("sh", "-c", "x"), role="build", labels=(("extra", "1"),), user="1000:1000",
        mounts=(container.Mount(source=tmp_path, dest="/src", read_only=True),), env=(("A", "b"),),
        workdir="/src", network="none", timeout=60,
    )  # fmt: skip
    session.shares_filesystem = True  # as if the marker-file probe had read its file back
    with container.open_container(session, spec) as box:
        assert box.name.startswith("debforge-build-")
        assert box.handle.archives == []  # bind transport: nothing copied
    (made,) = client.created
    # An arm64 image on an amd64 engine: QEMU's CPU model for the command, not in the container's Env.
    qemu = ["env", "QEMU_CPU=max,pauth-impdef=on"]
    assert made["argv"] == [*qemu, "timeout", "--kill-after=30", "60", "sh", "-c", "x"]
    assert made["mounts"] == [{"Target": "/src", "Source": str(tmp_path), "Type": "bind", "ReadOnly": True}]
    assert made["labels"] == {"org.debforge": "1", "org.debforge.role": "build", "extra": "1"}
    assert (made["user"], made["working_dir"], made["network_mode"]) == ("1000:1000", "/src", "none")
    assert (made["platform"], made["environment"]) == ("linux/arm64", {"A": "b"})


def test_emulated_processes_get_the_qemu_cpu_and_native_ones_nothing(tmp_path: Path) -> None:
    cpu = "max,pauth-impdef=on"
    for engine_arch, argv, env in [
        ("amd64", ["env", f"QEMU_CPU={cpu}", "sleep", "infinity"], {"QEMU_CPU": cpu, "A": "b"}),
        ("arm64", ["sleep", "infinity"], {"A": "b"}),  # an arm64 engine runs arm64 itself
    ]:
        session, client, _ = fake_session(tmp_path, engine_arch=engine_arch)
        with container.open_container(session, container.ContainerSpec(image=IMAGE)) as box:
            box.exec(["apt-get", "install"], env={"A": "b"})
        assert client.created[0]["argv"] == argv
        assert client.created[0]["environment"] == {}
        assert client.execs[0]["environment"] == env
    armhf = container.Image(tag="debforge/y:1", id="sha256:2", platform="linux/arm/v7", closure_key="k")
    session, client, _ = fake_session(tmp_path)
    with container.open_container(session, container.ContainerSpec(image=armhf)):
        pass
    assert client.created[0]["argv"] == ["sleep", "infinity"]  # QEMU's default CPU for 32-bit arm


def test_an_engine_elsewhere_gets_the_mounts_copied_in_before_start(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/f").write_text("x")
    session, client, _ = fake_session(tmp_path)
    session.shares_filesystem = False  # the probe did not read its marker back
    mount = container.Mount(source=tmp_path / "src", dest="/debforge/sysroot", read_only=True)
    spec = container.ContainerSpec(image=IMAGE, role="build", mounts=(mount,), user="1000:1000")
    with container.open_container(session, spec) as box:
        ((path, data),) = box.handle.archives
    assert client.created[0]["mounts"] is None  # no bind mount at all
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: (m.uid, m.mode & 0o444) for m in tar.getmembers()}
    assert path == "/"
    assert members == {"debforge/sysroot": (0, 0o444), "debforge/sysroot/f": (0, 0o444)}


def test_ctrl_c_removes_the_container_and_keep_says_how_to_enter(tmp_path: Path) -> None:
    session, client, _ = fake_session(tmp_path)
    with (
        pytest.raises(KeyboardInterrupt),
        container.open_container(session, container.ContainerSpec(image=IMAGE)),
    ):
        assert len(client.made) == 1
        raise KeyboardInterrupt
    assert client.made == {}
    session, client, reporter = fake_session(tmp_path, keep=True)
    with container.open_container(session, container.ContainerSpec(image=IMAGE)) as box:
        pass
    assert list(client.made) == [box.name]
    assert reporter.warnings == [
        f"the container {box.name} is kept; enter it with `docker exec -it {box.name} bash`"
    ]


def test_image_archive_is_what_docker_load_reads(tmp_path: Path) -> None:
    """One layer tar of the tree, a config whose diff id is that tar's sha256 and whose platform is the
    target's (linux/arm/v7: architecture arm, variant v7), and a manifest naming both and the tag."""
    import hashlib
    import io
    import json
    import tarfile

    from debforge.container.imagearchive import ImageConfig, write_image_archive

    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_bytes(b"#!/bin/sh\n")
    (root / "bin").symlink_to("usr/bin")
    config = ImageConfig(platform="linux/arm/v7", env=("LANG=C.UTF-8",), cmd=("bash",), labels=(("a", "b"),))
    write_image_archive(tmp_path / "image.tar", root, config, tag="debforge/t:1")
    with tarfile.open(tmp_path / "image.tar") as outer:
        manifest = json.loads(outer.extractfile("manifest.json").read())  # type: ignore[union-attr]  # a file
        (entry,) = manifest
        assert entry["RepoTags"] == ["debforge/t:1"]
        layer = outer.extractfile(entry["Layers"][0]).read()  # type: ignore[union-attr]  # a file
        doc = json.loads(outer.extractfile(entry["Config"]).read())  # type: ignore[union-attr]  # a file
    assert (doc["os"], doc["architecture"], doc["variant"]) == ("linux", "arm", "v7")
    assert doc["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(layer).hexdigest()}"]
    assert doc["config"] == {"Env": ["LANG=C.UTF-8"], "Cmd": ["bash"], "Labels": {"a": "b"}}
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = {m.name: m for m in tar}
    assert members["usr/bin/tool"].isfile() and members["bin"].linkname == "usr/bin"


def test_an_engine_lost_mid_run_is_one_sentence(tmp_path: Path) -> None:
    import requests

    session, client, _ = fake_session(tmp_path)
    with (
        pytest.raises(ContainerError, match=r"^lost the Docker engine .*: \('Connection aborted"),
        container.open_container(session, container.ContainerSpec(image=IMAGE)),
    ):  # docker-py's transport error while streaming logs or waiting: the engine went away
        raise requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected())")
    assert client.made == {}  # and the container was still removed (by name)
