#!/usr/bin/env bash
# Raw side of the netns_info benchmark, run on the node: ssh NODE bash -s -- ACTION < netns_info.sh
#   up    the commands the module replaces: links, addresses, routes and bridge ports of the node
#         and of every named namespace, and the nat rules (it reads; there is nothing to remove)
set -euo pipefail
case $1 in
setup | cleanup | down) ;;
up)
    ip netns list
    ip -d addr; ip route; bridge link
    for ns in $(ip netns list | cut -d' ' -f1); do
        ip -n "$ns" -d addr; ip -n "$ns" route; bridge -n "$ns" link
    done
    iptables-save -t nat
    ;;
*) echo "unknown action $1" >&2; exit 64 ;;
esac
