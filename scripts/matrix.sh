#!/usr/bin/env bash
# `make matrix`: every supported (dist, arch) pair from debforge/dists.py, one after the other, each
# packaging recipes/hello-ssl and test-installing it under QEMU (`package --test`). Disk is limited:
# when the run moves on to the next dist, the debforge images of the one it leaves are removed.
# Results (pair, exit code, seconds) go to $MATRIX_OUT/results.tsv, ready for the README table.
# MATRIX_DISTS / MATRIX_ARCHES (comma lists) narrow the run, MATRIX_PAIRS (dist/arch,...) names the
# pairs outright (to finish a table over several runs); MATRIX_KEEP_IMAGES=1 skips the pruning;
# MATRIX_FLAGS adds options to every pair (e.g. "--no-check-valid-until" against a frozen mirror).
set -u
BIN=${BIN:-.venv/bin}
OUT=${MATRIX_OUT:-.cache/matrix}
RECIPE=${MATRIX_RECIPE:-recipes/hello-ssl}
mkdir -p "$OUT"
results="$OUT/results.tsv"
printf 'pair\texit\tseconds\n' > "$results"

pairs=$("$BIN/python" - <<'PY'
import os
from debforge.dists import supported_arches, supported_dists
named = [p.split("/") for p in os.environ.get("MATRIX_PAIRS", "").split(",") if p]
for dist, arch in named:
    if arch not in supported_arches(dist):
        raise SystemExit(f"matrix: {dist}/{arch} is not a supported pair")
    print(dist, arch)
dists = [] if named else [d for d in os.environ.get("MATRIX_DISTS", "").split(",") if d] or supported_dists()
arches = [a for a in os.environ.get("MATRIX_ARCHES", "").split(",") if a]
for dist in dists:
    for arch in supported_arches(dist):
        if not arches or arch in arches:
            print(dist, arch)
PY
) || exit 2

prune() {  # the images debforge built for one dist (tags debforge/<dist>-<arch>-<kind>:<digest>)
  [ "${MATRIX_KEEP_IMAGES:-0}" = 1 ] && return
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^debforge/$1-" | xargs -r docker rmi -f >/dev/null
}

failed=0 previous=""
while read -r dist arch; do
  [ -z "$dist" ] && continue
  if [ -n "$previous" ] && [ "$previous" != "$dist" ]; then prune "$previous"; fi
  previous=$dist
  start=$(date +%s)
  # shellcheck disable=SC2086 # MATRIX_FLAGS is a list of options
  "$BIN/debforge" --progress plain package "$RECIPE" --dist "$dist" --arch "$arch" --test \
    --out "$OUT/$dist-$arch" ${MATRIX_FLAGS:-} >"$OUT/$dist-$arch.log" 2>&1
  code=$?
  seconds=$(( $(date +%s) - start ))
  printf '%s-%s\t%s\t%s\n' "$dist" "$arch" "$code" "$seconds" | tee -a "$results"
  [ "$code" = 0 ] || failed=1
done <<< "$pairs"
[ -n "$previous" ] && prune "$previous"
exit $failed
