"""The image bootstrap of a dist with and without usr-is-merged (bullseye predates it)."""

from __future__ import annotations

from debforge.archive.index import PackageRecord
from debforge.container.image import resolve_bootstrap
from tests.test_resolve import make_index, pkg


def _base(*extra: PackageRecord) -> list[PackageRecord]:
    return [
        pkg("base-files", essential=True),
        pkg("apt", priority="important", depends="libc6"),
        pkg("libc6", priority="required"),
        pkg("init-system-helpers", priority="required", depends="usrmerge | usr-is-merged"),
        pkg("usrmerge", depends="perl"),
        pkg("perl"),
        *extra,
    ]


def test_bookworm_style_takes_usr_is_merged_not_usrmerge() -> None:
    closure = resolve_bootstrap(make_index(_base(pkg("usr-is-merged"))), ())
    names = {p.name for p in closure.packages}
    assert "usr-is-merged" in names and "usrmerge" not in names and "perl" not in names


def test_bullseye_style_without_usr_is_merged_resolves() -> None:
    bullseye = [p for p in _base() if p.name not in ("usrmerge", "perl")]
    bullseye = [pkg("init-system-helpers", priority="required") if p.name == "init-system-helpers" else p
                for p in bullseye]  # fmt: skip
    closure = resolve_bootstrap(make_index(bullseye), ())
    assert {p.name for p in closure.packages} == {"base-files", "apt", "libc6", "init-system-helpers"}
