"""The shared base image plus a layer (container/layer.py): what goes into the layer, and in what order
dpkg unpacks it. The real thing (a builder layer installed by dpkg in a container) is exercised by
tests/e2e/test_image_layers_e2e.py."""

from __future__ import annotations

from debforge.archive.index import PackageRecord, Relation
from debforge.container.layer import install_script, layer_of, unpack_batches
from debforge.resolve import Closure


def rec(
    name: str,
    version: str = "1",
    *,
    pre: tuple[str, ...] = (),
    dep: tuple[str, ...] = (),
    provides: tuple[str, ...] = (),
) -> PackageRecord:
    return PackageRecord(
        name=name, version=version, arch="amd64", sha256=f"{name}-{version}",
        pre_depends=tuple((Relation(p),) for p in pre), depends=tuple((Relation(d),) for d in dep),
        provides=tuple((p, None) for p in provides),
    )  # fmt: skip


def closure(*records: PackageRecord) -> Closure:
    return Closure(
        dist="bookworm", arch="amd64", roots=(), packages=tuple(sorted(records, key=lambda r: r.name))
    )


def test_the_layer_is_what_the_full_closure_adds() -> None:
    base = closure(rec("libc6"), rec("rustc"))
    full = closure(rec("libc6"), rec("rustc"), rec("gcc-aarch64-linux-gnu"), rec("cpp-aarch64-linux-gnu"))
    assert [r.name for r in layer_of(base, full) or ()] == ["cpp-aarch64-linux-gnu", "gcc-aarch64-linux-gnu"]
    assert layer_of(base, base) == ()


def test_no_layer_when_the_full_closure_changes_a_base_package() -> None:
    base = closure(rec("libc6"), rec("rustc", "1.85"))
    assert layer_of(base, closure(rec("libc6"), rec("rustc", "1.96"), rec("gcc"))) is None  # another version
    assert layer_of(base, closure(rec("rustc", "1.85"), rec("musl"))) is None  # a base package left out


def test_pre_depends_in_the_layer_are_configured_before_their_dependents_are_unpacked() -> None:
    layer = [rec("a", pre=("libz",)), rec("b"), rec("zlib1g", provides=("libz",)), rec("c", pre=("libc6",))]
    batches = [[r.name for r in batch] for batch in unpack_batches(layer)]
    # libc6 is in the base (configured already); zlib1g gives a's pre-dependency through its Provides.
    assert batches == [["b", "c", "zlib1g"], ["a"]]
    script = install_script(unpack_batches(layer), {r.sha256: f"{r.name}.deb" for r in layer}, lists=True)
    assert (
        script.index("/debforge-layer/zlib1g.deb")
        < script.index("dpkg --configure -a")
        < script.index("/debforge-layer/a.deb")
    )
    assert script.rstrip().endswith("apt-cache gencaches >/dev/null")


def test_a_package_is_not_unpacked_before_what_it_depends_on() -> None:
    # meson's layer: python3-minimal pre-depends on python3.11-minimal, python3 on python3-minimal, and
    # python3-pkg-resources only depends on python3; configured after the first batch it would fail.
    layer = [
        rec("python3.11-minimal"), rec("python3-minimal", pre=("python3.11-minimal",)),
        rec("python3", pre=("python3-minimal",)), rec("python3-pkg-resources", dep=("python3",)),
    ]  # fmt: skip
    batches = [[r.name for r in batch] for batch in unpack_batches(layer)]
    assert batches == [["python3.11-minimal"], ["python3-minimal"], ["python3", "python3-pkg-resources"]]


def test_a_pre_depends_cycle_is_left_to_dpkg() -> None:
    batches = unpack_batches([rec("x", pre=("y",)), rec("y", pre=("x",))])
    assert [[r.name for r in batch] for batch in batches] == [["x", "y"]]
