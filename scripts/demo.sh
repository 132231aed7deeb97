#!/usr/bin/env bash
# The main job, end to end: package recipes/hello-ssl for bookworm arm64 from this x86_64 machine,
# then install and run it in a fresh bookworm arm64 container with the target's real apt.
set -euo pipefail
cd "$(dirname "$0")/.."
df=.venv/bin/debforge
target=(--dist bookworm --arch arm64)

echo "== debforge doctor"
$df doctor "${target[@]}" || true
echo "== debforge package recipes/hello-ssl (cross build, ELF repair, Depends, reproducible .deb)"
$df package recipes/hello-ssl "${target[@]}" --out dist
deb=$(ls -t dist/hello-ssl_*_arm64.deb | head -n 1)
dpkg-deb --info "$deb"
echo "== debforge test-install $deb (fresh arm64 container under QEMU: install, run, remove, purge)"
$df test-install "$deb" "${target[@]}" --run hello-ssl --expect "OpenSSL 3"
