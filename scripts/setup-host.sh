#!/usr/bin/env bash
# Prepare this machine for debforge: system packages, binfmt_misc + QEMU, a running Docker
# engine, and a virtualenv with debforge and its test extras. Idempotent: every step checks
# first and does nothing when its job is already done.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${DEBFORGE_VENV:-$here/.venv}
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

packages=(
  docker.io qemu-user-static binfmt-support gpg gpgv debian-archive-keyring
  dpkg-dev lintian xz-utils zstd ca-certificates python3-venv
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
  gcc-arm-linux-gnueabihf binutils-arm-linux-gnueabihf patchelf apt-utils
  gcc-s390x-linux-gnu binutils-s390x-linux-gnu gcc-i686-linux-gnu binutils-i686-linux-gnu
  mmdebstrap arch-test pkg-config git util-linux
)

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return; fi
  say "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_binfmt() {
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    say "mounting binfmt_misc"
    $sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    say "registering QEMU binfmt handlers"
    $sudo update-binfmts --enable >/dev/null 2>&1 || true
    # binfmt-support's postinst registers nothing when binfmt_misc was not mounted at install
    # time; importing the formats shipped by qemu-user-static does it now.
    for f in /usr/share/binfmts/qemu-*; do
      $sudo update-binfmts --import "$(basename "$f")" >/dev/null 2>&1 || true
    done
  fi
}

docker_answers() { timeout 5 docker version >/dev/null 2>&1; }

start_docker() {
  if docker_answers; then return; fi
  say "starting dockerd"
  $sudo mkdir -p /var/log
  # No init system runs dockerd on these machines; start it detached so it outlives this script.
  $sudo bash -c 'setsid nohup dockerd >/var/log/dockerd.log 2>&1 < /dev/null &'
  for _ in $(seq 1 60); do
    if docker_answers; then return; fi
    sleep 1
  done
  say "dockerd did not answer within 60 s; see /var/log/dockerd.log"
  tail -n 20 /var/log/dockerd.log >&2 || true
  exit 1
}

setup_venv() {
  local stamp="$venv/.debforge-installed"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$here/pyproject.toml" ]; then return; fi
  say "creating virtualenv $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >/dev/null
  "$venv/bin/pip" install -q -e "$here[test,dev]"
  touch "$stamp"
}

install_packages
setup_binfmt
start_docker
setup_venv
say "ready"
