#!/usr/bin/env bash
# What tests/reliability/concurrency.sh counts on the node, one line per item:
#   reservation IP CONTAINER_ID   host-local's reservations of network NETWORK
#   pause NAME                    a pause process of pause_pod, by pod name
#   duplicate TABLE RULE          an iptables rule listed twice (nat, filter)
#   rules TABLE N                 how many rules the table has
#   usage: node_state.sh NETWORK
set -uo pipefail
network=${1:?usage: $0 NETWORK}
shopt -s nullglob

for path in "/var/lib/cni/networks/$network"/*; do
    case ${path##*/} in lock | last_reserved_ip.*) continue ;; esac
    echo "reservation ${path##*/} $(head -n 1 "$path" | tr -d '\r')"
done
# The pause program's command line is: PYTHON /run/podnet/pause.py NAME
pgrep -a -f '/run/podnet/pause[.]py ' | awk '{ print "pause " $4 }'
for table in nat filter; do
    rules=$(iptables-save -t "$table" | grep '^-A')
    printf '%s\n' "$rules" | sort | uniq -d | sed "/^$/d; s/^/duplicate $table /"
    echo "rules $table $(printf '%s\n' "$rules" | grep -c '^-A')"
done
exit 0
