#!/usr/bin/env bash
# The end-to-end cluster: the local control plane with a real node (test/cluster, KUBEVMM_REAL_NODE=1),
# kubevmm's images built without Docker and imported into the node's containerd, and kubevmm
# installed by its Helm chart the way a platform team installs it. See test/e2e/README.md.
#
#   e2e.sh up      prints the same `export ...` lines as `cluster.sh up`; idempotent
#   e2e.sh down    removes everything up made (processes, mounts, namespaces, bridge, state)
#   e2e.sh env     prints the exports of the running cluster
#   e2e.sh image NAME                  the reference of an imported image: kubevmm's (launcher, operator,
#                                      guest-disk) or the harness's (pause, coredns, volume-helper, ...)
#   e2e.sh retag REF NEWREF           a second name for an imported image (an "upgrade" for tests)
#   e2e.sh pv NAME SIZE [FILE] [--block]
#                  a static local PV on the node (class `local`): a directory holding disk.img
#                  (a sparse copy of FILE, else empty), or with --block a loop device (FILE
#                  copied onto it); printed: the PV's name
#
# It keeps its own state directory and ports, so the control-plane test cluster
# (`npm run cluster -- up`) can run beside it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${KUBEVMM_CACHE:-$HOME/.cache/kubevmm}
export KUBEVMM_REAL_NODE=1
export KUBEVMM_CLUSTER_DIR=${KUBEVMM_E2E_DIR:-$CACHE/e2e-state}
export KUBEVMM_APISERVER_PORT=${KUBEVMM_E2E_APISERVER_PORT:-17443}
export KUBEVMM_ETCD_PORT=${KUBEVMM_E2E_ETCD_PORT:-13379}
export KUBEVMM_ETCD_PEER_PORT=${KUBEVMM_E2E_ETCD_PEER_PORT:-13380}
export KUBEVMM_CONTROLLER_MANAGER_PORT=${KUBEVMM_E2E_CONTROLLER_MANAGER_PORT:-21257}
export KUBEVMM_SCHEDULER_PORT=${KUBEVMM_E2E_SCHEDULER_PORT:-21259}
NODE_NAME=${KUBEVMM_NODE_NAME:-node-real}
RELEASE=kubevmm
NAMESPACE=kubevmm-system
CLUSTER=(bash "$REPO/test/cluster/cluster.sh")

log() { echo "e2e: $*" >&2; }
die() { log "$*"; exit 1; }

ref_of() { awk -v repo="kubevmm.local/$1" 'index($1, repo ":") == 1 { print $1; exit }' "$2"; }

install_kubevmm() {
  local images=$KUBEVMM_CLUSTER_DIR/kubevmm-images operator launcher
  bash "$REPO/scripts/images/build.sh" operator launcher guest-disk >"$images" || die "building kubevmm's images failed"
  "${CLUSTER[@]}" import-images "$images"
  operator=$(ref_of operator "$images")
  launcher=$(ref_of launcher "$images")
  [[ -n $operator && -n $launcher ]] || die "the image build printed no operator or launcher reference"
  # A name that stays put for people and examples (examples/real-node.yaml); not :latest, so
  # the kubelet never tries to pull it.
  "${CLUSTER[@]}" retag-image "$(ref_of guest-disk "$images")" kubevmm.local/guest-disk:local
  # Helm installs the chart's CRDs once and never upgrades them; apply the current ones first,
  # as docs/upgrades.md tells users to.
  kubectl apply --server-side --force-conflicts -f "$REPO/crds/" >&2
  # One replica (of the operator and of the subresource server): two cores run everything
  # here; leader election still runs (a Lease).
  # No device plugin: VMs run under TCG (/dev/kvm here does not boot ordinary guests).
  helm upgrade --install "$RELEASE" "$REPO/helm/kubevmm" --namespace "$NAMESPACE" --create-namespace \
    --set image.repository="${operator%:*}" --set image.tag="${operator##*:}" \
    --set launcherImage="$launcher" --set accelerator=tcg --set replicaCount=1 --set subresources.replicas=1 \
    --set devicePlugin.enabled=false --set podDisruptionBudget.enabled=false \
    --wait --timeout 5m >&2
}

up() {
  local exports started=$SECONDS
  exports=$("${CLUSTER[@]}" up)
  eval "$exports"
  install_kubevmm
  log "up in $((SECONDS - started))s"
  echo "$exports"
}

# A static PersistentVolume of class `local` on the real node, as a platform team would
# prepare one; down detaches the loop devices (their files are in the state directory).
local_pv() {
  local name=${1:?usage: e2e.sh pv NAME SIZE [FILE] [--block]} size=${2:?size} file=${3:-} mode=Filesystem path
  [[ $file == --block ]] && file=
  [[ " $* " == *" --block "* ]] && mode=Block
  local dir=$KUBEVMM_CLUSTER_DIR/node/pvs/$name bytes
  bytes=$(numfmt --from=iec-i "$size" 2>/dev/null) || die "size $size: use a binary quantity such as 256Mi or 2Gi"
  [[ -e $dir ]] && die "$dir exists: PV $name was made before"
  mkdir -p "$dir"
  if [[ $mode == Block ]]; then
    truncate -s "$bytes" "$dir/device.img"
    [[ -n $file ]] && dd if="$file" of="$dir/device.img" conv=notrunc,sparse bs=1M status=none
    path=$(losetup --find --show "$dir/device.img") || die "no loop device for $dir/device.img"
  else
    chmod 0777 "$dir"
    if [[ -n $file ]]; then cp --sparse=always "$file" "$dir/disk.img"; else truncate -s "$bytes" "$dir/disk.img"; fi
    chmod 0666 "$dir/disk.img"
    path=$dir
  fi
  kubectl apply -f - >&2 <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: $name, labels: {kubevmm.io/e2e-pv: "$name"}}
spec:
  capacity: {storage: $size}
  volumeMode: $mode
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local
  local: {path: $path}
  nodeAffinity:
    required:
      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}]}]
YAML
  echo "$name"
}

case ${1:-} in
  up) up ;;
  image) cat "$KUBEVMM_CLUSTER_DIR/kubevmm-images" "$KUBEVMM_CLUSTER_DIR/node/harness-images" 2>/dev/null | ref_of "${2:?usage: e2e.sh image NAME}" - ;;
  pv) shift; eval "$("${CLUSTER[@]}" env)"; local_pv "$@" ;;
  retag) "${CLUSTER[@]}" retag-image "${2:?usage: e2e.sh retag REF NEWREF}" "${3:?NEWREF}" ;;
  restart-kubelet) "${CLUSTER[@]}" restart-kubelet ;;
  down) "${CLUSTER[@]}" down ;;
  env) "${CLUSTER[@]}" env ;;
  status) "${CLUSTER[@]}" status ;;
  *) die "usage: e2e.sh up|down|env|status|image NAME|pv NAME SIZE [FILE] [--block]|retag REF NEWREF|restart-kubelet" ;;
esac
