#!/usr/bin/env bash
set -euo pipefail
# The conformance tier's sandbox: network namespaces on a private bridge, and a private root per
# service, so each upstream program sees the rendered files at the paths its container sees and
# resolves the other services by their container names. Nothing here writes outside the run's
# directory: /etc inside a root is an overlay whose upper layer lives in the run directory.
#
#   sandbox.sh net-up   RUN NAME=ADDR...   a bridge in namespace RUN-lab, one namespace RUN-NAME
#                                          per service with ADDR/24 on eth0, and RUN-lab itself
#                                          at .1 (where the checks run from)
#   sandbox.sh publish  RUN NAME PORT ADDR TARGET
#                                          in namespace RUN-NAME (a host's), forward 127.0.0.1:PORT
#                                          and the host's own PORT to ADDR:TARGET, as Docker
#                                          publishes a container port (DNAT)
#   sandbox.sh net-down RUN                kill what runs in RUN-* namespaces and delete them
#   sandbox.sh exec     RUN NAME ROOT HOSTS BINDS -- CMD...
#                                          run CMD in namespace RUN-NAME, chrooted into ROOT,
#                                          built from the host's /usr, an overlay of /etc with
#                                          HOSTS as /etc/hosts, and BINDS (a file of lines
#                                          "SRC DST ro|rw"; SRC may equal DST to share a path);
#                                          as SANDBOX_USER (uid:gid) when set, else root
#
# RUN must start with "citc-": net-down deletes only namespaces with that prefix.

die() {
  echo "sandbox: $*" >&2
  exit 2
}

check_run() {
  case "$1" in
    citc-*) ;;
    *) die "run id '$1' must start with citc-" ;;
  esac
}

net_up() {
  local run=$1 lab entry name addr subnet i=0
  local -a subnets=(10.213.0.0/24)
  shift
  check_run "$run"
  lab="$run-lab"
  ip netns add "$lab"
  ip -n "$lab" link set lo up
  ip -n "$lab" link add br0 type bridge
  ip -n "$lab" addr add 10.213.0.1/24 dev br0
  ip -n "$lab" link set br0 up
  for entry in "$@"; do
    name=${entry%%=*}
    addr=${entry#*=}
    i=$((i + 1))
    ip netns add "$run-$name"
    ip -n "$run-$name" link set lo up
    ip -n "$lab" link add "v$i" type veth peer name eth0 netns "$run-$name"
    ip -n "$lab" link set "v$i" master br0 up
    ip -n "$run-$name" addr add "$addr/24" dev eth0
    ip -n "$run-$name" link set eth0 up
    subnet="${addr%.*}.0/24"
    case " ${subnets[*]} " in *" $subnet "*) ;; *) subnets+=("$subnet") ;; esac
  done
  # Every namespace reaches every subnet on the one bridge (a host's own address, such as a
  # host-network exporter's, sits beside the containers' network).
  for ns in "$lab" $(for entry in "$@"; do echo "$run-${entry%%=*}"; done); do
    for subnet in "${subnets[@]}"; do
      ip -n "$ns" route add "$subnet" dev "$([ "$ns" = "$lab" ] && echo br0 || echo eth0)" 2>/dev/null || true
    done
  done
}

publish() {
  local run=$1 name=$2 port=$3 addr=$4 target=$5 ns
  check_run "$run"
  ns="$run-$name"
  ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.route_localnet=1
  ip netns exec "$ns" iptables -t nat -A OUTPUT -p tcp --dport "$port" -m addrtype --dst-type LOCAL \
    -j DNAT --to-destination "$addr:$target"
  ip netns exec "$ns" iptables -t nat -C POSTROUTING -d "$addr" -p tcp --dport "$target" -j MASQUERADE 2>/dev/null ||
    ip netns exec "$ns" iptables -t nat -A POSTROUTING -d "$addr" -p tcp --dport "$target" -j MASQUERADE
}

net_down() {
  local run=$1 ns pid
  check_run "$run"
  for ns in $(ip netns list | awk '{print $1}'); do
    case "$ns" in
      "$run"-*)
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
        ;;
    esac
  done
}

# Runs inside the service's own mount namespace (after unshare -m): builds ROOT and chroots.
enter_root() {
  local root=$1 hosts=$2 binds=$3 src dst mode
  shift 3
  mount --make-rprivate /
  mkdir -p "$root"/{usr,etc,proc,dev,sys,tmp,run,var/tmp,.etc-upper,.etc-work}
  for link in bin lib lib64 sbin; do [ -e "$root/$link" ] || ln -s "usr/$link" "$root/$link"; done
  mount --bind /usr "$root/usr"
  mount -o remount,bind,ro "$root/usr"
  mount -t overlay overlay -o "lowerdir=/etc,upperdir=$root/.etc-upper,workdir=$root/.etc-work" "$root/etc"
  cp "$hosts" "$root/etc/hosts"
  mount --rbind /dev "$root/dev"
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys" 2>/dev/null || mount --rbind /sys "$root/sys"
  mount -t tmpfs tmpfs "$root/tmp"
  mount -t tmpfs tmpfs "$root/run"
  while read -r src dst mode; do
    [ -n "$src" ] || continue
    if [ -d "$src" ]; then mkdir -p "$root$dst"; else
      mkdir -p "$(dirname "$root$dst")"
      [ -e "$root$dst" ] || : >"$root$dst"
    fi
    mount --bind "$src" "$root$dst"
    if [ "$mode" = ro ]; then mount -o remount,bind,ro "$root$dst"; fi
  done <"$binds"
  if [ -n "${SANDBOX_USER:-}" ]; then exec chroot --userspec="$SANDBOX_USER" "$root" "$@"; fi
  exec chroot "$root" "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
  net-up) net_up "$@" ;;
  net-down) net_down "$@" ;;
  publish) publish "$@" ;;
  exec)
    if [ $# -lt 7 ] || [ "$6" != "--" ]; then die "usage: sandbox.sh exec RUN NAME ROOT HOSTS BINDS -- CMD..."; fi
    check_run "$1"
    ns="$1-$2"
    root=$3 hosts=$4 binds=$5
    shift 6
    exec ip netns exec "$ns" unshare --mount --propagation private "$0" enter-root "$root" "$hosts" "$binds" "$@"
    ;;
  enter-root) enter_root "$@" ;;
  *) die "usage: sandbox.sh net-up|net-down|exec …" ;;
esac
