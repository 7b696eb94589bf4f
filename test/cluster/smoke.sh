#!/usr/bin/env bash
# Smoke test of the local control plane: brings it up, checks that the real
# scheduler places a pod needing /dev/kvm on a fake node and KWOK runs it,
# that ResourceQuota admission refuses a pod over quota, that state survives
# an apiserver restart, that deletion completes as with a kubelet, that helm
# runs; then brings it down.
set -euo pipefail

CLUSTER=("bash" "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cluster.sh")
NS=smoke

step() { echo "smoke: $*" >&2; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

kvm_pod() { # kvm_pod NAME: a pod asking for one /dev/kvm device
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  containers:
  - name: launcher
    image: kubevmm.invalid/launcher:smoke
    resources:
      limits: {cpu: 100m, memory: 64Mi, devices.kubevmm.io/kvm: "1"}
EOF
}

step "up"
env_lines=$("${CLUSTER[@]}" up)
eval "$env_lines"
trap '"${CLUSTER[@]}" down' EXIT
[[ $(command -v kubectl) == */bin/kubectl ]] || fail "kubectl is not on PATH from up's output"

step "second up reports the running cluster"
"${CLUSTER[@]}" up 2>&1 >/dev/null | grep -q "already up" || fail "second up did not say 'already up'"

step "pod requesting devices.kubevmm.io/kvm runs on a fake node"
kubectl create namespace "$NS"
kubectl wait --for=create serviceaccount/default -n "$NS" --timeout=30s
kvm_pod vm-1 | kubectl apply -n "$NS" -f -
kubectl wait -n "$NS" --for=condition=Ready pod/vm-1 --timeout=60s
phase=$(kubectl get -n "$NS" pod/vm-1 -o jsonpath='{.status.phase} {.spec.nodeName}')
[[ $phase =~ ^Running\ node-[ab]$ ]] || fail "vm-1 is '$phase', expected Running on node-a or node-b"

step "ResourceQuota refuses a pod over quota"
kubectl create quota kvm -n "$NS" --hard=requests.devices.kubevmm.io/kvm=1
kubectl wait -n "$NS" --for=jsonpath='{.status.used.requests\.devices\.kubevmm\.io/kvm}'=1 quota/kvm --timeout=60s
if out=$(kvm_pod vm-2 | kubectl apply -n "$NS" -f - 2>&1); then fail "vm-2 was admitted over quota"; fi
[[ $out == *"exceeded quota: kvm"* ]] || fail "unexpected refusal message: $out"
step "  refused: $out"

step "etcd state survives an apiserver restart"
"${CLUSTER[@]}" restart-apiserver
kubectl get -n "$NS" pod/vm-1 >/dev/null || fail "vm-1 is gone after the apiserver restart"

step "a deleted pod is finished as a kubelet would"
kubectl delete -n "$NS" pod/vm-1 --timeout=60s
if kubectl get -n "$NS" pod/vm-1 2>/dev/null; then fail "vm-1 still exists"; fi

step "helm runs"
helm version

step "down"
trap - EXIT
"${CLUSTER[@]}" down
echo "smoke: ok"
