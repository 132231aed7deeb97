#!/usr/bin/env bash
# One CI job of the debforge publishing recipe (docs/ci.md): package a project for one
# dist/arch, test-install it in a fresh container, then add it to an apt repository and publish
# it signed. The GitHub Actions workflow in docs/ci.md calls this script, and
# tests/e2e/test_repo_e2e.py runs it too, so the recipe cannot rot.
#
# Environment (all optional except DEBFORGE_REPO):
#   DEBFORGE_REPO          repository directory (created with `repo init` when it does not exist)
#   DIST, ARCH             target of this job (default bookworm, arm64)
#   PROJECT_DIR            project or recipe directory to package (default .)
#   DEBFORGE_PREBUILT_DEBS .debs (space-separated paths, or one directory) built elsewhere: skips
#                          the package step (and test-install unless DEBFORGE_TEST_INSTALL=1)
#   DEBFORGE_SKIP_TEST_INSTALL=1  skip test-install
#   REPO_DISTS, REPO_ARCHES, REPO_COMPONENT  for `repo init` (default DIST, ARCH, main; comma lists)
#   REPO_ORIGIN, REPO_LABEL        Release Origin/Label for `repo init` (default debforge)
#   KEEP_VERSIONS          keep this many versions of each package (prune older ones) before publishing
#   PUBLISH_ARGS           extra arguments to `repo publish` (e.g. "--valid-for 30")
#   DEBFORGE               the debforge command (default: debforge)
# Signing comes from the environment as `debforge repo publish` reads it: DEBFORGE_SIGN_KEY,
# DEBFORGE_SIGN_PRIVATE_KEY (armored secret key, e.g. a CI secret), DEBFORGE_SIGN_PASSPHRASE.
set -euo pipefail

: "${DEBFORGE_REPO:?set DEBFORGE_REPO to the repository directory}"
dist=${DIST:-bookworm}
arch=${ARCH:-arm64}
project=${PROJECT_DIR:-.}
read -r -a debforge <<<"${DEBFORGE:-debforge}"
say() { printf '\033[1mci-publish:\033[0m %s\n' "$*" >&2; }

debs=()
if [ -n "${DEBFORGE_PREBUILT_DEBS:-}" ]; then
  if [ -d "$DEBFORGE_PREBUILT_DEBS" ]; then
    debs=("$DEBFORGE_PREBUILT_DEBS"/*.deb)
  else
    read -r -a debs <<<"$DEBFORGE_PREBUILT_DEBS"
  fi
  say "using ${#debs[@]} prebuilt deb(s)"
else
  out=$(mktemp -d)
  say "packaging $project for $dist/$arch"
  "${debforge[@]}" package "$project" --dist "$dist" --arch "$arch" --out "$out"
  debs=("$out"/*.deb)
fi
if [ ${#debs[@]} -eq 0 ] || [ ! -f "${debs[0]}" ]; then
  say "no .deb to publish"
  exit 1
fi

test_install=1
if [ -n "${DEBFORGE_PREBUILT_DEBS:-}" ] && [ "${DEBFORGE_TEST_INSTALL:-0}" != 1 ]; then test_install=0; fi
if [ "${DEBFORGE_SKIP_TEST_INSTALL:-0}" = 1 ]; then test_install=0; fi
if [ "$test_install" = 1 ]; then
  say "test-installing in a fresh $dist/$arch container"
  "${debforge[@]}" test-install --dist "$dist" --arch "$arch" "${debs[@]}"
fi

if [ ! -f "$DEBFORGE_REPO/.debforge/repo.json" ]; then
  say "creating the repository in $DEBFORGE_REPO"
  init=(repo init --repo "$DEBFORGE_REPO" --component "${REPO_COMPONENT:-main}"
        --arch "${REPO_ARCHES:-$arch}" --origin "${REPO_ORIGIN:-debforge}" --label "${REPO_LABEL:-debforge}")
  IFS=, read -r -a dists <<<"${REPO_DISTS:-$dist}"
  for d in "${dists[@]}"; do init+=(--dist "$d"); done
  "${debforge[@]}" "${init[@]}"
fi

say "adding ${#debs[@]} deb(s) to $dist"
"${debforge[@]}" repo add --repo "$DEBFORGE_REPO" --dist "$dist" "${debs[@]}"
if [ -n "${KEEP_VERSIONS:-}" ]; then
  "${debforge[@]}" repo prune --repo "$DEBFORGE_REPO" --keep-versions "$KEEP_VERSIONS"
fi
read -r -a publish_args <<<"${PUBLISH_ARGS:-}"
"${debforge[@]}" repo publish --repo "$DEBFORGE_REPO" "${publish_args[@]}"
# The public key beside the repository, for clients' /etc/apt/keyrings/ (signed-by).
"${debforge[@]}" repo export-key --repo "$DEBFORGE_REPO" >"$DEBFORGE_REPO/archive-key.asc"
say "published $DEBFORGE_REPO"
