#!/usr/bin/env bash
# The main job, end to end, on whatever this checkout can do so far.
set -euo pipefail
cd "$(dirname "$0")/.."
df=.venv/bin/debforge
args=(--dist bookworm --arch arm64)

echo "== debforge doctor"
$df doctor "${args[@]}" || true
echo "== debforge show libssl3 (candidate record, verified against the signed archive)"
$df show libssl3 "${args[@]}"
echo "== debforge resolve libssl-dev (the exact set apt would install)"
$df resolve libssl-dev "${args[@]}"
