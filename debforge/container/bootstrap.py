"""The bootstrap that runs inside a new image after debforge unpacked its packages: the scripts, as data.

Under QEMU every process costs about 80 ms before it does anything (qemu-user translates the dynamic
loader's work anew each time), so what runs there is kept to what dpkg would run.
"""

from __future__ import annotations

from pathlib import Path

from debforge.cache import key

# Run once inside the new system, as root, under QEMU when the target is foreign. It does what a
# bootstrap does after unpacking (debootstrap's second stage, mmdebstrap's essential step): run each
# preinst as dpkg would for a fresh install, Essential packages first, then `dpkg --configure -a`,
# which orders the postinsts by dependencies and moves the `.dpkg-new` conffiles into place.
_CONFIGURE = r"""#!/bin/sh
set -e
export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true LC_ALL=C.UTF-8
# /debforge/bin first: the shim of dpkg-maintscript-helper below.
system=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH=/debforge/bin:$system
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d  # invoke-rc.d: start no services (policy-rc.d)
chmod 755 /usr/sbin/policy-rc.d
# apt's source cache of the pre-filled lists does not depend on dpkg's status: build it beside the
# configure step (a second core; without the dpkg lock dpkg needs, and without pkgcache.bin, which
# holds the status), then only the status is merged at the end.
lists=$(ls /var/lib/apt/lists/ | grep -c _Packages || true)
if [ "$lists" -gt 0 ]; then apt-cache -o Debug::NoLocking=1 -o Dir::Cache::pkgcache= gencaches >/dev/null & fi
# The engine's own dash, perl and tools of the same versions, when container/native.py brought them
# (an emulated target): their libraries moved into directories the tree lacks, the interpreters
# swapped in and the tools first in PATH while the scripts run.
native=/debforge/native
if [ -d $native ]; then
  while read -r dir; do /bin/mv "$native/root/$dir" "/$dir"; done < $native/added
  export PATH=/debforge/bin:$native/bin:$system
  while read -r path; do
    mv "/$path" "$native/${path##*/}.target"
    mv "$native/${path##*/}" "/$path"
  done < $native/swaps
fi
arch=$(dpkg --print-architecture)
while read -r pkg info; do
  DPKG_MAINTSCRIPT_PACKAGE=$pkg DPKG_MAINTSCRIPT_NAME=preinst DPKG_ADMINDIR=/var/lib/dpkg DPKG_ROOT= \
    DPKG_MAINTSCRIPT_ARCH=$arch /var/lib/dpkg/info/$info.preinst install
done < /debforge/preinst
dpkg --configure -a
if [ -d $native ]; then  # the target's own files back, hard links too (overlayfs copied one name up)
  while read -r path; do mv "$native/${path##*/}.target" "/$path"; done < $native/swaps
  while read -r path other; do ln -f "/$path" "/$other"; done < $native/links
  export PATH=/debforge/bin:$system  # the target's tools again before their libraries go
  hash -r
  while read -r dir; do rm -rf "/$dir"; done < $native/added
fi
ldconfig  # libc-bin's trigger: unpacking outside dpkg activated none
rm -f /usr/sbin/policy-rc.d
rm -rf /debforge /var/log/dpkg.log /var/log/apt/*
# apt's binary cache, built once here rather than by every emulated apt run in the image.
if [ "$lists" -gt 0 ]; then wait; apt-cache gencaches >/dev/null; fi
"""

# dpkg-maintscript-helper(1) during that first configuration. Its rm_conffile, mv_conffile,
# symlink_to_dir and dir_to_symlink act only on an upgrade: in `preinst install` and `postinst
# configure` without an old version ($2 empty), and with no `<path>.dpkg-backup` an earlier upgrade
# left, the real helper does nothing after validating its arguments, which costs a shell, basename(1)
# and `dpkg --validate-version` each time. A bookworm minbase calls it 88 times; this shim answers
# those calls itself and hands every other one to the real helper.
_HELPER_SHIM = r"""#!/bin/sh
real() { exec "${DEBFORGE_REAL_HELPER:-/usr/bin/dpkg-maintscript-helper}" "$@"; }  # the variable: tests
case "$1" in rm_conffile|mv_conffile|symlink_to_dir|dir_to_symlink) ;; *) real "$@" ;; esac
seen='' n=0 action='' old=''
for arg do
  if [ -n "$seen" ]; then
    n=$((n + 1))
    if [ "$n" = 1 ]; then action=$arg; elif [ "$n" = 2 ]; then old=$arg; fi
  elif [ "$arg" = -- ]; then
    seen=1
  fi
done
case "$DPKG_MAINTSCRIPT_NAME:$action:$old" in
  preinst:install:|postinst:configure:) ;;
  *) real "$@" ;;
esac
backup="${2%/}.dpkg-backup"
if [ -e "$backup" ] || [ -h "$backup" ]; then real "$@"; fi
exit 0
"""

# Part of every image's definition digest: a change to either script makes new images.
BOOTSTRAP_DIGEST = key({"configure": _CONFIGURE, "helper": _HELPER_SHIM})


def write_bootstrap(root: Path) -> Path:
    """Write /debforge/configure and the helper shim into the unpacked tree; the /debforge directory
    (the configure script removes it when it is done)."""
    boot = root / "debforge"
    (boot / "bin").mkdir(parents=True)
    for path, text in (
        (boot / "configure", _CONFIGURE),
        (boot / "bin/dpkg-maintscript-helper", _HELPER_SHIM),
    ):
        path.write_text(text)
        path.chmod(0o755)
    return boot
