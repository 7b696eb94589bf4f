#!/usr/bin/env bash
# Installs the Debian packages kubevmm's launcher, guest fixture and tests need, only when
# one is missing (so reruns take a second). Not root: prints the command to run instead.
set -euo pipefail

# qemu-system-x86/qemu-utils: the hypervisor and qemu-img; ovmf: EFI firmware; xorriso: the
# cloud-init ISO; tmux drives `kubevmm play` in a real terminal in tests; the rest builds
# the test guest (test/fixtures/guest/build.sh).
PACKAGES=(qemu-system-x86 qemu-utils ovmf xorriso busybox-static cpio dosfstools mtools syslinux syslinux-common tmux)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "kubevmm: missing Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "kubevmm: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
