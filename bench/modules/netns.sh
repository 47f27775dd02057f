#!/usr/bin/env bash
# Raw side of the netns benchmark, run on the node: ssh NODE bash -s -- ACTION < netns.sh
#   up    the commands the module replaces: two namespaces, loopback up
#   down  remove whatever up or the module made, then fail if anything is left
set -euo pipefail
case $1 in
setup | cleanup) ;;
up)
    ip netns add bmn-a
    ip netns add bmn-b
    ip -n bmn-a link set lo up
    ip -n bmn-b link set lo up
    ;;
down)
    for ns in bmn-a bmn-b; do ip netns del "$ns" 2>/dev/null || true; done
    if ip netns list | grep -q '^bmn-'; then echo "netns left: $(ip netns list)" >&2; exit 1; fi
    ;;
*) echo "unknown action $1" >&2; exit 64 ;;
esac
