# shellcheck shell=bash
# The real node of the local cluster (sourced by cluster.sh when KUBEVMM_REAL_NODE=1): a
# kubelet and kube-proxy from the same multi-call binary as the control plane, containerd 2.4
# with runc, the CNI bridge, and, as pods, CoreDNS and the local-path provisioner. See
# README.md ("The real node") and ../../../shared/real-node.md for the measured facts.
#
# Everything of the node's network lives in the network namespace $NODE_NETNS: a veth pair
# joins it to the host ($NODE_HOST_IP here, $NODE_IP there), the apiserver serves on
# $NODE_HOST_IP, the pod bridge and kube-proxy's rules are inside. The node namespace has no
# default route, so nothing a pod sends can leave this machine. Deleting the namespace
# removes the bridge, the rules, the routes and the sysctls.
#
# Processes enter it with `nsenter --net=` only: they share the host's mount namespace, because
# the kubelet, containerd and runc must see each other's volume mounts.

NODE_NAME=${KUBEVMM_NODE_NAME:-node-real}
NODE_NETNS=${KUBEVMM_NODE_NETNS:-kubevmm-node}
NODE_HOST_IP=${KUBEVMM_NODE_HOST_IP:-10.87.0.1}
NODE_IP=${KUBEVMM_NODE_IP:-10.87.0.2}
NODE_VETH=${KUBEVMM_NODE_VETH:-kvmm-node0}
POD_CIDR=${KUBEVMM_POD_CIDR:-10.88.0.0/16}
POD_GATEWAY=${KUBEVMM_POD_GATEWAY:-10.88.0.1}
CLUSTER_DNS=10.0.0.10
NODE_COMPONENTS=(containerd kubelet kube-proxy)

# Built from their Go modules with `go install`, cached by version (modules are immutable).
CONTAINERD_VERSION=v2.4.2
CRICTL_VERSION=v1.37.0
COREDNS_VERSION=v1.15.0
LOCAL_PATH_VERSION=v0.0.30

REPO_ROOT=$(cd "$HERE/../.." && pwd)
NODE_DIR=$STATE/node
CONTAINERD_SOCK=$NODE_DIR/containerd/containerd.sock
NETNS_PATH=/run/netns/$NODE_NETNS

in_node() { nsenter --net="$NETNS_PATH" -- "$@"; }

tool_dir() { echo "$CACHE/node/$1-$2/bin"; } # tool_dir NAME VERSION

go_tool() { # go_tool NAME VERSION LDFLAGS PACKAGE...: go install into the tool's cache dir
  local name=$1 version=$2 ldflags=$3 dir tmp
  shift 3
  dir=$(tool_dir "$name" "$version")
  [[ -f $dir/.complete ]] && return
  command -v go >/dev/null || die "go is needed to build $name $version (Go >= 1.26)"
  mkdir -p "$CACHE/node"
  tmp=$dir.tmp.$$
  rm -rf "$tmp" && mkdir -p "$tmp"
  log "building $name $version from its Go module"
  local started=$SECONDS pkg
  for pkg in "$@"; do
    CGO_ENABLED=0 GOBIN=$tmp go install -trimpath "-ldflags=-s -w $ldflags" "$pkg@$version" >&2 ||
      die "building $pkg@$version failed"
  done
  touch "$tmp/.complete"
  rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && mv "$tmp" "$dir"
  log "built $name in $((SECONDS - started))s"
}

node_build() {
  exec 7>"$CACHE/node.build.lock"
  flock 7
  go_tool containerd "$CONTAINERD_VERSION" "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
    github.com/containerd/containerd/v2/cmd/containerd \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr
  go_tool crictl "$CRICTL_VERSION" "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
  go_tool coredns "$COREDNS_VERSION" "" github.com/coredns/coredns
  go_tool local-path-provisioner "$LOCAL_PATH_VERSION" "" github.com/rancher/local-path-provisioner
  exec 7>&-
  local p
  for p in runc iptables conntrack; do
    command -v "$p" >/dev/null || die "$p is missing: apt-get install -y runc iptables conntrack containernetworking-plugins (or bash scripts/install-deps.sh)"
  done
  for p in bridge host-local loopback portmap; do
    [[ -x /usr/lib/cni/$p ]] || die "the CNI plugin $p is missing: apt-get install -y containernetworking-plugins"
  done
}

ctr_node() { "$(tool_dir containerd "$CONTAINERD_VERSION")/ctr" --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

write_containerd_config() {
  local dir=$NODE_DIR/containerd
  mkdir -p "$dir/root" "$dir/state" "$NODE_DIR/cni/net.d" "$NODE_DIR/cni/ipam" "$NODE_DIR/runc"
  # Every path under $NODE_DIR, so that down removes all of it; no imports of the machine's
  # /etc/containerd. restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so negative
  # scores are refused. device_ownership_from_security_context: a Block PV's device node is
  # owned by the pod's runAsUser/runAsGroup, so the non-root launcher can open it.
  cat >"$dir/config.toml" <<TOML
version = 4
root = '$dir/root'
state = '$dir/state'
imports = []
oom_score = 0

[plugins]
  [plugins.'io.containerd.server.v1.grpc']
    address = '$CONTAINERD_SOCK'
  [plugins.'io.containerd.server.v1.ttrpc']
    address = '$CONTAINERD_SOCK.ttrpc'
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '$(harness_image_ref pause)'
  [plugins.'io.containerd.cri.v1.runtime']
    restrict_oom_score_adj = true
    device_ownership_from_security_context = true
    netns_mounts_under_state_dir = true
    enable_unprivileged_ports = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '$(command -v runc)'
        Root = '$NODE_DIR/runc'
        SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '$NODE_DIR/cni/net.d'
TOML
  # isGateway: pods route through the node namespace, which routes only to the host's end of
  # the veth: no default route, no masquerade, so no pod traffic leaves the machine.
  cat >"$NODE_DIR/cni/net.d/10-kubevmm.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "kubevmm",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$NODE_DIR/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
}

write_node_configs() {
  mkdir -p "$NODE_DIR/kubelet" "$NODE_DIR/pod-logs"
  # No nameserver: pods with dnsPolicy Default (CoreDNS itself) get none, and CoreDNS forwards
  # nothing; cluster names resolve through $CLUSTER_DNS.
  echo "# kubevmm test node: no upstream resolver" >"$NODE_DIR/resolv.conf"
  cat >"$NODE_DIR/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/node-$NODE_NAME-serving.crt
tlsPrivateKeyFile: $PKI/node-$NODE_NAME-serving.key
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
# cgroup v1 is what this machine has; the kubelet refuses it unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
# Root lacks CAP_SYS_RESOURCE here: a negative oom_score_adj is refused.
oomScoreAdj: 0
clusterDNS: [$CLUSTER_DNS]
clusterDomain: cluster.local
resolvConf: $NODE_DIR/resolv.conf
podLogsDir: $NODE_DIR/pod-logs
# Nothing can be pulled back once removed: never collect images, evict only at the edge.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
serializeImagePulls: false
containerLogMaxSize: 10Mi
containerLogMaxFiles: 2
nodeStatusReportFrequency: 10s
YAML
  cat >"$NODE_DIR/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
oomScoreAdj: 0
# nf_conntrack_max is global to the machine, not per namespace: leave every conntrack sysctl alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s, udpTimeout: 0s, udpStreamTimeout: 0s}
YAML
}

# Facts about the machine before up, so down restores exactly them.
remember_host_state() {
  [[ -f $NODE_DIR/host-state ]] && return
  {
    mountpoint -q /run/netns && echo "run_netns_mounted=1" || echo "run_netns_mounted=0"
    [[ -e /var/lib/kubelet ]] && echo "var_lib_kubelet=1" || echo "var_lib_kubelet=0"
    [[ -e /var/log/containers ]] && echo "var_log_containers=1" || echo "var_log_containers=0"
    [[ -e /var/lib/cni ]] && echo "var_lib_cni=1" || echo "var_lib_cni=0"
    [[ -e /run/containerd ]] && echo "run_containerd=1" || echo "run_containerd=0"
  } >"$NODE_DIR/host-state"
}

node_network_up() {
  mkdir -p "$NODE_DIR"
  remember_host_state
  [[ -e $NETNS_PATH ]] && die "network namespace $NODE_NETNS exists already (a node that was not brought down? run down)"
  ip link show "$NODE_VETH" >/dev/null 2>&1 && die "interface $NODE_VETH exists already (run down)"
  ip netns add "$NODE_NETNS"
  ip link add "$NODE_VETH" type veth peer name eth0 netns "$NODE_NETNS"
  ip addr add "$NODE_HOST_IP/30" dev "$NODE_VETH"
  ip link set "$NODE_VETH" up
  in_node ip link set lo up
  in_node ip addr add "$NODE_IP/30" dev eth0
  in_node ip link set eth0 up
  in_node sysctl -qw net.ipv4.ip_forward=1
  # Service traffic between two pods on the bridge must pass kube-proxy's rules both ways.
  in_node sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || log "warning: bridge-nf-call-iptables is not settable in $NODE_NETNS"
  # The host reaches pods (webhooks, aggregated APIs, tests) through the node; nothing else.
  ip route add "$POD_CIDR" via "$NODE_IP" dev "$NODE_VETH"
}

start_in_node() { # start_in_node NAME PROGRAM ARGS...: like start, inside the node's network
  local name=$1
  shift
  setsid nsenter --net="$NETNS_PATH" -- "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 7>&- 8>&- 9>&- &
  echo $! >"$PIDS/$name"
}

# The rest of the node, once the control plane serves on $NODE_HOST_IP (node_network_up ran).
node_up() {
  "$BIN/kubevmm-cluster" node-certs "$PKI" "https://$APISERVER_HOST:$APISERVER_PORT" "$NODE_NAME" "$NODE_IP"
  build_harness_images
  write_containerd_config
  write_node_configs
  start_in_node containerd "$(tool_dir containerd "$CONTAINERD_VERSION")/containerd" --config "$NODE_DIR/containerd/config.toml"
  wait_for containerd 60 ctr_node version
  import_images "$NODE_DIR/harness-images"
  start_kubelet
  start_in_node kube-proxy "$BIN/kubevmm-cluster" kube-proxy --config "$NODE_DIR/kube-proxy.yaml"
  wait_for kubelet 120 kubectl get node "$NODE_NAME"
  kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=120s >&2
  wait_for kube-proxy 60 in_node curl -sf http://127.0.0.1:10256/healthz
  deploy_addons
}

start_kubelet() {
  start_in_node kubelet "$BIN/kubevmm-cluster" kubelet --config "$NODE_DIR/kubelet.yaml" \
    --kubeconfig "$PKI/node-$NODE_NAME.kubeconfig" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --root-dir "$NODE_DIR/kubelet" --node-labels "kubevmm.io/test-node=real"
}

# The kubelet alone stops and starts again, as on a node whose kubelet is upgraded or
# crashes: running pods must not notice.
restart_kubelet() {
  pid_of kubelet >/dev/null || die "no kubelet is running (KUBEVMM_REAL_NODE=1 cluster.sh up)"
  stop kubelet
  start_kubelet
  wait_for kubelet 60 in_node curl -sf http://127.0.0.1:10248/healthz
  kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=120s >&2
}

# Every process of the node: the recorded components, the runc shims serving our containerd,
# and whatever runs in the node's pod cgroups (QEMU, CoreDNS, ...), even if a shim is gone.
node_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    [[ $cmd == *"-address $CONTAINERD_SOCK"* ]] && echo "${p#/proc/}"
  done
  local c
  for c in /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/memory/kubepods; do
    [[ -d $c ]] && find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
  true
}

kill_node_processes() {
  stop kube-proxy kubelet
  local pids
  # The kubelet is gone, so nothing restarts them; containerd keeps running to reap.
  pids=$(node_pids | sort -u)
  [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
  for _ in $(seq 50); do
    [[ -z $(node_pids) ]] && break
    sleep 0.1
  done
  stop containerd
  pids=$(node_pids | sort -u)
  [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
  true
}

unmount_under() { # unmount_under DIR: every mount below DIR, deepest first
  local dir=$1 m
  [[ -d $dir ]] || return 0
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
}

remove_cgroups() { # the kubepods hierarchy the kubelet made under each v1 controller
  local c
  for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
    [[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  true
}

detach_loops() { # loop devices whose backing file lives under the state directory
  local dev file
  losetup -nO NAME,BACK-FILE 2>/dev/null | while read -r dev file; do
    [[ $file == "$STATE"/* ]] && losetup -d "$dev"
  done
  true
}

restore_host_paths() { # paths the kubelet and containerd create at fixed places
  local run_netns_mounted=1 var_lib_kubelet=1 var_log_containers=1 var_lib_cni=1 run_containerd=1
  # shellcheck disable=SC1091
  [[ -f $NODE_DIR/host-state ]] && source "$NODE_DIR/host-state"
  ((var_lib_kubelet)) || rm -rf /var/lib/kubelet
  ((var_log_containers)) || rm -rf /var/log/containers
  ((var_lib_cni)) || rm -rf /var/lib/cni
  ((run_containerd)) || { unmount_under /run/containerd; rm -rf /run/containerd; }
  if ((!run_netns_mounted)) && mountpoint -q /run/netns && [[ -z $(ls -A /run/netns) ]]; then
    umount /run/netns && rmdir /run/netns 2>/dev/null
  fi
  # Symlinks the kubelet left to our pod logs when /var/log/containers was there before.
  [[ -d /var/log/containers ]] && find /var/log/containers -lname "$NODE_DIR/*" -delete
  true
}

node_down() {
  [[ -d $NODE_DIR ]] || return 0 # this state directory never had a node
  kill_node_processes
  unmount_under "$NODE_DIR"
  detach_loops
  ip netns del "$NODE_NETNS" 2>/dev/null || true # the veth, bridge, rules and routes go with it
  ip link del "$NODE_VETH" 2>/dev/null || true
  remove_cgroups
  restore_host_paths
}

# The harness's own images (nothing can be pulled here): the pause image, and images of the
# static binaries built above, made by the project's image builder (scripts/images) and cached.
write_harness_specs() { # write_harness_specs DIR
  local dir=$1 coredns local_path busybox
  coredns=$(tool_dir coredns "$COREDNS_VERSION")/coredns
  local_path=$(tool_dir local-path-provisioner "$LOCAL_PATH_VERSION")/local-path-provisioner
  busybox=$(command -v busybox) || die "busybox is missing: apt-get install -y busybox-static"
  mkdir -p "$dir"
  cat >"$dir/coredns.json" <<JSON
{"name": "kubevmm.local/coredns", "version": "${COREDNS_VERSION#v}",
 "files": [{"path": "/coredns", "source": "$coredns", "mode": "0755"}],
 "config": {"entrypoint": ["/coredns"], "user": "65532:65532"}}
JSON
  cat >"$dir/local-path-provisioner.json" <<JSON
{"name": "kubevmm.local/local-path-provisioner", "version": "${LOCAL_PATH_VERSION#v}",
 "files": [{"path": "/usr/bin/local-path-provisioner", "source": "$local_path", "mode": "0755"}],
 "config": {"entrypoint": ["/usr/bin/local-path-provisioner"], "user": "65532:65532"}}
JSON
  # The provisioner's helper pods run `sh` scripts that mkdir and rm -rf volume directories.
  cat >"$dir/volume-helper.json" <<JSON
{"name": "kubevmm.local/volume-helper", "version": "1",
 "files": [{"path": "/bin/busybox", "source": "$(readlink -f "$busybox")", "mode": "0755"},
           {"path": "/bin/sh", "symlink": "busybox"}, {"path": "/bin/mkdir", "symlink": "busybox"},
           {"path": "/bin/rm", "symlink": "busybox"}, {"path": "/bin/chmod", "symlink": "busybox"}],
 "config": {"env": {"PATH": "/bin"}}}
JSON
}

build_harness_images() {
  local spec args=(pause)
  write_harness_specs "$NODE_DIR/image-specs"
  for spec in "$NODE_DIR/image-specs"/*.json; do args+=(--spec "$spec"); done
  bash "$REPO_ROOT/scripts/images/build.sh" "${args[@]}" >"$NODE_DIR/harness-images" ||
    die "building the harness images failed (scripts/images/build.sh)"
}

harness_image_ref() { # harness_image_ref NAME: the reference of kubevmm.local/NAME:...
  awk -v repo="kubevmm.local/$1" 'index($1, repo ":") == 1 { print $1; exit }' "$NODE_DIR/harness-images"
}

import_images() { # import_images LIST: lines "<reference> <archive>", imported and pinned
  local ref archive
  while read -r ref archive; do
    [[ -n $ref ]] || continue
    # Pinned: image GC must never take what cannot be pulled back.
    ctr_node images import --label io.cri-containerd.pinned=pinned "$archive" >/dev/null || die "importing $archive into containerd failed"
    # Not a pipe into grep -q: under pipefail its early exit would fail ctr with SIGPIPE.
    grep -qxF "$ref" <<<"$(ctr_node images ls -q)" || die "$archive did not import as $ref"
  done <"$1"
}

deploy_addons() {
  sed -e "s|@COREDNS_IMAGE@|$(harness_image_ref coredns)|" \
    -e "s|@LOCAL_PATH_IMAGE@|$(harness_image_ref local-path-provisioner)|" \
    -e "s|@HELPER_IMAGE@|$(harness_image_ref volume-helper)|g" \
    -e "s|@LOCAL_PATH_DIR@|$NODE_DIR/local-path|" \
    -e "s|@CLUSTER_DNS@|$CLUSTER_DNS|" "$HERE/addons.yaml" | kubectl apply -f - >&2
  kubectl -n kube-system rollout status deployment/coredns --timeout=120s >&2
  kubectl -n local-path-storage rollout status deployment/local-path-provisioner --timeout=120s >&2
}
