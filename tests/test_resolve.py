"""The resolver on hand-built indexes: one test per apt rule (../shared/reference/apt-resolution.md)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from debforge.archive.index import PackageIndex, PackageRecord, parse_provides, parse_relations
from debforge.archive.version import version_key
from debforge.errors import ResolveError, UnsatisfiableError
from debforge.resolve import resolve_closure

_RELATION_FIELDS = ("pre_depends", "depends", "conflicts", "breaks", "recommends", "suggests", "replaces",
                    "enhances")  # fmt: skip


def pkg(name: str, version: str = "1", **fields: object) -> PackageRecord:
    """A record; relation fields and provides are given as Debian text."""
    for key in (*_RELATION_FIELDS, "provides"):
        if isinstance(fields.get(key), str):
            text = str(fields[key])
            fields[key] = parse_provides(text) if key == "provides" else parse_relations(text)
    fields.setdefault("arch", "arm64")
    fields.setdefault("sha256", f"sha-{name}-{version}")
    fields.setdefault("size", 100)
    return PackageRecord(name=name, version=version, **fields)  # type: ignore[arg-type]


def make_index(records: Iterable[PackageRecord], arch: str = "arm64") -> PackageIndex:
    """A PackageIndex over `records`, given in sources order (suite by suite, stanza by stanza)."""
    ordered = list(records)
    packages: dict[str, list[PackageRecord]] = {}
    providers: dict[str, list[PackageRecord]] = {}
    ids: dict[str, int] = {}
    for rec in ordered:
        packages.setdefault(rec.name, []).append(rec)
        # apt's package IDs: the stanza's own name, every relation target in field order, Provides.
        ids.setdefault(rec.name, len(ids))
        for field in _RELATION_FIELDS:
            for group in getattr(rec, field):
                for rel in group:
                    ids.setdefault(rel.name, len(ids))
        for name, _ in rec.provides:
            ids.setdefault(name, len(ids))
            providers.setdefault(name, []).append(rec)
    newest = {
        n: tuple(sorted(rs, key=lambda r: version_key(r.version), reverse=True)) for n, rs in packages.items()
    }
    return PackageIndex(dist="bookworm", arch=arch, release_key="test", packages=newest,
                        providers={n: tuple(rs) for n, rs in providers.items()}, name_ids=ids)  # fmt: skip


def names(index: PackageIndex, *wanted: str, with_essential: bool = False) -> dict[str, str]:
    """name → version of the closure."""
    closure = resolve_closure(index, wanted, with_essential=with_essential)
    return {p.name: p.version for p in closure.packages}


def test_candidate_is_highest_version_of_any_suite_including_security() -> None:
    index = make_index(
        [
            pkg("a", "1.0", suite="bookworm"),
            pkg("a", "1.0+deb12u1", suite="bookworm-security", suite_rank=2),
            pkg("only-sec", "2", suite_rank=2),
        ]
    )
    assert names(index, "a", "only-sec") == {"a": "1.0+deb12u1", "only-sec": "2"}


def test_depth_first_order_decides_which_alternative_is_needed() -> None:
    # D is expanded before the OR-group, so C is already marked and satisfies `B | C` (rules 2, 3).
    index = make_index([pkg("a", depends="d, b | c"), pkg("b"), pkg("c"), pkg("d", depends="c")])
    assert set(names(index, "a")) == {"a", "c", "d"}
    index = make_index([pkg("a", depends="b | c, d"), pkg("b"), pkg("c"), pkg("d", depends="c")])
    assert set(names(index, "a")) == {"a", "b", "c", "d"}


def test_pre_depends_are_marked_before_depends() -> None:
    index = make_index(
        [pkg("a", depends="x | y", pre_depends="z"), pkg("x"), pkg("y"), pkg("z", depends="y")]
    )
    assert set(names(index, "a")) == {"a", "y", "z"}


def test_missing_alternative_names_are_skipped() -> None:
    index = make_index([pkg("browser-user", depends="firefox | firefox-esr"), pkg("firefox-esr", "115")])
    assert set(names(index, "browser-user")) == {"browser-user", "firefox-esr"}


def test_alternative_where_the_first_is_virtual() -> None:
    index = make_index([pkg("a", depends="virt | real2"), pkg("real2"), pkg("prov", provides="virt")])
    assert set(names(index, "a")) == {"a", "prov"}


def test_versioned_provides_satisfies_versioned_depends() -> None:
    index = make_index([pkg("a", depends="v (>= 2)"), pkg("prov", provides="v (= 3)")])
    assert set(names(index, "a")) == {"a", "prov"}


def test_unversioned_provides_does_not_satisfy_versioned_depends() -> None:
    index = make_index([pkg("a", depends="v (>= 2) | fallback"), pkg("prov", provides="v"), pkg("fallback")])
    assert set(names(index, "a")) == {"a", "fallback"}
    lone = make_index([pkg("a", depends="v (>= 2)"), pkg("prov", provides="v")])
    with pytest.raises(UnsatisfiableError, match=r"a -> v \(>= 2\)"):
        resolve_closure(lone, ["a"])


def test_priority_orders_providers_awk_resolves_to_mawk() -> None:
    index = make_index([
        pkg("gawk", provides="awk"), pkg("mawk", priority="required", provides="awk"),
        pkg("original-awk", provides="awk"), pkg("tool", depends="awk"),
    ])  # fmt: skip
    assert set(names(index, "tool")) == {"tool", "mawk"}


def test_real_package_and_essential_come_before_other_providers() -> None:
    index = make_index([
        pkg("x", provides="v", priority="required"), pkg("v", priority="extra"),
        pkg("ess", provides="w", essential=True), pkg("w2", provides="w", priority="required"),
        pkg("tool", depends="v, w"),
    ])  # fmt: skip
    assert set(names(index, "tool")) == {"tool", "v", "ess"}


def test_equal_providers_go_to_the_higher_package_id() -> None:
    # Both optional: apt takes the provider whose name it met last while building its cache.
    index = make_index([pkg("term-a", provides="x-terminal"), pkg("term-b", provides="x-terminal"),
                        pkg("tool", depends="x-terminal")])  # fmt: skip
    assert set(names(index, "tool")) == {"tool", "term-b"}
    # The ID is when the *name* was first met, here as a Depends target before term-b's own stanza.
    index = make_index([pkg("early", depends="term-b"), pkg("term-a", provides="x-terminal"),
                        pkg("term-b", provides="x-terminal"), pkg("tool", depends="x-terminal")])  # fmt: skip
    assert set(names(index, "tool")) == {"tool", "term-a"}


def test_conflicts_undo_an_earlier_choice_but_keep_what_it_pulled_in() -> None:
    index = make_index([pkg("a", depends="b | c, d"), pkg("b", depends="libb"), pkg("libb"),
                        pkg("c", conflicts="b"), pkg("d", depends="c")])  # fmt: skip
    assert set(names(index, "a")) == {"a", "c", "d", "libb"}


def test_look_ahead_skips_a_provider_whose_dependencies_cannot_be_met() -> None:
    index = make_index([
        pkg("good", provides="v"), pkg("bad", provides="v", priority="required", depends="missing-lib"),
        pkg("a", depends="v"),
    ])  # fmt: skip
    assert set(names(index, "a")) == {"a", "good"}


def test_several_providers_on_the_command_line_is_an_error() -> None:
    index = make_index([pkg("mawk", provides="awk"), pkg("gawk", provides="awk")])
    with pytest.raises(ResolveError, match=r"virtual package provided by several packages \(gawk, mawk\)"):
        resolve_closure(index, ["awk"])


def test_one_provider_on_the_command_line_is_installed_silently() -> None:
    index = make_index([pkg("mawk", provides="awk")])
    assert names(index, "awk") == {"mawk": "1"}


def test_name_equals_version_picks_an_older_version() -> None:
    index = make_index([pkg("a", "2", depends="b"), pkg("a", "1"), pkg("b")])
    assert names(index, "a=1") == {"a": "1"}
    with pytest.raises(ResolveError, match=r"version '3' of a is not available \(available: 2, 1\)"):
        resolve_closure(index, ["a=3"])


def test_name_arch_qualifier_for_the_native_arch() -> None:
    index = make_index([pkg("a"), pkg("indep", arch="all")])
    assert set(names(index, "a:arm64", "indep")) == {"a", "indep"}


def test_any_qualifier_needs_multi_arch_allowed() -> None:
    index = make_index([pkg("a", depends="perl:any"), pkg("perl", multi_arch="allowed")])
    assert set(names(index, "a")) == {"a", "perl"}
    index = make_index([pkg("a", depends="perl:any"), pkg("perl")])
    with pytest.raises(UnsatisfiableError, match="a -> perl:any"):
        resolve_closure(index, ["a"])


def test_multi_arch_foreign_tool_of_another_arch_satisfies_a_dependency() -> None:
    index = make_index(
        [pkg("app", depends="tool (>= 1)"), pkg("tool", "2", arch="amd64", multi_arch="foreign")]
    )
    closure = resolve_closure(index, ["app"])
    assert {(p.name, p.arch) for p in closure.packages} == {("app", "arm64"), ("tool", "amd64")}
    index = make_index([pkg("app", depends="tool"), pkg("tool", "2", arch="amd64")])
    with pytest.raises(UnsatisfiableError):
        resolve_closure(index, ["app"])


def test_multi_arch_same_library_is_installed_for_the_native_arch() -> None:
    index = make_index([pkg("app", depends="libx"), pkg("libx", multi_arch="same")])
    assert set(names(index, "app")) == {"app", "libx"}


def test_unknown_package_suggests_close_names() -> None:
    index = make_index([pkg("curl"), pkg("libcurl4"), pkg("nginx")])
    with pytest.raises(ResolveError, match="unknown package 'curll'") as info:
        resolve_closure(index, ["curll"])
    assert info.value.hint == "did you mean: curl?"


def test_unsatisfiable_chain_names_every_step_and_the_available_version() -> None:
    index = make_index([pkg("nginx", depends="libnginx"), pkg("libnginx", depends="libssl3 (>= 3.9)"),
                        pkg("libssl3", "3.0.15-1~deb12u1")])  # fmt: skip
    with pytest.raises(UnsatisfiableError) as info:
        resolve_closure(index, ["nginx"])
    assert str(info.value) == "nginx -> libnginx -> libssl3 (>= 3.9): only 3.0.15-1~deb12u1 is available"
    assert info.value.chain == ("nginx", "libnginx", "libssl3 (>= 3.9)")


def test_conflicting_requests_are_rejected() -> None:
    index = make_index([pkg("postfix", provides="mta", conflicts="mta"),
                        pkg("exim", provides="mta", conflicts="mta")])  # fmt: skip
    with pytest.raises(ResolveError, match="apt would reject"):
        resolve_closure(index, ["postfix", "exim"])


def test_a_package_may_conflict_with_what_it_provides() -> None:
    index = make_index([pkg("postfix", provides="mta", conflicts="mta")])
    assert set(names(index, "postfix")) == {"postfix"}


def test_essential_is_not_added_unless_asked() -> None:
    index = make_index([pkg("bash", essential=True, priority="required"), pkg("mawk", priority="required"),
                        pkg("curl", depends="libc"), pkg("libc")])  # fmt: skip
    assert set(names(index, "curl")) == {"curl", "libc"}
    assert set(names(index, "curl", with_essential=True)) == {"bash", "mawk", "curl", "libc"}


def test_closure_json_key_and_size() -> None:
    index = make_index([pkg("b", depends="a"), pkg("a", size=5)])
    closure = resolve_closure(index, ["b"])
    doc = closure.to_json()
    entries = doc["packages"]
    assert isinstance(entries, list)
    assert [p["name"] for p in entries] == ["a", "b"]
    assert set(entries[0]) == {"name", "version", "arch", "filename", "sha256", "size"}
    assert doc["dist"] == "bookworm" and closure.download_size == 105
    assert closure.key == resolve_closure(index, ["b", "a"]).key != resolve_closure(index, ["a"]).key
