# The human entry points. Every target that needs the machine prepared runs scripts/setup-host.sh
# first: it is idempotent and returns in about a second once everything is in place.
VENV    ?= .venv
BIN     := $(VENV)/bin
PYTEST  := $(BIN)/pytest
export DEBFORGE_TEST_CACHE ?= $(CURDIR)/.cache/test

.PHONY: setup lint test test-fast bench demo clean matrix realworld

setup:
	@bash scripts/setup-host.sh

lint: setup
	$(BIN)/ruff check debforge tests bench
	$(BIN)/ruff format --check debforge tests bench
	$(BIN)/mypy

# Everything CI runs: linters, unit, integration and end-to-end tests (real archive, Docker, QEMU).
# DEBFORGE_REQUIRE_TOOLS=1 turns "reference tool missing" from a skip into a failure.
test: lint
	DEBFORGE_REQUIRE_TOOLS=1 $(PYTEST) --doctest-modules -p no:cacheprovider

# Unit and integration tests only: no network, no Docker.
test-fast: setup
	$(PYTEST) --doctest-modules -m "not e2e"

# Every supported (dist, arch) pair, one after the other: hello-ssl packaged and test-installed under
# QEMU; each dist's images are pruned when the run moves on (scripts/matrix.sh; hours, not CI).
matrix: setup
	bash scripts/matrix.sh

# The real upstream Rust programs of recipes/ with Debian's crates: fd-find (also in `test`) and ripgrep.
realworld: setup
	DEBFORGE_REALWORLD=1 DEBFORGE_REQUIRE_TOOLS=1 $(PYTEST) -p no:cacheprovider tests/e2e/test_rust_projects_e2e.py

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

demo: setup
	bash scripts/demo.sh

clean:
	rm -rf .cache dist .pytest_cache .mypy_cache .ruff_cache
