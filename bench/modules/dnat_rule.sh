#!/usr/bin/env bash
# Raw side of the dnat_rule benchmark, run on the node: ssh NODE bash -s -- ACTION < dnat_rule.sh
#   up    the commands the module replaces: PREROUTING and OUTPUT DNAT to 172.31.10.2:80, forwarding on
#   down  remove every rule naming that destination (the module's carry "podnet dnat bmd-web"),
#         forwarding back off; fail if anything is left
set -euo pipefail
dest=172.31.10.2:80
case $1 in
setup | cleanup) ;;
up)
    iptables -t nat -A PREROUTING -p tcp --dport 8080 -m addrtype --dst-type LOCAL -j DNAT --to-destination $dest
    iptables -t nat -A OUTPUT -p tcp --dport 8080 -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j DNAT --to-destination $dest
    sysctl -qw net.ipv4.ip_forward=1
    ;;
down)
    for table in nat filter; do
        iptables-save -t $table | { grep -E -- "^-A .*(bmd-web|172\.31\.10\.2)" || true; } | sed 's/^-A /-D /' | while read -r rule; do
            eval "iptables -t $table $rule"
        done
    done
    nft delete table ip podnet 2>/dev/null || true
    sysctl -qw net.ipv4.ip_forward=0
    if iptables-save | grep -qE 'bmd-web|172\.31\.10\.2'; then echo "dnat rule left" >&2; exit 1; fi
    ;;
*) echo "unknown action $1" >&2; exit 64 ;;
esac
