"""The plan key of a `package` run: what changes it, what does not; a stored result is reused only intact."""

from __future__ import annotations

import shutil
from pathlib import Path

from debforge.cache import Cache
from debforge.pipeline.finished import load_finished, plan_key, store_finished
from debforge.recipe import load_recipe
from debforge.report import NullReporter

HELLO = Path(__file__).resolve().parents[1] / "recipes" / "hello-ssl"
INPUTS = {"target": "bookworm/arm64", "indexes": ["k1", "k2"], "options": {"test": True}}


def _key(project: Path, out: Path, **inputs: object) -> str:
    recipe = load_recipe(project, arch="arm64", reporter=NullReporter())
    return plan_key(recipe, inputs={**INPUTS, **inputs}, out=out)


def test_the_key_follows_sources_options_and_indexes_not_cargo_output(tmp_path: Path) -> None:
    project = tmp_path / "hello-ssl"
    shutil.copytree(HELLO, project)
    out = tmp_path / "out"
    first = _key(project, out)
    assert _key(project, out) == first
    (project / "target/release").mkdir(parents=True)
    (project / "target/release/hello-ssl").write_bytes(b"cargo's output is not an input")
    assert _key(project, out) == first
    assert _key(project, out, indexes=["k1", "k3"]) != first  # the archive moved on
    assert _key(project, out, options={"test": False}) != first
    assert _key(project, tmp_path / "elsewhere") != first
    main = project / "src/main.rs"
    main.write_text(main.read_text() + "\n// an edit\n")
    assert _key(project, out) != first


class Result:
    """What load_finished looks at: `record`, and `package`/`dbgsym` (absent here: none to check)."""

    def __init__(self, record: Path) -> None:
        self.record = record


def test_a_stored_result_is_reused_only_while_its_files_are_there(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache").ensure()
    assert load_finished(cache, "k") is None
    record = tmp_path / "x.deb.buildinfo.json"
    record.write_text("{}")

    store_finished(cache, "k", Result(record))
    assert isinstance(load_finished(cache, "k"), Result)
    record.unlink()
    assert load_finished(cache, "k") is None
