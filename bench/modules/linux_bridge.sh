#!/usr/bin/env bash
# Raw side of the linux_bridge benchmark, run on the node: ssh NODE bash -s -- ACTION < linux_bridge.sh
#   setup/cleanup  the future ports bml-p1 and bml-p2, host ends of veth pairs, up (not timed)
#   up    the commands the module replaces: bridge, two ports, address, up, forwarding, masquerade
#   down  remove bridge and masquerade rule, forwarding back off; fail if anything is left
set -euo pipefail
case $1 in
setup)
    for p in bml-p1 bml-p2; do
        ip link add "$p" type veth peer name "${p}x"
        ip link set "$p" up
        ip link set "${p}x" up
    done
    ;;
cleanup)
    ip link del bml-p1 2>/dev/null || true
    ip link del bml-p2 2>/dev/null || true
    ;;
up)
    ip link add bml-br0 type bridge
    ip link set bml-p1 master bml-br0
    ip link set bml-p2 master bml-br0
    ip addr add 172.31.9.1/24 dev bml-br0
    ip link set bml-br0 up
    sysctl -qw net.ipv4.ip_forward=1
    iptables -t nat -A POSTROUTING -s 172.31.9.0/24 ! -o bml-br0 -j MASQUERADE
    ;;
down)
    ip link del bml-br0 2>/dev/null || true
    iptables-save -t nat | { grep -- '^-A POSTROUTING.*bml-br0' || true; } | sed 's/^-A /-D /' | while read -r rule; do
        eval "iptables -t nat $rule"
    done
    sysctl -qw net.ipv4.ip_forward=0
    if ip link show bml-br0 >/dev/null 2>&1 || iptables-save -t nat | grep -q bml-br0; then
        echo "bridge or masquerade left" >&2
        exit 1
    fi
    ;;
*) echo "unknown action $1" >&2; exit 64 ;;
esac
