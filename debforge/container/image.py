"""Docker images of a target built from the archive: definitions (images/*/image.toml), bootstrap, build."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import threading
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cmp_to_key
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from debforge import rootfs
from debforge.ahead import beside
from debforge.cache import Cache, atomic_write_bytes, key
from debforge.container.aptfiles import prefill_apt_lists, write_apt_sources
from debforge.container.bootstrap import BOOTSTRAP_DIGEST, write_bootstrap
from debforge.container.engine import LABEL, Image, engine_arch, execution, find_image
from debforge.container.imagearchive import ImageConfig, write_image_archive
from debforge.container.layer import add_layer, layer_of
from debforge.container.native import native_interpreters
from debforge.container.runner import ContainerSpec, open_container
from debforge.dists import Target, host_arch, make_target
from debforge.errors import ContainerError
from debforge.resolve import Closure, resolve_closure
from debforge.session import Session

if TYPE_CHECKING:
    from debforge.archive.index import PackageIndex, PackageRecord

# debforge/images: in a checkout (and an editable install) a symlink to the repository's images/, in an
# installed wheel the copy the build made of it (pyproject.toml's package-data follows the symlink).
IMAGES_DIR = Path(__file__).resolve().parents[1] / "images"
# Bump when the bootstrap changes in a way its scripts' text does not show: part of every image tag.
IMAGE_FORMAT = 3  # 3: uncompressed apt lists
# The image config's PATH (a loaded image has only the environment its config gives it).
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageDefinition:
    """One image of images/<name>/image.toml, parametrised by a Target."""

    name: str
    host_arch: bool  # True: built for the machine's own arch (the builder), else for the target
    packages: tuple[str, ...]
    layer_packages: tuple[str, ...]  # a layer over the dist's shared base of `packages` (the cross gcc)
    kind_packages: Mapping[str, tuple[str, ...]]  # build kind → what its builder adds to the layer
    apt_lists: bool
    files: Path | None
    docs: bool  # False: documentation, manual pages and translations are left out (rootfs.NO_DOCS)
    digest: str
    extras: Mapping[str, str]  # the dist table's other strings, e.g. the builder's `rustc` and `std`


# --------------------------------------------------------------------------- image definitions


def load_definition(
    name: str, target: Target, *, images_dir: Path = IMAGES_DIR, builder_arch: str | None = None
) -> ImageDefinition:
    """Read images/<name>/image.toml; `{triplet}` and `{arch}` are filled from the target, `{gcc}` from
    the target and the arch the builder runs on (the engine's; default this machine's)."""
    path = images_dir / name / "image.toml"
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ContainerError(f"cannot read image definition {path}: {exc}") from exc
    per_dist = data.get("dist", {}).get(target.dist, {})
    # {gcc}/{gxx}: the target's cross compilers; for the machine's own arch Debian ships no
    # gcc-x86-64-linux-gnu, the native gcc/g++ are <triplet>-gcc/-g++ already.
    native = target.arch == (builder_arch or host_arch())
    gcc = "gcc" if native else target.cross_gcc
    words = {"triplet": target.gnu_triplet, "arch": target.arch, "dist": target.dist,
             "gcc": gcc, "gxx": gcc.replace("gcc", "g++", 1)}  # fmt: skip
    packages = [p.format(**words) for p in (*data.get("packages", ()), *per_dist.get("packages", ()))]
    layer = [p.format(**words) for p in data.get("layer-packages", ())]
    files = images_dir / name / "files"
    digest = key(
        {"toml": raw.decode(), "files": _files_digest(files), "format": IMAGE_FORMAT, "sh": BOOTSTRAP_DIGEST}
    )
    return ImageDefinition(
        name=name,
        host_arch=data.get("arch") == "host",
        packages=tuple(packages),
        layer_packages=tuple(layer),
        kind_packages={k: tuple(v) for k, v in data.get("kind-packages", {}).items()},
        apt_lists=bool(data.get("apt_lists", True)),
        files=files if files.is_dir() else None,
        docs=bool(data.get("docs", False)),
        digest=digest,
        extras={k: v for k, v in per_dist.items() if isinstance(v, str)},
    )


def _files_digest(files: Path) -> list[tuple[str, str]]:
    if not files.is_dir():
        return []
    return sorted(
        (str(p.relative_to(files)), key(p.read_bytes().hex())) for p in files.rglob("*") if p.is_file()
    )


# --------------------------------------------------------------------------- building images


def build_image(
    session: Session,
    target: Target,
    *,
    packages: Sequence[str] = (),
    base_packages: Sequence[str] = (),
    tag: str | None = None,
    definition: str = "runtime",
) -> Image:
    """A configured Debian system of `target` as a Docker image with the right platform; reused by content.

    `packages` come as a layer over the shared base image (the definition's packages, and
    `base_packages`, such as the builder's rustc pins), together with the definition's layer-packages.
    """
    from debforge.archive import fetch_index  # noqa: PLC0415 - keeps `import debforge.container` light

    builder_arch = engine_arch(session)
    image_def = load_definition(definition, target, builder_arch=builder_arch)
    image_target = host_target(target, arch=builder_arch) if image_def.host_arch else target
    index = fetch_index(session, image_target)
    base = (*image_def.packages, *base_packages)
    closure = resolve_bootstrap(index, (*base, *image_def.layer_packages, *packages), cache=session.cache)
    content_tag = _tag(target, image_def.name, image_def.digest, closure, packages)
    with session.cache.lock(f"image-{key(content_tag)[:20]}", on_wait=session.reporter.warning):
        found = find_image(session, content_tag)
        if found is None:
            extra = image_def.layer_packages or packages
            base_closure = resolve_bootstrap(index, base, cache=session.cache) if extra else closure
            found = _build_layered(
                session, image_target, image_def, base=base_closure, closure=closure, tag=content_tag
            )
    if tag:
        session.docker().images.get(content_tag).tag(tag)
    return found


def _tag(target: Target, name: str, digest: str, closure: Closure, packages: Sequence[str]) -> str:
    content = key({"closure": closure.key, "definition": digest, "packages": sorted(packages)})
    return f"debforge/{target.dist}-{target.arch}-{name}:{content[:20]}"


def _build_layered(
    session: Session, target: Target, image_def: ImageDefinition, *, base: Closure, closure: Closure, tag: str
) -> Image:
    """The image of `closure` as `tag`: the base image of `base` (built once, shared by every target
    and caller whose closure only adds to it) plus a layer of the rest, else built whole."""
    layer = layer_of(base, closure)
    if base is closure or layer is None:
        return _build(session, target, image_def, closure=closure, tag=tag)
    # A builder's base is named for the arch it runs on (shared by all its targets); a runtime's base is
    # the target's plain runtime image.
    base_name = f"{image_def.name}-base" if image_def.host_arch else image_def.name
    base_tag = _tag(target, base_name, image_def.digest, base, ())
    if not layer:
        _base_image(session, target, image_def, base=base, tag=base_tag)
        session.docker().images.get(base_tag).tag(*tag.rsplit(":", 1))
        return _listed(session, tag)
    # The layer's debs download while the base image is built (24 debs of a cross gcc: a second).
    with beside(lambda: rootfs.fetch_debs(session, layer), name="layer-debs") as debs:
        base_image = _base_image(session, target, image_def, base=base, tag=base_tag)
        how = execution(session, target.arch)
        with session.reporter.step(f"Adding {len(layer)} packages to the shared base image ({how})"):
            add_layer(
                session, base_image, layer, debs=debs.wait(), tag=tag, closure_key=closure.key,
                lists=image_def.apt_lists,
            )  # fmt: skip
    return _listed(session, tag)


def _base_image(
    session: Session, target: Target, image_def: ImageDefinition, *, base: Closure, tag: str
) -> Image:
    """The shared base image `tag` of the closure `base`, built unless the engine has it."""
    with session.cache.lock(f"image-{key(tag)[:20]}", on_wait=session.reporter.warning):
        return find_image(session, tag) or _build(session, target, image_def, closure=base, tag=tag)


def host_target(target: Target, *, arch: str | None = None) -> Target:
    """The same dist and mirrors for the architecture the builder runs on: `arch` (the engine's, see
    engine_arch), else this machine's own."""
    arch = arch or host_arch()
    if arch is None:
        raise ContainerError(f"debforge does not know the Debian architecture of a {os.uname().machine} host")
    return make_target(
        target.dist, arch, mirror=target.mirror, security_mirror=target.security_mirror,
        components=target.components, keyring=target.keyring, backports=target.backports,
    )  # fmt: skip


def extract_rust_std(session: Session, target: Target) -> Path:
    """The target's Rust std, pinned `=` to the builder's rustc, unpacked alone into a cached tree: pass
    `--sysroot=<tree>/usr` as a target rustflag (apt would add 220 MiB of target LLVM, notes S8)."""
    from debforge.archive import fetch_index  # noqa: PLC0415 - see build_image

    std_name = load_definition("builder", target, builder_arch=engine_arch(session)).extras["std"]
    version = rust_toolchain_version(session, target)
    std = [r for r in fetch_index(session, target).versions(std_name) if r.version == version]
    # The one package alone, its Depends deliberately not followed: only its rlibs are wanted.
    closure = Closure(dist=target.dist, arch=target.arch, roots=(std_name,), packages=(std[0],))
    return rootfs.build_sysroot(session, closure, target, read_only=True).path


def rust_toolchain_version(session: Session, target: Target) -> str:
    """The newest version of the builder's rustc that the target's Rust std also has (rustc refuses a
    std of any other version). Usually the candidate; not where a -security update skipped an arch
    (bookworm-security carries rustc-web 1.96 for amd64 but no s390x or armel builds, so there the
    builder keeps bookworm-updates' 1.85)."""
    from debforge.archive import fetch_index  # noqa: PLC0415 - see build_image
    from debforge.archive.version import compare_versions  # noqa: PLC0415

    builder = load_definition("builder", target)
    rustc_name, std_name = builder.extras["rustc"], builder.extras["std"]
    builder_target = host_target(target, arch=engine_arch(session))
    host = {r.version for r in fetch_index(session, builder_target).versions(rustc_name)}
    if not host:
        raise ContainerError(f"{target.dist} has no {rustc_name} for this machine's architecture")
    std = {r.version for r in fetch_index(session, target).versions(std_name)}
    by_version = cmp_to_key(compare_versions)
    both = sorted(host & std, key=by_version)
    if not both:
        raise ContainerError(
            f"{std_name}:{target.arch} exists in no version of this machine's {rustc_name} "
            f"({', '.join(sorted(host, key=by_version))}; the target has "
            f"{', '.join(sorted(std, key=by_version)) or 'none'}), and rustc needs a std of its own version"
        )
    return both[-1]


def resolve_bootstrap(index: PackageIndex, extra: Sequence[str], *, cache: Cache | None = None) -> Closure:
    """What mmdebstrap's minbase installs (Essential, Priority: required, apt) plus `extra`.

    usr-is-merged comes first so the resolver takes it for init-system-helpers' `usrmerge |
    usr-is-merged`: the tree is merged already, and usrmerge would drag perl in. bullseye has no
    usr-is-merged (it came with bookworm's merged-/usr transition) and nothing there asks for either.
    """
    base = _bootstrap_names(index, cache)
    merged = ["usr-is-merged"] if "usr-is-merged" in index.packages else []
    wanted = list(dict.fromkeys([*merged, *base, "apt", *extra]))
    return resolve_closure(index, wanted)


def _bootstrap_names(index: PackageIndex, cache: Cache | None) -> list[str]:
    """Essential and Priority: required names, remembered per signed index. The candidates of the names
    the compact index recorded decide (a hand-built index has none recorded: every name is scanned,
    which decodes every record: 7 s for bookworm's 63,000, twice as long beside other work)."""
    state = cache.state(f"bootstrap-{index.release_key}.json") if cache is not None else None
    if state is not None and state.is_file():
        return list(json.loads(state.read_text()))
    names = sorted(
        n
        for n in (index.required or index.names())
        if (c := index.candidate(n)) is not None and (c.essential or c.priority == "required")
    )
    if state is not None:
        atomic_write_bytes(state, json.dumps(names).encode())
    return names


def _build(
    session: Session, target: Target, image_def: ImageDefinition, *, closure: Closure, tag: str
) -> Image:
    records, reporter = closure.packages, session.reporter
    work = session.cache.tempdir("image-")
    try:
        root = work / "root"
        root.mkdir()
        with (
            rootfs.downloading(session, records) as debs,
            reporter.step(f"Unpacking {len(records)} packages"),
        ):
            path_filter = None if image_def.docs else rootfs.NO_DOCS
            rootfs.fill_tree(root, records, debs, target, configured=False, path_filter=path_filter)
            _add_bootstrap_files(root, records, target, image_def, session.cache)
        how = execution(session, target.arch)  # an engine of the target's arch configures it natively
        native = None
        if not session.engine_facts().native_for(target.arch):
            with reporter.step("Preparing the engine's own dash, perl and tools for the maintainer scripts"):
                native = native_interpreters(
                    session, host_target(target, arch=engine_arch(session)), target,
                    records=records, root=root, work=work,
                )  # fmt: skip
        with reporter.step(f"Configuring {target.dist}/{target.arch} in a container ({how})"):
            _load_and_configure(session, root, target, tag=tag, closure_key=closure.key, native=native)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _listed(session, tag)


def _listed(session: Session, tag: str) -> Image:
    """The image just built as `tag`, as the engine lists it."""
    found = find_image(session, tag)
    if found is None:
        raise ContainerError(f"the engine built {tag} but does not list it")
    return found


def _add_bootstrap_files(
    root: Path, records: Sequence[PackageRecord], target: Target, image_def: ImageDefinition, cache: Cache
) -> None:
    boot = write_bootstrap(root)
    # Essential packages first, as debootstrap and mmdebstrap install them before the rest.
    ordered = sorted(records, key=lambda r: not r.essential)
    info = root / "var/lib/dpkg/info"
    lines = [f"{r.name} {n}" for r in ordered if (info / f"{(n := rootfs.info_name(r))}.preinst").exists()]
    (boot / "preinst").write_text("".join(f"{line}\n" for line in lines))
    if not image_def.docs:  # dpkg in the image leaves out what the bootstrap left out
        (root / "etc/dpkg/dpkg.cfg.d/debforge-nodoc").write_text(rootfs.NO_DOCS.dpkg_cfg())
    write_apt_sources(root, target)
    if image_def.apt_lists:
        prefill_apt_lists(root, target, cache)
    if image_def.files is not None:
        shutil.copytree(image_def.files, root, symlinks=True, dirs_exist_ok=True)


def _load_and_configure(
    session: Session, root: Path, target: Target, *, tag: str, closure_key: str, native: Path | None
) -> None:
    """`docker load` the unpacked tree as a one-layer image with the target's platform in its config (an
    archive debforge writes: no build context, no ADD), run the bootstrap in a container of it, and
    commit the result as `tag`. Both images stay in the `debforge/` namespace; the unpacked one is
    untagged at the end (its layer lives on as the base layer of `tag`)."""
    import docker  # noqa: PLC0415 - docker-py is only needed by commands that use containers

    client = session.docker()
    unpacked = f"{tag.rsplit(':', 1)[0]}:unpacked-{secrets.token_hex(6)}"
    config = ImageConfig(
        platform=target.docker_platform, env=(f"PATH={_PATH}", "LANG=C.UTF-8"), cmd=("bash",),
        labels=((f"{LABEL}.closure", closure_key), (f"{LABEL}.target", f"{target.dist}/{target.arch}")),
    )  # fmt: skip
    archive = root.parent / "image.tar"  # beside the tree, in the build's work directory
    step = session.reporter.step
    with step("Writing the image archive"):
        write_image_archive(archive, root, config, tag=unpacked)
    # The tree is in the archive now: delete it while the engine works (it takes seconds on busy disks).
    cleaner = threading.Thread(target=shutil.rmtree, args=(root,), kwargs={"ignore_errors": True})
    cleaner.start()
    try:
        with step("Loading it into the engine"), archive.open("rb") as fh:
            client.images.load(fh)
        base = Image(tag=unpacked, id="", platform=target.docker_platform, closure_key=closure_key)
        # The native interpreters come as a copy into the container, so no layer of the image holds them.
        copies = ((PurePosixPath("/debforge"), native),) if native is not None else ()
        spec = ContainerSpec(
            image=base, argv=("/debforge/configure",), role="image", network="none", copies=copies
        )
        with open_container(session, spec, keep=False) as box:
            with step("Running the maintainer scripts"):
                done = box.wait(spec.argv)
            if done.returncode != 0:
                tail = (done.stdout + done.stderr).decode("utf-8", "replace")[-2000:]
                where = f"{target.dist}/{target.arch}"
                raise ContainerError(f"configuring the {where} image failed (exit {done.returncode})\n{tail}")
            repository, _, version = tag.rpartition(":")
            # The run's command is not the image's: CMD goes back to the config's (docker commit --change).
            with step("Committing the image"):
                box.handle.commit(repository=repository, tag=version, changes='CMD ["bash"]')
    except docker.errors.APIError as exc:
        raise ContainerError(f"the Docker engine refused to load or commit {tag}: {exc}") from exc
    finally:
        cleaner.join()
        archive.unlink(missing_ok=True)
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(unpacked, noprune=True)
