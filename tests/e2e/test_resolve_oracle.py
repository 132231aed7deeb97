"""resolve_closure against real `apt-get install -s --no-install-recommends`, package by package.

Both read the same suites of the real archive (X, X-updates, X-security, main, arm64); apt runs in
its own isolated tree with an empty dpkg status. Every disagreement is a resolver bug.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from debforge.archive import fetch_index
from debforge.dists import make_target
from debforge.errors import DebforgeError
from debforge.resolve import resolve_closure
from debforge.session import Session
from tests.conftest import require_tool
from tests.helpers.aptoracle import SAMPLE, AptAnswer, AptOracle, make_oracle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def apt_oracles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AptOracle]:
    """One isolated apt tree per dist, `apt-get update`d once per session."""
    require_tool("apt-get")
    oracles = {}
    for dist in SAMPLE:
        oracle = make_oracle(Path(tmp_path_factory.mktemp(f"apt-{dist}")), dist, "arm64")
        oracle.update()
        oracles[dist] = oracle
    return oracles


def _ours(index: object, name: str) -> frozenset[tuple[str, str]] | str:
    try:
        closure = resolve_closure(index, [name])  # type: ignore[arg-type]  # a PackageIndex
    except DebforgeError as exc:
        return str(exc)
    return frozenset((p.name, p.version) for p in closure.packages)


def _disagreement(name: str, apt: AptAnswer, ours: frozenset[tuple[str, str]] | str) -> str | None:
    if isinstance(ours, str) or not apt.ok:
        if isinstance(ours, str) and not apt.ok:
            return None  # both refuse (virtual with several providers, held broken packages)
        return f"{name}: apt ok={apt.ok}, debforge: {ours if isinstance(ours, str) else 'ok'}"
    if ours == apt.packages:
        return None
    return f"{name}: apt only {sorted(apt.packages - ours)}; debforge only {sorted(ours - apt.packages)}"


@pytest.mark.parametrize("dist", sorted(SAMPLE))
def test_resolver_agrees_with_apt(dist: str, apt_oracles: dict[str, AptOracle], e2e_session: Session) -> None:
    index = fetch_index(e2e_session, make_target(dist, "arm64"))
    oracle = apt_oracles[dist]
    names = SAMPLE[dist]
    with ThreadPoolExecutor(max_workers=2) as pool:  # apt-get -s is single-threaded; CI has 2 cores
        answers = list(pool.map(oracle.simulate, names))
    problems = [p for n, a in zip(names, answers, strict=True) if (p := _disagreement(n, a, _ours(index, n)))]
    assert not problems, f"{len(names) - len(problems)}/{len(names)} agree on {dist}:\n" + "\n".join(problems)
    assert sum(a.ok for a in answers) >= len(names) - 3  # the sample really installs things


@pytest.mark.parametrize("dist", sorted(SAMPLE))
def test_with_essential_agrees_with_apt_installing_the_same_set(
    dist: str, apt_oracles: dict[str, AptOracle], e2e_session: Session
) -> None:
    index = fetch_index(e2e_session, make_target(dist, "arm64"))
    closure = resolve_closure(index, ["curl"], with_essential=True)
    # What --with-essential asks apt for: every Essential/required candidate plus the request.
    wanted = [p.name for p in closure.packages if p.essential or p.priority == "required"]
    apt = apt_oracles[dist].simulate(*wanted, "curl")
    assert apt.ok, apt.output[-500:]
    assert frozenset((p.name, p.version) for p in closure.packages) == apt.packages
    assert {"bash", "coreutils", "dpkg", "curl"} <= {p.name for p in closure.packages}


def test_several_requests_and_an_older_version_agree_with_apt(
    apt_oracles: dict[str, AptOracle], e2e_session: Session
) -> None:
    index = fetch_index(e2e_session, make_target("bookworm", "arm64"))
    oldest = index.versions("libssl3")[-1].version  # an older libssl3 than the candidate, whatever suite
    requests = [
        ("nginx", f"libssl3={oldest}"),
        ("postfix", "exim4"),
        ("curl", "wget", "git"),
        ("mawk", "gawk"),
    ]
    oracle = apt_oracles["bookworm"]
    problems = []
    for wanted in requests:
        apt = oracle.simulate(*wanted)
        try:
            ours: frozenset[tuple[str, str]] | str = frozenset(
                (p.name, p.version) for p in resolve_closure(index, wanted).packages
            )
        except DebforgeError as exc:
            ours = str(exc)
        if problem := _disagreement(" ".join(wanted), apt, ours):
            problems.append(problem)
    assert not problems, "\n".join(problems)


# --backports: the suite is pinned 100 by its Release (NotAutomatic + ButAutomaticUpgrades), so a plain
# request keeps the release's version and only `name/<dist>-backports` or `name=version` takes it.
BACKPORTS_PLAIN = ("curl", "git", "nginx", "python3", "systemd", "openssh-server", "golang-go", "cargo")


@pytest.fixture(scope="session")
def backports_oracles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AptOracle]:
    """One isolated apt tree per dist with <dist>-backports added, `apt-get update`d once."""
    require_tool("apt-get")
    oracles = {}
    for dist in ("bookworm", "trixie"):
        root = Path(tmp_path_factory.mktemp(f"apt-{dist}-backports"))
        oracles[dist] = make_oracle(root, dist, "arm64", backports=True)
        oracles[dist].update()
    return oracles


def _backported(index: object, dist: str, count: int) -> list[str]:
    """`count` names spread evenly over those with an arm64/all version in <dist>-backports."""
    suite = f"{dist}-backports"
    names = sorted(
        n
        for n in index.names()  # type: ignore[attr-defined]  # a PackageIndex
        if any(r.suite == suite for r in index.versions(n))  # type: ignore[attr-defined]
    )
    assert len(names) > count, f"{suite} lists only {len(names)} packages"
    return names[:: len(names) // count][:count]


@pytest.mark.parametrize("dist", ["bookworm", "trixie"])
def test_backports_agree_with_apt(
    dist: str, backports_oracles: dict[str, AptOracle], e2e_session: Session
) -> None:
    index = fetch_index(e2e_session, make_target(dist, "arm64", backports=True))
    oracle = backports_oracles[dist]
    chosen = _backported(index, dist, 20)
    newest = index.versions(chosen[0])[-1]  # name=version picks one version whatever its pin
    requests = [
        *BACKPORTS_PLAIN,  # plain: apt keeps the release's versions (priority 500 beats 100)
        *chosen,  # plain requests of backported names: the release's version when it has one
        *(f"{name}/{dist}-backports" for name in chosen),
        f"{chosen[0]}={newest.version}",
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(oracle.simulate, requests))
    problems = [
        p for n, a in zip(requests, answers, strict=True) if (p := _disagreement(n, a, _ours(index, n)))
    ]
    assert not problems, f"{len(requests) - len(problems)}/{len(requests)} agree on {dist}:\n" + "\n".join(
        problems
    )
    from_backports = [a for r, a in zip(requests, answers, strict=True) if r.endswith("-backports")]
    assert sum(a.ok for a in from_backports) >= len(chosen) // 2  # the suite really gets used
    # debforge's `name/backports` is short for `name/<dist>-backports`.
    assert _ours(index, f"{chosen[1]}/backports") == _ours(index, f"{chosen[1]}/{dist}-backports")
