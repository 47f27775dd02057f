#!/usr/bin/env bash
# Raw side of the veth benchmark, run on the node: ssh NODE bash -s -- ACTION < veth.sh
#   setup/cleanup  the namespaces bmv-a and bmv-b the pair connects (not timed)
#   up    the commands the module replaces: the pair, an address on each end, both up
#   down  remove the pair, then fail if an end is left
set -euo pipefail
case $1 in
setup)
    ip netns add bmv-a
    ip netns add bmv-b
    ip -n bmv-a link set lo up
    ip -n bmv-b link set lo up
    ;;
cleanup)
    ip netns del bmv-a 2>/dev/null || true
    ip netns del bmv-b 2>/dev/null || true
    ;;
up)
    ip link add bmv-a0 netns bmv-a type veth peer name bmv-b0 netns bmv-b
    ip -n bmv-a addr add 10.99.1.1/24 dev bmv-a0
    ip -n bmv-b addr add 10.99.1.2/24 dev bmv-b0
    ip -n bmv-a link set bmv-a0 up
    ip -n bmv-b link set bmv-b0 up
    ;;
down)
    ip -n bmv-a link del bmv-a0 2>/dev/null || true
    ip -n bmv-b link del bmv-b0 2>/dev/null || true
    if ip -n bmv-a link show bmv-a0 >/dev/null 2>&1 || ip -n bmv-b link show bmv-b0 >/dev/null 2>&1; then
        echo "veth end left" >&2
        exit 1
    fi
    ;;
*) echo "unknown action $1" >&2; exit 64 ;;
esac
