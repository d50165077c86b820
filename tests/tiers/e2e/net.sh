#!/usr/bin/env bash
# The e2e tier's network, all inside network namespaces it creates (the build machine's own
# interfaces, routes and firewall are never touched):
#   <id>-lab  the lab's L2 segment: bridge br0 with the runner's address (the build machine's side,
#             in the admin subnet), one tap per VM, and the outsider's veth
#   <id>-out  the outsider: one address outside every configured subnet, an on-link route to the VMs
#   <id>-guest the lab guest: an address in the lab subnet that is no lab host (issue 24's proof)
#
#   net.sh up ID RUNNER_CIDR OUTSIDER_CIDR TAP...   (VM addresses reach the outsider on-link)
#   net.sh route ID ADDRESS                          outsider: on-link route to a VM address
#   net.sh guest ID GUEST_CIDR                       adds the lab guest on the bridge
#   net.sh down ID                                   deletes the namespaces (and all they hold)
#   net.sh list PREFIX                               namespaces whose names start with PREFIX
set -euo pipefail
cmd="${1:?usage: net.sh up|route|down|list ...}"
shift
case "$cmd" in
  up)
    id="$1" runner="$2" outsider="$3"
    shift 3
    lab="$id-lab" out="$id-out"
    ip netns add "$lab"
    ip netns add "$out"
    ip -n "$lab" link set lo up
    ip -n "$out" link set lo up
    ip -n "$lab" link add br0 type bridge
    ip -n "$lab" addr add "$runner" dev br0
    ip -n "$lab" link set br0 up
    for tap in "$@"; do
      ip -n "$lab" tuntap add "$tap" mode tap
      ip -n "$lab" link set "$tap" master br0
      ip -n "$lab" link set "$tap" up
    done
    ip -n "$lab" link add vout type veth peer name eth0 netns "$out"
    ip -n "$lab" link set vout master br0
    ip -n "$lab" link set vout up
    ip -n "$out" addr add "$outsider" dev eth0
    ip -n "$out" link set eth0 up
    ;;
  route)
    ip -n "$1-out" route replace "$2/32" dev eth0 scope link
    ;;
  guest)
    lab="$1-lab" guest="$1-guest"
    ip netns add "$guest"
    ip -n "$guest" link set lo up
    ip -n "$lab" link add vguest type veth peer name eth0 netns "$guest"
    ip -n "$lab" link set vguest master br0
    ip -n "$lab" link set vguest up
    ip -n "$guest" addr add "$2" dev eth0
    ip -n "$guest" link set eth0 up
    ;;
  down)
    for ns in "$1-guest" "$1-out" "$1-lab"; do
      if ip netns list | awk '{ print $1 }' | grep -qxF "$ns"; then ip netns del "$ns"; fi
    done
    ;;
  list)
    ip netns list | awk '{ print $1 }' | { grep "^$1" || true; }
    ;;
  *)
    echo "net.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
