#!/usr/bin/env bash
# The README's first command: make sure QEMU and the tiny test guest are there, then boot the
# quickstart VM locally with `kubevmm play` (no cluster). The guest powers itself off after a
# few seconds; type in its shell before that, or press Ctrl-C for a graceful shutdown.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
image=$(bash test/fixtures/guest/build.sh)
# /dev/kvm may exist without working (nested or restricted hosts): TCG is the safe default here.
# On a machine with working KVM: KUBEVMM_ACCEL=auto bash scripts/quickstart.sh
exec node bin/kubevmm.js play examples/quickstart.yaml --disk root="$image" --accel "${KUBEVMM_ACCEL:-tcg}"
