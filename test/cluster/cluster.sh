#!/usr/bin/env bash
# Local Kubernetes control plane for kubevmm's tests: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and KWOK (fake nodes) on 127.0.0.1,
# built from the upstream Go modules in this directory. See README.md.
# With KUBEVMM_REAL_NODE=1 it also runs a real node (kubelet, kube-proxy, containerd,
# CNI, CoreDNS, storage) in a network namespace of its own: node.sh.
#
#   cluster.sh up | down | status | restart-apiserver | env | build
#
# Only the `export ...` lines of `up` and `env` go to stdout, so
#   eval "$(bash test/cluster/cluster.sh up)"
# sets up the calling shell; everything else goes to stderr.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${KUBEVMM_CACHE:-$HOME/.cache/kubevmm}
STATE=${KUBEVMM_CLUSTER_DIR:-$HOME/.cache/kubevmm/cluster-state}
HOST=127.0.0.1
REAL_NODE=${KUBEVMM_REAL_NODE:-0}
APISERVER_PORT=${KUBEVMM_APISERVER_PORT:-16443}
ETCD_PORT=${KUBEVMM_ETCD_PORT:-12379}
ETCD_PEER_PORT=${KUBEVMM_ETCD_PEER_PORT:-12380}
CONTROLLER_MANAGER_PORT=${KUBEVMM_CONTROLLER_MANAGER_PORT:-20257}
SCHEDULER_PORT=${KUBEVMM_SCHEDULER_PORT:-20259}
FAKE_NODES=${KUBEVMM_FAKE_NODES:-node-a node-b}
# Components in start order.
COMPONENTS=(etcd apiserver controller-manager scheduler kwok)

K8S_VERSION=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$HERE/go.mod")
# The cache key changes with any input of the build, so a stale binary is never reused.
SOURCE_HASH=$(cd "$HERE" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-12)
BIN=$CACHE/cluster/$K8S_VERSION-$SOURCE_HASH/bin
PKI=$STATE/pki
LOGS=$STATE/logs
PIDS=$STATE/pids

log() { echo "cluster: $*" >&2; }
die() { log "$*"; exit 1; }

# shellcheck source=node.sh
source "$HERE/node.sh"
# The apiserver serves where its clients are: on loopback, or on the host's end of the real
# node's veth (pods and the kubelet reach it there; so do the tests on this host).
if ((REAL_NODE)); then APISERVER_HOST=$NODE_HOST_IP; else APISERVER_HOST=$HOST; fi

built() { [[ -x $BIN/kubevmm-cluster && -x $BIN/helm ]]; }

build() {
  built && return
  command -v go >/dev/null || die "go is needed to build the control plane (Go >= 1.26)"
  # Checkouts sharing the cache build one at a time; a waiter then finds it built.
  mkdir -p "$CACHE/cluster"
  exec 8>"$CACHE/cluster/.build.lock"
  flock 8
  if built; then exec 8>&-; return; fi
  local tmp=$BIN.tmp.$$ started=$SECONDS
  rm -rf "$tmp" && mkdir -p "$tmp"
  log "building Kubernetes $K8S_VERSION components into $BIN"
  log "(about 20 minutes on 2 cores with an empty Go build cache; 1-2 minutes to relink)"
  # Stamp the versions the upstream release builds stamp: /version (and so
  # helm's .Capabilities.KubeVersion) would otherwise say v0.0.0-master.
  local minor=${K8S_VERSION#v1.} helm_version v x
  minor=${minor%%.*}
  helm_version=$(awk '$1 == "helm.sh/helm/v3" { print $2; exit }' "$HERE/go.mod")
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
  done
  (cd "$HERE" &&
    go build -v -trimpath "-ldflags=-s -w$x" -o "$tmp/kubevmm-cluster" . &&
    go build -v -trimpath "-ldflags=-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version" \
      -o "$tmp/helm" helm.sh/helm/v3/cmd/helm) 2>"$tmp/build.log" &
  local pid=$! total
  total=$(cd "$HERE" && go list -deps . helm.sh/helm/v3/cmd/helm | sort -u | wc -l) || total="?"
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    log "  ... $((SECONDS - started))s, $(grep -c . "$tmp/build.log" || true) of $total packages compiled"
  done
  wait "$pid" || { tail -n 30 "$tmp/build.log" >&2; die "build failed (log: $tmp/build.log)"; }
  ln -sf kubevmm-cluster "$tmp/kubectl"
  rm -rf "$BIN" && mv "$tmp" "$BIN"
  # Each build is ~300 MB: drop those no up has used for a day (up touches its own).
  find "$CACHE/cluster" -mindepth 1 -maxdepth 1 -type d -mtime +0 -exec rm -rf {} +
  log "built in $((SECONDS - started))s"
  exec 8>&-
}

pid_of() { # prints the pid of a running component, fails if it is not running
  local file=$PIDS/$1 pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  # Guard against a recycled pid: it must still be our binary.
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE "(^|[/ ])$1 " || return 1
  echo "$pid"
}

start() { # start COMPONENT ARGS...: runs in its own session, detached from this shell
  local name=$1
  shift
  # 8>&- 9>&-: the component must not inherit (and so hold forever) a lock.
  setsid "$BIN/kubevmm-cluster" "$name" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$PIDS/$name"
}

stop() { # stop COMPONENT...: TERM, then KILL whatever still runs after 5s
  local name pid pids=()
  for name in "$@"; do
    if pid=$(pid_of "$name"); then
      pids+=("$pid")
      kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDS/$name"
  done
  # The apiserver alone would wait up to 60s for its clients to disconnect.
  for _ in $(seq 50); do
    kill -0 "${pids[@]}" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

wait_for() { # wait_for COMPONENT SECONDS COMMAND...: polls COMMAND until it succeeds
  local name=$1 timeout=$2 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [[ -f $PIDS/$name ]] && ! pid_of "$name" >/dev/null; then
      tail -n 5 "$LOGS/$name.log" >&2
      die "$name exited; log: $LOGS/$name.log"
    fi
    ((SECONDS < deadline)) || die "$name not ready after ${timeout}s; logs in $LOGS"
    sleep 0.2
  done
}

port_free() { ! (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

readyz() { curl -sf --cacert "$PKI/ca.crt" "https://$APISERVER_HOST:$APISERVER_PORT/readyz" >/dev/null; }

start_etcd() {
  start etcd --data-dir "$STATE/etcd" --unsafe-no-fsync \
    --listen-client-url "http://$HOST:$ETCD_PORT" --listen-peer-url "http://$HOST:$ETCD_PEER_PORT"
  wait_for etcd 60 curl -sf "http://$HOST:$ETCD_PORT/health"
}

# Without a real node: --endpoint-reconciler-type none, because the apiserver refuses
# to publish a loopback address as the endpoint of the `kubernetes` Service and no
# in-cluster client needs it. With one: pods reach the apiserver through that Service,
# it reaches the kubelet with a client certificate and verifies the kubelet's, and it
# calls webhooks and aggregated APIs at their pods' addresses (no kube-proxy on the host).
real_node_apiserver_flags() {
  ((REAL_NODE)) || { echo --endpoint-reconciler-type none; return; }
  echo --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --enable-aggregator-routing=true
}

start_apiserver() {
  # shellcheck disable=SC2046 # the flags are words without spaces
  start apiserver \
    --etcd-servers "http://$HOST:$ETCD_PORT" \
    --bind-address "$APISERVER_HOST" --advertise-address "$APISERVER_HOST" --secure-port "$APISERVER_PORT" \
    $(real_node_apiserver_flags) \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --authorization-mode RBAC,Node \
    --enable-admission-plugins NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,Priority,RuntimeClass,PodSecurity,NodeRestriction,StorageObjectInUseProtection,PersistentVolumeClaimResize,MutatingAdmissionWebhook,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook,ResourceQuota \
    --allow-privileged \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key"
  wait_for apiserver 120 readyz
}

start_rest() {
  local cm=$PKI/controller-manager.kubeconfig sched=$PKI/scheduler.kubeconfig
  start controller-manager \
    --kubeconfig "$cm" --authentication-kubeconfig "$cm" --authorization-kubeconfig "$cm" \
    --bind-address "$HOST" --secure-port "$CONTROLLER_MANAGER_PORT" --cert-dir "$STATE/controller-manager" \
    --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key"
  start scheduler \
    --kubeconfig "$sched" --authentication-kubeconfig "$sched" --authorization-kubeconfig "$sched" \
    --bind-address "$HOST" --secure-port "$SCHEDULER_PORT" --leader-elect=false
  "$BIN/kubevmm-cluster" kwok-stages >"$STATE/kwok-stages.yaml"
  # Simulated pods get loopback addresses (127.244.x.y): a launcher stand-in listening on
  # this host answers the operator at any simulated pod's IP (test/operator/hotplug.test.ts).
  start kwok --kubeconfig "$PKI/kwok.kubeconfig" --config "$STATE/kwok-stages.yaml" \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds 40 --node-ip "$HOST" --cidr 127.244.0.0/16
}

fake_node() { # the Node object KWOK manages; status is kept on create for Nodes
  # Beside a real node, pods must tolerate the fake nodes to land there (scale tests do).
  local taints="[]"
  ((REAL_NODE)) && taints="[{key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}]"
  cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $1
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kwok.x-k8s.io/node: fake, type: kwok, kubernetes.io/hostname: $1, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
spec:
  taints: $taints
status:
  capacity: &resources {cpu: "32", memory: 128Gi, pods: "250", devices.kubevmm.io/kvm: "1000"}
  allocatable: *resources
---
EOF
}

kubectl() { "$BIN/kubectl" --kubeconfig "$PKI/admin.kubeconfig" "$@"; }

print_env() {
  # The binaries the running cluster was started with, even if the sources changed since.
  local bin=$BIN
  [[ -f $STATE/bin ]] && bin=$(<"$STATE/bin")
  echo "export KUBECONFIG=$PKI/admin.kubeconfig"
  echo "export PATH=$bin:\$PATH"
}

up() {
  if pid_of apiserver >/dev/null && readyz; then
    log "already up (state in $STATE)"
    print_env
    return
  fi
  build
  ((REAL_NODE)) && node_build
  touch "${BIN%/bin}"
  local started=$SECONDS
  stop "${COMPONENTS[@]}" # leftovers of a half-started run
  ((REAL_NODE)) && node_down
  for port in "$APISERVER_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" "$CONTROLLER_MANAGER_PORT" "$SCHEDULER_PORT"; do
    port_free "$port" || die "port $HOST:$port is in use (set KUBEVMM_*_PORT, see README.md)"
  done
  mkdir -p "$LOGS" "$PIDS"
  echo "$BIN" >"$STATE/bin"
  ((REAL_NODE)) && node_network_up
  "$BIN/kubevmm-cluster" certs "$PKI" "https://$APISERVER_HOST:$APISERVER_PORT" "$APISERVER_HOST"
  grep -q "server: https://$APISERVER_HOST:$APISERVER_PORT\$" "$PKI/admin.kubeconfig" ||
    die "$STATE was set up for another apiserver address: run down first"
  start_etcd
  start_apiserver
  start_rest
  for n in $FAKE_NODES; do fake_node "$n"; done | kubectl apply -f - >&2
  # Their serving certs are self-signed, hence -k; /healthz needs no credentials.
  wait_for scheduler 60 curl -sfk "https://$HOST:$SCHEDULER_PORT/healthz"
  wait_for controller-manager 60 curl -sfk "https://$HOST:$CONTROLLER_MANAGER_PORT/healthz"
  # Pods can only be created once the namespace's service account exists.
  wait_for controller-manager 60 kubectl get serviceaccount default
  kubectl wait --for=condition=Ready node -l kwok.x-k8s.io/node=fake --timeout=60s >&2
  ((REAL_NODE)) && node_up
  log "up in $((SECONDS - started))s; logs in $LOGS"
  print_env
}

down() {
  # The node first (its pods end with it), etcd last, so the apiserver never sees its
  # storage vanish. node_down is a no-op when no node was started.
  node_down
  stop kwok scheduler controller-manager apiserver
  stop etcd
  rm -rf "$STATE"
  log "down"
}

status() {
  local c pid
  for c in "${COMPONENTS[@]}" "${NODE_COMPONENTS[@]}"; do
    [[ -f $PIDS/$c ]] || [[ " ${COMPONENTS[*]} " == *" $c "* ]] || continue
    if pid=$(pid_of "$c"); then echo "$c: running (pid $pid, log $LOGS/$c.log)"; else echo "$c: stopped"; fi
  done
  readyz 2>/dev/null || { echo "apiserver: not ready"; return 1; }
  echo "apiserver: https://$HOST:$APISERVER_PORT ready"
  kubectl get nodes
}

restart_apiserver() {
  pid_of apiserver >/dev/null || die "the apiserver is not running (run up first)"
  stop apiserver
  start_apiserver
  log "apiserver restarted"
}

# One command at a time per state directory: test runners may call up or
# down concurrently, and an up racing a down would leave half a cluster.
if [[ ${1:-} =~ ^(up|down|restart-apiserver|restart-kubelet)$ ]]; then
  mkdir -p "$(dirname "$STATE")"
  exec 9>"$STATE.lock"
  flock 9
fi

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  restart-apiserver) restart_apiserver ;;
  env) print_env ;;
  build) build && echo "$BIN" ;;
  restart-kubelet) restart_kubelet ;;
  retag-image) # retag-image REF NEWREF: a second, pinned name for an image on the real node
    ctr_node images tag --force "${2:?usage: cluster.sh retag-image REF NEWREF}" "${3:?NEWREF}" >/dev/null &&
      ctr_node images label "$3" io.cri-containerd.pinned=pinned >/dev/null ;;
  import-images) # import-images FILE: "<reference> <archive>" lines into the real node's containerd
    [[ -S $CONTAINERD_SOCK ]] || die "no real node is running (KUBEVMM_REAL_NODE=1 cluster.sh up)"
    import_images "${2:?usage: cluster.sh import-images FILE}" ;;
  *) die "usage: cluster.sh up|down|status|restart-apiserver|restart-kubelet|env|build|import-images FILE|retag-image REF NEWREF" ;;
esac
